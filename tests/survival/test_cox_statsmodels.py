"""statsmodels' PHReg results in regdiag: refitted, compared, and its differences explained."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import regdiag
from tests.reference_cases import ROOT

pytest.importorskip("statsmodels")
from statsmodels.duration.hazard_regression import PHReg

VET = ROOT / "tests" / "reference" / "coxph" / "data" / "veteran.csv"
FORMULA = "time ~ trt + karno + diagtime + age + prior"


@pytest.fixture(scope="module")
def veteran() -> pd.DataFrame:
    return pd.read_csv(VET, index_col="row")


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_influence_accepts_phreg(veteran, ties):
    res = PHReg.from_formula(FORMULA, veteran, status=veteran.status, ties=ties).fit()
    infl = regdiag.influence(res, loo=None)
    assert isinstance(infl, regdiag.CoxInfluence)
    fit = regdiag.coxph("Surv(time, status) ~ trt + karno + diagtime + age + prior", veteran, ties=ties)
    np.testing.assert_allclose(fit.coef, res.params, rtol=1e-9)
    np.testing.assert_allclose(infl.dfbeta_one_step, fit.dfbeta, rtol=1e-12, atol=1e-15)
    assert list(infl.index) == list(veteran.index)


def test_compare_efron_reasons_are_checked(veteran):
    res = PHReg.from_formula(FORMULA, veteran, status=veteran.status, ties="efron").fit()
    cmp = regdiag.compare(res)
    t = cmp.table
    assert t.loc[["coefficients", "standard_errors", "loglik"], "agree"].all()
    # statsmodels' Efron score residuals are Breslow-type: percent-level differences, reproduced exactly
    assert 1e-3 < t.loc["score_residuals", "max_rel_diff"] < 0.1
    assert 1e-3 < t.loc["dfbeta", "max_rel_diff"] < 0.1
    for m in ("score_residuals", "dfbeta", "schoenfeld"):
        assert not t.loc[m, "agree"] and t.loc[m, "explained"]
        assert "Breslow-type" in t.loc[m, "reason"]
    assert t.loc["martingale", "explained"] and "lags one event time" in t.loc["martingale", "reason"]
    assert cmp.all_explained
    assert {r.key for r in cmp.reasons} == {"efron_score_breslow", "martingale_lagged_hazard"}


def test_compare_breslow_agrees_except_martingale(veteran):
    fit = regdiag.coxph("Surv(time, status) ~ trt + karno + diagtime + age + prior", veteran, ties="breslow")
    cmp = regdiag.compare(fit)  # a regdiag fit: statsmodels refits it
    t = cmp.table
    assert t.drop(index="martingale")["agree"].all()
    assert not t.loc["martingale", "agree"] and t.loc["martingale", "explained"]


def test_compare_stratified(veteran):
    res = PHReg.from_formula(FORMULA, veteran, status=veteran.status, ties="efron", strata=veteran.celltype).fit()
    cmp = regdiag.compare(res)
    assert cmp.table.loc[["coefficients", "standard_errors", "loglik"], "agree"].all()
    assert cmp.all_explained


def test_phreg_weights_are_refused_with_the_reason(veteran):
    w = np.linspace(0.5, 2.0, len(veteran))
    res = PHReg.from_formula(FORMULA, veteran, status=veteran.status, weights=w).fit()
    plain = PHReg.from_formula(FORMULA, veteran, status=veteran.status).fit()
    # the reason, checked: statsmodels' weighted fit is its unweighted fit
    np.testing.assert_allclose(res.params, plain.params, rtol=0, atol=0)
    with pytest.raises(regdiag.DataError, match="does not use"):
        regdiag.influence(res)
