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
    fit, _data, coef, measures, meta = fit_case(case)
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
    fit, _data, _coef, _measures, meta = fit_case(case)
    assert fit.theta is not None
    np.testing.assert_allclose(fit.theta.theta, meta["theta"], rtol=1e-8)
    np.testing.assert_allclose(fit.theta.se, meta["se_theta"], rtol=1e-6)
    np.testing.assert_allclose(2 * fit.theta.loglik, meta["twologlik"], rtol=1e-10)
    # MASS::glm.nb with its default control stops earlier; its theta is still within 1e-6
    np.testing.assert_allclose(fit.theta.theta, meta["glm_nb_theta"], rtol=1e-6)
    assert fit.dispersion == 1.0
    np.testing.assert_allclose(fit.aic, -meta["twologlik"] + 2 * (fit.rank + 1), rtol=1e-12)


# ---- each formerly silent change: now the right number, an error or a warning, with its message ------------------


@pytest.fixture
def small():
    rng = np.random.default_rng(7)
    n = 30
    return pd.DataFrame(
        {
            "y": rng.normal(10, 1, n),
            "age": rng.integers(20, 60, n),  # integers: ^ was bitwise XOR here
            "wt": rng.uniform(1, 3, n),
            "Solar.R": rng.normal(200, 30, n),
            "Month": rng.integers(5, 9, n),
            "g": rng.choice(["a", "b", "c"], n),
            "lfp": rng.choice(["no", "yes"], n),
            "t": rng.uniform(1, 2, n),
            "k": rng.poisson(3, n).astype(float),
        },
        index=[f"r{i}" for i in range(n)],
    )


@pytest.mark.parametrize("col", ["age", "wt"])
@pytest.mark.parametrize("op", ["^", "**"])
def test_power_inside_I_is_a_power(small, col, op):
    fit = regdiag.ols(f"y ~ I({col}{op}2)", data=small)
    np.testing.assert_array_equal(fit.design.X[:, 1], small[col].to_numpy(dtype=float) ** 2)


def test_dotted_names_as_written_and_backquoted(small):
    plain = regdiag.ols("y ~ Solar.R + log(Solar.R)", data=small)
    quoted = regdiag.ols("y ~ `Solar.R` + log(`Solar.R`)", data=small)
    np.testing.assert_array_equal(plain.design.X, quoted.design.X)
    np.testing.assert_array_equal(plain.design.X[:, 1], small["Solar.R"])


def test_factor_and_as_factor_and_relevel(small):
    a = regdiag.ols("y ~ factor(Month)", data=small)
    b = regdiag.ols("y ~ as.factor(Month)", data=small)
    np.testing.assert_array_equal(a.design.X, b.design.X)
    assert a.design.X.shape[1] == small["Month"].nunique()
    r = regdiag.ols("y ~ relevel(factor(g), ref = 'b')", data=small)
    assert [n.rsplit(".", 1)[-1] for n in r.param_names[1:]] == ["a]", "c]"]
    np.testing.assert_allclose(r.fitted, regdiag.ols("y ~ g", data=small).fitted, rtol=1e-12)
    with pytest.raises(regdiag.DataError, match=r"relevel\(\.\.\., ref='z'\): 'z' is not a level"):
        regdiag.ols("y ~ relevel(g, ref = 'z')", data=small)


@pytest.mark.parametrize("formula", ["y ~ age | g", "y ~ age + (1 | g)"])
def test_bar_is_one_line_error(small, formula):
    with pytest.raises(regdiag.DataError, match=r"uses '\|' .*regdiag fits fixed-effect models") as err:
        regdiag.ols(formula, data=small)
    assert "\n" not in str(err.value)


def test_unknown_function_names_it_and_says_what_to_write(small):
    with pytest.raises(regdiag.DataError, match=r"the function s\(\) in the term 's\(age\)'.*ns\(x, df\)"):
        regdiag.ols("y ~ s(age)", data=small)
    with pytest.raises(regdiag.DataError, match=r"uses 'nope', not a column of the data"):
        regdiag.ols("y ~ nope", data=small)


def test_dot_is_every_other_column(small):
    fit = regdiag.ols("y ~ .", data=small[["y", "age", "wt", "g"]])
    assert set(fit.param_names) == {"Intercept", "age", "wt", "g[T.b]", "g[T.c]"}
    fit = regdiag.ols("log(y) ~ .", data=small[["y", "age", "wt"]])
    assert set(fit.param_names) == {"Intercept", "age", "wt"}


def test_nonfinite_transform_is_an_error_naming_term_and_rows(small):
    d = small.copy()
    d.loc["r4", "y"] = 0.0
    with pytest.raises(regdiag.DataError, match=r"model column 'log\(y\)' at rows 'r4'.*missing='drop'"):
        regdiag.ols("log(y) ~ age", data=d)
    with pytest.warns(regdiag.DataWarning, match=r"not finite .*'log\(y\)'.*rows 'r4'"):
        fit = regdiag.ols("log(y) ~ age", data=d, missing="drop")
    assert list(fit.design.dropped) == ["r4"]
    d.loc["r6", "t"] = 0.0
    with pytest.raises(regdiag.DataError, match=r"'offset\(log\(t\)\)' at rows 'r6'"):
        regdiag.glm("k ~ age + offset(log(t))", data=d, family="poisson")


def test_missing_values_are_dropped_and_listed_as_na_omit(small):
    d = small.copy()
    d.loc["r2", "wt"] = np.nan
    d.loc["r5", "g"] = None
    fit = regdiag.ols("y ~ wt + g", data=d)
    assert list(fit.design.dropped) == ["r2", "r5"]
    assert "dropped for missing values: 2 row(s) ('r2', 'r5')" in fit.summary()


def test_one_level_factor_is_an_error_naming_it(small):
    d = small.assign(one="only")
    with pytest.raises(regdiag.DataError, match=r"the factor one in .* single level \['only'\].*2 or more levels"):
        regdiag.ols("y ~ age + one", data=d)
    d2 = small.copy()
    d2.loc[d2["g"] != "a", "y"] = np.nan  # only level 'a' is left after na.omit
    with pytest.raises(regdiag.DataError, match=r"the factor g .* single level \['a'\]"):
        regdiag.ols("y ~ age + g", data=d2)


@pytest.mark.parametrize("family", ["poisson", "negative_binomial"])
def test_non_integer_counts_warn_as_r(small, family):
    d = small.copy()
    d.loc["r3", "k"] = 2.5
    with pytest.warns(regdiag.DataWarning, match=r"non-integer counts .* rows 'r3' \(values 2\.5\)"):
        regdiag.glm("k ~ age", data=d, family=family, theta=2.0 if family == "negative_binomial" else None)


def test_non_integer_binomial_successes_warn(small):
    d = small.assign(s=np.full(len(small), 1.5), f=np.ones(len(small)))
    with pytest.warns(regdiag.DataWarning, match=r"non-integer counts in a binomial response"):
        regdiag.glm("cbind(s, f) ~ age", data=d, family="binomial")


def test_text_response_for_binomial_states_level_order(small):
    fit = regdiag.glm("lfp ~ age", data=small, family="binomial")
    same = regdiag.glm("I(lfp == 'yes') ~ age", data=small, family="binomial")
    np.testing.assert_allclose(fit.coef, same.coef, rtol=1e-12)
    assert "'no' (its first level) = 0, 'yes' = 1" in fit.summary()
    with pytest.raises(regdiag.DataError, match=r"only a binomial GLM takes a text response"):
        regdiag.glm("lfp ~ age", data=small, family="poisson")


def test_negative_binomial_theta_is_the_joint_maximum_likelihood():
    """theta and the coefficients maximize the negative binomial likelihood jointly (checked by a direct optimizer)."""
    from scipy import optimize, special

    rng = np.random.default_rng(3)
    n = 200
    x = rng.normal(size=n)
    mu = np.exp(1.0 + 0.5 * x)
    y = rng.negative_binomial(2.0, 2.0 / (2.0 + mu)).astype(float)
    fit = regdiag.glm("y ~ x", data=pd.DataFrame({"y": y, "x": x}), family="negative_binomial")

    def nll(p):
        b0, b1, log_th = p
        m, th = np.exp(b0 + b1 * x), np.exp(log_th)
        return -np.sum(special.gammaln(th + y) - special.gammaln(th) - special.gammaln(y + 1)
                       + th * np.log(th / (th + m)) + y * np.log(m / (th + m)))

    best = optimize.minimize(nll, [0.0, 0.0, 0.0], method="BFGS", options={"gtol": 1e-10})
    np.testing.assert_allclose(fit.coef, best.x[:2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.log(fit.theta.theta), best.x[2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fit.theta.loglik, -best.fun, rtol=1e-10)


def test_negative_binomial_theta_fixed_or_none(small):
    from regdiag._validation import ConvergenceError

    with pytest.raises(ConvergenceError, match=r"no overdispersion; fit family='poisson'"):
        regdiag.glm("k ~ age", data=small, family="negative_binomial")  # Poisson counts: theta -> infinity
    fixed = regdiag.glm("k ~ age", data=small, family="negative_binomial", theta=4.0)
    alpha = regdiag.glm("k ~ age", data=small, family="negative_binomial", alpha=0.25)
    np.testing.assert_allclose(fixed.coef, alpha.coef, rtol=1e-12)
    assert fixed.theta is None
    with pytest.raises(regdiag.DesignError, match=r"theta or alpha, not both"):
        regdiag.glm("k ~ age", data=small, family="negative_binomial", theta=4.0, alpha=0.25)


def test_spline_bases_predict_beyond_the_data(small):
    """ns/bs keep their knots for new data (R's makepredictcall) and extrapolate as R (linear for ns)."""
    fit = regdiag.ols("y ~ ns(wt, 3)", data=small)
    new = pd.DataFrame({"wt": [small["wt"].max() + 1.0, small["wt"].max() + 2.0, small["wt"].max() + 3.0]})
    X = fit.design.design_for(new)
    # linear beyond the boundary knot: equal second differences vanish
    np.testing.assert_allclose(np.diff(X, n=2, axis=0), 0.0, atol=1e-12)
    Xin = fit.design.design_for(small)
    np.testing.assert_allclose(Xin, fit.design.X, rtol=1e-13, atol=1e-15)


# ---- invariances ---------------------------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(
    ints=st.lists(st.integers(-50, 50), min_size=12, max_size=40),
    seed=st.integers(0, 2**16),
)
def test_power_and_reference_level_properties(ints, seed):
    """I(x^2) is x**2 for any integers; the reference level (relevel, factor levels order) moves coefficients but
    not fitted values or leverage."""
    rng = np.random.default_rng(seed)
    n = len(ints)
    df = pd.DataFrame({"x": np.array(ints), "g": rng.choice(["p", "q", "r"], n), "y": rng.normal(size=n)})
    X = regdiag.ols("y ~ I(x^2)", data=df).design.X
    np.testing.assert_array_equal(X[:, 1], np.array(ints, dtype=float) ** 2)
    if df["g"].nunique() < 3 or n < 8:
        return
    base = regdiag.ols("y ~ x + g", data=df)
    ref = str(rng.choice(["p", "q", "r"]))
    other = regdiag.ols(f"y ~ x + relevel(g, ref='{ref}')", data=df)
    order = list(rng.permutation(["p", "q", "r"]))
    third = regdiag.ols(f"y ~ x + factor(g, levels=c{tuple(order)})", data=df)
    for fit in (other, third):
        np.testing.assert_allclose(fit.fitted, base.fitted, rtol=1e-9, atol=1e-9 * np.abs(base.fitted).max())
        np.testing.assert_allclose(fit.influence().leverage, base.influence().leverage, rtol=1e-9, atol=1e-12)


def test_text_reference_level_other_than_rs_is_said():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"y": rng.normal(size=30), "Origin": rng.choice(["USA", "non-USA"], 30)})
    with pytest.warns(regdiag.DataWarning, match=r"takes 'USA' as its reference .* R, .* takes 'non-USA'.*"
                                                 r"relevel\(Origin, ref='non-USA'\)"):
        fit = regdiag.ols("y ~ Origin", data=df)
    with warnings.catch_warnings():
        warnings.simplefilter("error", regdiag.DataWarning)
        r = regdiag.ols("y ~ relevel(Origin, ref='non-USA')", data=df)  # R's parametrization: no warning
    np.testing.assert_allclose(r.coef[1], -fit.coef[1], rtol=1e-12)


def test_reference_level_warning_follows_the_unicode_collation():
    """R (built with ICU) sorts symbols before digits before letters: MASS::Insurance's Group and Age read from a
    CSV start at '<1l' and '<25' in R (R: sort(c("1-1.5l", "1.5-2l", "<1l", ">2l"))), not at '1-1.5l' and
    '25-29', so both factors are named."""
    from regdiag.design import _r_collation_key

    assert sorted(["1-1.5l", "1.5-2l", "<1l", ">2l"], key=_r_collation_key) == ["<1l", ">2l", "1-1.5l", "1.5-2l"]
    # R 4.2 with ICU: sort(c("b", "B", "a_1", "a-2", "a 3", "A", "$x", "#y", "~z", "10", "9"))
    assert sorted(["b", "B", "a_1", "a-2", "a 3", "A", "$x", "#y", "~z", "10", "9"], key=_r_collation_key) == [
        "#y", "~z", "$x", "10", "9", "A", "a 3", "a_1", "a-2", "b", "B"]
    rng = np.random.default_rng(6)
    df = pd.DataFrame({"y": rng.normal(size=40), "Group": rng.choice(["1-1.5l", "1.5-2l", "<1l", ">2l"], 40),
                       "Age": rng.choice(["25-29", "30-35", "<25", ">35"], 40)})
    with pytest.warns(regdiag.DataWarning) as rec:
        regdiag.ols("y ~ Group + Age", data=df)
    said = " ".join(str(w.message) for w in rec)
    assert "relevel(Group, ref='<1l')" in said and "relevel(Age, ref='<25')" in said


def test_an_interaction_coded_otherwise_than_r_is_said():
    """R: ncol(model.matrix(mpg ~ hp + factor(cyl):factor(am), mtcars)) is 8 (one column per cell, the last
    aliased); the formula library codes the same space with 7 columns: a warning names the term. Where R and
    regdiag code alike (a * b, a + a:b, 0 + a:b, x:a) nothing is said."""
    mtcars = regdiag.datasets.load("mtcars")
    said = r"factor\(cyl\):factor\(am\).* 5 columns where R's model.matrix has 6"
    with pytest.warns(regdiag.DataWarning, match=said):
        fit = regdiag.ols("mpg ~ hp + factor(cyl):factor(am)", data=mtcars)
    full = regdiag.ols("mpg ~ hp + factor(cyl) * factor(am)", data=mtcars)  # the same column space
    np.testing.assert_allclose(fit.fitted, full.fitted, rtol=1e-12)
    for formula in ("mpg ~ factor(cyl) * factor(am)", "mpg ~ factor(cyl) + factor(cyl):factor(am)",
                    "mpg ~ 0 + factor(cyl):factor(am)", "mpg ~ hp:factor(am)"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", regdiag.DataWarning)
            regdiag.ols(formula, data=mtcars)
