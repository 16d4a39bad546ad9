"""The one wrapper around LAPACK: pivoted thin QR, numerical rank, refined least squares, hat diagonal.

Everything regdiag computes in closed form starts from one factorization

    diag(sqrt(w)) X diag(s) [:, kept] = Q R

where ``s`` scales every column by a power of two (so the scaling is exact in binary floating point and only
equilibrates column norms), ``kept`` are the non-aliased columns, ``Q`` is n x r with orthonormal columns and ``R``
is r x r upper triangular. The factorization is Householder QR with column pivoting (LAPACK ``dgeqp3``), the thin
``Q`` is formed in place (``dorgqr``), so factoring costs one copy of the design.

Numerical rank
    Column ``j`` of the pivoted factorization counts towards the rank when ``|R_jj| > tol * |R_11|``. The default
    ``tol = 10 * sqrt(n) * eps`` (``eps`` = 2.2e-16) catches exact collinearity (pivot ratios of ~1e-16 grow like
    ``sqrt(n) * eps`` with rounding) while keeping badly conditioned but genuine designs such as NIST's Filip (smallest
    ratio ~6e-10) at full rank. Which columns are aliased follows R: columns are taken in their given order and a
    column is aliased when it is (numerically) a combination of the earlier kept ones.

Accuracy
    The least-squares solution is refined on the augmented system ``[I A; A' 0] [r; x] = [b; 0]`` (Björck) with
    residuals accumulated in extended precision, whenever the estimated error of the plain solution or of its
    residuals exceeds ``1e-14`` relative; see :func:`lstsq`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import blas, lapack, solve_triangular

from ._validation import DesignError

__all__ = [
    "QRFactor", "qr_factor", "lstsq", "default_rank_tol", "power_of_two_scale", "extended_residual", "psd_eigh",
    "estimated_error", "add_correction", "relative_correction", "refinement_done", "dd_residual_slice",
    "dd_gradient_slice", "dd_add",
]

EPS = float(np.finfo(np.float64).eps)
#: relative error above which the least-squares solution is refined in extended precision
REFINE_THRESHOLD = 1e-14
#: largest number of refinement steps
MAX_REFINE = 6
#: margin on the predicted contraction of a refinement step before a confirming step is skipped
CONTRACTION_SAFETY = 1e3
_CHUNK = 1 << 16
#: rows per block of the extended-precision residual: its temporaries stay in cache
_EXT_CHUNK = 1 << 12


def default_rank_tol(n_obs: int) -> float:
    """Default rank tolerance ``10 * sqrt(n) * eps`` on ``|R_jj| / |R_11|`` of the scaled design."""
    return 10.0 * math.sqrt(max(n_obs, 1)) * EPS


def power_of_two_scale(norms: np.ndarray) -> np.ndarray:
    """Scale factors ``2**-round(log2(norm))`` (1 for a zero column): multiplying by them is exact."""
    norms = np.asarray(norms, dtype=float)
    out = np.ones_like(norms)
    ok = norms > 0
    out[ok] = np.exp2(-np.round(np.log2(norms[ok])))
    return out


@dataclass(frozen=True, eq=False, slots=True)
class QRFactor:
    """Thin pivoted QR of the weighted, column-scaled design restricted to its non-aliased columns.

    Attributes
    ----------
    q : ndarray of shape (n_obs, rank)
        Orthonormal basis of the column space (Fortran order).
    r : ndarray of shape (rank, rank)
        Upper triangular factor.
    cols : ndarray of shape (rank,)
        Original column index of each column of ``q @ r`` (the pivot order restricted to kept columns).
    scale : ndarray of shape (n_cols,)
        Power-of-two column scale factors.
    aliased : ndarray
        Original indices of the aliased columns (empty when the design has full column rank).
    n_cols : int
        Number of columns of the design.
    tol : float
        Rank tolerance used.
    cond : float
        Estimated 1-norm condition number of ``r`` (of the column-equilibrated design).
    """

    q: np.ndarray
    r: np.ndarray
    cols: np.ndarray
    scale: np.ndarray
    aliased: np.ndarray
    n_cols: int
    tol: float
    cond: float

    @property
    def rank(self) -> int:
        """Numerical rank: the number of columns kept."""
        return int(self.r.shape[0])

    @property
    def n_obs(self) -> int:
        """Number of rows of the factored design."""
        return int(self.q.shape[0])

    def hat_diag(self) -> np.ndarray:
        """Diagonal of the hat matrix, ``h_i = ||Q_i||^2``, clamped to [0, 1] as R does.

        Returns
        -------
        ndarray of shape (n_obs,)
            The leverages.
        """
        h = np.einsum("ij,ij->i", self.q, self.q)
        h[h > 1.0 - 10.0 * EPS] = 1.0
        return h

    def to_original(self, coef: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """Map coefficients in factor coordinates (last axis of length rank) to the original columns.

        Undoes the column scaling and pivoting; aliased columns get ``fill``.

        Parameters
        ----------
        coef : ndarray of shape (..., rank)
            Coefficients in factor coordinates.
        fill : float
            Value for the aliased columns.

        Returns
        -------
        ndarray of shape (..., n_cols)
            Coefficients of the original columns.
        """
        coef = np.asarray(coef)
        out = np.full(coef.shape[:-1] + (self.n_cols,), fill, dtype=float)
        out[..., self.cols] = coef * self.scale[self.cols]
        return out

    def cov_unscaled(self) -> np.ndarray:
        """``(X' W X)^{-1}`` in the original coordinates (n_cols x n_cols; NaN rows/columns for aliased).

        Returns
        -------
        ndarray of shape (n_cols, n_cols)
            The unscaled covariance.
        """
        rinv = solve_triangular(self.r, np.eye(self.rank), lower=False)
        inner = rinv @ rinv.T
        out = np.full((self.n_cols, self.n_cols), np.nan)
        s = self.scale[self.cols]
        out[np.ix_(self.cols, self.cols)] = inner * np.outer(s, s)
        return out

    def cov_unscaled_diag(self) -> np.ndarray:
        """Diagonal of ``(X' W X)^{-1}`` (NaN for aliased columns) without forming the inverse's square.

        Returns
        -------
        ndarray of shape (n_cols,)
            Its diagonal.
        """
        rinv = solve_triangular(self.r, np.eye(self.rank), lower=False)
        d = np.einsum("ij,ij->i", rinv, rinv)
        out = np.full(self.n_cols, np.nan)
        out[self.cols] = d * self.scale[self.cols] ** 2
        return out

    def row_solve(self, row_weights: np.ndarray | None = None) -> np.ndarray:
        """``diag(row_weights) Q R^{-T}`` (n_obs x rank, a new Fortran array): row i is ``(A'A)^{-1} a_i`` scaled.

        Row ``i`` times the scale factors, mapped with :meth:`to_original`, is ``(X'WX)^{-1} x_i sqrt(w_i)``.

        Parameters
        ----------
        row_weights : ndarray of shape (n_obs,), optional
            Factors for the rows (default 1).

        Returns
        -------
        ndarray of shape (n_obs, rank)
            Fortran-ordered.
        """
        if row_weights is None:
            out = np.array(self.q, order="F", copy=True)
        else:
            out = np.empty_like(self.q, order="F")
            np.multiply(self.q, np.asarray(row_weights, dtype=float)[:, None], out=out)
        if self.rank == 0:
            return out
        res = blas.dtrsm(1.0, self.r, out, side=1, lower=0, trans_a=1, overwrite_b=1)
        if not np.shares_memory(res, out):  # pragma: no cover - BLAS wrapper copied
            out = np.asfortranarray(res)
        return out

    def coef_rows(self, row_factor: np.ndarray) -> np.ndarray:
        """``(X'WX)^{-1} x_i sqrt(w_i) row_factor_i`` for every row, in the original coordinates.

        Parameters
        ----------
        row_factor : ndarray of shape (n_obs,)
            One factor per row (for DFBETA, the weighted residual over ``1 - h_i``).

        Returns
        -------
        ndarray of shape (n_obs, n_cols)
            A new Fortran-ordered array; NaN columns for aliased columns.
        """
        C = self.row_solve(row_factor)  # n x rank, Fortran order, scaled/pivoted coordinates
        C *= self.scale[self.cols]
        n, k = C.shape[0], self.n_cols
        if self.rank == k:
            # permute columns in place (cycles), so the n x p result costs no second copy
            perm = np.empty(k, dtype=np.intp)
            perm[self.cols] = np.arange(k)  # original column j is C's column perm[j]
            done = np.zeros(k, dtype=bool)
            for start in range(k):
                if done[start] or perm[start] == start:
                    done[start] = True
                    continue
                tmp = C[:, start].copy()
                j = start
                while True:
                    src = perm[j]
                    done[j] = True
                    if src == start:
                        C[:, j] = tmp
                        break
                    C[:, j] = C[:, src]
                    j = src
            return C
        out = np.full((n, k), np.nan, order="F")
        out[:, self.cols] = C
        return out


def _weighted_scaled_copy(X: np.ndarray, sqrt_w: np.ndarray | None, scale: np.ndarray) -> np.ndarray:
    A = np.empty(X.shape, dtype=np.float64, order="F")
    np.multiply(X, scale, out=A)
    if sqrt_w is not None:
        A *= sqrt_w[:, None]
    return A


def _column_norms(X: np.ndarray, sqrt_w: np.ndarray | None) -> np.ndarray:
    norms = np.zeros(X.shape[1])
    for start in range(0, X.shape[0], _CHUNK):
        block = X[start : start + _CHUNK]
        if sqrt_w is not None:
            block = block * sqrt_w[start : start + _CHUNK, None]
        m = np.max(np.abs(block), axis=0) if block.size else np.zeros(X.shape[1])
        # scaled accumulation: avoids overflow for huge columns
        norms = np.maximum(norms, m)
    big = np.where(norms > 0, norms, 1.0)
    ss = np.zeros(X.shape[1])
    for start in range(0, X.shape[0], _CHUNK):
        block = X[start : start + _CHUNK] / big
        if sqrt_w is not None:
            block = block * sqrt_w[start : start + _CHUNK, None]
        ss += np.einsum("ij,ij->j", block, block)
    return np.sqrt(ss) * big


def _query(routine, *args) -> int:
    """Optimal LAPACK workspace size (workspace query with lwork = -1)."""
    out = routine(*args, lwork=-1, overwrite_a=1)  # a query touches nothing; overwrite_a avoids a copy
    work, info = out[-2], out[-1]
    if info != 0:  # pragma: no cover
        raise RuntimeError(f"LAPACK workspace query failed (info={info})")
    return max(int(work[0]), 1)


def _geqp3(A: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Householder QR with column pivoting, in place. Returns (qr, jpvt (0-based), tau)."""
    qr, jpvt, tau, _work, info = lapack.dgeqp3(A, lwork=_query(lapack.dgeqp3, A), overwrite_a=1)
    if info != 0:  # pragma: no cover - LAPACK argument error
        raise RuntimeError(f"LAPACK dgeqp3 failed (info={info})")
    return qr, np.asarray(jpvt, dtype=np.intp) - 1, tau


def _orgqr(qr: np.ndarray, tau: np.ndarray, m: int) -> np.ndarray:
    if m == 0:
        return np.zeros((qr.shape[0], 0), order="F")
    sub = qr[:, :m]
    q, _work, info = lapack.dorgqr(sub, tau[:m], lwork=_query(lapack.dorgqr, sub, tau[:m]), overwrite_a=1)
    if info != 0:  # pragma: no cover
        raise RuntimeError(f"LAPACK dorgqr failed (info={info})")
    return q


def _rank_from_diag(d: np.ndarray, tol: float) -> int:
    d = np.abs(d)
    if d.size == 0 or d[0] == 0:
        return 0
    return int(np.sum(d > tol * d[0]))


def _kept_in_order(r_full: np.ndarray, jpvt: np.ndarray, tol: float, rank: int) -> np.ndarray:
    """Non-aliased columns chosen as R does: in the given order, dropping a column that depends on earlier ones.

    Works on the small k x k triangular factor of the pivoted QR (same column geometry as the design).
    """
    k = r_full.shape[1]
    B = np.empty_like(r_full)
    B[:, jpvt] = r_full  # columns back in original order
    ref = np.max(np.linalg.norm(B, axis=0)) if k else 0.0
    kept: list[int] = []
    basis = np.zeros((B.shape[0], 0))
    for j in range(k):
        v = B[:, j].copy()
        for _ in range(2):  # Gram-Schmidt twice is enough
            v -= basis @ (basis.T @ v)
        nv = np.linalg.norm(v)
        if nv > tol * ref:
            kept.append(j)
            basis = np.column_stack([basis, v / nv])
    if len(kept) != rank:
        # borderline case: trust the pivoted factorization's choice
        return np.sort(jpvt[:rank])
    return np.asarray(kept, dtype=np.intp)


def _cond_estimate(r: np.ndarray) -> float:
    if r.shape[0] == 0:
        return 1.0
    rcond, info = lapack.dtrcon(r, norm="1", uplo="U", diag="N")
    if info != 0 or rcond <= 0:
        return math.inf
    return 1.0 / float(rcond)


def qr_factor(X: np.ndarray, sqrt_w: np.ndarray | None = None, tol: float | None = None) -> QRFactor:
    """Factor ``diag(sqrt_w) X`` once: power-of-two column scaling, pivoted Householder QR, rank, aliasing.

    Parameters
    ----------
    X : ndarray of shape (n_obs, n_cols)
        Design matrix (not modified).
    sqrt_w : ndarray of shape (n_obs,), optional
        Square roots of the analytic weights.
    tol : float, optional
        Rank tolerance on ``|R_jj| / |R_11|``; default :func:`default_rank_tol`.

    Returns
    -------
    QRFactor
    """
    X = np.asarray(X, dtype=np.float64)
    n, k = X.shape
    tol = default_rank_tol(n) if tol is None else float(tol)
    scale = power_of_two_scale(_column_norms(X, sqrt_w))
    A = _weighted_scaled_copy(X, sqrt_w, scale)
    qr, jpvt, tau = _geqp3(A)
    m = min(n, k)
    r_full = np.triu(qr[:m, :k])
    rank = _rank_from_diag(np.diag(r_full), tol)
    if rank == k or rank == 0:
        cols = jpvt[:rank]
        r = np.array(r_full[:rank, :rank])
        q = _orgqr(qr, tau, rank)
        aliased = np.sort(jpvt[rank:])
    else:
        kept = _kept_in_order(r_full, jpvt, tol, rank)
        aliased = np.setdiff1d(np.arange(k), kept)
        del qr, A
        A = _weighted_scaled_copy(X[:, kept], sqrt_w, scale[kept])
        qr, jpvt2, tau = _geqp3(A)
        r = np.array(np.triu(qr[:rank, :rank]))
        cols = kept[jpvt2]
        q = _orgqr(qr, tau, rank)
    return QRFactor(
        q=q,
        r=r,
        cols=np.asarray(cols, dtype=np.intp),
        scale=scale,
        aliased=np.asarray(aliased, dtype=np.intp),
        n_cols=k,
        tol=tol,
        cond=_cond_estimate(r),
    )


# --------------------------------------------------------------------------------------------------------------
# extended-precision residuals and refined least squares

def two_sum(a, b):
    """Error-free sum: ``s + e == a + b`` exactly (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def dekker_split(a):
    """Dekker's split of a double into a high part of 26 significant bits and the exact remainder ``a - hi``."""
    c = 134217729.0 * a  # 2**27 + 1 (Dekker)
    hi = c - (c - a)
    return hi, a - hi


def _prod_err(p, ah, al, bh, bl):
    """The rounding error of ``p = a * b`` from the Dekker splits of ``a`` and ``b``: ``a * b == p + err`` exactly."""
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _dd_sum(P: np.ndarray, E: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums of ``P + E`` along ``axis`` as (hi, lo) pairs.

    ``P`` is folded pairwise with error-free additions (Sum2 of Ogita, Rump and Oishi); ``E`` holds terms that are
    already tiny (product errors) and is summed plainly. The result carries about twice double precision.
    """
    vals = np.moveaxis(P, axis, 0)
    err = E.sum(axis=axis)
    while vals.shape[0] > 1:
        if vals.shape[0] % 2:
            vals = np.concatenate([vals, np.zeros((1,) + vals.shape[1:])])
        vals, e = two_sum(vals[0::2], vals[1::2])
        err = err + e.sum(axis=0)
    hi = vals[0] if vals.shape[0] else np.zeros(err.shape)
    return two_sum(hi, err)


def extended_residual(
    X: np.ndarray,
    cols_scale: np.ndarray,
    sqrt_w: np.ndarray | None,
    y: np.ndarray,
    x: np.ndarray,
    r: np.ndarray | None,
    r_lo: np.ndarray | None = None,
    x_lo: np.ndarray | None = None,
    cols: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``f = b - r - A x`` and ``g = -A' r`` in double-double arithmetic, rounded to double.

    ``A = diag(sqrt_w) X diag(cols_scale)`` and ``b = sqrt_w * y`` are formed in double precision block by block
    (never a second full copy of the design). Products are split error-free (Dekker) and sums folded error-free,
    so both results carry about 32 significant digits before the final rounding: for a large-residual problem the
    terms of ``g`` cancel by many orders of magnitude, and its error is amplified by ``kappa^2`` in the correction.
    ``r = None`` stands for a zero residual. ``r_lo`` and ``x_lo`` are optional low-order parts of ``r`` and ``x``
    (both carried as unevaluated sums of two doubles by the refinement). ``cols`` selects (and orders) columns of
    ``X`` block by block, so the caller needs no reordered copy of the design.
    """
    n = X.shape[0]
    k = X.shape[1] if cols is None else len(cols)
    f = np.empty(n)
    g = (np.zeros(k), np.zeros(k))
    xs = dekker_split(-np.asarray(x, dtype=float))
    for start in range(0, n, _EXT_CHUNK):
        sl_ = slice(start, start + _EXT_CHUNK)
        A = (X[sl_] if cols is None else X[sl_][:, cols]) * cols_scale
        b = y[sl_]
        if sqrt_w is not None:
            A *= sqrt_w[sl_, None]
            b = b * sqrt_w[sl_]
        rs = None if r is None else r[sl_]
        hi, lo, splits = dd_residual_slice(A, b, xs, x_lo, rs, None if r_lo is None else r_lo[sl_])
        f[sl_] = hi + lo
        if r is not None:
            g = dd_add(g, dd_gradient_slice(A, splits, r[sl_], None if r_lo is None else r_lo[sl_]))
    return f, -(g[0] + g[1])


def dd_residual_slice(
    A: np.ndarray,
    b: np.ndarray,
    neg_x: tuple[np.ndarray, np.ndarray],
    x_lo: np.ndarray | None = None,
    r: np.ndarray | None = None,
    r_lo: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """``b - r - r_lo - A (x + x_lo)`` of a slice of rows (a few thousand: the temporaries stay in cache) as a
    double-double pair ``(hi, lo)``, and the Dekker split of ``A`` (for :func:`dd_gradient_slice`).

    ``neg_x`` is the Dekker split of ``-x`` (``dekker_split(-x)``, formed once per pass). The row sums of ``b``,
    ``-r`` and the products ``a_ij (-x_j)`` are folded column by column with error-free additions (Sum2 of Ogita,
    Rump and Oishi); the products' rounding errors, exact by the splits, and the low-order terms are summed plainly.
    """
    xh, xl = neg_x
    ah, al = dekker_split(A)
    P = A * (xh + xl)
    hi = np.array(b, dtype=float)
    lo = _prod_err(P, ah, al, xh[None, :], xl[None, :]).sum(axis=1)
    if r is not None:
        hi, e = two_sum(hi, -r)
        lo += e
    for j in range(A.shape[1]):
        hi, e = two_sum(hi, P[:, j])
        lo += e
    if r_lo is not None:
        lo -= r_lo
    if x_lo is not None:
        lo -= A @ x_lo
    return hi, lo, (ah, al)


def dd_gradient_slice(
    A: np.ndarray, splits: tuple[np.ndarray, np.ndarray], r: np.ndarray, r_lo: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``A' (r + r_lo)`` of a slice of rows as a double-double pair ``(hi, lo)``; ``splits`` is ``A``'s Dekker split
    (from :func:`dd_residual_slice`). Products split error-free, column sums folded error-free pairwise."""
    ah, al = splits
    rb = r[:, None]
    rh, rl = dekker_split(rb)
    P = A * rb
    E = _prod_err(P, ah, al, rh, rl)
    if r_lo is not None:
        E += A * r_lo[:, None]
    return _dd_sum(P, E, axis=0)


def dd_add(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The sum of two double-double values ``(hi, lo)``, normalized (``hi`` is the sum rounded to double)."""
    s, e = two_sum(a[0], b[0])
    return two_sum(s, e + a[1] + b[1])


@dataclass(frozen=True, eq=False, slots=True)
class LstsqResult:
    """Solution of the weighted least-squares problem in factor coordinates.

    Attributes
    ----------
    x : ndarray of shape (rank,)
        Coefficients of the kept, scaled columns (map with :meth:`QRFactor.to_original`).
    resid : ndarray of shape (n_obs,)
        Weighted residuals ``sqrt(w) * (y - X beta)``.
    refine_steps : int
        Number of refinement steps taken (0 when the plain solution was accurate enough).
    est_error : float
        Estimated relative error of the plain solution that decided whether to refine.
    """

    x: np.ndarray
    resid: np.ndarray
    refine_steps: int
    est_error: float


def lstsq(factor: QRFactor, X: np.ndarray, y: np.ndarray, sqrt_w: np.ndarray | None = None) -> LstsqResult:
    """Least squares from the factorization, refined where the estimated error calls for it.

    Parameters
    ----------
    factor : QRFactor
        The factorization of the (weighted, equilibrated) design.
    X : ndarray of shape (n_obs, n_cols)
        The design as given (for the extended-precision residuals).
    y : ndarray of shape (n_obs,)
        The response.
    sqrt_w : ndarray of shape (n_obs,), optional
        Square roots of the weights.

    Returns
    -------
    LstsqResult
        The solution in factor coordinates, the weighted residuals, the refinement steps taken and the error
        estimate.

    Notes
    -----
    The plain solution ``x = R^{-1} Q' b`` has relative error about ``eps * (kappa + kappa^2 ||r|| / (||R|| ||x||))``
    and its residuals about ``eps * kappa * ||b|| / ||r||`` (``kappa`` the condition number of the equilibrated
    design). When either estimate exceeds ``REFINE_THRESHOLD`` (1e-14), the solution is refined on the augmented
    system with ``f = b - r - A x`` and ``g = -A' r`` accumulated in double-double arithmetic, until the
    correction is below ``eps`` relative
    (at most ``MAX_REFINE`` steps). Each step costs one extended-precision pass over the design (``f`` and ``g``
    together). A step shrinks the error by about the plain solution's estimated relative error, so when the
    correction just applied, times that factor (with a margin of ``CONTRACTION_SAFETY``), is far below rounding,
    the confirming step is skipped: a mildly conditioned problem costs a single pass.
    """
    Q, R = factor.q, factor.r
    cols = factor.cols
    cs = factor.scale[cols]
    b = y * sqrt_w if sqrt_w is not None else np.asarray(y, dtype=float)
    if factor.rank == 0:
        return LstsqResult(x=np.zeros(0), resid=np.array(b, dtype=float), refine_steps=0, est_error=0.0)
    qtb = Q.T @ b
    x = solve_triangular(R, qtb, lower=False)
    resid = b - Q @ qtb
    est = estimated_error(factor, x, float(np.linalg.norm(b)), float(np.linalg.norm(resid)))
    steps = 0
    if est > REFINE_THRESHOLD:
        # the residual is carried as a double-double pair (resid + resid_lo): for a large-residual problem its
        # rounding would otherwise limit x to about kappa * eps * ||r|| / (||A|| ||x||). The plain residual is the
        # starting point: the first step's f = b - r - A x, accumulated in extended precision, corrects it.
        resid_lo = np.zeros_like(resid)
        x_lo = np.zeros_like(x)  # x too is carried as a pair: its rounding would leave the small coefficients noisy
        prev = math.inf
        for steps in range(1, MAX_REFINE + 1):
            f, g = extended_residual(X, cs, sqrt_w, y, x, resid, resid_lo, x_lo, cols=cols)
            h = solve_triangular(R, g, trans="T", lower=False)
            d = Q.T @ f
            dx = solve_triangular(R, d - h, lower=False)
            dr = (f - Q @ d) + Q @ h
            x, x_lo = add_correction(x, x_lo, dx)
            resid, e = two_sum(resid, dr)
            resid, resid_lo = two_sum(resid, resid_lo + e)
            rel = relative_correction(dx, x)
            if refinement_done(rel, prev, steps, est, lambda dr=dr, resid=resid: float(np.linalg.norm(dr)) / max(
                    float(np.linalg.norm(resid)), np.finfo(float).tiny)):
                break
            prev = rel
    return LstsqResult(x=x, resid=resid, refine_steps=steps, est_error=est)


def estimated_error(factor: QRFactor, x: np.ndarray, nb: float, nr: float) -> float:
    """Estimated relative error of the plain solution ``x = R^{-1} Q' b`` or of its residuals (see :func:`lstsq`):
    ``eps * (kappa + kappa^2 ||r|| / (||R|| ||x||))`` and ``eps * kappa * ||b|| / ||r||``, the larger; ``nb`` and
    ``nr`` are ``||b||`` and ``||r||``."""
    if factor.rank == 0:
        return 0.0
    kappa = factor.cond
    nx = float(np.linalg.norm(x))
    nR = float(np.max(np.abs(factor.r))) * math.sqrt(factor.r.shape[0])
    err_x = EPS * (kappa + kappa**2 * nr / max(nR * nx, np.finfo(float).tiny))
    err_r = EPS * kappa * nb / nr if nr > 0 else math.inf
    return max(err_x, err_r)


def add_correction(x: np.ndarray, x_lo: np.ndarray, dx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(x + x_lo) + dx`` as a normalized double-double pair; an error when refinement has diverged."""
    x, e = two_sum(x, dx)
    x, x_lo = two_sum(x, x_lo + e)
    if not np.all(np.isfinite(x)):
        raise DesignError("least-squares refinement diverged: the design is numerically singular")
    return x, x_lo


def relative_correction(dx: np.ndarray, x: np.ndarray) -> float:
    """Largest componentwise ``|dx_j| / |x_j|``: the smallest coefficient must converge too."""
    return float(np.max(np.abs(dx) / np.maximum(np.abs(x), np.finfo(float).tiny)))


def refinement_done(rel: float, prev: float, steps: int, est: float, rel_resid: Any) -> bool:
    """Whether refinement stops after a step whose componentwise correction was ``rel`` (``prev`` the step's
    before): converged (``rel <= eps / 8``), stagnating at rounding level, or, since a step shrinks the error by
    about the plain solution's estimated error ``est``, the correction just applied (to ``x``, and to the residuals
    normwise, ``rel_resid()``: one near zero has no componentwise accuracy to gain) times that factor with the
    margin ``CONTRACTION_SAFETY`` is far below rounding, so a confirming step would change nothing."""
    if rel <= EPS / 8 or (steps >= 2 and rel >= 0.5 * prev):
        return True
    return est < 1e-3 and max(rel, rel_resid()) * est * CONTRACTION_SAFETY <= EPS / 8


def psd_eigh(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigendecomposition ``A = Q diag(e) Q'`` of a symmetric positive semi-definite matrix, ``e`` ascending.

    ``numpy.linalg.eigh`` is accurate to ``eps ||A||``: on a badly scaled Gram matrix (columns of very different
    size) the eigenvectors of its small eigenvalues, and so any solve with the decomposition, lose
    ``cond(A) eps`` relative. A positive definite ``A`` is instead factored as ``A = L L'`` (pivoted Cholesky,
    LAPACK ``dpstrf``) and ``L'`` decomposed by the preconditioned one-sided Jacobi SVD (``dgejsv``), whose right
    singular vectors (the eigenvectors of ``A``) and singular values are accurate relative to the conditioning of
    the *column-scaled* matrix (Demmel & Veselic, 1992; Drmac & Veselic, 2008). A singular (numerically rank
    deficient) or non-finite ``A`` falls back to ``eigh``; negative rounding-level eigenvalues are set to 0.
    """
    A = np.asarray(A, dtype=np.float64)
    A = (A + A.T) * 0.5
    p = A.shape[0]
    if p > 1 and np.isfinite(A).all() and (np.diag(A) > 0).all():
        # factor the equilibrated D A D (D: powers of two, exact), so a graded but well-conditioned matrix is not
        # declared rank deficient by dpstrf's tolerance on the raw diagonal; then A = (D^-1 L)(D^-1 L)'
        d = power_of_two_scale(np.sqrt(np.diag(A)))
        L, piv, rank, info = lapack.dpstrf(A * d[:, None] * d[None, :], lower=1)
        if info >= 0 and rank == p:
            Lp = np.empty((p, p))
            Lp[piv - 1] = np.tril(L)
            Lp /= d[:, None]  # A = Lp Lp'
            sva, _, v, work, _, info = lapack.dgejsv(
                np.asfortranarray(Lp.T), joba=0, jobu=3, jobv=0, jobr=1, jobt=0, jobp=1
            )
            if info == 0 and np.isfinite(sva).all() and work[1] > 0:
                s = sva * (work[0] / work[1])
                return (s * s)[::-1].copy(), np.ascontiguousarray(v[:, ::-1])
    e, Q = np.linalg.eigh(A)
    return np.maximum(e, 0.0), Q
