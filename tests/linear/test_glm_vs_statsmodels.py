"""regdiag's GLM against statsmodels' GLM and GLMInfluence (observed=False and True), where statsmodels is right.

statsmodels is fitted from regdiag's coefficients with a tight tolerance, so both evaluate every quantity at the same
maximum-likelihood estimate. statsmodels fixes the negative binomial's dispersion at 1 (R's glm estimates it), so
that family is compared with ``dispersion=1``. Where statsmodels' GLMInfluence is not right the difference is checked
to be exactly the documented one:
* ``d_params`` (and ``dfbetas``) use ``sqrt(W) r_Pearson``, which drops the sign of dmu/deta: for the decreasing
  inverse and 1/mu^2 links their one-step change has the wrong sign (regdiag's is the first Newton step, see
  test_glm_exact.py);
* with ``observed=True`` and a non-canonical link, ``d_params`` uses ``sqrt(w_observed) r_Pearson`` instead of the
  score ``W z``, so only the leverage, the standardized residuals and Cook's distance are compared there.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm

import regdiag
from regdiag.linear.glm import glm_from_statsmodels
from tests.linear.test_glm_vs_r import close, fit_case
from tests.reference_cases import case_names, load_case

# the inverse Gaussian case's row 1 has no R deletion sigma (tested in test_glm_vs_r.py)
pytestmark = pytest.mark.filterwarnings("ignore:R's one-step deletion sigma:regdiag.InfluenceWarning")

LINKS = {
    "logit": sm.families.links.Logit,
    "probit": sm.families.links.Probit,
    "cloglog": sm.families.links.CLogLog,
    "log": sm.families.links.Log,
    "identity": sm.families.links.Identity,
    "sqrt": sm.families.links.Sqrt,
    "inverse": sm.families.links.InversePower,
    "1/mu^2": sm.families.links.InverseSquared,
}


def sm_family(spec, case):
    link = LINKS[spec["link"]]()
    fam = spec["family"]
    if fam == "negative_binomial":
        alpha = spec["alpha"] if spec["alpha"] is not None else 1.0 / case.scalars()["theta"]
        return sm.families.NegativeBinomial(link=link, alpha=alpha)
    return {
        "binomial": sm.families.Binomial,
        "poisson": sm.families.Poisson,
        "gamma": sm.families.Gamma,
        "gaussian": sm.families.Gaussian,
        "inverse_gaussian": sm.families.InverseGaussian,
    }[fam](link=link)


CASES = [c for c in case_names("glm") if not load_case(c).spec["theta_estimated"]]


@pytest.fixture(scope="module", params=CASES)
def pair(request):
    case = load_case(request.param)
    spec = case.spec
    fit = fit_case(case, dispersion=1.0) if spec["family"] == "negative_binomial" else fit_case(case)
    kw = {}
    if case.weights() is not None:
        kw["var_weights"] = case.weights()
    if case.offset() is not None:
        kw["offset"] = case.offset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm.GLM(case.response(), case.design(), family=sm_family(spec, case), **kw)
        res = model.fit(start_params=fit.params.to_numpy(), tol=1e-15, maxiter=50)
    return case, fit, res


def test_fit_agrees(pair):
    _, fit, res = pair
    close(fit.params.to_numpy(), res.params.to_numpy(), rtol=1e-10)
    close(fit.bse.to_numpy(), res.bse.to_numpy(), rtol=1e-8)
    close(fit.deviance, res.deviance, rtol=1e-11)
    close(fit.pearson_chi2, res.pearson_chi2, rtol=1e-10)
    close(fit.dispersion, res.scale, rtol=1e-10)
    close(fit.null_deviance, res.null_deviance, rtol=1e-9)
    for mine, theirs in [
        (fit.resid_response, res.resid_response),
        (fit.resid_pearson, res.resid_pearson),
        (fit.resid_deviance, res.resid_deviance),
        (fit.resid_working, res.resid_working),
        (fit.fitted, res.fittedvalues),
    ]:
        close(mine.to_numpy(), np.asarray(theirs))


@pytest.mark.parametrize("observed", [False, True])
def test_leverage_residuals_cooks(pair, observed):
    _, fit, res = pair
    infl = fit.influence(observed=observed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        si = res.get_influence(observed=observed)
        h = si.hat_matrix_diag
    if observed and not fit.family.canonical and np.any(res.model.hessian_factor(res.params, observed=True) < 0):
        pytest.skip("a negative observed-information weight: statsmodels' sqrt gives NaN leverage")
    close(infl.leverage, h, rtol=1e-8)
    close(infl.standard_resid_pearson, si.resid_studentized, rtol=1e-8)
    close(infl.cooks_distance, si.cooks_distance[0], rtol=1e-8)
    assert infl.observed is observed


def test_one_step_changes(pair):
    """d_params: equal for an increasing link; the opposite sign for a decreasing one."""
    _, fit, res = pair
    infl = fit.influence()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        si = res.get_influence(observed=False)
        d_params = np.asarray(si.d_params)
        dfbetas = np.asarray(si.dfbetas)
    factor = infl.link_sign  # statsmodels = regdiag * factor
    close(d_params, infl.dfbeta * factor, rtol=1e-8)
    close(dfbetas, infl.dfbetas_as("statsmodels") * factor, rtol=1e-8)
    if fit.family.canonical and fit.dispersion == 1.0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            so = res.get_influence(observed=True)
        close(np.asarray(so.d_params), fit.influence(observed=True).dfbeta, rtol=1e-8)


def test_summary_frame_where_statsmodels_is_right(pair):
    """to_frame("statsmodels") has summary_frame()'s columns; equal values for increasing links."""
    case, fit, res = pair
    infl = fit.influence()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sf = res.get_influence(observed=False).summary_frame()
    mine = infl.to_frame("statsmodels")
    assert list(mine.columns) == list(sf.columns)
    exact = ["cooks_d", "standard_resid", "hat_diag"]
    close(mine[exact].to_numpy(), sf[exact].to_numpy(), rtol=1e-8)
    if infl.link_sign > 0:
        dfb = [c for c in sf.columns if c.startswith("dfb_")]
        close(mine[dfb].to_numpy(), sf[dfb].to_numpy(), rtol=1e-8)
        if case.offset() is None:  # statsmodels' prediction standard errors ignore the offset here
            close(mine["dffits_internal"].to_numpy(), sf["dffits_internal"].to_numpy(), rtol=1e-8)


def test_influence_of_statsmodels_results(pair):
    """regdiag.influence(statsmodels GLM results) refits with the same family, link, weights and offset."""
    _, fit, res = pair
    a = regdiag.influence(res)
    b = fit.influence()
    assert isinstance(a, regdiag.GLMInfluence)
    assert (a.family, a.link) == (b.family, b.link)
    close(a.params, b.params, rtol=1e-10)
    close(a.to_frame().to_numpy(), b.to_frame().to_numpy(), rtol=1e-8)
    c = regdiag.influence(res, residual="deviance", observed=True)
    assert c.residual == "deviance" and c.observed


def test_statsmodels_binomial_two_columns_and_freq_weights():
    """statsmodels' successes/failures endog (n_trials) and freq_weights become prior weights."""
    case = load_case("glm_binomial_logit_budworm")
    d = case.data
    counts = np.column_stack([d["numdead"], d["total"] - d["numdead"]])
    res = sm.GLM(counts, case.design(), family=sm.families.Binomial()).fit()
    a = regdiag.influence(res)
    ref = case.ref("infmat")
    close(a.to_frame("R").to_numpy(), ref.to_numpy(dtype=float))
    # freq_weights of 2 on a 0/1 logistic model: the same coefficients as duplicated rows
    mt = load_case("glm_binomial_logit_mtcars")
    w = np.where(np.arange(32) % 3 == 0, 2.0, 1.0)
    r2 = sm.GLM(mt.response(), mt.design(), family=sm.families.Binomial(), freq_weights=w).fit(tol=1e-14)
    f2 = regdiag.glm(mt.response(), mt.design(), family="binomial", weights=w)
    close(regdiag.influence(r2).params, f2.coef, rtol=1e-10)
    close(f2.coef, r2.params.to_numpy(), rtol=1e-10)


def test_unsupported_statsmodels_family():
    case = load_case("glm_poisson_log_insectsprays")
    res = sm.GLM(case.response(), case.design(), family=sm.families.Tweedie(var_power=1.5)).fit()
    with pytest.raises(regdiag.DesignError, match="Tweedie"):
        regdiag.influence(res)


@pytest.fixture(scope="module")
def aliased_birthwt():
    """birthwt's logistic model with a column that is a linear combination of two others (statsmodels' minimum-norm
    coefficients put a nonzero value on it)."""
    import pandas as pd

    from regdiag.datasets import load

    df = load("birthwt")
    df = df.assign(age_lwt=df["age"] + 2.0 * df["lwt"])
    formula = "low ~ age + lwt + age_lwt + smoke + ht"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.GLM.from_formula(formula, df, family=sm.families.Binomial()).fit(tol=1e-12)
    assert abs(res.params["age_lwt"]) > 1e-3  # the start value on the aliased column is not 0
    return formula, pd.DataFrame(df), res


def test_aliased_start_values_are_folded(aliased_birthwt):
    """Start values on aliased columns (statsmodels' minimum-norm coefficients, or start=) end up on the kept
    columns: the coefficients reproduce the linear predictor and equal the fit without start values."""
    formula, df, res = aliased_birthwt
    fit = glm_from_statsmodels(res)
    plain = regdiag.glm(formula, data=df, family="binomial")
    X = fit.design.X
    assert np.isnan(fit.coef[3]) and np.isnan(plain.coef[3])
    np.testing.assert_allclose(X @ np.nan_to_num(fit.coef), fit.eta, rtol=0, atol=1e-10 * np.abs(fit.eta).max())
    np.testing.assert_allclose(fit.coef, plain.coef, rtol=1e-8, atol=1e-12)
    # statsmodels' fitted means are those of the fit (its parametrization differs, not its model)
    np.testing.assert_allclose(fit.mu, res.fittedvalues.to_numpy(), rtol=1e-8)
    started = regdiag.glm(formula, data=df, family="binomial", start=[0.0, 0.01, 0.02, -0.03, 0.0, 0.0])
    np.testing.assert_allclose(started.coef, plain.coef, rtol=1e-8, atol=1e-12)


def test_aliased_statsmodels_loo_params_match_refits(aliased_birthwt):
    """regdiag.influence(statsmodels results).loo_params (exact) against brute-force refits without each row."""
    formula, df, res = aliased_birthwt
    infl = regdiag.influence(res, loo="exact")
    rows = np.arange(0, len(df), 7)
    for i in rows:
        refit = regdiag.glm(formula, data=df.drop(index=df.index[i]), family="binomial")
        np.testing.assert_allclose(infl.loo_params[i], refit.coef, rtol=1e-6, atol=1e-8)
