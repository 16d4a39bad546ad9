"""Every kind of bad input gets a clear message naming what and where, or a documented NaN with one warning."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag import ConditioningWarning, DataError, DesignError, InfluenceWarning


@pytest.fixture
def df():
    rng = np.random.default_rng(0)
    n = 20
    d = pd.DataFrame(
        {
            "y": rng.standard_normal(n),
            "x1": rng.standard_normal(n),
            "x2": rng.standard_normal(n),
            "g": list("abcd") * 5,
            "w": rng.uniform(0.5, 2, n),
        },
        index=[f"r{i}" for i in range(n)],
    )
    return d


@pytest.mark.parametrize("col", ["y", "x1"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_values_raise_with_column_and_row(df, col, bad):
    df.loc["r7", col] = bad
    with pytest.raises(DataError, match=rf"column '{col}' at rows 'r7'"):
        regdiag.ols("y ~ x1 + x2", data=df, missing="raise")


def test_nonfinite_values_dropped_and_reported(df):
    df.loc["r3", "x1"] = np.nan
    df.loc["r9", "y"] = np.inf
    df.loc["r11", "g"] = None
    # missing values are dropped as R's na.omit; an infinite value is an error unless missing="drop"
    with pytest.raises(DataError, match=r"infinite values .* column 'y' at rows 'r9'"):
        regdiag.ols("y ~ x1 + x2 + g", data=df)
    with pytest.warns(regdiag.DataWarning, match=r"infinite values .*'r9'"):
        fit = regdiag.ols("y ~ x1 + x2 + g", data=df, missing="drop")
    assert list(fit.design.dropped) == ["r3", "r9", "r11"]
    assert fit.nobs == 17 and "r3" not in fit.index
    assert "dropped for missing values: 3 row(s)" in fit.summary()
    clean = regdiag.ols("y ~ x1 + x2 + g", data=df.drop(index=["r3", "r9", "r11"]))
    np.testing.assert_allclose(fit.coef, clean.coef, rtol=1e-13)


def test_missing_category_is_not_silently_a_level(df):
    df.loc["r2", "g"] = None
    with pytest.raises(DataError, match=r"column 'g' at rows 'r2'"):
        regdiag.ols("y ~ x1 + g", data=df, missing="raise")


def test_transform_making_infinity_names_the_model_column(df):
    df["x1"] = np.abs(df["x1"])
    df.loc["r5", "x1"] = 0.0
    with pytest.raises(DataError, match=r"np.log\(x1\).*'r5'"):
        regdiag.ols("y ~ np.log(x1)", data=df, missing="raise")
    with pytest.raises(DataError, match=r"model column 'np.log\(x1\)' at rows 'r5'"):
        regdiag.ols("y ~ np.log(x1)", data=df)
    with pytest.warns(regdiag.DataWarning, match=r"np.log\(x1\).*'r5'"):
        fit = regdiag.ols("y ~ np.log(x1)", data=df, missing="drop")
    assert list(fit.design.dropped) == ["r5"]


def test_transform_making_nan_drops_its_rows_as_r_does():
    """A NaN made by a transform (the log of a negative number) is a missing value in R's model frame: the row is
    dropped (R warns "NaNs produced"); an infinite value (log(0)) stops R and is an error here.
    R: coef(lm(log(mpg - 14) ~ wt, mtcars)) on 29 rows."""
    mtcars = regdiag.datasets.load("mtcars")
    with pytest.warns(regdiag.DataWarning, match=r"NaN.*'log\(mpg - 14\)'.*'Cadillac Fleetwood'"):
        fit = regdiag.ols("log(mpg - 14) ~ wt", data=mtcars)
    assert fit.nobs == 29
    assert list(fit.design.dropped) == ["Cadillac Fleetwood", "Lincoln Continental", "Camaro Z28"]
    np.testing.assert_allclose(fit.coef, [4.546968, -0.9893123], rtol=2e-7)  # R's printed coefficients
    with pytest.raises(DataError, match=r"infinite values .*'log\(mpg - 21\)' at rows 'Mazda RX4', 'Mazda RX4 Wag'"):
        regdiag.ols("log(mpg - 21) ~ wt", data=mtcars)  # log(0) there (R: NA/NaN/Inf in 'y')
    with pytest.raises(DataError, match=r"missing or infinite values.*'Cadillac Fleetwood'"):
        regdiag.ols("log(mpg - 14) ~ wt", data=mtcars, missing="raise")


def test_nan_in_arrays_names_column_and_position(df):
    X = df[["x1", "x2"]].copy()
    X.iloc[4, 1] = np.nan
    with pytest.raises(DataError, match=r"column 'x2' at rows 'r4'"):
        regdiag.ols(df["y"], X, missing="raise")
    Xa = X.to_numpy()
    with pytest.raises(DataError, match=r"column 'x2' at rows 4"):
        regdiag.ols(df["y"].to_numpy(), Xa, missing="raise")


def test_bad_weights(df):
    w = df["w"].to_numpy().copy()
    w[[2, 6]] = -1.0
    with pytest.raises(DataError, match=r"non-negative.*'r2', 'r6'"):
        regdiag.ols("y ~ x1", data=df, weights=w)
    w[:] = np.nan
    with pytest.raises(DataError, match="weights"):
        regdiag.ols("y ~ x1", data=df, weights=w, missing="raise")
    with pytest.raises(DataError, match="all weights are zero"):
        regdiag.ols("y ~ x1", data=df, weights=np.zeros(len(df)))
    with pytest.raises(DataError, match="'nope' is not a column"):
        regdiag.ols("y ~ x1", data=df, weights="nope")
    with pytest.raises(DataError, match="3 values but the data have 20 rows"):
        regdiag.ols("y ~ x1", data=df, weights=[1, 2, 3])


def test_too_few_observations(df):
    small = df.iloc[:3]
    with pytest.raises(DesignError, match=r"3 observation.*rank 3"):
        regdiag.ols("y ~ x1 + x2", data=small)
    w = np.zeros(len(df))
    w[:3] = 1
    with pytest.raises(DesignError, match="positive weight"):
        regdiag.ols("y ~ x1 + x2", data=df, weights=w)


def test_non_numeric_and_shape_errors(df):
    with pytest.raises(DataError, match=r"column 'g' is not numeric"):
        regdiag.ols(df["y"], df[["x1", "g"]])
    with pytest.raises(DataError, match="y has 20 rows but X has 19"):
        regdiag.ols(df["y"].to_numpy(), df[["x1"]].to_numpy()[:19])
    with pytest.raises(DataError, match="different row labels"):
        regdiag.ols(df["y"], df[["x1"]].set_axis(range(20)))
    with pytest.raises(DataError, match="duplicated column names"):
        regdiag.ols(df["y"], pd.concat([df[["x1"]], df[["x1"]]], axis=1))
    with pytest.raises(DataError, match="not numeric"):
        regdiag.ols(df["g"], df[["x1"]])
    with pytest.raises(DataError, match="one numeric column"):
        regdiag.ols("g ~ x1", data=df)


def test_formula_names_absent_column(df):
    with pytest.raises(DataError, match=r"uses 'x3', not a column of the data"):
        regdiag.ols("y ~ x1 + x3", data=df)
    with pytest.raises(DataError, match="needs data"):
        regdiag.ols("y ~ x1")


def test_constant_and_duplicated_columns_are_aliased(df):
    df["c"] = 5.0
    df["x1_again"] = df["x1"]
    fit = regdiag.ols("y ~ x1 + c + x2 + x1_again", data=df)
    assert fit.aliased == ("c", "x1_again")
    assert fit.rank == 3
    assert np.isnan(fit.params["c"]) and np.isnan(fit.params["x1_again"])
    assert "aliased" in fit.summary()
    infl = fit.influence()
    ref = regdiag.ols("y ~ x1 + x2", data=df).influence()
    np.testing.assert_allclose(infl.cooks_distance, ref.cooks_distance, rtol=1e-12)
    assert list(infl.to_frame("R").columns) == list(ref.to_frame("R").columns)


def test_perfect_fit_gives_nan_not_noise(df):
    y = 1.0 + 2.0 * df["x1"] - 0.5 * df["x2"]
    with pytest.warns(InfluenceWarning, match="perfect fit"):
        infl = regdiag.ols(y, df[["x1", "x2"]].assign(const=1.0)).influence()
    for name in ("standard_resid", "student_resid", "cooks_distance", "dffits", "cov_ratio", "sigma_loo"):
        assert np.isnan(getattr(infl, name)).all(), name
    assert np.isnan(infl.dfbeta).all()
    assert np.isfinite(infl.leverage).all()


def test_perfect_fit_summary_is_not_noise(df):
    y = 1.0 + 2.0 * df["x1"] - 0.5 * df["x2"]
    with pytest.warns(InfluenceWarning, match="perfect fit.*standard errors are reported as 0"):
        fit = regdiag.ols("y ~ x1 + x2", data=df.assign(y=y))
    assert fit.sigma == 0.0 and (fit.bse == 0.0).all()
    assert fit.tvalues.isna().all() and fit.pvalues.isna().all()
    np.testing.assert_allclose(fit.params.to_numpy(), [1.0, 2.0, -0.5], rtol=1e-14)


def test_text_weights_name_the_column_and_rows(df):
    d = df.assign(wt=list("uvwx") * 5, ws=["1", "2"] * 10)
    with pytest.raises(DataError, match=r"weights \(column 'wt'\) must be numbers.*'u'.*'r0'"):
        regdiag.ols("y ~ x1", data=d, weights="wt")
    with pytest.raises(DataError, match=r"weights \(column 'ws'\) must be numbers; text values"):
        regdiag.ols("y ~ x1", data=d, weights="ws")  # numbers written as text are refused, as in a design column
    with pytest.raises(DataError, match="weights must be numbers"):
        regdiag.ols("y ~ x1", data=d, weights=np.array(list("uvwx") * 5, dtype=object))


def test_statsmodels_result_with_missing_response_names_the_row(df):
    import statsmodels.api as sm

    y = df["y"].copy()
    y.iloc[3] = np.nan
    res = sm.OLS(y, sm.add_constant(df[["x1"]]), missing="none").fit()
    with pytest.raises(DataError, match=r"response.*'y' at rows 'r3'"):
        regdiag.influence(res)


def test_ill_conditioned_design_warns_with_condition_number():
    x = np.linspace(1, 2, 50)
    X = np.column_stack([x**k for k in range(9)])
    y = np.sin(x) + np.random.default_rng(1).standard_normal(50) * 1e-3
    with pytest.warns(ConditioningWarning, match=r"condition number \d"):
        regdiag.ols(y, X)


def test_leverage_one_rows_warn_once_naming_rows(df):
    df["d"] = 0.0
    df.loc["r4", "d"] = 1.0
    fit = regdiag.ols("y ~ x1 + d", data=df)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        infl = fit.influence()
    msgs = [str(w.message) for w in caught if w.category is InfluenceWarning]
    assert len(msgs) == 1 and "'r4'" in msgs[0]
    i = fit.index.get_loc("r4")
    assert infl.leverage[i] == 1.0 and np.isnan(infl.cooks_distance[i]) and np.isnan(infl.dfbeta[i]).all()


def test_unknown_options_are_named(df):
    infl = regdiag.ols("y ~ x1", data=df).influence()
    with pytest.raises(ValueError, match="style='excel' is not one of"):
        infl.to_frame(style="excel")
    with pytest.raises(ValueError, match="unknown flagging rule 'cooks'"):
        infl.flags("cooks")
    with pytest.raises(ValueError, match="missing='skip' is not one of"):
        regdiag.ols("y ~ x1", data=df, missing="skip")


def test_one_residual_degree_of_freedom_warns():
    rng = np.random.default_rng(3)
    with pytest.warns(InfluenceWarning, match="one residual degree of freedom"):
        infl = regdiag.ols(rng.random(4), rng.random((4, 3))).influence()
    assert np.isnan(infl.student_resid).all() and np.isfinite(infl.cooks_distance).all()


def test_deleting_a_row_that_leaves_a_perfect_fit():
    x = np.arange(8.0)
    y = 1.0 + 2.0 * x
    y[2] += 1.0  # every other point lies exactly on a line
    with pytest.warns(InfluenceWarning, match=r"perfect fit \(sigma_loo = 0\).*rows 2"):
        infl = regdiag.ols(y, np.column_stack([np.ones(8), x])).influence()
    assert infl.sigma_loo[2] == 0.0 and np.isnan(infl.student_resid[2])
    assert np.isfinite(np.delete(infl.student_resid, 2)).all()
