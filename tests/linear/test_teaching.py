"""The numbers behind the teaching plots against R (car::vif, residuals(type = "partial") as car::crPlots draws
them, car::infIndexPlot's series; tests/reference/R/make_teaching_reference.R) and against brute force."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag import DataError
from regdiag.linear import teaching

REF = Path(__file__).resolve().parents[1] / "reference" / "teaching"

CASES = {
    "lm_lifecyclesavings": ("LifeCycleSavings", "sr ~ pop15 + pop75 + dpi + ddpi", None),
    "lm_duncan_factor": ("Duncan", "prestige ~ income + education + type", None),
    "glm_quine_poisson": ("quine", "Days ~ Eth + Sex + Age + Lrn", "poisson"),
    "glm_birthwt_binomial": ("birthwt", "low ~ age + lwt + smoke + ptl + ht + ui", "binomial"),
    # not bundled: the data are beside the numbers. An offset is not a term (a factor's columns stay one term);
    # car's outlierTest uses t(df - 1) for a negative binomial with theta estimated
    "lm_anorexia_offset": (None, "Postwt ~ Prewt + Treat + offset(Prewt)", None),
    "glmnb_ships_offset": (None, "incidents ~ type + factor(period) + offset(log(service))", "negative_binomial"),
}


def _fit(case: str):
    name, formula, family = CASES[case]
    data = regdiag.datasets.load(name) if name else pd.read_csv(REF / case / "data.csv", index_col=0)
    if family is None:
        return regdiag.ols(formula, data=data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return regdiag.glm(formula, data=data, family=family)


def _ref(case: str, what: str) -> pd.DataFrame:
    return pd.read_csv(REF / case / f"{what}.csv", index_col=0)


@pytest.mark.parametrize("case", list(CASES))
def test_vif_matches_car(case):
    got = teaching.vif(_fit(case))
    ref = _ref(case, "vif")
    assert list(got.index) == list(ref.index) and list(got.columns) == list(ref.columns)
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-9, atol=0)


@pytest.mark.parametrize("case", list(CASES))
def test_partial_residuals_match_r(case):
    got = teaching.partial_residuals(_fit(case))
    ref = _ref(case, "partial_residuals")
    assert list(got.columns) == list(ref.columns) and list(got.index) == list(ref.index)
    scale = np.max(np.abs(ref.to_numpy()))
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-9, atol=1e-11 * scale)


@pytest.mark.parametrize("case", list(CASES))
def test_index_plot_values_match_car(case):
    fit = _fit(case)
    got = teaching.index_values(fit.influence())
    ref = _ref(case, "index_values")
    assert list(got.columns) == list(ref.columns) and list(got.index) == list(ref.index)
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-8, atol=1e-300)


def test_vif_of_one_column_terms_is_one_over_one_minus_r_squared():
    fit = _fit("lm_lifecyclesavings")
    X = np.asarray(fit.design.X)
    for j, term in enumerate(["pop15", "pop75", "dpi", "ddpi"], start=1):
        others = np.delete(X, j, axis=1)
        r2 = regdiag.ols(X[:, j], others).rsquared
        assert teaching.vif(fit).loc[term, "GVIF"] == pytest.approx(1.0 / (1.0 - r2), rel=1e-10)


def test_vif_needs_two_terms_and_no_aliasing():
    df = regdiag.datasets.load("LifeCycleSavings")
    with pytest.raises(DataError, match="at least two terms"):
        teaching.vif(regdiag.ols("sr ~ pop15", data=df))
    df = df.assign(twice=2 * df["pop15"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = regdiag.ols("sr ~ pop15 + twice + dpi", data=df)
    with pytest.raises(DataError, match="aliased"):
        teaching.vif(fit)


def test_hadi_potential_and_residual_by_brute_force():
    fit = _fit("lm_lifecyclesavings")
    pr = teaching.potential_residual(fit.influence())
    X, y = np.asarray(fit.design.X), np.asarray(fit.design.y)
    n, p = X.shape
    H = X @ np.linalg.solve(X.T @ X, X.T)  # n = 50: the hat matrix is small enough to form in a test
    h = np.diag(H)
    e = y - H @ y
    d2 = e**2 / (e @ e)
    np.testing.assert_allclose(pr["potential"], h / (1 - h), rtol=1e-10)
    np.testing.assert_allclose(pr["residual"], p / (1 - h) * d2 / (1 - d2), rtol=1e-10)
    # 1 - d^2 - h is the residual sum of squares left after deleting the row, relative to the whole (x (1 - h))
    i = int(np.argmax(pr["hadi"]))
    keep = np.arange(n) != i
    b = np.linalg.lstsq(X[keep], y[keep], rcond=None)[0]
    rss_i = np.sum((y[keep] - X[keep] @ b) ** 2)
    assert rss_i / (e @ e) == pytest.approx((1 - h[i] - d2[i]) / (1 - h[i]), rel=1e-10)


@pytest.mark.parametrize("case", ["lm_lifecyclesavings", "glm_quine_poisson"])
def test_deletion_effect_is_the_refit_without_the_rows(case):
    fit = _fit(case)
    name, formula, family = CASES[case]
    data = regdiag.datasets.load(name)
    rows = list(data.index[[3, 17]])
    eff = teaching.deletion_effect(fit, rows)
    rest = data.drop(index=rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refit = regdiag.ols(formula, data=rest) if family is None else regdiag.glm(formula, data=rest, family=family)
    np.testing.assert_allclose(eff.params_deleted, refit.coef, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(eff.params, fit.coef)
    with pytest.raises(DataError, match="not a row label"):
        teaching.deletion_effect(fit, "Atlantis")


def test_component_values_are_the_terms_column():
    fit = _fit("lm_duncan_factor")
    np.testing.assert_array_equal(teaching.component_values(fit, "income"), regdiag.datasets.load("Duncan")["income"])
    with pytest.raises(DataError, match="box plot"):
        teaching.component_values(fit, "type")
