"""Simulated envelopes for Q-Q and half-normal plots: residuals of responses drawn from the fitted model.

Numbers only (the plots draw what :func:`envelope` returns).

For a linear model with analytic weights, ``sqrt(w) y = sqrt(w) X b + sigma z`` with ``z ~ N(0, I)``: the weighted
residuals of a simulated response are ``(I - Q Q') sigma z`` with ``Q`` the fit's own orthonormal basis of the weighted
design, and studentized residuals do not depend on ``b`` or ``sigma``. So each simulated data set costs two products
with ``Q`` (O(n p)); no refit, no n x n matrix, and the weights enter exactly as in the fit. Rows with zero weight or
leverage 1 have no studentized residual and take no part, in the data as in the simulations.

For a GLM (``method="projection"``, the default) each simulated response ``y*`` is taken from the fitted
coefficients towards its own estimate by :data:`CHORD_STEPS` scoring steps with the fit's own curvature ``X'WX``:
``W^(1/2) (eta_new - eta) = Q Q' W^(-1/2) s`` with ``s`` the score in ``eta`` at the current means, so each step costs
two products with ``Q`` (O(n p) per simulated data set, no new factorization). The iteration's fixed point is the
refit's estimate, approached by a factor O(sqrt(p/n)) per step; the likelihood residuals are then computed with the
fit's leverages (the refit's differ by O(p/n^(3/2))). The band is checked against that of full refits
(``method="refit"``: IRLS to convergence and new leverages for every simulated response) in the test suite: with the
same draws the two differ by a small fraction of the band's width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..results import GLMInfluence

if TYPE_CHECKING:  # pragma: no cover
    from .glm import GLMFit

__all__ = [
    "Envelope", "order_positions", "linear_student_from_draws", "envelope", "draw_glm_response", "ENVELOPE_METHODS",
]

#: scoring steps per simulated GLM response with the fit's own curvature ``X'WX`` (a chord iteration on the score
#: equation: its fixed point is the refit's estimate, approached by a factor O(sqrt(p/n)) per step)
CHORD_STEPS = 3
#: how a GLM envelope treats each simulated response
ENVELOPE_METHODS = ("projection", "refit")

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
    method: str = "projection",
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
    method : {"projection", "refit"}
        GLMs only: one Fisher-scoring step from the fitted coefficients per simulated response (O(n p) each, see the
        module notes), or IRLS refits to convergence (O(n p^2) per iteration; on big data fewer than ``nsim``).

    Returns
    -------
    Envelope
        The band's lower and upper bounds and median at each order statistic, with how it was computed.
    """
    if method not in ENVELOPE_METHODS:
        raise ValueError(f"method={method!r} is not an envelope method; choose from {', '.join(ENVELOPE_METHODS)}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}")
    if nsim < 2:
        raise ValueError(f"nsim must be at least 2; got {nsim!r}")
    rng = np.random.default_rng(rng)
    positions = order_positions(m)
    if isinstance(infl, GLMInfluence) and method == "projection":  # a GLM: scoring steps by projection
        sims, nsim = _glm_one_step_sims(infl, nsim, rng, absolute, positions)
        method = "scoring steps with the fit's factorization per response drawn from the fitted GLM"
    elif isinstance(infl, GLMInfluence):  # a GLM: draw responses from the fitted family and refit
        sims, nsim = _glm_sims(infl, nsim, rng, absolute, positions)
        method = "refits of responses drawn from the fitted GLM"
    elif m > ORDER_STATISTICS_ABOVE:
        lo, med, hi = _order_statistic_band(m, positions, float(infl.df_resid) - 1.0, level, absolute)
        return Envelope(positions=positions, lower=lo, median=med, upper=hi, nsim=0, level=level,
                        method="order statistics of self-scaled t residuals (large n, no simulation)")
    else:
        sims = _linear_sims(infl, nsim, rng, absolute, positions)
        method = "exact (projection of simulated errors)"
    lo, med, hi = np.nanquantile(sims, [(1 - level) / 2, 0.5, (1 + level) / 2], axis=1)
    return Envelope(positions=positions, lower=lo, median=med, upper=hi, nsim=nsim, level=level, method=method)


#: linear models with more residuals than this get their band from the distribution of order statistics (below)
#: instead of simulations; the cost does not grow with n
ORDER_STATISTICS_ABOVE = 20_000


def _order_statistic_band(
    m: int, positions: np.ndarray, df: float, level: float, absolute: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise band of the order statistics at ``positions`` (0-based) of ``m`` studentized residuals (or their
    absolute values) for large ``m``.

    Each sorted residual is the sample quantile of residuals that are, to O(p/n), independent t(``df``) variables
    scaled by their own residual standard error. For independent variables the k-th smallest is the quantile of
    Beta(k, m - k + 1) (exact, also in the tails); the self-scaling takes out the part of its variation that is
    due to the sample's mean and spread. By the Bahadur representation, at probability ``u`` with ``xi`` the normal
    quantile and ``phi`` its density, the variance ``u (1 - u) / (m phi^2)`` of the independent case drops by
    ``(1 + xi^2 / 2) / m`` (for ``|t|``: from ``u (1 - u) / (4 m phi^2)`` by ``xi^2 / (2 m)``), so the band's
    distance from its median is shrunk by the square root of the ratio of the two variances.
    """
    from scipy.special import betaincinv, ndtri, stdtrit

    k = positions.astype(float) + 1.0
    u = [betaincinv(k, m - k + 1.0, q) for q in ((1 - level) / 2, 0.5, (1 + level) / 2)]
    if absolute:
        lo, med, hi = (stdtrit(df, (1.0 + v) / 2.0) for v in u)
        xi = ndtri((1.0 + u[1]) / 2.0)
        phi = np.exp(-0.5 * xi**2) / np.sqrt(2 * np.pi)
        iid = u[1] * (1 - u[1]) / (4 * phi**2)
        drop = xi**2 / 2
    else:
        lo, med, hi = (stdtrit(df, v) for v in u)
        xi = ndtri(u[1])
        phi = np.exp(-0.5 * xi**2) / np.sqrt(2 * np.pi)
        iid = u[1] * (1 - u[1]) / phi**2
        drop = 1.0 + xi**2 / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        shrink = np.sqrt(np.clip(1.0 - drop / iid, 0.0, 1.0))
    shrink = np.where(np.isfinite(shrink), shrink, 1.0)
    return med - shrink * (med - lo), med, med + shrink * (hi - med)


#: a GLM envelope refits this many numbers' worth of work at most (n p^2 per refit): fewer simulations on big data
GLM_WORK = 5e8


def draw_glm_response(fit: GLMFit, rng: np.random.Generator) -> np.ndarray:
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
        size = 1.0 / float(cast(float, fam.alpha))  # the negative binomial family always has alpha
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


def glm_likelihood_resid(
    family: Any, y: np.ndarray, mu: np.ndarray, prior_weights: np.ndarray, h: np.ndarray, df_resid: float
) -> np.ndarray:
    """Likelihood (externally studentized) residuals of responses ``y`` (shape (n,) or (n, b)) at means ``mu``, with
    leverages ``h``: ``sign(d) sqrt(d^2 + h e^2 / (1 - h))`` with ``d`` the deviance and ``e`` the Pearson
    residual, divided by the deletion scale ``sqrt((sum d^2 - d_i^2 / (1 - h)) / (df - 1))`` for families other
    than binomial and Poisson (R's ``rstudent.glm``, as :func:`regdiag.linear.glm_influence.one_step_measures`)."""
    from .glm import deviance_residuals, pearson_residuals

    cols = [y] if y.ndim == 1 else [y[:, j] for j in range(y.shape[1])]
    mus = [mu] if mu.ndim == 1 else [mu[:, j] for j in range(mu.shape[1])]
    e_d = np.column_stack([deviance_residuals(family, a, m, prior_weights) for a, m in zip(cols, mus)])
    e_p = np.column_stack([pearson_residuals(family, a, m, prior_weights) for a, m in zip(cols, mus)])
    with np.errstate(divide="ignore", invalid="ignore"):
        one_minus = (1.0 - h)[:, None]
        lik = np.sign(e_d) * np.sqrt(e_d**2 + h[:, None] * e_p**2 / one_minus)
        if family.name not in ("binomial", "poisson"):
            dev_sum = np.sum(e_d**2, axis=0)[None, :]
            lik = lik / np.sqrt((dev_sum - e_d**2 / one_minus) / (df_resid - 1.0))
    return lik if y.ndim == 2 else lik[:, 0]


def _glm_one_step_sims(
    infl: Any, nsim: int, rng: np.random.Generator, absolute: bool, positions: np.ndarray
) -> tuple[np.ndarray, int]:
    """Sorted likelihood residuals of ``nsim`` responses drawn from the fitted GLM, each taken one Fisher-scoring
    step from the fit (see the module notes); draws whose step leaves the family's valid means are skipped."""
    fit = infl.fit
    factor = getattr(fit, "factor", None)
    if fit is None or factor is None:
        raise ValueError("a simulated envelope needs the fit; pass the fit or fit.influence()")
    fam = fit.family
    w_prior = np.asarray(fit.prior_weights, dtype=float)
    h = np.asarray(infl.leverage, dtype=float)
    ok = np.isfinite(np.asarray(infl.student_resid)) & (w_prior > 0)
    eta = np.asarray(fit.eta, dtype=float)
    mu = np.asarray(fit.mu, dtype=float)
    ww = np.asarray(fit.working_weights, dtype=float)
    sw = np.sqrt(np.maximum(ww, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_sw = np.where(sw > 0, 1.0 / sw, 0.0)
    q = np.asarray(factor.q)
    n = len(mu)
    batch = max(1, min(nsim, BATCH_ELEMENTS // max(n, 1)))
    cols: list[np.ndarray] = []
    done = 0
    while done < nsim:
        b = min(batch, nsim - done)
        Y = np.column_stack([draw_glm_response(fit, rng) for _ in range(b)])
        with np.errstate(all="ignore"):
            E = np.repeat(eta[:, None], b, axis=1)
            M = np.repeat(mu[:, None], b, axis=1)
            for _ in range(CHORD_STEPS):  # the score at the current means, through the fit's own factorization
                S = w_prior[:, None] * (Y - M) * fam.link.mu_eta(E) / fam.variance(M)
                U = inv_sw[:, None] * S
                U[~np.isfinite(U)] = 0.0
                E = E + inv_sw[:, None] * (q @ (q.T @ U))
                M = fam.link.inverse(E)
            T = glm_likelihood_resid(fam, Y, M, w_prior, h, float(infl.df_resid))[ok]
        for j in range(b):
            t = T[:, j]
            if np.all(np.isfinite(t)) and fam.valid_mu(M[ok, j]):
                cols.append(np.sort(np.abs(t) if absolute else t))
        done += b
    if len(cols) < 10:
        raise ValueError(f"only {len(cols)} of {nsim} simulated responses gave valid means after the scoring steps: "
                         "no envelope")
    return np.column_stack(cols)[positions], len(cols)
