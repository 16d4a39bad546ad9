"""Plots of GLM fits: deviance residuals against the linear predictor, standardized Pearson residuals in the
leverage plot, and envelopes simulated from the fitted family with its weights and refitted."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

import regdiag
from regdiag import plots
from regdiag.linear.envelope import draw_glm_response, envelope


@pytest.fixture(scope="module")
def budworm():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return regdiag.glm("prop ~ ldose + sex", data=regdiag.datasets.load("budworm"), family="binomial",
                           weights="total")


@pytest.fixture(scope="module")
def clotting():
    return regdiag.glm("lot1 ~ log(u)", data=regdiag.datasets.load("clotting"), family="gamma")


def test_glm_residual_plots_read_deviance_residuals_and_linear_predictor(budworm):
    infl = budworm.influence()
    d = plots.residuals_fitted(budworm)
    np.testing.assert_array_equal(d.data_["x"], budworm.linear_predictor)
    np.testing.assert_array_equal(d.data_["y"], infl.resid_deviance)
    assert d.ax_.get_xlabel() == "Linear predictor" and d.ax_.get_ylabel() == "Deviance residuals"
    rl = plots.residuals_leverage(budworm)
    np.testing.assert_array_equal(rl.data_["y"], infl.standard_resid_pearson)
    # the contours are of Cook's distance: each point's position gives its own D = r^2 h / (p (1 - h))
    h, r = rl.data_["x"].to_numpy(), rl.data_["y"].to_numpy()
    np.testing.assert_allclose(r**2 * h / (3 * (1 - h)), infl.cooks_distance_as("R"), rtol=1e-10)
    q = plots.qq(budworm, nsim=19)
    assert q.ax_.get_xlabel() == "Normal quantiles"
    np.testing.assert_array_equal(q.data_["y"], np.sort(infl.student_resid))


@pytest.mark.parametrize(
    "formula,data,family,link,weights",
    [
        ("prop ~ ldose + sex", "budworm", "binomial", None, "total"),
        ("count ~ spray", "InsectSprays", "poisson", None, None),
        ("lot1 ~ log(u)", "clotting", "gamma", None, None),
        ("lot1 ~ log(u)", "clotting", "inverse_gaussian", None, None),
        ("sr ~ pop15 + pop75", "LifeCycleSavings", "gaussian", "log", None),
    ],
)
def test_simulated_responses_have_the_fitted_mean_and_variance(formula, data, family, link, weights):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = regdiag.glm(formula, data=regdiag.datasets.load(data), family=family, link=link, weights=weights)
    rng = np.random.default_rng(5)
    draws = np.array([draw_glm_response(fit, rng) for _ in range(4000)])
    mu = np.asarray(fit.mu)
    var = fit.dispersion * np.asarray(fit.family.variance(mu)) / np.asarray(fit.prior_weights)
    se_mean = np.sqrt(var / 4000)
    z = (draws.mean(axis=0) - mu) / se_mean
    assert np.max(np.abs(z)) < 4.5
    ratio = draws.var(axis=0) / var
    assert np.all(np.abs(ratio - 1) < 0.2)


@pytest.mark.parametrize("method", ["projection", "refit"])
def test_glm_envelope_covers_data_drawn_from_the_model(clotting, method):
    """Sorted |t| of fresh draws from the fitted model (refitted) fall inside the 90% band about 90% of the time."""
    import dataclasses

    from regdiag.linear.glm import fit_glm_design

    infl = clotting.influence()
    env = envelope(infl, 9, nsim=99, level=0.9, rng=1, absolute=True, method=method)
    assert env.nsim >= 95 and ("refits" if method == "refit" else "scoring steps") in env.method
    rng = np.random.default_rng(2)
    inside = []
    for _ in range(50):
        y = draw_glm_response(clotting, rng)
        refit = fit_glm_design(dataclasses.replace(clotting.design, y=y), clotting.family, start=clotting.coef)
        t = np.sort(np.abs(refit.influence().student_resid))
        inside.append((t >= env.lower) & (t <= env.upper))
    assert 0.8 < np.mean(inside) < 0.97


def test_glm_envelope_uses_the_weights(budworm):
    """Binomial proportions with 20 trials: a draw's successes are integers out of the prior weights."""
    y = draw_glm_response(budworm, np.random.default_rng(0))
    successes = y * np.asarray(budworm.prior_weights)
    np.testing.assert_allclose(successes, np.round(successes), atol=1e-9)
    assert np.all(np.asarray(budworm.prior_weights) == 20)


def test_half_normal_plot_of_a_glm(budworm, tmp_path):
    d = plots.half_normal(budworm, nsim=39, rng=4)
    env = d.artists_["envelope_data"]
    assert "scoring steps" in env.method and env.nsim >= 35
    t = np.abs(budworm.influence().student_resid)
    np.testing.assert_array_equal(d.data_["y"], np.sort(t))
    m = len(t)
    np.testing.assert_allclose(d.data_["x"], stats.norm.ppf((np.arange(1, m + 1) + m - 0.125) / (2 * m + 0.5)))
    assert list(d.labelled_) == list(budworm.index[np.argsort(-t)[:3]])
    d.savefig(tmp_path / "hn.png")


def test_engine_plots_of_a_glm_compare_with_exact_leave_one_out(budworm):
    import regdiag.engine

    est = regdiag.engine.influence(budworm, "gauss_newton", correction="leverage")
    exact = budworm.influence(loo="exact")
    d = plots.engine_vs_exact(est, exact)
    se = np.sqrt(exact.dispersion * exact.cov_unscaled_diag)
    x = d.data_[d.data_["coefficient"] == "ldose"]["x"].to_numpy()
    np.testing.assert_allclose(x, -exact.dfbeta[:, 1] / se[1], rtol=1e-12)
    # the leverage-corrected Fisher step is R's one-step change, close to but not the exact refit
    assert 1e-4 < d.artists_["discrepancy"] < 0.2
