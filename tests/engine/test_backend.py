"""The array backend: numpy's operations, and the whole engine run on another library's arrays (torch, if present)."""

from __future__ import annotations

import numpy as np
import pytest

from regdiag import engine
from regdiag.engine.backend import NUMPY, Backend, get_backend, register_backend, unregister_backend
from tests.engine.models import CanonicalGLM, MultiOutputLinear, TanhMLP


def test_numpy_backend_operations():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    S = A @ A.T + np.eye(4)
    bk = get_backend(S)
    assert bk is NUMPY
    w, V = bk.eigh(S)
    np.testing.assert_allclose((V * w) @ V.T, S, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bk.eigvalsh(S), w, rtol=1e-12, atol=0)
    L = bk.cholesky(S)
    np.testing.assert_allclose(L @ L.T, S, rtol=1e-12, atol=1e-12)
    assert bk.cholesky(-S) is None
    B = rng.standard_normal((4, 2))
    np.testing.assert_allclose(L @ bk.solve_triangular(L, B, lower=True), B, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(L.T @ bk.solve_triangular(L, B, lower=True, transpose=True), B, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bk.norm(B, axis=0), np.linalg.norm(B, axis=0), rtol=1e-15, atol=0)
    assert bk.swap(np.zeros((2, 3, 4))).shape == (2, 4, 3)
    np.testing.assert_array_equal(bk.diagonal(S), np.diag(S))
    X = np.ones((3, 2))
    X[1, 0] = np.nan
    assert bk.all_finite(S) and not bk.all_finite(X)
    np.testing.assert_array_equal(bk.all_finite(X, axis=0), [True, False, True])
    assert bk.randn((3,), like=S, rng=np.random.default_rng(1)).shape == (3,)
    with pytest.raises(TypeError, match="Backend"):
        register_backend(lambda x: True, object())


class _Tagged(np.ndarray):
    """numpy arrays of a distinct type, served by a recording backend."""


class _Recording(type(NUMPY)):
    def __init__(self):
        self.calls = set()

    def __getattribute__(self, name):
        if not name.startswith("_") and name not in ("calls", "name"):
            object.__getattribute__(self, "calls").add(name)
        return object.__getattribute__(self, name)


def test_the_engine_dispatches_on_the_array_type():
    rng = np.random.default_rng(0)
    model = CanonicalGLM(rng.standard_normal((20, 3)), (rng.uniform(size=20) < 0.5).astype(float))

    class Wrapped:
        def __init__(self, m):
            self.m = m
            self.n_obs, self.n_params, self.param_names = m.n_obs, m.n_params, m.param_names

        def loss_gradients(self, rows):
            return self.m.loss_gradients(rows).view(_Tagged)

        def hessian(self):
            return self.m.hessian().view(_Tagged)

    rec = _Recording()
    register_backend(lambda x: isinstance(x, _Tagged), rec)
    try:
        res = engine.influence(Wrapped(model))
    finally:
        unregister_backend(rec)
    assert {"eigvalsh", "cholesky", "solve_triangular", "all_finite", "to_numpy"} <= rec.calls
    np.testing.assert_allclose(res.param_influence, engine.influence(model).param_influence, rtol=1e-14, atol=0)


# ---- torch (optional) -------------------------------------------------------------------------------------------


def _torch_backend():
    torch = pytest.importorskip("torch")

    class TorchBackend(Backend):
        name = "torch"

        def asarray(self, x, like=None):
            dt = like.dtype if like is not None else torch.float64
            dev = like.device if like is not None else None
            if isinstance(x, torch.Tensor):
                return x.to(dtype=dt, device=dev)
            return torch.as_tensor(np.asarray(x, dtype=float), dtype=dt, device=dev)

        def to_numpy(self, x):
            return x.detach().cpu().double().numpy()

        def zeros(self, shape, like):
            return torch.zeros(shape, dtype=like.dtype, device=like.device)

        def eye(self, n, like):
            return torch.eye(n, dtype=like.dtype, device=like.device)

        def copy(self, x):
            return x.clone()

        def sqrt(self, x):
            return torch.sqrt(x)

        def abs(self, x):
            return torch.abs(x)

        def sum(self, x, axis=None):
            return torch.sum(x) if axis is None else torch.sum(x, dim=axis)

        def max(self, x):
            return float(x.max())

        def min(self, x):
            return float(x.min())

        def all_finite(self, x, axis=None):
            fin = torch.isfinite(x)
            if axis is None:
                return bool(fin.all())
            other = tuple(a for a in range(fin.ndim) if a != axis % fin.ndim)
            return (fin.all(dim=other) if other else fin).cpu().numpy()

        def where(self, cond, x, y):
            return torch.where(cond, x, y)

        def swap(self, x):
            return x.transpose(-1, -2)

        def concat(self, xs, axis=0):
            return torch.cat(xs, dim=axis)

        def diagonal(self, x):
            return torch.diagonal(x, dim1=-2, dim2=-1).clone()

        def einsum(self, spec, *ops):
            return torch.einsum(spec, *ops)

        def eigh(self, a):
            return torch.linalg.eigh(a)

        def eigvalsh(self, a):
            return torch.linalg.eigvalsh(a)

        def cholesky(self, a):
            L, info = torch.linalg.cholesky_ex(a)
            return None if bool(info.any()) else L

        def solve_triangular(self, a, b, *, lower, transpose=False):
            if transpose:
                return torch.linalg.solve_triangular(a.mT, b, upper=lower)
            return torch.linalg.solve_triangular(a, b, upper=not lower)

    return torch, TorchBackend()


class _TorchModel:
    """A numpy test model whose arrays come out (and go in) as torch tensors."""

    def __init__(self, m, torch, device):
        self.m, self.t, self.dev = m, torch, device
        for a in ("n_obs", "n_params", "param_names", "blocks", "n_outputs", "l2"):
            if hasattr(m, a):
                setattr(self, a, getattr(m, a))
        for meth in ("loss_gradients", "hessian", "hessian_factors", "output_hessians", "output_vjp",
                     "kron_factors", "query_gradients"):
            if hasattr(m, meth):
                setattr(self, meth, self._wrap(getattr(m, meth)))

    def _conv(self, v):
        if isinstance(v, self.t.Tensor):
            return v.cpu().numpy()
        if isinstance(v, np.ndarray):
            return self.t.as_tensor(v, device=self.dev)
        if isinstance(v, dict):
            return {k: self._conv(x) for k, x in v.items()}
        if isinstance(v, tuple):
            return tuple(self._conv(x) for x in v)
        return v

    def _wrap(self, f):
        return lambda *args: self._conv(f(*[self._conv(a) for a in args]))


def _devices():
    try:
        import torch
    except ImportError:
        return ["cpu"]
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", _devices())
def test_torch_tensors_flow_through_the_same_code(device):
    torch, tb = _torch_backend()
    rng = np.random.default_rng(0)
    glm = CanonicalGLM(np.column_stack([np.ones(30), rng.standard_normal((30, 2))]),
                       (rng.uniform(size=30) < 0.5).astype(float), l2=0.1)
    mlp = TanhMLP(rng.standard_normal((25, 3)), np.eye(3)[rng.integers(0, 3, 25)], loss="ce", seed=2)
    lin = MultiOutputLinear(rng.standard_normal((20, 3)), rng.standard_normal((20, 2)))
    register_backend(lambda x: isinstance(x, torch.Tensor), tb)
    try:
        runs = [
            (glm, dict(curvature="exact", correction="leverage")),
            (glm, dict(curvature="ekfac", solver="cg", solver_options={"preconditioner": "kfac"})),
            (glm, dict(curvature="exact", solver="lissa")),
            (glm, dict(curvature="exact", solver="lowrank", damping=0.01, solver_options={"rank": 2})),
            (mlp, dict(curvature="kfac", damping=engine.Damping.relative(1e-3))),
            (mlp, dict(curvature="ekfac", correction="leverage", damping=1e-3)),
            (mlp, dict(curvature="gauss_newton", damping=1e-3, curvature_options={"mc_samples": 3})),
            (lin, dict(curvature="diagonal", correction="leverage")),
        ]
        for m, kw in runs:
            ref = engine.influence(m, **kw)
            got = engine.influence(_TorchModel(m, torch, device), **kw)
            scale = np.abs(ref.param_influence).max()
            # Monte Carlo vectors R z use a square root of a singular softmax Hessian: accurate to sqrt(eps) only
            tol = 1e-6 if "curvature_options" in kw else 1e-8
            np.testing.assert_allclose(got.param_influence, ref.param_influence, rtol=tol, atol=1e-2 * tol * scale,
                                       err_msg=str(kw))
            np.testing.assert_allclose(got.cooks_distance, ref.cooks_distance, rtol=tol, atol=1e-12)
    finally:
        unregister_backend(tb)
