"""Invariances of the closed-form measures, property-based (hypothesis)."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import regdiag

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw, min_k=1, max_k=5):
    k = draw(st.integers(min_k, max_k))
    n = draw(st.integers(k + 3, 30))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scales = 10.0 ** rng.uniform(-3, 3, k)
    X = rng.standard_normal((n, k)) * scales
    if draw(st.booleans()):
        X[:, 0] = 1.0
    y = X @ rng.standard_normal(k) + rng.standard_normal(n) * 10.0 ** rng.uniform(-2, 2)
    return X, y, rng


def _infl(y, X, w=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = regdiag.ols(y, X, weights=w)
        return fit, fit.influence()


def _cond(X):
    Xs = X / np.linalg.norm(X, axis=0)
    return np.linalg.cond(Xs)


@SETTINGS
@given(problems())
def test_leverage_bounds_and_trace(prob):
    X, y, _ = prob
    fit, infl = _infl(y, X)
    assert np.all(infl.leverage >= 0) and np.all(infl.leverage <= 1)
    np.testing.assert_allclose(infl.leverage.sum(), fit.rank, rtol=1e-10)


@SETTINGS
@given(problems(min_k=2))
def test_invariant_under_reparametrization(prob):
    """X -> XA for invertible A leaves leverage, residual measures and Cook's distance unchanged."""
    X, y, rng = prob
    assume(_cond(X) < 1e6)
    A = rng.standard_normal((X.shape[1], X.shape[1])) + 3 * np.eye(X.shape[1])
    assume(np.linalg.cond(A) < 1e3)
    _, a = _infl(y, X)
    _, b = _infl(y, X @ A)
    for name in ("leverage", "standard_resid", "student_resid", "cooks_distance", "dffits", "cov_ratio", "sigma_loo"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-7, atol=1e-10, err_msg=name)
    # coefficient changes transform contravariantly: dfbeta(XA) = dfbeta(X) A^{-T}
    np.testing.assert_allclose(b.dfbeta, np.linalg.solve(A, a.dfbeta.T).T, rtol=1e-6,
                               atol=1e-8 * np.abs(a.dfbeta).max())


@SETTINGS
@given(problems())
def test_column_scaling(prob):
    X, y, rng = prob
    c = 10.0 ** rng.uniform(-4, 4, X.shape[1])
    _, a = _infl(y, X)
    _, b = _infl(y, X * c)
    np.testing.assert_allclose(b.leverage, a.leverage, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(b.cooks_distance, a.cooks_distance, rtol=1e-7, atol=1e-13)
    np.testing.assert_allclose(b.dfbetas, a.dfbetas, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(b.dfbeta * c, a.dfbeta, rtol=1e-7, atol=1e-9 * np.abs(a.dfbeta).max())


@SETTINGS
@given(problems())
def test_row_permutation(prob):
    X, y, rng = prob
    perm = rng.permutation(len(y))
    _, a = _infl(y, X)
    _, b = _infl(y[perm], X[perm])
    np.testing.assert_allclose(b.cooks_distance, a.cooks_distance[perm], rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(b.dfbeta, a.dfbeta[perm], rtol=1e-8, atol=1e-12 * np.abs(a.dfbeta).max())
    np.testing.assert_allclose(b.student_resid, a.student_resid[perm], rtol=1e-8, atol=1e-12)


@SETTINGS
@given(problems(), st.data())
def test_integer_weights_equal_duplicated_rows(prob, data):
    X, y, rng = prob
    w = rng.integers(1, 4, len(y)).astype(float)
    fit_w, infl_w = _infl(y, X, w)
    rows = np.repeat(np.arange(len(y)), w.astype(int))
    fit_d, infl_d = _infl(y[rows], X[rows])
    np.testing.assert_allclose(fit_w.coef, fit_d.coef, rtol=1e-8, atol=1e-10 * np.nanmax(np.abs(fit_d.coef)))
    np.testing.assert_allclose(fit_w.ssr, fit_d.ssr, rtol=1e-8, atol=1e-20)
    # a row of weight k carries the leverage of its k copies together
    first = np.searchsorted(rows, np.arange(len(y)))
    np.testing.assert_allclose(infl_w.leverage, w * infl_d.leverage[first], rtol=1e-8, atol=1e-12)


@SETTINGS
@given(problems())
def test_zero_weight_equals_removal(prob):
    X, y, rng = prob
    assume(len(y) > X.shape[1] + 4)
    i = int(rng.integers(len(y)))
    w = np.ones(len(y))
    w[i] = 0.0
    fit_w, a = _infl(y, X, w)
    keep = np.arange(len(y)) != i
    fit_r, b = _infl(y[keep], X[keep])
    assert fit_w.rank == fit_r.rank and fit_w.df_resid == fit_r.df_resid
    np.testing.assert_allclose(fit_w.coef, fit_r.coef, rtol=1e-9, atol=1e-12 * np.nanmax(np.abs(fit_r.coef)))
    assert a.leverage[i] == 0.0 and np.isnan(a.cooks_distance[i])
    for name in ("leverage", "cooks_distance", "student_resid", "cov_ratio"):
        np.testing.assert_allclose(getattr(a, name)[keep], getattr(b, name), rtol=1e-8, atol=1e-12, err_msg=name)
