"""Inputs to Design: formula, arrays, statsmodels results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf

import regdiag
from regdiag.design import design_from_statsmodels, make_design


def test_formula_adds_intercept_like_r_and_arrays_are_used_as_given():
    df = regdiag.datasets.load("cars")
    d = make_design("dist ~ speed", data=df)
    assert d.param_names == ("Intercept", "speed") and d.has_intercept
    assert make_design("dist ~ 0 + speed", data=df).param_names == ("speed",)
    a = make_design(df["dist"], df[["speed"]])
    assert a.param_names == ("speed",) and not a.has_intercept
    b = make_design(df["dist"].to_numpy(), sm.add_constant(df[["speed"]].to_numpy()))
    assert b.param_names == ("const", "x1")  # statsmodels' names for unnamed columns
    assert a.index.equals(df.index) and b.index.equals(pd.RangeIndex(len(df)))


def test_callers_arrays_stay_writeable():
    X = np.random.default_rng(0).random((10, 2))
    y = np.arange(10.0)
    fit = regdiag.ols(y, X)
    X[0, 0] = 1.0
    y[0] = 2.0
    assert not fit.design.X.flags.writeable


def test_statsmodels_design_keeps_row_labels_and_weights():
    df = regdiag.datasets.load("Duncan")
    res = smf.wls("prestige ~ income + education", data=df, weights=1.0 / df["income"]).fit()
    d = design_from_statsmodels(res)
    assert d.index.equals(df.index) and d.param_names == ("Intercept", "income", "education")
    np.testing.assert_allclose(d.weights, 1.0 / df["income"].to_numpy())
    assert d.formula == "prestige ~ income + education"


def test_new_data_design_uses_the_same_levels():
    df = regdiag.datasets.load("InsectSprays")
    d = make_design("count ~ spray", data=df)
    new = d.design_for(pd.DataFrame({"spray": ["C", "F"]}))
    assert new.shape == (2, d.n_params)
    assert new[0, d.param_names.index("spray[T.C]")] == 1.0


def test_stateful_transforms_see_their_columns():
    df = regdiag.datasets.load("cars")
    a = regdiag.ols("dist ~ center(speed)", data=df)
    b = regdiag.ols("dist ~ speed", data=df)
    np.testing.assert_allclose(a.influence().cooks_distance, b.influence().cooks_distance, rtol=1e-12)
    np.testing.assert_allclose(a.params.iloc[1], b.params.iloc[1], rtol=1e-12)
    df.loc[df.index[3], "speed"] = np.nan
    assert list(regdiag.ols("dist ~ poly(speed, 2)", data=df).design.dropped) == [df.index[3]]
