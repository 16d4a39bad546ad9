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
        ("poisson", "logit",
         r"the poisson family does not take the 'logit' link; its links are 'log', 'identity', 'sqrt'"),
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


# ---- count models whose maximum-likelihood estimate is on the boundary --------------------------------------------

def _zero_level():
    """Level "c" has only zero counts: its coefficient's MLE is -infinity (R: converged, "fitted rates numerically
    0 occurred"; 33 iterations and g[T.c] = -36.07 at epsilon = 1e-15, about -20 at R's default epsilon)."""
    return pd.DataFrame({
        "y": [2, 0, 3, 1, 4, 2, 1, 0, 2, 3, 1, 5, 0, 0, 0, 0, 0, 0.0],
        "g": np.repeat(["a", "b", "c"], 6),
        "x": [-1.2, -0.4, 0.3, 0.9, 1.5, -0.7, 0.2, -1.1, 0.8, 1.3, -0.5, 0.6, -0.9, 0.1, 1.1, -0.3, 0.4, 1.7],
    }, index=[f"r{i}" for i in range(18)])


# R: glm(y ~ g + x, data = d[d$g != "c", ], control = glm.control(epsilon = 1e-15)): (Intercept), gb, x; deviance
R_WITHOUT_ZERO_LEVEL = {
    "poisson": ([0.54837297563363285, -0.042321394332745219, 0.50440444882796931], 11.072189726205853),
    "negative_binomial": ([0.59051856189743446, -0.13127078514008636, 0.51294572137916716], 6.7541329112611797),
}


@pytest.mark.parametrize("family", ["poisson", "negative_binomial"])
def test_count_model_with_a_zero_level_is_fitted_on_the_boundary(family):
    d = _zero_level()
    alpha = 0.5 if family == "negative_binomial" else None  # R's theta = 2
    with pytest.warns(regdiag.InfluenceWarning, match=r"on the boundary.*direction -1\*g\[T\.c\], .*rows 'r12', "
                      r"'r13', 'r14', 'r15', 'r16', 'r17' \(all zero counts\).*fit without these rows"):
        fit = regdiag.glm("y ~ g + x", data=d, family=family, alpha=alpha)
    sep = fit.separation
    assert sep is not None and sep.kind == "boundary" and not sep.complete and list(sep.rows) == list(range(12, 18))
    assert fit.converged and "boundary" in fit.summary()
    # the other coefficients and the fitted values are the fit without the zero level (R's, and regdiag's own)
    sub = regdiag.glm("y ~ g + x", data=d[d["g"] != "c"], family=family, alpha=alpha)
    others = ["Intercept", "g[T.b]", "x"]
    np.testing.assert_allclose(fit.params[others], sub.params[others], rtol=1e-10)
    coef_r, dev_r = R_WITHOUT_ZERO_LEVEL[family]
    # (R's deviance rule stops ~1e-9 short for the negative binomial's non-canonical log link)
    np.testing.assert_allclose(fit.params[others], coef_r, rtol=1e-8)
    np.testing.assert_allclose(fit.deviance, dev_r, rtol=1e-12)
    np.testing.assert_allclose(fit.mu[:12], sub.mu, rtol=1e-10)
    # the zero level's fitted means are numerically 0: at the log link's floor eps, as in R at epsilon = 1e-15
    assert np.all(fit.mu[12:] <= 2 * np.finfo(float).eps) and fit.params["g[T.c]"] < -30
    infl = fit.influence()
    assert not infl.reliable and infl.separated == tuple(f"r{i}" for i in range(12, 18))
    for attr in ("cooks_distance", "dffits", "student_resid", "sigma_loo"):
        assert np.isnan(getattr(infl, attr)).all(), attr
    # neither more iterations nor a looser tolerance changes it (they did not help the old error either)
    with pytest.warns(regdiag.InfluenceWarning, match="on the boundary"):
        again = regdiag.glm("y ~ g + x", data=d, family=family, alpha=alpha, maxit=1000, tol=1e-8)
    np.testing.assert_allclose(again.params[others], coef_r, rtol=1e-7)


@pytest.mark.parametrize("family", ["poisson", "negative_binomial"])
def test_zero_counts_in_the_reference_level(family):
    """The all-zero level is the baseline: the direction moves the intercept and every other level's coefficient
    together, and the other levels' fitted means must still be those of the fit without the baseline's rows
    (R 4.2.2: glm(y ~ g + x, poisson, epsilon = 1e-15) on these data has deviance 2.1772313796286777, and
    2.1772313796286755 without the rows of level a)."""
    d = pd.DataFrame({"g": list("aaabbbcccc"), "x": np.arange(10.0), "y": [0, 0, 0, 1, 3, 2, 4, 5, 6, 3.0]})
    alpha = 0.5 if family == "negative_binomial" else None
    with pytest.warns(regdiag.InfluenceWarning, match="on the boundary"):
        fit = regdiag.glm("y ~ g + x", data=d, family=family, alpha=alpha)
    sub = regdiag.glm("y ~ g + x", data=d[d["g"] != "a"], family=family, alpha=alpha)
    np.testing.assert_allclose(fit.mu[3:], sub.mu, rtol=1e-9)
    np.testing.assert_allclose(fit.deviance, sub.deviance, rtol=1e-9)
    if family == "poisson":
        np.testing.assert_allclose(fit.deviance, 2.1772313796286777, rtol=1e-9)
    assert np.all(fit.mu[:3] <= 2 * np.finfo(float).eps)


def test_zero_cell_of_an_interaction_and_an_all_zero_response():
    rng = np.random.default_rng(11)
    d = pd.DataFrame({"g": np.tile(["a", "b"], 20), "h": np.repeat(["u", "v"], 20), "x": rng.standard_normal(40)})
    d["y"] = rng.poisson(np.exp(1.0 + 0.3 * d["x"])).astype(float)
    cell = (d["g"] == "b") & (d["h"] == "v")
    d.loc[cell, "y"] = 0.0
    with pytest.warns(regdiag.InfluenceWarning, match="on the boundary"):
        fit = regdiag.glm("y ~ g * h + x", data=d, family="poisson")
    assert set(fit.separation.rows) == set(np.flatnonzero(cell))
    sub = regdiag.glm("y ~ g * h + x", data=d[~cell], family="poisson")  # the interaction is aliased there
    np.testing.assert_allclose(fit.mu[~cell.to_numpy()], sub.mu, rtol=1e-10)
    np.testing.assert_allclose(fit.params["x"], sub.params["x"], rtol=1e-10)
    assert np.all(fit.mu[cell.to_numpy()] <= 2 * np.finfo(float).eps)
    # every count zero: the intercept goes to -infinity (fitted means at eps), every row separated
    with pytest.warns(regdiag.InfluenceWarning, match=r"on the boundary.*every observation"):
        allzero = regdiag.glm(np.zeros(10), np.ones((10, 1)), family="poisson")
    assert allzero.separation.complete and allzero.converged and np.all(allzero.mu <= 2 * np.finfo(float).eps)


@pytest.mark.parametrize("family,link", [("poisson", "identity"), ("poisson", "sqrt"),
                                         ("negative_binomial", "identity"), ("negative_binomial", "sqrt")])
def test_count_model_on_the_boundary_of_a_restricted_link_names_the_rows(family, link):
    d = _zero_level()
    d["x"] += 3.0
    with pytest.raises(regdiag.DesignError, match=rf"on the boundary.*rows 'r12'.*With the {link} link those fitted "
                       r"means would have to reach 0.*log link") as info:
        regdiag.glm("y ~ g + x", data=d, family=family, link=link)
    assert "start=" not in str(info.value)  # advice that cannot work is not given


def test_a_stall_is_diagnosed_as_such(monkeypatch):
    """Without the boundary detection, the zero level's fitted means reach the log link's clamp and IRLS stalls:
    the deviance stops changing while every step stays -1 in g[T.c]. The error says so, and does not advise raising
    maxit."""
    import regdiag.linear.glm_irls as gi

    monkeypatch.setattr(gi, "detect_boundary", lambda X, y, w: None)
    for maxit in (60, 200):
        with pytest.raises(ConvergenceError, match=r"IRLS stalled: over the last 5 iterations the deviance did not "
                           r"change.*rows 'r12', 'r13'.*clamp.*More iterations cannot help.*pass tol above") as info:
            regdiag.glm("y ~ g + x", data=_zero_level(), family="poisson", maxit=maxit)
        assert "raise maxit" not in str(info.value).lower()


def test_non_convergence_that_was_still_converging_advises_more_iterations():
    case = load_case("glm_binomial_cloglog_birthwt")
    with pytest.raises(ConvergenceError, match=r"still shrinking.*raise maxit"):
        regdiag.glm(case.response(), case.design(), family="binomial", link="cloglog", maxit=5)


@pytest.mark.parametrize("seed", [36, 37])
def test_negative_binomial_theta_on_nearly_poisson_counts_converges(seed):
    """Counts with little overdispersion: the likelihood is flat in theta, and Newton's steps stop shrinking at the
    score's rounding long before they fall below 1e-12 theta. theta_ml stops there, at the maximum (the
    log-likelihood's own maximizer on a fine grid agrees), instead of failing to converge."""
    from scipy.optimize import minimize_scalar

    from regdiag.linear.negbin import negbin_loglik, theta_ml

    rng = np.random.default_rng(seed)
    mu = np.exp(1.0 + 0.5 * rng.normal(size=3000))
    y = rng.negative_binomial(200.0, 200.0 / (200.0 + mu)).astype(float)
    w = np.ones_like(y)
    theta, se = theta_ml(y, mu, w)
    best = minimize_scalar(lambda lt: -negbin_loglik(float(np.exp(lt)), y, mu, w), bracket=(3.0, 6.0), tol=1e-12)
    assert theta == pytest.approx(float(np.exp(best.x)), rel=1e-4)
    assert np.isfinite(se) and se > 0
