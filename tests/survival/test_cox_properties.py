"""Invariances of the Cox fit and its influence (hypothesis draws the data)."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regdiag import InfluenceWarning
from regdiag.survival import coxph_arrays

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _data(seed: int, ties: bool):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 40))
    X = rng.standard_normal((n, 2))
    t = rng.exponential(np.exp(-X @ np.array([0.5, -0.3])))
    c = rng.exponential(2.0 * np.median(t), n)
    time = np.minimum(t, c)
    if ties:
        time = np.ceil(time * 3)
    status = (t <= c).astype(float)
    status[np.argmin(time)] = 1.0  # at least one event
    strata = rng.integers(0, 2, n)
    return time, status, X, strata


def _influence(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InfluenceWarning)
        return fit.influence()


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), ties=st.booleans(), method=st.sampled_from(["efron", "breslow"]))
def test_row_permutation(seed, ties, method):
    time, status, X, strata = _data(seed, ties)
    perm = np.random.default_rng(seed + 1).permutation(len(time))
    a = coxph_arrays(time, status, X, strata, ties=method)
    b = coxph_arrays(time[perm], status[perm], X[perm], strata[perm], ties=method)
    scale = np.abs(a.coef).max() + a.bse.max()
    np.testing.assert_allclose(b.coef, a.coef, rtol=0, atol=1e-9 * scale)
    ia, ib = _influence(a), _influence(b)
    np.testing.assert_allclose(ib.dfbeta_one_step, ia.dfbeta_one_step[perm], rtol=0, atol=1e-9 * a.bse.max())
    np.testing.assert_allclose(ib.dfbeta_exact, ia.dfbeta_exact[perm], rtol=0, atol=1e-8 * a.bse.max(),
                               equal_nan=True)
    np.testing.assert_allclose(ib.martingale, ia.martingale[perm], rtol=0, atol=1e-10)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), ties=st.booleans())
def test_only_the_order_of_times_matters(seed, ties):
    """A strictly increasing transform of time keeps every risk set and tie: nothing changes."""
    time, status, X, strata = _data(seed, ties)
    a = coxph_arrays(time, status, X, strata)
    b = coxph_arrays(np.exp(time / time.max()) * 7.0 + 3.0, status, X, strata)
    np.testing.assert_allclose(b.coef, a.coef, rtol=0, atol=1e-10 * (np.abs(a.coef).max() + a.bse.max()))
    np.testing.assert_allclose(b.resid_score, a.resid_score, rtol=0, atol=1e-9 * np.abs(a.resid_score).max())


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), ties=st.booleans(),
       A=st.lists(st.floats(-2, 2), min_size=4, max_size=4), shift=st.floats(-5, 5))
def test_affine_reparametrisation(seed, ties, A, shift):
    """X -> X A + shift: beta -> A^{-1} beta, dfbeta rows -> A^{-1} dfbeta_i, residuals unchanged."""
    A = np.array(A).reshape(2, 2)
    if abs(np.linalg.det(A)) < 0.2 or np.linalg.cond(A) > 50:
        A = A + 2.0 * np.eye(2)
    time, status, X, strata = _data(seed, ties)
    a = coxph_arrays(time, status, X, strata)
    b = coxph_arrays(time, status, X @ A + shift, strata)
    Ainv = np.linalg.inv(A)
    ia, ib = _influence(a), _influence(b)
    scale_b = np.abs(Ainv).max() * (np.abs(a.coef).max() + a.bse.max())
    np.testing.assert_allclose(b.coef, Ainv @ a.coef, rtol=0, atol=1e-8 * scale_b)
    np.testing.assert_allclose(ib.dfbeta_one_step, ia.dfbeta_one_step @ Ainv.T, rtol=0,
                               atol=1e-8 * np.abs(ib.dfbeta_one_step).max())
    ok = np.isfinite(ia.dfbeta_exact).all(axis=1) & np.isfinite(ib.dfbeta_exact).all(axis=1)
    np.testing.assert_allclose(ib.dfbeta_exact[ok], ia.dfbeta_exact[ok] @ Ainv.T, rtol=0,
                               atol=1e-8 * np.abs(ib.dfbeta_exact[ok]).max())
    np.testing.assert_allclose(b.resid_martingale, a.resid_martingale, rtol=0, atol=1e-9)
