"""Simulated envelopes for Q-Q and half-normal plots: residuals of responses drawn from the fitted model.

For a linear model with analytic weights, ``sqrt(w) y = sqrt(w) X b + sigma z`` with ``z ~ N(0, I)``: the weighted
residuals of a simulated response are ``(I - Q Q') sigma z`` with ``Q`` the fit's own orthonormal basis of the weighted
design, and studentized residuals do not depend on ``b`` or ``sigma``. So each simulated data set costs two products
with ``Q`` (O(n p)); no refit, no n x n matrix, and the weights enter exactly as in the fit. Rows with zero weight or
leverage 1 have no studentized residual and take no part, in the data as in the simulations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Envelope", "order_positions", "linear_student_from_draws", "envelope", "draw_glm_response"]

#: keep every order statistic up to this many residuals; above it, the tails and an even grid in between
THIN_ABOVE = 5000
#: a batch of simulated data sets holds at most this many numbers
BATCH_ELEMENTS = 1_000_000


@dataclass(frozen=True, eq=False)
class Envelope:
    """Pointwise band of sorted simulated residuals.

    Attributes
    ----------
    positions : ndarray of shape (k,)
        Which order statistics (0-based, of ``m`` residuals) the band is given at.
    lower, median, upper : ndarray of shape (k,)
        Pointwise ``(1 - level)/2``, 0.5 and ``(1 + level)/2`` quantiles of the simulated order statistics.
    nsim : int
    level : float
    method : str
    """

    positions: np.ndarray
    lower: np.ndarray
    median: np.ndarray
    upper: np.ndarray
    nsim: int
    level: float
    method: str


def order_positions(m: int) -> np.ndarray:
    """Order statistics to draw: all of them up to ``THIN_ABOVE``; else 500 at each tail and 2000 evenly in between."""
    if m <= THIN_ABOVE:
        return np.arange(m)
    mid = np.linspace(500, m - 501, 2000).round().astype(np.intp)
    return np.unique(np.concatenate([np.arange(500), mid, np.arange(m - 500, m)]))


def linear_student_from_draws(q_used: np.ndarray, h_used: np.ndarray, df_resid: float, Z: np.ndarray) -> np.ndarray:
    """Externally studentized residuals of simulated weighted responses ``Z`` (shape (n_used, b)); NaN where h = 1.

    ``q_used`` are the rows of the fit's ``Q`` for the observations with positive weight, ``h_used`` their leverage.
    """
    E = Z - q_used @ (q_used.T @ Z)
    rss = np.einsum("ij,ij->j", E, E)
    with np.errstate(divide="ignore", invalid="ignore"):
        one_minus_h = (1.0 - h_used)[:, None]
        s2 = (rss[None, :] - E**2 / one_minus_h) / (df_resid - 1.0)
        T = E / np.sqrt(np.maximum(s2, 0.0) * one_minus_h)
    T[~(h_used < 1.0)] = np.nan
    return T


def _linear_sims(infl: Any, nsim: int, rng: np.random.Generator, absolute: bool, positions: np.ndarray) -> np.ndarray:
    fit = infl.fit
    factor = getattr(fit, "factor", None)
    if factor is None:
        raise ValueError("a simulated envelope needs the fit's factorization; pass the fit or fit.influence()")
    w = infl.weights
    used = np.ones(len(infl.index), dtype=bool) if w is None else np.asarray(w) > 0
    q_used = np.asarray(factor.q)[used]
    h_used = np.asarray(infl.leverage)[used]
    ok = h_used < 1.0
    n_used = int(used.sum())
    out = np.empty((positions.size, nsim))
    batch = max(1, min(nsim, BATCH_ELEMENTS // max(n_used, 1)))
    done = 0
    while done < nsim:
        b = min(batch, nsim - done)
        Z = rng.standard_normal((n_used, b))
        T = linear_student_from_draws(q_used, h_used, infl.df_resid, Z)[ok]
        if absolute:
            T = np.abs(T)
        T.sort(axis=0)
        out[:, done : done + b] = T[positions]
        done += b
    return out


def envelope(
    infl: Any,
    m: int,
    *,
    nsim: int = 199,
    level: float = 0.95,
    absolute: bool = False,
    rng: np.random.Generator | int | None = None,
) -> Envelope:
    """Pointwise envelope of the sorted studentized residuals (or their absolute values) under the fitted model.

    Parameters
    ----------
    infl : Influence
        Of a linear model (the fit's factorization is used) or a GLM (responses are drawn from the fitted family
        with the prior weights and refitted from the fitted coefficients; on big data fewer than ``nsim``, at least
        19, so that the refits stay affordable: ``Envelope.nsim`` says how many).
    m : int
        Number of finite studentized residuals in the data (the order statistics simulated).
    nsim : int
        Simulated data sets.
    level : float
        Pointwise coverage of the band.
    absolute : bool
        Sort ``|t|`` (half-normal plots) instead of ``t``.
    rng : numpy Generator or seed
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}")
    if nsim < 2:
        raise ValueError(f"nsim must be at least 2; got {nsim!r}")
    rng = np.random.default_rng(rng)
    positions = order_positions(m)
    if hasattr(infl, "resid_deviance"):  # a GLM: draw responses from the fitted family and refit
        sims, nsim = _glm_sims(infl, nsim, rng, absolute, positions)
        method = "refits of responses drawn from the fitted GLM"
    else:
        sims = _linear_sims(infl, nsim, rng, absolute, positions)
        method = "exact (projection of simulated errors)"
    lo, med, hi = np.nanquantile(sims, [(1 - level) / 2, 0.5, (1 + level) / 2], axis=1)
    return Envelope(positions=positions, lower=lo, median=med, upper=hi, nsim=nsim, level=level, method=method)


#: a GLM envelope refits this many numbers' worth of work at most (n p^2 per refit): fewer simulations on big data
GLM_WORK = 5e8


def draw_glm_response(fit: Any, rng: np.random.Generator) -> np.ndarray:
    """One response vector drawn from the fitted GLM, on the model's scale, with its prior weights.

    binomial: successes ~ Binomial(trials, mu) over trials (trials = the prior weights); poisson: Poisson(w mu) / w;
    gaussian: N(mu, phi / w); gamma: shape w / phi, mean mu; inverse Gaussian: mean mu, shape w / phi; negative
    binomial: NB(mu, alpha) (variance mu + alpha mu^2). Rows with zero weight keep their response.
    """
    fam = fit.family
    name = fam.name.lower()
    mu = np.asarray(fit.mu, dtype=float)
    w = np.asarray(fit.prior_weights, dtype=float)
    pos = w > 0
    y = np.array(fit.y, dtype=float)
    phi = float(fit.dispersion)
    m, wp = mu[pos], w[pos]
    if name == "binomial":
        trials = np.maximum(np.round(wp), 1).astype(np.int64)
        y[pos] = rng.binomial(trials, np.clip(m, 0.0, 1.0)) / wp
    elif name == "poisson":
        y[pos] = rng.poisson(m * wp) / wp
    elif name == "gaussian":
        y[pos] = m + np.sqrt(phi / wp) * rng.standard_normal(m.shape)
    elif name == "gamma":
        shape = wp / phi
        y[pos] = rng.gamma(shape, m / shape)
    elif name in ("inverse_gaussian", "inverse.gaussian"):
        y[pos] = rng.wald(m, wp / phi)
    elif name in ("negative_binomial", "negbin"):
        size = 1.0 / float(fam.alpha)
        y[pos] = rng.negative_binomial(size, size / (size + m))
    else:
        raise ValueError(f"cannot simulate responses of the {fam.name} family")
    return y


def _glm_sims(
    infl: Any, nsim: int, rng: np.random.Generator, absolute: bool, positions: np.ndarray
) -> tuple[np.ndarray, int]:
    """Sorted studentized (likelihood) residuals of ``nsim`` responses drawn from the fitted GLM, each refitted
    (IRLS started at the fitted coefficients); simulations whose refit fails are skipped."""
    import dataclasses
    import warnings

    from ..linear.glm import fit_glm_design

    fit = infl.fit
    if fit is None:
        raise ValueError("a simulated envelope needs the fit; pass the fit or fit.influence()")
    d = fit.design
    n, p = d.X.shape
    nsim = int(min(nsim, max(19, GLM_WORK // max(n * p * p, 1))))
    w = np.asarray(fit.prior_weights, dtype=float)
    weights = None if np.all(w == 1.0) else w
    ok = np.isfinite(np.asarray(infl.student_resid)) & (w > 0)
    start = np.nan_to_num(np.asarray(fit.coef, dtype=float))
    cols = []
    for _ in range(nsim):
        y = draw_glm_response(fit, rng)
        design = dataclasses.replace(d, y=y, weights=weights)
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                refit = fit_glm_design(design, fit.family, start=start, dispersion=fit.dispersion_fixed)
                t = np.asarray(refit.influence().student_resid)[ok]
        except (ArithmeticError, ValueError, np.linalg.LinAlgError):
            continue
        if np.all(np.isfinite(t)):
            cols.append(np.sort(np.abs(t) if absolute else t))
    if len(cols) < 10:
        raise ValueError(f"only {len(cols)} of {nsim} simulated responses could be refitted: no envelope")
    return np.column_stack(cols)[positions], len(cols)
