"""Passes over the blocks: one tree reduction (TSQR plus statistics) per pass, and lazy per-block tasks.

A pass maps a leaf function over the blocks (each block rebuilt from its source, validated, and reduced to its R
factor and a few sums), reduces the leaves by a tree of ``split_every``-way stackings, and computes the root: the
only data held at once are one block per worker thread and R factors of ``(p + 1)^2`` numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dask
import numpy as np

from .._validation import DesignError
from ..design import Design
from ._blocks import Block, Source, block_design
from ._tsqr import Node, Stats, _Mismatch, combine, leaf

__all__ = ["reduce_blocks", "block_stats", "augmented"]


def augmented(X: np.ndarray, sqrt_w: np.ndarray | None, target: np.ndarray) -> np.ndarray:
    """``[sqrt(w) X, sqrt(w) target]`` in Fortran order (the matrix every pass factors; rebuilt bit for bit)."""
    m, k = X.shape
    A = np.empty((m, k + 1), order="F")
    A[:, :k] = X
    A[:, k] = target
    if sqrt_w is not None:
        A *= sqrt_w[:, None]
    return A


def block_stats(block_id: int, blk: Block) -> Stats:
    """Row counts and dropped rows of one block (every pass carries them)."""
    st = Stats()
    d = blk.design
    st.add("lengths", {block_id: 0 if d is None else d.n_obs}, "union")
    st.add("n_dropped", len(blk.dropped), "sum")
    st.add("dropped_head", list(blk.dropped[:10]), "head")
    if blk.const is not None:
        st.add("const", np.asarray(blk.const, dtype=bool), "and")
    st.add("names", None if d is None else d.param_names, "same")
    # rows whose leverage is positive: a positive weight and a design row that is not all zeros (h_i = 0 exactly
    # otherwise); R's flagging rule counts them as n (is.influential(infmat, sum(h > 0)))
    if d is None:
        st.add("n_hpos", 0, "sum")
    else:
        nonzero = np.any(d.X != 0.0, axis=1)
        if d.weights is not None:
            nonzero &= d.weights > 0
        st.add("n_hpos", int(np.count_nonzero(nonzero)), "sum")
    return st


def run_leaf(block_id: int, raw: tuple, spec: Any, fn: Callable[[Design, Stats], np.ndarray | None]) -> Node:
    """Validate one block and reduce it.

    ``fn`` gets the block's design (only for a block with rows left), adds its statistics and returns the block's
    matrix to factor (None: nothing to factor).
    """
    blk = block_design(raw, spec)
    st = block_stats(block_id, blk)
    A = fn(blk.design, st) if blk.design is not None else None
    if A is None or A.shape[0] == 0:
        return Node(r=None, factors={block_id: None}, stats=st)
    return leaf(block_id, A, st)


def _tree(nodes: list[Any], split_every: int) -> Any:
    split_every = max(int(split_every), 2)
    level = nodes
    while len(level) > 1:
        level = [dask.delayed(combine, pure=False)(level[i : i + split_every])
                 for i in range(0, len(level), split_every)]
    return level[0]


def reduce_blocks(
    source: Source,
    fn: Callable[[Design, Stats], np.ndarray | None],
    split_every: int = 8,
) -> Node:
    """One pass: every block through ``fn`` (see :func:`run_leaf`), tree-reduced, computed."""
    leaves = [
        dask.delayed(run_leaf, pure=False)(i, raw, source.spec, fn) for i, raw in enumerate(source.raw)
    ]
    root = _tree(leaves, split_every)
    if len(leaves) == 1:
        root = dask.delayed(combine, pure=False)([root])
    try:
        (node,) = dask.compute(root)
    except _Mismatch as exc:
        if exc.name == "names":
            raise DesignError(
                "partitions give different design columns "
                f"({list(exc.a)} and {list(exc.b)}): the formula's categorical levels differ between partitions. "
                "Cast the columns to categorical with known categories (dask: .astype('category').cat.as_known())"
            ) from None
        raise  # pragma: no cover
    return node


def leaf_factors(node: Node, rank_q: np.ndarray) -> list[np.ndarray]:
    """``F_b @ q`` for every block, in block order (shape (h_b, rank); no rows for an empty block)."""
    return [
        np.zeros((0, rank_q.shape[1])) if node.factors[b] is None else node.factors[b] @ rank_q
        for b in sorted(node.factors)
    ]
