"""Extended-precision residuals of one block of rows, and the sums a refinement step reduces (plain numpy).

The arithmetic is that of :func:`regdiag.linalg.extended_residual`, through the same slice kernels
(:func:`regdiag.linalg.dd_residual_slice`, :func:`regdiag.linalg.dd_gradient_slice`): products split error-free
(Dekker), sums folded error-free, so a residual ``b - A x`` and the gradient ``A' r`` carry about 32 significant
digits before they are rounded. ``x`` is carried as an unevaluated sum of two doubles ``x + x_lo``, and so is each
residual within a block, so the terms of ``A' r`` (which cancel by many orders of magnitude in a large-residual
problem) are formed from the residual to about twice double precision.

A block is processed in slices of ``2**12`` rows: the temporaries of the error-free products stay in cache and are a
few times the size of one slice, whatever the block's size. One pass costs about one Householder QR of the block.
"""

from __future__ import annotations

import numpy as np

from ..linalg import dd_add, dd_gradient_slice, dd_residual_slice, dekker_split, two_sum

__all__ = ["dd_residual", "dd_gradient"]

_SLICE = 1 << 12


def _slices(A: np.ndarray, cols: np.ndarray, col_scale: np.ndarray):
    """For each slice of rows: the slice, its kept power-of-two scaled columns in the factor's order (exact in
    binary) and its ``b`` (the block's last column)."""
    k = A.shape[1] - 1
    for start in range(0, A.shape[0], _SLICE):
        sl = slice(start, start + _SLICE)
        yield sl, A[sl][:, cols] * col_scale, A[sl, k]


def dd_residual(
    A: np.ndarray, cols: np.ndarray, col_scale: np.ndarray, x: np.ndarray, x_lo: np.ndarray
) -> np.ndarray:
    """``b - A_k (x + x_lo)`` of one block, in double-double arithmetic, rounded to double.

    ``A`` is the block's matrix ``[sqrt(w) X, sqrt(w) (y - offset)]`` (its last column is ``b``); ``A_k`` its columns
    ``cols`` times ``col_scale`` (the factor's kept, scaled columns, in pivot order).
    """
    out = np.empty(A.shape[0])
    neg_x = dekker_split(-x)
    for sl, Ak, b in _slices(A, cols, col_scale):
        hi, lo, _ = dd_residual_slice(Ak, b, neg_x, x_lo)
        out[sl] = hi + lo
    return out


def dd_gradient(
    A: np.ndarray, cols: np.ndarray, col_scale: np.ndarray, x: np.ndarray, x_lo: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray], float]:
    """``(A_k' r as a (hi, lo) pair, r'r)`` for the block's residuals ``r = b - A_k (x + x_lo)`` (see
    :func:`dd_residual`); ``r`` is kept as a double-double pair in forming ``A_k' r``."""
    g = (np.zeros(len(cols)), np.zeros(len(cols)))
    ss = 0.0
    neg_x = dekker_split(-x)
    for _, Ak, b in _slices(A, cols, col_scale):
        r_hi, r_lo, splits = dd_residual_slice(Ak, b, neg_x, x_lo)
        r_hi, r_lo = two_sum(r_hi, r_lo)  # normalized: r_hi is the residual rounded to double
        g = dd_add(g, dd_gradient_slice(Ak, splits, r_hi, r_lo))
        ss += float(r_hi @ r_hi)
    return g, ss
