"""Training and query data in the forms torch users have them: tuples of tensors, datasets, lists of (x, y) pairs,
DataLoaders over any of them; clear errors for malformed input."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from regdiag import DataError  # noqa: E402
from regdiag.torch import TorchInfluence  # noqa: E402

KW = dict(damping=1e-2, check_optimum=False)


def problem(n=30, seed=0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    return net, torch.randn(n, 4, dtype=torch.float64), torch.randint(0, 3, (n,))


def test_lists_of_pairs_and_dataloaders_over_them_agree_with_the_tuple_of_tensors():
    net, X, y = problem()
    q = (X[:4] + 0.1, y[:4])
    ref = TorchInfluence(net, "cross_entropy", (X, y), **KW).fit()
    s_ref, self_ref = ref.scores(q), ref.self_influence()
    pairs = list(zip(X, y))
    for train in (pairs, tuple(pairs), DataLoader(pairs, batch_size=8), DataLoader(pairs, batch_size=8, shuffle=True),
                  [(x.numpy(), int(t)) for x, t in pairs], [[x, t] for x, t in pairs]):
        ti = TorchInfluence(net, "cross_entropy", train, **KW).fit()
        assert ti.data.n == 30
        np.testing.assert_allclose(ti.scores(q), s_ref, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(ti.self_influence(), self_ref, rtol=1e-10, atol=1e-14)
    assert TorchInfluence(net, "cross_entropy", DataLoader(pairs, batch_size=8), **KW).data.batch == 8
    # queries as a list of pairs, a DataLoader over one, a single pair in a list
    qpairs = list(zip(*q))
    np.testing.assert_allclose(ref.scores(qpairs), s_ref, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ref.scores(DataLoader(qpairs, batch_size=3)), s_ref, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ref.scores([qpairs[1]]), s_ref[1:2], rtol=1e-10, atol=1e-14)
    top = ref.top(qpairs, k=2)
    assert len(top) == 16


def test_several_inputs_in_a_list_of_examples():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 3), nn.Linear(2, 3)

        def forward(self, x1, x2):
            return self.a(x1) + self.b(x2)

    torch.manual_seed(1)
    net = Two().double()
    X1, X2 = torch.randn(20, 4, dtype=torch.float64), torch.randn(20, 2, dtype=torch.float64)
    y = torch.randint(0, 3, (20,))
    ref = TorchInfluence(net, "cross_entropy", (X1, X2, y), **KW).fit().scores((X1[:2], X2[:2], y[:2]))
    got = TorchInfluence(net, "cross_entropy", list(zip(X1, X2, y)), **KW).fit().scores(
        list(zip(X1[:2], X2[:2], y[:2])))
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-14)


def test_a_dataloader_with_its_own_collate_function_and_dict_examples():
    net, X, y = problem(seed=2)
    items = [{"x": X[i], "y": y[i]} for i in range(len(X))]

    def collate(batch):
        return torch.stack([b["x"] for b in batch]), torch.stack([b["y"] for b in batch])

    ref = TorchInfluence(net, "cross_entropy", (X, y), **KW).fit().scores((X[:2], y[:2]))
    got = TorchInfluence(net, "cross_entropy", DataLoader(items, batch_size=7, collate_fn=collate), **KW).fit()
    np.testing.assert_allclose(got.scores((X[:2], y[:2])), ref, rtol=1e-10, atol=1e-14)
    with pytest.raises(DataError, match=r"train batches are dicts with entries \['x', 'y'\] but no target: add labels"):
        TorchInfluence(net, "cross_entropy", DataLoader(items, batch_size=7), **KW)


def test_dict_examples_and_dict_columns_call_the_model_with_keywords_and_take_labels_as_the_target():
    net, X, y = problem(seed=3)

    class Keywords(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x)

    ref = TorchInfluence(net, "cross_entropy", (X, y), **KW).fit()
    s_ref = ref.scores((X[:3], y[:3]))
    kw = Keywords()
    items = [{"x": X[i], "labels": y[i]} for i in range(len(X))]
    for train in (items, {"x": X, "labels": y}, DataLoader(items, batch_size=7)):
        ti = TorchInfluence(kw, "cross_entropy", train, **KW).fit()
        np.testing.assert_allclose(ti.scores({"x": X[:3], "labels": y[:3]}), s_ref, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(ti.scores(items[:3]), s_ref, rtol=1e-10, atol=1e-14)
    with pytest.raises(DataError, match=r"query examples are tuples but the training examples are dicts"):
        ti.scores((X[:3], y[:3]))
    with pytest.raises(DataError, match=r"query batches have inputs \['z'\] but the training batches have \['x'\]"):
        ti.scores({"z": X[:3], "labels": y[:3]})
    with pytest.raises(DataError, match=r"must have the same number of rows"):
        TorchInfluence(kw, "cross_entropy", {"x": X, "labels": y[:-1]}, **KW)


def test_malformed_sequences_of_examples_are_named():
    net, X, y = problem()
    pairs = list(zip(X, y))
    with pytest.raises(DataError, match="train data is empty"):
        TorchInfluence(net, "cross_entropy", [], **KW)
    with pytest.raises(DataError, match="train data has no examples"):
        TorchInfluence(net, "cross_entropy", DataLoader([], batch_size=4), **KW)
    with pytest.raises(DataError,
                       match=r"train examples must be tuples \(inputs..., target\); example 0 is a tuple of 1"):
        TorchInfluence(net, "cross_entropy", [(x,) for x in X], **KW)
    with pytest.raises(DataError, match=r"example 0 is Tensor"):
        TorchInfluence(net, "cross_entropy", DataLoader(list(X), batch_size=4), **KW)
    bad = pairs[:5] + [(X[5], y[5], y[5])] + pairs[6:]
    ti = TorchInfluence(net, "cross_entropy", bad, batch_size=8, **KW)
    with pytest.raises(DataError, match=r"same number of fields; example 5 has 3, example 0 has 2"):
        ti.fit()
    ragged = pairs[:3] + [(X[3][:2], y[3])] + pairs[4:]
    with pytest.raises(DataError, match=r"train examples 0..7 could not be batched .*same shape in every example"):
        TorchInfluence(net, "cross_entropy", ragged, batch_size=8, **KW).fit()
    with pytest.raises(DataError,
                       match="element 1 of the train tuple must be a torch tensor or a numpy array, got str"):
        TorchInfluence(net, "cross_entropy", [X, "y"], **KW)
    with pytest.raises(DataError, match=r"mixes examples \(tuples\) and other elements"):
        TorchInfluence(net, "cross_entropy", pairs[:3] + [X[3]], **KW)
    with pytest.raises(DataError, match=r"must be a tuple of tensors .* or a DataLoader over one; got int"):
        TorchInfluence(net, "cross_entropy", 3, **KW)
    ti = TorchInfluence(net, "cross_entropy", pairs, **KW).fit()
    with pytest.raises(DataError, match=r"query input 0 has shape \(2,\) per example"):
        ti.scores([(X[0][:2], y[0])])
