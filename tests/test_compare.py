"""regdiag.compare: side by side with statsmodels and with R's influence.measures written by write.csv.

The R files in tests/compare_data/ were written by tests/compare_data/make_influence_measures.R (R 4.2.2), exactly
as a user would write them. Each detected reason is checked by reproducing the peer's numbers, so these tests also
pin down what statsmodels computes differently (WLS hat, rank deficiency, h = 1).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.outliers_influence import OLSInfluence

import regdiag
from regdiag.compare import Comparison, compare

DATA = Path(__file__).resolve().parent / "compare_data"
FORMULA = "sr ~ pop15 + pop75 + dpi + ddpi"


@pytest.fixture(scope="module")
def savings():
    return regdiag.datasets.load("LifeCycleSavings")


@pytest.fixture(scope="module")
def design(savings):
    return sm.add_constant(savings[["pop15", "pop75", "dpi", "ddpi"]]), savings["sr"]


def _weights(df):
    return (1 + (df["pop75"] - df["pop75"].min()) * 0.8).to_numpy()


def test_ols_agrees_with_statsmodels_everywhere(design):
    X, y = design
    cmp = compare(sm.OLS(y, X).fit())
    assert isinstance(cmp, Comparison)
    t = cmp.table
    assert t["agree"].all() and (t["reason"] == "").all() and t["explained"].isna().all()
    assert (t["max_rel_diff"] < 1e-10).all() and (t["n"] == 50).all()
    expected = {"leverage", "standard_resid", "student_resid", "cooks_distance", "dffits", "cov_ratio", "sigma_loo",
                "press_resid", "dfbeta_const", "dfbetas_ddpi"}
    assert expected <= set(t.index)
    assert cmp.all_explained and "statsmodels" in cmp.peer


def test_side_by_side_values_are_the_two_libraries(design):
    X, y = design
    res = sm.OLS(y, X).fit()
    cmp = compare(res)
    sm_infl = OLSInfluence(res)
    v = cmp.values["cooks_distance"]
    np.testing.assert_array_equal(v["peer"], sm_infl.cooks_distance[0])
    np.testing.assert_array_equal(v["regdiag"], regdiag.influence(res).cooks_distance)
    d = cmp.detail("student_resid")
    assert list(d.columns) == ["regdiag", "peer", "abs_diff"] and d["abs_diff"].is_monotonic_decreasing
    wide = cmp.side_by_side()
    assert ("leverage", "peer") in wide.columns and len(wide) == 50
    # the rows named as differing most are those with the largest absolute difference
    top = d.index[:3]
    assert cmp.table.loc["student_resid", "differ_most"] == ", ".join(repr(x) for x in top)


def test_wls_every_difference_is_statsmodels_hat_and_unweighted_refits(design, savings):
    X, y = design
    w = _weights(savings)
    res = sm.WLS(y, X, weights=w).fit()
    cmp = compare(res)
    t = cmp.table
    assert not t["agree"].any()
    assert t["explained"].all()  # regdiag reproduces every one of statsmodels' numbers under its convention
    assert all(r.startswith("statsmodels' OLSInfluence uses sqrt(w_i)") for r in t["reason"])
    # the hat part, checked independently: statsmodels' hat is regdiag's over sqrt(w)
    h_sm = OLSInfluence(res).hat_matrix_diag
    np.testing.assert_allclose(h_sm, regdiag.influence(res).leverage / np.sqrt(w), rtol=1e-12)
    assert h_sm.sum() != pytest.approx(5.0) and regdiag.influence(res).leverage.sum() == pytest.approx(5.0)
    assert [r.key for r in cmp.reasons] == ["wls_hat"]


def test_wls_reason_is_detected_from_the_weights(design):
    X, y = design
    ones = compare(sm.WLS(y, X, weights=np.ones(50)).fit())  # unit weights: statsmodels is right
    assert ones.table["agree"].all() and not ones.reasons
    equal = compare(sm.WLS(y, X, weights=np.full(50, 2.5)).fit())  # equal but not 1: its hat is h / sqrt(2.5)
    assert not equal.table.loc["leverage", "agree"] and equal.table["explained"].all()
    assert [r.key for r in equal.reasons] == ["wls_hat"]


def test_rank_deficiency_reasons_reproduce_minimum_norm_changes(design):
    X, y = design
    X2 = X.assign(pop_sum=X["pop15"] + X["pop75"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.OLS(y, X2).fit()
        cmp = compare(res)
    t = cmp.table
    keys = {r.key for r in cmp.reasons}
    assert keys == {"rank_deficient", "aliased"}
    for m in ("leverage", "student_resid", "dffits", "dfbeta_ddpi"):  # fitted-value measures and unaffected columns
        assert t.loc[m, "agree"], m
    for m in ("cooks_distance", "dfbeta_pop15", "dfbetas_pop75", "dfbeta_pop_sum"):
        assert not t.loc[m, "agree"] and t.loc[m, "explained"], m
    assert "rank 5 < 6 columns" in t.loc["cooks_distance", "reason"]
    assert "minimum-norm" in t.loc["dfbeta_pop_sum", "reason"]  # statsmodels' value of an aliased column, reproduced
    # COVRATIO of a singular covariance cannot be reproduced (it is rounding noise), but that its covariance is
    # singular is checked: the full fit's determinant is zero to rounding, so the reason explains it
    assert not t.loc["cov_ratio", "agree"] and t.loc["cov_ratio", "explained"] == True  # noqa: E712
    assert "rounding noise" in t.loc["cov_ratio", "reason"] and "zero to rounding" in t.loc["cov_ratio", "reason"]
    assert cmp.all_explained
    C = np.asarray(res.cov_params())
    assert abs(np.linalg.det(C)) < 1e-12 * np.prod(np.diag(C))
    # statsmodels' Cook's distance is regdiag's times rank / columns
    np.testing.assert_allclose(
        OLSInfluence(res).cooks_distance[0], regdiag.influence(res).cooks_distance * 5 / 6, rtol=1e-10
    )


def test_leverage_one_rows_are_named(design, savings):
    X, y = design
    X3 = X.assign(libya=(savings.index == "Libya").astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = compare(sm.OLS(y, X3).fit())
    t = cmp.table
    assert [r.key for r in cmp.reasons] == ["leverage_one"]
    assert t.loc["dfbeta_pop15", "defined_on_one_side"] == "'Libya'"
    assert t.loc["dfbeta_pop15", "explained"] and "leverage 1 at rows 'Libya'" in t.loc["dfbeta_pop15", "reason"]
    assert t.loc["leverage", "agree"] and t.loc["leverage", "reason"] == ""
    assert cmp.all_explained


def test_regdiag_fit_is_compared_with_the_statsmodels_equivalent(savings):
    fit = regdiag.ols(FORMULA, data=savings, weights=_weights(savings))
    cmp = compare(fit)
    assert cmp.table["explained"].all() and "WLS" in cmp.model
    assert compare(fit.influence()).table.equals(cmp.table)
    assert compare(regdiag.ols(FORMULA, data=savings)).table["agree"].all()


def test_refit_measures_skipped_above_max_refits(design):
    X, y = design
    cmp = compare(sm.OLS(y, X).fit(), max_refits=10)
    assert "dfbeta_const" not in cmp.table.index and "leverage" in cmp.table.index
    assert any("max_refits" in n for n in cmp.notes)


def test_summary_and_html(design, savings):
    X, y = design
    cmp = compare(sm.WLS(y, X, weights=_weights(savings)).fit())
    text = cmp.summary()
    assert text.startswith("regdiag vs statsmodels") and "reasons:" in text and "sqrt(w_i)" in text
    html = cmp.to_html()
    assert html.startswith("<table") and "hat_diag" in html and "http" not in html


# ---- R's influence.measures -------------------------------------------------------------------------------------


def test_r_csv_agrees_to_rounding(savings):
    cmp = compare(regdiag.ols(FORMULA, data=savings), reference=DATA / "lm_savings.csv")
    t = cmp.table
    assert list(t.index) == ["dfb.1_", "dfb.pp15", "dfb.pp75", "dfb.dpi", "dfb.ddpi", "dffit", "cov.r", "cook.d", "hat"]
    assert t["agree"].all() and (t["max_rel_diff"] < 1e-12).all() and (t["n"] == 50).all()
    assert cmp.peer == "R influence.measures (lm_savings.csv)"


def test_r_csv_with_few_digits_agrees_within_its_precision(savings):
    fit = regdiag.ols(FORMULA, data=savings)
    cmp = compare(fit, reference=str(DATA / "lm_savings_signif4.csv"))
    assert cmp.table["agree"].all()
    assert any("4 significant digits" in n for n in cmp.notes)
    assert (cmp.table["max_rel_diff"] > 1e-6).any()  # the rounding is visible, and allowed
    # a different model is not: the WLS file against the OLS fit
    bad = compare(fit, reference=DATA / "wls_savings.csv")
    assert not bad.table["agree"].any()
    assert all("does not come from this model" in r for r in bad.table["reason"])
    assert not bad.table["explained"].any()


def test_r_csv_wls_and_zero_weight_rows(savings):
    w = _weights(savings)
    assert compare(regdiag.ols(FORMULA, data=savings, weights=w), reference=DATA / "wls_savings.csv").table[
        "agree"
    ].all()
    w0 = w.copy()
    w0[savings.index.isin(["Libya", "Japan"])] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = compare(regdiag.ols(FORMULA, data=savings, weights=w0), reference=DATA / "wls_savings_zero_weight.csv")
    assert cmp.table["agree"].all() and (cmp.table["n"] == 48).all()
    assert any("zero weight" in n and "'Japan', 'Libya'" in n for n in cmp.notes)


def test_r_csv_leverage_one_and_rows_numbered_from_one():
    st = pd.read_csv(Path(regdiag.__file__).resolve().parent.parent / "datasets" / "stackloss.csv")  # index 0..20
    st["d21"] = (np.arange(21) == 20).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = regdiag.ols("stack_loss ~ Air_Flow + Water_Temp + Acid_Conc + d21", data=st)
        cmp = compare(fit, reference=DATA / "lm_stackloss_leverage_one.csv")
    assert any("matched to regdiag's rows by position" in n for n in cmp.notes)
    t = cmp.table
    assert t.loc["hat", "agree"] and t.loc["cook.d", "agree"]  # NaN on both sides at row 21
    assert not t.loc["dfb.Ar_F", "agree"] and t.loc["dfb.Ar_F", "explained"]
    assert t.loc["dfb.Ar_F", "defined_on_one_side"] == "'20'"
    assert "sets their coefficient changes to 0" in t.loc["dfb.Ar_F", "reason"]


def test_r_reference_accepts_statsmodels_results_and_dataframes(design):
    X, y = design
    ref = pd.read_csv(DATA / "lm_savings.csv", index_col=0)
    X = X.rename(columns={"const": "(Intercept)"})
    cmp = compare(sm.OLS(y, X).fit(), reference=ref)
    assert cmp.table["agree"].all() and cmp.peer == "R influence.measures (DataFrame)"


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "no such file"),
        ("a,b\n1,2\n", "none of influence.measures' columns"),
        ('"",hat\n"Australia",abc\n', "column 'hat' is not numeric"),
        ('"",hat\n"Atlantis",0.5\n', "no row of bad.csv matches a row label"),
    ],
)
def test_bad_reference_files(tmp_path, savings, content, message):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(regdiag.DataError, match=message):
        compare(regdiag.ols(FORMULA, data=savings), reference=path)


def test_compare_needs_a_fit():
    with pytest.raises(TypeError, match="cannot compare a list"):
        compare([1, 2])


# ---- GLMs -----------------------------------------------------------------------------------------------------


def _glm(formula, data, family, link=None, weights=None, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return regdiag.glm(formula, data=regdiag.datasets.load(data), family=family, link=link, weights=weights, **kw)


def _quiet_compare(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compare(*args, **kwargs)


def test_glm_canonical_link_pearson_and_dfbetas_scale():
    fit = _glm("prop ~ ldose + sex", "budworm", "binomial", weights="total")
    cmp = _quiet_compare(fit)
    t = cmp.table
    # binomial: the dispersion is fixed, so regdiag's DFBETAS (change over sqrt(phi_(i)) se, phi_(i) = 1) are
    # statsmodels' (change over the full fit's standard error)
    for m in ("leverage", "cooks_distance", "dfbeta_ldose", "dfbetas_ldose"):
        assert t.loc[m, "agree"], m
    assert t.loc["standard_resid", "reason"].startswith("statsmodels studentizes the Pearson residuals")
    assert not any(m.startswith("loo_params") for m in t.index)  # no leave-one-out refits: not statsmodels' output
    assert cmp.all_explained
    assert "observed_information" not in {r.key for r in cmp.reasons}  # logit is canonical: not detected


def test_glm_non_canonical_link_observed_information():
    fit = _glm("count ~ spray", "InsectSprays", "poisson", link="sqrt")
    cmp = _quiet_compare(fit)
    t = cmp.table
    assert not t.loc["leverage", "agree"] and "sqrt link is not canonical" in t.loc["leverage", "reason"]
    assert cmp.all_explained
    # independently: statsmodels' hat is regdiag's under the observed information
    from regdiag.compare import _statsmodels_of

    res = _statsmodels_of(fit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h_sm = res.get_influence().hat_matrix_diag
    np.testing.assert_allclose(h_sm, fit.influence(observed=True).leverage, rtol=1e-9)


def test_glm_decreasing_link_statsmodels_one_step_has_the_wrong_sign():
    fit = _glm("lot1 ~ log(u)", "clotting", "gamma")  # inverse link, canonical, g'(mu) < 0
    cmp = _quiet_compare(fit)
    t = cmp.table
    assert "decreasing_link" in {r.key for r in cmp.reasons}
    assert t.loc["dfbeta_log(u)", "max_rel_diff"] == pytest.approx(2.0, rel=1e-6)  # opposite signs
    assert t.loc["dfbeta_log(u)", "explained"] and "link decreases" in t.loc["dfbeta_log(u)", "reason"]
    # the evidence, without regdiag's reasoning: statsmodels' own refits move with regdiag's sign, not its own
    from regdiag.compare import _statsmodels_of

    res = _statsmodels_of(fit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        infl = res.get_influence()
        refits = infl._res_looo["params"]
    b = res.params.to_numpy()
    assert np.max(np.abs(b - infl.d_params - refits)) > 20 * np.max(np.abs(b + infl.d_params - refits))
    assert np.max(np.abs(fit.influence().loo_params - refits)) < 1e-3


def test_glm_statsmodels_observed_failure_falls_back_with_a_note():
    fit = _glm("sr ~ pop15 + pop75", "LifeCycleSavings", "gaussian", link="log")
    cmp = _quiet_compare(fit)
    assert any("observed=False" in n for n in cmp.notes)
    assert "observed=False" in cmp.peer
    assert cmp.all_explained


def test_glm_statsmodels_results_are_accepted():
    import statsmodels.formula.api as smf

    df = regdiag.datasets.load("InsectSprays")
    res = smf.glm("count ~ spray", data=df, family=sm.families.Poisson()).fit()
    cmp = _quiet_compare(res)
    assert cmp.table.loc["leverage", "agree"] and cmp.table.loc["cooks_distance", "agree"]
    assert cmp.all_explained


def test_glm_r_csv_default_convergence_is_within_the_bound_and_dfbeta_convention_is_named():
    fit = _glm("prop ~ ldose + sex", "budworm", "binomial", weights="total")
    cmp = _quiet_compare(fit, reference=DATA / "glm_budworm_logit.csv")
    t = cmp.table
    # R's default epsilon = 1e-8 puts its fit within sqrt(1e-8 (|D| + 0.1)) of the optimum: its differences
    # (up to 1e-5 relative) are within the bound that follows
    for m in ("dffit", "cov.r", "cook.d", "hat"):
        assert t.loc[m, "agree"] and t.loc[m, "max_rel_diff"] > 1e-9, m
    # and the user hears that they agree only to R's precision, with the call that removes the difference
    assert any(n.startswith("dffit, cov.r, cook.d, hat agree only within the allowance for R's convergence")
               and "start = coef(fit)" in n for n in cmp.notes)
    # R's dfbetas for a glm use deviance residuals: regdiag's default (Pearson, the Fisher-scoring step) differs, and
    # influence(residual="deviance") reproduces R
    for m in ("dfb.1_", "dfb.ldos", "dfb.sexM"):
        assert not t.loc[m, "agree"] and t.loc[m, "explained"], m
        assert "deviance residuals" in t.loc[m, "reason"], m
    assert not any("matched by position" in n for n in cmp.notes)  # R-style names of factor columns agree
    assert _quiet_compare(fit.influence(residual="deviance"), reference=DATA / "glm_budworm_logit.csv").table[
        "agree"].all()
    # with the bound of a converged R fit, the same file differs, and R's default iterations reproduce it
    tight = _quiet_compare(fit, reference=DATA / "glm_budworm_logit.csv", r_epsilon=1e-14).table
    assert not tight.loc["cook.d", "agree"] and tight.loc["cook.d", "explained"]
    assert "glm.control(epsilon = 1e-08)" in tight.loc["cook.d", "reason"]
    sprays = _quiet_compare(_glm("count ~ spray", "InsectSprays", "poisson", link="sqrt"),
                            reference=DATA / "glm_sprays_poisson_sqrt.csv")
    assert sprays.table.drop(index=[m for m in sprays.table.index if m.startswith("dfb.")])["agree"].all()
    observed = _quiet_compare(_glm("count ~ spray", "InsectSprays", "poisson", link="sqrt").influence(observed=True),
                              reference=DATA / "glm_sprays_poisson_sqrt.csv")
    assert not observed.table["agree"].all() and observed.all_explained
    assert "observed_information" in {r.key for r in observed.reasons}


def test_robust_covariance_results_explain_cov_ratio(savings):
    import statsmodels.formula.api as smf

    res = smf.ols(FORMULA, data=savings).fit(cov_type="HC3")
    cmp = compare(res)
    t = cmp.table
    assert not t.loc["cov_ratio", "agree"] and t.loc["cov_ratio", "explained"] == True  # noqa: E712
    assert "cov_type='HC3'" in t.loc["cov_ratio", "reason"]
    assert t.drop(index="cov_ratio")["agree"].all() and cmp.all_explained
    # independently: statsmodels' ratio times det(HC3 covariance) / det(classical covariance) is the classical ratio
    classical = smf.ols(FORMULA, data=savings).fit()
    rescaled = OLSInfluence(res).cov_ratio * np.linalg.det(res.cov_params()) / np.linalg.det(classical.cov_params())
    np.testing.assert_allclose(rescaled, regdiag.influence(res).cov_ratio, rtol=1e-9)
    # the plain fit: no such reason
    assert "robust_covariance" not in {r.key for r in compare(classical).reasons}


def test_freq_weights_are_replicates_in_statsmodels_and_prior_weights_in_regdiag():
    import statsmodels.formula.api as smf

    sprays = regdiag.datasets.load("InsectSprays")
    f = np.tile([1.0, 2.0, 3.0], len(sprays) // 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smf.glm("count ~ spray", data=sprays, family=sm.families.Poisson(), freq_weights=f).fit()
        cmp = compare(res)
        # statsmodels itself, with the same numbers as var_weights (prior weights: R's glm(weights = f))
        res_var = smf.glm("count ~ spray", data=sprays, family=sm.families.Poisson(), var_weights=f).fit()
    t = cmp.table
    for m in ("standard_resid", "cooks_distance", "dfbeta_spray[T.B]", "dfbetas_Intercept"):
        assert not t.loc[m, "agree"] and t.loc[m, "explained"] == True, m  # noqa: E712
        assert "freq_weights" in t.loc[m, "reason"] and "replicated" in t.loc[m, "reason"], m
    assert t.loc["leverage", "agree"] and cmp.all_explained
    assert t.loc["cooks_distance", "max_rel_diff"] > 0.5  # not a rounding matter
    # the explanation, checked on statsmodels alone: its Cook's distance with freq_weights is 1/f_i times its Cook's
    # distance with the same numbers as var_weights, which is regdiag's (R's)
    d_freq = res.get_influence().cooks_distance[0]
    d_var = res_var.get_influence().cooks_distance[0]
    np.testing.assert_allclose(d_freq * f, d_var, rtol=1e-12)
    np.testing.assert_allclose(regdiag.influence(res).cooks_distance, d_var, rtol=1e-9)


# ---- cases that used to be misjudged ------------------------------------------------------------------------------
# Inputs: bundled data, generated columns, and MASS's ships and Boston as written by
# tests/compare_data/make_peer_cases.R (which also writes the R outputs read below).


def _birthwt_aliased():
    bw = regdiag.datasets.load("birthwt")
    bw["age_lwt"] = bw["age"] + bw["lwt"]  # aliased: the sum of two other columns
    return bw, "low ~ age + lwt + age_lwt + smoke + ht + ui + ptl"


def test_aliased_logistic_cooks_distance_over_columns_is_reported_not_absorbed():
    import statsmodels.formula.api as smf

    bw, formula = _birthwt_aliased()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smf.glm(formula, data=bw, family=sm.families.Binomial()).fit()
    cmp = _quiet_compare(res)
    t = cmp.table
    # statsmodels divides by the 8 columns, regdiag (like R) by the rank 7: 12.5 % apart, far above the bound
    assert not t.loc["cooks_distance", "agree"] and t.loc["cooks_distance", "explained"] == True  # noqa: E712
    assert t.loc["cooks_distance", "max_rel_diff"] == pytest.approx(1 / 7, rel=1e-6)  # relative to statsmodels' value
    assert t.loc["cooks_distance", "tolerance"] < 1e-4  # statsmodels stopped at tol = 1e-8: the bound follows
    assert "by the 8 columns instead of the rank 7" in t.loc["cooks_distance", "reason"]
    assert "convergence" not in t.loc["cooks_distance", "reason"]
    # the identifiable measures agree, and statsmodels' minimum-norm changes are reproduced
    for m in ("leverage", "dffits_internal", "dfbeta_smoke"):
        assert t.loc[m, "agree"], m
    assert t.loc["dfbeta_age", "explained"] and cmp.all_explained
    # independently of regdiag's reasoning: statsmodels' Cook's distance is R's (regdiag's) times 7/8
    np.testing.assert_allclose(res.get_influence().cooks_distance[0] * 8 / 7,
                               regdiag.influence(res).cooks_distance, rtol=1e-6)


def test_poisson_leverage_one_row_and_statsmodels_failures_are_recorded(monkeypatch):
    import statsmodels.formula.api as smf
    from statsmodels.stats.outliers_influence import GLMInfluence

    sp = regdiag.datasets.load("InsectSprays")
    sp["only4"] = (np.arange(len(sp)) == 3).astype(float)  # a dummy for one row: leverage 1
    res = smf.glm("count ~ spray + only4", data=sp, family=sm.families.Poisson()).fit()
    cmp = _quiet_compare(res)  # statsmodels' leave-one-out refits raised LinAlgError here; none are run now
    t = cmp.table
    assert cmp.all_explained and "leverage_one" in {r.key for r in cmp.reasons}
    assert "leverage 1 at rows 4" in t.loc["cooks_distance", "reason"]
    assert t.loc["cooks_distance", "defined_on_one_side"] == "4"

    def broken(self):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(GLMInfluence, "d_params", property(broken))
    failed = _quiet_compare(res).table
    for m in ("dfbeta_only4", "dfbetas_only4"):  # dfbetas are built on d_params: both missing, both recorded
        assert failed.loc[m, "n"] == 0 and failed.loc[m, "explained"], m
        assert "statsmodels raised LinAlgError: Singular matrix" in failed.loc[m, "reason"], m
        assert "leverage 1 at rows 4" in failed.loc[m, "reason"], m
    assert failed.loc["leverage", "agree"]  # the other columns are still compared


def test_aliased_ols_covratio_nan_is_explained(design, monkeypatch):
    X, y = design
    X2 = X.assign(pop15_copy=X["pop15"])  # an exact copy: statsmodels' covariance determinants are zero
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.OLS(y, X2).fit()
    # statsmodels' COVRATIO is a ratio of determinants of singular matrices: 0/0 = NaN where both are exactly 0
    # (as on some designs and BLAS builds); here as NaN everywhere
    monkeypatch.setattr(OLSInfluence, "cov_ratio", property(lambda self: np.full(len(y), np.nan)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = compare(res)
    t = cmp.table
    assert t.loc["cov_ratio", "n"] == 0 and t.loc["cov_ratio", "explained"] == True  # noqa: E712
    assert "determinant is zero to rounding" in t.loc["cov_ratio", "reason"]
    assert "no known reason" not in t.loc["cov_ratio", "reason"]
    assert cmp.all_explained


def test_wls_hat_above_one_nan_is_reproduced():
    boston = pd.read_csv(DATA / "Boston.csv")
    w = 1.0 / (1.0 + boston["crim"].to_numpy())
    X = sm.add_constant(boston.drop(columns="medv"))
    res = sm.WLS(boston["medv"], X, weights=w).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h_sm = OLSInfluence(res).hat_matrix_diag
        cmp = compare(res)
    assert h_sm.max() > 1  # statsmodels' WLS hat value h / sqrt(w) exceeds 1
    t = cmp.table
    assert t.loc["standard_resid", "defined_on_one_side"] != ""  # sqrt(1 - h) of a negative number
    assert t.loc["standard_resid", "explained"] and "sqrt(w_i)" in t.loc["standard_resid", "reason"]
    assert "no known reason" not in " ".join(t["reason"]) and cmp.all_explained


def test_offset_dffits_internal_is_compared_and_explained():
    import statsmodels.formula.api as smf

    ships = pd.read_csv(DATA / "ships.csv")
    ships = ships[ships["service"] > 0]
    res = smf.glm("incidents ~ C(type) + C(year) + C(period)", data=ships, family=sm.families.Poisson(),
                  offset=np.log(ships["service"])).fit()
    cmp = _quiet_compare(res)
    t = cmp.table
    assert "dffits_internal" in t.index
    assert not t.loc["dffits_internal", "agree"] and t.loc["dffits_internal", "explained"]
    assert "leaves the offset out" in t.loc["dffits_internal", "reason"]
    # independently: statsmodels' value over regdiag's is exp(offset) (45 to 44,882 on these data)
    ratio = res.get_influence().d_fittedvalues_scaled / regdiag.influence(res).dffits_internal
    np.testing.assert_allclose(ratio, ships["service"].to_numpy(), rtol=1e-6)
    assert ships["service"].min() == 45 and ships["service"].max() == 44882
    assert t.drop(index=["dffits_internal", "standard_resid"])["agree"].all()


# ---- R: GLMs fitted with R's default control, and restarted as compare advises ------------------------------------


R_CASES = {
    "clotting_gamma": (lambda: _glm("lot1 ~ log(u)", "clotting", "gamma"), 1e-14),
    "quine_negbin": (lambda: _glm("Days ~ Eth + Sex + Age + Lrn", "quine", "negative_binomial", alpha=0.8), 1e-14),
    "birthwt_aliased": (lambda: _quiet(lambda: regdiag.glm(_birthwt_aliased()[1], data=_birthwt_aliased()[0],
                                                          family="binomial")), 1e-10),
}


def _quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


def _r_files(case, kind):
    return [DATA / f"glm_{case}_{kind}.csv", DATA / f"glm_{case}_{kind}_outlier_test.csv"]


def _non_dfbeta(t):
    return t.loc[[m for m in t.index if not m.startswith(("dfb.", "dfbeta.", "dfbetas.")) and "bonferroni" not in m]]


@pytest.mark.parametrize("case", list(R_CASES))
def test_r_default_control_is_reproduced_and_the_advice_works(case):
    make, eps = R_CASES[case]
    fit = make()
    # against the bound of a fit converged to 1e-14, R's default iterations differ, and replaying them reproduces R
    cmp = _quiet_compare(fit, reference=_r_files(case, "default"), r_epsilon=1e-14)
    t = _non_dfbeta(cmp.table)
    assert not t.loc["cook.d", "agree"] and t.loc["cook.d", "explained"] == True  # noqa: E712
    assert t.loc["cooks.distance", "explained"] == True  # noqa: E712
    reason = t.loc["cook.d", "reason"]
    assert reason.startswith("R's glm stops at glm.control(epsilon = 1e-08)")
    assert cmp.all_explained
    if case == "birthwt_aliased":
        assert "start = ifelse(is.na(coef(fit)), 0, coef(fit))" in reason and "epsilon = 1e-10" in reason
        assert "1e-14" not in reason
        # the advice compare must not give: R with epsilon = 1e-14 on this model loses the aliasing
        bad = pd.read_csv(DATA / "glm_birthwt_aliased_epsilon_1e-14_coef.csv", index_col=0)["coefficient"]
        assert bad.notna().all() and bad.abs().max() > 1e12
    else:
        assert "start = coef(fit), control = glm.control(epsilon = 1e-14, maxit = 100)" in reason
    # the advised refit agrees within the bound of its own epsilon, column by column
    restart = _quiet_compare(fit, reference=_r_files(case, "restart"), r_epsilon=eps)
    assert _non_dfbeta(restart.table)["agree"].all()
    assert restart.all_explained
    # and R's default fit agrees within the bound R's default epsilon allows
    default = _quiet_compare(fit, reference=_r_files(case, "default"))
    assert _non_dfbeta(default.table)["agree"].all()


def test_r_every_column_is_compared():
    fit = R_CASES["clotting_gamma"][0]()
    t = _quiet_compare(fit, reference=_r_files("clotting_gamma", "restart"), r_epsilon=1e-14).table
    expected = {"dfb.1_", "dfb.lg()", "dffit", "cov.r", "cook.d", "hat", "hatvalues", "cooks.distance",
                "rstandard.deviance", "rstandard.pearson", "rstudent.deviance", "rstudent.pearson",
                "dfbeta.(Intercept)", "dfbeta.log(u)", "dfbetas.(Intercept)", "dfbetas.log(u)",
                "outlierTest.rstudent", "outlierTest.unadjusted.p", "outlierTest.bonferroni.p"}
    assert set(t.index) == expected
    assert not t.loc["outlierTest.bonferroni.p", "agree"] and "without capping it at 1" in t.loc[
        "outlierTest.bonferroni.p", "reason"]


def test_r_glm_dfbeta_of_a_decreasing_link_has_the_opposite_sign():
    fit = R_CASES["clotting_gamma"][0]()
    t = _quiet_compare(fit, reference=_r_files("clotting_gamma", "restart"), r_epsilon=1e-14).table
    for m in ("dfbeta.log(u)", "dfb.lg()", "dfbetas.(Intercept)"):
        assert not t.loc[m, "agree"] and t.loc[m, "explained"], m
        assert "opposite sign of the actual change b - b_(i)" in t.loc[m, "reason"], m
    # the evidence: exact leave-one-out refits move the coefficients with regdiag's sign, against R's
    r = pd.read_csv(DATA / "glm_clotting_gamma_restart.csv", index_col=0)
    exact = np.asarray(fit.influence(loo="exact").dfbeta)[:, 1]
    ours = np.asarray(fit.influence().dfbeta)[:, 1]
    big = np.abs(exact) > 0.1 * np.abs(exact).max()
    assert np.all(np.sign(ours[big]) == np.sign(exact[big]))
    assert np.all(np.sign(r["dfbeta.log(u)"].to_numpy()[big]) == -np.sign(exact[big]))


def test_a_difference_above_the_bound_is_never_agreement(tmp_path):
    fit = R_CASES["quine_negbin"][0]()
    path = DATA / "glm_quine_negbin_restart.csv"
    base = _quiet_compare(fit, reference=path, r_epsilon=1e-14).table
    tol = base.loc["cook.d", "tolerance"]
    assert base.loc["cook.d", "agree"] and 0 < tol < 1e-5
    ref = pd.read_csv(path, index_col=0)
    i = int(np.argmax(ref["cook.d"].to_numpy()))
    ref.iloc[i, ref.columns.get_loc("cook.d")] *= 1 + 20 * tol  # a change of 20 bounds on the largest value
    ref.to_csv(tmp_path / "changed.csv")
    t = _quiet_compare(fit, reference=tmp_path / "changed.csv", r_epsilon=1e-14).table
    assert not t.loc["cook.d", "agree"] and t.loc["cook.d", "explained"] == False  # noqa: E712
    assert t.loc["cook.d", "reason"].startswith("unexplained: differs beyond the bound at 1 rows")
    assert repr(ref.index[i]) in t.loc["cook.d", "reason"] or str(ref.index[i]) in t.loc["cook.d", "reason"]
    assert t.loc["cooks.distance", "agree"]


# ---- statsmodels' discrete models: MLEInfluence ---------------------------------------------------------------------


def test_discrete_logit_poisson_probit_are_compared_with_their_mle_influence():
    import statsmodels.formula.api as smf

    bw = regdiag.datasets.load("birthwt")
    sp = regdiag.datasets.load("InsectSprays")
    formula = "low ~ age + lwt + smoke + ht"
    logit = _quiet_compare(smf.logit(formula, data=bw).fit(disp=0))
    assert "MLEInfluence of Logit" in logit.peer and logit.all_explained
    # canonical link: the observed information is the expected one, and every summary_frame column but the
    # (Pearson) standardized residual agrees with regdiag's
    assert set(logit.table.index[~logit.table["agree"]]) == {"standard_resid"}
    probit = _quiet_compare(smf.probit(formula, data=bw).fit(disp=0))
    t = probit.table
    assert probit.all_explained and not t.loc["leverage", "agree"]
    assert "MLEInfluence takes the generalized leverage" in t.loc["leverage", "reason"]
    # independently: statsmodels' generalized leverage is W x' I_obs^-1 x (observed information in the middle)
    fit = regdiag.glm(formula, data=bw, family="binomial", link="probit")
    X, W = np.asarray(fit.design.X), np.asarray(fit.working_weights)
    W_obs = W * fit.family.observed_ratio(np.asarray(fit.y), np.asarray(fit.mu))
    h = W * np.einsum("ij,ij->i", X @ np.linalg.inv((X.T * W_obs) @ X), X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(smf.probit(formula, data=bw).fit(disp=0).get_influence().hat_matrix_diag, h,
                                   rtol=1e-6)
    exposure = _quiet_compare(smf.poisson("count ~ spray", data=sp, exposure=np.arange(1.0, 73.0)).fit(disp=0))
    assert exposure.all_explained and "leaves the offset out" in exposure.table.loc["dffits_internal", "reason"]


_SAVINGS_FIT = regdiag.ols(FORMULA, data=regdiag.datasets.load("LifeCycleSavings"))


@settings(max_examples=25, deadline=None)
@given(factor=st.floats(min_value=-50.0, max_value=50.0), row=st.integers(min_value=0, max_value=49),
       column=st.sampled_from(["hat", "cook.d", "dffit", "dfb.pp15"]))
def test_agreement_is_exactly_the_bound(factor, row, column):
    # regdiag's own R-style table, one number moved by `factor` times its row's bound: agreement iff |factor| <= 1
    fit = _SAVINGS_FIT
    ref = fit.influence().to_frame(style="R")
    base = compare(fit, reference=ref)
    allow = base.table.loc[column, "tolerance"] * np.max(np.abs(ref[column].to_numpy()))
    moved = ref.copy()
    moved.iloc[row, moved.columns.get_loc(column)] += factor * allow
    agree = bool(compare(fit, reference=moved).table.loc[column, "agree"])
    if abs(factor) <= 0.99:
        assert agree
    elif abs(factor) >= 1.01:
        assert not agree


def test_r_glm_nb_with_its_theta_and_dispersion_1():
    # MASS::glm.nb estimates theta; regdiag's negative binomial at that theta, with dispersion 1 (summary.negbin)
    theta = float(pd.read_csv(DATA / "glm_quine_glmnb_theta.csv")["theta"].iloc[0])
    fit = _glm("Days ~ Eth + Sex + Age + Lrn", "quine", "negative_binomial", alpha=1 / theta, dispersion=1.0)
    cmp = _quiet_compare(fit, reference=[DATA / "glm_quine_glmnb.csv", DATA / "glm_quine_glmnb_outlier_test.csv"])
    t = cmp.table
    assert _non_dfbeta(t).drop(index="outlierTest.unadjusted.p")["agree"].all() and cmp.all_explained
    # car refers a negbin fit's rstudent to t with df - 1 (a glm's to the normal): reproduced
    for m in ("outlierTest.unadjusted.p", "outlierTest.bonferroni.p"):
        assert not t.loc[m, "agree"] and "Student's t with df_residual - 1" in t.loc[m, "reason"], m
