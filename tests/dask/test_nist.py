"""NIST StRD linear regression on Dask against the in-memory path, with the whole data as one block, blocks of 7
rows, and blocks of 2 rows (fewer rows than columns: every block is its own R factor).

Every data set but Filip: coefficients, leverage, Cook's distance, DFFITS and DFBETAS equal the in-memory results to
1e-10 relative (the Dask path refines the coefficients in extended precision where the in-memory path does, with
the same trigger), and the residuals of a refined fit to 1e-13 (the same solution's residuals, each formed in
double-double arithmetic). Wampler1 and Wampler2 are exact fits (the in-memory path warns that every deletion measure is
NaN): their coefficients and leverage are compared, and their deletion measures are NaN on both paths.

Filip (condition number ~1e10 after equilibration): the refined coefficients still equal the in-memory ones to
1e-10, but the per-row measures come from the orthonormal factor of a different (blocked) Householder QR, which
agrees with the in-memory one to about ``kappa * eps``: leverage, Cook's distance, DFFITS and DFBETAS agree with
the in-memory values to 1e-4 relative (measured: 4e-7, 1e-7, 1e-7 and 2e-6), and reach the in-memory suite's
targets against NIST's certified coefficients and the 50-digit reference: coefficients >= 7.5 correct digits,
leverage >= 6, Cook's distance >= 4.5 (measured 7.6, 6.2, 6.2).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import regdiag
from tests.dask.conftest import assert_same
from tests.linear.test_nist import NAMES, lre, mp_reference, nist_design

da = pytest.importorskip("dask.array")

MEASURES = ("leverage", "cooks_distance", "dffits", "dfbetas", "student_resid", "resid")
PERFECT = ("Wampler1", "Wampler2")
FILIP_RTOL = 1e-4
#: refined fits: residuals of the same solution, each formed to about 32 digits and rounded (measured: equal)
RESID_RTOL = 1e-13


def _chunkings(n: int) -> list[int]:
    return [n, 7, 2]


@pytest.fixture(scope="module")
def in_memory():
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", regdiag.ConditioningWarning)
        warnings.simplefilter("ignore", regdiag.InfluenceWarning)
        for name in NAMES:
            X, y = nist_design(name)
            fit = regdiag.ols(y, X)
            out[name] = (X, y, fit, fit.influence())
    return out


def _dask_fit(X, y, chunk):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = regdiag.ols(da.from_array(y, chunks=chunk), da.from_array(X, chunks=(chunk, X.shape[1])))
        infl = fit.influence().compute()
    return fit, infl, {type(w.message) for w in caught}


@pytest.mark.parametrize("name", [n for n in NAMES if n != "Filip"])
def test_equal_to_in_memory(name, in_memory):
    X, y, ref, ref_infl = in_memory[name]
    for chunk in _chunkings(len(y)):
        fit, infl, kinds = _dask_fit(X, y, chunk)
        assert regdiag.ConditioningWarning not in kinds  # nor in memory (test_nist)
        assert (fit.refine_steps > 0) == (ref.refine_steps > 0), (fit.est_error, ref.refine_steps)
        assert_same(fit.coef, ref.coef)
        assert_same(infl.leverage, ref_infl.leverage)
        if name in PERFECT:  # sigma and the standard errors are rounding noise
            assert fit.perfect_fit and ref.perfect_fit
            assert np.isnan(infl.cooks_distance).all() and np.isnan(infl.dfbetas).all()
            continue
        assert_same(fit.bse, ref.bse)
        np.testing.assert_allclose(fit.sigma, ref.sigma, rtol=1e-10)
        for m in MEASURES:
            assert_same(getattr(infl, m), getattr(ref_infl, m))
        if ref.refine_steps:  # the residuals of the refined solution, formed in double-double arithmetic
            assert_same(infl.resid, ref_infl.resid, rtol=RESID_RTOL)


def test_filip_reaches_the_in_memory_targets(in_memory):
    X, y, ref, ref_infl = in_memory["Filip"]
    cert = regdiag.datasets.nist_certified("Filip")["certified_coefficients"]
    href, cref = mp_reference(X, y)
    for chunk in _chunkings(len(y)):
        fit, infl, kinds = _dask_fit(X, y, chunk)
        assert regdiag.ConditioningWarning in kinds  # as in memory
        assert fit.refine_steps > 0
        assert_same(fit.coef, ref.coef)
        np.testing.assert_allclose(fit.sigma, ref.sigma, rtol=1e-10)
        for m in MEASURES:
            assert_same(getattr(infl, m), getattr(ref_infl, m), rtol=FILIP_RTOL)
        assert lre(fit.coef, cert).min() >= 7.5
        assert lre(infl.leverage, href).min() >= 6.0
        assert lre(infl.cooks_distance, cref).min() >= 4.5


def test_weighted_refinement_with_zero_weights_matches_in_memory(in_memory):
    """Longley (refined in memory) with weights, two of them zero, in blocks of 5 rows."""
    X, y, _, _ = in_memory["Longley"]
    w = np.linspace(0.5, 2.0, len(y))
    w[[3, 11]] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", regdiag.InfluenceWarning)
        ref = regdiag.ols(y, X, weights=w)
        ref_infl = ref.influence()
    fit = regdiag.ols(da.from_array(y, chunks=5), da.from_array(X, chunks=(5, X.shape[1])),
                      weights=da.from_array(w, chunks=5))
    assert ref.refine_steps > 0 and fit.refine_steps > 0
    assert_same(fit.coef, ref.coef)
    infl = fit.influence().compute()
    for m in MEASURES:
        assert_same(getattr(infl, m), getattr(ref_infl, m))
    np.testing.assert_allclose(fit.sigma, ref.sigma, rtol=1e-10)


def test_well_conditioned_fit_is_not_refined():
    rng = np.random.default_rng(1)
    X = np.column_stack([np.ones(300), rng.standard_normal((300, 2))])
    y = X @ [1.0, 2.0, 3.0] + rng.standard_normal(300)
    fit = regdiag.ols(da.from_array(y, chunks=100), da.from_array(X, chunks=(100, 3)))
    assert fit.est_error <= 1e-14 and fit.refine_steps == 0 and fit.x_refined is None
    assert regdiag.ols(y, X).refine_steps == 0


@pytest.mark.parametrize("name", ["Longley", "Wampler4"])
def test_gaussian_glm_uses_the_refined_solution(name, in_memory):
    """The Gaussian family with identity link is least squares: refined coefficients and residuals, as in memory."""
    from tests.dask.conftest import GLM_MEASURES, assert_same_influence

    X, y, _, _ = in_memory[name]
    ref = regdiag.glm(y, X, family="gaussian")
    fit = regdiag.glm(da.from_array(y, chunks=5), da.from_array(X, chunks=(5, X.shape[1])), family="gaussian")
    assert fit.x_refined is not None
    assert_same(fit.coef, ref.coef)
    ref_infl = ref.influence()
    infl = fit.influence()
    assert_same_influence(infl, ref_infl, GLM_MEASURES)
    assert_same(infl.resid.compute(), ref_infl.resid, rtol=RESID_RTOL)
