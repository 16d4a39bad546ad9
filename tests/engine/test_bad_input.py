"""Protocol violations, non-finite values, singular curvature, bad damping and names: clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from regdiag import DesignError, engine
from regdiag.engine import ModelError
from tests.engine.models import CanonicalGLM, MultiOutputLinear


@pytest.fixture
def glm():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(30), rng.standard_normal((30, 2))])
    return CanonicalGLM(X, (rng.uniform(size=30) < 0.5).astype(float))


class Minimal:
    """Only the required part of the protocol."""

    def __init__(self, G, H=None):
        self.G = G
        self.n_obs, self.n_params = G.shape
        self.param_names = [f"p{j}" for j in range(self.n_params)]
        if H is not None:
            self.hessian = lambda: H

    def loss_gradients(self, rows):
        return self.G[rows]


def test_missing_protocol_members_are_named():
    class NoGrad:
        n_obs, n_params, param_names = 3, 1, ["a"]

    with pytest.raises(ModelError, match="no 'loss_gradients'"):
        engine.influence(NoGrad())
    with pytest.raises(ModelError, match=r"needs the model's hessian\(\) or hvp"):
        engine.influence(Minimal(np.ones((4, 2))))
    with pytest.raises(ModelError, match=r"output_hessians\(\)"):
        engine.influence(Minimal(np.ones((4, 2))), curvature="gauss_newton")
    with pytest.raises(ModelError, match="hessian_factors"):
        engine.influence(Minimal(np.ones((4, 2)), H=np.eye(2)), correction="leverage")
    assert engine.influence(Minimal(np.ones((4, 2))), curvature="identity").param_influence.shape == (4, 2)


def test_wrong_shapes_are_reported():
    m = Minimal(np.ones((4, 2)), H=np.eye(3))
    with pytest.raises(ModelError, match=r"hessian returned shape \(3, 3\); expected \(2, 2\)"):
        engine.influence(m)
    m = Minimal(np.ones((4, 2)))
    m.param_names = ["a"]
    with pytest.raises(ModelError, match="param_names has 1 names but n_params = 2"):
        engine.influence(m, curvature="identity")

    class BadGrad(Minimal):
        def loss_gradients(self, rows):
            return self.G[rows][:, :1]

    with pytest.raises(ModelError, match=r"loss_gradients returned shape \(4, 1\); expected \(4, 2\)"):
        engine.influence(BadGrad(np.ones((4, 2))), curvature="identity")


def test_nan_gradients_name_the_rows():
    G = np.ones((6, 2))
    G[[2, 4], 1] = np.nan
    m = Minimal(G)
    m.index = ["a", "b", "c", "d", "e", "f"]
    with pytest.raises(ModelError, match=r"NaN or infinite values for rows 'c', 'e'"):
        engine.influence(m, curvature="identity")


def test_nan_curvature_is_reported():
    H = np.eye(2)
    H[0, 1] = np.nan
    with pytest.raises(ModelError, match="hessian returned NaN"):
        engine.influence(Minimal(np.ones((4, 2)), H=H))


def test_singular_curvature_without_damping(glm):
    X = np.column_stack([glm.X, glm.X[:, 1]])  # duplicated column: the Hessian is singular
    model = CanonicalGLM(X, glm.y, l2=0.0)
    for curvature in ("exact", "kfac", "ekfac"):
        with pytest.raises(DesignError, match=r"singular.*Pass damping > 0"):
            engine.influence(model, curvature=curvature)
        engine.influence(model, curvature=curvature, damping=1e-3)  # damping makes it solvable
    with pytest.raises(DesignError, match="singular"):
        engine.influence(model, solver="lowrank", solver_options={"rank": 4})


@pytest.mark.parametrize("solver", ["cg", "lissa"])
@pytest.mark.parametrize("curvature", ["exact", "gauss_newton", "kfac", "ekfac"])
def test_iterative_solvers_refuse_a_singular_curvature_without_damping(glm, solver, curvature):
    """CG and LiSSA would converge on a singular system (to one of infinitely many solutions): an error instead."""
    X = np.column_stack([glm.X, glm.X[:, 1]])
    model = CanonicalGLM(X, glm.y, l2=0.0)
    with pytest.raises(DesignError, match=r"singular.*Pass damping > 0"):
        engine.influence(model, curvature=curvature, solver=solver)
    if solver == "cg":
        engine.influence(model, curvature=curvature, solver=solver, damping=1e-3)


def test_positive_semidefinite_singular_curvature_is_not_called_indefinite(glm):
    X = np.column_stack([glm.X, glm.X[:, 1]])
    model = CanonicalGLM(X, glm.y, l2=0.0)
    with pytest.raises(DesignError) as err:
        engine.influence(model, curvature="gauss_newton")
    assert "singular" in str(err.value) and "indefinite" not in str(err.value)
    assert "use the Gauss-Newton curvature" not in str(err.value)


def test_asymmetric_or_mis_sized_curvature_is_a_protocol_violation():
    H = np.array([[2.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ModelError, match="hessian returned a matrix that is not symmetric"):
        engine.influence(Minimal(np.ones((4, 2)), H=H))
    rng = np.random.default_rng(0)
    m = MultiOutputLinear(rng.standard_normal((10, 2)), rng.standard_normal((10, 2)))
    m.output_hessians = lambda rows: np.broadcast_to(np.eye(3), (len(range(10)[rows]), 3, 3))
    with pytest.raises(ModelError, match="output_hessians returned 3 x 3 matrices, but the model has n_outputs = 2"):
        engine.influence(m, curvature="gauss_newton")
    S = np.array([[1.0, 0.3], [0.0, 1.0]])
    m.output_hessians = lambda rows: np.broadcast_to(S, (len(range(10)[rows]), 2, 2))
    with pytest.raises(ModelError, match="output_hessians returned a matrix that is not symmetric"):
        engine.influence(m, curvature="gauss_newton")


def test_leverage_correction_with_a_too_small_curvature_warns(glm):
    """The identity is no curvature: generalized leverages above 1 flip the sign of the corrected influence."""
    big = CanonicalGLM(glm.X * 20.0, glm.y)  # the same fit in rescaled coordinates: per-row curvature >> 1
    with pytest.warns(UserWarning, match="generalized leverage above 1"):
        engine.influence(big, curvature="identity", correction="leverage")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        engine.influence(big, curvature="gauss_newton", correction="leverage")  # never above 1: no warning


def test_low_rank_without_damping_warns_that_it_is_an_approximation(glm):
    with pytest.warns(UserWarning, match="keeps only the 2 largest of 3 eigen-directions"):
        engine.influence(glm, solver="lowrank", solver_options={"rank": 2})


def test_indefinite_curvature_states_its_eigenvalues_and_the_damping_needed(glm):
    """The message gives the eigenvalues of the curvature plus damping (not of an equilibrated copy) and the damping
    that makes it positive definite, whatever damping was passed."""
    rng = np.random.default_rng(1)
    Qm, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    H = Qm @ np.diag([-1.04, 0.2, 1.0, 3.9]) @ Qm.T * np.array([1.0, 10.0, 0.1, 1.0])[:, None]
    H = (H + H.T) / 2
    ev = np.linalg.eigvalsh(H)
    for damping in (0.0, 0.01, 0.5):
        with pytest.raises(DesignError) as err:
            engine.influence(Minimal(np.ones((4, 4)), H=H), damping=damping)
        msg = str(err.value)
        assert f"eigenvalues run from {ev[0] + damping:.3g} to {ev[-1] + damping:.3g}" in msg
        assert f"Pass damping above {-ev[0]:.3g}" in msg
    engine.influence(Minimal(np.ones((4, 4)), H=H), damping=-ev[0] * 1.01)


def test_indefinite_curvature(glm):
    H = np.diag([1.0, -0.5])
    with pytest.raises(DesignError, match="indefinite"):
        engine.influence(Minimal(np.ones((4, 2)), H=H))
    with pytest.raises(DesignError, match="indefinite"):  # found by the undamped singularity probe
        engine.influence(Minimal(np.ones((4, 2)), H=H), solver="cg")
    with pytest.raises(DesignError, match="non-positive curvature"):  # damped, but not enough: found by CG itself
        engine.influence(Minimal(np.ones((4, 2)), H=H), solver="cg", damping=0.1)


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf, "0.1", None])
def test_bad_damping(glm, bad):
    with pytest.raises(ValueError, match="damping"):
        engine.influence(glm, damping=bad)
    with pytest.raises(ValueError, match="damping"):
        engine.Damping.relative(-0.1)


def test_unknown_names(glm):
    with pytest.raises(ValueError, match="curvature='hessian' is not one of"):
        engine.influence(glm, curvature="hessian")
    with pytest.raises(ValueError, match="solver='newton' is not one of"):
        engine.influence(glm, solver="newton")
    with pytest.raises(ValueError, match="correction='exact' is not one of"):
        engine.influence(glm, correction="exact")
    with pytest.raises(ValueError, match="mc_samples"):
        engine.influence(glm, curvature="gauss_newton", curvature_options={"mc_samples": 0})
    with pytest.raises(ValueError, match="batch_size"):
        engine.influence(glm, batch_size=0)


def test_bad_blocks_and_output_hessians():
    rng = np.random.default_rng(0)
    m = MultiOutputLinear(rng.standard_normal((10, 2)), rng.standard_normal((10, 2)))
    m.blocks = (engine.Block("W", 0, 3, shape=(1, 3)),)
    with pytest.raises(ModelError, match="blocks cover 3 parameters but n_params = 4"):
        engine.influence(m)
    with pytest.raises(ModelError, match="shape"):
        engine.Block("W", 0, 4, shape=(3, 3))
    m = MultiOutputLinear(rng.standard_normal((10, 2)), rng.standard_normal((10, 2)), S=np.diag([1.0, -1.0]))
    with pytest.raises(ModelError, match="not positive semi-definite"):
        engine.influence(m, curvature="gauss_newton")


def test_leverage_one_gives_nan_with_a_warning():
    X = np.column_stack([np.ones(6), np.r_[np.zeros(5), 1.0]])  # the last row alone identifies the dummy
    y = np.array([1.0, 2, 3, 2, 1, 5])
    m = MultiOutputLinear(X, y[:, None])
    with pytest.warns(UserWarning, match="leverage is 1"):
        res = engine.influence(m, correction="leverage")
    assert np.isnan(res.param_influence[5]).all() and np.isnan(res.cooks_distance[5])
    assert np.isfinite(res.param_influence[:5]).all()


def test_progress_is_reported(glm, capsys):
    seen = []
    engine.influence(glm, curvature="ekfac", solver="cg", batch_size=7,
                     progress=lambda stage, done, total: seen.append((stage, done, total)))
    stages = {s for s, _, _ in seen}
    assert any("factors" in s for s in stages) and any("eigenvalue correction" in s for s in stages)
    assert any(s.startswith("influence") for s in stages) and any(s.startswith("cg") for s in stages)
    more = []
    engine.influence(glm, solver="lissa", damping=0.01, progress=lambda stage, done, total: more.append(stage))
    assert "lissa: largest eigenvalue" in more
    engine.influence(Minimal(np.ones((4, 300)), H=None), curvature="identity", solver="lowrank", damping=1.0,
                     solver_options={"rank": 3}, progress=lambda stage, done, total: more.append(stage))
    assert "lowrank: 3 largest eigenpairs" in more
    assert all(0 <= d <= t for _, d, t in seen)
    engine.influence(glm, progress=True)
    assert "influence (exact, direct)" in capsys.readouterr().err
    with pytest.raises(TypeError, match="progress"):
        engine.influence(glm, progress="yes")


def test_import_regdiag_loads_no_torch():
    import subprocess
    import sys

    code = "import sys, regdiag, regdiag.engine; assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
