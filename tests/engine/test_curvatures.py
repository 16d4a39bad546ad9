"""Curvatures against independently built matrices, where theory says exact and by ordering elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regdiag import engine
from tests.engine.models import CanonicalGLM, MultiOutputLinear, TanhMLP


def dense(name, model, **opts):
    return engine.make_curvature(name, engine.ModelView(model), **opts).dense()


def rel_fro(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 5), d=st.integers(1, 6), seed=st.integers(0, 10_000), bias=st.booleans())
def test_kfac_is_exact_gauss_newton_for_one_linear_layer_with_squared_loss(k, d, seed, bias):
    rng = np.random.default_rng(seed)
    n = 3 * d + 5
    X = rng.standard_normal((n, d)) * rng.uniform(0.1, 10, d)
    if bias:
        X = np.column_stack([X, np.ones(n)])
    L = rng.standard_normal((k, k))
    S = L @ L.T + 0.1 * np.eye(k)  # a fixed metric: squared Mahalanobis loss, any output dimension
    model = MultiOutputLinear(X, rng.standard_normal((n, k)), S=S)
    gn = np.einsum("op,ij,il->ojpl", S, X, X).reshape(k * X.shape[1], -1) / n
    for name in ("exact", "gauss_newton", "kfac", "ekfac"):
        C = dense(name, model)
        assert rel_fro(C, gn) < 1e-10, name


def _random_mlp(seed, loss):
    rng = np.random.default_rng(seed)
    n, d, k = 25, 3, 3
    X = rng.standard_normal((n, d))
    if loss == "ce":
        Y = np.eye(k)[rng.integers(0, k, n)]
    else:
        Y = rng.standard_normal((n, k))
    return TanhMLP(X, Y, hidden=4, loss="mse" if loss == "mse" else "ce", seed=seed)


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_gauss_newton_matches_finite_difference_jacobians(loss):
    model = _random_mlp(5, loss)
    J = model.fd_jacobians()
    Lam = model.output_hessians(slice(None))
    ref = np.einsum("ikp,ikl,ilq->pq", J, Lam, J) / model.n_obs
    assert rel_fro(dense("gauss_newton", model), ref) < 1e-8


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), loss=st.sampled_from(["mse", "ce"]))
def test_ekfac_never_further_from_gauss_newton_than_kfac(seed, loss):
    model = _random_mlp(seed, loss)
    gn = dense("gauss_newton", model)
    dk = np.linalg.norm(dense("kfac", model) - gn)
    de = np.linalg.norm(dense("ekfac", model) - gn)
    assert de <= dk * (1 + 1e-12) + 1e-13


def test_kfac_block_structure_on_two_layers():
    model = _random_mlp(1, "ce")
    C = dense("kfac", model)
    p1 = model.blocks[0].size
    assert np.all(C[:p1, p1:] == 0)
    # the diagonal block of the last layer: G (x) A with A the mean of the layer's inputs' outer products
    a2 = model.forward(model.params, model.X)[2]
    A = a2.T @ a2 / model.n_obs
    Lam = model.output_hessians(slice(None))
    G = Lam.mean(axis=0)  # the last layer's output vectors are the output Hessian's square roots
    np.testing.assert_allclose(C[p1:, p1:], np.kron(G, A), rtol=1e-10, atol=1e-13)


def test_monte_carlo_gauss_newton_is_unbiased_and_seeded():
    model = _random_mlp(2, "ce")
    gn = dense("gauss_newton", model)
    a = dense("gauss_newton", model, mc_samples=4000, seed=1)
    b = dense("gauss_newton", model, mc_samples=4000, seed=1)
    c = dense("gauss_newton", model, mc_samples=4000, seed=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert rel_fro(a, gn) < 0.05
    k = dense("kfac", model, mc_samples=4000, seed=1)
    assert rel_fro(k, dense("kfac", model)) < 0.05
    # each row's draws depend on the seed and the row only, not on how rows are batched
    for name in ("gauss_newton", "kfac", "ekfac"):
        small = engine.make_curvature(name, engine.ModelView(model), mc_samples=3, seed=5, batch_size=4).dense()
        whole = engine.make_curvature(name, engine.ModelView(model), mc_samples=3, seed=5, batch_size=25).dense()
        np.testing.assert_allclose(small, whole, rtol=1e-12, atol=1e-14, err_msg=name)


def test_diagonal_and_identity():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    model = CanonicalGLM(X, (rng.uniform(size=40) < 0.5).astype(float), l2=0.1)
    H = model.hessian() + 0.1 * np.eye(3)
    np.testing.assert_allclose(dense("diagonal", model), np.diag(np.diag(H)), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dense("diagonal", model, of="exact"), np.diag(np.diag(H)), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dense("identity", model), 1.1 * np.eye(3), rtol=1e-15, atol=0)


def test_relative_damping_is_a_multiple_of_the_mean_eigenvalue():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    model = CanonicalGLM(X, (rng.uniform(size=40) < 0.5).astype(float), l2=0.1)
    H = model.hessian() + 0.1 * np.eye(3)
    for name in ("exact", "kfac", "ekfac", "diagonal"):
        eng = engine.InfluenceEngine(model, name, damping=engine.Damping.relative(0.5))
        assert eng.damping == pytest.approx(0.5 * np.trace(eng.curvature.dense()) / 3, rel=1e-12)
    eng = engine.InfluenceEngine(model, "exact", damping=engine.Damping.relative(0.5))
    assert eng.damping == pytest.approx(0.5 * np.trace(H) / 3, rel=1e-12)
    res = eng.run()
    g = model.loss_gradients(slice(None))
    np.testing.assert_allclose(res.param_influence, np.linalg.solve(H + eng.damping * np.eye(3), g.T).T / 40,
                               rtol=1e-10, atol=1e-15)
    assert res.damping == eng.damping and "mean eigenvalue" in res.damping_spec


def test_leverage_correction_is_exact_deletion_for_several_outputs():
    """Quadratic loss with three outputs: the Woodbury step with a rank-3 term equals the refit without i."""
    rng = np.random.default_rng(4)
    n, d, k = 30, 4, 3
    X = rng.standard_normal((n, d))
    S = rng.standard_normal((n, k, k))
    S = S @ np.swapaxes(S, 1, 2) + 0.1 * np.eye(k)
    model = MultiOutputLinear(X, rng.standard_normal((n, k)), S=S, l2=0.05)
    loo = np.array([model.loo_params(i) - model.params for i in range(n)])
    for name in ("exact", "gauss_newton"):
        res = engine.influence(model, name, correction="leverage")
        np.testing.assert_allclose(res.param_influence, loo, rtol=1e-9, atol=1e-12 * np.abs(loo).max())
    plain = engine.influence(model)
    assert np.abs(plain.param_influence - loo).max() > 1e-3 * np.abs(loo).max()


def test_kfac_keeps_the_exact_gauss_newton_block_of_a_block_without_kronecker_structure():
    model = _random_mlp(6, "ce")
    gn = dense("gauss_newton", model)
    b1, b2 = model.blocks
    model.blocks = (b1, engine.Block("layer2", b2.start, b2.stop))  # no shape: a dense block
    for name in ("kfac", "ekfac"):
        cur = engine.make_curvature(name, engine.ModelView(model))
        C = cur.dense()
        np.testing.assert_allclose(C[b2.slice, b2.slice], gn[b2.slice, b2.slice], rtol=1e-10, atol=1e-14)
        assert np.all(C[b1.slice, b2.slice] == 0)
        res = engine.influence(model, name, damping=1e-3)  # the solve uses the block's eigendecomposition
        assert np.isfinite(res.param_influence).all()


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_ekfac_eigenvalues_are_the_gauss_newton_diagonal_in_the_kfac_eigenbasis(loss):
    """EK-FAC's corrected eigenvalues equal diag(Q' GN Q) of each block's Gauss-Newton matrix, built here from
    finite-difference Jacobians (no engine code), in K-FAC's Kronecker eigenbasis Q = Q_G (x) Q_A; and on a network
    where the output curvature varies over examples this makes EK-FAC strictly closer to GN than K-FAC."""
    model = _random_mlp(11, loss)
    J = model.fd_jacobians()
    gn = np.einsum("ikp,ikl,ilq->pq", J, model.output_hessians(slice(None)), J) / model.n_obs
    ek = engine.make_curvature("ekfac", engine.ModelView(model))
    kf = engine.make_curvature("kfac", engine.ModelView(model))
    parts = {p.block.name: p for p in ek.parts}
    assert set(parts) == {b.name for b in model.blocks if b.kron}
    changed = []
    for b in model.blocks:
        part = parts[b.name]
        Q = np.kron(part.QG, part.QA)  # row-major vec(W): index o * d_in + j
        expected = np.diag(Q.T @ gn[b.slice, b.slice] @ Q).reshape(b.shape)
        np.testing.assert_allclose(part.E, expected, rtol=1e-6, atol=1e-9 * np.abs(expected).max())
        kpart = next(p for p in kf.parts if p.block.name == b.name)
        changed.append(np.abs(kpart.E - expected).max() > 1e-3 * np.abs(expected).max())
    # the correction changed the eigenvalues of the hidden layer at least (with squared loss the output layer's
    # output-gradient factor is the same for every example, and there K-FAC's g a' already are the diagonal)
    assert any(changed)
    # within the blocks (both miss the off-diagonal blocks alike)
    K, E = kf.dense(), ek.dense()
    dk = np.sqrt(sum(np.linalg.norm(K[b.slice, b.slice] - gn[b.slice, b.slice]) ** 2 for b in model.blocks))
    de = np.sqrt(sum(np.linalg.norm(E[b.slice, b.slice] - gn[b.slice, b.slice]) ** 2 for b in model.blocks))
    assert de < 0.98 * dk
