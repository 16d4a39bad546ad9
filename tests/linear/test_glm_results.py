"""GLMInfluence as a result object: frames in regdiag's, R's, statsmodels' and SAS's names, flags, outlier test."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import regdiag
from tests.linear.test_glm_vs_r import close, fit_case
from tests.reference_cases import load_case


@pytest.fixture(scope="module")
def logistic():
    case = load_case("glm_binomial_logit_birthwt")
    fit = fit_case(case)
    return case, fit, fit.influence()


def test_regdiag_frame(logistic):
    _, fit, infl = logistic
    fr = infl.to_frame()
    names = list(fit.param_names)
    assert list(fr.columns) == [
        "leverage", "resid_response", "resid_working", "resid_pearson", "resid_deviance", "standard_resid",
        "standard_resid_pearson", "student_resid", "press_resid", "sigma_loo", "cooks_distance", "cooks_pvalue",
        "dffits", "cov_ratio",
    ] + [f"dfbeta_{n}" for n in names] + [f"dfbetas_{n}" for n in names]
    assert fr.index.equals(fit.index)
    close(fr[[f"dfbeta_{n}" for n in names]].to_numpy(), infl.dfbeta)


def test_sas_frame_is_pregibon(logistic):
    """PROC LOGISTIC's names; C is the one-step change in the metric of the information (Pregibon 1981)."""
    case, fit, infl = logistic
    sas = infl.to_frame("SAS")
    names = ["Intercept" if n == "(Intercept)" else n for n in fit.param_names]
    assert list(sas.columns) == [
        "H", "RESCHI", "RESDEV", "STDRESCHI", "STDRESDEV", "RESLIK", "C", "CBAR", "DIFCHISQ", "DIFDEV",
    ] + [f"DFBETA_{n}" for n in names]
    # independent: statsmodels' expected information, and the one-step change as one Fisher step without row i
    model = sm.GLM(case.response(), case.design(), family=sm.families.Binomial())
    info = -model.hessian(fit.coef, observed=False)
    d = infl.dfbeta  # one-step, Pearson
    C = np.einsum("ij,ij->i", d, d @ info)
    close(sas["C"].to_numpy(), C, rtol=1e-9)
    h = infl.leverage
    close(sas["CBAR"].to_numpy(), C * (1 - h), rtol=1e-9)
    close(sas["DIFCHISQ"].to_numpy(), C * (1 - h) / h, rtol=1e-9)
    close(sas["DIFDEV"].to_numpy(), infl.resid_deviance**2 + C * (1 - h), rtol=1e-9)
    close(sas["STDRESCHI"].to_numpy(), infl.resid_pearson / np.sqrt(1 - h), rtol=1e-12)
    close(sas["STDRESDEV"].to_numpy(), infl.standard_resid, rtol=1e-12)  # dispersion 1
    close(sas["RESLIK"].to_numpy(), infl.student_resid, rtol=1e-14)
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    close(sas[[f"DFBETA_{n}" for n in names]].to_numpy(), d / se, rtol=1e-9)
    close(sas["C"].to_numpy(), infl.cooks_distance * fit.rank, rtol=1e-12)


def test_difdev_approximates_exact_deletion():
    """DIFDEV is a one-step approximation of the drop in deviance on deletion (to about 25% here)."""
    case = load_case("glm_binomial_logit_budworm")
    fit = fit_case(case)
    infl = fit.influence()
    X, y, w = case.design().to_numpy(), fit.y, fit.prior_weights
    exact_dev = []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        r = sm.GLM(y[keep], X[keep], family=sm.families.Binomial(), var_weights=w[keep]).fit(tol=1e-13)
        exact_dev.append(fit.deviance - r.deviance)
    np.testing.assert_allclose(infl.difdev, exact_dev, rtol=0.25, atol=0.05)


def test_flags_and_outlier_test(logistic):
    _case, _, infl = logistic
    bkw = infl.flags("BKW")
    assert bkw.shape[0] == infl.n_obs and bkw.columns[0].startswith("dfbetas_")
    ot = infl.outlier_test()
    assert ot.attrs["reference"] == "normal"
    assert len(ot) >= 1
    assert "flagged" in infl.summary()


def test_result_is_frozen_and_read_only(logistic):
    _, _, infl = logistic
    with pytest.raises(dataclasses.FrozenInstanceError):
        infl.leverage = infl.leverage
    with pytest.raises(ValueError, match="read-only"):
        infl.resid_pearson[0] = 1.0
    assert infl.method == "glm-one-step" and infl.family == "binomial" and infl.link == "logit"
    assert "GLMInfluence" in repr(infl)
    other = dataclasses.replace(infl, method="x")
    assert other.method == "x"


def test_exact_object_frames(logistic):
    _case, fit, _ = logistic
    ex = fit.influence(loo="exact")
    assert ex.dfbeta_one_step is not None and ex.cooks_distance_one_step is not None
    assert ex.loo_iterations.min() >= 2 and ex.loo_tol == 1e-10
    fr = ex.to_frame()
    close(fr["cooks_distance"].to_numpy(), ex.cooks_distance)
    # the frames that are defined by peers keep the peers' one-step definitions
    close(ex.to_frame("R").to_numpy(), fit.influence().to_frame("R").to_numpy(), rtol=1e-14)
    close(ex.to_frame("SAS").to_numpy(), fit.influence().to_frame("SAS").to_numpy(), rtol=1e-14)
    close(ex.loo_params, fit.coef[None, :] - ex.dfbeta, rtol=1e-15)


def test_conventions_are_chosen_by_argument(logistic):
    case, fit, infl = logistic
    ex = fit.influence(loo="exact")
    dev = fit.influence(residual="deviance")
    # the exact object keeps the one-step numbers that statsmodels' and R's conventions define
    close(ex.dfbeta_as("statsmodels"), infl.dfbeta, rtol=1e-12)
    close(ex.cooks_distance_as("R"), infl.cooks_distance, rtol=1e-12)
    close(ex.cooks_distance_as("regdiag"), ex.cooks_distance, rtol=0)
    # R's dfbeta.glm: the deviance-residual change, here derived from the Pearson object by a row ratio
    close(infl.dfbeta_as("R"), dev.dfbeta, rtol=1e-10)
    close(infl.dfbetas_as("R"), dev.dfbetas, rtol=1e-10)
    # statsmodels' dfbetas: the one-step change over the full fit's standard errors (binomial: phi = 1)
    close(infl.dfbetas_as("statsmodels"), infl.dfbeta / fit.bse.to_numpy()[None, :], rtol=1e-10)
    assert np.array_equal(infl.dfbetas_as("regdiag"), infl.dfbetas, equal_nan=True)
    with pytest.raises(ValueError, match="convention='SAS': dfbeta is defined under the conventions 'regdiag', 'R', "
                                         "'statsmodels'"):
        infl.dfbeta_as("SAS")
    with pytest.raises(ValueError, match="convention"):
        infl.dfbetas_as("Stata")
    ols = regdiag.ols(case.response(), case.design()).influence()
    for convention in ("regdiag", "R", "statsmodels", "SAS"):
        close(ols.dfbetas_as(convention), ols.dfbetas, rtol=0)


def test_fit_presentation(logistic):
    _, fit, _ = logistic
    tab = fit.coef_table()
    assert list(tab.columns) == ["estimate", "std_error", "z", "p_value"]
    s = fit.summary()
    assert "binomial(link=logit)" in s and "AIC" in s and "converged" in s
    gamma = fit_case(load_case("glm_gamma_inverse_clotting"))
    assert list(gamma.coef_table().columns) == ["estimate", "std_error", "t", "p_value"]
    assert gamma.scale == gamma.dispersion
    assert "GLMFit" in repr(gamma)


def test_glm_exported():
    assert regdiag.glm is regdiag.api.glm  # the entry layer, which hands in-memory data to regdiag.linear.glm.glm
    assert "GLMInfluence" in regdiag.__all__ and "glm" in regdiag.__all__


# ---- offset(...) in a formula (R's syntax) ------------------------------------------------------------------------

@pytest.fixture
def exposure():
    rng = np.random.default_rng(2)
    n = 40
    d = pd.DataFrame({"x1": rng.standard_normal(n), "t": rng.uniform(0.5, 3, n), "z": rng.standard_normal(n)},
                     index=[f"r{i}" for i in range(n)])
    d["y"] = rng.poisson(d["t"] * np.exp(0.3 + 0.5 * d["x1"])).astype(float)
    return d


def test_formula_offset_is_the_offset_argument(exposure):
    d = exposure
    a = regdiag.glm("y ~ x1 + offset(log(t))", data=d, family="poisson")
    b = regdiag.glm("y ~ x1", data=d, family="poisson", offset=np.log(d["t"].to_numpy()))
    assert a.param_names == b.param_names == ("Intercept", "x1") and a.design.formula == "y ~ x1 + offset(log(t))"
    close(a.coef, b.coef, rtol=1e-14)
    close(a.offset, b.offset, rtol=0)
    close(a.influence().to_frame("R").to_numpy(), b.influence().to_frame("R").to_numpy(), rtol=1e-13)
    # several offset terms and the offset argument add up (as in R); offset first, or alone (intercept kept)
    c = regdiag.glm("y ~ offset(log(t)) + x1 + offset(z / 2)", data=d, family="poisson", offset="z")
    e = regdiag.glm("y ~ x1", data=d, family="poisson", offset=np.log(d["t"]) + 1.5 * d["z"])
    close(c.coef, e.coef, rtol=1e-12)
    only = regdiag.glm("y ~ offset(log(t))", data=d, family="poisson")
    assert only.param_names == ("Intercept",)
    close(only.coef, [np.log(d["y"].sum() / d["t"].sum())], rtol=1e-12)
    # without the intercept
    assert regdiag.glm("y ~ offset(log(t)) - 1 + x1", data=d, family="poisson").param_names == ("x1",)
    # a binomial cbind response
    d["s"] = np.minimum(d["y"], 3.0)
    d["f"] = 3.0 - d["s"]
    g = regdiag.glm("cbind(s, f) ~ x1 + offset(z)", data=d, family="binomial")
    h = regdiag.glm("cbind(s, f) ~ x1", data=d, family="binomial", offset="z")
    close(g.coef, h.coef, rtol=1e-14)


def test_formula_offset_in_ols(exposure):
    d = exposure
    d["y_minus"] = d["y"] - 2 * d["z"]
    a = regdiag.ols("y ~ x1 + offset(2 * z)", data=d)
    b = regdiag.ols("y_minus ~ x1", data=d)
    close(a.coef, b.coef, rtol=1e-13)
    close(a.influence().cooks_distance, b.influence().cooks_distance, rtol=1e-12)
    close(a.fitted.to_numpy(), b.fitted.to_numpy() + 2 * d["z"].to_numpy(), rtol=1e-13)


def test_formula_offset_missing_and_bad_values_are_named(exposure):
    d = exposure
    d.loc["r3", "t"] = 0.0  # log(0) = -inf
    d.loc["r5", "t"] = np.nan
    # log(0) is an error by default (R: NA/NaN/Inf in 'offset'); with missing="drop" the row goes, with a warning
    with pytest.raises(regdiag.DataError, match=r"column 'offset\(log\(t\)\)' at rows 'r3'.*missing='drop'"):
        regdiag.glm("y ~ x1 + offset(log(t))", data=d, family="poisson")
    with pytest.warns(regdiag.DataWarning, match=r"offset\(log\(t\)\).*'r3'"):
        fit = regdiag.glm("y ~ x1 + offset(log(t))", data=d, family="poisson", missing="drop")
    assert set(fit.design.dropped) == {"r3", "r5"} and fit.nobs == 38
    with pytest.raises(regdiag.DataError, match=r"column 't' at rows 'r5'"):
        regdiag.glm("y ~ x1 + offset(log(t))", data=d, family="poisson", missing="raise")
    with pytest.raises(regdiag.DataError, match=r"column 'offset\(log\(t\)\)' at rows 'r3'"):
        regdiag.glm("y ~ x1 + offset(log(t))", data=d.drop(index="r5"), family="poisson", missing="raise")
    with pytest.raises(regdiag.DataError, match=r"'y ~ x1 \+ offset\(log\(q\)\)' uses 'q', not a column"):
        regdiag.glm("y ~ x1 + offset(log(q))", data=d, family="poisson")
    with pytest.raises(regdiag.DataError, match=r"must be a term of its own, added with '\+'"):
        regdiag.glm("y ~ x1 + offset(t):z", data=d, family="poisson")
