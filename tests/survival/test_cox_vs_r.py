"""Cox models against R's survival::coxph (tests/reference/coxph/, made by tests/reference/R/make_coxph_reference.R)."""

from __future__ import annotations

import json
from functools import cache, lru_cache

import numpy as np
import pandas as pd
import pytest

from regdiag.survival import coxph
from tests.reference_cases import ROOT

MANIFEST = ROOT / "tests" / "reference" / "coxph" / "manifest.json"


@lru_cache(maxsize=1)
def _manifest() -> dict:
    with open(MANIFEST, encoding="utf-8") as f:
        return json.load(f)


CASES = [c["case"] for c in _manifest()["cases"]]


@cache
def _case(name: str):
    spec = next(c for c in _manifest()["cases"] if c["case"] == name)
    data = pd.read_csv(ROOT / spec["data"], index_col=spec["index_col"])
    fit = coxph(spec["formula_r"], data, ties=spec["ties"], weights=spec.get("weights"))
    return spec, data, fit


def _read(spec: dict, key: str) -> pd.DataFrame:
    return pd.read_csv(ROOT / spec["files"][key], index_col=0)


def _rel(a, b) -> float:
    """Largest error of each column relative to the column's largest value."""
    a = np.asarray(a, dtype=float).reshape(len(a), -1)
    b = np.asarray(b, dtype=float).reshape(len(b), -1)
    return float(np.max(np.abs(a - b) / np.max(np.abs(b), axis=0)))


@pytest.mark.parametrize("name", CASES)
def test_fit_matches_r(name):
    spec, _, fit = _case(name)
    assert list(fit.param_names) == spec["terms"]
    coef = _read(spec, "coefficients").iloc[:, 0].to_numpy()
    np.testing.assert_allclose(fit.coef, coef, rtol=1e-8, atol=1e-8 * np.max(np.abs(coef)))
    se = _read(spec, "se").iloc[:, 0].to_numpy()
    if "naive_var" in spec["files"]:
        # non-integer case weights: R's default variance is the robust one, its inverse information is naive.var
        np.testing.assert_allclose(fit.cov, _read(spec, "naive_var").to_numpy(), rtol=1e-8,
                                   atol=1e-8 * np.max(np.abs(fit.cov)))
        cov = fit.cov_robust
    else:
        cov = fit.cov
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), se, rtol=1e-8, atol=0)
    np.testing.assert_allclose(cov, _read(spec, "var").to_numpy(), rtol=1e-8, atol=1e-8 * np.max(np.abs(cov)))
    sc = _read(spec, "scalars").iloc[:, 0]
    assert fit.loglik == pytest.approx(sc["loglik"], rel=1e-10)
    assert fit.loglik_null == pytest.approx(sc["loglik_null"], rel=1e-10)
    assert fit.n_events == sc["nevent"] and fit.n_obs == sc["n"]
    assert fit.converged


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("kind", ["martingale", "deviance"])
def test_vector_residuals_match_r(name, kind):
    spec, _, fit = _case(name)
    ref = _read(spec, kind)
    res = fit.residuals(kind)
    assert list(res.index) == list(ref.index)
    assert _rel(res, ref.iloc[:, 0]) < 1e-8


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("kind", ["score", "dfbeta", "dfbetas"])
def test_matrix_residuals_match_r(name, kind):
    spec, _, fit = _case(name)
    ref = _read(spec, kind)
    res = fit.residuals(kind)
    assert list(res.columns) == list(ref.columns)
    assert _rel(res, ref) < (1e-7 if kind.startswith("dfbeta") else 1e-8)


@pytest.mark.parametrize("name", CASES)
def test_schoenfeld_match_r(name):
    """R orders Schoenfeld residuals by stratum and time; tied events at one time are matched as a set."""
    spec, _data, fit = _case(name)
    ref = _read(spec, "schoenfeld")
    res = fit.residuals("schoenfeld")
    names = list(fit.param_names)
    assert len(res) == len(ref) == fit.n_events
    # the stratum of each event, numbered 1.. in sorted order of the strata values as R's strata() does
    codes = fit.design.strata[fit.design.status > 0] + 1
    times = fit.design.time[fit.design.status > 0]
    ours = res.assign(time=times, stratum=codes)
    scale = np.max(np.abs(ref[names].to_numpy()), axis=0)
    for (s, t), grp in ref.groupby(["stratum", "time"]):
        mine = ours[(ours.stratum == s) & (ours.time == t)][names].to_numpy()
        theirs = grp[names].to_numpy()
        assert mine.shape == theirs.shape
        key = lambda m: m[np.lexsort(m.T[::-1])]  # noqa: E731
        np.testing.assert_allclose(key(mine), key(theirs), rtol=0, atol=1e-8 * np.max(scale))


@pytest.mark.parametrize("name", [c["case"] for c in _manifest()["cases"] if "loo_coefficients" in c["files"]])
def test_exact_loo_matches_r_refits(name):
    spec, _, fit = _case(name)
    loo = _read(spec, "loo_coefficients").to_numpy()
    infl = fit.influence()
    exact = fit.coef - loo
    # within 1e-9 standard errors of R's refits (each polished to 1e-13 relative)
    assert np.max(np.abs(infl.dfbeta_exact - exact) / fit.bse) < 1e-9
    assert infl.loo_converged.all()
    # R's dfbeta is the one-step approximation: close, but not the exact change
    gap = _rel(infl.dfbeta_one_step, exact)
    assert 1e-3 < gap < 1.0
