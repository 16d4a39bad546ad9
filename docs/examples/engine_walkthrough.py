"""What happens when one observation is removed? A walk through regdiag's influence engine.

Run it:  python docs/examples/engine_walkthrough.py

Every number printed below is computed by the code; none is typed in. The data set is ``birthwt`` (Hosmer and
Lemeshow: 189 births): a linear model of the birth weight ``bwt`` and a logistic model of low birth weight ``low``,
both on the mother's age, weight, smoking, hypertension and uterine irritability.

The central question
    Fit theta by minimizing the mean loss L(theta) = (1/n) sum_i l_i(theta). Remove observation i and refit: how far
    does theta move? Call it delta_i = theta_(-i) - theta.

Step 1 -- the influence-function estimate
    Removing i changes the objective by -l_i/n. One Newton step from theta on the new objective gives
        delta_i ~ H^{-1} grad l_i / n,
    with H the Hessian of L. The sign: removing i moves theta *up* i's loss gradient.

Step 2 -- exact deletion and the factor 1/(1 - h)
    The Newton step above keeps i's own curvature in H. Taking it out (H - hess l_i / n, by the Woodbury identity)
    divides the estimate by (1 - h_i), where h_i is the leverage. For least squares the loss is quadratic, so this
    Newton step *is* the refit: exact deletion.

Step 3 -- Cook's distance is a length of delta_i
    D_i = delta_i' (X'X) delta_i / (p s^2): the squared length of the parameter change in the metric of the inverse
    covariance of theta.

Step 4 -- approximate curvature on a GLM
    K-FAC and EK-FAC replace H by Kronecker-factored approximations that scale to neural networks. On a linear model
    they are exact; on a logistic regression they are not, because they average the per-observation weights
    p_i (1 - p_i) instead of weighting each x_i x_i' by its own.
"""

from __future__ import annotations

import numpy as np

import regdiag
from regdiag import engine


def main() -> None:
    df = regdiag.datasets.load("birthwt")
    rhs = "age + lwt + smoke + ht + ui"
    fit = regdiag.ols(f"bwt ~ {rhs}", data=df)
    closed = fit.influence()  # the closed form: one QR, R's influence.measures
    n, p = fit.nobs, fit.rank
    print(f"Linear model bwt ~ {rhs}: n = {n}, p = {p}\n")

    # Step 1: the influence-function estimate, and what it predicts for the most influential observation
    plain = engine.influence(fit, curvature="exact", solver="direct")
    i = int(np.argmax(closed.cooks_distance))
    label = closed.index[i]
    names = list(fit.param_names)
    print(f"Step 1. Influence-function estimate of theta_(-i) - theta for observation '{label}':")
    for j, nm in enumerate(names):
        print(f"    {nm:>10s}: {plain.param_influence[i, j]: .6g}")

    # Step 2: exact deletion (brute-force refit) and the leverage factor
    keep = np.ones(n, dtype=bool)
    keep[i] = False
    refit = regdiag.ols(fit.design.y[keep], fit.design.X[keep])
    exact = refit.coef - fit.coef
    h = closed.leverage[i]
    corrected = engine.influence(fit, correction="leverage")
    print(f"\nStep 2. Refit without '{label}' (exact deletion) against the estimate times 1/(1 - h), h = {h:.4f}:")
    print(f"    {'':>10s}  {'refit':>12s}  {'estimate':>12s}  {'ratio':>8s}  {'leverage-corrected':>18s}")
    for j, nm in enumerate(names):
        ratio = exact[j] / plain.param_influence[i, j]
        print(f"    {nm:>10s}  {exact[j]: 12.6g}  {plain.param_influence[i, j]: 12.6g}  {ratio:8.5f}"
              f"  {corrected.param_influence[i, j]: 18.6g}")
    print(f"    1/(1 - h) = {1 / (1 - h):.5f}: every ratio equals it, for every observation:")
    ratios = np.array([
        (regdiag.ols(fit.design.y[np.arange(n) != k], fit.design.X[np.arange(n) != k]).coef - fit.coef)
        / plain.param_influence[k]
        for k in range(n)
    ])
    err = np.max(np.abs(ratios * (1 - closed.leverage)[:, None] - 1))
    print(f"    max over all {n} refits and coefficients of |ratio (1 - h) - 1| = {err:.2e}")
    rel = np.max(np.abs(corrected.dfbeta - closed.dfbeta)) / np.max(np.abs(closed.dfbeta))
    print(f"    engine (leverage-corrected) vs closed-form DFBETA, all rows: largest relative difference {rel:.2e}")

    # Step 3: Cook's distance as the length of delta_i
    d = corrected.param_influence[i]
    XtX = fit.design.X.T @ fit.design.X
    cook_norm = d @ XtX @ d / (p * fit.sigma**2)
    print(f"\nStep 3. Cook's distance of '{label}':")
    print(f"    delta' X'X delta / (p s^2) = {cook_norm:.6f}")
    print(f"    engine cooks_distance      = {corrected.cooks_distance[i]:.6f}")
    print(f"    closed form (R cooks.distance) = {closed.cooks_distance[i]:.6f}")
    print(f"    without the correction it is smaller by (1 - h)^2 = {(1 - h) ** 2:.5f}: "
          f"{plain.cooks_distance[i]:.6f}")

    # Step 4: K-FAC and EK-FAC, exact on the linear model, approximate on a logistic regression
    print("\nStep 4. Largest relative difference from the exact curvature (leverage-corrected DFBETA):")
    lfit = regdiag.glm(f"low ~ {rhs}", data=df, family="binomial")
    for title, f in (("linear model", fit), ("logistic model", lfit)):
        ref = engine.influence(f, "exact", correction="leverage").param_influence
        scale = np.max(np.abs(ref), axis=0)
        parts = []
        for cur in ("gauss_newton", "kfac", "ekfac", "diagonal"):
            est = engine.influence(f, cur, correction="leverage").param_influence
            parts.append(f"{cur} {np.max(np.max(np.abs(est - ref), axis=0) / scale):.2e}")
        print(f"    {title:>15s}: " + ", ".join(parts))
    w = lfit.working_weights
    print(f"    logistic weights p(1 - p) range from {w.min():.3f} to {w.max():.3f}: K-FAC uses their mean "
          f"{w.mean():.3f} for every observation; EK-FAC refits the eigenvalues but keeps K-FAC's eigenvectors.")

    # the engine against the closed form, every curvature and solver at once
    table = regdiag.cross_check(lfit, solvers=["direct", "cg"])
    cols = ["curvature", "solver", "correction", "dfbeta", "expected", "agrees"]
    print("\nregdiag.cross_check(logistic fit), direct and CG solvers:")
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.2e}"))


if __name__ == "__main__":
    main()
