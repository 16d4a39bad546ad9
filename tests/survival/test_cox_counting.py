"""Counting-process data (Surv(start, stop, event)), offsets and clusters against survival::coxph, and their exact
deletion (rows and whole clusters) against refits.

R values: tests/reference/R/make_coxph_counting_reference.R (tests/reference/coxph_counting/).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag import DataError
from regdiag.survival.cox_exact import exact_loo, exact_loo_by_refits

REF = Path(__file__).resolve().parents[1] / "reference" / "coxph_counting"

CASES = {
    "heart_efron_cluster": ("Surv(start, stop, event) ~ age + year + surgery + transplant + cluster(id)", "heart",
                            "efron"),
    "heart_breslow_strata": ("Surv(start, stop, event) ~ age + year + transplant + strata(surgery)", "heart",
                             "breslow"),
    "ovarian_offset_efron": ("Surv(futime, fustat) ~ ecog_ps + rx + offset(off)", "ovarian", "efron"),
    "lung_cluster_efron": ("Surv(time, status) ~ age + sex + ph_ecog + cluster(inst)", "lung", "efron"),
}


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / "data" / f"{name}.csv", index_col=0)


def _ref(case: str, what: str) -> pd.DataFrame:
    return pd.read_csv(REF / case / f"{what}.csv", index_col=0)


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _fit(case: str) -> regdiag.survival.cox.CoxFit:
    formula, data, ties = CASES[case]
    return regdiag.coxph(formula, _data(data), ties=ties)


@pytest.mark.parametrize("case", list(CASES))
def test_matches_survival_coxph(case):
    fit = _fit(case)
    sc = _ref(case, "scalars").iloc[:, 0]
    assert _rel(fit.coef, _ref(case, "coefficients").iloc[:, 0]) < 1e-8
    assert _rel(fit.cov, _ref(case, "naive_var")) < 1e-8
    assert abs(fit.loglik - sc["loglik"]) < 1e-8 * abs(sc["loglik"])
    assert abs(fit.loglik_null - sc["loglik_null"]) < 1e-8 * abs(sc["loglik_null"])
    assert fit.n_events == sc["nevent"] and fit.n_obs == sc["n"]
    np.testing.assert_allclose(fit.resid_martingale, _ref(case, "martingale").iloc[:, 0], rtol=0, atol=1e-8)
    assert _rel(fit.resid_score, _ref(case, "score")) < 1e-8
    assert _rel(fit.dfbeta, _ref(case, "dfbeta")) < 1e-7
    assert _rel(fit.dfbetas, _ref(case, "dfbetas")) < 1e-7
    if (REF / case / "robust_var.csv").exists():  # cluster(): R's fit$var is the clustered sandwich
        assert _rel(fit.cov_robust, _ref(case, "robust_var")) < 1e-8
        np.testing.assert_allclose(fit.bse_robust, np.sqrt(np.diag(_ref(case, "robust_var"))), rtol=1e-8, atol=0)


@pytest.mark.parametrize("case", ["heart_efron_cluster", "lung_cluster_efron"])
def test_cluster_deletion_equals_r_refits(case):
    # deleting a subject (all its rows) of counting-process data, or an institution: R refitted without each
    fit = _fit(case)
    g = fit.group_deletion()
    loo = _ref(case, "loo_cluster_coefficients")
    ours = pd.DataFrame(g.loo_params, index=g.groups.astype(str)).loc[loo.index.astype(str)]
    assert np.max(np.abs(ours.to_numpy() - loo.to_numpy()) / fit.bse) < 1e-8
    np.testing.assert_allclose(g.dfbeta, fit.coef - g.loo_params, rtol=0, atol=1e-15)
    sizes = pd.Series(fit.design.cluster).value_counts().sort_index().to_numpy()
    assert sorted(g.size.tolist()) == sorted(sizes.tolist())


def test_counting_process_exact_loo_equals_brute_force_refits():
    fit = _fit("heart_breslow_strata")
    infl = fit.influence()
    assert infl.method == "coxph-exact"
    rows = np.arange(0, fit.n_obs, 7)
    for i in rows:
        keep = np.ones(fit.n_obs, dtype=bool)
        keep[i] = False
        ref = fit.refit(keep)  # from zero, not from the full fit
        assert np.max(np.abs((fit.coef - ref.coef) - infl.dfbeta_exact[i]) / fit.bse) < 1e-8


def test_refit_route_equals_the_batched_route_on_right_censored_data():
    # two independent exact routes on a design both cover: batched chord iterations and Newton refits
    fit = regdiag.coxph("Surv(time, status) ~ age + sex + ph_ecog", _data("lung"))
    a = exact_loo(fit)
    b = exact_loo_by_refits(fit)
    assert np.max(np.abs(a.dfbeta - b.dfbeta) / fit.bse) < 1e-8
    assert b.converged.all() and np.nanmax(b.error_bound) < 1e-8


def test_splitting_follow_up_into_intervals_changes_nothing():
    # a right-censored row is the same as its follow-up cut into (0, c] and (c, t] with the same covariates
    d = _data("lung").reset_index(drop=True)
    one = regdiag.coxph("Surv(time, status) ~ age + sex + ph_ecog", d)
    cut = np.floor(d["time"] / 2.0)
    first = d.assign(start=0.0, stop=cut, status=1).loc[cut > 0]  # status coded 1/2: censored at the cut
    second = d.assign(start=cut, stop=d["time"])
    split = pd.concat([first, second], ignore_index=True)
    two = regdiag.coxph("Surv(start, stop, status) ~ age + sex + ph_ecog", split)
    assert _rel(two.coef, one.coef) < 1e-10 and _rel(two.cov, one.cov) < 1e-10
    assert abs(two.loglik - one.loglik) < 1e-10 * abs(one.loglik)
    # per subject: the split rows' dfbeta residuals add up to the original row's
    ids = np.r_[np.flatnonzero(cut > 0), np.arange(len(d))]
    summed = pd.DataFrame(two.dfbeta).groupby(ids).sum().to_numpy()
    assert _rel(summed, one.dfbeta) < 1e-9


def test_offset_equals_a_fixed_coefficient():
    # offset(o) is a covariate with its coefficient held at 1: the other coefficients maximise the same likelihood
    d = _data("ovarian")
    fit = regdiag.coxph("Surv(futime, fustat) ~ ecog_ps + rx + offset(off)", d)
    free = regdiag.coxph("Surv(futime, fustat) ~ ecog_ps + rx + off", d)
    assert not np.allclose(free.coef[:2], fit.coef)
    shifted = regdiag.coxph("Surv(futime, fustat) ~ ecog_ps + rx + offset(2 * off)", d.assign(off=d["off"] / 2))
    assert _rel(shifted.coef, fit.coef) < 1e-12


def test_cluster_argument_and_bad_input():
    d = _data("heart")
    a = regdiag.coxph("Surv(start, stop, event) ~ age + year + surgery + transplant + cluster(id)", d)
    b = regdiag.coxph("Surv(start, stop, event) ~ age + year + surgery + transplant", d, cluster="id")
    np.testing.assert_array_equal(a.cov_robust, b.cov_robust)
    with pytest.raises(DataError, match="do not also pass cluster"):
        regdiag.coxph("Surv(start, stop, event) ~ age + cluster(id)", d, cluster="id")
    bad = d.copy()
    bad.loc[bad.index[3], "start"] = bad.loc[bad.index[3], "stop"]
    with pytest.raises(DataError, match=r"start < stop.*\b4\b"):
        regdiag.coxph("Surv(start, stop, event) ~ age", bad)
    with pytest.raises(ValueError, match="cluster"):
        regdiag.coxph("Surv(start, stop, event) ~ age", d).group_deletion()


def test_tt_and_exact_ties_are_refused_clearly():
    d = _data("ovarian")
    with pytest.raises(DataError, match=r"tt\(\) .* not supported"):
        regdiag.coxph("Surv(futime, fustat) ~ tt(age) + rx", d)
    with pytest.raises(ValueError, match=r"'exact' .* not supported"):
        regdiag.coxph("Surv(futime, fustat) ~ age + rx", d, ties="exact")


def test_statsmodels_phreg_with_an_offset():
    from statsmodels.duration.hazard_regression import PHReg

    d = _data("ovarian")
    res = PHReg(d["futime"], d[["ecog_ps", "rx"]], status=d["fustat"], offset=d["off"], ties="efron").fit()
    fit = regdiag.survival.cox.coxph_from_statsmodels(res)
    assert fit.design.offset is not None
    assert _rel(fit.coef, _ref("ovarian_offset_efron", "coefficients").iloc[:, 0]) < 1e-8
    np.testing.assert_allclose(fit.coef, res.params, rtol=1e-6)
    t = regdiag.compare(res).table
    assert t.loc[["coefficients", "standard_errors", "loglik", "dfbeta"], "agree"].all()
    assert bool(t.loc["martingale", "explained"])  # statsmodels' lagged cumulative hazard, offset included
    with pytest.raises(DataError, match="counting-process"):
        regdiag.compare(_fit("heart_breslow_strata"))


@pytest.mark.parametrize("formula,kw", [
    ("Surv(time, status) ~ trt + karno + diagtime + age + prior", {"weights": "w"}),
    ("Surv(time, status) ~ karno + age + prior + strata(trt, celltype)", {}),
    ("Surv(time, status) ~ trt + karno + age", {"weights": "w", "ties": "breslow"}),
])
def test_batched_group_deletion_equals_refits(formula, kw):
    # groups of rows with nearby times (so whole blocks of tied deaths go at once) and random groups: the batched
    # chord route against Newton refits without each group
    from regdiag.linear.deletion import resolve_groups
    from regdiag.survival.cox_exact import _batched_group_deletions, _deletions

    vet = pd.read_csv(REF.parent / "coxph" / "data" / "veteran.csv", index_col="row")
    fit = regdiag.coxph(formula, vet, **kw)
    rng = np.random.default_rng(5)
    for groups in (vet["time"].rank(method="dense").to_numpy() // 3, rng.integers(0, 15, fit.n_obs)):
        _, members = resolve_groups(fit.index, groups)
        a = _batched_group_deletions(fit, members, 1e-10)
        b = _deletions(fit, members, 1e-10)
        assert a[3].all() and not a[4]
        assert np.max(np.abs(a[0] - b[0]) / fit.bse) < 1e-9
    # one-row groups: the batched leave-one-out
    g = fit.group_deletion(np.arange(fit.n_obs))
    assert np.max(np.abs(g.dfbeta - fit.influence().dfbeta_exact) / fit.bse) < 1e-9
