"""GLMs on Dask against the in-memory path (itself checked against R and statsmodels)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import regdiag
from regdiag._validation import ConvergenceError
from tests.dask.conftest import GLM_MEASURES, assert_same, assert_same_influence

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
from regdiag.dask import DaskGLMFit  # noqa: E402


def _data(family: str, n: int = 800, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.standard_normal((n, 2)), rng.uniform(0, 1, n)])
    eta = X @ np.array([0.3, 0.8, -0.5, 0.4])
    if family == "binomial":
        y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
    elif family == "poisson":
        y = rng.poisson(np.exp(0.5 * eta)).astype(float)
    else:  # gamma
        y = rng.gamma(3.0, np.exp(0.3 * eta) / 3.0)
    return X, y


def _check(fit, ref, residual="pearson"):
    assert isinstance(fit, DaskGLMFit)
    assert fit.converged and ref.converged
    assert fit.param_names == ref.param_names
    assert_same(fit.coef, ref.coef)
    assert_same(fit.bse, ref.bse)
    np.testing.assert_allclose(
        [fit.deviance, fit.dispersion, fit.pearson_chi2, fit.null_deviance],
        [ref.deviance, ref.dispersion, ref.pearson_chi2, ref.null_deviance],
        rtol=1e-10,
    )
    assert (fit.rank, fit.df_resid, fit.nobs) == (ref.rank, ref.df_resid, ref.nobs)
    assert_same_influence(fit.influence(residual=residual), ref.influence(residual=residual), GLM_MEASURES)


@pytest.mark.parametrize("n, chunk", [(800, 800), (800, 130), (150, 3)])  # 3 rows: fewer than the 4 columns
def test_binomial_logit(n, chunk):
    X, y = _data("binomial", n)
    fit = regdiag.glm(da.from_array(y, chunks=chunk), da.from_array(X, chunks=(chunk, 4)), family="binomial")
    _check(fit, regdiag.glm(y, X, family="binomial"))


@pytest.mark.parametrize("n, chunk", [(800, 800), (800, 130), (150, 3)])
def test_poisson_with_offset_and_weights(n, chunk):
    X, y = _data("poisson", n, seed=1)
    rng = np.random.default_rng(2)
    off = np.log(rng.uniform(0.5, 2.0, len(y)))
    w = rng.integers(1, 4, len(y)).astype(float)
    fit = regdiag.glm(
        da.from_array(y, chunks=chunk), da.from_array(X, chunks=(chunk, 4)), family="poisson",
        offset=da.from_array(off, chunks=chunk), weights=da.from_array(w, chunks=chunk),
    )
    _check(fit, regdiag.glm(y, X, family="poisson", offset=off, weights=w))


def test_gamma_log_link_estimated_dispersion_deviance_dfbeta():
    X, y = _data("gamma", seed=3)
    fit = regdiag.glm(da.from_array(y, chunks=97), da.from_array(X, chunks=(97, 4)), family="gamma", link="log")
    _check(fit, regdiag.glm(y, X, family="gamma", link="log"), residual="deviance")


def test_gaussian_identity_is_one_least_squares_pass():
    X, y = _data("gamma", seed=4)
    fit = regdiag.glm(da.from_array(y, chunks=100), da.from_array(X, chunks=(100, 4)))
    assert fit.iterations == 1
    _check(fit, regdiag.glm(y, X))


def test_binomial_successes_failures_formula_over_dask_dataframe(frame):
    ddf = dd.from_pandas(frame, npartitions=4, sort=False)
    fit = regdiag.glm("cbind(s, f) ~ x + g", data=ddf, family="binomial")
    ref = regdiag.glm("cbind(s, f) ~ x + g", data=frame, family="binomial")
    assert fit.n_dropped == len(ref.design.dropped)
    _check(fit, ref)


def test_poisson_formula_drops_non_finite_rows(frame):
    ddf = dd.from_pandas(frame, npartitions=5, sort=False)
    # k = inf is an error unless missing="drop" (as in memory)
    with pytest.raises(regdiag.DataError, match=r"column 'k'"):
        regdiag.glm("k ~ x + g + C(dose)", data=frame, family="poisson")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", regdiag.DataWarning)
        fit = regdiag.glm("k ~ x + g + C(dose)", data=ddf, family="poisson", missing="drop")
    with pytest.warns(regdiag.DataWarning, match="infinite"):
        ref = regdiag.glm("k ~ x + g + C(dose)", data=frame, family="poisson", missing="drop")
    assert fit.n_dropped == len(ref.design.dropped) == 5  # x (3), g (1), k = inf (1)
    _check(fit, ref)
    s = fit.influence().summary("R", top=5)
    flags = ref.influence().flags("R")
    assert s.n_flagged == int(flags.fillna(False).astype(bool).any(axis=1).sum())


def test_what_is_not_available_on_dask_says_so():
    X, y = _data("poisson")
    fit = regdiag.glm(da.from_array(y, chunks=400), da.from_array(X, chunks=(400, 4)), family="poisson")
    with pytest.raises(NotImplementedError, match="exact leave-one-out is not available on Dask"):
        fit.influence(loo="exact")
    with pytest.raises(NotImplementedError, match="group deletion is not available on Dask"):
        fit.group_deletion(np.arange(len(y)) % 3)
    Xg, yg = _data("gamma")
    gam = regdiag.glm(da.from_array(yg, chunks=400), da.from_array(Xg, chunks=(400, 4)), family="gamma", link="log")
    with pytest.raises(NotImplementedError, match="observed=True is not available on Dask"):
        gam.influence(observed=True)


def test_separated_binomial_does_not_converge_and_says_why():
    X = np.column_stack([np.ones(40), np.linspace(-1, 1, 40)])
    y = (X[:, 1] > 0).astype(float)
    with pytest.raises(ConvergenceError, match="separation detection needs all rows"):
        regdiag.glm(da.from_array(y, chunks=10), da.from_array(X, chunks=(10, 2)), family="binomial", maxit=30)


def test_conventions_are_read_lazily_as_in_memory():
    X, y = _data("gamma", n=300, seed=3)
    infl = regdiag.glm(da.from_array(y, chunks=97), da.from_array(X, chunks=(97, 4)), family="gamma").influence()
    ref = regdiag.glm(y, X, family="gamma").influence()
    for convention in ("regdiag", "R", "statsmodels"):
        assert_same(infl.dfbeta_as(convention).compute(), ref.dfbeta_as(convention))
        assert_same(infl.dfbetas_as(convention).compute(), ref.dfbetas_as(convention))
        assert_same(infl.cooks_distance_as(convention).compute(), ref.cooks_distance_as(convention))
    with pytest.raises(ValueError, match="convention='SAS': dfbeta is defined under"):
        infl.dfbeta_as("SAS")


def test_fixed_dispersion_dfbetas_as_in_memory():
    X, y = _data("gamma", n=300, seed=4)
    kw = dict(family="gamma", link="log", dispersion=0.5)
    lazy = regdiag.glm(da.from_array(y, chunks=100), da.from_array(X, chunks=(100, 4)), **kw).influence()
    ref = regdiag.glm(y, X, **kw).influence()
    assert_same(lazy.compute().dfbetas, ref.dfbetas)
    # with the dispersion fixed, DFBETAS is DFBETA over the fit's standard errors sqrt(phi diag((X'WX)^{-1}))
    np.testing.assert_allclose(ref.dfbetas, ref.dfbeta / (np.sqrt(0.5) * np.sqrt(ref.cov_unscaled_diag)), rtol=1e-12)
