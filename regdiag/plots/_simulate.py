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

__all__ = ["Envelope", "order_positions", "linear_student_from_draws", "envelope"]

#: keep every order statistic up to this many residuals; above it, the tails and an even grid in between
THIN_ABOVE = 5000
#: a batch of simulated data sets holds at most this many numbers
BATCH_ELEMENTS = 4_000_000


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
        with the prior weights and refitted from the fitted values).
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
    sims_fn = getattr(infl, "simulate_student_resid", None)
    if callable(sims_fn):  # a result that knows how to simulate itself (GLMs)
        sims = _sorted_positions(sims_fn(nsim, rng), absolute, positions)
        method = "refit of simulated responses"
    else:
        sims = _linear_sims(infl, nsim, rng, absolute, positions)
        method = "exact (projection of simulated errors)"
    lo, med, hi = np.nanquantile(sims, [(1 - level) / 2, 0.5, (1 + level) / 2], axis=1)
    return Envelope(positions=positions, lower=lo, median=med, upper=hi, nsim=nsim, level=level, method=method)


def _sorted_positions(sims: np.ndarray, absolute: bool, positions: np.ndarray) -> np.ndarray:
    sims = np.asarray(sims, dtype=float)
    sims = sims[np.isfinite(sims).all(axis=1)]
    if absolute:
        sims = np.abs(sims)
    sims.sort(axis=0)
    return sims[positions]
