"""Bad input to regdiag.glm: every case a clear message naming what and where."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag._validation import ConvergenceError
from regdiag.linear.families import make_family
from tests.reference_cases import load_case


@pytest.fixture
def df():
    rng = np.random.default_rng(3)
    n = 30
    x = rng.standard_normal(n)
    return pd.DataFrame(
        {"x": x, "y01": (rng.random(n) < 0.5).astype(float), "count": rng.poisson(3, n).astype(float),
         "pos": rng.gamma(2.0, 1.0, n)},
        index=[f"r{i}" for i in range(n)],
    )


@pytest.mark.parametrize(
    "family,column,value,match",
    [
        ("binomial", "y01", 1.5, r"binomial response 'y01' must lie in \[0, 1\].*'r4'.*1\.5"),
        ("binomial", "y01", -1.0, r"\[0, 1\].*'r4'"),
        ("poisson", "count", -2.0, r"poisson family models counts.*negative at rows 'r4'.*-2"),
        ("negative_binomial", "count", -1.0, r"negative_binomial family models counts.*'r4'"),
        ("gamma", "pos", 0.0, r"gamma family needs a positive response.*<= 0 at rows 'r4'"),
        ("gamma", "pos", -3.0, r"positive response.*'r4'"),
        ("inverse_gaussian", "pos", 0.0, r"inverse_gaussian family needs a positive response.*'r4'"),
    ],
)
def test_response_outside_support(df, family, column, value, match):
    df.loc["r4", column] = value
    with pytest.raises(regdiag.DataError, match=match):
        regdiag.glm(f"{column} ~ x", data=df, family=family)
    with pytest.raises(regdiag.DataError, match=match.replace("'y01' ", "'y01' ").replace("'y01'", "'y01'")):
        regdiag.glm(df[column], df[["x"]], family=family)


def test_binomial_counts_point_to_cbind(df):
    df["y01"] = df["count"]
    with pytest.raises(regdiag.DataError, match=r"cbind\(successes, failures\)"):
        regdiag.glm("y01 ~ x", data=df, family="binomial")


def test_two_column_response_is_for_binomial_only(df):
    df["f"] = 5 - df["count"].clip(upper=5)
    with pytest.raises(regdiag.DataError, match=r"two-column response.*binomial"):
        regdiag.glm(df[["count", "f"]].to_numpy(), df[["x"]], family="poisson")
    with pytest.raises(regdiag.DataError, match=r"cbind.*binomial GLMs"):
        regdiag.glm("cbind(count, f) ~ x", data=df, family="poisson")
    with pytest.raises(regdiag.DataError, match=r"cbind.*binomial GLMs"):
        regdiag.ols("cbind(count, f) ~ x", data=df)
    with pytest.raises(regdiag.DataError, match=r"exactly two arguments"):
        regdiag.glm("cbind(count, f, x) ~ x", data=df, family="binomial")


def test_negative_or_non_integer_counts(df):
    df["f"] = 5.0
    df.loc["r2", "f"] = -1.0
    with pytest.raises(regdiag.DataError, match=r"non-negative counts.*'r2'"):
        regdiag.glm("cbind(count, f) ~ x", data=df, family="binomial")
    df.loc["r2", "f"] = 2.5
    with pytest.warns(UserWarning, match=r"non-integer counts.*'r2'"):
        regdiag.glm("cbind(count, f) ~ x", data=df, family="binomial")
    df["prop"] = df["y01"]
    df.loc["r7", "prop"] = 0.3
    with pytest.warns(UserWarning, match=r"non-integer number of successes.*'r7'"):
        regdiag.glm("prop ~ x", data=df, family="binomial")


@pytest.mark.parametrize(
    "family,link,match",
    [
        ("binomal", None, r"unknown family 'binomal'; choose from 'gaussian', 'binomial'"),
        ("binomial", "logistic", r"unknown link 'logistic'; choose from 'identity', 'log', 'logit'"),
        ("poisson", "logit", r"the poisson family does not take the 'logit' link; its links are 'log', 'identity', 'sqrt'"),
        ("gamma", "probit", r"gamma family does not take the 'probit' link"),
        ("gaussian", "sqrt", r"gaussian family does not take the 'sqrt' link"),
        (3, None, r"family must be a name"),
    ],
)
def test_unknown_family_or_link(df, family, link, match):
    with pytest.raises(regdiag.DesignError, match=match):
        regdiag.glm("count ~ x", data=df, family=family, link=link)


def test_family_parameters():
    with pytest.raises(regdiag.DesignError, match="alpha must be a positive number"):
        make_family("negative_binomial", alpha=-1)
    with pytest.raises(regdiag.DesignError, match="the poisson family has none"):
        make_family("poisson", alpha=1.0)
    assert make_family("Gamma", "inverse").name == "gamma"
    assert make_family("inverse.gaussian", "1/mu^2").link.name == "inverse_squared"
    assert make_family("negative.binomial").alpha == 1.0


def test_non_convergence_carries_the_deviance_trace():
    case = load_case("glm_binomial_cloglog_birthwt")
    with pytest.raises(ConvergenceError, match=r"did not converge in 3 iterations.*deviance trace: [0-9.]+, ") as info:
        regdiag.glm(case.response(), case.design(), family="binomial", link="cloglog", maxit=3)
    trace = info.value.deviance_trace
    assert len(trace) == 4 and all(np.isfinite(trace))  # at R's starting means, then after each iteration
    assert trace[1] > trace[2] > trace[3]  # step halving keeps the deviance from increasing


def test_separation_warns_with_direction_and_rows_and_measures_are_nan():
    d = pd.DataFrame({"x": [1, 2, 3, 4, 5, 6, 7, 8.0], "y": [0, 0, 0, 0, 1, 1, 1, 1.0]},
                     index=list("abcdefgh"))
    with pytest.warns(regdiag.InfluenceWarning, match=r"complete separation.*direction .*x.*rows 'a', 'b'"):
        fit = regdiag.glm("y ~ x", data=d, family="binomial")
    assert fit.separation is not None and fit.separation.complete and not fit.converged
    assert "separation" in fit.summary()
    infl = fit.influence()
    assert not infl.reliable and infl.separated == tuple("abcdefgh")
    for attr in ("cooks_distance", "dffits", "student_resid", "cov_ratio", "sigma_loo", "press_resid"):
        assert np.isnan(getattr(infl, attr)).all(), attr
    assert np.isnan(infl.dfbeta).all() and np.isnan(infl.to_frame("SAS")["C"]).all()
    with pytest.raises(regdiag.DesignError, match="separated"):
        fit.group_deletion([["a", "b"]])


def test_quasi_complete_separation_names_only_the_separated_rows():
    d = pd.DataFrame({"x": [1, 2, 3, 4, 4, 5, 6, 7, 8.0], "y": [0, 0, 0, 0, 1, 1, 1, 1, 1.0]})
    with pytest.warns(regdiag.InfluenceWarning, match=r"quasi-complete separation.*rows 0, 1, 2, 5, 6, 7, 8\b"):
        fit = regdiag.glm("y ~ x", data=d, family="binomial")
    assert not fit.separation.complete
    assert list(fit.separation.rows) == [0, 1, 2, 5, 6, 7, 8]


def test_large_effect_without_separation_is_not_called_separation():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(400)
    y = (rng.random(400) < 1 / (1 + np.exp(-6 * x))).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error", regdiag.InfluenceWarning)
        fit = regdiag.glm(y, pd.DataFrame({"const": 1.0, "x": x}), family="binomial")
    assert fit.converged and fit.separation is None


def test_no_valid_starting_values(df):
    df["z"] = df["x"] - df["x"].min()  # y <= 0 with a log link has no R start
    with pytest.raises(regdiag.DataError, match=r"valid starting values.*log link.*'x'.*start="):
        regdiag.glm("x ~ count", data=df, family="gaussian", link="log")
    fit = regdiag.glm("pos ~ x", data=df, family="gaussian", link="log", start=[0.5, 0.0])
    assert fit.converged
    with pytest.raises(regdiag.DesignError, match=r"start has 3 values but the design has 2 columns"):
        regdiag.glm("pos ~ x", data=df, family="gamma", start=[1, 2, 3])


def test_missing_values_are_dropped_and_named(df):
    df.loc["r3", "count"] = np.nan
    fit = regdiag.glm("count ~ x", data=df, family="poisson")
    assert list(fit.design.dropped) == ["r3"] and fit.nobs == 29
    with pytest.raises(regdiag.DataError, match=r"column 'count' at rows 'r3'"):
        regdiag.glm("count ~ x", data=df, family="poisson", missing="raise")


def test_too_few_observations():
    with pytest.raises(regdiag.DesignError, match=r"no residual degrees of freedom"):
        regdiag.glm([1.0, 2.0], [[1.0, 0.0], [1.0, 1.0]], family="poisson")


def test_zero_weight_rows_are_kept_with_nan(df):
    w = np.ones(len(df))
    w[5] = 0.0
    fit = regdiag.glm("count ~ x", data=df, family="poisson", weights=w)
    with pytest.warns(regdiag.InfluenceWarning, match=r"zero weight.*'r5'"):
        infl = fit.influence()
    assert infl.leverage[5] == 0.0 and np.isnan(infl.cooks_distance[5]) and infl.n_obs == 29
    ref = regdiag.glm("count ~ x", data=df.drop(index="r5"), family="poisson")
    np.testing.assert_allclose(fit.coef, ref.coef, rtol=1e-12)
