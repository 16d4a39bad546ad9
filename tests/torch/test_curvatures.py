"""K-FAC, EK-FAC, Gauss-Newton and the exact Hessian of networks against matrices built with torch.func alone."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from regdiag.torch import TorchInfluence  # noqa: E402
from tests.torch import reference as ref  # noqa: E402


def dense(net, loss, data, curvature, **kw):
    ti = TorchInfluence(net, loss, data, curvature=curvature, damping=kw.pop("damping", 10.0), check_optimum=False,
                        **kw).fit()
    return ti.engine.curvature.dense()


def rel(a, b):
    return float(torch.linalg.matrix_norm(a - b) / torch.linalg.matrix_norm(b))


def mlp(seed, d=3, h=5, k=3, act=nn.Tanh):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, h), act(), nn.Linear(h, h, bias=False), act(), nn.Linear(h, k)).double()


def cnn(seed, k=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Tanh(), nn.Conv2d(3, 2, 2, stride=2, bias=False),
                         nn.Flatten(), nn.Linear(8, k)).double()


def data(n, shape, k, loss, seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn((n,) + shape, generator=g, dtype=torch.float64)
    if loss == "cross_entropy":
        return X, torch.randint(0, k, (n,), generator=g)
    if loss == "bce_with_logits":
        return X, torch.randint(0, 2, (n, k), generator=g).double()
    return X, torch.randn(n, k, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize("bias", [True, False])
def test_one_linear_layer_with_squared_loss_kfac_ekfac_gauss_newton_and_hessian_agree(k, bias):
    torch.manual_seed(k)
    net = nn.Linear(4, k, bias=bias).double()
    X, Y = data(30, (4,), k, "mse", seed=k)
    X = X * torch.tensor([0.1, 1.0, 3.0, 10.0], dtype=torch.float64)  # unequal scales
    exact = ref.gauss_newton(net, "mse", X, Y)
    torch.testing.assert_close(ref.hessian(net, "mse", X, Y), exact, rtol=1e-12, atol=1e-12)
    for curvature in ("kfac", "ekfac", "gauss_newton", "exact"):
        assert rel(dense(net, "mse", (X, Y), curvature, damping=0.0), exact) < 1e-12, curvature


def test_deep_linear_network_kfac_and_ekfac_equal_the_gauss_newton_block_diagonal():
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 4, bias=False), nn.Linear(4, 2)).double()
    X, Y = data(40, (3,), 2, "mse", seed=3)
    gn = ref.gauss_newton(net, "mse", X, Y)
    sizes = [4 * 4, 4 * 4, 2 * 5]
    mask = torch.block_diag(*[torch.ones(s, s, dtype=torch.float64) for s in sizes])
    block_diag = gn * mask
    assert float(torch.linalg.matrix_norm(gn - block_diag)) > 1e-3  # the layers interact: a real test
    for curvature in ("kfac", "ekfac"):
        C = dense(net, "mse", (X, Y), curvature)
        assert rel(C, block_diag) < 1e-11, curvature


@pytest.mark.parametrize("loss", ["mse", "cross_entropy", "bce_with_logits"])
def test_gauss_newton_and_hessian_equal_torch_func_on_an_mlp(loss):
    net = mlp(1)
    X, Y = data(20, (3,), 3, loss, seed=1)
    assert rel(dense(net, loss, (X, Y), "gauss_newton"), ref.gauss_newton(net, loss, X, Y)) < 1e-12
    assert rel(dense(net, loss, (X, Y), "exact"), ref.hessian(net, loss, X, Y)) < 1e-12


def test_gauss_newton_and_hessian_equal_torch_func_on_a_cnn():
    net = cnn(2)
    X, Y = data(12, (2, 4, 4), 3, "cross_entropy", seed=2)
    got = dense(net, "cross_entropy", (X, Y), "gauss_newton")
    assert rel(got, ref.gauss_newton(net, "cross_entropy", X, Y)) < 1e-12
    assert rel(dense(net, "cross_entropy", (X, Y), "exact"), ref.hessian(net, "cross_entropy", X, Y)) < 1e-12


@pytest.mark.parametrize("padding", [0, "same", "valid"])
@pytest.mark.parametrize("mode", ["zeros", "reflect"])
def test_convolution_patches_reproduce_the_gradients(padding, mode):
    torch.manual_seed(4)
    net = nn.Sequential(nn.Conv2d(2, 3, (3, 2), padding=padding, padding_mode=mode, dilation=(1, 2)), nn.Flatten(),
                        nn.LazyLinear(2)).double()
    X, Y = data(6, (2, 5, 6), 2, "mse", seed=4)
    net(X)  # materialize the lazy layer
    assert rel(dense(net, "mse", (X, Y), "gauss_newton"), ref.gauss_newton(net, "mse", X, Y)) < 1e-12


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", ["mlp-ce", "mlp-mse", "mlp-relu-bce", "cnn-ce"])
def test_ekfac_no_further_from_the_gauss_newton_matrix_than_kfac(seed, kind):
    if kind.startswith("cnn"):
        net, (X, Y), loss = cnn(seed), data(10, (2, 4, 4), 3, "cross_entropy", seed), "cross_entropy"
    else:
        loss = {"ce": "cross_entropy", "mse": "mse", "bce": "bce_with_logits"}[kind.split("-")[-1]]
        net = mlp(seed, act=nn.ReLU if "relu" in kind else nn.Tanh)
        X, Y = data(25, (3,), 3, loss, seed)
    gn = ref.gauss_newton(net, loss, X, Y)
    dk = float(torch.linalg.matrix_norm(dense(net, loss, (X, Y), "kfac") - gn))
    de = float(torch.linalg.matrix_norm(dense(net, loss, (X, Y), "ekfac") - gn))
    assert de <= dk * (1 + 1e-12)
    assert dk > 1e-6  # K-FAC is not exact here: the ordering is informative


def test_monte_carlo_gauss_newton_converges_to_the_exact_one():
    net = mlp(5)
    X, Y = data(30, (3,), 3, "cross_entropy", seed=5)
    gn = ref.gauss_newton(net, "cross_entropy", X, Y)
    few = rel(dense(net, "cross_entropy", (X, Y), "gauss_newton", sampling="mc", mc_samples=4), gn)
    many = rel(dense(net, "cross_entropy", (X, Y), "gauss_newton", sampling="mc", mc_samples=1000), gn)
    assert many < 0.1 < few * 2 and many < few


def test_empirical_fisher_is_the_mean_outer_product_of_gradients():
    net = mlp(6)
    X, Y = data(20, (3,), 3, "cross_entropy", seed=6)
    J = ref.jacobians(net, X)
    p = torch.softmax(net(X).detach(), dim=1)
    r = p - torch.nn.functional.one_hot(Y, 3).double()
    G = torch.einsum("ik,ikp->ip", r, J)
    ef = G.T @ G / len(X)
    assert rel(dense(net, "cross_entropy", (X, Y), "gauss_newton", sampling="empirical_fisher"), ef) < 1e-12
    assert rel(ef, ref.gauss_newton(net, "cross_entropy", X, Y)) > 0.05  # not the curvature


def test_plain_parameters_get_their_gauss_newton_block_in_kfac():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)
            self.scale = nn.Parameter(torch.tensor([1.5, 0.5, 1.0]))

        def forward(self, x):
            return self.lin(torch.tanh(x * self.scale))

    torch.manual_seed(7)
    net = Scaled().double()
    X, Y = data(20, (3,), 3, "mse", seed=7)
    gn = ref.gauss_newton(net, "mse", X, Y)
    ti = TorchInfluence(net, "mse", (X, Y), curvature="kfac", damping=1e-3, check_optimum=False).fit()
    C = ti.engine.curvature.dense()
    names = list(ti.param_names)
    # named_parameters() order: the module's own parameter, then the layer's
    assert names[:4] == ["scale[0]", "scale[1]", "scale[2]", "lin.weight[0,0]"] and names[-1] == "lin.bias[2]"
    # the plain block is the exact Gauss-Newton block; the linear layer alone is exact too (squared loss)
    torch.testing.assert_close(C[:3, :3], gn[:3, :3], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(C[3:, 3:], gn[3:, 3:], rtol=1e-12, atol=1e-12)
    assert float(C[3:, :3].abs().max()) == 0.0 and float(gn[3:, :3].abs().max()) > 1e-3


@pytest.mark.parametrize("kind", ["mlp-ce", "mlp-relu-bce", "cnn-ce"])
def test_ekfac_eigenvalues_are_the_diagonal_of_the_gauss_newton_block_in_the_kfac_eigenbasis(kind):
    if kind.startswith("cnn"):
        net, (X, Y), loss = cnn(5), data(10, (2, 4, 4), 3, "cross_entropy", 5), "cross_entropy"
    else:
        loss = "cross_entropy" if kind.endswith("ce") else "bce_with_logits"
        net, (X, Y) = mlp(5, act=nn.ReLU if "relu" in kind else nn.Tanh), data(25, (3,), 3, loss, 5)
    gn = ref.gauss_newton(net, loss, X, Y)
    fit = {c: TorchInfluence(net, loss, (X, Y), curvature=c, damping=1.0, check_optimum=False).fit()
           for c in ("kfac", "ekfac")}
    ek, kf = fit["ekfac"].engine.curvature, fit["kfac"].engine.curvature
    parts = ek.kron_parts()
    assert len(parts) == 3
    for (blk, part), (_, kpart) in zip(parts, kf.kron_parts()):
        G = gn[blk.slice, blk.slice]
        Q = torch.kron(part.QG, part.QA)  # the engine's row-major (d_out, d_in) order
        want = torch.diagonal(Q.T @ G @ Q).reshape(blk.shape)
        torch.testing.assert_close(part.E, want, rtol=1e-9, atol=1e-12 * float(want.abs().max()))
        torch.testing.assert_close(part.QG, kpart.QG, rtol=0, atol=0)  # K-FAC's eigenbasis
        # the correction changes the eigenvalues: K-FAC's g a' are not the diagonal
        assert float((kpart.E - want).abs().max()) > 1e-3 * float(want.abs().max())
        # and the block is strictly closer to the Gauss-Newton block than K-FAC's
        dk = float(torch.linalg.matrix_norm(torch.kron(*kpart.factors) - G))
        de = float(torch.linalg.matrix_norm(Q @ torch.diag(part.E.reshape(-1)) @ Q.T - G))
        assert de < 0.999 * dk, (blk.name, de, dk)
    # over the whole matrix: the blocks between layers are zero in both, the gain is within the layers
    mask = torch.block_diag(*[torch.ones(b.size, b.size, dtype=torch.float64) for b in ek.blocks])
    dk = float(torch.linalg.matrix_norm(kf.dense() - gn * mask))
    de = float(torch.linalg.matrix_norm(ek.dense() - gn * mask))
    assert de < 0.999 * dk
    assert float(torch.linalg.matrix_norm(ek.dense() - gn)) < float(torch.linalg.matrix_norm(kf.dense() - gn))
