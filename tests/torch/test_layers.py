"""nn.Linear layers whose weights are used without calling the layer (nn.MultiheadAttention's out_proj, F.linear
with a layer's weight) or also outside its call (tied weights): their parameters are plain blocks, scored against
references built with torch.func alone."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from regdiag._validation import ModelError  # noqa: E402
from regdiag.torch import TorchInfluence  # noqa: E402


class Attention(nn.Module):
    def __init__(self, d=4, k=3):
        super().__init__()
        self.att = nn.MultiheadAttention(d, 2, batch_first=True)  # calls F.linear with out_proj's weight and bias
        self.head = nn.Linear(d, k)

    def forward(self, x):
        h, _ = self.att(x, x, x)
        return self.head(torch.tanh(h.mean(dim=1)))


class FunctionalLinear(nn.Module):
    def __init__(self, d=3, h=4, k=3):
        super().__init__()
        self.lin = nn.Linear(d, h)
        self.head = nn.Linear(h, k)

    def forward(self, x):
        return self.head(torch.tanh(F.linear(x, self.lin.weight, self.lin.bias)))


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 3)

    def forward(self, x):
        return self.a(torch.tanh(x)) + x @ self.a.weight  # the weight used in and outside the layer's call


def problem(kind, n=16, seed=0):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    if kind == "attention":
        net, X = Attention(), torch.randn(n, 5, 4, generator=g, dtype=torch.float64)
    elif kind == "functional":
        net, X = FunctionalLinear(), torch.randn(n, 3, generator=g, dtype=torch.float64)
    else:
        net, X = Tied(), torch.randn(n, 3, generator=g, dtype=torch.float64)
    return net.double().eval(), X, torch.randint(0, 3, (n,), generator=g)


def reference(net, X, y, Xq, yq, damping, curvature):
    """Scores ``g_q' (C + damping I)^{-1} g_i / n`` with the parameters in ``named_parameters()`` order (scores do not
    depend on the order), ``C`` the Gauss-Newton matrix or the Hessian, everything by torch.func."""
    names = [nm for nm, _ in net.named_parameters()]
    shapes = [p.shape for _, p in net.named_parameters()]
    theta = torch.cat([p.detach().reshape(-1) for _, p in net.named_parameters()])

    def unflatten(t):
        out, pos = {}, 0
        for nm, sh in zip(names, shapes):
            size = int(np.prod(sh))
            out[nm] = t[pos : pos + size].reshape(sh)
            pos += size
        return out

    def f(t, x):
        return torch.func.functional_call(net, unflatten(t), (x[None],))[0]

    def loss(t, x, yy):
        return F.cross_entropy(f(t, x)[None], yy[None])

    n = len(X)
    if curvature == "gauss_newton":
        J = torch.func.vmap(torch.func.jacrev(f), in_dims=(None, 0))(theta, X)
        p = torch.softmax(torch.func.vmap(f, in_dims=(None, 0))(theta, X), dim=1)
        Lam = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
        C = torch.einsum("ikp,ikl,ilq->pq", J, Lam, J) / n
    else:
        C = torch.func.hessian(lambda t: torch.func.vmap(loss, in_dims=(None, 0, 0))(t, X, y).mean())(theta)
    G = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))(theta, X, y)
    Gq = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))(theta, Xq, yq)
    A = C + damping * torch.eye(len(theta), dtype=theta.dtype)
    return (Gq @ torch.linalg.solve(A, G.T) / n).numpy(), C, names


@pytest.mark.parametrize("kind", ["attention", "functional", "tied"])
def test_linear_weights_used_without_the_layer_call_are_plain_blocks_scored_exactly(kind):
    net, X, y = problem(kind)
    q = (X[:3] + 0.1, y[:3])
    damping = 1.0
    for curvature in ("gauss_newton", "exact"):
        ti = TorchInfluence(net, "cross_entropy", (X, y), curvature=curvature, damping=damping, batch_size=5,
                            check_optimum=False).fit()
        want, _, _ = reference(net, X, y, *q, damping, curvature)
        np.testing.assert_allclose(ti.scores(q), want, rtol=1e-9, atol=1e-12 * np.abs(want).max())
    m = ti.model
    name = {"attention": "att.out_proj", "functional": "lin", "tied": "a"}[kind]
    assert name in (m.uncalled if kind != "tied" else m.shared)
    assert [lay.name for lay in m.layers] == ([] if kind == "tied" else ["head"])
    plain = {b.name for b in m.blocks if not b.kron}
    assert {f"{name}.weight", f"{name}.bias"} <= plain


@pytest.mark.parametrize("kind", ["attention", "functional"])
def test_kfac_and_ekfac_give_such_layers_their_dense_gauss_newton_block(kind):
    net, X, y = problem(kind)
    q = (X[:3], y[:3])
    _, gn, names = reference(net, X, y, *q, 1.0, "gauss_newton")
    sizes = {nm: p.numel() for nm, p in net.named_parameters()}
    starts = np.cumsum([0] + [sizes[nm] for nm in names])
    name = "att.out_proj.weight" if kind == "attention" else "lin.weight"
    j = names.index(name)
    ref_block = gn[starts[j] : starts[j + 1], starts[j] : starts[j + 1]]
    assert float(ref_block.abs().max()) > 1e-3
    for curvature in ("kfac", "ekfac"):
        ti = TorchInfluence(net, "cross_entropy", (X, y), curvature=curvature, damping=1e-2, check_optimum=False).fit()
        blk = next(b for b in ti.model.blocks if b.name == name)
        C = ti.engine.curvature.dense()
        torch.testing.assert_close(C[blk.slice, blk.slice], ref_block, rtol=1e-10, atol=1e-12)
        S = ti.scores(q)
        assert S.shape == (3, 16) and np.isfinite(S).all() and np.all(np.diag(S[:, :3]) > 0)


def test_a_large_uncalled_layer_under_kfac_is_named_without_claiming_no_influence(monkeypatch):
    import regdiag.torch.influence as ti_mod

    net, X, y = problem("attention")
    monkeypatch.setattr(ti_mod, "PLAIN_BLOCK_LIMIT", 12)  # in_proj_weight (48) and out_proj.weight (16) are over
    with pytest.raises(ModelError) as err:
        TorchInfluence(net, "cross_entropy", (X, y), curvature="ekfac", damping=1e-2, check_optimum=False).fit()
    msg = str(err.value)
    assert "att.out_proj.weight" in msg and "used without calling the layer" in msg and "exclude" in msg
    assert "no influence" not in msg and "not called" not in msg
    ti = TorchInfluence(net, "cross_entropy", (X, y), curvature="ekfac", damping=1e-2, check_optimum=False,
                        exclude=["att.in_proj_weight", "att.out_proj.weight"]).fit()
    assert ti.model.excluded == ("att.in_proj_weight", "att.out_proj.weight")


def test_unused_layers_and_layers_called_only_sometimes_are_refused_with_what_happened():
    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 3), nn.Linear(3, 3)

        def forward(self, x):
            return self.a(x)

    X, y = torch.randn(10, 3, dtype=torch.float64), torch.randint(0, 3, (10,))
    with pytest.raises(ModelError, match=r"layer 'b' was not called in the forward pass and no gradient reaches its "
                                         r"parameters, so they have no influence"):
        TorchInfluence(Unused().double(), "cross_entropy", (X, y), damping=1e-2, check_optimum=False).fit()

    class Sometimes(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 3)

        def forward(self, x):  # called through the module for large batches only
            return self.a(x) if len(x) > 4 else F.linear(x, self.a.weight, self.a.bias)

    with pytest.raises(ModelError, match=r"'a' were called through their modules on the first training examples but "
                                         r"not in the forward pass over train rows 0, 1, 2, 3"):
        TorchInfluence(Sometimes().double(), "cross_entropy", (X, y), batch_size=4, damping=1e-2,
                       check_optimum=False).fit()


def test_networks_that_mix_examples_are_still_refused():
    class Centered(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(3))
            self.a = nn.Linear(3, 3)

        def forward(self, x):
            return self.a(self.scale * (x - x.mean(dim=0)))  # batch statistics

    X, y = torch.randn(10, 3, dtype=torch.float64), torch.randint(0, 3, (10,))
    with pytest.raises(ModelError, match=r"'scale' do not add up to the batch gradient: the network mixes examples"):
        TorchInfluence(Centered().double(), "cross_entropy", (X, y), damping=1e-2, check_optimum=False).fit()


def test_an_in_place_activation_after_a_layer_gives_the_same_scores():
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3)).double()
    X, y = torch.randn(20, 3, dtype=torch.float64), torch.randint(0, 3, (20,))
    q = (X[:3], y[:3])
    scores = []
    for inplace in (False, True):  # in place, the recorded layer output is overwritten: its parameters are plain
        net[1].inplace = inplace
        ti = TorchInfluence(net, "cross_entropy", (X, y), curvature="gauss_newton", damping=0.1,
                            check_optimum=False).fit()
        assert ti.model.shared == (("0",) if inplace else ())
        scores.append(ti.scores(q))
    np.testing.assert_allclose(scores[1], scores[0], rtol=1e-10, atol=1e-15)
