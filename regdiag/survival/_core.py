"""The Cox partial likelihood, its score and information, Newton's method, and the residuals, on sorted data.

With risk weights ``w_j = exp(x_j' beta)`` and the notation of :mod:`regdiag.survival._risk`, the log partial
likelihood (Efron; Breslow with ``c_k = 0``) is

    l(beta) = sum_{deaths i} x_i' beta - sum_b sum_{k < d_b} log den_bk,
    den_bk = S0_b - c_k D0_b,   c_k = k / d_b,

its score ``U = sum_deaths x_i - X' (w * A)`` and its (observed) information

    I = X' diag(w * A) X - sum_b [ S1_b S1_b' e0_b - (S1_b D1_b' + D1_b S1_b') e1_b + D1_b D1_b' e2_b ],

``S1_b, D1_b`` the ``x``-weighted analogues of ``S0_b, D0_b``. The design is centred on its column means first
(as R's ``coxph`` does), which leaves ``beta`` unchanged and keeps these differences of sums accurate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

import numpy as np

from ._risk import RiskSets

__all__ = ["CoxState", "evaluate", "newton", "residuals"]


@dataclass(frozen=True, eq=False)
class CoxState:
    """The partial likelihood and its derivatives at one ``beta`` (sorted rows).

    Attributes
    ----------
    loglik : float
    score : ndarray of shape (p,)
    information : ndarray of shape (p, p) or None
    w : ndarray of shape (n,)
        ``weight * exp(eta - shift)`` in sorted order (the risk weights).
    A : ndarray of shape (n,)
        Cumulative hazard charges, scaled by ``exp(shift)`` (so ``w * A`` is exact).
    """

    loglik: float
    score: np.ndarray
    information: np.ndarray | None
    w: np.ndarray
    A: np.ndarray
    S0: np.ndarray
    D0: np.ndarray
    S1: np.ndarray
    D1: np.ndarray


def evaluate(X: np.ndarray, rs: RiskSets, beta: np.ndarray, information: bool = True) -> CoxState:
    """Log partial likelihood, score and information at ``beta``. ``X``: centred design, sorted rows."""
    eta = X @ beta
    if rs.offset is not None:
        eta = eta + rs.offset
    shift = float(np.max(eta)) if len(eta) else 0.0
    with np.errstate(over="ignore", under="ignore"):
        w = np.exp(eta - shift)
    if rs.weighted:
        w *= rs.wt
    wd = w * rs.status
    S0 = rs.risk_sum(w)
    D0 = rs.block_sum(wd)
    S1 = rs.risk_sum(w[:, None] * X)
    D1 = rs.block_sum(wd[:, None] * X)
    ht = rs.hazard_terms(S0, D0, rs.d, second=information, meanwt=rs.meanwt)
    A = rs.charges(ht["a"], ht["ad"])
    wa = w * A
    dwt = rs.wt[rs.death_rows]
    score = dwt @ X[rs.death_rows] - X.T @ wa
    loglik = float(dwt @ eta[rs.death_rows] - shift * dwt.sum() - ht["log"].sum())
    info = None
    if information:
        info = (X.T * wa) @ X
        info -= (S1.T * ht["e0"]) @ S1
        if rs.efron:
            cross = (S1.T * ht["e1"]) @ D1
            info += cross + cross.T
            info -= (D1.T * ht["e2"]) @ D1
        info = (info + info.T) / 2.0
    return CoxState(loglik=loglik, score=score, information=info, w=w, A=A, S0=S0, D0=D0, S1=S1, D1=D1)


@dataclass(frozen=True, eq=False)
class NewtonResult:
    beta: np.ndarray
    state: CoxState
    iterations: int
    converged: bool
    halvings: int


def newton(
    X: np.ndarray, rs: RiskSets, beta0: np.ndarray, *, tol: float = 1e-11, maxit: int = 50
) -> NewtonResult:
    """Maximise the partial likelihood by Newton's method with step halving (as R's ``coxph``).

    Stops when the Newton step is at most ``tol`` times ``max(1, |beta_j|)`` in every coordinate, measured after
    the step has been taken (so the returned ``beta`` is one step past that point: about ``tol^2`` from the
    maximum for a quadratically converging iteration).
    """
    beta = np.array(beta0, dtype=float)
    st = evaluate(X, rs, beta)
    halvings = 0
    for it in range(1, maxit + 1):
        if not _well_posed(st.information):
            # the information vanishes in some direction: the likelihood is flat there (a coefficient diverging)
            return NewtonResult(beta, st, it, False, halvings)
        L = np.linalg.cholesky(st.information)
        step = np.linalg.solve(L.T, np.linalg.solve(L, st.score))
        if not np.all(np.isfinite(step)):
            return NewtonResult(beta, st, it, False, halvings)
        t = 1.0
        while True:
            cand = beta + t * step
            new = evaluate(X, rs, cand)
            # accept any non-decrease, and tiny rounding-level decreases near the optimum
            if np.isfinite(new.loglik) and new.loglik >= st.loglik - 1e-12 * max(1.0, abs(st.loglik)):
                break
            t /= 2.0
            halvings += 1
            if t < 1e-8:
                return NewtonResult(beta, st, it, False, halvings)
        beta, st = cand, new
        if np.all(np.abs(t * step) <= tol * np.maximum(1.0, np.abs(beta))):
            return NewtonResult(beta, st, it, _well_posed(st.information), halvings)
    return NewtonResult(beta, st, maxit, False, halvings)


def _well_posed(info: np.ndarray | None) -> TypeGuard[np.ndarray]:
    """The information is finite and positive definite beyond rounding (smallest eigenvalue above 1e-10 of the
    largest)."""
    if info is None or not np.all(np.isfinite(info)):
        return False
    ev = np.linalg.eigvalsh(info)
    return bool(ev[-1] > 0 and ev[0] > 1e-10 * ev[-1])


@dataclass(frozen=True, eq=False)
class Residuals:
    """Per-observation residuals in sorted order.

    Attributes
    ----------
    martingale : ndarray of shape (n,)
    score : ndarray of shape (n, p)
    schoenfeld : ndarray of shape (n, p)
        ``x_i - xbar(t_i)`` for deaths, NaN for censored rows.
    schoenfeld_mean : ndarray of shape (n_blocks, p)
        ``xbar`` per block (Efron: the mean over the ``d_b`` reduced risk sets).
    """

    martingale: np.ndarray
    score: np.ndarray
    schoenfeld: np.ndarray


def residuals(X: np.ndarray, rs: RiskSets, st: CoxState) -> Residuals:
    """Martingale, score and Schoenfeld residuals at a fit (R's ``coxmart``, ``coxscore2``, ``coxscho``).

    With ``xbar_bk = (S1_b - c_k D1_b) / den_bk``, the score residual of observation ``j`` is

        delta_j (x_j - mean_k xbar_bk at j's block) - w_j sum_{b <= b_j} sum_k g_bk (x_j - xbar_bk) / den_bk,

    ``g_bk = 1`` except ``1 - c_k`` at the block where ``j`` dies; its Schoenfeld residual is the first term.
    """
    w = st.w / rs.wt if rs.weighted else st.w  # residuals are per unit of case weight (R's default)
    p = X.shape[1]
    d = rs.d
    has = d > 0
    S0, D0, S1, D1 = st.S0, st.D0, st.S1, st.D1
    xa = np.zeros((rs.n_blocks, p))  # sum_k xbar_k / den_k
    xad = np.zeros((rs.n_blocks, p))  # sum_k (1 - c_k) xbar_k / den_k
    xm = np.zeros((rs.n_blocks, p))  # mean_k xbar_k
    a = np.zeros(rs.n_blocks)
    ad = np.zeros(rs.n_blocks)
    dd = np.where(has, d, 1.0)
    kmax = rs.max_d if rs.efron else min(rs.max_d, 1)
    for k in range(kmax):
        m = (d > k) if rs.efron else has
        c = np.where(m, k / dd, 0.0) if rs.efron else np.zeros(rs.n_blocks)
        base = np.ones(rs.n_blocks) if rs.efron else np.where(has, d, 0.0)  # Breslow: d identical terms
        # hazard increments: mean death weight / den (meanwt is set exactly when there are case weights)
        mult = base * rs.meanwt if rs.meanwt is not None else base
        den = np.where(m, S0 - c * D0, 1.0)
        inv = np.where(m, mult / den, 0.0)
        xbar = (S1 - c[:, None] * D1) / den[:, None]
        a += inv
        ad += (1.0 - c) * inv
        xa += inv[:, None] * xbar
        xad += ((1.0 - c) * inv)[:, None] * xbar
        xm += np.where(m, base / dd, 0.0)[:, None] * xbar
    A = rs.charges(a, ad)
    XH = rs.cumulative_rows(xa)
    dr = rs.death_rows
    XH[dr] += (xad - xa)[rs.blk[dr]]
    martingale = rs.status - w * A
    schoen = np.full(X.shape, np.nan)
    schoen[dr] = X[dr] - xm[rs.blk[dr]]
    score = -w[:, None] * (X * A[:, None] - XH)
    score[dr] += schoen[dr]
    return Residuals(martingale=martingale, score=score, schoenfeld=schoen)
