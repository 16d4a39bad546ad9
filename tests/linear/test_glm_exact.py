"""Exact and one-step deletion for GLMs against brute force.

The brute force is independent of regdiag: statsmodels' own score and Hessian of the model without the deleted
rows, iterated by plain dense Newton steps from regdiag's full-data coefficients until the step is at rounding level
(quadratic convergence, so there is no question of a loose stopping rule). The one-step estimate must be exactly one
Fisher-scoring step of that problem (one Newton step with the observed information for ``observed=True``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import regdiag
import regdiag.testing
from tests.linear.test_glm_vs_r import close, fit_case
from tests.linear.test_glm_vs_statsmodels import sm_family
from tests.reference_cases import load_case

pytestmark = [
    pytest.mark.filterwarnings("ignore::regdiag.InfluenceWarning"),
    pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.DomainWarning"),
]

CASES = [
    "glm_binomial_logit_budworm",
    "glm_binomial_probit_birthwt",
    "glm_binomial_cloglog_birthwt",
    "glm_poisson_sqrt_insectsprays",
    "glm_gamma_inverse_clotting",
    "glm_gamma_log_clotting_long",
    "glm_inverse_gaussian_clotting",
    "glm_gaussian_log_mtcars",
    "glm_negbin_fixed_theta_quine",
]


def sm_model(case, drop=()):
    keep = np.setdiff1d(np.arange(len(case.data)), np.asarray(drop, dtype=int))
    kw = {}
    if case.weights() is not None:
        kw["var_weights"] = case.weights()[keep]
    if case.offset() is not None:
        kw["offset"] = case.offset()[keep]
    return sm.GLM(
        case.response().to_numpy()[keep], case.design().to_numpy()[keep], family=sm_family(case.spec, case), **kw
    )


def newton_refit(case, drop, start, steps=60):
    """Dense Newton iterations on statsmodels' log-likelihood without the rows ``drop``."""
    m = sm_model(case, drop)
    b = np.array(start, dtype=float)
    for _ in range(steps):
        g = m.score(b, scale=1.0)
        H = m.hessian(b, scale=1.0, observed=True)
        d = np.linalg.solve(-H, g)
        b = b + d
        if np.max(np.abs(d) / (np.abs(b) + 1e-300)) < 1e-15:
            break
    return b


def one_step(case, drop, start, observed):
    """One Fisher-scoring (observed=False) or Newton (observed=True) step from ``start`` without the rows ``drop``."""
    m = sm_model(case, drop)
    g = m.score(start, scale=1.0)
    H = m.hessian(start, scale=1.0, observed=observed)
    return start + np.linalg.solve(-H, g)


def _colrel(a, b):
    """Largest error relative to each column's largest value."""
    return float(np.nanmax(np.max(np.abs(a - b), axis=0) / np.max(np.abs(b), axis=0)))


@pytest.fixture(scope="module", params=CASES)
def fitted(request):
    case = load_case(request.param)
    fit = fit_case(case)
    return case, fit


def _sample_rows(n, k=12):
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(int))


@pytest.mark.parametrize("observed", [False, True])
def test_one_step_is_the_first_newton_step(fitted, observed):
    case, fit = fitted
    infl = fit.influence(observed=observed)
    rows = _sample_rows(fit.nobs)
    b = fit.coef
    expected = np.array([b - one_step(case, [i], b, observed) for i in rows])
    assert _colrel(infl.dfbeta[rows], expected) < 1e-9


def test_exact_loo_against_newton_refits(fitted):
    case, fit = fitted
    infl = fit.influence(loo="exact")
    rows = _sample_rows(fit.nobs)
    refits = np.array([newton_refit(case, [i], fit.coef) for i in rows])
    expected = fit.coef[None, :] - refits
    assert infl.method == "glm-exact" and infl.loo_tol == 1e-10
    assert not np.isnan(infl.dfbeta).any()
    assert _colrel(infl.dfbeta[rows], expected) < 1e-8
    close(infl.loo_params[rows], refits, rtol=1e-9)
    assert np.all(infl.loo_iterations[rows] >= 2)
    # exact Cook's distance: the coefficient change in the metric of X'WX / (p phi)
    cov = fit.cov_params().to_numpy()
    d = expected
    cooks = np.einsum("ij,ij->i", d, np.linalg.solve(cov, d.T).T) / fit.rank
    close(infl.cooks_distance[rows], cooks, rtol=1e-7)
    # deleted response residual from the refit
    X = case.design().to_numpy()
    off = case.offset() if case.offset() is not None else np.zeros(len(X))
    mu_i = fit.family.link.inverse(np.einsum("ij,ij->i", X[rows], refits) + off[rows])
    close(infl.press_resid[rows], fit.y[rows] - mu_i, rtol=1e-8)


def test_exact_does_not_depend_on_residual_observed_or_memory(fitted):
    _, fit = fitted
    a = fit.influence(loo="exact")
    b = fit.influence(loo="exact", residual="deviance", observed=True, memory_mb=0.001)
    assert _colrel(a.dfbeta, b.dfbeta) < 1e-9
    close(a.to_frame("R").to_numpy(), fit.influence().to_frame("R").to_numpy(), rtol=1e-14)


def test_group_deletion_one_step_and_exact(fitted):
    case, fit = fitted
    n = fit.nobs
    labels = np.arange(n) % 3  # three interleaved groups
    groups = [np.flatnonzero(labels == g) for g in range(3)]
    one = fit.group_deletion(labels)
    assert one.method == "glm-one-step-group"
    expected_one = np.array([fit.coef - one_step(case, g, fit.coef, False) for g in groups])
    assert _colrel(one.dfbeta, expected_one) < 1e-9
    exact = fit.group_deletion(labels, loo="exact")
    assert exact.method == "glm-exact-group"
    refits = np.array([newton_refit(case, g, fit.coef) for g in groups])
    assert _colrel(exact.dfbeta, fit.coef[None, :] - refits) < 1e-8
    close(exact.loo_params, refits, rtol=1e-9)
    # sigma_loo of the exact deletion: Pearson's chi-square of the refit over n - p - m
    for g, rows in enumerate(groups):
        m = sm_model(case, rows)
        mu = m.predict(refits[g])
        w = case.weights()[np.setdiff1d(np.arange(n), rows)] if case.weights() is not None else 1.0
        chi2 = np.sum(w * (m.endog - mu) ** 2 / m.family.variance(mu))
        close(exact.sigma_loo[g], np.sqrt(chi2 / (n - fit.rank - len(rows))), rtol=1e-8)
    close(exact.cooks_distance, np.einsum("ij,ij->i", exact.dfbeta, np.linalg.solve(
        fit.cov_params().to_numpy(), exact.dfbeta.T).T) / fit.rank, rtol=1e-8)


def test_singleton_groups_are_leave_one_out():
    case = load_case("glm_binomial_probit_birthwt")
    fit = fit_case(case)
    rows = list(fit.index[:15])
    g_one = fit.group_deletion({r: [r] for r in rows})
    g_exact = fit.group_deletion({r: [r] for r in rows}, loo="exact")
    one = fit.influence()
    exact = fit.influence(loo="exact")
    close(g_one.dfbeta, one.dfbeta[:15], rtol=1e-12)
    close(g_one.cooks_distance, one.cooks_distance[:15], rtol=1e-12)
    assert _colrel(g_exact.dfbeta, exact.dfbeta[:15]) < 1e-9
    close(g_exact.cooks_distance, exact.cooks_distance[:15], rtol=1e-8)
    # and the influence object's group_deletion follows its own loo
    assert exact.group_deletion({rows[0]: [rows[0]]}).method == "glm-exact-group"
    assert one.group_deletion({rows[0]: [rows[0]]}).method == "glm-one-step-group"


def test_larger_logistic_model_against_refits():
    """n = 1500, p = 6: the batched chord iterations (not the fallback) on a typical data set, small memory blocks."""
    rng = np.random.default_rng(7)
    n, p = 1500, 6
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1))])
    beta = np.array([-0.3, 0.8, -0.5, 0.3, 0.0, 1.2])
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ beta))).astype(float)
    fit = regdiag.glm(y, X, family="binomial")
    infl = fit.influence(loo="exact", memory_mb=0.5)
    assert np.quantile(infl.loo_iterations, 0.99) <= 5  # one-step + chord steps, converging fast
    assert infl.loo_iterations.max() <= 9  # no deletion needed the refit fallback
    rows = rng.choice(n, 10, replace=False)
    refits = [logistic_newton_refit(X, y, i, fit.coef) for i in rows]
    expected = fit.coef[None, :] - np.array(refits)
    assert _colrel(infl.dfbeta[rows], expected) < 1e-8


def test_deletion_that_separates_gives_nan_and_names_the_row():
    """Deleting row 4 or 5 leaves these data separated: no leave-one-out estimate exists."""
    x = np.arange(1.0, 11.0)
    y = np.array([0, 0, 0, 0, 1, 0, 1, 1, 1, 1.0])
    df = pd.DataFrame({"x": x, "y": y})
    fit = regdiag.glm("y ~ x", data=df, family="binomial")
    with pytest.warns(regdiag.InfluenceWarning, match=r"did not converge.*rows 4, 5"):
        infl = fit.influence(loo="exact")
    assert np.isnan(infl.dfbeta[[4, 5]]).all() and np.isnan(infl.cooks_distance[[4, 5]]).all()
    others = np.setdiff1d(np.arange(10), [4, 5])
    assert np.isfinite(infl.dfbeta[others]).all()
    refits = np.array([logistic_newton_refit(sm.add_constant(x), y, i, fit.coef) for i in others])
    assert _colrel(infl.dfbeta[others], fit.coef[None, :] - refits) < 1e-8


def logistic_newton_refit(X, y, i, start):
    """The logistic regression without row ``i``, by dense Newton steps on statsmodels' score and Hessian."""
    keep = np.arange(len(y)) != i
    m = sm.GLM(y[keep], X[keep], family=sm.families.Binomial())
    b = np.array(start, dtype=float)
    for _ in range(60):
        d = np.linalg.solve(-m.hessian(b), m.score(b))
        b = b + d
        if np.max(np.abs(d)) < 1e-15:
            break
    return b


def test_exact_invalid_options():
    fit = fit_case(load_case("glm_binomial_logit_mtcars"))
    with pytest.raises(ValueError, match="loo='fast'"):
        fit.influence(loo="fast")
    with pytest.raises(ValueError, match="residual='working'"):
        fit.influence(residual="working")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit.influence(loo="exact")  # no warning on a clean model


# ---- the stated tolerance, against refits converged to rounding --------------------------------------------------

def _tolerance_problem(kind, n, seed):
    """Synthetic data (intercept + 3 normal columns) for the families where the old stopping rule overshot."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.standard_normal((n, 3))])
    links = sm.families.links
    if kind == "gamma_identity":
        mu = np.maximum(8.0 + X[:, 1:] @ [1.0, -0.7, 0.5], 0.5)
        return X, rng.gamma(2.0, mu / 2.0), ("gamma", "identity", None), sm.families.Gamma(links.Identity())
    if kind == "gamma_log":
        mu = np.exp(0.5 + X[:, 1:] @ [0.3, -0.2, 0.4])
        return X, rng.gamma(1.5, mu / 1.5), ("gamma", "log", None), sm.families.Gamma(links.Log())
    if kind == "negbin_log":
        mu = np.exp(1.0 + X[:, 1:] @ [0.3, -0.2, 0.4])
        y = rng.negative_binomial(2, 2 / (2 + mu)).astype(float)
        return X, y, ("negative_binomial", "log", 0.5), sm.families.NegativeBinomial(links.Log(), alpha=0.5)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X[:, 1:] @ [1.0, -0.7, 0.5])))).astype(float)
    return X, y, ("binomial", "logit", None), sm.families.Binomial()


def tight_refit(X, y, sm_fam, i, start):
    """The model without row ``i``: Fisher scoring, then Newton steps on statsmodels' score and observed Hessian until
    the step is at rounding level (quadratic convergence: converged to the last bits)."""
    keep = np.arange(len(y)) != i
    m = sm.GLM(y[keep], X[keep], family=sm_fam)
    b = np.array(start, dtype=float)
    observed, polish = False, 2
    for _ in range(100):
        d = np.linalg.solve(-m.hessian(b, scale=1.0, observed=observed), m.score(b, scale=1.0))
        b = b + d
        rel = np.max(np.abs(d) / (np.abs(b) + 1e-300))
        observed = observed or rel < 1e-6
        if observed and rel < 1e-15:
            polish -= 1
            if polish < 0:
                break
    return b


@pytest.mark.parametrize(
    "kind,n,seed",
    # data sets on which the previous rule (extrapolating the observed contraction) stopped 2-5 times above tol
    [("gamma_identity", 120, 4), ("gamma_log", 200, 8), ("negbin_log", 120, 7), ("logit", 200, 2)],
)
def test_exact_loo_meets_its_tolerance_in_standard_errors(kind, n, seed):
    X, y, (family, link, alpha), sm_fam = _tolerance_problem(kind, n, seed)
    fit = regdiag.glm(y, X, family=family, link=link, alpha=alpha)
    infl = fit.influence(loo="exact")
    assert infl.loo_tol == 1e-10 and not np.isnan(infl.dfbeta).any()
    truth = np.array([fit.coef - tight_refit(X, y, sm_fam, i, fit.coef) for i in range(n)])
    err = np.abs(infl.dfbeta - truth) / fit.bse.to_numpy()[None, :]  # in standard errors, as documented
    assert err.max() <= infl.loo_tol, err.max()
    # looser tolerances are met too, in fewer steps
    loose = fit.influence(loo="exact", loo_tol=1e-6)
    assert (np.abs(loose.dfbeta - truth) / fit.bse.to_numpy()[None, :]).max() <= 1e-6
    assert loose.loo_iterations.sum() < infl.loo_iterations.sum()


def test_gaussian_identity_exact_loo_is_the_one_step():
    """For a linear model the one-step deletion is exact: one step, no chord sweep."""
    rng = np.random.default_rng(5)
    X = np.column_stack([np.ones(40), rng.standard_normal((40, 2))])
    y = X @ [1.0, 2.0, -1.0] + rng.standard_normal(40)
    fit = regdiag.glm(y, X, family="gaussian")
    ex = fit.influence(loo="exact")
    assert np.all(ex.loo_iterations == 1)
    refits = regdiag.testing.ols_loo_refit(X, y).params
    close(ex.loo_params, refits, rtol=1e-10)


def test_sweep_products_stay_small_for_any_blas_thread_setting(monkeypatch):
    """Every matrix product of the leave-one-out sweeps has at most BLAS_MAC multiply-adds, the size OpenBLAS runs
    on the calling thread: the sweeps' speed then does not depend on the BLAS thread setting (many small products
    handed to worker threads made them several times slower with the default threads on a busy machine)."""
    import regdiag.linear.glm_exact as ge

    X, y, _, _ = _tolerance_problem("logit", 3000, 1)
    fit = regdiag.glm(y, X, family="binomial")
    seen = []
    orig = ge._ScoreKernel.scores

    def spy(self, D, groups, rows_chunk):
        seen.append((min(rows_chunk, self.Xs.shape[0]), self.Xs.shape[1], D.shape[0]))
        return orig(self, D, groups, rows_chunk)

    monkeypatch.setattr(ge._ScoreKernel, "scores", spy)
    ex = fit.influence(loo="exact")
    assert seen and max(rows * r * b for rows, r, b in seen) <= ge.BLAS_MAC
    a = np.random.default_rng(0)
    A, B = a.standard_normal((700, 30)), a.standard_normal((30, 400))
    np.testing.assert_allclose(ge.blocked_matmul(A, B), A @ B, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ge.blocked_matmul(B.T, A.T), B.T @ A.T, rtol=1e-12, atol=1e-12)
    rows = np.linspace(0, 2999, 5).round().astype(int)
    truth = np.array([fit.coef - logistic_newton_refit(X, y, i, fit.coef) for i in rows])
    assert (np.abs(ex.dfbeta[rows] - truth) / fit.bse.to_numpy()).max() <= 1e-10


# ---- DFBETAS: the change over the standard error with the leave-one-out dispersion --------------------------------

def _dense_dfbetas(case, fit):
    """Independent DFBETAS: one Fisher-scoring step without row i (statsmodels' score and expected information),
    over sqrt(phi_(i) [(X'WX)^-1]_jj) with phi_(i) = 1 for binomial and Poisson and otherwise Pearson's chi-square
    of the weighted least-squares problem of the last IRLS step without row i, over n - p - 1 (dense algebra)."""
    m = sm_model(case)
    info = -m.hessian(fit.coef, scale=1.0, observed=False)
    cov = np.linalg.inv(info)
    n, p = len(fit.y), fit.rank
    change = np.array([fit.coef - one_step(case, [i], fit.coef, False) for i in range(n)])
    if fit.family.fixed_dispersion:
        phi_i = np.ones(n)
    else:
        X = case.design().to_numpy()
        w = case.weights() if case.weights() is not None else np.ones(n)
        mu = m.predict(fit.coef)
        A = X * np.sqrt(fit.working_weights)[:, None]
        h = np.einsum("ij,ij->i", A @ cov, A)
        rp = (case.response().to_numpy() - mu) * np.sqrt(w / m.family.variance(mu))
        phi_i = (np.sum(rp**2) - rp**2 / (1 - h)) / (n - p - 1)
    return change / np.sqrt(phi_i)[:, None] / np.sqrt(np.diag(cov))[None, :]


def test_dfbetas_default_against_an_independent_computation(fitted):
    case, fit = fitted
    infl = fit.influence()
    close(infl.dfbetas, _dense_dfbetas(case, fit), rtol=1e-8)
    # with exact leave-one-out: the exact change over sqrt(phi_(i)) se, phi_(i) from the exact refit's Pearson
    # chi-square where the dispersion is estimated
    ex = fit.influence(loo="exact")
    rows = _sample_rows(fit.nobs, 6)
    refits = np.array([newton_refit(case, [i], fit.coef) for i in rows])
    se = np.sqrt(fit.factor.cov_unscaled_diag())
    if fit.family.fixed_dispersion:
        phi_i = np.ones(len(rows))
    else:
        phi_i = []
        for i, b in zip(rows, refits):
            m = sm_model(case, [i])
            mu = m.predict(b)
            w = np.delete(case.weights(), i) if case.weights() is not None else 1.0
            phi_i.append(np.sum(w * (m.endog - mu) ** 2 / m.family.variance(mu)) / (fit.nobs - fit.rank - 1))
        phi_i = np.array(phi_i)
    close(ex.dfbetas[rows], (fit.coef - refits) / np.sqrt(phi_i)[:, None] / se[None, :], rtol=1e-7)


def test_dfbetas_is_statsmodels_for_binomial_and_r_with_deviance_residuals():
    case = load_case("glm_binomial_logit_birthwt")
    fit = fit_case(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.GLM(case.response(), case.design(), family=sm.families.Binomial()).fit(
            start_params=fit.coef, tol=1e-15, maxiter=50)
        sm_dfbetas = np.asarray(res.get_influence(observed=False).dfbetas)
    infl = fit.influence()
    close(infl.dfbetas, sm_dfbetas, rtol=1e-8)
    assert np.array_equal(infl.dispersion_loo, np.ones(fit.nobs))
    # residual="deviance": exactly R's dfbetas (deviance-residual change over R's deletion sigma); R's is.inf flags
    # use R's own dfbetas whatever the default
    dev = fit.influence(residual="deviance")
    close(dev.dfbetas, infl.dfbetas_as("R"), rtol=1e-12)
    ref = case.ref("dfbetas")
    pos = infl.index.get_indexer(ref.index)
    cols = [list(fit.param_names).index(t) for t in ref.columns]
    close(dev.dfbetas[np.ix_(pos, cols)], ref.to_numpy(dtype=float))
    flags, flags_dev = infl.flags("R"), dev.flags("R")
    assert flags.equals(flags_dev)
    r_cols = [c for c in flags.columns if c.startswith("dfb")]
    np.testing.assert_array_equal(flags[r_cols].to_numpy(), np.abs(infl.dfbetas_as("R")[:, cols]) > 1)
    # the default is not R's here (the Pearson change over sqrt(phi_(i)) = 1, not over R's sigma_(i))
    assert not np.allclose(infl.dfbetas, dev.dfbetas)
    # other rules test the default
    fl = infl.flags(["dfbetas_2sqrtn"])
    np.testing.assert_array_equal(fl.to_numpy(), np.abs(infl.dfbetas) > 2 / np.sqrt(fit.nobs))


def test_group_dfbetas_follow_the_same_scale():
    case = load_case("glm_poisson_log_insectsprays")
    fit = fit_case(case)
    labels = np.arange(fit.nobs) % 4
    g = fit.group_deletion(labels)
    se = np.sqrt(fit.factor.cov_unscaled_diag())
    close(g.dfbetas, g.dfbeta / se[None, :], rtol=1e-12)  # Poisson: phi = 1 is not re-estimated
    gx = fit.group_deletion(labels, loo="exact")
    close(gx.dfbetas, gx.dfbeta / se[None, :], rtol=1e-12)
    # estimated dispersion: over sigma_loo, Pearson's chi-square without the group
    gam = fit_case(load_case("glm_gamma_inverse_clotting"))
    gg = gam.group_deletion(np.arange(gam.nobs) % 3)
    close(gg.dfbetas, gg.dfbeta / np.outer(gg.sigma_loo, np.sqrt(gam.factor.cov_unscaled_diag())), rtol=1e-12)


def test_one_step_loo_params_are_the_one_step_estimate_and_warnings_point_at_the_caller():
    case = load_case("glm_binomial_probit_birthwt")
    fit = fit_case(case)
    one, ex = fit.influence(), fit.influence(loo="exact")
    close(one.loo_params, fit.coef[None, :] - one.dfbeta, rtol=1e-14)
    assert "one-step estimate" in type(one).loo_params.__doc__
    assert not np.allclose(one.loo_params, ex.loo_params, rtol=1e-9)
    w = np.ones(fit.nobs)
    w[3] = 0.0
    zero = regdiag.glm(case.response(), case.design(), family="binomial", link="probit", weights=w)
    with pytest.warns(regdiag.InfluenceWarning, match="zero weight") as rec:
        zero.influence()
    assert rec[0].filename == __file__
