"""Slow, obviously correct reference implementations (public oracles for tests and for users' own checks).

These refit the model from scratch with :func:`numpy.linalg.lstsq` (SVD) for every deletion, and form dense matrices;
use them on small problems only. Nothing here shares code with the closed forms it is meant to check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LooRefit", "ols_refit", "ols_loo_refit", "ols_group_refit", "dense_hat"]


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


def ols_refit(X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, rcond: float = 1e-10):
    """One weighted least-squares fit by SVD: (coefficients, rss, rank, n_positive)."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    keep = w > 0
    sw = np.sqrt(w[keep])
    A = X[keep] * sw[:, None]
    b = y[keep] * sw
    coef, _, rank, sv = np.linalg.lstsq(A, b, rcond=rcond)
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
    """Leave-one-out by refitting n times (full-rank designs; a refit that loses rank gives NaN coefficients)."""
    return _refits(X, y, weights, [[i] for i in range(len(y))], rcond)


def ols_group_refit(
    X: np.ndarray, y: np.ndarray, groups: list[np.ndarray], weights: np.ndarray | None = None, rcond: float = 1e-10
) -> LooRefit:
    """Delete each group of row positions and refit."""
    return _refits(X, y, weights, groups, rcond)


def dense_hat(X: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The full n x n hat matrix ``W^(1/2) X (X'WX)^+ X' W^(1/2)`` (small n only)."""
    X = np.asarray(X, dtype=float)
    sw = np.ones(X.shape[0]) if weights is None else np.sqrt(np.asarray(weights, dtype=float))
    A = X * sw[:, None]
    return A @ np.linalg.pinv(A.T @ A) @ A.T
