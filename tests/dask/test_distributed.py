"""The same numbers on a distributed.LocalCluster with 2 worker processes (results travel between processes)."""

from __future__ import annotations

import numpy as np
import pytest

import regdiag
from tests.dask.conftest import GLM_MEASURES, assert_same, assert_same_influence, design

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")


def test_ols_formula_on_two_workers(cluster_client, frame):
    assert len(cluster_client.scheduler_info()["workers"]) == 2
    ddf = dd.from_pandas(frame, npartitions=6, sort=False)
    fit = regdiag.ols("y ~ x + g + C(dose)", data=ddf, weights="w")
    ref = regdiag.ols("y ~ x + g + C(dose)", data=frame, weights="w")
    assert_same(fit.coef, ref.coef)
    infl = fit.influence()
    assert_same_influence(infl, ref.influence())
    s = infl.summary("BKW", top=3)
    assert s.n_flagged == int(ref.influence().flags("BKW").fillna(False).astype(bool).any(axis=1).sum())
    got = infl.to_frame("R").compute()
    assert_same(got["cook.d"], ref.influence().cooks_distance)


def test_glm_arrays_on_two_workers(cluster_client):
    X, _, _ = design(900, 3, seed=2)
    rng = np.random.default_rng(2)
    y = rng.poisson(np.exp(0.2 * X @ [1.0, 0.5, -0.25])).astype(float)
    fit = regdiag.glm(da.from_array(y, chunks=100), da.from_array(X, chunks=(100, 3)), family="poisson")
    ref = regdiag.glm(y, X, family="poisson")
    assert_same(fit.coef, ref.coef)
    assert_same_influence(fit.influence(), ref.influence(), GLM_MEASURES)


def test_refined_ols_on_two_workers(cluster_client):
    """Longley: the extended-precision refinement passes run on the workers (their closures travel pickled)."""
    from tests.linear.test_nist import nist_design

    X, y = nist_design("Longley")
    fit = regdiag.ols(da.from_array(y, chunks=4), da.from_array(X, chunks=(4, X.shape[1])))
    ref = regdiag.ols(y, X)
    assert ref.refine_steps > 0 and fit.refine_steps > 0
    assert_same(fit.coef, ref.coef)
    assert_same_influence(fit.influence(), ref.influence())
