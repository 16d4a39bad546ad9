"""End to end against R on data sets regdiag does not bundle (R's datasets, MASS, carData), as an R user fits them.

The reference values were made by ``tests/reference/R/make_r_datasets_reference.R`` (lm, glm binomial / poisson /
Gamma and MASS::glm.nb with R's formulas: ``.``, dotted names, ``I()`` powers, ``poly``, ``ns``, ``bs``, ``offset``,
``cbind``, missing values, a ``subset=`` done here in pandas) and are read from ``tests/reference/r_datasets``.
Each case is fitted through the Python API and through ``regdiag report``; coefficients, fitted values and every
influence measure are compared with R's, and car's ``outlierTest`` with ``outlier_test(style="R")``. Cases whose R
factors have an order the CSV file does not keep (R's ordered factors, levels not sorted) have other coefficients
and DFBETAS; the measures that do not depend on the parametrization are compared there.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag.cli import main

REF = Path(__file__).parent / "reference" / "r_datasets"
CASES = sorted(p.name for p in REF.iterdir() if p.is_dir())
#: R's GLMs were converged to epsilon 1e-14; R's hat values are those of its last iteration's start
RTOL = 1e-8


def load(case: str) -> tuple[pd.DataFrame, dict, pd.Series, pd.DataFrame]:
    data = pd.read_csv(REF / case / "data.csv", index_col=0)
    meta = json.loads((REF / case / "meta.json").read_text())
    if meta["subset"]:
        data = data.query(meta["subset"])
    coef = pd.read_csv(REF / case / "coef.csv", index_col=0)["estimate"]
    measures = pd.read_csv(REF / case / "measures.csv", index_col=0)
    return data, meta, coef, measures


def fit_case(meta: dict, data: pd.DataFrame, **kw):
    if meta["family"] == "lm":
        return regdiag.ols(meta["formula"], data=data, **kw)
    return regdiag.glm(meta["formula"], data=data, family=meta["family"], link=meta["link"], tol=1e-13, **kw)


def close(actual, expected, rtol=RTOL):
    """Relative to the largest |expected| of the quantity (R's own rounding is relative to it)."""
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.nanmax(np.abs(expected)))


@pytest.fixture(scope="module", params=CASES)
def case(request):
    data, meta, coef, ref = load(request.param)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", regdiag.ConditioningWarning)
        fit = fit_case(meta, data)
    return request.param, data, meta, coef, ref, fit


def test_rows_and_dropped(case):
    _, _, meta, _, ref, fit = case
    assert [str(i) for i in fit.influence().index] == [str(i) for i in ref.index]
    assert sorted(map(str, fit.design.dropped)) == sorted(meta["dropped"])
    assert fit.nobs == meta["n"]


def test_measures_as_r(case):
    _, _, meta, coef, ref, fit = case
    infl = fit.influence()
    mine = infl.to_frame(style="R")
    close(fit.fitted, ref["fitted"])
    close(mine["hat"], ref["hat"])
    close(mine["cook.d"], ref["cooks"])
    close(infl.standard_resid, ref["rstandard"])
    close(infl.student_resid, ref["rstudent"])
    close(mine["dffit"], ref["dffits"])
    close(mine["cov.r"], ref["covratio"])
    if meta.get("same_parametrization", True):
        close(fit.coef, coef.to_numpy())
        dfb = [c for c in mine.columns if c.startswith("dfb.")]
        close(mine[dfb], ref[[f"dfb{j + 1}" for j in range(len(dfb))]])
    if "theta" in meta:
        close(fit.theta.theta, meta["theta"])
        close(fit.theta.se, meta["se_theta"], rtol=1e-6)


def test_flagged_as_r(case):
    """The rows ``flagged(rule="R")`` are those influence.measures' is.inf marks (DFBETAS rules need R's
    parametrization)."""
    _, _, meta, _, _, fit = case
    if not meta.get("same_parametrization", True):
        pytest.skip("R's factor levels (ordered, unsorted) give other DFBETAS")
    assert sorted(map(str, fit.influence().flagged(rule="R").index)) == sorted(meta["flagged"])


def test_outlier_test_as_car(case):
    _, _, meta, _, _, fit = case
    car = meta["outlier_test"]
    ot = fit.influence().outlier_test(cutoff=None, n_max=5, style="R")
    assert [str(i) for i in ot.index] == car["rows"]
    close(ot["student_resid"], car["rstudent"])
    close(ot["unadjusted_p"], car["p"])


@pytest.mark.parametrize("name", ["lm_davis_na", "glm_ships_offset", "glmnb_epil"])
def test_command_line_as_r(name, tmp_path):
    """``regdiag report`` on R's write.csv file: the same rows and numbers as R (a subset written out first)."""
    data, meta, _, ref = load(name)
    path = tmp_path / "data.csv"
    data.rename_axis(None).to_csv(path)  # as R's write.csv: an unnamed first column of row names
    args = ["report", str(path), "--formula", meta["formula"], "-o", str(tmp_path / "out"),
            "--no-cross-check", "--no-engine-plots", "--nsim", "0", "--quiet"]
    if meta["family"] != "lm":
        args += ["--family", meta["family"], "--link", meta["link"]]
    assert main(args) == 0
    out = pd.read_csv(tmp_path / "out" / "measures.csv", index_col=0)
    assert [str(i) for i in out.index] == [str(i) for i in ref.index]
    close(out["leverage"], ref["hat"])
    close(out["cooks_distance"], ref["cooks"], rtol=1e-7)
    close(out["student_resid"], ref["rstudent"], rtol=1e-7)


# ---- the response as R evaluates it --------------------------------------------------------------------------


def test_proportion_response_with_weights_is_cbind():
    """``y/n ~ x`` with ``weights = n`` (an R idiom for binomial proportions): R's arithmetic, not nesting."""
    data, _meta, _, ref = load("glm_esoph_cbind")
    fit = regdiag.glm("ncases/(ncases + ncontrols) ~ agegp + tobgp + alcgp", data=data, family="binomial",
                      weights=data["ncases"] + data["ncontrols"], tol=1e-13)
    infl = fit.influence()
    close(fit.fitted, ref["fitted"])
    close(infl.leverage, ref["hat"])
    close(infl.cooks_distance, ref["cooks"])


def test_comparison_response_without_i():
    """``partic != "not.work" ~ ...`` is R's event, as ``I(partic != "not.work") ~ ...``."""
    data, meta, coef, ref = load("glm_womenlf_logit")
    assert meta["formula"].startswith("I(")
    fit = regdiag.glm('partic != "not.work" ~ hincome + children + region', data=data, family="binomial", tol=1e-13)
    close(fit.coef, coef.to_numpy())
    close(fit.influence().cooks_distance, ref["cooks"])


def test_factor_labels_as_r():
    """``factor(x, levels=..., labels=...)`` names the levels; whiteside's R levels are Before, After."""
    data, _, coef, _ref = load("lm_whiteside_ns")
    fit = regdiag.ols('Gas ~ factor(Insul, levels = c("Before", "After"), labels = c("B", "A")) * ns(Temp, df = 3)',
                      data=data)
    close(fit.coef, coef.to_numpy())
    assert any(name.endswith("[T.A]") for name in fit.param_names)
    with pytest.raises(regdiag.DataError, match="one distinct label per level"):
        regdiag.ols('Gas ~ factor(Insul, labels = c("B")) + Temp', data=data)


def test_command_line_keeps_text_that_pandas_reads_as_missing(tmp_path):
    """A level named "None" (MASS::survey's Exer) is a level, as in R's read.csv; NA and empty fields are missing."""
    from regdiag.report import load_data

    path = tmp_path / "survey.csv"
    path.write_text('"","Pulse","Exer"\n"1",70,"None"\n"2",NA,"Some"\n"3",,"Freq"\n"4",80,"null"\n')
    df = load_data(path)
    assert list(df["Exer"]) == ["None", "Some", "Freq", "null"]
    assert df["Pulse"].isna().tolist() == [False, True, True, False]


# ---- regdiag.compare on these fits ----------------------------------------------------------------------------


def _fit(name):
    data, meta, _, _ = load(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", regdiag.ConditioningWarning)
        return fit_case(meta, data)


def test_compare_statsmodels_negative_binomial_theta_estimated():
    """glm.nb's dispersion is 1: the statsmodels model compare builds keeps it (not Pearson's estimate), so every
    difference has its cause (the observed information of the non-canonical log link)."""
    fit = _fit("glmnb_epil")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = regdiag.compare(fit)
    t = cmp.table
    assert cmp.all_explained, t[~t["agree"].astype(bool)]["reason"].to_dict()
    assert not t["reason"].fillna("").str.contains("unexplained").any()


@pytest.mark.parametrize("name", ["glm_womenlf_logit", "glm_ships_offset"])
def test_compare_statsmodels_dffits_internal_is_compared(name):
    """statsmodels' dffits_internal is computed (a scale given as a number made statsmodels raise)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = regdiag.compare(_fit(name))
    reason = str(cmp.table.loc["dffits_internal", "reason"] or "")
    assert "raised" not in reason
    assert cmp.all_explained


@pytest.mark.parametrize("name", ["lm_davis_na", "glmnb_epil", "glm_womenlf_logit"])
def test_compare_r_outlier_test_lists_top_rows_only(name):
    """car's outlierTest lists its most extreme rows only (here n.max = 5, cutoff = Inf): compared on those."""
    _, meta, _, ref = load(name)
    car = meta["outlier_test"]
    ot = pd.DataFrame({"rstudent": car["rstudent"], "unadjusted.p": car["p"], "bonferroni.p": car["bonferroni"]},
                      index=car["rows"])
    measures = ref[["hat", "cooks", "rstudent"]].set_axis(["hatvalues", "cooks.distance", "rstudent"], axis=1)
    measures.index = measures.index.map(str)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = regdiag.compare(_fit(name), reference=[measures, ot], r_epsilon=1e-14)
    t = cmp.table
    assert {"outlierTest.rstudent", "outlierTest.unadjusted.p", "outlierTest.bonferroni.p"} <= set(t.index)
    assert t.loc["outlierTest.rstudent", "agree"]
    assert cmp.all_explained, t[~t["agree"].astype(bool)]["reason"].to_dict()
    assert not t["reason"].fillna("").str.contains("one side only").any()


def test_r_contrast_abbreviation_and_multivariate_poly_are_one_line_errors():
    """``C(f, sum)`` (R's abbreviation) and ``poly(x, z, degree = 2)`` say what to write instead."""
    data, _, _, ref = load("lm_davis_na")
    with pytest.raises(regdiag.DataError, match=r"contrast abbreviation 'sum'.*C\(\.\.\., contr\.sum\)"):
        regdiag.ols("weight ~ repwt + C(sex, sum)", data=data)
    fit = regdiag.ols("weight ~ repwt + C(sex, contr.sum)", data=data)  # another parametrization of R's model
    close(fit.fitted, ref["fitted"])
    close(fit.influence().leverage, ref["hat"])
    with pytest.raises(regdiag.DataError, match=r"poly\(\) of several variables"):
        regdiag.ols("weight ~ poly(repwt, height, degree = 2)", data=data)


def test_round_floor_ceiling_trunc_as_r():
    """R's round() (halves to even: round(0.5) = 0, round(2.5) = 2, round(-1.5) = -2), floor, ceiling, trunc."""
    from regdiag.rformula import R_TRANSFORMS

    np.testing.assert_array_equal(R_TRANSFORMS["round"](np.array([0.5, 2.5, -1.5, 1.4999])), [0.0, 2.0, -2.0, 1.0])
    data, _, _, _ = load("glm_trees_gamma_log")
    fit = regdiag.glm("round(Volume) ~ log(Girth) + floor(Height / 10) + ceiling(Height / 7) + trunc(Girth)",
                      data=data, family="poisson")
    pre = data.assign(v=np.round(data["Volume"]), a=np.floor(data["Height"] / 10), b=np.ceil(data["Height"] / 7),
                      c=np.trunc(data["Girth"]))
    ref = regdiag.glm("v ~ log(Girth) + a + b + c", data=pre, family="poisson")
    close(fit.coef, ref.coef)
    with pytest.raises(regdiag.DataError, match="digits = 0"):
        regdiag.glm("round(Volume, 1) ~ log(Girth)", data=data, family="gamma")


@pytest.mark.parametrize("spline", ["bs", "ns"])
def test_one_knot_as_a_number(spline):
    """R's ``bs(x, knots = 5)``: a single knot given as a number is the knot vector ``c(5)``."""
    data, _, _, _ = load("lm_whiteside_ns")
    one = regdiag.ols(f"Gas ~ {spline}(Temp, knots = 5) + Insul", data=data)
    vec = regdiag.ols(f"Gas ~ {spline}(Temp, knots = c(5)) + Insul", data=data)
    close(one.coef, vec.coef, rtol=1e-12)
    assert one.rank == vec.rank == (6 if spline == "bs" else 4)
