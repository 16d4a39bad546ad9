"""Every iterative solver agrees with the direct one on well-conditioned problems and reports non-convergence."""

from __future__ import annotations

import numpy as np
import pytest

from regdiag import engine
from regdiag.engine import ConvergenceError
from regdiag.engine.solvers import lanczos
from tests.engine.models import CanonicalGLM, MultiOutputLinear, TanhMLP


@pytest.fixture(scope="module")
def logistic():
    rng = np.random.default_rng(11)
    X = np.column_stack([np.ones(120), rng.standard_normal((120, 5))])
    y = (rng.uniform(size=120) < 1 / (1 + np.exp(-X @ [0.3, 1, -1, 0.5, 0, 0.2]))).astype(float)
    return CanonicalGLM(X, y, l2=0.05)


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.mark.parametrize("curvature", ["exact", "gauss_newton", "kfac", "ekfac"])
@pytest.mark.parametrize("correction", ["none", "leverage"])
def test_iterative_solvers_agree_with_direct(logistic, curvature, correction):
    ref = engine.influence(logistic, curvature, "direct", correction=correction).param_influence
    for solver, opts, tol in [
        ("cg", {"rtol": 1e-10}, 1e-8),
        ("lissa", {"rtol": 1e-9}, 1e-7),
        ("lowrank", {"rank": logistic.n_params}, 1e-10),
    ]:
        got = engine.influence(logistic, curvature, solver, correction=correction, solver_options=opts)
        assert _rel(got.param_influence, ref) < tol, solver
        assert got.solver == solver and got.curvature == curvature


def test_cg_preconditioned_by_ekfac_converges_in_one_step_where_ekfac_is_exact():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((50, 4)) * [1, 100, 0.01, 10]
    model = MultiOutputLinear(X, rng.standard_normal((50, 2)))
    plain = engine.influence(model, "exact", "cg")
    pre = engine.influence(model, "exact", "cg", solver_options={"preconditioner": "kfac"})
    assert pre.info["iterations"] <= 2 < plain.info["iterations"]
    np.testing.assert_allclose(pre.param_influence, engine.influence(model).param_influence, rtol=1e-8,
                               atol=1e-12 * np.abs(pre.param_influence).max())


def test_preconditioned_cg_recovers_exact_from_approximate_curvature():
    rng = np.random.default_rng(3)
    mlp = TanhMLP(rng.standard_normal((40, 3)), np.eye(3)[rng.integers(0, 3, 40)], loss="ce", seed=3)
    ref = engine.influence(mlp, "gauss_newton", damping=1e-3).param_influence
    got = engine.influence(mlp, "gauss_newton", "cg", damping=1e-3, solver_options={"preconditioner": "ekfac"})
    assert _rel(got.param_influence, ref) < 1e-7


def test_low_rank_with_fewer_eigenpairs_is_a_projection(logistic):
    with pytest.warns(UserWarning, match="approximation"):
        sol = engine.InfluenceEngine(logistic, "exact", "lowrank", solver_options={"rank": 2}).solver
    H = logistic.hessian() + logistic.l2 * np.eye(logistic.n_params)
    w, V = np.linalg.eigh(H)
    top = V[:, -2:]
    B = np.random.default_rng(0).standard_normal((3, logistic.n_params))
    np.testing.assert_allclose(sol.solve(B), B @ top @ np.diag(1 / w[-2:]) @ top.T, rtol=1e-7, atol=1e-10)
    damped = engine.InfluenceEngine(logistic, "exact", "lowrank", damping=0.1, solver_options={"rank": 2}).solver
    ref = B @ top @ np.diag(1 / (w[-2:] + 0.1)) @ top.T + (B - B @ top @ top.T) / 0.1
    np.testing.assert_allclose(damped.solve(B), ref, rtol=1e-7, atol=1e-10)


def test_lanczos_finds_the_spectrum(logistic):
    cur = engine.make_curvature("exact", engine.ModelView(logistic))
    theta, _vecs, resid = lanczos(cur, logistic.n_params)
    np.testing.assert_allclose(theta, np.linalg.eigvalsh(cur.dense()), rtol=1e-10, atol=0)
    assert resid.max() < 1e-10


def test_non_convergence_is_an_error_not_a_wrong_vector(logistic):
    with pytest.raises(ConvergenceError, match="CG did not converge"):
        engine.influence(logistic, "exact", "cg", solver_options={"max_iter": 2})
    with pytest.raises(ConvergenceError, match="LiSSA did not reach"):
        engine.influence(logistic, "exact", "lissa", solver_options={"max_iter": 5})
    with pytest.raises(ConvergenceError, match="diverged"):
        engine.influence(logistic, "exact", "lissa", solver_options={"scale": 1e-3})
    with pytest.raises(ConvergenceError, match="did not converge"):
        engine.influence(logistic, "exact", "lowrank", solver_options={"rank": 3, "max_iter": 3})


def test_solvers_handle_one_vector_and_zero_rows(logistic):
    eng = engine.InfluenceEngine(logistic, "exact", "cg")
    b = np.zeros((2, logistic.n_params))
    b[1, 0] = 1.0
    x = eng.solver.solve(b)
    assert np.all(x[0] == 0)
    np.testing.assert_allclose(eng.solver.solve(b[1]), x[1], rtol=1e-12, atol=0)


def test_lissa_fails_at_once_exactly_when_iterating_would_fail(logistic):
    """With the whole spectrum known (few parameters), the residual after max_iter iterations is computed, not
    iterated to: the early failure agrees with running all the iterations (on_failure="warn" runs them)."""
    import warnings

    from regdiag.engine.solvers import LissaSolver

    cur = engine.make_curvature("exact", engine.ModelView(logistic))
    rng = np.random.default_rng(0)
    B = rng.normal(size=(3, logistic.n_params))
    seen = set()
    for max_iter, rtol in [(5, 1e-3), (40, 1e-3), (4000, 1e-8), (30000, 1e-8)]:
        early = LissaSolver(cur, 0.0, max_iter=max_iter, rtol=rtol)
        assert early.spectrum is not None
        ran = LissaSolver(cur, 0.0, max_iter=max_iter, rtol=rtol, on_failure="warn")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            X = ran.solve(B)
        reached = np.linalg.norm(B - ran.apply(X), axis=1) / np.linalg.norm(B, axis=1)
        if ran.info.get("converged", True) and (reached <= rtol).all():
            np.testing.assert_allclose(early.solve(B), X, rtol=0, atol=1e-12 * np.abs(X).max())
            seen.add("converges")
        else:  # failed: the prediction says so at once
            with pytest.raises(ConvergenceError, match="whole spectrum"):
                early.solve(B)
            seen.add("fails")
    assert seen == {"converges", "fails"}
