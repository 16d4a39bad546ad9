"""Slow, obviously correct reference implementations (public oracles for tests and for users' own checks).

These refit the model from scratch with :func:`numpy.linalg.lstsq` (SVD) for every deletion, and form dense matrices;
use them on small problems only. Nothing here shares code with the closed forms it is meant to check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "LooRefit", "ols_refit", "ols_loo_refit", "ols_group_refit", "dense_hat", "cox_naive", "cox_refit_naive",
    "cox_loo_refit_naive",
]


@dataclass(frozen=True)
class LooRefit:
    """Results of refitting with one observation (or group) removed.

    Attributes
    ----------
    params : ndarray of shape (n_deletions, n_params)
        Coefficients of each refit (NaN for columns not identifiable in that refit).
    sigma : ndarray of shape (n_deletions,)
        Residual standard error of each refit.
    rank : ndarray of shape (n_deletions,)
        Rank of each refit's design.
    """

    params: np.ndarray
    sigma: np.ndarray
    rank: np.ndarray


def ols_refit(
    X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, rcond: float = 1e-10
) -> tuple[np.ndarray, float, int, int]:
    """One weighted least-squares fit by SVD.

    Parameters
    ----------
    X : ndarray of shape (n_obs, n_params)
        The design.
    y : ndarray of shape (n_obs,)
        The response.
    weights : ndarray of shape (n_obs,), optional
        Analytic weights (rows with weight 0 are left out).
    rcond : float
        Relative cut-off for small singular values (:func:`numpy.linalg.lstsq`).

    Returns
    -------
    coef : ndarray of shape (n_params,)
        The coefficients (minimum norm when rank-deficient).
    rss : float
        Weighted residual sum of squares.
    rank : int
        Numerical rank of the weighted design.
    n_positive : int
        Number of rows with positive weight.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    keep = w > 0
    sw = np.sqrt(w[keep])
    A = X[keep] * sw[:, None]
    b = y[keep] * sw
    coef, _, rank, _sv = np.linalg.lstsq(A, b, rcond=rcond)
    resid = b - A @ coef
    return coef, float(resid @ resid), int(rank), int(keep.sum())


def _refits(X, y, weights, deletions, rcond):
    X = np.asarray(X, dtype=float)
    params, sigma, rank = [], [], []
    for rows in deletions:
        mask = np.ones(X.shape[0], dtype=bool)
        mask[rows] = False
        w = None if weights is None else np.asarray(weights, dtype=float)[mask]
        coef, rss, r, n = ols_refit(X[mask], np.asarray(y)[mask], w, rcond)
        if r < X.shape[1]:
            coef = np.full(X.shape[1], np.nan)
        params.append(coef)
        sigma.append(np.sqrt(rss / (n - r)) if n > r else np.nan)
        rank.append(r)
    return LooRefit(params=np.array(params), sigma=np.array(sigma), rank=np.array(rank))


def ols_loo_refit(X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, rcond: float = 1e-10) -> LooRefit:
    """Leave-one-out by refitting n times (full-rank designs; a refit that loses rank gives NaN coefficients).

    Parameters
    ----------
    X : ndarray of shape (n_obs, n_params)
        The design.
    y : ndarray of shape (n_obs,)
        The response.
    weights : ndarray of shape (n_obs,), optional
        Analytic weights (rows with weight 0 are left out).
    rcond : float
        Relative cut-off for small singular values (:func:`numpy.linalg.lstsq`).

    Returns
    -------
    LooRefit
        Coefficients, residual standard error and rank of each refit.
    """
    return _refits(X, y, weights, [[i] for i in range(len(y))], rcond)


def ols_group_refit(
    X: np.ndarray, y: np.ndarray, groups: list[np.ndarray], weights: np.ndarray | None = None, rcond: float = 1e-10
) -> LooRefit:
    """Delete each group of row positions and refit.

    Parameters
    ----------
    X : ndarray of shape (n_obs, n_params)
        The design.
    y : ndarray of shape (n_obs,)
        The response.
    groups : list of ndarray of int
        Row positions deleted together, one array per refit.
    weights : ndarray of shape (n_obs,), optional
        Analytic weights (rows with weight 0 are left out).
    rcond : float
        Relative cut-off for small singular values (:func:`numpy.linalg.lstsq`).

    Returns
    -------
    LooRefit
        Coefficients, residual standard error and rank of each refit.
    """
    return _refits(X, y, weights, groups, rcond)


def dense_hat(X: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The full n x n hat matrix ``W^(1/2) X (X'WX)^+ X' W^(1/2)`` (small n only).

    Parameters
    ----------
    X : ndarray of shape (n_obs, n_params)
        The design.
    weights : ndarray of shape (n_obs,), optional
        Analytic weights.

    Returns
    -------
    ndarray of shape (n_obs, n_obs)
        The hat matrix.
    """
    X = np.asarray(X, dtype=float)
    sw = np.ones(X.shape[0]) if weights is None else np.sqrt(np.asarray(weights, dtype=float))
    A = X * sw[:, None]
    return A @ np.linalg.pinv(A.T @ A) @ A.T


# ---------------------------------------------------------------------------------------------------------------
# Cox proportional hazards: the partial likelihood written out event by event (loops over risk sets)


def cox_naive(
    beta: np.ndarray, time: np.ndarray, status: np.ndarray, X: np.ndarray, strata: np.ndarray | None = None,
    ties: str = "efron", weights: np.ndarray | None = None,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Log partial likelihood, score and information by explicit loops over the distinct event times.

    For each stratum and each distinct event time ``t`` with ``d`` deaths, the risk set is every observation of the
    stratum with time ``>= t``; Efron's approximation subtracts ``k/d`` of the deaths' weights from the ``k``-th
    denominator (``k = 0 .. d - 1``), Breslow's uses the full risk set ``d`` times. With case weights ``w``, the risk
    set's weights are ``w_j exp(x_j' beta)``, each death's own term is weighted by ``w_i`` and each of the ``d``
    denominators' terms by the deaths' mean weight (R's convention). O(n x events); small n only.

    Returns
    -------
    (loglik, score of shape (p,), information of shape (p, p))
    """
    X = np.asarray(X, dtype=float)
    time = np.asarray(time, dtype=float)
    status = np.asarray(status, dtype=float)
    strata = np.zeros(len(time), dtype=int) if strata is None else np.asarray(strata)
    p = X.shape[1]
    wt = np.ones(len(time)) if weights is None else np.asarray(weights, dtype=float)
    r = wt * np.exp(X @ beta)
    ll, U, info = 0.0, np.zeros(p), np.zeros((p, p))
    for s in np.unique(strata):
        ins = strata == s
        for t in np.unique(time[ins & (status > 0)]):
            risk = ins & (time >= t)
            dead = ins & (time == t) & (status > 0)
            d = int(dead.sum())
            mw = wt[dead].mean()
            for k in range(d):
                c = k / d if ties == "efron" else 0.0
                wts = r * (risk - c * dead)
                den = wts.sum()
                mean = wts @ X / den
                second = (X * wts[:, None]).T @ X / den
                ll -= mw * np.log(den)
                U -= mw * mean
                info += mw * (second - np.outer(mean, mean))
            ll += float(wt[dead] @ (X[dead] @ beta))
            U += wt[dead] @ X[dead]
    return ll, U, info


def cox_refit_naive(
    time: np.ndarray, status: np.ndarray, X: np.ndarray, strata: np.ndarray | None = None, ties: str = "efron",
    start: np.ndarray | None = None, tol: float = 1e-13, maxit: int = 100, weights: np.ndarray | None = None,
) -> np.ndarray:
    """Maximise :func:`cox_naive` by Newton's method with step halving; the coefficients (NaN if it fails)."""
    beta = np.zeros(np.asarray(X).shape[1]) if start is None else np.array(start, dtype=float)
    ll, U, info = cox_naive(beta, time, status, X, strata, ties, weights)
    for _ in range(maxit):
        step = np.linalg.solve(info, U)
        t = 1.0
        while True:
            new = cox_naive(beta + t * step, time, status, X, strata, ties, weights)
            if np.isfinite(new[0]) and new[0] >= ll - 1e-12 * abs(ll):
                break
            t /= 2
            if t < 1e-10:
                return np.full_like(beta, np.nan)
        beta = beta + t * step
        ll, U, info = new
        if np.max(np.abs(t * step)) <= tol * max(1.0, np.max(np.abs(beta))):
            ev = np.linalg.eigvalsh(info)
            # a flat direction: the maximum is at infinity (monotone likelihood)
            return beta if ev[0] > 1e-8 * ev[-1] else np.full_like(beta, np.nan)
    return np.full_like(beta, np.nan)


def cox_loo_refit_naive(
    time: np.ndarray, status: np.ndarray, X: np.ndarray, strata: np.ndarray | None = None, ties: str = "efron",
    start: np.ndarray | None = None, weights: np.ndarray | None = None,
) -> np.ndarray:
    """Leave-one-out coefficients by refitting :func:`cox_refit_naive` without each row: shape (n_obs, n_params)."""
    n = len(time)
    out = []
    for i in range(n):
        m = np.ones(n, dtype=bool)
        m[i] = False
        out.append(cox_refit_naive(np.asarray(time)[m], np.asarray(status)[m], np.asarray(X)[m],
                                   None if strata is None else np.asarray(strata)[m], ties, start,
                                   weights=None if weights is None else np.asarray(weights)[m]))
    return np.array(out)
