"""Exact deletion for GLMs: warm-started, batched Newton iterations, without n refits from scratch.

Deleting a group ``G`` of observations (a single observation for leave-one-out) moves the maximum-likelihood
estimate from ``b`` to the root ``b_(G)`` of the score without ``G``,

    S_(G)(beta) = sum_{j not in G} x_j u_j(beta),     u_j = w_j (y_j - mu_j) mu'(eta_j) / V(mu_j).

The root is found by Newton-type steps started from ``b``:

1. the first step is Fisher scoring with the information of the full fit minus the group's,
   ``H_(G) = X'WX - X_G' W_G X_G``: this is the one-step estimate (given to :func:`exact_deletion` by the caller,
   who has computed it in closed form from the QR);
2. every later step is ``d = H_o,(G)^{-1} S_(G)(beta)`` with the *observed* information of the full fit minus the
   group's, held fixed at ``b`` (a chord method; for canonical links observed and expected information coincide).
   The score is evaluated exactly at the current iterate, so the fixed point is the exact ``b_(G)``; holding the
   Hessian at ``b`` only slows convergence to a contraction factor of order ``|b - b_(G)|``. A group whose reduced
   observed information is not positive definite falls back to the expected information.

The scores of a batch of ``B`` deletions are two matrix products with the design and one elementwise pass over an
``n x B`` block (``eta + X D'``, then the score), so a sweep over all ``n`` deletions costs ``O(n^2 p)`` time and
``O(n B)`` memory, with ``B`` chosen to keep the block below ``memory_mb``. Deletions that have converged leave the
batch. The Hessian solves are done in the coordinates where the full expected information is the identity
(``R`` of the QR), where each reduced Hessian is well conditioned unless the group carries a leverage near 1.

Convergence: a deletion has converged when its last correction is at most ``tol`` standard errors in every
coefficient, ``|d_j| <= tol * sqrt(phi [(X'WX)^{-1}]_jj)`` (default ``tol = 1e-10``); the remaining error is then
about the contraction factor times that. A deletion whose corrections stop shrinking, or that has not converged
after ``maxit`` steps, gets NaN (for binomial models this is typically a deletion that leaves the data separated).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

from ..linalg import QRFactor
from .families import Family

__all__ = ["ExactDeletion", "exact_deletion", "DEFAULT_LOO_TOL", "DEFAULT_LOO_MAXIT", "DEFAULT_MEMORY_MB"]

DEFAULT_LOO_TOL = 1e-10
DEFAULT_LOO_MAXIT = 50
DEFAULT_MEMORY_MB = 64.0


@dataclass(frozen=True, eq=False)
class ExactDeletion:
    """Exact deletion results in the original coordinates.

    Attributes
    ----------
    dfbeta : ndarray of shape (n_groups, n_params)
        ``b - b_(G)`` (NaN for aliased columns and for deletions that did not converge).
    iterations : ndarray of shape (n_groups,)
        Steps taken, the one-step estimate counting as the first.
    converged : ndarray of bool, shape (n_groups,)
    last_correction : ndarray of shape (n_groups,)
        Size of the last correction in standard errors.
    cooks_quad : ndarray of shape (n_groups,)
        ``(b - b_(G))' X'WX (b - b_(G))`` (NaN where not converged).
    pearson_chi2 : ndarray of shape (n_groups,) or None
        Pearson's chi-square of the fit without the group (when requested).
    """

    dfbeta: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    last_correction: np.ndarray
    cooks_quad: np.ndarray
    pearson_chi2: np.ndarray | None


def exact_deletion(
    X: np.ndarray,
    y: np.ndarray,
    prior_weights: np.ndarray,
    eta: np.ndarray,
    family: Family,
    factor: QRFactor,
    weights: np.ndarray,
    groups: list[np.ndarray],
    first_step: np.ndarray,
    coef: np.ndarray,
    *,
    offset: np.ndarray | None = None,
    dispersion: float = 1.0,
    tol: float = DEFAULT_LOO_TOL,
    maxit: int = DEFAULT_LOO_MAXIT,
    memory_mb: float = DEFAULT_MEMORY_MB,
    pearson: bool = False,
) -> ExactDeletion:
    """Exact ``b - b_(G)`` for every group by batched, warm-started Newton steps (see the module docstring).

    Parameters
    ----------
    X : ndarray of shape (n_obs, n_params)
        Design (all columns; aliased ones are ignored).
    y, prior_weights, eta : ndarray of shape (n_obs,)
        Response (model scale), prior weights and the fit's linear predictor (with offset).
    family : Family
    factor : QRFactor
        QR of ``W^(1/2) X`` at the fit.
    weights : ndarray of shape (n_obs,)
        Working weights ``W`` of ``factor``.
    groups : list of ndarray of int
        Row positions of each deletion (length-1 arrays for leave-one-out).
    first_step : ndarray of shape (n_groups, n_params)
        The one-step ``b - b_(G)`` (Fisher scoring step), the first iterate.
    coef : ndarray of shape (n_params,)
        The fit's coefficients ``b``.
    offset : ndarray of shape (n_obs,), optional
        Offset (only for the refits of the fallback).
    dispersion : float
        ``phi`` of the standard errors in the convergence test.
    tol, maxit, memory_mb
        Convergence tolerance (in standard errors), largest number of steps, memory of one block of the score
        evaluation.
    pearson : bool
        Also return Pearson's chi-square of each deletion fit.

    Returns
    -------
    ExactDeletion
    """
    n = X.shape[0]
    G = len(groups)
    f = factor
    cols, r = f.cols, f.rank
    sc = f.scale[cols]
    Xs = np.ascontiguousarray(X[:, cols] * sc)  # scaled kept columns: X'WX = R'R here
    Rm = f.r
    Rinv = solve_triangular(Rm, np.eye(r), lower=False)
    se = np.sqrt(max(dispersion, 0.0) * np.einsum("ij,ij->i", Rinv, Rinv))  # standard errors, scaled coordinates
    se[~(se > 0)] = 1.0

    # observed information in whitened coordinates: M = Q' diag(ratio) Q
    pos = prior_weights > 0
    ratio = None
    if not family.canonical:
        ratio = np.where(pos, family.observed_ratio(y, family.link.inverse(eta)), 1.0)
    Q = f.q
    M = np.eye(r) if ratio is None else Q.T @ (Q * ratio[:, None])

    delta = -(first_step[:, cols] / sc)  # b_(G) - b in scaled coordinates
    iterations = np.ones(G, dtype=np.intp)
    converged = np.zeros(G, dtype=bool)
    slow = ~np.all(np.isfinite(delta), axis=1)
    last = np.full(G, np.inf)
    prev = np.full(G, np.inf)

    sizes = np.array([len(g) for g in groups])
    block = max(1024, int(memory_mb * 2**20 / 8))  # elements of one (rows x deletions) block
    batch = int(min(BATCH, max(1, G)))
    rows_chunk = max(1, min(n, block // batch))
    yc = y[:, None]
    wc = prior_weights[:, None]

    for _step in range(1, min(maxit, CHORD_STEPS + 1)):
        active = np.flatnonzero(~converged & ~slow)
        if active.size == 0:
            break
        for start in range(0, active.size, batch):
            idx = active[start : start + batch]
            D = delta[idx]
            S = _deletion_scores(Xs, eta, yc, wc, family, D, [groups[g] for g in idx], rows_chunk)
            gw = solve_triangular(Rm, S, trans="T", lower=False, check_finite=False)  # R^{-T} S
            hess = _reduced_hessians(M, Q, ratio, [groups[g] for g in idx], sizes[idx], r)
            v = np.linalg.solve(hess, gw.T[..., None])[..., 0]
            d = solve_triangular(Rm, v.T, lower=False, check_finite=False).T  # (B, r)
            crit = np.max(np.abs(d) / se[None, :], axis=1)
            ok = np.all(np.isfinite(d), axis=1)
            delta[idx] = D + np.where(ok[:, None], d, 0.0)
            iterations[idx] += 1
            last[idx] = crit
            conv = ok & (crit <= tol)
            converged[idx[conv]] = True
            # a contraction slower than SLOW_RATE (large deletion effects, small n) goes to the Newton refit
            stalled = ~ok | (~conv & (crit > SLOW_RATE * prev[idx]) & (iterations[idx] > 2))
            slow[idx[stalled]] = True
            prev[idx] = crit
    # what the chord steps did not finish: warm-started Newton (IRLS) refits, one deletion at a time
    rest = np.flatnonzero(~converged)
    dfb_s = -delta
    if rest.size:
        from .glm_irls import irls

        off = np.zeros(n) if offset is None else offset
        k = X.shape[1]
        b_s = coef[cols] / sc
        for g in rest:
            w_g = prior_weights.copy()
            w_g[groups[g]] = 0.0
            start_s = delta[g] if np.all(np.isfinite(delta[g])) else np.zeros(r)
            start = np.zeros(k)
            start[cols] = (start_s + b_s) * sc
            try:
                res = irls(X, y, w_g, off, family, family.link.inverse(eta), start=start, maxit=maxit)
            except (ArithmeticError, ValueError):
                continue
            if res.separation is not None or not res.converged or res.factor.rank < r:
                continue
            b_g = res.coef[cols] / sc
            dfb_s[g] = b_s - b_g
            delta[g] = -dfb_s[g]
            iterations[g] += res.iterations
            last[g] = res.criterion
            converged[g] = True
    bad = ~converged
    dfb_s[bad] = np.nan
    quad = np.einsum("gi,gi->g", dfb_s @ Rm.T, dfb_s @ Rm.T)
    dfbeta = f.to_original(dfb_s)
    chi2 = None
    if pearson:
        chi2 = np.full(G, np.nan)
        good_idx = np.flatnonzero(converged)
        for start in range(0, good_idx.size, batch):
            idx = good_idx[start : start + batch]
            E = Xs @ delta[idx].T
            E += eta[:, None]
            m = family.link.inverse(E)
            with np.errstate(divide="ignore", invalid="ignore"):
                P = wc * (yc - m) ** 2 / family.variance(m)
            P[~pos] = 0.0
            tot = P.sum(axis=0)
            for b, g in enumerate(idx):
                tot[b] -= P[groups[g], b].sum()
            chi2[idx] = tot
    return ExactDeletion(
        dfbeta=dfbeta,
        iterations=iterations,
        converged=converged,
        last_correction=last,
        cooks_quad=quad,
        pearson_chi2=chi2,
    )


#: deletions per batch (columns of one score block)
BATCH = 256
#: chord steps before a deletion that has not converged is handed to a warm-started IRLS refit
CHORD_STEPS = 8
#: contraction factor (correction over previous correction) above which a deletion is refitted
SLOW_RATE = 0.25


def _deletion_scores(
    Xs: np.ndarray,
    eta: np.ndarray,
    yc: np.ndarray,
    wc: np.ndarray,
    family: Family,
    D: np.ndarray,
    groups: list[np.ndarray],
    rows_chunk: int,
) -> np.ndarray:
    """Scores ``S_(G)(b + d_G)`` of a batch of deletions, ``(r, B)``, a block of rows at a time (cache sized)."""
    n = Xs.shape[0]
    B = D.shape[0]
    S = np.zeros((Xs.shape[1], B))
    Dt = np.ascontiguousarray(D.T)
    own = [(np.asarray(g), b) for b, g in enumerate(groups)]
    for s0 in range(0, n, rows_chunk):
        s1 = min(n, s0 + rows_chunk)
        Xc = Xs[s0:s1]
        E = Xc @ Dt
        E += eta[s0:s1, None]
        U = family.score_eta(yc[s0:s1], E, wc[s0:s1], out=E)
        S += Xc.T @ U
    # remove each deletion's own rows
    if all(len(g) == 1 for g in groups):
        rows = np.array([g[0] for g in groups], dtype=np.intp)
        e = eta[rows] + np.einsum("bj,bj->b", Xs[rows], D)
        u = family.score_eta(yc[rows, 0], e, wc[rows, 0])
        S -= (Xs[rows] * u[:, None]).T
        return S
    for rows, b in own:
        if rows.size == 0:
            continue
        e = eta[rows] + Xs[rows] @ D[b]
        u = family.score_eta(yc[rows, 0], e, wc[rows, 0])
        S[:, b] -= Xs[rows].T @ u
    return S


def _reduced_hessians(
    M: np.ndarray, Q: np.ndarray, ratio: np.ndarray | None, groups: list[np.ndarray], sizes: np.ndarray, r: int
) -> np.ndarray:
    """``M - Q_G' diag(ratio_G) Q_G`` for every group (observed information without G, whitened coordinates).

    Where that is not positive definite, the expected ``I - Q_G' Q_G`` is used instead.
    """
    G = len(groups)
    out = np.empty((G, r, r))
    for m in np.unique(sizes):
        gs = np.flatnonzero(sizes == m)
        rows = np.stack([groups[g] for g in gs]) if m else np.zeros((len(gs), 0), dtype=np.intp)
        QG = Q[rows]  # (B, m, r)
        expected = np.eye(r)[None] - np.einsum("bmi,bmj->bij", QG, QG)
        if ratio is None:
            out[gs] = expected
            continue
        obs = M[None] - np.einsum("bmi,bm,bmj->bij", QG, ratio[rows], QG)
        lam = np.linalg.eigvalsh(obs)[:, 0]
        use = lam > 1e-8
        out[gs] = np.where(use[:, None, None], obs, expected)
    return out
