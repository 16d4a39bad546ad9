"""Cox model formulas (Surv, strata, categorical terms) and the errors bad input gets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag import DataError, DesignError


@pytest.fixture
def df() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 60
    x = rng.standard_normal(n)
    grp = rng.choice(["a", "b", "c"], n)
    t = rng.exponential(np.exp(-0.5 * x))
    c = rng.exponential(2.0, n)
    return pd.DataFrame({"time": np.round(np.minimum(t, c), 2), "status": (t <= c).astype(int), "x": x,
                         "grp": grp, "site": rng.choice(["north", "south"], n), "z": rng.standard_normal(n)},
                        index=[f"id{i}" for i in range(n)])


def test_strata_and_categorical(df):
    fit = regdiag.coxph("Surv(time, status) ~ x + C(grp) + strata(site)", df)
    assert fit.param_names == ("x", "C(grp)[T.b]", "C(grp)[T.c]")
    assert fit.design.strata_labels == ("site=north", "site=south")
    # the same model with strata given as arrays
    X = np.column_stack([df.x, df.grp == "b", df.grp == "c"]).astype(float)
    ref = regdiag.survival.coxph_arrays(df.time, df.status, X, strata=df.site.to_numpy())
    np.testing.assert_allclose(fit.coef, ref.coef, rtol=1e-12)


def test_two_strata_variables_and_expressions(df):
    fit = regdiag.coxph("Surv(time * 2, status) ~ x + strata(site, grp)", df)
    assert len(fit.design.strata_labels) == 6 and fit.design.strata_labels[0] == "site=north, grp=a"
    ref = regdiag.coxph("Surv(time, status) ~ x + strata(site, grp)", df)
    np.testing.assert_allclose(fit.coef, ref.coef, rtol=1e-12)


def test_strata_of_r_style_dotted_names():
    """strata(ecog.ps), strata(factor(ecog.ps)) and Surv(fu.time, ...) read R's dotted column names as names (not
    attribute access); R: coef(coxph(Surv(futime, fustat) ~ age + strata(ecog.ps), ovarian)) = 0.139626721950919."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "reference" / "coxph" / "data" / "ovarian.csv"
    ov = pd.read_csv(path, index_col=0).rename(columns={"ecog_ps": "ecog.ps", "futime": "fu.time"})
    ref = regdiag.coxph("Surv(fu.time, fustat) ~ age + strata(ecog.ps)", ov)
    assert ref.design.strata_labels == ("ecog.ps=1", "ecog.ps=2")
    assert ref.coef[0] == pytest.approx(0.139626721950919, rel=1e-9)
    fit = regdiag.coxph("Surv(fu.time, fustat) ~ age + strata(factor(ecog.ps))", ov)
    np.testing.assert_allclose(fit.coef, ref.coef, rtol=1e-13)
    with pytest.raises(DataError, match=r"strata variable 'ecog\.pss' in .* is not a column of the data"):
        regdiag.coxph("Surv(fu.time, fustat) ~ age + strata(ecog.pss)", ov)


@pytest.mark.parametrize("code", ["bool", "one_two"])
def test_status_codings(df, code):
    d = df.copy()
    d["status"] = d.status.astype(bool) if code == "bool" else d.status + 1
    fit = regdiag.coxph("Surv(time, status) ~ x + z", d)
    ref = regdiag.coxph("Surv(time, status) ~ x + z", df)
    np.testing.assert_allclose(fit.coef, ref.coef, rtol=1e-14)


def test_missing_rows_are_dropped_and_recorded(df):
    d = df.copy()
    d.loc["id3", "x"] = np.nan
    d.loc["id5", "time"] = np.nan
    fit = regdiag.coxph("Surv(time, status) ~ x + z", d)
    assert set(fit.design.dropped) == {"id3", "id5"}
    assert fit.n_obs == len(d) - 2 and "id3" not in fit.index
    infl = fit.influence(loo=None)
    assert list(infl.to_frame().index) == list(fit.index)
    with pytest.raises(DataError, match="covariates have missing values at rows 'id3', 'id5'"):
        regdiag.coxph("Surv(time, status) ~ x + z", d, missing="raise")  # a covariate's and the time's, together


@pytest.mark.parametrize(
    "formula, match",
    [
        ("time ~ x", "must be Surv"),
        ("Surv(time, time, status) ~ x", "start < stop"),
        ("Surv(time, status) ~ x + cluster(site) + cluster(x)", "one cluster"),
        ("Surv(time, status) ~ x + offset(x, x)", "one argument"),
        ("Surv(time) ~ x", "two arguments"),
        ("Surv(time, status) ~ x:strata(site)", "interaction"),
        ("Surv(time, status) ~ strata(site)", "no covariates"),
        ("Surv(time, nope) ~ x", "'nope' .* not a column"),
        # the user's formula and columns, not the internal ones the design is built with
        ("Surv(time, status) ~ x + nope", r"^the formula 'Surv\(time, status\) ~ x \+ nope' uses 'nope', not a "
                                          r"column of the data; columns are \['time', 'status', 'x', 'grp', 'site', "
                                          r"'z'\]$"),
    ],
)
def test_formula_errors(df, formula, match):
    with pytest.raises(DataError, match=match):
        regdiag.coxph(formula, df)


def test_bad_values(df):
    d = df.copy()
    d.loc["id7", "status"] = 3
    with pytest.raises(DataError, match=r"status.*id7"):
        regdiag.coxph("Surv(time, status) ~ x", d)
    d = df.copy()
    d.loc["id8", "time"] = -1.0
    with pytest.raises(DataError, match=r">= 0.*id8"):
        regdiag.coxph("Surv(time, status) ~ x", d)
    d = df.copy()
    d["status"] = 0
    with pytest.raises(DataError, match="no events"):
        regdiag.coxph("Surv(time, status) ~ x", d)
    with pytest.raises(ValueError, match="ties='exact'"):
        regdiag.coxph("Surv(time, status) ~ x", df, ties="exact")


def test_aliased_columns_are_named(df):
    d = df.assign(x2=2.0 * df.x + 1.0)
    with pytest.raises(DesignError, match="'x2'"):
        regdiag.coxph("Surv(time, status) ~ x + x2", d)
    # constant within every stratum: no coefficient
    d = df.assign(s_ind=(df.site == "north").astype(float))
    with pytest.raises(DesignError, match="'s_ind'"):
        regdiag.coxph("Surv(time, status) ~ x + s_ind + strata(site)", d)


def test_residual_frames(df):
    fit = regdiag.coxph("Surv(time, status) ~ x + z", df)
    sch = fit.residuals("schoenfeld")
    assert len(sch) == int(df.status.sum()) and list(sch.columns) == ["x", "z"]
    assert fit.residuals("martingale").index.equals(fit.index)
    with pytest.raises(ValueError, match="'pearson'"):
        fit.residuals("pearson")
    s = fit.summary_frame()
    assert list(s.columns) == ["coef", "exp(coef)", "se(coef)", "z", "Pr(>|z|)"]


def test_weights_column(df):
    d = df.assign(w=np.linspace(0.5, 2.0, len(df)))
    fit = regdiag.coxph("Surv(time, status) ~ x + z", d, weights="w")
    ref = regdiag.survival.coxph_arrays(d.time, d.status, d[["x", "z"]], weights=d.w.to_numpy())
    np.testing.assert_allclose(fit.coef, ref.coef, rtol=1e-12)
    d.loc["id4", "w"] = np.nan
    assert "id4" in regdiag.coxph("Surv(time, status) ~ x + z", d, weights="w").design.dropped
    d.loc["id6", "w"] = 0.0
    with pytest.raises(DataError, match=r"positive.*id6"):
        regdiag.coxph("Surv(time, status) ~ x + z", d, weights="w")
    with pytest.raises(DataError, match="'nope' is not a column"):
        regdiag.coxph("Surv(time, status) ~ x + z", d, weights="nope")
