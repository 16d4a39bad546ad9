"""Tall-skinny QR by blocks: Householder QR of each block, tree reduction of the stacked R factors.

The rows of ``A`` (n x c, c small) are split into blocks ``A_b``. Each block is factored ``A_b = Q_b R_b``
(LAPACK ``dgeqrf``; a block with at most c rows is its own R). A tree node stacks its children's R factors and
factors the stack again, ``[R_1; ...; R_m] = Q_node R_node``; the root's R is the R of the whole ``A``:
``A = Q R`` with ``Q`` orthonormal. Each node also carries, for every block below it, the block's slice of the
product of the tree's Q factors on the way up (``F_b``, at most c x c), so that the rows of ``Q`` belonging to block
``b`` are ``Q_b F_b``: a second pass refactors the block (the same Householder QR of the same rows gives the same
reflectors) and applies them to ``F_b`` padded with zeros (``dormqr``), without ever storing ``Q``.

Accuracy: every factor is a Householder QR, so ``Q`` is orthonormal to rounding whatever the conditioning of ``A``
(unlike ``A R^{-1}``, whose columns lose orthogonality like ``kappa * eps``), and ``R`` is the R factor of a matrix
within ``c n eps ||A||`` of ``A``, like the R of a QR of all rows at once (Demmel, Grigori, Hoemmen, Langou 2012).

This module is plain numpy/scipy: the tree is built by :mod:`regdiag.dask` with ``dask.delayed``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.linalg import lapack

from ..linalg import dd_add

__all__ = ["Node", "leaf", "combine", "block_q", "Stats", "moments"]


def _lwork(routine: Callable, *args: Any, **kwargs: Any) -> int:
    out = routine(*args, lwork=-1, **kwargs)
    return max(int(out[-2][0]), 1)


def householder(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``dgeqrf`` of a Fortran-ordered copy of ``A``: (reflectors and R in one array, tau)."""
    A = np.array(A, dtype=np.float64, order="F", copy=True)
    qr, tau, _work, info = lapack.dgeqrf(A, lwork=_lwork(lapack.dgeqrf, A), overwrite_a=1)
    if info != 0:  # pragma: no cover - LAPACK argument error
        raise RuntimeError(f"LAPACK dgeqrf failed (info={info})")
    return qr, tau


def _orgqr(qr: np.ndarray, tau: np.ndarray) -> np.ndarray:
    q, _work, info = lapack.dorgqr(qr, tau, lwork=_lwork(lapack.dorgqr, qr, tau), overwrite_a=1)
    if info != 0:  # pragma: no cover
        raise RuntimeError(f"LAPACK dorgqr failed (info={info})")
    return q


# ---------------------------------------------------------------------------------------------------------------
# statistics carried up the tree with the R factors


#: how two values of a statistic combine
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "sum": lambda a, b: a + b,
    "and": lambda a, b: np.logical_and(a, b),
    "or": lambda a, b: np.logical_or(a, b),
    "max": lambda a, b: np.maximum(a, b),
    "min": lambda a, b: np.minimum(a, b),
    "head": lambda a, b: (a + b)[:10],  # first row labels of something (lists)
    "same": lambda a, b: a if a is not None else b,
    "union": lambda a, b: {**a, **b},
    "moments": lambda a, b: _chan(a, b),
    "ddsum": dd_add,  # (hi, lo) pairs of double-double sums
}


def _chan(a: tuple[float, float, float], b: tuple[float, float, float]) -> tuple[float, float, float]:
    """Weighted (total weight, mean, sum of squared deviations) of two sets of rows (Chan, Golub, LeVeque)."""
    wa, ma, sa = a
    wb, mb, sb = b
    w = wa + wb
    if w == 0:
        return (0.0, 0.0, 0.0)
    delta = mb - ma
    return (w, ma + delta * wb / w, sa + sb + delta * delta * wa * wb / w)


def moments(y: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """(sum w, weighted mean, sum w (y - mean)^2) of one block."""
    sw = float(np.sum(w))
    if sw == 0:
        return (0.0, 0.0, 0.0)
    mean = float(np.sum(w * y) / sw)
    return (sw, mean, float(np.sum(w * (y - mean) ** 2)))


@dataclass
class Stats:
    """Named statistics of a set of rows with their combination rule (see ``_OPS``)."""

    values: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, value: Any, rule: str) -> None:
        self.values[name] = value
        self.rules[name] = rule

    def merge(self, other: Stats) -> Stats:
        out = Stats(dict(self.values), dict(self.rules))
        for name, value in other.values.items():
            if name not in out.values:
                out.add(name, value, other.rules[name])
            elif other.rules[name] == "same":
                mine = out.values[name]
                if mine is None:
                    out.values[name] = value
                elif value is not None and not _equal(mine, value):
                    raise _Mismatch(name, mine, value)
            else:
                out.values[name] = _OPS[other.rules[name]](out.values[name], value)
        return out

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)


class _Mismatch(Exception):
    """Two blocks disagree on a statistic that must be the same everywhere (parameter names, ...)."""

    def __init__(self, name: str, a: Any, b: Any) -> None:
        super().__init__(name, a, b)
        self.name, self.a, self.b = name, a, b


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    return bool(a == b)


# ---------------------------------------------------------------------------------------------------------------
# tree nodes


@dataclass
class Node:
    """A node of the reduction tree.

    Attributes
    ----------
    r : ndarray of shape (h, c) or None
        R factor of the rows below the node (upper trapezoidal; ``h = min(rows, c)``); None when they have no rows.
    factors : dict
        Block id -> ``F_b`` of shape (h_b, h): rows of the node's Q that belong to block b's R (None: identity,
        for a leaf).
    stats : Stats
    """

    r: np.ndarray | None
    factors: dict[int, np.ndarray | None]
    stats: Stats


def leaf(block_id: int, A: np.ndarray, stats: Stats) -> Node:
    """The R factor of one block (m x c); a block with at most c rows is its own R."""
    m, c = A.shape
    if m > c:
        qr, _tau = householder(A)
        r = np.triu(qr[:c])
    else:
        r = np.array(A, dtype=np.float64)
    return Node(r=r, factors={block_id: None}, stats=stats)


def combine(nodes: Sequence[Node]) -> Node:
    """Stack the children's R factors and factor the stack; update every block's factor.

    A child without rows (``r`` None: empty blocks only) contributes its statistics and factors of zero rows.
    """
    stats = nodes[0].stats
    for n in nodes[1:]:
        stats = stats.merge(n.stats)
    full = [(n, n.r) for n in nodes if n.r is not None]
    empty = [b for n in nodes if n.r is None for b in n.factors]
    if not full:
        return Node(r=None, factors=dict.fromkeys(empty), stats=stats)
    c = full[0][1].shape[1]
    heights = [r.shape[0] for _, r in full]
    stacked = np.vstack([r for _, r in full])
    H = stacked.shape[0]
    factors: dict[int, np.ndarray | None] = {}
    if H > c:
        qr, tau = householder(stacked)
        r = np.triu(qr[:c])
        Q = _orgqr(qr, tau)  # H x c
        width = c
    else:
        r = stacked
        Q = np.eye(H)
        width = H
    offset = 0
    for (node, _), h in zip(full, heights):
        Qj = Q[offset : offset + h]
        for b, F in node.factors.items():
            factors[b] = np.array(Qj) if F is None else F @ Qj
        offset += h
    for b in empty:
        factors[b] = np.zeros((0, width))
    return Node(r=r, factors=factors, stats=stats)


def block_q(A: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Rows of ``Q`` of one block: the block's Householder Q applied to its factor ``G`` (h_b x r) padded with zeros.

    ``A`` must be the same block (same values, same order) as the one given to :func:`leaf`.
    """
    m, c = A.shape
    if m <= c:
        return np.array(G[:m], dtype=np.float64, order="F")
    qr, tau = householder(A)
    C = np.zeros((m, G.shape[1]), order="F")
    C[: G.shape[0]] = G
    if G.shape[1] == 0:
        return C
    cq, _work, info = lapack.dormqr("L", "N", qr, tau, C, _lwork(lapack.dormqr, "L", "N", qr, tau, C), overwrite_c=1)
    if info != 0:  # pragma: no cover
        raise RuntimeError(f"LAPACK dormqr failed (info={info})")
    return cq
