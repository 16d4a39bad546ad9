"""Invariances of the GLM fit and its measures, property-based (hypothesis)."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import regdiag

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: absolute noise of deviance residuals where y = mu to rounding: sqrt of a unit deviance of ~1e-16
DEV_NOISE = 1e-6

FAMILIES = [
    ("binomial", "logit"),
    ("binomial", "probit"),
    ("binomial", "cloglog"),
    ("poisson", "log"),
    ("poisson", "sqrt"),
    ("gamma", "log"),
    ("gamma", "inverse"),
    ("inverse_gaussian", "inverse_squared"),
    ("negative_binomial", "log"),
    ("gaussian", "log"),
]


def _response(family, link, eta_scale, X, rng):
    """A response of the family with a mean valid for the link."""
    n, k = X.shape
    b = rng.standard_normal(k) * eta_scale / np.sqrt(k)
    lin = X @ b
    if family == "binomial":
        p = 1 / (1 + np.exp(-lin))
        return (rng.random(n) < p).astype(float)
    if family in ("poisson", "negative_binomial"):
        mu = np.exp(0.5 + lin) if link != "sqrt" else (1.5 + np.abs(lin)) ** 2
        return rng.poisson(mu).astype(float)
    if family in ("gamma", "inverse_gaussian"):
        mu = np.exp(0.3 * lin)
        return rng.gamma(4.0, mu / 4.0)
    return np.exp(1 + 0.2 * lin) + rng.standard_normal(n) * 0.3


@st.composite
def glm_problems(draw, families=FAMILIES, min_k=1, max_k=4):
    family, link = draw(st.sampled_from(families))
    k = draw(st.integers(min_k, max_k))
    n = draw(st.integers(k + 12, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = np.column_stack([np.ones(n), rng.standard_normal((n, k - 1))]) if k > 1 else np.ones((n, 1))
    X = X * 10.0 ** rng.uniform(-2, 2, k)
    y = _response(family, link, 1.0, X / np.max(np.abs(X), axis=0), rng)
    return family, link, X, y, rng


def _fit(family, link, y, X, w=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = regdiag.glm(y, X, family=family, link=link, weights=w)
        except (regdiag.DesignError, regdiag.DataError, ArithmeticError):
            assume(False)
        assume(fit.separation is None and fit.converged)
        return fit, fit.influence()


@SETTINGS
@given(glm_problems())
def test_leverage_bounds_and_trace(prob):
    family, link, X, y, _ = prob
    fit, infl = _fit(family, link, y, X)
    assert np.all(infl.leverage >= 0) and np.all(infl.leverage <= 1)
    np.testing.assert_allclose(infl.leverage.sum(), fit.rank, rtol=1e-10)
    # Cook's distance = Pregibon's C / (p phi); DIFCHISQ = Cbar / h
    np.testing.assert_allclose(infl.pregibon_c, infl.cooks_distance * fit.rank * fit.dispersion, rtol=1e-10)
    h = infl.leverage
    np.testing.assert_allclose(infl.difchisq * h, infl.pregibon_cbar, rtol=1e-12, atol=1e-300)


@SETTINGS
@given(glm_problems(min_k=2))
def test_invariant_under_reparametrization(prob):
    """X -> XA (A invertible) leaves fitted values, leverage, residuals and Cook's distance unchanged; b -> A^{-1} b."""
    family, link, X, y, rng = prob
    A = rng.standard_normal((X.shape[1], X.shape[1])) + 3 * np.eye(X.shape[1])
    assume(np.linalg.cond(A) < 1e3)
    assume(np.linalg.cond(X / np.linalg.norm(X, axis=0)) < 1e6)
    fa, a = _fit(family, link, y, X)
    fb, b = _fit(family, link, y, X @ A)
    np.testing.assert_allclose(fb.mu, fa.mu, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.leverage, a.leverage, rtol=1e-7, atol=1e-11)
    np.testing.assert_allclose(b.standard_resid, a.standard_resid, rtol=1e-7, atol=DEV_NOISE)
    np.testing.assert_allclose(b.cooks_distance, a.cooks_distance, rtol=1e-6, atol=1e-12)
    se = np.sqrt(fa.factor.cov_unscaled_diag())
    np.testing.assert_allclose(A @ fb.coef / se, fa.coef / se, rtol=1e-7, atol=1e-8)
    # dfbeta transforms like the coefficients
    np.testing.assert_allclose(b.dfbeta @ A.T, a.dfbeta, rtol=1e-6, atol=1e-9 * np.max(np.abs(a.dfbeta)))


@SETTINGS
@given(glm_problems())
def test_permuting_rows_permutes_results(prob):
    family, link, X, y, rng = prob
    perm = rng.permutation(len(y))
    fa, a = _fit(family, link, y, X)
    fb, b = _fit(family, link, y[perm], X[perm])
    se = np.sqrt(fa.factor.cov_unscaled_diag())
    np.testing.assert_allclose(fb.coef / se, fa.coef / se, rtol=1e-9, atol=1e-9)
    for attr in ("leverage", "cooks_distance", "student_resid", "dffits", "cov_ratio"):
        # deviance residuals of rows with y = mu are the square root of a rounding-level unit deviance (~1e-8, as in
        # R): their sign and size are noise, and so are the measures built on them there
        atol = DEV_NOISE if attr in ("student_resid", "dffits") else 1e-12
        np.testing.assert_allclose(getattr(b, attr), getattr(a, attr)[perm], rtol=1e-7, atol=atol, err_msg=attr)
    np.testing.assert_allclose(b.dfbeta, a.dfbeta[perm], rtol=1e-6, atol=1e-10 * np.max(np.abs(a.dfbeta)))


@SETTINGS
@given(glm_problems(families=[("binomial", "logit"), ("poisson", "log"), ("gamma", "log"), ("binomial", "probit")]))
def test_integer_weights_are_duplicated_rows(prob):
    """A prior weight of k fits like k copies of the row: same coefficients, deviance, Pearson chi-square; the
    weighted row's leverage is the sum of its copies' leverages."""
    family, link, X, y, rng = prob
    w = rng.integers(1, 4, len(y)).astype(float)
    idx = np.repeat(np.arange(len(y)), w.astype(int))
    fw, iw = _fit(family, link, y, X, w)
    fd, idup = _fit(family, link, y[idx], X[idx])
    se = np.sqrt(fd.factor.cov_unscaled_diag())
    np.testing.assert_allclose(fw.coef / se, fd.coef / se, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fw.deviance, fd.deviance, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fw.pearson_chi2, fd.pearson_chi2, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fw.null_deviance, fd.null_deviance, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fw.mu, fd.mu[np.searchsorted(idx, np.arange(len(y)))], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(iw.leverage, np.bincount(idx, weights=idup.leverage), rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(fw.bse.to_numpy() ** 2 / fw.dispersion, fd.bse.to_numpy() ** 2 / fd.dispersion,
                               rtol=1e-8)


@st.composite
def linear_problems(draw):
    k = draw(st.integers(1, 4))
    n = draw(st.integers(k + 3, 30))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.standard_normal((n, k)) * 10.0 ** rng.uniform(-3, 3, k)
    if draw(st.booleans()):
        X[:, 0] = 1.0
    y = X @ rng.standard_normal(k) + rng.standard_normal(n) * 10.0 ** rng.uniform(-2, 2)
    w = rng.uniform(0.2, 3.0, n) if draw(st.booleans()) else None
    return X, y, w


@SETTINGS
@given(linear_problems())
def test_gaussian_identity_glm_is_ols(prob):
    """A Gaussian GLM with the identity link is the linear model: the same fit, bit for bit, and the same measures."""
    X, y, w = prob
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        o = regdiag.ols(y, X, weights=w)
        g = regdiag.glm(y, X, family="gaussian", weights=w)
        oi, gi = o.influence(), g.influence()
        ge = g.influence(loo="exact")
    assume(not o.perfect_fit)
    assert np.array_equal(g.coef, o.coef, equal_nan=True)
    assert np.array_equal(gi.leverage, oi.leverage)
    assert g.iterations == 1 and g.converged
    np.testing.assert_allclose(g.deviance, o.ssr, rtol=1e-13)
    np.testing.assert_allclose(np.sqrt(g.dispersion), o.sigma, rtol=1e-10)  # y - mu recomputed: cancellation
    for attr in ("standard_resid", "student_resid", "cooks_distance", "dffits", "cov_ratio", "sigma_loo",
                 "press_resid"):
        np.testing.assert_allclose(getattr(gi, attr), getattr(oi, attr), rtol=1e-10, atol=1e-300, err_msg=attr)
    np.testing.assert_allclose(gi.dfbeta, oi.dfbeta, rtol=1e-10, atol=1e-13 * np.nanmax(np.abs(oi.dfbeta)))
    np.testing.assert_allclose(gi.dfbetas, oi.dfbetas, rtol=1e-10, atol=1e-13 * np.nanmax(np.abs(oi.dfbetas)))
    # for a linear model the one-step deletion is exact
    np.testing.assert_allclose(ge.dfbeta, oi.dfbeta, rtol=1e-8, atol=1e-10 * np.nanmax(np.abs(oi.dfbeta)))
    np.testing.assert_allclose(gi.to_frame("R").to_numpy(), oi.to_frame("R").to_numpy(), rtol=1e-10, atol=1e-13)
