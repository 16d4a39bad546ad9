"""statsmodels' discrete models: regdiag's likelihood pieces against statsmodels', the measures against
statsmodels' MLEInfluence where it is right, exact deletion against brute-force refits (regdiag's and
statsmodels'), MNLogit's block leverage and Cook's distance over all equations."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import regdiag
from regdiag.linear.discrete import brute_force_loo, discrete_from_statsmodels


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(20240517)
    n = 120
    X = pd.DataFrame({"const": 1.0, "x1": rng.normal(size=n), "x2": rng.uniform(-1, 1, size=n)},
                     index=[f"r{i}" for i in range(n)])
    eta = 0.3 + 0.8 * X["x1"] - 0.5 * X["x2"]
    mu = np.exp(0.4 + 0.5 * X["x1"])
    return {
        "X": X,
        "binary": pd.Series((rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float), index=X.index),
        "count": pd.Series(rng.negative_binomial(2, 2 / (2 + mu)).astype(float), index=X.index),
        "category": pd.Series(rng.integers(0, 3, n), index=X.index),
    }


def _model(name, d):
    X = d["X"]
    return {
        "Logit": lambda: sm.Logit(d["binary"], X),
        "Probit": lambda: sm.Probit(d["binary"], X),
        "Poisson": lambda: sm.Poisson(d["count"], X),
        "NegativeBinomial": lambda: sm.NegativeBinomial(d["count"], X),
        "GeneralizedPoisson": lambda: sm.GeneralizedPoisson(d["count"], X),
        "MNLogit": lambda: sm.MNLogit(d["category"], X),
    }[name]()


MODELS = ["Logit", "Probit", "Poisson", "NegativeBinomial", "GeneralizedPoisson", "MNLogit"]


def _fit(name, d):
    m = _model(name, d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = m.fit(disp=0, maxiter=300)
    return m, res, discrete_from_statsmodels(res)


@pytest.mark.parametrize("name", MODELS)
def test_likelihood_pieces_match_statsmodels(name, data):
    m, res, fit = _fit(name, data)
    th = fit.params
    np.testing.assert_allclose(fit.loglike(), m.loglike(th), rtol=1e-12)
    H = fit.information()
    np.testing.assert_allclose(H, -m.hessian(th), rtol=1e-9, atol=1e-9 * np.max(np.abs(H)))
    S = np.einsum("nkp,nk->np", fit.jacobian(), fit.grad_outputs())
    np.testing.assert_allclose(-S, m.score_obs(th), rtol=1e-9, atol=1e-9 * np.max(np.abs(S)))
    assert np.max(np.abs(S.sum(0))) < 1e-8 * np.max(np.abs(S))  # at the maximum
    # regdiag's refit is statsmodels' estimate, to statsmodels' tolerance
    np.testing.assert_allclose(th, np.asarray(res.params).ravel(order="F"), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_exact_deletion_equals_refits(name, data):
    m, res, fit = _fit(name, data)
    infl = regdiag.influence(res)
    assert infl.method == f"{fit.kind}-exact"
    se = infl.fit.bse.to_numpy()
    bf = brute_force_loo(fit)
    assert np.max(np.abs(infl.dfbeta - bf) / se) < 1e-8
    assert np.all((infl.loo_error_bound <= 1e-10) | np.isnan(infl.loo_error_bound))
    # statsmodels' own refits for a few rows (to its convergence tolerance)
    rows = [0, int(np.argmax(infl.cooks_distance)), 57]
    for i in rows:
        keep = np.arange(len(fit.index)) != i
        mod = type(m)(m.endog[keep], m.exog[keep])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = mod.fit(start_params=fit.params, method="newton", maxiter=200, tol=1e-13, disp=0)
        b_i = np.asarray(r.params).ravel(order="F")
        assert np.max(np.abs(fit.params - infl.dfbeta[i] - b_i) / se) < 1e-6
    # Cook's distance over all parameters (all equations) from the refits
    H = fit.information()
    np.testing.assert_allclose(infl.cooks_distance, np.einsum("np,pq,nq->n", bf, H, bf) / fit.n_params,
                               rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("name", ["Logit", "Poisson"])
def test_canonical_models_match_statsmodels_mleinfluence(name, data):
    _, res, fit = _fit(name, data)
    sm_infl = res.get_influence()
    infl = fit.influence(loo="one-step")
    np.testing.assert_allclose(infl.leverage, sm_infl.hat_matrix_diag, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(infl.dfbeta, sm_infl.d_params, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(infl.dfbetas, sm_infl.dfbetas, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(infl.cooks_distance, sm_infl.cooks_distance[0], rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(infl.standard_resid, sm_infl.resid_studentized, rtol=1e-7, atol=1e-9)


def test_probit_statsmodels_leverage_mixes_expected_and_observed_information(data):
    _, res, fit = _fit("Probit", data)
    sm_infl = res.get_influence()
    infl = fit.influence(loo="one-step")
    # regdiag: observed information throughout, leverages sum to p
    np.testing.assert_allclose(infl.leverage.sum(), 3.0, rtol=1e-12)
    assert abs(sm_infl.hat_matrix_diag.sum() - 3.0) > 1e-3
    # statsmodels: the expected-information weight phi^2 / (Phi (1 - Phi)) with the observed inverse
    eta = fit.outputs()[:, 0]
    from scipy import stats

    w_exp = stats.norm.pdf(eta) ** 2 / (stats.norm.cdf(eta) * stats.norm.sf(eta))
    X = fit.X
    h_sm = w_exp * np.einsum("ij,ij->i", X, np.linalg.solve(fit.information(), X.T).T)
    np.testing.assert_allclose(sm_infl.hat_matrix_diag, h_sm, rtol=1e-6)
    # its d_params: the Newton step divided by (1 - h_sm) instead of (1 - h)
    h = infl.leverage
    np.testing.assert_allclose(sm_infl.d_params, infl.dfbeta * ((1 - h) / (1 - h_sm))[:, None], rtol=1e-5,
                               atol=1e-8)


def test_mnlogit_block_leverage(data):
    _, _res, fit = _fit("MNLogit", data)
    infl = fit.influence()
    k = fit.n_outputs
    assert infl.leverage_block.shape == (len(fit.index), k, k)
    np.testing.assert_allclose(infl.leverage.sum(), fit.n_params, rtol=1e-12)
    np.testing.assert_allclose(np.trace(infl.leverage_block, axis1=1, axis2=2), infl.leverage)
    # eigenvalues of each block are in [0, 1): the symmetric form A^(1/2) L A^(1/2) is a block of a projection
    ev = np.linalg.eigvals(infl.leverage_block).real
    assert ev.min() > -1e-12 and ev.max() < 1
    # the block equals the brute-force derivative of the fitted linear predictors in the responses' scores: with
    # the push-through identity, the one-step deletion is exact for the quadratic model; check it against
    # refits where the quadratic model is good (small leverage): error well below the deletion effect
    bf = brute_force_loo(fit)
    se = fit.bse.to_numpy()
    rel = np.max(np.abs(infl.dfbeta_one_step - bf) / se, axis=1) / np.max(np.abs(bf) / se, axis=1)
    assert np.median(rel) < 0.05


def test_negbin_from_a_nan_statsmodels_start(data):
    m = _model("NegativeBinomial", data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = m.fit(disp=0, maxiter=300)
    good = discrete_from_statsmodels(res)

    class Broken:  # statsmodels' Newton can return NaN while reporting convergence
        model = m
        params = pd.Series(np.full(4, np.nan), index=res.params.index)

    fit = discrete_from_statsmodels(Broken())
    np.testing.assert_allclose(fit.params, good.params, rtol=1e-9)


@pytest.mark.parametrize("name", ["Logit", "Probit", "MNLogit", "NegativeBinomial"])
def test_engine_exact_curvature_equals_one_step(name, data):
    _, _, fit = _fit(name, data)
    table = regdiag.cross_check(fit, curvatures=["exact"], solvers=["direct"], corrections=["leverage"])
    assert bool(table["agrees"].iloc[0]), table.to_string()
    assert table["param_influence"].iloc[0] < 1e-10


def test_unsupported_and_bad_input():
    rng = np.random.default_rng(0)
    X = sm.add_constant(rng.normal(size=(30, 1)))
    y = rng.poisson(2.0, 30).astype(float)
    res = sm.NegativeBinomial(y, X, loglike_method="nb1").fit(disp=0)
    with pytest.raises(regdiag.DataError, match="nb1"):
        regdiag.influence(res)
    res = sm.QuantReg(y, X).fit()
    with pytest.raises(regdiag.DataError, match="QuantReg"):
        regdiag.influence(res)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), base=st.integers(1, 2))
def test_mnlogit_measures_do_not_depend_on_the_baseline_or_row_order(seed, base):
    # another baseline category is an invertible linear reparameterization: the leverage (trace of the hat block)
    # and Cook's distance over all equations (in the information metric) are unchanged; rows permute with the data
    rng = np.random.default_rng(seed)
    n = 60
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    y = rng.integers(0, 3, n)
    relabel = np.roll(np.arange(3), -base)  # category `base` becomes 0, the baseline
    perm = rng.permutation(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f1 = discrete_from_statsmodels(sm.MNLogit(y, X).fit(disp=0))
        f2 = discrete_from_statsmodels(sm.MNLogit(relabel[y], X).fit(disp=0))
        f3 = discrete_from_statsmodels(sm.MNLogit(y[perm], X[perm]).fit(disp=0))
    i1, i2, i3 = (f.influence(loo="one-step") for f in (f1, f2, f3))
    np.testing.assert_allclose(i2.leverage, i1.leverage, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(i2.cooks_distance, i1.cooks_distance, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(i3.leverage, i1.leverage[perm], rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(i3.dfbeta, i1.dfbeta[perm], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name,family", [("Logit", "binomial"), ("Poisson", "poisson")])
def test_studentized_residuals_equal_the_glms_rstudent(name, family, data):
    # canonical links: the same likelihood and leverage as the GLM, whose student_resid is R's rstudent (tested
    # against R in tests/linear/test_glm_vs_r.py)
    _, _, fit = _fit(name, data)
    y = data["binary"] if name == "Logit" else data["count"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = regdiag.glm(y, data["X"], family=family).influence(loo="one-step")
    np.testing.assert_allclose(fit.influence(loo="one-step").student_resid, g.student_resid, rtol=1e-9, atol=1e-12)


def test_studentized_residuals_probit_and_the_models_without_them(data):
    _, _, fit = _fit("Probit", data)
    infl = fit.influence(loo="one-step")
    # Williams' likelihood residual with the observed-information leverage, by its definition
    y, mu, h = data["binary"].to_numpy(), fit.mean, infl.leverage
    dev = -2.0 * np.log(np.where(y == 1, mu, 1.0 - mu))
    rp = (y - mu) / np.sqrt(mu * (1.0 - mu))
    np.testing.assert_allclose(infl.student_resid, np.sign(y - mu) * np.sqrt(dev + h * rp**2 / (1.0 - h)),
                               rtol=1e-12, atol=0)
    for name in ("NegativeBinomial", "MNLogit"):
        _, _, fit = _fit(name, data)
        with pytest.warns(regdiag.InfluenceWarning, match="studentized residuals .* NaN") as rec:
            infl = fit.influence(loo="one-step")
        assert len([w for w in rec if "studentized" in str(w.message)]) == 1
        assert np.isnan(infl.student_resid).all()


@pytest.mark.parametrize("name", MODELS)
def test_group_deletion_equals_statsmodels_refits(name, data):
    m, _, fit = _fit(name, data)
    n = len(fit.index)
    groups = np.arange(n) // 15  # 8 groups of 15 consecutive rows
    g = fit.group_deletion(groups)
    se = fit.bse.to_numpy()
    for k in range(8):
        keep = groups != k
        mod = type(m)(m.endog[keep], m.exog[keep])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = mod.fit(start_params=fit.params, method="newton", maxiter=200, tol=1e-13, disp=0)
        b_k = np.asarray(r.params).ravel(order="F")
        assert np.max(np.abs(g.loo_params[k] - b_k) / se) < 1e-6, k
    H = fit.information()
    np.testing.assert_allclose(g.cooks_distance, np.einsum("gp,pq,gq->g", g.dfbeta, H, g.dfbeta) / fit.n_params,
                               rtol=1e-12, atol=0)
    # one-row groups are the exact leave-one-out (batched per row by a different route)
    rows = np.arange(0, n, 10)
    single = fit.group_deletion({i: [fit.index[i]] for i in rows})
    assert np.max(np.abs(single.dfbeta - fit.influence().dfbeta[rows]) / se) < 1e-8
    np.testing.assert_allclose(g.leverage.sum(), fit.n_params, rtol=1e-10)


def test_negative_binomial_deletion_far_from_the_full_fit_reaches_the_maximum():
    """MASS::ships as statsmodels' NB2 with exposure: without its most influential row (leverage 0.89) Newton's
    method from the full fit meets an indefinite Hessian in alpha. The deletion is still the maximum of the
    likelihood without the row, the one statsmodels' Nelder-Mead then BFGS reach from the full fit, not NaN."""
    ref = Path(__file__).resolve().parents[1] / "reference" / "teaching" / "glmnb_ships_offset" / "data.csv"
    s = pd.read_csv(ref, index_col=0)
    X = sm.add_constant(pd.get_dummies(s[["type"]], drop_first=True, dtype=float).assign(
        year=s["year"] / 10.0, period=s["period"] / 10.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.NegativeBinomial(s["incidents"].to_numpy(float), X.to_numpy(), exposure=s["service"].to_numpy(float)
                                  ).fit(disp=0, maxiter=500, method="bfgs")
        infl = regdiag.influence(res)
    loo = np.asarray(infl.fit.params) - infl.dfbeta
    assert np.isfinite(loo).all()
    i = int(np.argmax(infl.leverage))
    keep = np.arange(len(s)) != i
    model = sm.NegativeBinomial(s["incidents"].to_numpy(float)[keep], X.to_numpy()[keep],
                                exposure=s["service"].to_numpy(float)[keep])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nm = model.fit(start_params=res.params, method="nm", maxiter=20000, disp=0)
        refit = model.fit(start_params=nm.params, method="bfgs", maxiter=5000, gtol=1e-10, disp=0)
    # statsmodels stops where its likelihood is flat in alpha: agreement judged in its standard errors
    se = np.sqrt(np.diag(np.linalg.inv(-refit.model.hessian(refit.params))))
    assert np.max(np.abs(loo[i] - refit.params) / se) < 1e-3
