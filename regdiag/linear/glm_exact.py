"""Exact deletion for GLMs: warm-started, batched Newton iterations, without n refits from scratch.

Deleting a group ``G`` of observations (a single observation for leave-one-out) moves the maximum-likelihood
estimate from ``b`` to the root ``b_(G)`` of the score without ``G``,

    S_(G)(beta) = sum_{j not in G} x_j u_j(beta),     u_j = w_j (y_j - mu_j) mu'(eta_j) / V(mu_j).

The root is found by Newton-type steps started from ``b``:

1. the first step is Fisher scoring with the information of the full fit minus the group's,
   ``H_(G) = X'WX - X_G' W_G X_G``: this is the one-step estimate (given to :func:`exact_deletion` by the caller,
   who has computed it in closed form from the QR);
2. for canonical links (where the observed information is ``X'WX`` and ``dW/deta = w c mu''(eta)`` is explicit) a
   second-order correction follows without any new score evaluation:
   ``d2 = d1 - 1/2 H_(G)^{-1} T_(G)[d1, d1]`` with ``T_(G)[d, d] = sum_{j not in G} x_j W'_j (x_j'd)^2`` from the
   third-derivative tensor ``T`` (``p x p^2``, one ``O(n p^3)`` pass for all deletions);
3. every later step is ``d = H_o,(G)^{-1} S_(G)(beta)`` with the *observed* information of the full fit minus the
   group's, held fixed at ``b`` (a chord method; for canonical links observed and expected information coincide).
   The score is evaluated exactly at the current iterate, so the fixed point is the exact ``b_(G)``; holding the
   Hessian at ``b`` only slows convergence to a contraction factor of order ``|b - b_(G)|``. A group whose reduced
   observed information is not positive definite falls back to the expected information.

The scores of a batch of ``B`` (at most ``BATCH`` = 256) deletions are two matrix products with the design and one
elementwise pass over the ``n x B`` linear predictors (``eta + X D'``, then the score), taken a block of rows at a
time so that a block holds at most ``memory_mb`` (default 4 MB) and stays in cache. A sweep over all ``n``
deletions costs ``O(n^2 p)`` time; the memory beyond the fit is ``O(n p)`` for the scaled design plus the block.
Deletions that have converged leave the batch. The Hessian solves are done in the coordinates where the full expected information is the identity
(``R`` of the QR), where each reduced Hessian is well conditioned unless the group carries a leverage near 1.

Convergence: with ``c_k = max_j |d_j| / se_j`` the size of the k-th correction in standard errors
(``se_j = sqrt(phi [(X'WX)^{-1}]_jj)``) and ``rho = c_k / c_(k-1)`` the observed contraction (the second-order
correction counting as the correction before the first chord step), the error left after step k is about
``c_k rho / (1 - rho)``; a deletion has converged when that estimate, or ``c_k`` itself, is at most ``tol`` (default
``1e-10`` standard errors). Both the second-order term and the chord steps gain a factor of order ``|b - b_(G)|``
(about 1e-3 for n in the thousands), so for canonical links one sweep of score evaluations after the one-step
estimate usually suffices, two for the others.
A deletion whose corrections contract more slowly than ``SLOW_RATE`` is refitted by warm-started IRLS (same rule as
the full fit) on the data without it; one whose refit fails (for binomial models typically a deletion that leaves
the data separated) gets NaN.
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
DEFAULT_MEMORY_MB = 4.0


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
        Estimated error left, in standard errors (for chord steps; IRLS's criterion for refitted deletions).
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
    kernel = _ScoreKernel(Xs, eta, y, prior_weights, family)

    # second-order predictor (canonical links): b_(G) - b = d1 - 1/2 H_(G)^{-1} T_(G)[d1, d1] + O(d1^3)
    if family.canonical and family.link.name != "identity" and maxit > 1:
        T = _third_derivative(Xs, eta, prior_weights, family, rows_chunk)
        for start in range(0, G, batch):
            idx = np.arange(start, min(G, start + batch))
            idx = idx[~slow[idx]]
            if idx.size == 0:
                continue
            D = delta[idx]
            q = (D[:, :, None] * D[:, None, :]).reshape(idx.size, r * r) @ T.T  # (B, r): T[d, d]
            q -= _own_third(Xs, eta, prior_weights, family, D, [groups[g] for g in idx])
            corr = -0.5 * _newton_solve(Rm, M, Q, ratio, [groups[g] for g in idx], sizes[idx], q.T)
            ok = np.all(np.isfinite(corr), axis=1)
            delta[idx] = D + np.where(ok[:, None], corr, 0.0)
            prev[idx] = np.where(ok, np.max(np.abs(corr) / se[None, :], axis=1), np.inf)

    for _step in range(1, min(maxit, CHORD_STEPS + 1)):
        active = np.flatnonzero(~converged & ~slow)
        if active.size == 0:
            break
        for start in range(0, active.size, batch):
            idx = active[start : start + batch]
            D = delta[idx]
            S = kernel.scores(D, [groups[g] for g in idx], rows_chunk)
            d = _newton_solve(Rm, M, Q, ratio, [groups[g] for g in idx], sizes[idx], S)
            crit = np.max(np.abs(d) / se[None, :], axis=1)
            ok = np.all(np.isfinite(d), axis=1)
            delta[idx] = D + np.where(ok[:, None], d, 0.0)
            iterations[idx] += 1
            # error left after this correction: about rho / (1 - rho) times it, rho the observed contraction
            with np.errstate(divide="ignore", invalid="ignore"):
                rho = np.where(np.isfinite(prev[idx]), crit / prev[idx], 1.0)
                remaining = np.where(rho < 0.5, crit * rho / (1.0 - rho), np.inf)
            last[idx] = np.minimum(crit, remaining)
            conv = ok & ((crit <= tol) | (remaining <= tol))
            converged[idx[conv]] = True
            # a contraction slower than SLOW_RATE (large deletion effects, small n) goes to the Newton refit
            stalled = ~ok | (~conv & (crit > SLOW_RATE * prev[idx]))
            slow[idx[stalled]] = True
            prev[idx] = crit
    # what the chord steps did not finish: warm-started Newton (IRLS) refits, one deletion at a time
    rest = np.flatnonzero(~converged)
    dfb_s = -delta
    if rest.size:
        from .glm_irls import DEFAULT_MAXIT, irls

        off = np.zeros(n) if offset is None else offset
        k = X.shape[1]
        b_s = coef[cols] / sc
        for g in rest:
            keep = np.ones(n, dtype=bool)
            keep[groups[g]] = False  # rows removed, not weighted 0: their eta need not stay in the link's domain
            # from where the chord steps got to, else from the full fit (always in the domain)
            starts = [delta[g]] if np.all(np.isfinite(delta[g])) else []
            res = None
            for start_s in starts + [np.zeros(r)]:
                start = np.zeros(k)
                start[cols] = (start_s + b_s) * sc
                try:
                    res = irls(X[keep], y[keep], prior_weights[keep], off[keep], family,
                               family.link.inverse(eta[keep]), start=start, maxit=max(maxit, DEFAULT_MAXIT))
                except (ArithmeticError, ValueError):
                    res = None
                if res is not None and res.converged:
                    break
            if res is None or res.separation is not None or not res.converged or res.factor.rank < r:
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
            for b, g in enumerate(idx):
                P[groups[g], b] = 0.0  # deleted rows (their eta may even leave the link's domain)
            chi2[idx] = P.sum(axis=0)
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


class _ScoreKernel:
    """Scores ``S_(G)(b + d)`` of batches of deletions, a block of rows at a time.

    For a 0/1 logistic model the score of row j is ``w_j s_j / (1 + exp(s_j eta_j))`` with ``s_j = 2 y_j - 1``:
    with the signs folded into the design once, a block costs one product, three elementwise passes and one
    product (the exact logistic function; R's clamps at ``|eta| > 30`` change fitted probabilities by less than
    1e-13). Other families go through :meth:`Family.score_eta`.
    """

    def __init__(self, Xs: np.ndarray, eta: np.ndarray, y: np.ndarray, w: np.ndarray, family: Family) -> None:
        self.Xs, self.eta, self.family = Xs, eta, family
        self.yc, self.wc = y[:, None], w[:, None]
        self.logistic = (
            family.name == "binomial" and family.link.name == "logit" and bool(np.all((y == 0.0) | (y == 1.0)))
        )
        if self.logistic:
            sgn = 2.0 * y - 1.0
            self.Xsig = np.ascontiguousarray(Xs * sgn[:, None])
            self.eta_sig = sgn * eta
            self.Xw = self.Xsig if np.all(w == 1.0) else np.ascontiguousarray(self.Xsig * w[:, None])

    def _rows_scores(self, rows: np.ndarray, e: np.ndarray) -> np.ndarray:
        """Scores of rows ``rows`` at linear predictors ``e`` (any shape broadcasting with ``rows``)."""
        return self.family.score_eta(self.yc[rows, 0], e, self.wc[rows, 0])

    def scores(self, D: np.ndarray, groups: list[np.ndarray], rows_chunk: int) -> np.ndarray:
        Xs, eta = self.Xs, self.eta
        n = Xs.shape[0]
        S = np.zeros((Xs.shape[1], D.shape[0]))
        Dt = np.ascontiguousarray(D.T)
        for s0 in range(0, n, rows_chunk):
            s1 = min(n, s0 + rows_chunk)
            if self.logistic:
                E = self.Xsig[s0:s1] @ Dt
                E += self.eta_sig[s0:s1, None]
                np.exp(E, out=E)
                E += 1.0
                np.reciprocal(E, out=E)
                S += self.Xw[s0:s1].T @ E
            else:
                Xc = Xs[s0:s1]
                E = Xc @ Dt
                E += eta[s0:s1, None]
                U = self.family.score_eta(self.yc[s0:s1], E, self.wc[s0:s1], out=E)
                S += Xc.T @ U
        # remove each deletion's own rows
        if all(len(g) == 1 for g in groups):
            rows = np.array([g[0] for g in groups], dtype=np.intp)
            e = eta[rows] + np.einsum("bj,bj->b", Xs[rows], D)
            S -= (Xs[rows] * self._rows_scores(rows, e)[:, None]).T
            return S
        for b, g in enumerate(groups):
            rows = np.asarray(g)
            if rows.size:
                S[:, b] -= Xs[rows].T @ self._rows_scores(rows, eta[rows] + Xs[rows] @ D[b])
        return S


def _newton_solve(
    Rm: np.ndarray, M: np.ndarray, Q: np.ndarray, ratio: np.ndarray | None, groups: list[np.ndarray],
    sizes: np.ndarray, S: np.ndarray,
) -> np.ndarray:
    """``H_(G)^{-1} S`` for each column of ``S`` (r, B), solved where the full expected information is identity."""
    gw = solve_triangular(Rm, S, trans="T", lower=False, check_finite=False)  # R^{-T} S
    hess = _reduced_hessians(M, Q, ratio, groups, sizes, Rm.shape[0])
    v = np.linalg.solve(hess, gw.T[..., None])[..., 0]
    return solve_triangular(Rm, v.T, lower=False, check_finite=False).T  # (B, r)


def _dweight(eta: np.ndarray, w: np.ndarray, family: Family) -> np.ndarray:
    """``dW/deta`` under a canonical link: ``w c mu''(eta)`` (``c = mu'/V``, constant)."""
    return w * family.canonical_factor * family.link.mu_eta2(eta)


def _third_derivative(Xs: np.ndarray, eta: np.ndarray, w: np.ndarray, family: Family, rows_chunk: int) -> np.ndarray:
    """``T[a, (b, c)] = sum_j W'_j x_ja x_jb x_jc`` as an ``r x r^2`` matrix (``T[d, d] = T (d kron d)``)."""
    r = Xs.shape[1]
    T = np.zeros((r, r * r))
    wp = _dweight(eta, w, family)
    step = max(1, min(Xs.shape[0], rows_chunk // max(r, 1)))
    for s0 in range(0, Xs.shape[0], step):
        Xc = Xs[s0 : s0 + step]
        outer = (Xc[:, :, None] * Xc[:, None, :]).reshape(Xc.shape[0], r * r)
        T += (Xc * wp[s0 : s0 + step, None]).T @ outer
    return T


def _own_third(
    Xs: np.ndarray, eta: np.ndarray, w: np.ndarray, family: Family, D: np.ndarray, groups: list[np.ndarray]
) -> np.ndarray:
    """The deleted rows' part of ``T[d, d]``: ``sum_{j in G} W'_j x_j (x_j'd)^2``, (B, r)."""
    if all(len(g) == 1 for g in groups):
        rows = np.array([g[0] for g in groups], dtype=np.intp)
        xd = np.einsum("bj,bj->b", Xs[rows], D)
        return Xs[rows] * (_dweight(eta[rows], w[rows], family) * xd**2)[:, None]
    out = np.zeros_like(D)
    for b, g in enumerate(groups):
        rows = np.asarray(g)
        if rows.size:
            xd = Xs[rows] @ D[b]
            out[b] = Xs[rows].T @ (_dweight(eta[rows], w[rows], family) * xd**2)
    return out


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
