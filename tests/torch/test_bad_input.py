"""Bad input to TorchInfluence: clear messages naming what is wrong and where."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from regdiag import DataError, InfluenceWarning  # noqa: E402
from regdiag._validation import ModelError  # noqa: E402
from regdiag.torch import TorchInfluence  # noqa: E402


def problem(n=20, seed=0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    return net, torch.randn(n, 3, dtype=torch.float64), torch.randint(0, 2, (n,))


KW = dict(damping=1e-2, check_optimum=False)


def test_unsupported_large_layer_in_a_kfac_request_is_named():
    class Embed(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(5000, 8)
            self.out = nn.Linear(8, 2)

        def forward(self, idx):  # the table indexed directly, not through the layer: not a Kronecker block
            return self.out(self.emb.weight[idx])

    net = Embed().double()
    idx, y = torch.randint(0, 5000, (30,)), torch.randint(0, 2, (30,))
    with pytest.raises(ModelError, match=r"emb\.weight.*exclude"):
        TorchInfluence(net, "cross_entropy", (idx, y), curvature="ekfac", **KW).fit()
    ti = TorchInfluence(net, "cross_entropy", (idx, y), curvature="ekfac", exclude=["emb.*"], **KW).fit()
    assert ti.model.excluded == ("emb.weight",) and len(ti.param_names) == 18
    assert TorchInfluence(net, "cross_entropy", (idx, y), curvature="diagonal", **KW).fit().scores(
        (idx[:2], y[:2])).shape == (2, 30)
    with pytest.raises(ModelError, match="matches no trainable parameter"):
        TorchInfluence(net, "cross_entropy", (idx, y), exclude=["nope*"], **KW).fit()


def test_model_not_at_an_optimum_warns_with_the_gradient_norm():
    net, X, y = problem()
    with pytest.warns(InfluenceWarning, match=r"not at an optimum.*gradient norm is \d"):
        ti = TorchInfluence(net, "cross_entropy", (X, y), damping=1e-2).fit()
    assert ti.gradient_norm > 1e-2
    # trained to the optimum of the penalized objective: no warning
    opt = torch.optim.LBFGS(net.parameters(), max_iter=500, tolerance_grad=1e-12, tolerance_change=0,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(X), y) + 0.05 * sum((p**2).sum() for p in net.parameters())
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", InfluenceWarning)
        ti = TorchInfluence(net, "cross_entropy", (X, y), l2=0.1, damping=1e-2).fit()
    assert ti.gradient_norm < 1e-6


def test_nan_losses_name_the_rows():
    net, X, y = problem()
    X[[4, 9]] = float("nan")
    with pytest.raises(ModelError, match=r"NaN or infinite.*for train rows 4, 9"):
        TorchInfluence(net, "cross_entropy", (X, y), **KW).fit()
    net, X, y = problem()
    ti = TorchInfluence(net, "cross_entropy", (X, y), **KW).fit()
    Xq = X[:3].clone()
    Xq[1, 0] = float("inf")
    with pytest.raises(ModelError, match=r"query rows 1"):
        ti.scores((Xq, y[:3]))


def test_mismatched_devices_and_dtypes():
    net, X, y = problem()
    with pytest.raises(ModelError, match=r"device='cuda'.*model's parameters are on 'cpu'"):
        TorchInfluence(net, "cross_entropy", (X, y), device="cuda", **KW)
    assert TorchInfluence(net, "cross_entropy", (X, y), device="cpu", **KW).device == torch.device("cpu")
    with pytest.raises(DataError, match=r"train input 0 is torch.float32 but the model's parameters are torch.float64"):
        TorchInfluence(net, "cross_entropy", (X.float(), y), **KW)
    ti = TorchInfluence(net, "cross_entropy", (X, y), **KW).fit()
    with pytest.raises(DataError, match=r"query input 0 is torch.float32"):
        ti.scores((X[:2].float(), y[:2]))
    mixed = nn.Sequential(nn.Linear(3, 4).double(), nn.Linear(4, 2).float())
    with pytest.raises(ModelError, match="several dtypes"):
        TorchInfluence(mixed, "cross_entropy", (X, y), **KW)
    with pytest.raises(ModelError, match="float64, float32, bfloat16 or float16"):
        TorchInfluence(nn.Linear(3, 2).to(torch.complex64), "cross_entropy", (X.to(torch.complex64), y), **KW)
    meta = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2, device="meta"))
    with pytest.raises(ModelError, match="several devices"):
        TorchInfluence(meta, "cross_entropy", (X.float(), y), **KW)


def test_wrong_query_shape():
    net, X, y = problem()
    ti = TorchInfluence(net, "cross_entropy", (X, y), **KW).fit()
    with pytest.raises(DataError,
                       match=r"query input 0 has shape \(4,\) per example but the training input 0 has \(3,\)"):
        ti.scores((torch.randn(2, 4, dtype=torch.float64), y[:2]))
    with pytest.raises(DataError, match=r"query target has shape \(2,\) per example"):
        ti.scores((X[:2], torch.zeros(2, 2, dtype=torch.long)))
    with pytest.raises(DataError, match="inputs and targets"):
        ti.scores((X[:2],))
    with pytest.raises(DataError, match="same number of rows"):
        ti.scores((X[:2], y[:3]))


def test_bad_targets_losses_and_options():
    net, X, y = problem()
    with pytest.raises(DataError, match=r"class indices in 0..1; got \[5\]"):
        TorchInfluence(net, "cross_entropy", (X, torch.full_like(y, 5)), **KW).fit()
    with pytest.raises(DataError, match="mse needs targets shaped like the outputs"):
        TorchInfluence(net, "mse", (X, torch.randn(20, 3, dtype=torch.float64)), **KW).fit()
    with pytest.raises(ValueError, match="is not one of 'mse'"):
        TorchInfluence(net, "hinge", (X, y), **KW)
    with pytest.raises(ValueError, match="reduction stated"):
        TorchInfluence(net, nn.functional.cross_entropy, (X, y), **KW)
    with pytest.raises(ValueError, match="curvature='kfc' is not one of"):
        TorchInfluence(net, "cross_entropy", (X, y), curvature="kfc")
    with pytest.raises(ValueError, match="mc_samples applies to sampling='mc'"):
        TorchInfluence(net, "cross_entropy", (X, y), mc_samples=3)
    with pytest.raises(RuntimeError, match="fit"):
        TorchInfluence(net, "cross_entropy", (X, y), **KW).scores((X, y))
    with pytest.raises(ValueError, match="low-rank query compression applies to correction='none'"):
        TorchInfluence(net, "cross_entropy", (X, y), correction="leverage", **KW).fit().scores((X, y), query_rank=2)


def test_leverage_above_one_under_an_approximate_curvature_warns():
    # a confident classifier: K-FAC's averaged output curvature is far below that of the uncertain examples
    g = torch.Generator().manual_seed(3)
    centers = 4.0 * torch.eye(3, dtype=torch.float64)
    y = torch.arange(60) % 3
    X = centers[y] + torch.randn(60, 3, generator=g, dtype=torch.float64)
    net = nn.Linear(3, 3).double()
    opt = torch.optim.LBFGS(net.parameters(), max_iter=300, tolerance_grad=1e-12, tolerance_change=0,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(X), y) + 0.5e-3 * sum((p**2).sum() for p in net.parameters())
        loss.backward()
        return loss

    opt.step(closure)
    ti = TorchInfluence(net, "cross_entropy", (X, y), curvature="kfac", l2=1e-3, correction="leverage").fit()
    with pytest.warns(InfluenceWarning, match=r"kfac curvature gives \d+ training example\(s\) a generalized "
                                              r"leverage above 1 \(largest \d"):
        ti.self_influence()
    import warnings

    gn = TorchInfluence(net, "cross_entropy", (X, y), curvature="gauss_newton", l2=1e-3, correction="leverage").fit()
    with warnings.catch_warnings():
        warnings.simplefilter("error", InfluenceWarning)
        gn.self_influence()
    assert gn.max_leverage().max() <= 1.0 + 1e-10 < ti.max_leverage().max()
    # one output: the largest eigenvalue is the leverage itself
    b = TorchInfluence(nn.Linear(3, 1).double(), "bce_with_logits", (X, (y == 0).double()[:, None]),
                       curvature="gauss_newton", correction="leverage", damping=1e-2, check_optimum=False).fit()
    np.testing.assert_allclose(b.max_leverage(), b.influence().leverage, rtol=1e-10, atol=1e-14)


def test_a_measurement_with_one_value_per_output_is_explained():
    net, X, y = problem()
    ti = TorchInfluence(net, "cross_entropy", (X, y), **KW).fit()
    q = (X[:2], y[:2])
    with pytest.raises(ModelError, match=r"measurement\(output, target\) must return one number per example, shape "
                                         r"\(batch,\): given the output of one example, shape \(1, 2\), it returned "
                                         r"shape \(1, 2\)"):
        ti.scores(q, lambda out, t: out.softmax(dim=1))
    with pytest.raises(ModelError, match=r"one number per example.*returned float"):
        ti.scores(q, lambda out, t: 1.0)
    with pytest.raises(ModelError, match="floating-point"):
        ti.scores(q, lambda out, t: out.argmax(dim=1))
    with pytest.raises(ModelError, match="one number per example"):
        ti.top(q, measurement=lambda out, t: out)
    # one number per example, (batch,) or a batch's mean: accepted
    assert ti.scores(q, lambda out, t: out[:, 1] - out[:, 0]).shape == (2, 20)
    assert ti.scores(q, lambda out, t: out.logsumexp(dim=1).mean()).shape == (2, 20)


def test_a_factor_that_overflows_is_named_with_its_layer():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 2)).double()
    X = torch.randn(10, 3, dtype=torch.float64)
    X[4, 0] = 1e200  # finite, but its square is not
    y = torch.randint(0, 2, (10,))
    with pytest.raises(ModelError, match=r"the input factor of the kfac block '0' has NaN or infinite entries"):
        TorchInfluence(net, "cross_entropy", (X, y), curvature="kfac", **KW).fit()


def test_exact_curvature_on_a_model_torch_func_cannot_batch_names_the_cause():
    """A forward pass with data-dependent control flow cannot run under vmap: the exact curvature says so, and
    what works (EK-FAC here)."""

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2)

        def forward(self, x):
            out = self.lin(x)
            return out * 2.0 if bool(out.sum() > 0) else out  # a Python branch on the data

    torch.manual_seed(0)
    net = Branchy().double()
    X, y = torch.randn(20, 3, dtype=torch.float64), torch.randint(0, 2, (20,))
    with pytest.raises(ModelError, match=r"exact curvature .*torch\.func.*gauss_newton"):
        TorchInfluence(net, "cross_entropy", (X, y), curvature="exact", **KW).fit()
    ti = TorchInfluence(net, "cross_entropy", (X, y), curvature="ekfac", **KW).fit()
    assert np.isfinite(ti.self_influence()).all()
