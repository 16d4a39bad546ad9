"""Exact leave-one-out of Cox models against brute-force refits (regdiag.testing's event-by-event likelihood)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from regdiag import InfluenceWarning
from regdiag.survival import coxph, coxph_arrays
from regdiag.survival.cox_exact import unidentifiable_deletions
from regdiag.testing import cox_loo_refit_naive, cox_naive, cox_refit_naive


def _data(seed: int, n: int = 36, p: int = 3, n_strata: int = 1, tied: bool = True):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    X[:, -1] = rng.integers(0, 2, n)  # a binary covariate
    beta = rng.normal(0, 0.6, p)
    t = rng.exponential(np.exp(-X @ beta))
    c = rng.exponential(2.0 * np.median(t), n)
    time = np.minimum(t, c)
    if tied:
        time = np.ceil(time * 4)  # coarse times: many ties among events and censorings
    status = (t <= c).astype(float)
    strata = rng.integers(0, n_strata, n)
    return time, status, X, strata


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("seed, n_strata", [(1, 1), (2, 2), (3, 3)])
def test_exact_loo_equals_refits(ties, seed, n_strata):
    time, status, X, strata = _data(seed, n_strata=n_strata)
    fit = coxph_arrays(time, status, X, strata if n_strata > 1 else None, ties=ties)
    ll, _U, info = cox_naive(fit.coef, time, status, X, strata if n_strata > 1 else None, ties)
    assert fit.loglik == pytest.approx(ll, rel=1e-12)
    np.testing.assert_allclose(fit.information, info, rtol=1e-10, atol=1e-10 * np.abs(info).max())
    ref = cox_loo_refit_naive(time, status, X, strata if n_strata > 1 else None, ties, start=fit.coef)
    infl = fit.influence()
    assert infl.loo_converged.all()
    err = np.abs(infl.dfbeta_exact - (fit.coef - ref)) / fit.bse
    assert err.max() < 1e-9
    # the reported error estimates are small, and the one-step approximation differs from the exact change
    assert np.nanmax(infl.loo_error) < 1e-9
    assert np.max(infl.one_step_error) > 1e-4


def test_full_fit_equals_naive_maximum():
    time, status, X, strata = _data(7, n=50, n_strata=2)
    for ties in ("efron", "breslow"):
        fit = coxph_arrays(time, status, X, strata, ties=ties)
        ref = cox_refit_naive(time, status, X, strata, ties)
        np.testing.assert_allclose(fit.coef, ref, rtol=1e-10, atol=1e-12)


def test_deletion_without_finite_maximum_is_nan_with_warning():
    """x = 1 for two rows: an early event and a late censoring. Without the censored row, the event is the only
    x = 1 row of every risk set it is in, so the partial likelihood increases without bound in beta_x; without the
    event, no x = 1 row ever dies and it decreases without bound."""
    rng = np.random.default_rng(5)
    n = 30
    time = np.arange(1.0, n + 1)
    status = np.ones(n)
    status[-1] = 0.0
    x = np.zeros(n)
    x[[0, n - 1]] = 1.0
    z = rng.standard_normal(n)
    df = pd.DataFrame({"time": time, "status": status, "x": x, "z": z}, index=[f"r{i}" for i in range(n)])
    fit = coxph("Surv(time, status) ~ x + z", df)
    with pytest.warns(InfluenceWarning, match="no finite maximum.*'r0', 'r29'"):
        infl = fit.influence()
    assert np.isnan(infl.dfbeta_exact[[0, -1]]).all()
    assert not infl.loo_converged[[0, -1]].any()
    others = np.ones(n, dtype=bool)
    others[[0, -1]] = False
    assert infl.loo_converged[others].all() and np.isfinite(infl.dfbeta_exact[others]).all()


def test_deletion_without_finite_maximum_counting_process_route():
    """The same data as ``(start, stop]`` intervals from 0: the deletions run by refits, the same rows fail and are
    named, for rows and for groups of rows."""
    rng = np.random.default_rng(5)
    n = 30
    x = np.zeros(n)
    x[[0, n - 1]] = 1.0
    status = np.ones(n)
    status[-1] = 0.0
    df = pd.DataFrame({"start": np.zeros(n), "time": np.arange(1.0, n + 1), "status": status, "x": x,
                       "z": rng.standard_normal(n)}, index=[f"r{i}" for i in range(n)])
    fit = coxph("Surv(start, time, status) ~ x + z", df)
    with pytest.warns(InfluenceWarning, match="no finite maximum.*'r0', 'r29'"):
        infl = fit.influence()
    assert np.isnan(infl.dfbeta_exact[[0, -1]]).all()
    groups = np.repeat(np.arange(n // 2), 2)  # r0 with r1, r28 with r29
    with pytest.warns(InfluenceWarning, match="no finite maximum"):
        gi = fit.group_deletion(groups)
    dfbeta = np.asarray(gi.dfbeta)
    assert np.isnan(dfbeta[[0, -1]]).all() and np.isfinite(dfbeta[1:-1]).all()


def test_slow_contraction_falls_back_to_refit():
    """A row whose deletion moves the fit by several standard errors: the chord iteration is slow or fails, and
    the refit gives the exact value."""
    time, status, X, _ = _data(11, n=25, tied=False)
    X = X.copy()
    X[:, 2] = np.random.default_rng(12).standard_normal(25)  # continuous: no deletion leaves a monotone likelihood
    X[0] = [6.0, -5.0, 4.0]  # a far outlier that dies first
    time = time.copy()
    status = status.copy()
    time[0], status[0] = time.min() / 2, 1.0
    fit = coxph_arrays(time, status, X, ties="efron")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InfluenceWarning)
        infl = fit.influence()
    ref = cox_loo_refit_naive(time, status, X, None, "efron", start=fit.coef)
    assert np.isfinite(ref).all()
    err = np.abs(infl.dfbeta_exact - (fit.coef - ref)) / fit.bse
    assert err.max() < 1e-9
    assert infl.loo_converged.all()
    assert np.max(np.abs(infl.dfbetas[0])) > 1.0  # the outlier moves a coefficient by more than its standard error


def test_deleting_the_only_event_of_a_stratum():
    """Strata with one event and with one row: deleting that event leaves a stratum without events (it then
    contributes nothing); deleting a lone row removes its stratum."""
    time, status, X, _ = _data(21, n=40, tied=True)
    strata = np.repeat([0, 1, 2], [30, 9, 1])
    status = status.copy()
    status[30:39] = 0.0
    status[33] = 1.0  # the only event of stratum 1
    for ties in ("efron", "breslow"):
        fit = coxph_arrays(time, status, X, strata, ties=ties)
        infl = fit.influence()
        ref = cox_loo_refit_naive(time, status, X, strata, ties, start=fit.coef)
        ok = np.isfinite(ref).all(axis=1)
        assert ok[[33, 39]].all()
        err = np.abs(infl.dfbeta_exact[ok] - (fit.coef - ref[ok])) / fit.bse
        assert err.max() < 1e-9
        # the lone row of stratum 2 shares no risk set with another row: deleting it changes nothing
        assert np.abs(infl.dfbeta_exact[39]).max() < 1e-12 * fit.bse.max()


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_weighted_exact_loo_equals_refits(ties):
    time, status, X, strata = _data(31, n=34, n_strata=2)
    w = np.random.default_rng(32).uniform(0.3, 3.0, len(time))
    fit = coxph_arrays(time, status, X, strata, ties=ties, weights=w)
    ll, _U, info = cox_naive(fit.coef, time, status, X, strata, ties, w)
    assert fit.loglik == pytest.approx(ll, rel=1e-12)
    np.testing.assert_allclose(fit.information, info, rtol=1e-10, atol=1e-10 * np.abs(info).max())
    # the weighted score residuals sum to the score, 0 at the fit
    assert np.abs(w @ fit.resid_score).max() < 1e-9 * np.abs(w[:, None] * fit.resid_score).sum(axis=0).max()
    ref = cox_loo_refit_naive(time, status, X, strata, ties, start=fit.coef, weights=w)
    infl = fit.influence()
    err = np.abs(infl.dfbeta_exact - (fit.coef - ref)) / fit.bse
    assert err.max() < 1e-9


def test_integer_weights_equal_repeated_rows_breslow():
    """With Breslow's ties a row of weight k is k copies of the row (with Efron's, copies of a death are tied
    deaths, which Efron's approximation treats differently)."""
    time, status, X, _ = _data(41, n=25)
    k = np.random.default_rng(42).integers(1, 4, len(time))
    a = coxph_arrays(time, status, X, ties="breslow", weights=k.astype(float))
    rep = np.repeat(np.arange(len(time)), k)
    b = coxph_arrays(time[rep], status[rep], X[rep], ties="breslow")
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.cov, b.cov, rtol=1e-9, atol=1e-12)
    assert a.loglik == pytest.approx(b.loglik, rel=1e-12)
    # a weight-k row's martingale residual is its copies' residual
    np.testing.assert_allclose(b.resid_martingale, a.resid_martingale[rep], rtol=1e-10, atol=1e-12)


def test_deleting_the_only_row_of_a_level_is_nan_with_a_warning():
    """lung's one patient with ph.ecog = 3: without it the level's coefficient is not estimable (R's coxph drops
    it), so its exact deletion is NaN with a warning naming it, as leverage 1 is for least squares; the other rows
    keep their exact values."""
    from pathlib import Path

    lung = pd.read_csv(Path(__file__).resolve().parents[1] / "reference" / "coxph" / "data" / "lung.csv",
                       index_col=0)
    only = lung.index[lung["ph_ecog"] == 3]
    assert len(only) == 1
    fit = coxph("Surv(time, status) ~ age + factor(ph_ecog) + strata(sex)", lung, ties="breslow")
    with pytest.warns(InfluenceWarning, match=rf"not estimable.*{only[0]}"):
        infl = fit.influence()
    lost = np.asarray(fit.index == only[0])
    assert np.isnan(infl.dfbeta_exact[lost]).all() and np.isfinite(infl.dfbeta_exact[~lost]).all()
    assert unidentifiable_deletions(fit.design).sum() == 1


def test_deleting_a_group_that_holds_a_whole_level_is_nan_with_a_warning():
    """Group deletion by the factor's own levels takes each level's coefficient (or, for the reference level, the
    dummies' sum within strata) out of the model: every group is NaN with one warning naming the groups. Groups
    that keep every level are finite."""
    from pathlib import Path

    lung = pd.read_csv(Path(__file__).resolve().parents[1] / "reference" / "coxph" / "data" / "lung.csv",
                       index_col=0)
    fit = coxph("Surv(time, status) ~ age + factor(ph_ecog) + strata(sex)", lung, ties="breslow")
    with pytest.warns(InfluenceWarning, match=r"(not estimable|no finite maximum)(.|\n)*groups"):
        by_level = fit.group_deletion(lung.loc[fit.index, "ph_ecog"])
    assert np.isnan(by_level.dfbeta).all()
    halves = pd.Series(np.arange(len(fit.index)) % 2, index=fit.index)
    halves[lung.index[lung["ph_ecog"] == 3]] = 0  # the one patient at level 3 stays with half 0: half 1 keeps it
    with pytest.warns(InfluenceWarning, match=r"(not estimable|no finite maximum)(.|\n)*groups"):
        two = fit.group_deletion(halves)
    assert np.isnan(two.dfbeta[list(two.groups).index(0)]).all()
    assert np.isfinite(two.dfbeta[list(two.groups).index(1)]).all()
