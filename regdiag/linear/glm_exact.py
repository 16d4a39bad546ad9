"""Exact deletion for GLMs: warm-started, batched Newton iterations, without n refits from scratch.

Deleting a group ``G`` of observations (a single observation for leave-one-out) moves the maximum-likelihood
estimate from ``b`` to the root ``b_(G)`` of the score without ``G``,

    S_(G)(beta) = sum_{j not in G} x_j u_j(beta),     u_j = w_j (y_j - mu_j) mu'(eta_j) / V(mu_j).

The root is found by Newton-type steps started from ``b``:

1. the first step is Fisher scoring with the information of the full fit minus the group's,
   ``H_(G) = X'WX - X_G' W_G X_G``: this is the one-step estimate (given to :func:`exact_deletion` by the caller,
   who has computed it in closed form from the QR); for the Gaussian family with identity link it is exact, and
   nothing else is done (one step);
2. for canonical links (where the observed information is ``X'WX`` and ``dW/deta = w c mu''(eta)`` is explicit) a
   second-order correction follows without any new score evaluation:
   ``d2 = d1 - 1/2 H_(G)^{-1} T_(G)[d1, d1]`` with ``T_(G)[d, d] = sum_{j not in G} x_j W'_j (x_j'd)^2`` from the
   third-derivative tensor ``T`` (``p x p^2``, one ``O(n p^3)`` pass for all deletions);
3. every later step is ``d = H_o,(G)^{-1} S_(G)(beta)`` with the *observed* information of the full fit minus the
   group's, held fixed at ``b`` (a chord method; for canonical links observed and expected information coincide).
   The score is evaluated exactly at the current iterate, so the fixed point is the exact ``b_(G)``; holding the
   Hessian at ``b`` only slows convergence to a contraction factor of order ``|b - b_(G)|``. A group whose reduced
   observed information is not positive definite falls back to the expected information.

Work and BLAS threads
    The scores of a batch of ``B`` (at most ``BATCH`` = 256) deletions are two matrix products with the design and
    one elementwise pass over the ``n x B`` linear predictors (``eta + X D'``, then the score), taken a block of rows
    at a time. A sweep over all ``n`` deletions costs ``O(n^2 p)`` time; the memory beyond the fit is ``O(n p)`` for
    the scaled design plus one block. Every matrix product of the sweeps (the score blocks, the solves in the
    coordinates of ``R``, the second-order tensor) is cut into pieces of at most ``BLAS_MAC`` = 2^18 multiply-adds,
    about 50 microseconds of work: OpenBLAS (the BLAS of numpy's and scipy's wheels) runs products that small on
    the calling thread, so the sweeps never wait for BLAS worker threads. Products of a few microseconds each
    handed to two or more threads cost a thread hand-off apiece, which on a busy machine (threads descheduled,
    workers spinning between calls) made the sweeps several times slower with the default thread count than with
    one thread; with the small blocks the speed is the same for any BLAS thread setting, and the blocks (at most
    ``2^18 / p`` numbers) stay in cache. Deletions that have converged leave the batch. The Hessian solves are done
    in the coordinates where the full expected information is the identity (``R`` of the QR), where each reduced
    Hessian is well conditioned unless the group carries a leverage near 1.

Convergence
    Corrections are measured in the metric of the full fit's information: ``c_k = ||R d_k|| / sqrt(phi)``, which
    bounds every coefficient's change in its own standard error (``|d_j| / se_j <= c_k`` by Cauchy-Schwarz, with
    ``se_j = sqrt(phi [(X'WX)^{-1}]_jj)``). For a contraction with factor ``L``, the error left after a correction
    ``c_k`` is at most ``c_k L / (1 - L)``. The chord steps contract by at most ::

        L <= ||H_(G)^{-1}|| max_j |w_o'(eta_j)| |x_j'(xi - b)| / W_j <= K ||v|| / lambda_min,
        K = max_j |w_o'_j| sqrt(h_j) / W_j^(3/2),

    to first order, with ``w_o`` the observed-information weights, ``h`` the leverages, ``v`` the change ``b_(G) - b``
    in the whitened coordinates (the iterates' distance from ``b``) and ``lambda_min`` the smallest eigenvalue of the
    reduced information ``H_(G)`` there (``1 - h_i`` for canonical links). ``K`` is one pass over the data (the
    derivative ``w_o'`` explicit for canonical links, a central difference otherwise). The estimate used is
    ``L^ = max(rho_k, min(2 K ||v|| / lambda_min, 1/2))`` with ``rho_k = c_k / c_(k-1)`` the observed contraction
    (the second-order correction counts as the correction before the first chord step) and a factor 2 for the
    higher-order terms; a deletion has converged when ``L^ <= 1/2`` and ``c_k L^ / (1 - L^) <= tol`` (default
    ``1e-10`` standard errors). Where the first-order bound is not informative (``2 K ||v|| / lambda_min >= 1/2``,
    or the expected information replaced a non-positive-definite observed one) the rule is that the last correction
    itself is at most ``tol`` while contracting by at least half: one more step than an extrapolation would take.
    Both the second-order term and the chord steps gain a factor of order ``|b - b_(G)|`` (about 1e-3 for n in the
    thousands), so for canonical links one sweep of score evaluations after the one-step estimate usually suffices,
    two or three for the others.
    A deletion whose corrections contract more slowly than ``SLOW_RATE`` is refitted by warm-started IRLS on the data
    without it, with IRLS's tolerance (relative to ``|b_j| + se_j``) set so that the refit is within half of ``tol``
    standard errors; one whose refit fails (for binomial models typically a deletion that leaves the data separated)
    gets NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

from ..linalg import QRFactor
from .families import Family

__all__ = ["ExactDeletion", "exact_deletion", "DEFAULT_LOO_TOL", "DEFAULT_LOO_MAXIT", "DEFAULT_MEMORY_MB"]

DEFAULT_LOO_TOL = 1e-10
DEFAULT_LOO_MAXIT = 50
DEFAULT_MEMORY_MB = 4.0
#: deletions per batch (columns of one score block)
BATCH = 256
#: chord steps before a deletion that has not converged is handed to a warm-started IRLS refit
CHORD_STEPS = 8
#: contraction factor (correction over previous correction) above which a deletion is refitted
SLOW_RATE = 0.25
#: largest number of multiply-adds in one matrix product of the sweeps: OpenBLAS computes products of at most
#: 65536 * 4 multiply-adds (its SMP threshold) on the calling thread
BLAS_MAC = 1 << 18
#: factor on the first-order bound of the chord steps' contraction (for the higher-order terms)
BOUND_SAFETY = 2.0


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
        Bound on the error left, in standard errors (for chord steps; IRLS's criterion for refitted deletions).
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
    tol : float
        Convergence tolerance, in standard errors of each coefficient.
    maxit : int
        Largest number of batched steps.
    memory_mb : float
        Largest memory of one block of the score evaluation, in MiB (blocks are at most ``BLAS_MAC / n_params``
        numbers in any case).
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
    phi = float(dispersion)
    # observed information in whitened coordinates: M = Q' diag(ratio) Q
    pos = prior_weights > 0
    ratio = None
    if not family.canonical:
        ratio = np.where(pos, family.observed_ratio(y, family.link.inverse(eta)), 1.0)
    Q = f.q
    block = max(1024, int(memory_mb * 2**20 / 8))  # elements of one (rows x deletions) block
    batch = int(min(BATCH, max(1, G)))
    Xs = np.ascontiguousarray(X[:, cols] * sc)  # scaled kept columns: X'WX = R'R here
    Rinv = solve_triangular(f.r, np.eye(r), lower=False)
    ws = _Whitened(
        Xs=Xs, Rm=f.r, Rinv=Rinv, Q=Q, ratio=ratio, M=np.eye(r) if ratio is None else Q.T @ (Q * ratio[:, None]),
        sphi=math.sqrt(phi) if math.isfinite(phi) and phi > 0 else 1.0, groups=groups,
        sizes=np.array([len(g) for g in groups]), batch=batch,
        # rows of one block: each product (rows x r by r x batch, and back) within BLAS_MAC multiply-adds; at least
        # 32 columns counted so that a narrow batch stays within OpenBLAS's single-thread matrix-vector size too
        rows_chunk=max(1, min(n, block // batch, BLAS_MAC // (max(r, 1) * max(batch, 32)))),
        kernel=_ScoreKernel(Xs, eta, y, prior_weights, family),
    )
    delta = -(first_step[:, cols] / sc)  # b_(G) - b in scaled coordinates
    st = _DeletionState(
        delta=delta,
        iterations=np.ones(G, dtype=np.intp),
        converged=np.zeros(G, dtype=bool),
        last=np.full(G, np.inf),
        prev=np.full(G, np.inf),
        slow=~np.all(np.isfinite(delta), axis=1),
    )
    linear = family.name == "gaussian" and family.link.name == "identity"
    if linear:  # the one-step estimate is the exact deletion (the model is linear in the coefficients)
        st.converged[~st.slow] = True
        st.last[~st.slow] = 0.0
    else:
        if family.canonical and maxit > 1:
            _second_order_predictor(ws, st, eta, prior_weights, family)
        bound_of = _ContractionBound(Xs, Rinv, weights, eta, y, prior_weights, family)
        _chord_steps(ws, st, bound_of, tol, min(maxit, CHORD_STEPS + 1))
    # what the chord steps did not finish: warm-started Newton (IRLS) refits, one deletion at a time
    dfb_s = -st.delta
    _refit_rest(
        ws, st, dfb_s, X, y, prior_weights, eta, family, coef[cols] / sc, cols, sc,
        offset=offset, tol=tol, maxit=maxit,
    )
    converged = st.converged
    dfb_s[~converged] = np.nan
    quad = np.einsum("gi,gi->g", dfb_s @ ws.Rm.T, dfb_s @ ws.Rm.T)
    chi2 = None
    if pearson:
        chi2 = np.full(G, np.nan)
        good_idx = np.flatnonzero(converged)
        for start in range(0, good_idx.size, batch):
            idx = good_idx[start : start + batch]
            chi2[idx] = ws.kernel.pearson(st.delta[idx], [groups[g] for g in idx], ws.rows_chunk)
    return ExactDeletion(
        dfbeta=f.to_original(dfb_s),
        iterations=st.iterations,
        converged=converged,
        last_correction=st.last,
        cooks_quad=quad,
        pearson_chi2=chi2,
    )


@dataclass(frozen=True, eq=False)
class _Whitened:
    """The deletion problem in whitened, scaled coordinates (what every Newton step of :func:`exact_deletion` uses)."""

    Xs: np.ndarray  # (n, r) scaled kept columns: X'WX = R'R
    Rm: np.ndarray  # (r, r) R of the fit's QR
    Rinv: np.ndarray
    Q: np.ndarray  # (n, r)
    ratio: np.ndarray | None  # observed / expected weight (None for canonical links)
    M: np.ndarray  # (r, r) observed information, whitened
    sphi: float  # square root of the dispersion (1 where it is not finite and positive)
    groups: list[np.ndarray]
    sizes: np.ndarray
    batch: int
    rows_chunk: int
    kernel: _ScoreKernel


@dataclass(eq=False)
class _DeletionState:
    """Every deletion's iterate and bookkeeping, updated in place by the steps of :func:`exact_deletion`."""

    delta: np.ndarray  # (G, r) b_(G) - b, scaled coordinates
    iterations: np.ndarray
    converged: np.ndarray
    last: np.ndarray  # estimated remaining error of the last step
    prev: np.ndarray  # criterion of the previous step
    slow: np.ndarray  # handed to the refits


def _second_order_predictor(
    ws: _Whitened, st: _DeletionState, eta: np.ndarray, prior_weights: np.ndarray, family: Family
) -> None:
    """Canonical links: ``b_(G) - b = d1 - 1/2 H_(G)^{-1} T_(G)[d1, d1] + O(d1^3)`` from the one-step ``d1``."""
    Xs, r, G = ws.Xs, ws.Rm.shape[0], len(ws.groups)
    T = _third_derivative(Xs, eta, prior_weights, family)
    for start in range(0, G, ws.batch):
        idx = np.arange(start, min(G, start + ws.batch))
        idx = idx[~st.slow[idx]]
        if idx.size == 0:
            continue
        D = st.delta[idx]
        grp = [ws.groups[g] for g in idx]
        q = blocked_matmul((D[:, :, None] * D[:, None, :]).reshape(idx.size, r * r), T.T)  # (B, r): T[d, d]
        q -= _own_third(Xs, eta, prior_weights, family, D, grp)
        corr = -0.5 * _newton_solve(ws.Rinv, ws.M, ws.Q, ws.ratio, grp, ws.sizes[idx], q.T)[0]
        ok = np.all(np.isfinite(corr), axis=1)
        st.delta[idx] = D + np.where(ok[:, None], corr, 0.0)
        st.prev[idx] = np.where(ok, _whitened_norm(corr, ws.Rm) / ws.sphi, np.inf)


def _chord_steps(ws: _Whitened, st: _DeletionState, bound_of: _ContractionBound, tol: float, stop: int) -> None:
    """Batched chord (fixed-Hessian Newton) steps until every deletion converged or slowed (steps ``1 .. stop - 1``)."""
    for _step in range(1, stop):
        active = np.flatnonzero(~st.converged & ~st.slow)
        if active.size == 0:
            break
        for start in range(0, active.size, ws.batch):
            idx = active[start : start + ws.batch]
            D = st.delta[idx]
            grp = [ws.groups[g] for g in idx]
            S = ws.kernel.scores(D, grp, ws.rows_chunk)
            d, lam, chord = _newton_solve(ws.Rinv, ws.M, ws.Q, ws.ratio, grp, ws.sizes[idx], S)
            ok = np.all(np.isfinite(d), axis=1)
            Dn = D + np.where(ok[:, None], d, 0.0)
            st.delta[idx] = Dn
            st.iterations[idx] += 1
            step_w = _whitened_norm(d, ws.Rm)
            crit = step_w / ws.sphi  # bounds the correction of every coefficient in standard errors
            prev = st.prev[idx]
            with np.errstate(divide="ignore", invalid="ignore"):
                rho = np.where(np.isfinite(prev), crit / prev, 0.0)
                # first-order bound on the contraction along the iterates (distance from b at most |v| + |d|)
                bound = np.where(chord & (lam > 0), BOUND_SAFETY * bound_of(Dn, ws.Rm, grp, step_w) / lam, np.inf)
                rate = np.maximum(rho, np.minimum(bound, 0.5))
                remaining = crit * rate / (1.0 - rate)
            remaining[~np.isfinite(remaining)] = np.inf
            st.last[idx] = remaining
            conv = ok & (rate <= 0.5) & (remaining <= tol)
            st.converged[idx[conv]] = True
            # a contraction slower than SLOW_RATE (large deletion effects, small n) goes to the Newton refit
            stalled = ~ok | (~conv & (crit > SLOW_RATE * prev))
            st.slow[idx[stalled]] = True
            st.prev[idx] = crit


def _refit_rest(
    ws: _Whitened, st: _DeletionState, dfb_s: np.ndarray, X: np.ndarray, y: np.ndarray, prior_weights: np.ndarray,
    eta: np.ndarray, family: Family, b_s: np.ndarray, cols: np.ndarray, sc: np.ndarray, *,
    offset: np.ndarray | None, tol: float, maxit: int,
) -> None:
    """Warm-started IRLS refits of the deletions the chord steps did not finish, one at a time (``dfb_s``, the
    scaled ``b - b_(G)``, and ``st`` updated in place; a refit that fails leaves its deletion not converged)."""
    rest = np.flatnonzero(~st.converged)
    if not rest.size:
        return
    from .glm_irls import DEFAULT_MAXIT, DEFAULT_TOL, irls

    n, k = X.shape
    r = len(b_s)
    off = np.zeros(n) if offset is None else offset
    # IRLS's criterion is relative to |b_j| + se_j: within tol / 2 standard errors of every coefficient
    se_s = ws.sphi * np.sqrt(np.einsum("ij,ij->i", ws.Rinv, ws.Rinv))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.min(se_s / (np.abs(b_s) + se_s)) if r else 1.0
    irls_tol = min(DEFAULT_TOL, 0.5 * tol * share) if np.isfinite(share) and share > 0 else DEFAULT_TOL
    delta = st.delta
    for g in rest:
        keep = np.ones(n, dtype=bool)
        keep[ws.groups[g]] = False  # rows removed, not weighted 0: their eta need not stay in the link's domain
        # from where the chord steps got to, else from the full fit (always in the domain)
        starts = [delta[g]] if np.all(np.isfinite(delta[g])) else []
        res = None
        for start_s in starts + [np.zeros(r)]:
            start = np.zeros(k)
            start[cols] = (start_s + b_s) * sc
            try:
                res = irls(X[keep], y[keep], prior_weights[keep], off[keep], family,
                           family.link.inverse(eta[keep]), start=start, tol=irls_tol,
                           maxit=max(maxit, DEFAULT_MAXIT))
            except (ArithmeticError, ValueError):
                res = None
            if res is not None and res.converged:
                break
        if res is None or res.separation is not None or not res.converged or res.factor.rank < r:
            continue
        b_g = res.coef[cols] / sc
        dfb_s[g] = b_s - b_g
        delta[g] = -dfb_s[g]
        st.iterations[g] += res.iterations
        st.last[g] = res.criterion
        st.converged[g] = True


def blocked_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` as products of at most ``BLAS_MAC`` multiply-adds each (run on the calling thread by OpenBLAS)."""
    m, k = a.shape
    nb = b.shape[1]
    if m * k * nb <= BLAS_MAC or m == 0 or nb == 0:
        return a @ b
    out = np.empty((m, nb))
    if m >= nb:
        step = max(1, BLAS_MAC // max(1, k * nb))
        for s in range(0, m, step):
            np.matmul(a[s : s + step], b, out=out[s : s + step])
    else:
        step = max(1, BLAS_MAC // max(1, m * k))
        for s in range(0, nb, step):
            out[:, s : s + step] = a @ b[:, s : s + step]
    return out


def _whitened_norm(d: np.ndarray, Rm: np.ndarray) -> np.ndarray:
    """``||R d_b||`` for each row ``d_b`` of ``d`` (the change in the metric of ``X'WX``)."""
    v = np.einsum("bj,ij->bi", d, Rm)
    return np.sqrt(np.einsum("bi,bi->b", v, v))


def _observed_weight(family: Family, y: np.ndarray, w: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Observed-information weights ``w mu'(eta)^2 / V(mu) * ratio`` at ``eta``."""
    mu = family.link.inverse(eta)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return w * family.link.mu_eta(eta) ** 2 / family.variance(mu) * family.observed_ratio(y, mu)


def _observed_weight_deriv(eta: np.ndarray, y: np.ndarray, w: np.ndarray, family: Family) -> np.ndarray:
    """``w_o'(eta)``: explicit for canonical links (``W'``), a central difference otherwise."""
    if family.canonical:
        return _dweight(eta, w, family)
    step = 1e-6 * np.maximum(np.abs(eta), 1e-3)
    with np.errstate(invalid="ignore", over="ignore"):
        return (_observed_weight(family, y, w, eta + step) - _observed_weight(family, y, w, eta - step)) / (2 * step)


class _ContractionBound:
    """First-order bound ``||H_(G)[b_(G)] - H_(G)[b]||`` on the change of the information along the iterates, in the
    whitened coordinates where ``X'WX = I`` (see the module docstring); divided by ``lambda_min`` it bounds the chord
    steps' contraction.

    With ``x~_j = R^{-T} x_j`` and ``w_o'`` the derivative of the observed-information weights, the change is
    ``sum_{j not in G} w_o'_j (x~_j'u) x~_j x~_j'`` for a change ``u`` of the coefficients. When ``p^2 <= n`` the
    tensor ``T~ = sum_j w_o'_j x~_j (x) x~_j (x) x~_j`` is formed once (``O(n p^3)``, as the second-order predictor's)
    and the bound is the Frobenius norm of ``T~[u]`` without the group's rows; otherwise it is
    ``K ||u||`` with ``K = max_j |w_o'_j| ||x~_j|| / W_j`` (one pass).
    """

    def __init__(self, Xs: np.ndarray, Rinv: np.ndarray, W: np.ndarray, eta: np.ndarray, y: np.ndarray,
                 w: np.ndarray, family: Family) -> None:
        n, r = Xs.shape
        good = (W > 0) & (w > 0)
        self.r = r
        self.wp = np.zeros(n)
        self.wp[good] = _observed_weight_deriv(eta[good], y[good], w[good], family)
        self.Rinv = Rinv
        self.Xs = Xs
        finite = bool(np.all(np.isfinite(self.wp)))
        self.tensor: np.ndarray | None = None
        self.spectral: float | None = None
        self.K = 0.0
        if not finite:
            self.K = math.inf
        elif r * r <= n:
            T = np.zeros((r, r * r))
            step = max(1, min(n, BLAS_MAC // max(1, r**3)))
            for s0 in range(0, n, step):
                Xt = blocked_matmul(Xs[s0 : s0 + step], Rinv)  # rows x~_j'
                outer = (Xt[:, :, None] * Xt[:, None, :]).reshape(Xt.shape[0], r * r)
                T += blocked_matmul((Xt * self.wp[s0 : s0 + step, None]).T, outer)
            self.tensor = T
        elif good.any():
            Xt = blocked_matmul(Xs[good], Rinv)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                k = np.abs(self.wp[good]) * np.sqrt(np.einsum("ij,ij->i", Xt, Xt)) / W[good]
            self.K = float(np.max(k)) if np.all(np.isfinite(k)) else math.inf

    def __call__(self, D: np.ndarray, Rm: np.ndarray, groups: list[np.ndarray], margin: np.ndarray) -> np.ndarray:
        """The bound at the changes ``D`` (scaled coordinates, one row per deletion) plus ``margin`` in whitened norm
        (the distance of the iterates from ``D``)."""
        if self.tensor is None:
            return self.K * (_whitened_norm(D, Rm) + margin)
        r = self.r
        v = np.einsum("bj,ij->bi", D, Rm)
        C = blocked_matmul(v, self.tensor).reshape(-1, r, r)  # T~[v]
        # without the group's own rows
        if all(len(g) == 1 for g in groups):
            rows = np.array([g[0] for g in groups], dtype=np.intp)
            xt = np.einsum("bj,jk->bk", self.Xs[rows], self.Rinv)
            a = self.wp[rows] * np.einsum("bj,bj->b", self.Xs[rows], D)
            C -= a[:, None, None] * xt[:, :, None] * xt[:, None, :]
        else:
            for b, g in enumerate(groups):
                rows = np.asarray(g, dtype=np.intp)
                if rows.size:
                    xt = self.Xs[rows] @ self.Rinv
                    a = self.wp[rows] * (self.Xs[rows] @ D[b])
                    C[b] -= np.einsum("m,mi,mj->ij", a, xt, xt)
        if self.spectral is None:
            self.spectral = float(np.linalg.norm(self.tensor, 2))
        return np.sqrt(np.einsum("bij,bij->b", C, C)) + self.spectral * margin


class _ScoreKernel:
    """Scores ``S_(G)(b + d)`` of batches of deletions, a block of rows at a time.

    For a 0/1 logistic model the score of row j is ``w_j s_j / (1 + exp(s_j eta_j))`` with ``s_j = 2 y_j - 1``:
    with the signs folded into the design once, a block costs one product, three elementwise passes and one
    product (the exact logistic function; R's clamps at ``|eta| > 30`` change fitted probabilities by less than
    1e-13). Other families go through :meth:`Family.score_eta`.
    """

    def __init__(self, Xs: np.ndarray, eta: np.ndarray, y: np.ndarray, w: np.ndarray, family: Family) -> None:
        self.Xs, self.eta, self.family = Xs, eta, family
        self.y, self.w = y, w
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
        return self.family.score_eta(self.y[rows], e, self.w[rows])

    def scores(self, D: np.ndarray, groups: list[np.ndarray], rows_chunk: int) -> np.ndarray:
        Xs, eta = self.Xs, self.eta
        n, r = Xs.shape
        B = D.shape[0]
        S = np.zeros((r, B))
        part = np.empty((r, B))
        Dt = np.ascontiguousarray(D.T)
        buf = np.empty((min(n, rows_chunk), B))
        for s0 in range(0, n, rows_chunk):
            s1 = min(n, s0 + rows_chunk)
            E = buf[: s1 - s0]
            if self.logistic:
                np.matmul(self.Xsig[s0:s1], Dt, out=E)
                E += self.eta_sig[s0:s1, None]
                np.exp(E, out=E)
                E += 1.0
                np.reciprocal(E, out=E)
                np.matmul(self.Xw[s0:s1].T, E, out=part)
            else:
                Xc = Xs[s0:s1]
                np.matmul(Xc, Dt, out=E)
                E += eta[s0:s1, None]
                U = self.family.score_eta(self.yc[s0:s1], E, self.wc[s0:s1], out=E)
                np.matmul(Xc.T, U, out=part)
            S += part
        # remove each deletion's own rows
        if all(len(g) == 1 for g in groups):
            rows = np.array([g[0] for g in groups], dtype=np.intp)
            e = eta[rows] + np.einsum("bj,bj->b", Xs[rows], D)
            S -= (Xs[rows] * self._rows_scores(rows, e)[:, None]).T
            return S
        for b, g in enumerate(groups):
            rows = np.asarray(g)
            if rows.size:
                S[:, b] -= np.einsum("ij,i->j", Xs[rows], self._rows_scores(rows, eta[rows] + Xs[rows] @ D[b]))
        return S

    def pearson(self, D: np.ndarray, groups: list[np.ndarray], rows_chunk: int) -> np.ndarray:
        """Pearson's chi-square ``sum_{j not in G} w_j (y_j - mu_j)^2 / V(mu_j)`` at ``b + d`` for each row of ``D``."""
        Xs, eta, fam = self.Xs, self.eta, self.family
        n = Xs.shape[0]
        B = D.shape[0]
        Dt = np.ascontiguousarray(D.T)
        out = np.zeros(B)
        # the deleted (row, deletion) pairs, sorted by row: zeroed in their block (their eta may leave the domain)
        del_rows = np.concatenate([np.asarray(g, dtype=np.intp) for g in groups]) if B else np.zeros(0, np.intp)
        del_cols = np.repeat(np.arange(B), [len(g) for g in groups])
        order = np.argsort(del_rows, kind="stable")
        del_rows, del_cols = del_rows[order], del_cols[order]
        buf = np.empty((min(n, rows_chunk), B))
        for s0 in range(0, n, rows_chunk):
            s1 = min(n, s0 + rows_chunk)
            E = buf[: s1 - s0]
            np.matmul(Xs[s0:s1], Dt, out=E)
            E += eta[s0:s1, None]
            m = fam.link.inverse(E)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                P = self.wc[s0:s1] * (self.yc[s0:s1] - m) ** 2 / fam.variance(m)
            P[~(self.w[s0:s1] > 0)] = 0.0
            a, z = np.searchsorted(del_rows, [s0, s1])
            P[del_rows[a:z] - s0, del_cols[a:z]] = 0.0
            out += P.sum(axis=0)
        return out


def _newton_solve(
    Rinv: np.ndarray, M: np.ndarray, Q: np.ndarray, ratio: np.ndarray | None, groups: list[np.ndarray],
    sizes: np.ndarray, S: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``H_(G)^{-1} S`` for each column of ``S`` (r, B), solved where the full expected information is identity.

    Returns the steps (B, r), the smallest eigenvalue of each whitened reduced Hessian and whether it is the
    observed information (False where the expected one replaced it).
    """
    gw = blocked_matmul(Rinv.T, S)  # R^{-T} S
    hess, lam, observed = _reduced_hessians(M, Q, ratio, groups, sizes, Rinv.shape[0])
    v = np.linalg.solve(hess, gw.T[..., None])[..., 0]
    return blocked_matmul(v, Rinv.T), lam, observed  # rows (R^{-1} v_b)'


def _dweight(eta: np.ndarray, w: np.ndarray, family: Family) -> np.ndarray:
    """``dW/deta`` under a canonical link: ``w c mu''(eta)`` (``c = mu'/V``, constant)."""
    return w * family.canonical_factor * family.link.mu_eta2(eta)


def _third_derivative(Xs: np.ndarray, eta: np.ndarray, w: np.ndarray, family: Family) -> np.ndarray:
    """``T[a, (b, c)] = sum_j W'_j x_ja x_jb x_jc`` as an ``r x r^2`` matrix (``T[d, d] = T (d kron d)``)."""
    r = Xs.shape[1]
    T = np.zeros((r, r * r))
    wp = _dweight(eta, w, family)
    step = max(1, min(Xs.shape[0], BLAS_MAC // max(1, r**3)))
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
            out[b] = np.einsum("ij,i->j", Xs[rows], _dweight(eta[rows], w[rows], family) * xd**2)
    return out


def _reduced_hessians(
    M: np.ndarray, Q: np.ndarray, ratio: np.ndarray | None, groups: list[np.ndarray], sizes: np.ndarray, r: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``M - Q_G' diag(ratio_G) Q_G`` for every group (observed information without G, whitened coordinates).

    Where that is not positive definite, the expected ``I - Q_G' Q_G`` is used instead. Returns the matrices, their
    smallest eigenvalues and whether each is the observed information.
    """
    G = len(groups)
    out = np.empty((G, r, r))
    lam = np.empty(G)
    observed = np.ones(G, dtype=bool)
    for m in np.unique(sizes):
        gs = np.flatnonzero(sizes == m)
        rows = np.stack([groups[g] for g in gs]) if m else np.zeros((len(gs), 0), dtype=np.intp)
        QG = Q[rows]  # (B, m, r)
        expected = np.eye(r)[None] - np.einsum("bmi,bmj->bij", QG, QG)
        if ratio is None:
            out[gs] = expected
            if m == 1:
                lam[gs] = 1.0 - np.einsum("bmi,bmi->b", QG, QG)  # I - q q' has eigenvalues 1 and 1 - h
            else:
                lam[gs] = np.linalg.eigvalsh(expected)[:, 0] if r else 1.0
            continue
        obs = M[None] - np.einsum("bmi,bm,bmj->bij", QG, ratio[rows], QG)
        lo = np.linalg.eigvalsh(obs)[:, 0]
        use = lo > 1e-8
        out[gs] = np.where(use[:, None, None], obs, expected)
        lam[gs] = np.where(use, lo, np.nan)
        observed[gs] = use
    return out, lam, observed
