"""regdiag.compare on statsmodels' discrete models and RLM: agreement, or the confirmed reason."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import regdiag
from regdiag.compare_models import compare_model


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(20240517)
    n = 80
    X = pd.DataFrame({"const": 1.0, "x1": rng.normal(size=n), "x2": rng.uniform(-1, 1, size=n)},
                     index=[f"r{i}" for i in range(n)])
    eta = 0.3 + 0.8 * X["x1"] - 0.5 * X["x2"]
    mu = np.exp(0.4 + 0.5 * X["x1"])
    return X, {
        "Logit": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float),
        "Poisson": rng.negative_binomial(2, 2 / (2 + mu)).astype(float),
        "MNLogit": rng.integers(0, 3, n),
    }


def _results(name, data):
    X, ys = data
    y = ys["Logit"] if name in ("Logit", "Probit") else ys["MNLogit"] if name == "MNLogit" else ys["Poisson"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(sm, name)(pd.Series(y, index=X.index), X).fit(disp=0, maxiter=300)


@pytest.mark.parametrize("name", ["Logit", "Poisson"])
def test_canonical_models_agree(name, data):
    # regdiag.compare takes statsmodels' Logit, Probit and Poisson beside the GLM (tests/test_compare.py); the
    # maximum-likelihood route (MLEFit, exact deletion against statsmodels' refits) is compare_model
    cmp = compare_model(_results(name, data))
    assert cmp.table["agree"].all(), cmp.summary()
    assert {"leverage", "cooks_distance", "standard_resid", "dfbetas_x1", "loo_params_x1"} <= set(cmp.table.index)


def test_probit_differs_for_the_confirmed_reason(data):
    cmp = compare_model(_results("Probit", data))
    t = cmp.table
    assert not t.loc["leverage", "agree"] and bool(t.loc["leverage", "explained"])
    assert "expected-information weight" in t.loc["leverage", "reason"]
    assert cmp.all_explained
    assert t.loc["loo_params_x1", "agree"]  # the exact deletion equals statsmodels' refits


def test_genpoisson_differs_for_the_confirmed_reason(data):
    cmp = regdiag.compare(_results("GeneralizedPoisson", data))
    t = cmp.table
    assert not t.loc["leverage", "agree"] and bool(t.loc["leverage", "explained"])
    assert "blind to alpha" in t.loc["leverage", "reason"]
    assert cmp.all_explained


@pytest.mark.parametrize("name", ["NegativeBinomial", "MNLogit"])
def test_models_without_statsmodels_influence_compare_refits(name, data):
    cmp = regdiag.compare(_results(name, data))
    assert any("gives no influence" in n for n in cmp.notes)
    assert all(m.startswith("loo_params_") for m in cmp.table.index)
    assert cmp.table["agree"].all(), cmp.summary()


def test_rlm_results_and_fit_compare(data):
    df = pd.read_csv(Path(__file__).parent / "reference" / "rlm" / "data" / "hills.csv", index_col=0)
    res = sm.RLM(df["time"], sm.add_constant(df[["dist", "climb"]]), M=sm.robust.norms.TukeyBiweight()).fit(
        tol=1e-14, maxiter=5000)
    cmp = regdiag.compare(res)
    assert cmp.table["agree"].all(), cmp.summary()
    assert any("divisor n" in n for n in cmp.notes)
    fit = regdiag.rlm("time ~ dist + climb", data=df)  # a regdiag fit: statsmodels' model of the same data
    cmp2 = regdiag.compare(fit)
    assert cmp2.table["agree"].all(), cmp2.summary()


def _hills():
    df = pd.read_csv(Path(__file__).parent / "reference" / "rlm" / "data" / "hills.csv", index_col=0)
    return df["time"], sm.add_constant(df[["dist", "climb"]])


def test_rlm_with_its_scale_held_is_refitted_with_that_scale():
    """statsmodels does not record update_scale=False: the held scale is told from the final residuals' MAD, the
    refit and the refits without each row hold it, and the two sides agree."""
    from regdiag.linear.rlm import rlm_from_statsmodels

    y, X = _hills()
    for kw in ({"update_scale": False}, {"update_scale": False, "start_scale": 5.0}):
        res = sm.RLM(y, X).fit(tol=1e-14, maxiter=5000, **kw)
        fit = rlm_from_statsmodels(res)
        assert fit.scale_kind == "fixed" and fit.scale == pytest.approx(float(res.scale), rel=1e-15)
        np.testing.assert_allclose(fit.coef, res.params, rtol=1e-8)
        cmp = regdiag.compare(res)
        assert cmp.table["agree"].all(), cmp.summary()
    assert rlm_from_statsmodels(sm.RLM(y, X).fit(tol=1e-14, maxiter=5000)).scale_kind == "mad"


@pytest.mark.parametrize("kind", ["rlm", "logit"])
def test_a_peer_estimate_that_did_not_converge_is_a_difference(kind, data):
    """A peer's estimate far from the fixed point (here: one iteration) is not agreement within a tolerance
    widened by that same gap: the measures that depend on it differ, and a note says why."""
    if kind == "rlm":
        y, X = _hills()
        res = sm.RLM(y, X).fit(maxiter=1)
    else:
        X, ys = data
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sm.Logit(pd.Series(ys["Logit"], index=X.index), X).fit(disp=0, maxiter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = regdiag.compare(res)
    assert not cmp.table["agree"].all(), cmp.summary()
    if kind == "rlm":
        assert any("a different estimate" in n for n in cmp.notes)
    else:  # statsmodels' distance from the optimum is measured, and the measures within it are named
        assert any("agree only within the allowance" in n for n in cmp.notes)
