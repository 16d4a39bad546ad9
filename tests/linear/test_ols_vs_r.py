"""regdiag's OLS/WLS influence against R's lm / influence.measures / car::outlierTest (committed reference values).

Known, documented differences, checked explicitly rather than skipped:
* rows with leverage 1: R reports DFBETA(S) = 0 there (lm.influence sets the coefficient change to 0) and a finite
  leave-one-out sigma; regdiag reports NaN for every deletion measure of such a row (deleting it makes a
  coefficient unidentifiable).
* zero weights: R drops those rows from influence.measures; regdiag keeps them with leverage 0 and NaN deletion
  measures.
* car's Bonferroni p-value is n * p uncapped; regdiag caps it at 1.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import regdiag
from tests.reference_cases import case_names, load_case

CASES = case_names("lm")
RTOL = 1e-9


def _fit(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", regdiag.InfluenceWarning)
        fit = regdiag.ols(case.response(), case.design(), weights=case.weights())
        infl = fit.influence()
    return fit, infl


def _close(actual, expected, rtol=RTOL):
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    scale = np.nanmax(np.abs(expected)) if np.isfinite(expected).any() else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=1e-12 * max(scale, 1e-300), equal_nan=True)


@pytest.fixture(params=CASES)
def case(request):
    return load_case(request.param)


def _rows(case, infl):
    """R's rows (zero-weight rows are absent there) and their positions in regdiag's result."""
    ref_rows = case.ref("hatvalues").index
    pos = infl.index.get_indexer(ref_rows)
    assert (pos >= 0).all()
    return ref_rows, pos


def test_coefficients_sigma_rank(case):
    fit, _ = _fit(case)
    coef = case.ref("coefficients").iloc[:, 0]
    _close(fit.params.loc[coef.index].to_numpy(), coef.to_numpy(), rtol=1e-10)
    sc = case.scalars()
    assert fit.rank == int(sc["rank"])
    assert fit.df_resid == int(sc["df_residual"])
    _close(fit.sigma, sc["sigma"], rtol=1e-11)
    assert list(fit.aliased) == list(case.spec["aliased"])


@pytest.mark.parametrize(
    "quantity,attr",
    [
        ("hatvalues", "leverage"),
        ("rstandard", "standard_resid"),
        ("rstudent", "student_resid"),
        ("cooks_distance", "cooks_distance"),
        ("dffits", "dffits"),
        ("covratio", "cov_ratio"),
        ("loo_sigma", "sigma_loo"),
    ],
)
def test_observation_measures(case, quantity, attr):
    _, infl = _fit(case)
    rows, pos = _rows(case, infl)
    expected = case.ref(quantity).iloc[:, 0].to_numpy(dtype=float)
    actual = getattr(infl, attr)[pos]
    hat_one = np.isin(rows, case.spec["hat_one_rows"])
    if attr == "sigma_loo":
        assert np.isnan(actual[hat_one]).all()
        actual, expected = actual[~hat_one], expected[~hat_one]
    _close(actual, expected)


@pytest.mark.parametrize("quantity,attr", [("dfbeta", "dfbeta"), ("dfbetas", "dfbetas")])
def test_dfbeta(case, quantity, attr):
    fit, infl = _fit(case)
    rows, pos = _rows(case, infl)
    ref = case.ref(quantity)
    cols = [list(fit.param_names).index(t) for t in ref.columns]
    actual = getattr(infl, attr)[np.ix_(pos, cols)]
    hat_one = np.isin(rows, case.spec["hat_one_rows"])
    assert np.isnan(actual[hat_one]).all()
    assert (ref.to_numpy()[hat_one] == 0).all()  # R's convention, documented above
    _close(actual[~hat_one], ref.to_numpy(dtype=float)[~hat_one])


def test_influence_measures_frame(case):
    _, infl = _fit(case)
    rows, pos = _rows(case, infl)
    ref = case.ref("infmat")
    mine = infl.to_frame(style="R")
    assert list(mine.columns) == list(ref.columns)
    mine = mine.iloc[pos]
    hat_one = np.isin(rows, case.spec["hat_one_rows"])
    dfb = [c for c in ref.columns if c.startswith("dfb.")]
    other = [c for c in ref.columns if not c.startswith("dfb.")]
    _close(mine[other].to_numpy(), ref[other].to_numpy(dtype=float))
    _close(mine[dfb].to_numpy()[~hat_one], ref[dfb].to_numpy(dtype=float)[~hat_one])


def test_is_inf_exactly(case):
    _, infl = _fit(case)
    rows, pos = _rows(case, infl)
    ref = case.ref("is_inf")
    flags = infl.flags("R")
    assert list(flags.columns) == list(ref.columns)
    flags = flags.iloc[pos]
    hat_one = np.isin(rows, case.spec["hat_one_rows"])
    dfb = [c for c in ref.columns if c.startswith("dfb.")]
    for col in ref.columns:
        exp = ref[col].map({True: True, False: False, "TRUE": True, "FALSE": False}).astype("boolean")
        got = flags[col].reset_index(drop=True)
        exp = exp.reset_index(drop=True)
        if col in dfb:
            # R: DFBETAS 0 at h = 1, so FALSE; regdiag: NaN, so NA
            assert got[hat_one].isna().all()
            got, exp = got[~hat_one], exp[~hat_one]
        assert got.isna().equals(exp.isna()), col
        assert (got.dropna() == exp.dropna()).all(), col


def test_outlier_test_as_car(case):
    _, infl = _fit(case)
    ref = case.ref("outlier_test")
    mine = infl.outlier_test(cutoff=None, n_max=None)
    assert list(mine.index[: len(ref)]) == list(ref.index)
    m = mine.loc[ref.index]
    _close(m["student_resid"], ref["rstudent"])
    _close(m["unadjusted_p"], ref["unadjusted_p"])
    _close(m["bonferroni_p"], np.minimum(1.0, ref["bonferroni_p"].to_numpy()))


def test_exact_loo_against_r_refits(case):
    fit, infl = _fit(case)
    ref = case.ref("loo_coefficients")  # R refits, one per row (zero-weight rows included)
    pos = infl.index.get_indexer(ref.index)
    undefined = np.isin(ref.index, case.spec["hat_one_rows"]) | np.isin(ref.index, case.spec["dropped_rows"])
    cols = [list(fit.param_names).index(t) for t in ref.columns]
    mine = infl.loo_params[np.ix_(pos, cols)]
    assert np.isnan(mine[undefined]).all()
    _close(mine[~undefined], ref.to_numpy(dtype=float)[~undefined], rtol=1e-8)


def test_zero_weight_rows_kept_with_nan():
    case = load_case("wls_lifecyclesavings_zero_weight")
    _, infl = _fit(case)
    dropped = case.spec["dropped_rows"]
    assert dropped == ["Libya"]
    i = infl.index.get_loc("Libya")
    assert infl.leverage[i] == 0.0
    for attr in ("standard_resid", "student_resid", "cooks_distance", "dffits", "cov_ratio", "sigma_loo"):
        assert np.isnan(getattr(infl, attr)[i]), attr
    assert np.isnan(infl.dfbeta[i]).all()
    # its raw residual is still defined: y - fitted, as R's residuals()
    _close(infl.resid[i], case.ref("residuals").loc["Libya"].iloc[0])
    assert infl.n_obs == 49


def test_warnings_name_the_rows():
    case = load_case("lm_leverage_one_dummy")
    with pytest.warns(regdiag.InfluenceWarning, match=r"leverage is 1.*'21'"):
        regdiag.ols(case.response(), case.design()).influence()
    case = load_case("wls_lifecyclesavings_zero_weight")
    with pytest.warns(regdiag.InfluenceWarning, match=r"zero weight.*'Libya'"):
        regdiag.ols(case.response(), case.design(), weights=case.weights()).influence()


def test_formula_gives_r_results():
    """The formula interface (intercept added, as R) gives the same numbers as the design columns."""
    df = regdiag.datasets.load("LifeCycleSavings")
    infl = regdiag.ols("sr ~ pop15 + pop75 + dpi + ddpi", data=df).influence()
    ref = load_case("lm_lifecyclesavings").ref("infmat")
    mine = infl.to_frame("R")
    assert list(mine.columns) == list(ref.columns)
    _close(mine.loc[ref.index].to_numpy(), ref.to_numpy(dtype=float))
