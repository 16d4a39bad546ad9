"""Robust regression (regdiag.rlm) against MASS::rlm iterated to its fixed point, brute-force refits and invariances.

R values: tests/reference/R/make_rlm_reference.R (tests/reference/rlm/).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import regdiag
from regdiag.linear.rlm import brute_force_loo, psi_function

REF = Path(__file__).resolve().parents[1] / "reference" / "rlm"

CASES = {
    "phones_huber": ("calls ~ year", "phones", {}),
    "phones_huber_proposal2": ("calls ~ year", "phones", {"scale": "Huber"}),
    "phones_bisquare": ("calls ~ year", "phones", {"psi": "bisquare"}),
    "phones_hampel": ("calls ~ year", "phones", {"psi": "hampel"}),
    "animals_huber": ("log_brain ~ log_body", "animals", {}),
    "animals_bisquare": ("log_brain ~ log_body", "animals", {"psi": "bisquare"}),
    "hills_huber": ("time ~ dist + climb", "hills", {}),
    "hills_hampel": ("time ~ dist + climb", "hills", {"psi": "hampel"}),
    "hills_huber_k2": ("time ~ dist + climb", "hills", {"k": 2}),
    "phones_huber_offset": ("calls ~ year + offset(year / 2)", "phones", {}),
}


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / "data" / f"{name}.csv", index_col=0)


def _vec(case: str, what: str) -> pd.Series:
    return pd.read_csv(REF / case / f"{what}.csv", index_col=0).iloc[:, 0]


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("case", list(CASES))
def test_fit_matches_mass_rlm_at_its_fixed_point(case):
    formula, data, kw = CASES[case]
    fit = regdiag.rlm(formula, data=_data(data), **kw)
    sc = _vec(case, "scalars")
    assert sc["converged"] == 1 and sc["last_change"] < 1e-14
    assert _rel(fit.coef, _vec(case, "coefficients")) < 1e-8
    assert _rel(fit.bse, _vec(case, "se")) < 1e-8
    assert abs(fit.scale - sc["scale"]) / sc["scale"] < 1e-8
    np.testing.assert_allclose(fit.weights, _vec(case, "weights"), rtol=0, atol=1e-8)
    assert abs(fit.stddev - sc["stddev"]) / sc["stddev"] < 1e-8
    infl = fit.influence(loo="one-step")
    np.testing.assert_allclose(infl.leverage, _vec(case, "hat"), rtol=0, atol=1e-8)
    assert list(infl.index.astype(str)) == list(_vec(case, "hat").index.astype(str))
    resid = _vec(case, "residuals")  # R's residuals(fit): y - offset - X b
    np.testing.assert_allclose(fit.resid, resid, rtol=0, atol=1e-8 * float(np.max(np.abs(resid))))


def test_r_default_stops_short_of_the_fixed_point():
    # rlm's default (20 steps, acc 1e-4) on MASS phones: 'failed to converge', far from the estimator's value
    case = "phones_huber"
    sc = _vec(case, "scalars")
    assert sc["default_converged"] == 0
    fit = regdiag.rlm("calls ~ year", data=_data("phones"))
    assert _rel(_vec(case, "default_coefficients"), fit.coef) > 1e-3
    assert _rel(_vec(case, "coefficients"), fit.coef) < 1e-8


MM_EXHAUSTIVE = {  # choose(n, p) < 5000: lqs tries every subset, R's MM fit is deterministic
    "phones_mm": ("calls ~ year", "phones", {}),
    "animals_mm": ("log_brain ~ log_body", "animals", {}),
    "hills_dist_mm": ("time ~ dist", "hills", {}),
    "stackloss2_mm": ("stack_loss ~ Air_Flow + Water_Temp", "stackloss", {}),
    "cars_mm": ("dist ~ speed", "cars", {}),
    "mtcars_mm": ("mpg ~ wt + hp", "mtcars", {}),
    "phones_mm_c6": ("calls ~ year", "phones", {"k": 6.0}),
}
MM_SAMPLED = {  # choose(n, p) >= 5000: lqs samples subsets with R's generator
    "hills_mm": ("time ~ dist + climb", "hills"),
    "stackloss_mm": ("stack_loss ~ Air_Flow + Water_Temp + Acid_Conc", "stackloss"),
}


def _check_mm(fit, case: str, tol: float = 1e-8) -> None:
    sc = _vec(case, "scalars")
    assert abs(fit.scale - sc["scale"]) / sc["scale"] < tol
    assert _rel(fit.coef, _vec(case, "coefficients")) < tol
    assert _rel(fit.bse, _vec(case, "se")) < tol
    assert abs(fit.stddev - sc["stddev"]) / sc["stddev"] < tol
    np.testing.assert_allclose(fit.weights, _vec(case, "weights"), rtol=0, atol=tol)
    resid = _vec(case, "residuals")
    np.testing.assert_allclose(fit.resid, resid, rtol=0, atol=tol * float(np.max(np.abs(resid))))
    np.testing.assert_allclose(fit.influence(loo="one-step").leverage, _vec(case, "hat"), rtol=0, atol=tol)


@pytest.mark.parametrize("case", list(MM_EXHAUSTIVE))
def test_mm_matches_mass_end_to_end_when_lqs_tries_every_subset(case):
    from regdiag.linear.rlm_s import lqs_s_estimate

    formula, data, kw = MM_EXHAUSTIVE[case]
    sc = _vec(case, "scalars")
    assert sc["exhaustive"] == 1
    fit = regdiag.rlm(formula, data=_data(data), method="MM", **kw)
    _check_mm(fit, case)
    # the S-estimate itself, step by step: lqs's best subset, its scale, its refinement
    s = lqs_s_estimate(fit.design.X, fit.design.y)
    assert s.exhaustive and s.n_singular == sc["singular"]
    assert list(s.best_subset + 1) == list(_vec(case, "s_best_subset").astype(int))
    assert _rel(s.subset_coef, _vec(case, "s_coefficients")) < 1e-10
    assert abs(s.crit - sc["s_crit"]) / sc["s_crit"] < 1e-10
    assert abs(s.scale - sc["s_scale"]) / sc["s_scale"] < 1e-10
    assert _rel(s.coef, _vec(case, "s_refined_coefficients")) < 1e-10
    # the seed plays no part when every subset is tried
    assert regdiag.rlm(formula, data=_data(data), method="MM", seed=7, **kw).scale == fit.scale


@pytest.mark.parametrize("case", list(MM_SAMPLED))
def test_mm_matches_mass_from_r_s_estimate_when_lqs_samples(case):
    formula, data = MM_SAMPLED[case]
    sc = _vec(case, "scalars")
    assert sc["exhaustive"] == 0
    start = (_vec(case, "s_refined_coefficients").to_numpy(), float(sc["s_scale"]))
    fit = regdiag.rlm(formula, data=_data(data), method="MM", init=start)
    assert fit.scale == sc["scale"]
    _check_mm(fit, case)
    # regdiag's own sampled search (NumPy's generator) finds an S-estimate of its own: a valid fit, scale of the
    # same size as lqs's, not R's to rounding
    own = regdiag.rlm(formula, data=_data(data), method="MM", seed=3)
    assert own.converged and 0.5 < own.scale / sc["s_scale"] < 2.0
    # R's own draws after set.seed(20240517): the subsets lqs sampled, hence R's MM fit end to end
    _check_mm(regdiag.rlm(formula, data=_data(data), method="MM", r_seed=20240517), case)
    from regdiag.linear.rlm_s import lqs_s_estimate

    fit_r = regdiag.rlm(formula, data=_data(data), method="MM", r_seed=20240517)
    s = lqs_s_estimate(fit_r.design.X, fit_r.design.y, r_seed=20240517)
    assert not s.exhaustive and s.n_singular == sc["singular"]
    assert list(s.best_subset + 1) == list(_vec(case, "s_best_subset").astype(int))


def test_r_uniforms_are_rs_runif_after_set_seed():
    from regdiag.linear.rlm_s import r_uniforms

    ref = pd.read_csv(REF / "data" / "runif_20240517.csv", index_col=0).iloc[:, 0].to_numpy()
    np.testing.assert_array_equal(r_uniforms(20240517, 10), ref)


def test_mm_init_coefficients_alone_are_solved_and_refined_as_lqs_does():
    # phones: lqs's best subset fit, given alone, gives back lqs's refined start (its crit is solved from the MAD
    # start rather than from the previous best scale, so agreement is to lqs's 1e-5 refinement tolerance)
    case = "phones_mm"
    fit = regdiag.rlm("calls ~ year", data=_data("phones"), method="MM",
                      init=_vec(case, "s_coefficients").to_numpy())
    _check_mm(fit, case, tol=1e-5)


def test_s_estimate_is_equivariant_and_rejects_bad_input():
    from regdiag.linear.rlm_s import lqs_s_estimate

    d = _data("phones")
    X = np.column_stack([np.ones(len(d)), d["year"]])
    y = d["calls"].to_numpy()
    s = lqs_s_estimate(X, y)
    s2 = lqs_s_estimate(X, 3.0 * y + X @ np.array([1.0, -2.0]))
    np.testing.assert_allclose(s2.coef, 3.0 * s.coef + np.array([1.0, -2.0]), rtol=1e-9, atol=1e-9)
    assert abs(s2.scale / s.scale - 3.0) < 1e-9
    with pytest.raises(regdiag.DesignError, match="singular"):
        lqs_s_estimate(np.column_stack([np.ones(5), np.ones(5)]), np.arange(5.0))
    with pytest.raises(ValueError, match="nsamp"):
        lqs_s_estimate(X, y, nsamp="many")
    with pytest.raises(ValueError, match="S-scale"):
        regdiag.rlm("calls ~ year", data=d, method="MM", init=(s.coef, -1.0))


@pytest.mark.parametrize("case", ["phones_huber", "phones_bisquare", "phones_huber_proposal2", "hills_hampel",
                                  "animals_huber"])
def test_exact_deletion_equals_brute_force_refits(case):
    formula, data, kw = CASES[case]
    fit = regdiag.rlm(formula, data=_data(data), **kw)
    infl = fit.influence()
    dfb, scales = brute_force_loo(fit)
    se = fit.bse.to_numpy()
    assert np.max(np.abs(infl.dfbeta - dfb) / se) < 1e-8
    np.testing.assert_allclose(infl.sigma_loo, scales, rtol=1e-8, atol=0)
    bound = infl.loo_error_bound
    assert np.all((bound <= 1e-10) | np.isnan(bound))
    # the one-step (scale fixed) estimate and its error, reported per row
    np.testing.assert_allclose(infl.one_step_error, np.max(np.abs(infl.dfbeta_one_step - dfb) / se, axis=1),
                               rtol=1e-6, atol=1e-9)


def test_exact_deletion_larger_n_with_band_median():
    # n = 400: the deleted fits' medians come from the band of candidates (the proof of the band checked)
    rng = np.random.default_rng(3)
    n = 400
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    y = X @ np.array([1.0, 2.0, -1.0]) + rng.standard_t(2, size=n)
    fit = regdiag.rlm(y, X)
    infl = fit.influence()
    rows = rng.choice(n, 25, replace=False)
    se = fit.bse.to_numpy()
    for i in rows:
        keep = np.arange(n) != i
        ref = regdiag.rlm(y[keep], X[keep], init=fit.coef)
        assert np.max(np.abs(fit.coef - infl.dfbeta[i] - ref.coef) / se) < 1e-8
        assert abs(infl.sigma_loo[i] - ref.scale) / ref.scale < 1e-8


def test_huber_influence_is_bounded_by_psi():
    # pushing an outlier further out changes nothing: its pull is capped at psi = k
    df = regdiag.datasets.load("stackloss")
    f1 = regdiag.rlm("stack_loss ~ Air_Flow + Water_Temp + Acid_Conc", data=df)
    i1 = f1.influence()
    out = int(np.argmax(np.abs(i1.scaled_resid)))
    assert i1.psi_bounded[out]
    df2 = df.copy()
    df2.iloc[out, df2.columns.get_loc("stack_loss")] += 100.0 * np.sign(i1.scaled_resid[out])
    f2 = regdiag.rlm("stack_loss ~ Air_Flow + Water_Temp + Acid_Conc", data=df2)
    np.testing.assert_allclose(f2.coef, f1.coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(f2.influence().dfbeta[out], i1.dfbeta[out], rtol=1e-8, atol=1e-12)
    # ... while OLS lets it dominate
    rob = f2.robustness()
    assert rob["ols_dominant"].iloc[out]
    rob1 = f1.robustness(i1)
    assert rob["dfbetas_ols"].iloc[out] > 10 * rob["dfbetas_rlm"].iloc[out]
    assert rob["cooks_ols"].iloc[out] > 2 * rob1["cooks_ols"].iloc[out]  # OLS: grows with the residual
    np.testing.assert_allclose(rob["cooks_rlm"].iloc[out], rob1["cooks_rlm"].iloc[out], rtol=1e-8)  # robust: capped
    assert (rob["tamed"] == (rob["ols_dominant"] & ~(rob["cooks_rlm"] > rob.attrs["cutoff"]))).all()


def test_statsmodels_rlm_results_are_accepted():
    import statsmodels.api as sm

    df = _data("hills")
    X = sm.add_constant(df[["dist", "climb"]])
    for norm, name in ((sm.robust.norms.HuberT(), "huber"), (sm.robust.norms.TukeyBiweight(), "bisquare"),
                       (sm.robust.norms.Hampel(), "hampel")):
        res = sm.RLM(df["time"], X, M=norm).fit(tol=1e-13, maxiter=2000)
        infl = regdiag.influence(res)
        fit = infl.fit
        assert fit.psi.name == name
        np.testing.assert_allclose(fit.coef, res.params, rtol=1e-7)
        np.testing.assert_allclose(fit.scale, res.scale, rtol=1e-7)
        np.testing.assert_allclose(fit.weights, res.weights, rtol=0, atol=1e-7)
        assert list(infl.index) == list(df.index)


def test_bad_input_names_the_problem():
    df = _data("phones")
    with pytest.raises(ValueError, match="psi="):
        regdiag.rlm("calls ~ year", data=df, psi="cauchy")
    with pytest.raises(ValueError, match="scale="):
        regdiag.rlm("calls ~ year", data=df, scale="iqr")
    with pytest.raises(ValueError, match="tuning constants"):
        regdiag.rlm("calls ~ year", data=df, psi="hampel", k=(4, 2, 8))
    df2 = df.assign(year2=2 * df["year"])
    with pytest.raises(regdiag.DesignError, match="year2"):
        regdiag.rlm("calls ~ year + year2", data=df2)
    with pytest.raises(ValueError, match="loo="):
        regdiag.rlm("calls ~ year", data=df).influence(loo="approx")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), a=st.floats(0.1, 10), psi=st.sampled_from(["huber", "bisquare", "hampel"]))
def test_equivariance_and_permutation(seed, a, psi):
    rng = np.random.default_rng(seed)
    n = 40
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    y = X @ rng.normal(size=3) + rng.standard_t(3, size=n)
    c = rng.normal(size=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = regdiag.rlm(y, X, psi=psi)
        g = regdiag.rlm(a * y + X @ c, X, psi=psi)  # regression and scale equivariance
        perm = rng.permutation(n)
        q = regdiag.rlm(y[perm], X[perm], psi=psi)
    scale = np.max(np.abs(f.coef)) + 1
    np.testing.assert_allclose(g.coef, a * f.coef + c, rtol=1e-7, atol=1e-7 * a * scale)
    np.testing.assert_allclose(g.scale, a * f.scale, rtol=1e-7)
    np.testing.assert_allclose(q.coef, f.coef, rtol=1e-7, atol=1e-9 * scale)
    fi, gi = f.influence(loo="one-step"), g.influence(loo="one-step")
    np.testing.assert_allclose(gi.leverage, fi.leverage, atol=1e-7)
    np.testing.assert_allclose(gi.dfbetas, fi.dfbetas, atol=1e-6)
    h = fi.leverage
    assert np.all((h >= 0) & (h <= 1))
    np.testing.assert_allclose(h.sum(), 3.0, rtol=1e-10)


def test_psi_functions_match_their_definitions():
    u = np.linspace(-10, 10, 2001)
    hub = psi_function("huber")
    np.testing.assert_allclose(hub.psi(u), np.clip(u, -1.345, 1.345))
    for p in (psi_function("bisquare"), psi_function("hampel"), hub):
        np.testing.assert_allclose(p.psi(u), u * p.weight(u), atol=1e-14)
        # derivative against central differences away from the kinks
        du = 1e-6
        num = (p.psi(u + du) - p.psi(u - du)) / (2 * du)
        smooth = np.ones_like(u, dtype=bool)
        for kink in p.constants:
            smooth &= np.abs(np.abs(u) - kink) > 1e-3
        np.testing.assert_allclose(p.deriv(u)[smooth], num[smooth], atol=1e-6)


@pytest.mark.parametrize("psi", ["huber", "bisquare"])
def test_engine_exact_curvature_equals_the_one_step_deletion(psi):
    # l_i = s^2 rho(r_i / s), scale held: the engine's Newton step with the leverage correction is the one-step
    # deletion, and without it (1 - h*_i) times that
    fit = regdiag.rlm("time ~ dist + climb", data=_data("hills"), psi=psi)
    table = regdiag.cross_check(fit, curvatures=["exact"], solvers=["direct"])
    assert table["agrees"].all(), table.to_string()
    assert table["param_influence"].max() < 1e-10


def test_exact_deletion_mm_with_the_s_scale_held():
    # MM: the M step's scale is the S-estimate's, held when a row is deleted (re-running the S search is not part
    # of the deletion); exact deletion equals refits of the M step
    case = "hills_mm"
    sc = _vec(case, "scalars")
    start = (_vec(case, "s_refined_coefficients").to_numpy(), float(sc["s_scale"]))
    fit = regdiag.rlm("time ~ dist + climb", data=_data("hills"), method="MM", init=start)
    infl = fit.influence()
    dfb, scales = brute_force_loo(fit)
    assert np.max(np.abs(infl.dfbeta - dfb) / fit.bse.to_numpy()) < 1e-8
    assert np.all(infl.sigma_loo == fit.scale) and np.all(scales == fit.scale)


WEIGHTED = {  # rlm(weights = w) with wt.method "inv.var" (default) or "case"
    "phones_huber_invvar": ("calls ~ year", "phones_w", {}),
    "phones_bisquare_case": ("calls ~ year", "phones_w", {"wt_method": "case", "psi": "bisquare"}),
    "hills_huber_case_proposal2": ("time ~ dist + climb", "hills_w", {"wt_method": "case", "scale": "Huber"}),
    "hills_huber_case": ("time ~ dist + climb", "hills_w", {"wt_method": "case"}),
    "phones_mm_invvar": ("calls ~ year", "phones_w", {"method": "MM"}),
    "phones_mm_case": ("calls ~ year", "phones_w", {"method": "MM", "wt_method": "case"}),
}


@pytest.mark.parametrize("case", list(WEIGHTED))
def test_prior_weights_match_mass_rlm(case):
    formula, data, kw = WEIGHTED[case]
    fit = regdiag.rlm(formula, data=_data(data), weights="w", **kw)
    sc = _vec(case, "scalars")
    assert sc["converged"] == 1
    assert _rel(fit.coef, _vec(case, "coefficients")) < 1e-8
    assert _rel(fit.bse, _vec(case, "se")) < 1e-8
    assert abs(fit.scale - sc["scale"]) / sc["scale"] < 1e-8
    assert abs(fit.stddev - sc["stddev"]) / sc["stddev"] < 1e-8
    np.testing.assert_allclose(fit.weights, _vec(case, "weights"), rtol=0, atol=1e-8)
    for mine, theirs in ((fit.resid, _vec(case, "residuals")), (fit._resid, _vec(case, "wresid"))):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-8 * float(np.max(np.abs(theirs))))
    np.testing.assert_allclose(fit.influence(loo="one-step").leverage, _vec(case, "hat"), rtol=0, atol=1e-8)


def test_integer_case_weights_equal_repeated_rows():
    d = _data("hills_w")
    fit = regdiag.rlm("time ~ dist + climb", data=d, weights="w", wt_method="case")
    rep = d.loc[d.index.repeat(d["w"].astype(int))].reset_index(drop=True)
    dup = regdiag.rlm("time ~ dist + climb", data=rep)
    assert _rel(fit.coef, dup.coef) < 1e-10
    assert abs(fit.scale / dup.scale - 1) < 1e-10
    assert _rel(fit.bse, dup.bse) < 1e-10


def test_weighted_exact_deletion_equals_refits():
    # inverse-variance weights: the batched exact deletion of the scaled rows against IRLS refits
    d = _data("phones_w")
    fit = regdiag.rlm("calls ~ year", data=d, weights="w")
    infl = fit.influence()
    dfb, scales = brute_force_loo(fit)
    assert np.max(np.abs(infl.dfbeta - dfb) / fit.bse.to_numpy()) < 1e-8
    np.testing.assert_allclose(infl.sigma_loo, scales, rtol=1e-8, atol=0)
    # case weights: each deletion refitted (independently checked: a weight-2 row deleted = both copies deleted)
    d = _data("hills_w")
    fit = regdiag.rlm("time ~ dist + climb", data=d, weights="w", wt_method="case")
    infl = fit.influence()
    i = int(np.flatnonzero(d["w"].to_numpy() == 2)[0])
    rest = d.drop(index=d.index[i])
    ref = regdiag.rlm("time ~ dist + climb", data=rest.loc[rest.index.repeat(rest["w"].astype(int))])
    assert np.max(np.abs((fit.coef - ref.coef) - infl.dfbeta[i]) / fit.bse.to_numpy()) < 1e-8


@pytest.mark.parametrize("kw", [{}, {"psi": "bisquare"}, {"weights": "w", "wt_method": "case"}])
def test_robust_covratio_equals_the_deleted_fits_covariance(kw):
    d = _data("hills_w")
    fit = regdiag.rlm("time ~ dist + climb", data=d, **kw)
    infl = fit.influence()
    det = np.linalg.det(fit.cov_params().to_numpy())
    for i in (0, 6, 17, 30):  # 6, 17: Bens of Jura and Knock Hill, the outliers
        # the deleted fit is the fixed point reached from the full fit (without Knock Hill, the case-weighted MAD
        # iteration has a second one, s = 7.21 instead of 5.46, reached from least squares)
        sub = regdiag.rlm("time ~ dist + climb", data=d.drop(index=d.index[i]), init=fit.coef, **kw)
        ratio = np.linalg.det(sub.cov_params().to_numpy()) / det
        assert abs(infl.cov_ratio[i] / ratio - 1) < 1e-7, (i, infl.cov_ratio[i], ratio)


def test_prior_weights_bad_input():
    d = _data("phones_w").assign(w=lambda f: f["w"].where(f.index != f.index[2], -1.0))
    with pytest.raises(regdiag.RegdiagError):
        regdiag.rlm("calls ~ year", data=d, weights="w")
    with pytest.raises(ValueError, match="wt_method"):
        regdiag.rlm("calls ~ year", data=_data("phones_w"), weights="w", wt_method="freq")


@pytest.mark.parametrize("case,formula,data,size,kw", [
    ("hills_huber_groups", "time ~ dist + climb", "hills", 5, {}),
    ("phones_huber_groups", "calls ~ year", "phones", 4, {}),
    ("phones_bisquare_groups", "calls ~ year", "phones", 4, {"psi": "bisquare"}),
])
def test_group_deletion_equals_mass_refits(case, formula, data, size, kw):
    d = _data(data)
    fit = regdiag.rlm(formula, data=d, **kw)
    groups = np.arange(len(d)) // size + 1
    g = fit.group_deletion(groups)
    ref = pd.read_csv(REF / case / "loo_group.csv", index_col=0)
    ours = pd.DataFrame(g.loo_params, index=g.groups.astype(int)).loc[ref.index.astype(int)].to_numpy()
    assert np.max(np.abs(ours - ref.iloc[:, :-1].to_numpy()) / fit.bse.to_numpy()) < 1e-8
    np.testing.assert_allclose(pd.Series(g.sigma_loo, index=g.groups.astype(int)).loc[ref.index.astype(int)],
                               ref["scale"], rtol=1e-8)
    # one-row groups are the exact leave-one-out
    single = fit.group_deletion(np.arange(len(d)))
    np.testing.assert_allclose(single.dfbeta, fit.influence().dfbeta, rtol=0,
                               atol=1e-8 * float(np.max(fit.bse.to_numpy())))


@pytest.mark.parametrize("kw", [{}, {"scale": "Huber"}, {"k": 2.0}])
def test_batched_group_deletion_equals_irls_refits(kw):
    from regdiag.linear.deletion import resolve_groups
    from regdiag.linear.rlm import _batched_group_deletion, _irls

    d = _data("hills")
    fit = regdiag.rlm("time ~ dist + climb", data=d, **kw)
    for size in (2, 5):
        _, members = resolve_groups(fit.index, np.arange(len(d)) // size)
        dfb, scales, settled = _batched_group_deletion(fit, members)
        assert settled.any()  # the rest are refitted by group_deletion
        for g in np.flatnonzero(settled):
            keep = np.ones(len(d), dtype=bool)
            keep[members[g]] = False
            coef, s_g, *_ = _irls(fit.X_fitted[keep], fit._y[keep], fit.psi, fit.scale_spec, fit.coef.copy(), fit.scale,
                                  acc=1e-15, maxit=20000)
            assert np.max(np.abs(dfb[g] - (fit.coef - coef)) / fit.bse.to_numpy()) < 1e-9
            assert abs(scales[g] / s_g - 1) < 1e-9


def test_summary_names_the_rows_dropped_for_missing_values():
    df = regdiag.datasets.load("stackloss").astype(float)
    df.iloc[4, 1] = np.nan
    fit = regdiag.rlm("stack_loss ~ Air_Flow + Water_Temp + Acid_Conc", data=df)
    assert fit.nobs == len(df) - 1
    assert f"dropped for missing values: 1 row(s) ({df.index[4]!r})" in fit.summary()


def test_redescending_deletions_are_r_refits_from_the_full_fit_or_nan_with_a_warning():
    """Hampel's psi on Animals: each deleted fit is IRLS from the full fit (R's rlm(init = coef(fit)); the chord
    steps reached other roots for some rows). Where R's IRLS converges regdiag's equals it; where it cycles between
    two roots (R's does too), the row's deletion measures are NaN and one warning names the rows."""
    ref = pd.read_csv(REF / "animals_hampel_loo" / "loo_refits.csv", index_col=0)
    fit = regdiag.rlm("log_brain ~ log_body", data=_data("animals"), psi="hampel")
    with pytest.warns(regdiag.InfluenceWarning, match="IRLS without the row did not converge") as rec:
        infl = fit.influence()
    assert len([w for w in rec if "IRLS without the row" in str(w.message)]) == 1
    loo = pd.DataFrame(infl.loo_params, index=fit.index, columns=list(ref.columns[:2]))
    ok = ref["converged"] == 1
    np.testing.assert_allclose(loo[ok], ref.loc[ok, ref.columns[:2]], rtol=1e-8)
    np.testing.assert_allclose(infl.sigma_loo[ok.to_numpy()], ref.loc[ok, "scale"], rtol=1e-8)
    nan = loo.isna().any(axis=1)
    assert nan.any() and set(loo.index[nan]) <= set(ref.index[~ok])
    assert np.isnan(infl.cooks_distance[nan.to_numpy()]).all()
    with pytest.warns(regdiag.InfluenceWarning, match="IRLS without the group did not converge"):
        groups = fit.group_deletion({r: [r] for r in fit.index})
    np.testing.assert_allclose(groups.loo_params, infl.loo_params, rtol=1e-12)
