"""The entry layer: what users pass is told apart once (Dask, statsmodels, in memory) and reaches the right backend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag import api
from regdiag.from_statsmodels import fit_from_statsmodels
from regdiag.input_kind import is_dask, is_statsmodels, statsmodels_model


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(14)
    n = 60
    df = pd.DataFrame({"x": rng.normal(size=n), "z": rng.uniform(-1, 1, n)}, index=pd.RangeIndex(100, 100 + n))
    df["y"] = 1.0 + 2.0 * df["x"] - df["z"] + rng.normal(size=n)
    df["k"] = rng.poisson(np.exp(0.3 + 0.4 * df["x"]))
    return df


def test_the_root_exports_the_entry_layer():
    for name in ("ols", "glm", "influence", "compare"):
        assert getattr(regdiag, name) is getattr(api, name), name


def test_input_kinds(frame):
    sm = pytest.importorskip("statsmodels.api")
    res = sm.OLS(frame["y"], sm.add_constant(frame[["x"]])).fit()
    assert is_statsmodels(res) and statsmodels_model(res) == "OLS"
    fit = regdiag.ols("y ~ x", data=frame)
    assert not is_statsmodels(fit) and statsmodels_model(fit) is None and statsmodels_model(frame) is None
    assert not is_dask(frame, None, frame["y"].to_numpy())
    dd = pytest.importorskip("dask.dataframe")
    assert is_dask(None, dd.from_pandas(frame, npartitions=2))


def test_in_memory_and_dask_reach_their_backends_with_the_same_numbers(frame):
    dd = pytest.importorskip("dask.dataframe")
    from regdiag.dask import DaskGLMFit, DaskOLSFit

    ddf = dd.from_pandas(frame, npartitions=3)
    mem, lazy = regdiag.ols("y ~ x + z", data=frame), regdiag.ols("y ~ x + z", data=ddf)
    assert isinstance(mem, regdiag.OLSFit) and isinstance(lazy, DaskOLSFit)
    np.testing.assert_allclose(np.asarray(lazy.influence().cooks_distance.compute()),
                               mem.influence().cooks_distance, rtol=1e-10, atol=0)
    g_mem = regdiag.glm("k ~ x", data=frame, family="negative_binomial", theta=3.0)
    g_lazy = regdiag.glm("k ~ x", data=ddf, family="negative_binomial", theta=3.0)  # theta becomes alpha = 1/3
    assert isinstance(g_mem, regdiag.GLMFit) and isinstance(g_lazy, DaskGLMFit)
    np.testing.assert_allclose(np.asarray(g_lazy.coef), np.asarray(g_mem.coef), rtol=1e-8, atol=1e-12)
    with pytest.raises(regdiag.DesignError, match="needs the data in memory"):
        regdiag.glm("k ~ x", data=ddf, family="negative_binomial")  # theta would have to be estimated
    with pytest.raises(regdiag.DesignError, match="not both"):
        regdiag.glm("k ~ x", data=ddf, family="negative_binomial", theta=3.0, alpha=0.5)


def test_statsmodels_results_are_refitted_once_for_every_caller(frame):
    sm = pytest.importorskip("statsmodels.api")
    X = sm.add_constant(frame[["x", "z"]])
    res = sm.OLS(frame["y"], X).fit()
    # regdiag's own fit of the same data, reached without statsmodels
    ours = regdiag.ols(frame["y"], X).influence()
    via = regdiag.influence(res)
    np.testing.assert_allclose(via.cooks_distance, ours.cooks_distance, rtol=1e-12, atol=0)
    assert list(via.index) == list(frame.index)
    assert isinstance(fit_from_statsmodels(res), regdiag.OLSFit)
    with pytest.raises(regdiag.DataError, match="QuantReg results are not supported"):
        regdiag.influence(sm.QuantReg(frame["y"], X).fit())
    with pytest.raises(TypeError, match="cannot compute influence for a DataFrame"):
        regdiag.influence(frame)
