"""Every deletion measure against brute-force refits (numpy SVD least squares, n refits), including WLS,
rank-deficient designs and leverage-1 rows, where statsmodels' OLSInfluence is wrong."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import regdiag
from regdiag.testing import dense_hat, ols_group_refit, ols_loo_refit


def _data(seed, n=40, k=4, weights=False, rank_deficient=False, hat_one=False):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.standard_normal((n, k - 1)) * rng.uniform(0.1, 100, k - 1)])
    if rank_deficient:
        X = np.column_stack([X, X[:, 1] * 3 - X[:, 2] / 7])  # aliased: a combination of earlier columns
    if hat_one:
        d = np.zeros(n)
        d[5] = 1.0  # a dummy on one row: that row has leverage 1
        X = np.column_stack([X, d])
    y = X[:, :k] @ rng.standard_normal(k) + rng.standard_normal(n) * 2.0
    y[3] += 15.0  # an outlier
    w = rng.uniform(0.2, 5.0, n) if weights else None
    return X, y, w


def _brute(X, y, w, kept):
    """All deletion measures by refitting, on the kept (identifiable) columns."""
    Xk = X[:, kept]
    n, p = Xk.shape
    ww = np.ones(n) if w is None else w
    A = Xk * np.sqrt(ww)[:, None]
    XtWX = A.T @ A
    b = np.linalg.lstsq(A, y * np.sqrt(ww), rcond=None)[0]
    e = y - Xk @ b
    s2 = np.sum(ww * e**2) / (n - p)
    loo = ols_loo_refit(Xk, y, w)
    out = {"leverage": np.diag(dense_hat(Xk, w))}
    dfbeta = b[None, :] - loo.params
    out["dfbeta"] = dfbeta
    out["sigma_loo"] = loo.sigma
    inv = np.linalg.inv(XtWX)
    out["dfbetas"] = dfbeta / np.outer(loo.sigma, np.sqrt(np.diag(inv)))
    out["cooks_distance"] = np.einsum("ij,jk,ik->i", dfbeta, XtWX, dfbeta) / (p * s2)
    pred = np.einsum("ij,ij->i", Xk, loo.params)
    out["press_resid"] = y - pred
    # studentized residual = prediction error of the deleted fit over its standard error
    t, covr = np.empty(n), np.empty(n)
    for i in range(n):
        if loo.rank[i] < p:  # deleting i makes a coefficient unidentifiable
            t[i] = covr[i] = np.nan
            continue
        m = np.arange(n) != i
        Ai = Xk[m] * np.sqrt(ww[m])[:, None]
        inv_i = np.linalg.inv(Ai.T @ Ai)
        var = loo.sigma[i] ** 2 * (1.0 / ww[i] + Xk[i] @ inv_i @ Xk[i])
        t[i] = (y[i] - pred[i]) / np.sqrt(var)
        covr[i] = np.linalg.det(loo.sigma[i] ** 2 * inv_i) / np.linalg.det(s2 * inv)
    out["student_resid"] = t
    out["cov_ratio"] = covr
    out["dffits"] = np.sqrt(ww) * (Xk @ b - pred) / (loo.sigma * np.sqrt(out["leverage"]))
    out["params"] = b
    return out


CONFIGS = [
    dict(),
    dict(weights=True),
    dict(rank_deficient=True),
    dict(weights=True, rank_deficient=True),
    dict(hat_one=True),
    dict(weights=True, hat_one=True),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(c) or "ols")
@pytest.mark.parametrize("seed", [0, 1])
def test_every_deletion_measure_matches_refits(cfg, seed):
    X, y, w = _data(seed, **cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", regdiag.InfluenceWarning)
        fit = regdiag.ols(y, X, weights=w)
        infl = fit.influence()
    kept = [j for j, nm in enumerate(fit.param_names) if nm not in fit.aliased]
    if cfg.get("rank_deficient"):
        assert len(fit.aliased) == 1 and fit.param_names.index(fit.aliased[0]) == X.shape[1] - 1 - cfg.get("hat_one", 0)
        assert np.isnan(fit.coef[fit.param_names.index(fit.aliased[0])])
    ref = _brute(X, y, w, kept)
    np.testing.assert_allclose(fit.coef[kept], ref["params"], rtol=1e-10)
    np.testing.assert_allclose(infl.leverage, np.clip(ref["leverage"], 0, 1), rtol=1e-9, atol=1e-12)
    defined = infl.leverage < 1
    if cfg.get("hat_one"):
        assert not defined[5] and defined.sum() == len(y) - 1
    for name in ("sigma_loo", "student_resid", "cooks_distance", "press_resid", "cov_ratio", "dffits"):
        got = getattr(infl, name)
        assert np.isnan(got[~defined]).all(), name
        np.testing.assert_allclose(got[defined], ref[name][defined], rtol=1e-8, atol=1e-12, err_msg=name)
    for name in ("dfbeta", "dfbetas"):
        got = getattr(infl, name)[:, kept]
        assert np.isnan(got[~defined]).all()
        scale = np.abs(ref[name][defined]).max()
        np.testing.assert_allclose(got[defined], ref[name][defined], rtol=1e-8, atol=1e-12 * scale, err_msg=name)
    loo = infl.loo_params[:, kept]
    np.testing.assert_allclose(loo[defined], (ref["params"][None, :] - ref["dfbeta"])[defined], rtol=1e-9)


@pytest.mark.parametrize("weights", [False, True])
def test_group_deletion_matches_refits(weights):
    X, y, w = _data(3, n=60, k=5, weights=weights)
    fit = regdiag.ols(y, X, weights=w)
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 9, size=len(y))  # 9 groups of varied sizes (some larger than p)
    labels[:12] = 9  # one group of 12 rows: the r x r Woodbury path
    gi = fit.group_deletion(labels)
    groups = [np.flatnonzero(labels == g) for g in gi.groups]
    ref = ols_group_refit(X, y, groups, w)
    np.testing.assert_allclose(gi.loo_params, ref.params, rtol=1e-9)
    np.testing.assert_allclose(gi.sigma_loo, ref.sigma, rtol=1e-9)
    np.testing.assert_allclose(gi.size, [len(g) for g in groups])
    ww = np.ones(len(y)) if w is None else w
    A = X * np.sqrt(ww)[:, None]
    XtWX = A.T @ A
    d = gi.dfbeta
    expected_cook = np.einsum("ij,jk,ik->i", d, XtWX, d) / (fit.rank * fit.sigma**2)
    np.testing.assert_allclose(gi.cooks_distance, expected_cook, rtol=1e-9)
    expected_dfbetas = d / np.outer(ref.sigma, np.sqrt(np.diag(np.linalg.inv(XtWX))))
    np.testing.assert_allclose(gi.dfbetas, expected_dfbetas, rtol=1e-9)
    H = dense_hat(X, w)
    np.testing.assert_allclose(gi.leverage, [np.trace(H[np.ix_(g, g)]) for g in groups], rtol=1e-10)
    frame = gi.to_frame()
    assert list(frame.index) == list(gi.groups) and "cooks_distance" in frame


def test_single_row_groups_equal_case_deletion():
    X, y, w = _data(4, weights=True)
    fit = regdiag.ols(y, X, weights=w)
    infl = fit.influence()
    gi = infl.group_deletion(np.arange(len(y)))
    np.testing.assert_allclose(gi.dfbeta, infl.dfbeta, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(gi.cooks_distance, infl.cooks_distance, rtol=1e-10)
    np.testing.assert_allclose(gi.sigma_loo, infl.sigma_loo, rtol=1e-10)
    np.testing.assert_allclose(gi.dfbetas, infl.dfbetas, rtol=1e-10, atol=1e-14)
    # the same groups as n lists of one row label each
    as_lists = infl.group_deletion([[label] for label in fit.index])
    np.testing.assert_allclose(as_lists.dfbeta, infl.dfbeta, rtol=1e-10, atol=1e-14)


def test_group_forms_and_singular_group():
    X, y, _ = _data(5, n=30, hat_one=True)
    fit = regdiag.ols(y, X)
    index = list(fit.index)
    by_map = fit.group_deletion({"a": [index[0], index[1]], "b": [index[5], index[6]]})
    by_list = fit.group_deletion([[index[0], index[1]], [index[5], index[6]]])
    np.testing.assert_allclose(by_map.loo_params[0], by_list.loo_params[0])
    # group "b" contains the leverage-1 row: deleting it leaves the dummy's coefficient unidentifiable
    assert np.isnan(by_map.loo_params[1]).all() and np.isnan(by_map.cooks_distance[1])
    with pytest.warns(regdiag.InfluenceWarning, match="'b'"):
        fit.group_deletion({"a": [index[0], index[1]], "b": [index[5], index[6]]})
    with pytest.raises(regdiag.DataError, match="not in the fit"):
        fit.group_deletion({"a": ["no such row"]})
    with pytest.raises(regdiag.DataError, match="labels"):
        fit.group_deletion(np.zeros(3))
