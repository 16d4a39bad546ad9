"""Exact leave-one-out for the Cox model: batched Newton-type iterations on the partial likelihood.

Deleting observation ``i`` changes the partial likelihood in two ways: ``i``'s own event term goes (if it is an
event), and ``i`` leaves every risk set it belonged to, i.e. the denominators of all events of its stratum up to
its time (and, with Efron's approximation, the number of tied deaths ``d_b`` of its block when it is an event).
The coefficients without ``i`` solve ``U_(-i)(beta) = 0`` for the score of that reduced likelihood. This module
finds that root for every ``i`` exactly, from the full fit ``b``:

    beta_(k+1) = beta_k + M_i^{-1} U_(-i)(beta_k),     beta_0 = b,

where ``U_(-i)`` is evaluated exactly at the current iterate (the risk sets without ``i``, the Efron weights with
the reduced ``d_b``), so the fixed point is the exact ``beta_(-i)``; ``M_i`` is the information of the full fit
corrected to first order in ``r_i / S0`` for the deletion (a chord method):

    M_i = I - delta_i c_i V_(b_i) + r_i sum_{b <= b_i} q_b [V_b - (x_i - m_b)(x_i - m_b)'],

with ``c_i`` the case weight (1 without weights), ``r_i = c_i exp(eta_i)`` the risk weight, ``q_b`` Breslow's hazard
increment ``d_b meanwt_b / S0_b``, ``m_b = S1_b / S0_b`` and ``V_b = S2_b / S0_b - m_b m_b'`` (three cumulative
sums over blocks are formed once, the inverses of the ``M_i`` in chunks of rows). The contraction factor of the
iteration is of the order of ``|beta_(-i) - b|`` plus ``(w_i / S0)^2``, so two to four score evaluations usually
reach 1e-10 standard errors.

Work: a batch of ``B`` deletions is one ``n x B`` array of risk weights ``w_j exp(x_j' (beta_i - b))`` (zero in
row ``i`` of column ``i``), its block and risk-set sums, the cumulative hazard charges ``A`` and one product
``X' (W * A)``: ``O(n p)`` per deletion and score evaluation, ``O(n^2 p)`` for all ``n`` deletions, never an
``n x n`` array (``B`` is chosen so that a batch array holds at most ``2^20`` numbers).

Convergence: a step's size is measured in standard errors of the full fit, ``c_k = max_j |step_j| / se_j``. A
deletion has converged when it contracts by at least half (``rho = c_k / c_(k-1) <= 1/2``) and either its last
correction is at most ``tol`` (default 1e-10) or ten times the geometric estimate of the error left,
``c_k rho / (1 - rho)``, is (the early ratios can understate the rate, hence the factor; the estimate itself is
reported). With ``c_1`` of order ``1/sqrt(n)`` and a contraction of the same order, two score evaluations suffice
for most deletions at n in the thousands, three for the rest. A deletion that contracts more slowly than 1/2 after
three steps, or not within 12, is refitted by Newton's method with step halving
(:func:`regdiag.survival._core.newton`) on the data without it; its error bound is then the size of one more chord
step from the refit. A deletion that leaves no finite maximum
(for example, the only event of a level of a categorical covariate) gets NaN, with a warning naming the rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._validation import ConditioningWarning, DesignError, InfluenceWarning, RegdiagError
from .._warnings import warn_deletion_unidentifiable, warn_rows
from ..linalg import qr_factor
from ..linear.glm_exact import blocked_matmul
from ._risk import RiskSets

if TYPE_CHECKING:
    from ..results import GroupInfluence
    from .cox import CoxFit
    from .formula import SurvDesign

__all__ = ["DEFAULT_TOL", "ExactLOO", "cox_group_deletion", "exact_loo", "exact_loo_by_refits",
           "unidentifiable_deletions"]

DEFAULT_TOL = 1e-10
MAXIT = 12
#: factor on the observed contraction in the extrapolated error bound that lets a deletion stop early
SAFETY = 10.0
#: numbers in one n x B batch array
BATCH_NUMBERS = 1 << 20


@dataclass(frozen=True, eq=False)
class ExactLOO:
    """Exact leave-one-out results (rows in data order).

    Attributes
    ----------
    dfbeta : ndarray of shape (n_obs, n_params)
        ``b - beta_(-i)``; NaN where the model without ``i`` has no finite maximum.
    converged : ndarray of bool, shape (n_obs,)
    error_bound : ndarray of shape (n_obs,)
        Estimated error left, in standard errors of the full fit (``c_k rho / (1 - rho)``; the last correction
        ``c_k`` itself is at most ``tol``).
    iterations : ndarray of int, shape (n_obs,)
        Score evaluations (chord steps) used; refitted deletions add the refit's Newton iterations.
    refitted : ndarray of bool, shape (n_obs,)
    """

    dfbeta: np.ndarray
    converged: np.ndarray
    error_bound: np.ndarray
    iterations: np.ndarray
    refitted: np.ndarray


class _LooKernel:
    """Scores of the partial likelihood without observation ``i``, for a batch of deletions at once.

    Works in the reverse of the sorted order (strata and times descending), with one row per deletion and one
    column per observation (``(B, n)`` arrays, contiguous along the observations): a risk set is then a prefix of
    its stratum, its weight a running sum along the row, and the cumulative hazard a running sum backwards.
    """

    def __init__(self, X: np.ndarray, rs: RiskSets, beta: np.ndarray) -> None:
        n = rs.n
        self.rs = rs
        self.n = n
        self.Xr = np.ascontiguousarray(X[::-1])
        self.XrT = np.ascontiguousarray(self.Xr.T)
        eta = X @ beta
        logw = eta - np.max(eta) + (np.log(rs.wt) if rs.weighted else 0.0)
        self.logw = np.ascontiguousarray(logw[::-1])
        self.wt = rs.wt  # case weights (sorted order)
        self.meanwt = None if rs.meanwt is None else np.ascontiguousarray(rs.meanwt[::-1])
        self.status = np.ascontiguousarray(rs.status[::-1])
        nb = rs.n_blocks
        self.blk = np.ascontiguousarray((nb - 1 - rs.blk)[::-1])
        ends = np.r_[rs.starts[1:], n]
        self.starts = np.ascontiguousarray(n - ends[::-1])
        self.strata = [slice(nb - sl.stop, nb - sl.start) for sl in rs.stratum_blocks][::-1]
        self.d = np.ascontiguousarray(rs.d[::-1])
        self.death_blk = np.flatnonzero(self.d > 0)
        self.sum_deaths = rs.wt[rs.death_rows] @ X[rs.death_rows]
        self.trivial = rs.trivial
        self.single = len(self.strata) == 1
        self.sizes = np.diff(np.r_[self.starts, n])
        # deaths in blocks with tied deaths (contiguous at the end of their block in this order): only there does
        # Efron's approximation need the deaths' weight D0, and do deaths get a charge other than censored rows'
        tied = self.d >= 2
        self.tied_rows = np.flatnonzero((self.status > 0) & tied[self.blk])
        tb = self.blk[self.tied_rows]
        first = np.r_[True, tb[1:] != tb[:-1]] if tb.size else np.zeros(0, dtype=bool)
        self.tied_offsets = np.flatnonzero(first)
        self.tied_cols = np.searchsorted(self.death_blk, tb[first])  # their blocks among the death blocks
        self.tied_rows_col = np.searchsorted(self.death_blk, tb)

    def _forward(self, P: np.ndarray) -> np.ndarray:
        if self.single:
            return np.cumsum(P, axis=1)
        out = np.empty_like(P)
        for sl in self.strata:
            np.cumsum(P[:, sl], axis=1, out=out[:, sl])
        return out

    def _backward(self, P: np.ndarray) -> np.ndarray:
        if self.single:
            return np.cumsum(P[:, ::-1], axis=1)[:, ::-1]
        out = np.empty_like(P)
        for sl in self.strata:
            out[:, sl] = np.cumsum(P[:, sl][:, ::-1], axis=1)[:, ::-1]
        return out

    def scores(self, cols: np.ndarray, D: np.ndarray) -> np.ndarray:
        """``U_(-i)(b + D_i)`` for deleted sorted rows ``cols`` (B,), ``D`` (B, p); returns (B, p)."""
        cols = np.asarray(cols, dtype=np.intp)
        return self._scores_without(np.arange(len(cols)), cols, D)

    def group_scores(self, groups: list[np.ndarray], D: np.ndarray) -> np.ndarray:
        """``U_(-G)(b + D_g)`` for groups of sorted rows ``groups`` (B of them), ``D`` (B, p); returns (B, p)."""
        sizes = np.array([len(g) for g in groups], dtype=np.intp)
        rows = np.concatenate(groups).astype(np.intp) if len(groups) else np.zeros(0, dtype=np.intp)
        return self._scores_without(np.repeat(np.arange(len(groups)), sizes), rows, D)

    def _scores_without(self, bi: np.ndarray, rows: np.ndarray, D: np.ndarray) -> np.ndarray:
        """The scores of column ``b`` at ``b + D_b`` without the sorted rows ``rows[bi == b]``: those rows' weights
        zeroed in every risk set, their deaths out of their blocks' tied-death counts (and mean death weights),
        their event terms out of the score."""
        rs = self.rs
        B = D.shape[0]
        rr = self.n - 1 - rows
        W = blocked_matmul(D, self.XrT)  # products small enough to run on the calling thread (see linear.glm_exact)
        W += self.logw
        with np.errstate(over="ignore", invalid="ignore"):
            np.exp(W, out=W)
        W[bi, rr] = 0.0
        P = W if self.trivial else np.add.reduceat(W, self.starts, axis=1)
        S0 = self._forward(P)[:, self.death_blk]
        d0 = self.d[self.death_blk]
        d = np.repeat(d0[None, :], B, axis=0)
        dead = self.status[rr] > 0
        where = (bi[dead], np.searchsorted(self.death_blk, self.blk[rr[dead]]))
        np.subtract.at(d, where, 1)
        mw = None
        if self.meanwt is not None:  # the mean weight of the remaining deaths of each block
            mw0 = self.meanwt[self.death_blk]
            mw = np.repeat(mw0[None, :], B, axis=0)
            removed = np.zeros((B, d0.size))
            np.add.at(removed, where, self.wt[rows[dead]])
            hit = removed > 0
            left = d[hit]
            with np.errstate(invalid="ignore", divide="ignore"):
                mw[hit] = np.where(left > 0, (mw[hit] * (d0[None, :].repeat(B, axis=0)[hit]) - removed[hit])
                                   / np.where(left > 0, left, 1), 0.0)
        D0 = S0
        efron = rs.efron and self.tied_rows.size > 0
        if efron:
            D0 = np.zeros_like(S0)
            D0[:, self.tied_cols] = np.add.reduceat(W[:, self.tied_rows], self.tied_offsets, axis=1)
        ht = rs.hazard_terms(S0, D0, d, log=False, meanwt=mw)
        Hb = np.zeros((B, rs.n_blocks))
        Hb[:, self.death_blk] = ht["a"]
        Hc = self._backward(Hb)
        A = Hc if self.trivial else np.repeat(Hc, self.sizes, axis=1)
        if efron:
            A[:, self.tied_rows] += (ht["ad"] - ht["a"])[:, self.tied_rows_col]
        W *= A
        G = self.sum_deaths[None, :] - blocked_matmul(W, self.Xr)
        np.subtract.at(G, bi, (rs.status[rows] * self.wt[rows])[:, None] * self.Xr[rr])
        return G


class _Chord:
    """The chord matrices ``M_i`` of the module docstring, inverted for a batch of deletions at a time.

    Held per block (``n_blocks x p x p``, twice): ``V_b`` and the cumulative ``K_b = sum_{b' <= b} q_b' (S2/S0 -
    2 m m')_b'`` (with ``q = d * meanwt / S0``, Breslow's hazard increment), so that for observation ``i`` at block
    ``b``: ``M_i = I - delta_i w_i V_b + r_i [K_b - A1_b x x' + x M1_b' + M1_b x']`` (``r_i`` its risk weight).
    """

    def __init__(self, fit: CoxFit) -> None:
        X, rs, st = fit._X, fit._risk, fit._state
        self.fit, self.X, self.rs, self.r = fit, X, rs, st.w
        S0 = st.S0
        m = st.S1 / S0[:, None]
        S2 = rs.at_risk(rs.block_sum(st.w[:, None, None] * X[:, :, None] * X[:, None, :]))
        S2 /= S0[:, None, None]
        mm = m[:, :, None] * m[:, None, :]
        q = np.where(rs.d > 0, rs.d * (rs.meanwt if rs.weighted else 1.0) / S0, 0.0)
        self.A1 = rs.cumulative(q)
        self.M1 = rs.cumulative(q[:, None] * m)
        self.K = rs.cumulative(q[:, None, None] * (S2 - 2.0 * mm))
        S2 -= mm
        self.V = S2  # the risk-set covariance of each block

    def matrices(self, rows: np.ndarray) -> np.ndarray:
        """``M_i`` for sorted rows ``rows``, shape (len(rows), p, p)."""
        rs, fit = self.rs, self.fit
        b = rs.blk[rows]
        x = self.X[rows]
        xm = x[:, :, None] * self.M1[b][:, None, :]
        corr = self.K[b] - self.A1[b][:, None, None] * (x[:, :, None] * x[:, None, :]) + xm + np.swapaxes(xm, 1, 2)
        M = fit.information[None, :, :] + self.r[rows][:, None, None] * corr
        M -= (rs.status[rows] * rs.wt[rows])[:, None, None] * self.V[b]
        return (M + np.swapaxes(M, 1, 2)) / 2.0

    def inverses(self, rows: np.ndarray) -> np.ndarray:
        """``M_i^{-1}`` for sorted rows ``rows``, shape (len(rows), p, p); the full information's inverse where
        ``M_i`` is not positive definite."""
        return _safe_inverses(self.matrices(rows), self.fit.cov)


def _safe_inverses(M: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Inverses of the symmetric ``M`` (k, p, p); ``fallback`` where one is not positive definite."""
    ev = np.linalg.eigvalsh(M)
    ok = ev[:, 0] > 1e-8 * ev[:, -1]
    out = np.empty_like(M)
    out[ok] = np.linalg.inv(M[ok])
    out[~ok] = fallback
    return out


def _chord_sweep(scores: Callable[[np.ndarray, np.ndarray], np.ndarray], active: np.ndarray, Minv: np.ndarray,
                 delta: np.ndarray, iters: np.ndarray, converged: np.ndarray, err: np.ndarray, se: np.ndarray,
                 tol: float) -> list[int]:
    """Chord steps ``delta_a += Minv_a scores(a, delta_a)`` for the deletions ``active`` until each converges
    (``delta``, ``iters``, ``converged``, ``err`` updated in place); returns the deletions given up on."""
    prev = np.full(len(active), np.inf)
    give_up_all: list[int] = []
    k = 0
    while active.size:
        k += 1
        step = np.einsum("bij,bj->bi", Minv, scores(active, delta[active]))
        delta[active] += step
        iters[active] = k
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.max(np.abs(step) / se, axis=1)
            rho = c / prev
            bound = c * rho / (1.0 - rho)
        finite = np.isfinite(c)
        # converged: the last correction is below tol, or the error left is below tol even if the contraction
        # were SAFETY times faster-shrinking than observed (early ratios can understate the rate)
        done = finite & (k >= 2) & ((c == 0) | ((rho <= 0.5) & ((c <= tol) | (SAFETY * bound <= tol))))
        converged[active[done]] = True
        err[active[done]] = np.where(c[done] == 0, 0.0, bound[done])
        give_up = ~done & (~finite | (k >= MAXIT) | ((k >= 3) & (rho > 0.5)))
        give_up_all.extend(active[give_up].tolist())
        keep = ~done & ~give_up
        active, prev, Minv = active[keep], c[keep], Minv[keep]
    return give_up_all


def exact_loo(fit: CoxFit, tol: float = DEFAULT_TOL) -> ExactLOO:
    """Exact ``beta - beta_(-i)`` for every observation of a Cox fit (see the module docstring).

    Parameters
    ----------
    fit : CoxFit
    tol : float
        Error allowed, in standard errors of the full fit.

    Returns
    -------
    ExactLOO
    """
    X, rs = fit._X, fit._risk
    n, p = X.shape
    beta = np.asarray(fit.coef, dtype=float)
    se = np.asarray(fit.bse, dtype=float)
    kern = _LooKernel(X, rs, beta)
    chord = _Chord(fit)
    # every M_i^{-1}, in one call (building them in chunks of rows, or per batch, left the sweeps that follow
    # nearly twice as slow, measured with glibc's malloc: their large temporaries were then served as fresh pages)
    Minv_all = chord.inverses(np.arange(n))
    batch = int(max(1, min(n, BATCH_NUMBERS // max(n, 1))))
    delta = np.zeros((n, p))
    converged = np.zeros(n, dtype=bool)
    err = np.full(n, np.nan)
    iters = np.zeros(n, dtype=np.intp)
    refit_rows: list[int] = []
    for start in range(0, n, batch):
        active = np.arange(start, min(start + batch, n))
        refit_rows.extend(_chord_sweep(kern.scores, active, Minv_all[active], delta, iters, converged, err, se, tol))
    refitted = np.zeros(n, dtype=bool)
    failed = []
    for j in refit_rows:
        refitted[j] = True
        ok = _refit(fit, kern, Minv_all[j], j, delta, se)
        if ok is None:
            delta[j] = np.nan
            failed.append(j)
        else:
            converged[j], err[j], extra = True, ok[0], ok[1]
            iters[j] += extra
    if failed:
        labels = fit.index[rs.order[np.array(failed)]]
        warn_rows("without these observations the Cox model has no finite maximum (a coefficient diverges); "
                  "their exact deletion is NaN", labels)
    back = rs.rank
    return ExactLOO(dfbeta=-delta[back], converged=converged[back], error_bound=err[back], iterations=iters[back],
                    refitted=refitted[back])


def _refit(fit: CoxFit, kern: _LooKernel, Minv: np.ndarray, j: int, delta: np.ndarray,
           se: np.ndarray) -> tuple[float, int] | None:
    """(``Minv``: ``M_j^{-1}``, shape (p, p).)"""
    """Refit without sorted row ``j`` by Newton's method; ``(error bound, iterations)`` or None without a
    finite maximum."""
    sub = _refit_without(fit, np.array([fit._risk.order[j]]))
    if sub is None:
        return None
    d = sub.coef - fit.coef
    delta[j] = d
    G = kern.scores(np.array([j]), d[None, :])
    c = float(np.max(np.abs(Minv @ G[0]) / se))
    return c, sub.iterations


# ---------------------------------------------------------------------------------------------------------------
# deletion of any set of rows by refits (counting-process data, offsets, groups)


def _refit_without(fit: CoxFit, rows: np.ndarray) -> CoxFit | None:
    """The model refitted by Newton's method from the full fit without the data rows ``rows``; None when it has no
    finite maximum."""
    keep = np.ones(fit.n_obs, dtype=bool)
    keep[rows] = False
    if not keep.any():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConditioningWarning)
            sub = fit.refit(keep, start=fit.coef)
    except (RegdiagError, ConditioningWarning, DesignError, np.linalg.LinAlgError):
        return None
    return sub if np.all(np.isfinite(sub.coef)) else None


def _delete_rows(fit: CoxFit, rows: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, float, int] | None:
    """``(beta_(-G) - b, error bound in standard errors, Newton iterations)`` for the data rows ``rows`` deleted,
    by Newton's method from the full fit ``b``; None when the reduced model has no finite maximum."""
    sub = _refit_without(fit, rows)
    if sub is None:
        return None
    d = sub.coef - fit.coef
    step = np.linalg.solve(sub.information, sub._state.score)  # one more Newton step: the error left
    return d, float(np.max(np.abs(step) / se)), sub.iterations


def _deletions(fit: CoxFit, members: list[np.ndarray], tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                             np.ndarray, list[int]]:
    p = len(fit.coef)
    se = np.asarray(fit.bse, dtype=float)
    delta = np.full((len(members), p), np.nan)
    err = np.full(len(members), np.nan)
    iters = np.zeros(len(members), dtype=np.intp)
    failed = []
    for g, rows in enumerate(members):
        out = _delete_rows(fit, np.asarray(rows), se)
        if out is None:
            failed.append(g)
            continue
        delta[g], err[g], iters[g] = out
    converged = np.isfinite(err) & (err <= max(tol, 1e3 * np.finfo(float).eps))
    return delta, err, iters, converged, failed


def exact_loo_by_refits(fit: CoxFit, *, tol: float = DEFAULT_TOL) -> ExactLOO:
    """Exact leave-one-out by Newton's method on the data without each row, started at the full fit.

    The route for designs the batched kernel does not cover: counting-process data (``Surv(start, stop,
    event)``, where a row leaves only the risk sets of ``(start, stop]``) and offsets. Each deletion refits the
    partial likelihood to convergence (``O(n p^2)`` per Newton step; two or three steps from the full fit), and
    its error bound is the size of one more Newton step, in standard errors.

    Parameters
    ----------
    fit : CoxFit
        The full fit.
    tol : float
        Error allowed, in standard errors of each coefficient.

    Returns
    -------
    ExactLOO
        ``dfbeta`` (n_obs, n_params), convergence, error bounds and iterations, rows in data order; a deletion
        that leaves no finite maximum is NaN, with a warning naming the rows.
    """
    n = fit.n_obs
    delta, err, iters, converged, failed = _deletions(fit, [np.array([i]) for i in range(n)], tol)
    if failed:
        warn_rows("without these observations the Cox model has no finite maximum (a coefficient diverges); "
                  "their exact deletion is NaN", fit.index[np.array(failed)], InfluenceWarning)
    return ExactLOO(dfbeta=-delta, converged=converged, error_bound=err, iterations=iters,
                    refitted=np.ones(n, dtype=bool))


def _batched_group_deletions(fit: CoxFit, members: list[np.ndarray], tol: float
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Chord iterations for the deletion of each group (right-censored data without offset), batched:
    ``beta_(k+1) = beta_k + M_G^{-1} U_(-G)(beta_k)`` with ``U_(-G)`` exact (:meth:`_LooKernel.group_scores`) and
    ``M_G = I + sum_{i in G} (M_i - I)`` (the per-row chord matrices' first-order corrections added); groups that
    do not contract by half, or not within ``MAXIT`` steps, are refitted by Newton's method."""
    X, rs = fit._X, fit._risk
    p = X.shape[1]
    se = np.asarray(fit.bse, dtype=float)
    kern = _LooKernel(X, rs, np.asarray(fit.coef, dtype=float))
    chord = _Chord(fit)
    I = fit.information
    sorted_groups = [np.sort(rs.rank[np.asarray(m)]) for m in members]
    m = len(members)
    delta = np.zeros((m, p))
    err = np.full(m, np.nan)
    iters = np.zeros(m, dtype=np.intp)
    converged = np.zeros(m, dtype=bool)
    slow: list[int] = []
    total = max(1, sum(len(g) for g in sorted_groups))
    batch = int(max(1, min(m, BATCH_NUMBERS // max(rs.n, 1), BATCH_NUMBERS // total * m)))
    for start in range(0, m, batch):
        active = np.arange(start, min(start + batch, m))
        Mg = np.stack([I + (chord.matrices(sorted_groups[g]) - I[None]).sum(axis=0) for g in active])
        Minv = _safe_inverses((Mg + np.swapaxes(Mg, 1, 2)) / 2.0, fit.cov)
        slow.extend(_chord_sweep(lambda a, D: kern.group_scores([sorted_groups[g] for g in a], D), active, Minv,
                                 delta, iters, converged, err, se, tol))
    failed = []
    for g in slow:
        out = _delete_rows(fit, np.asarray(members[g]), se)
        if out is None:
            delta[g] = np.nan
            failed.append(g)
            continue
        delta[g], err[g], extra = out
        iters[g] += extra
        converged[g] = bool(err[g] <= max(tol, 1e3 * np.finfo(float).eps))
    return delta, err, iters, converged, failed


def unidentifiable_deletions(design: SurvDesign, members: list[np.ndarray] | None = None) -> np.ndarray:
    """Which deletions leave a coefficient not estimable (R's coxph without them drops it): each row
    (``members=None``) or each group of rows. The partial likelihood sees the design centred within strata, so a
    deletion takes a direction away when it lowers the rank of ``[X, stratum indicators]`` by more than the strata it
    empties (a stratum left without rows contributes nothing): for one row, leverage 1 in that matrix and a stratum
    of more than one row; for a group, more eigenvalues 1 in the group's block of its hat matrix than strata
    emptied. The Cox analogue of leverage 1."""
    n = design.X.shape[0]
    codes = np.asarray(design.strata, dtype=np.intp)
    k = int(codes.max()) + 1 if n else 0
    S = np.zeros((n, k))
    S[np.arange(n), codes] = 1.0
    Z = np.column_stack([design.X, S])
    sizes = np.bincount(codes, minlength=k)
    if members is None:
        return (qr_factor(Z).hat_diag() >= 1.0) & (sizes[codes] > 1)
    Q = np.linalg.qr(Z)[0]
    out = np.zeros(len(members), dtype=bool)
    for g, rows in enumerate(members):
        ones = int(np.sum(np.linalg.eigvalsh(Q[rows] @ Q[rows].T) > 1.0 - 1e-9))
        out[g] = ones > int(np.sum(np.bincount(codes[rows], minlength=k) == sizes))
    return out


def cox_group_deletion(fit: CoxFit, groups: object, *, tol: float = DEFAULT_TOL) -> GroupInfluence:
    """Exact deletion of groups of rows from a Cox model (see :meth:`regdiag.survival.cox.CoxFit.group_deletion`).

    Parameters
    ----------
    fit : CoxFit
        The full fit.
    groups : array_like, mapping or sequence of sequences
        One group label per row (a Series is aligned on the row labels), ``{group: [row labels]}``, or a list of
        lists of row labels.
    tol : float
        Error allowed, in standard errors of each coefficient.

    Returns
    -------
    GroupInfluence
        One row per group; NaN for a group without which the model has no finite maximum (with a warning).
    """
    from ..linear.deletion import resolve_groups
    from ..results import GroupInfluence

    labels, members = resolve_groups(fit.index, groups)
    if fit.design.entry is None and fit.design.offset is None:
        delta, err, _, converged, failed = _batched_group_deletions(fit, members, tol)
    else:
        delta, err, _, converged, failed = _deletions(fit, members, tol)
    if failed:
        warn_rows("without these groups the Cox model has no finite maximum (a coefficient diverges); their "
                  "deletion is NaN", labels[np.array(failed)], InfluenceWarning, noun="groups")
    lost = unidentifiable_deletions(fit.design, members) & np.isfinite(delta).all(axis=1)  # not said above
    if lost.any():
        delta[lost] = np.nan
        warn_deletion_unidentifiable(labels[lost], noun="groups")
    if not converged[np.isfinite(err)].all():
        warnings.warn(f"Cox group deletion: {int(np.sum(~converged & np.isfinite(err)))} deletions stopped above "
                      f"the error bound {tol:g} standard errors", ConditioningWarning, stacklevel=3)
    dfbeta = -delta
    p = dfbeta.shape[1]
    cooks = np.einsum("gi,ij,gj->g", dfbeta, fit.information, dfbeta) / p
    nan = np.full(len(labels), np.nan)
    return GroupInfluence(groups=labels, size=np.array([len(m) for m in members], dtype=float),
                          loo_params=fit.coef + delta, dfbeta=dfbeta, dfbetas=dfbeta / fit.bse,
                          cooks_distance=cooks, sigma_loo=nan, leverage=nan.copy(), param_names=fit.param_names,
                          method="coxph-exact")
