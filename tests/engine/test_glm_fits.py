"""The engine on regdiag's GLM fits (any family and link) against their closed form and R's leave-one-out refits."""

from __future__ import annotations

import numpy as np
import pytest

import regdiag
from regdiag import engine
from tests.reference_cases import load_case

CANONICAL = [
    "glm_binomial_logit_birthwt",
    "glm_binomial_logit_budworm",
    "glm_binomial_logit_mtcars",
    "glm_poisson_log_insectsprays",
    "glm_poisson_log_offset_insurance",
    "glm_gaussian_identity_lifecyclesavings",
]
DECREASING = ["glm_gamma_inverse_clotting", "glm_inverse_gaussian_clotting"]  # canonical, but dmu/deta < 0
NON_CANONICAL = [
    "glm_binomial_probit_birthwt",
    "glm_binomial_cloglog_birthwt",
    "glm_poisson_sqrt_insectsprays",
    "glm_poisson_identity_insectsprays",
    "glm_gamma_log_clotting_long",
    "glm_gaussian_log_mtcars",
    "glm_negbin_fixed_theta_quine",
]


def fit_case(name):
    case = load_case(name)
    spec = case.spec
    fam = spec["family"]
    alpha = 1 / 1.25 if fam == "negative_binomial" else None
    fit = regdiag.glm(case.response().to_numpy(), case.design(), family=fam, link=spec["link"],
                      weights=case.weights(), offset=case.offset(), alpha=alpha)
    return case, fit


def _colrel(a, b):
    return np.max(np.max(np.abs(a - b), axis=0) / np.max(np.abs(b), axis=0))


@pytest.mark.parametrize("name", CANONICAL + DECREASING)
def test_canonical_link_exact_hessian_reproduces_one_step_dfbeta(name):
    _case, fit = fit_case(name)
    cf = fit.influence()
    for curvature in ("exact", "gauss_newton"):
        eng = engine.influence(fit, curvature, correction="leverage")
        assert _colrel(eng.dfbeta, cf.dfbeta) < 1e-8, curvature
        np.testing.assert_allclose(eng.cooks_distance, cf.cooks_distance, rtol=1e-8, atol=1e-14)
        np.testing.assert_allclose(eng.leverage, cf.leverage, rtol=1e-8, atol=1e-14)
        plain = engine.influence(fit, curvature)
        assert _colrel(plain.dfbeta, cf.dfbeta * (1 - cf.leverage)[:, None]) < 1e-8


@pytest.mark.parametrize("name", NON_CANONICAL)
def test_non_canonical_link_gauss_newton_is_the_fisher_one_step_and_exact_the_observed(name):
    """Gauss-Newton = expected (Fisher) information: the closed form's default one-step measures. The exact
    Hessian = observed information: the closed form's ``observed=True`` one-step (statsmodels' convention)."""
    _case, fit = fit_case(name)
    cf = fit.influence()
    eng = engine.influence(fit, "gauss_newton", correction="leverage")
    assert _colrel(eng.dfbeta, cf.dfbeta) < 1e-8
    np.testing.assert_allclose(eng.cooks_distance, cf.cooks_distance, rtol=1e-8, atol=1e-14)
    obs = fit.influence(observed=True)
    ex = engine.influence(fit, "exact", correction="leverage")
    assert _colrel(ex.dfbeta, obs.dfbeta) < 1e-8
    np.testing.assert_allclose(ex.leverage, obs.leverage, rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("name", ["glm_gamma_inverse_clotting", "glm_binomial_logit_budworm"])
def test_engine_sign_agrees_with_exact_refits_for_decreasing_links(name):
    case, fit = fit_case(name)
    exact = case.ref("coefficients").iloc[:, 0].to_numpy()[None, :] - case.ref("loo_coefficients").to_numpy()
    eng = engine.influence(fit, "exact", correction="leverage")
    assert np.all(np.sign(eng.dfbeta) == np.sign(exact))
    assert _colrel(eng.dfbeta, exact) < 0.1  # a one-step approximation of the refit


def test_cross_check_on_a_glm():
    _case, fit = fit_case("glm_binomial_probit_birthwt")
    tab = engine.cross_check(fit, solvers=["direct", "cg"])
    by = tab.set_index(["curvature", "solver", "correction"])
    assert by.loc[("gauss_newton", "direct", "leverage"), "dfbeta"] < 1e-12
    assert bool(by.loc[("gauss_newton", "cg", "leverage"), "agrees"])
    # observed information for a non-canonical link: theory does not expect equality with the Fisher one-step
    assert np.isnan(by.loc[("exact", "direct", "leverage"), "expected"])
    assert by.loc[("exact", "direct", "leverage"), "dfbeta"] > 1e-3
    assert by.loc[("kfac", "direct", "leverage"), "dfbeta"] > 1e-2


def test_glm_scores_with_a_formula_query():
    df = regdiag.datasets.load("mtcars")
    fit = regdiag.glm("am ~ wt", data=df, family="binomial")
    eng = engine.influence(fit, correction="leverage")
    s = eng.scores(engine.query_gradients(fit, (df.iloc[:5], df["am"].to_numpy()[:5])))
    X = fit.design.X[:5]
    mu = 1 / (1 + np.exp(-X @ fit.coef))
    g = (mu - df["am"].to_numpy()[:5])[:, None] * X  # gradient of the Bernoulli negative log-likelihood
    np.testing.assert_allclose(s, g @ (-fit.influence().dfbeta).T, rtol=1e-8, atol=1e-14)


def test_a_solve_that_does_not_converge_is_reported_once_for_both_corrections(monkeypatch):
    """The leverage correction only rescales the solved vectors: LiSSA's failure on an ill-conditioned curvature is
    the same failure for both corrections, and the cross-check does not run it twice."""
    import regdiag.engine.crosscheck as ccm

    _case, fit = fit_case("glm_binomial_probit_birthwt")
    calls = []
    real = ccm.engine_run

    def counted(model, cur, sol, cor, damping, opts):
        calls.append((cur, sol, cor))
        return real(model, cur, sol, cor, damping, opts)

    monkeypatch.setattr(ccm, "engine_run", counted)
    tab = engine.cross_check(fit, curvatures=["gauss_newton"], solvers=["lissa"],
                             solver_options={"lissa": {"max_iter": 50}})
    assert calls == [("gauss_newton", "lissa", "none")]
    assert list(tab["status"]) == [tab["status"][0]] * 2 and tab["status"][0].startswith("ConvergenceError")
    assert tab["agrees"].isna().all()
