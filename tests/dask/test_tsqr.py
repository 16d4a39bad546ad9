"""The blocked tall-skinny QR against numpy's QR of all rows at once, for any split of the rows into blocks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("dask")
from regdiag.dask._tsqr import Stats, block_q, combine, leaf


def _tree(nodes, fan_in):
    while len(nodes) > 1:
        nodes = [combine(nodes[i : i + fan_in]) for i in range(0, len(nodes), fan_in)]
    return combine(nodes)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 12), min_size=1, max_size=12).filter(lambda s: sum(s) >= 6),
    cols=st.integers(1, 5),
    fan_in=st.integers(2, 4),
    seed=st.integers(0, 2**16),
)
def test_any_split_gives_the_qr_of_all_rows(sizes, cols, fan_in, seed):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    A = rng.standard_normal((n, cols)) * np.exp2(rng.integers(-20, 20, cols))
    bounds = np.cumsum([0, *sizes])
    blocks = [A[bounds[i] : bounds[i + 1]] for i in range(len(sizes))]
    nodes = [leaf(i, b, Stats()) if len(b) else _empty(i) for i, b in enumerate(blocks)]
    root = _tree(nodes, fan_in)
    R = root.r
    Q = np.vstack([block_q(b, np.eye(R.shape[0]) if root.factors[i] is None else root.factors[i])
                   if len(b) else np.zeros((0, R.shape[0])) for i, b in enumerate(blocks)])
    scale = np.linalg.norm(A, axis=0)
    np.testing.assert_allclose(Q @ R / scale, A / scale, atol=1e-13)
    np.testing.assert_allclose(Q.T @ Q, np.eye(R.shape[0]), atol=1e-13)
    # R is unique up to the signs of its rows
    R_np = np.linalg.qr(A, mode="r")
    np.testing.assert_allclose(np.abs(R) / scale, np.abs(R_np) / scale, atol=1e-12)


def _empty(i):
    from regdiag.dask._tsqr import Node

    return Node(r=None, factors={i: None}, stats=Stats())


def test_statistics_combine_by_their_rules():
    a, b = Stats(), Stats()
    for s, n in ((a, 3), (b, 4)):
        s.add("n", n, "sum")
        s.add("ok", n == 3, "and")
        s.add("names", ("x",), "same")
    m = a.merge(b)
    assert (m["n"] == 7 and m["ok"] is False) or m["ok"] == np.False_
    c = Stats()
    c.add("names", ("y",), "same")
    with pytest.raises(Exception, match="names"):
        a.merge(c)
