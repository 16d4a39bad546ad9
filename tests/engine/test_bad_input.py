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
        with pytest.raises(DesignError, match="singular.*Pass damping > 0"):
            engine.influence(model, curvature=curvature)
        engine.influence(model, curvature=curvature, damping=1e-3)  # damping makes it solvable
    with pytest.raises(DesignError, match="singular"):
        engine.influence(model, solver="lowrank", solver_options={"rank": 4})


def test_indefinite_curvature(glm):
    H = np.diag([1.0, -0.5])
    with pytest.raises(DesignError, match="indefinite"):
        engine.influence(Minimal(np.ones((4, 2)), H=H))
    with pytest.raises(DesignError, match="non-positive curvature"):
        engine.influence(Minimal(np.ones((4, 2)), H=H), solver="cg")


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
