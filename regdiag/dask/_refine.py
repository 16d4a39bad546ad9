"""Extended-precision residuals of one block of rows, and the sums a refinement step reduces (plain numpy).

The arithmetic is that of :func:`regdiag.linalg.extended_residual` (its building blocks are reused): products split
error-free (Dekker), sums folded error-free, so a residual ``b - A x`` and the gradient ``A' r`` carry about 32
significant digits before they are rounded. ``x`` is carried as an unevaluated sum of two doubles ``x + x_lo``, and
so is each residual within a block, so the terms of ``A' r`` (which cancel by many orders of magnitude in a
large-residual problem) are formed from the residual to about twice double precision.

A block is processed in slices of ``2**12`` rows: the temporaries of the error-free products stay in cache (2.7 times
faster than slices of ``2**16`` rows at 11 columns) and are a few times the size of one slice, whatever the block's
size. One pass costs about one Householder QR of the block.
"""

from __future__ import annotations

import numpy as np

from ..linalg import _dd_sum, _two_prod, _two_sum

__all__ = ["dd_residual", "dd_gradient", "dd_add"]

_SLICE = 1 << 12


def _kept(A: np.ndarray, cols: np.ndarray, col_scale: np.ndarray, sl: slice) -> np.ndarray:
    """Rows ``sl`` of the kept, power-of-two scaled columns of ``A`` in the factor's order (exact in binary)."""
    return A[sl][:, cols] * col_scale


def _residual_slice(Ak: np.ndarray, b: np.ndarray, x: np.ndarray, x_lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    P, E = _two_prod(Ak, -x[None, :])
    extra = E.sum(axis=1) - Ak @ x_lo
    return _dd_sum(np.hstack([b[:, None], P]), extra[:, None], axis=1)


def dd_residual(
    A: np.ndarray, cols: np.ndarray, col_scale: np.ndarray, x: np.ndarray, x_lo: np.ndarray
) -> np.ndarray:
    """``b - A_k (x + x_lo)`` of one block, in double-double arithmetic, rounded to double.

    ``A`` is the block's matrix ``[sqrt(w) X, sqrt(w) (y - offset)]`` (its last column is ``b``); ``A_k`` its columns
    ``cols`` times ``col_scale`` (the factor's kept, scaled columns, in pivot order).
    """
    m, k = A.shape[0], A.shape[1] - 1
    out = np.empty(m)
    for start in range(0, m, _SLICE):
        sl = slice(start, start + _SLICE)
        hi, lo = _residual_slice(_kept(A, cols, col_scale, sl), A[sl, k], x, x_lo)
        out[sl] = hi + lo
    return out


def dd_gradient(
    A: np.ndarray, cols: np.ndarray, col_scale: np.ndarray, x: np.ndarray, x_lo: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray], float]:
    """``(A_k' r as a (hi, lo) pair, r'r)`` for the block's residuals ``r = b - A_k (x + x_lo)`` (see
    :func:`dd_residual`); ``r`` is kept as a double-double pair in forming ``A_k' r``."""
    m, k = A.shape[0], A.shape[1] - 1
    g_hi = np.zeros(len(cols))
    g_lo = np.zeros(len(cols))
    ss = 0.0
    for start in range(0, m, _SLICE):
        sl = slice(start, start + _SLICE)
        Ak = _kept(A, cols, col_scale, sl)
        r_hi, r_lo = _residual_slice(Ak, A[sl, k], x, x_lo)
        P, E = _two_prod(Ak, r_hi[:, None])
        E = E + Ak * r_lo[:, None]
        hi, lo = _dd_sum(P, E, axis=0)
        g_hi, e = _two_sum(g_hi, hi)
        g_lo = g_lo + e + lo
        ss += float(r_hi @ r_hi)
    return dd_add((g_hi, g_lo), (np.zeros_like(g_hi), np.zeros_like(g_lo))), ss


def dd_add(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The sum of two double-double values ``(hi, lo)``, normalized (``hi`` is the sum rounded to double)."""
    s, e = _two_sum(a[0], b[0])
    return _two_sum(s, e + a[1] + b[1])
