"""Canonical-link GLMs written in the tests (not regdiag's GLM): R's dfbeta and leave-one-out refits."""

from __future__ import annotations

import numpy as np
import pytest

from regdiag import engine
from tests.engine.models import CanonicalGLM
from tests.reference_cases import load_case

R_CASES = [
    ("glm_binomial_logit_budworm", "binomial"),
    ("glm_binomial_logit_birthwt", "binomial"),
    ("glm_binomial_logit_mtcars", "binomial"),
    ("glm_poisson_log_insectsprays", "poisson"),
    ("glm_poisson_log_offset_insurance", "poisson"),
]


@pytest.mark.parametrize("name,family", R_CASES)
def test_exact_hessian_with_leverage_is_the_one_step_dfbeta(name, family):
    """The one-step (Pregibon) DFBETA ``(X'WX)^{-1} x_i w_i r^W_i / (1 - h_i)`` uses the Pearson residual
    ``sqrt(w_i) r^W_i``; R's ``dfbeta.glm`` puts the deviance residual in its place. So the engine must equal R's
    numbers rescaled row by row by R's own Pearson/deviance residual ratio, and R's Cook's distance (Pearson) as is."""
    case = load_case(name)
    X = case.design()
    model = CanonicalGLM(X.to_numpy(), case.response().to_numpy(), family=family, weights=case.weights(),
                         offset=case.offset(), names=X.columns)
    np.testing.assert_allclose(model.params, case.ref("coefficients").iloc[:, 0].to_numpy(), rtol=1e-9, atol=1e-12)
    r_pearson = case.ref("residuals_pearson").iloc[:, 0].to_numpy()
    r_deviance = case.ref("residuals_deviance").iloc[:, 0].to_numpy()
    assert np.all(r_deviance != 0)
    dfb = case.ref("dfbeta").to_numpy() * (r_pearson / r_deviance)[:, None]
    for cur in ("exact", "gauss_newton"):
        res = engine.influence(model, cur, correction="leverage")
        scale = np.abs(dfb).max(axis=0)
        assert np.max(np.abs(res.dfbeta - dfb) / scale) < 1e-8, cur
        np.testing.assert_allclose(res.cooks_distance, case.ref("cooks_distance").iloc[:, 0].to_numpy(),
                                   rtol=1e-8, atol=1e-14)
        np.testing.assert_allclose(res.leverage, case.ref("hatvalues").iloc[:, 0].to_numpy(), rtol=1e-8, atol=1e-14)


def test_kfac_and_ekfac_are_approximations_on_a_glm():
    case = load_case("glm_binomial_logit_birthwt")
    model = CanonicalGLM(case.design().to_numpy(), case.response().to_numpy())
    r_ratio = case.ref("residuals_pearson").iloc[:, 0].to_numpy() / case.ref("residuals_deviance").iloc[:, 0].to_numpy()
    dfb = case.ref("dfbeta").to_numpy() * r_ratio[:, None]
    errs = {}
    for cur in ("kfac", "ekfac"):
        res = engine.influence(model, cur, correction="leverage")
        errs[cur] = np.max(np.abs(res.dfbeta - dfb) / np.abs(dfb).max(axis=0))
    assert 1e-3 < errs["ekfac"] and 1e-3 < errs["kfac"]


def test_predicted_test_loss_change_matches_leave_one_out_refits():
    """Sign and scale: the exact curvature's prediction of each query's loss change against Newton refits."""
    rng = np.random.default_rng(7)
    n, nq = 80, 40
    X = np.column_stack([np.ones(n + nq), rng.standard_normal((n + nq, 4))])
    beta = np.array([0.2, 1.0, -0.8, 0.5, 0.0])
    y = (rng.uniform(size=n + nq) < 1 / (1 + np.exp(-X @ beta))).astype(float)
    model = CanonicalGLM(X[:n], y[:n], l2=0.1)
    Xq, yq = X[n:], y[n:]
    base = model.query_loss(model.params, Xq, yq)
    actual = np.array([model.query_loss(model.loo_refit(i), Xq, yq) - base for i in range(n)]).T  # (nq, n)
    mean_r = {}
    for correction in ("none", "leverage"):
        pred = engine.influence(model, "exact", correction=correction).scores(engine.query_gradients(model, (Xq, yq)))
        mean_r[correction] = np.mean([np.corrcoef(pred[j], actual[j])[0, 1] for j in range(nq)])
        assert mean_r[correction] >= 0.99, correction  # measured: 0.9994 (none), 0.9998 (leverage)
        assert np.corrcoef(pred.sum(0), actual.sum(0))[0, 1] >= 0.99
        # the sign convention: positive = removal increases the query loss
        assert np.mean(np.sign(pred) == np.sign(actual)) > 0.99
        # the scale: a least-squares slope of actual on predicted near 1
        slope = np.sum(pred * actual) / np.sum(pred * pred)
        assert 0.9 < slope < 1.1
    assert mean_r["leverage"] >= mean_r["none"]
    loo = np.array([model.loo_refit(i) - model.params for i in range(n)])
    lev = engine.influence(model, "exact", correction="leverage").param_influence
    assert np.abs(lev - loo).max() < 0.05 * np.abs(loo).max()
