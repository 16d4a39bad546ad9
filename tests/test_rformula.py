"""R's formula language and MASS::glm.nb against R (tests/reference/formula, made by
tests/reference/R/make_formula_reference.R): every construct R users write, on R data sets not bundled."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import regdiag

REF = Path(__file__).parent / "reference" / "formula"
CASES = sorted(p.name for p in REF.iterdir() if p.is_dir())


def load(case: str) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, dict]:
    d = REF / case
    data = pd.read_csv(d / "data.csv", index_col=0)
    coef = pd.read_csv(d / "coef.csv", index_col=0)["estimate"]
    measures = pd.read_csv(d / "measures.csv", index_col=0)
    meta = json.loads((d / "meta.json").read_text())
    return data, coef, measures, meta


def fit_case(case: str):
    data, coef, measures, meta = load(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", regdiag.ConditioningWarning)
        if meta["family"] == "lm":
            fit = regdiag.ols(meta["formula"], data=data)
        else:
            fit = regdiag.glm(meta["formula"], data=data, family=meta["family"], tol=1e-13)
    return fit, data, coef, measures, meta


def close(actual, expected, rtol, what):
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=what)


@pytest.mark.parametrize("case", CASES)
def test_formula_matches_r(case):
    fit, data, coef, measures, meta = fit_case(case)
    rtol = 1e-8
    assert fit.nobs == meta["n"]
    assert sorted(map(str, fit.design.dropped)) == sorted(map(str, meta["dropped"]))
    assert list(map(str, fit.index)) == list(map(str, measures.index))
    assert len(fit.param_names) == len(coef)
    close(fit.coef, coef.to_numpy(), rtol, f"{case}: coefficients {list(fit.param_names)} vs {list(coef.index)}")
    infl = fit.influence()
    r = infl.to_frame(style="R")
    close(fit.fitted, measures["fitted"], rtol, f"{case}: fitted")
    close(r["hat"], measures["hat"], rtol, f"{case}: hat")
    close(r["cook.d"], measures["cooks"], rtol, f"{case}: Cook's distance")
    close(r["dffit"], measures["dffits"], rtol, f"{case}: dffits")
    close(r["cov.r"], measures["covratio"], rtol, f"{case}: covratio")
    dfb = [c for c in r.columns if c.startswith("dfb.")]
    close(r[dfb], measures[[f"dfb{j + 1}" for j in range(len(dfb))]], rtol, f"{case}: dfbetas")
    close(infl.standard_resid, measures["rstandard"], rtol, f"{case}: rstandard")
    close(infl.student_resid, measures["rstudent"], rtol, f"{case}: rstudent")


@pytest.mark.parametrize("case", [c for c in CASES if c.startswith("glmnb")])
def test_negative_binomial_theta_matches_glm_nb(case):
    fit, data, coef, measures, meta = fit_case(case)
    assert fit.theta is not None
    np.testing.assert_allclose(fit.theta.theta, meta["theta"], rtol=1e-8)
    np.testing.assert_allclose(fit.theta.se, meta["se_theta"], rtol=1e-6)
    np.testing.assert_allclose(2 * fit.theta.loglik, meta["twologlik"], rtol=1e-10)
    # MASS::glm.nb with its default control stops earlier; its theta is still within 1e-6
    np.testing.assert_allclose(fit.theta.theta, meta["glm_nb_theta"], rtol=1e-6)
    assert fit.dispersion == 1.0
    np.testing.assert_allclose(fit.aic, -meta["twologlik"] + 2 * (fit.rank + 1), rtol=1e-12)
