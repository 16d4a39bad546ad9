"""Against statsmodels' OLSInfluence where statsmodels is right: unweighted, full-rank designs without h = 1 rows.

statsmodels computes the external measures (sigma_(i), params_not_obsi) by refitting n times: an independent check.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.stats.outliers_influence import OLSInfluence

import regdiag
from regdiag.testing import ols_loo_refit

CASES = [
    ("LifeCycleSavings", "sr ~ pop15 + pop75 + dpi + ddpi"),
    ("Duncan", "prestige ~ income + education"),
    ("stackloss", "stack_loss ~ Air_Flow + Water_Temp + Acid_Conc"),
    ("cars", "dist ~ speed"),
    ("mtcars", "mpg ~ wt + hp + qsec"),
]


@pytest.fixture(params=CASES, ids=[c[0] for c in CASES])
def pair(request):
    name, formula = request.param
    df = regdiag.datasets.load(name)
    res = smf.ols(formula, data=df).fit()
    return regdiag.influence(res), res.get_influence(), regdiag.ols(formula, data=df).influence()


def test_summary_frame_identical_columns_and_values(pair):
    mine, theirs, _ = pair
    a = mine.to_frame(style="statsmodels")
    b = theirs.summary_frame()
    assert list(a.columns) == list(b.columns)
    assert a.index.equals(b.index)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-9, atol=1e-13)


def test_individual_measures(pair):
    mine, theirs, _ = pair
    np.testing.assert_allclose(mine.leverage, theirs.hat_matrix_diag, rtol=1e-11)
    np.testing.assert_allclose(mine.standard_resid, theirs.resid_studentized_internal, rtol=1e-10)
    np.testing.assert_allclose(mine.student_resid, theirs.resid_studentized_external, rtol=1e-10)
    d, pval = theirs.cooks_distance
    np.testing.assert_allclose(mine.cooks_distance, d, rtol=1e-10)
    np.testing.assert_allclose(mine.cooks_pvalue, pval, rtol=1e-9)
    np.testing.assert_allclose(mine.dffits, theirs.dffits[0], rtol=1e-10)
    np.testing.assert_allclose(mine.dfbetas, theirs.dfbetas, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(mine.dfbeta, theirs.dfbeta, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(mine.cov_ratio, theirs.cov_ratio, rtol=1e-10)
    np.testing.assert_allclose(mine.press_resid, theirs.resid_press, rtol=1e-10)
    # statsmodels refits n times for these two: an independent check of the closed forms
    np.testing.assert_allclose(mine.sigma_loo**2, theirs.sigma2_not_obsi, rtol=1e-10)
    np.testing.assert_allclose(mine.loo_params, theirs.params_not_obsi, rtol=1e-9)


def test_statsmodels_results_and_formula_agree(pair):
    mine, _, from_formula = pair
    pd.testing.assert_frame_equal(mine.to_frame(), from_formula.to_frame(), rtol=1e-12)


def test_wls_results_are_refitted_with_weights():
    """regdiag.influence(WLS results) uses the weights throughout (statsmodels' OLSInfluence does not)."""
    df = regdiag.datasets.load("cars")
    w = 1.0 / df["speed"].to_numpy()
    res = sm.WLS(df["dist"], sm.add_constant(df[["speed"]]), weights=w).fit()
    mine = regdiag.influence(res)
    direct = regdiag.ols(df["dist"], sm.add_constant(df[["speed"]]), weights=w).influence()
    np.testing.assert_allclose(mine.to_frame().to_numpy(), direct.to_frame().to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(mine.params, res.params, rtol=1e-10)
    # right where statsmodels is not: refitting without each row, with the weights, gives regdiag's numbers
    X = sm.add_constant(df[["speed"]]).to_numpy()
    refit = ols_loo_refit(X, df["dist"].to_numpy(), w)
    np.testing.assert_allclose(mine.loo_params, refit.params, rtol=1e-10)
    np.testing.assert_allclose(mine.sigma_loo, refit.sigma, rtol=1e-10)
    theirs = OLSInfluence(res)
    assert np.max(np.abs(theirs.params_not_obsi - refit.params)) > 1.0
    assert abs(mine.leverage.sum() - 2.0) < 1e-12


def test_unsupported_statsmodels_model_is_named():
    df = regdiag.datasets.load("cars")
    res = sm.GLS(df["dist"], sm.add_constant(df[["speed"]])).fit()
    with pytest.raises(regdiag.DataError, match="GLS"):
        regdiag.influence(res)


def test_statsmodels_style_has_statsmodels_columns_for_a_rank_deficient_design():
    import warnings

    import statsmodels.api as sm

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 2))
    X = np.column_stack([np.ones(20), X, X[:, 0] + X[:, 1]])
    y = rng.standard_normal(20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = regdiag.ols(y, X).influence().to_frame("statsmodels")
        theirs = sm.OLS(y, X).fit().get_influence().summary_frame()
    assert list(ours.columns) == list(theirs.columns)
    assert ours["dfb_x3"].isna().all()  # aliased: not estimable
    np.testing.assert_allclose(ours["hat_diag"], theirs["hat_diag"], rtol=1e-10)
