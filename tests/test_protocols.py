"""Every model class declares its kind and satisfies the fit protocol; every result satisfies the result protocol."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag.engine.influence import influence as engine_influence
from regdiag.protocols import Fit, GroupDeletionFit, InfluenceResult, ModelKind, is_glm, model_kind


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    n = 60
    x = rng.normal(size=n)
    z = rng.uniform(-1, 1, size=n)
    mu = np.exp(0.5 + 0.4 * x)
    return pd.DataFrame(
        {
            "y": 1.0 + 2.0 * x - z + rng.normal(size=n),
            "count": rng.negative_binomial(3, 3 / (3 + mu)).astype(float),
            "binary": (rng.random(n) < 1 / (1 + np.exp(-x))).astype(float),
            "time": rng.exponential(1 / mu),
            "status": (rng.random(n) < 0.8).astype(float),
            "x": x,
            "z": z,
        },
        index=[f"r{i}" for i in range(n)],
    )


def _fits(data):
    import statsmodels.api as sm

    from regdiag.linear.discrete import discrete_from_statsmodels

    X = sm.add_constant(data[["x", "z"]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logit = discrete_from_statsmodels(sm.Logit(data["binary"], X).fit(disp=0))
    return {
        ModelKind.OLS: regdiag.ols("y ~ x + z", data=data),
        ModelKind.GLM: regdiag.glm("count ~ x + z", data=data, family="poisson"),
        ModelKind.RLM: regdiag.rlm("y ~ x + z", data=data),
        ModelKind.MLE: logit,
        ModelKind.COX: regdiag.coxph("Surv(time, status) ~ x + z", data),
    }


def test_each_model_class_declares_its_kind_and_satisfies_fit(data):
    for kind, fit in _fits(data).items():
        assert type(fit).model_kind is kind
        assert model_kind(fit) is kind
        assert isinstance(fit, Fit)
        assert is_glm(fit) == (kind is ModelKind.GLM)
    nb = regdiag.glm("count ~ x + z", data=data, family="negative_binomial")
    assert model_kind(nb) is ModelKind.GLM and nb.theta is not None
    for other in (None, data, np.zeros(3), "ols"):
        assert model_kind(other) is None and not is_glm(other)


def test_every_influence_result_has_the_shared_shape(data):
    results = [fit.influence() for fit in _fits(data).values()]
    ols = regdiag.ols("y ~ x + z", data=data)
    results.append(ols.group_deletion(np.arange(len(data)) // 6))
    results.append(engine_influence(ols, curvature="exact"))
    for res in results:
        assert isinstance(res, InfluenceResult), type(res).__name__
        n, p = len(res.index), len(res.param_names)
        assert res.dfbeta.shape == (n, p) and res.dfbetas.shape == (n, p)
        assert isinstance(res.method, str) and res.method
        assert res.to_frame().index.equals(res.index)
        assert np.array_equal(res.dfbeta_as("regdiag"), res.dfbeta, equal_nan=True)
        assert np.array_equal(res.dfbetas_as("regdiag"), res.dfbetas, equal_nan=True)
        with pytest.raises(ValueError, match="convention='Stata'"):
            res.dfbetas_as("Stata")


def test_cox_conventions(data):
    fit = _fits(data)[ModelKind.COX]
    exact, one_step = fit.influence(), fit.influence(loo=None)
    assert exact.method != one_step.method
    np.testing.assert_allclose(exact.dfbeta_as("R"), one_step.dfbeta, rtol=1e-12, atol=0)
    np.testing.assert_allclose(exact.dfbetas_as("R"), one_step.dfbetas, rtol=1e-12, atol=0)
    assert not np.allclose(exact.dfbeta_as("regdiag"), one_step.dfbeta, rtol=1e-6, atol=0)


def test_dask_fits_declare_their_kind(data):
    dd = pytest.importorskip("dask.dataframe")
    ddf = dd.from_pandas(data, npartitions=2)
    assert model_kind(regdiag.ols("y ~ x + z", data=ddf)) is ModelKind.OLS
    assert model_kind(regdiag.glm("count ~ x + z", data=ddf, family="poisson")) is ModelKind.GLM


def test_group_deletion_needs_a_fit_that_has_it(data):
    fits = _fits(data)
    infl = fits[ModelKind.OLS].influence()
    groups = np.arange(len(data)) // 6
    np.testing.assert_allclose(infl.group_deletion(groups).dfbeta, fits[ModelKind.OLS].group_deletion(groups).dfbeta,
                               rtol=0, atol=0)
    for kind in (ModelKind.RLM, ModelKind.MLE):  # robust and discrete fits delete groups exactly, as their fits do
        res = fits[kind].influence(loo="one-step")
        assert isinstance(fits[kind], GroupDeletionFit)
        np.testing.assert_allclose(res.group_deletion(groups).dfbeta, fits[kind].group_deletion(groups).dfbeta,
                                   rtol=0, atol=0)
    bare = dataclasses.replace(infl, fit=object())
    with pytest.raises(ValueError, match="not defined for a object"):
        bare.group_deletion(groups)
