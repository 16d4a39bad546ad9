"""Shared fixtures of the Dask tests: a comparison with the in-memory result, data sets, a 2-worker cluster."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

#: per-row measures compared between the Dask and the in-memory results
ROW_MEASURES = (
    "leverage", "resid", "standard_resid", "student_resid", "press_resid", "sigma_loo", "cooks_distance",
    "cooks_pvalue", "dffits", "cov_ratio", "dfbeta", "dfbetas",
)
GLM_MEASURES = ROW_MEASURES + ("resid_pearson", "resid_deviance", "resid_working", "standard_resid_pearson")
RTOL = 1e-10


def assert_same(actual, expected, rtol: float = RTOL) -> None:
    """Equal to ``rtol`` relative to each value, or to the measure's scale for values near zero; NaN where NaN."""
    a = np.asarray(actual, dtype=float)
    b = np.asarray(expected, dtype=float)
    assert a.shape == b.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    scale = np.nanmax(np.abs(b)) if np.any(np.isfinite(b)) else 1.0
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale * 1e-2, equal_nan=True)


def assert_same_influence(lazy, eager, measures=ROW_MEASURES, rtol: float = RTOL) -> None:
    got = lazy.compute()
    assert type(got) is type(eager)
    np.testing.assert_array_equal(np.asarray(got.index), np.asarray(eager.index))
    for name in measures:
        assert_same(getattr(got, name), getattr(eager, name), rtol)
    assert_same(got.params, eager.params, rtol)
    assert got.rank == eager.rank
    assert got.n_obs == eager.n_obs
    assert got.aliased == eager.aliased
    assert got.param_names == eager.param_names
    np.testing.assert_allclose(got.sigma, eager.sigma, rtol=rtol)


def design(n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intercept and k - 1 correlated regressors, a response with heavy-tailed noise, positive weights."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, k - 1))
    Z[:, 1:] += 0.5 * Z[:, :1]
    X = np.column_stack([np.ones(n), Z * np.arange(1, k)])
    y = X @ np.linspace(1.0, -1.0, k) + rng.standard_t(5, n)
    w = rng.uniform(0.2, 3.0, n)
    return X, y, w


@pytest.fixture(autouse=True)
def _threads_scheduler(request):
    """The local threaded scheduler, unless the test runs on the cluster."""
    if "cluster_client" in request.fixturenames:
        yield
        return
    with dask.config.set(scheduler="threads"):
        yield


@pytest.fixture(scope="module")
def cluster_client():
    """A distributed.LocalCluster with 2 worker processes (one thread each)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    ) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture
def frame() -> pd.DataFrame:
    """Mixed data: numbers, text levels (one missing from the first rows), counts, missing values, string labels."""
    rng = np.random.default_rng(7)
    n = 900
    df = pd.DataFrame(
        {
            "x": rng.standard_normal(n),
            "g": rng.choice(["beta", "alpha", "gamma", "delta"], n),
            "z": rng.uniform(1.0, 3.0, n),
            "w": rng.uniform(0.5, 2.0, n),
            "dose": rng.integers(1, 4, n),
        },
        index=[f"r{i}" for i in range(n)],
    )
    df.loc[df.index[:250], "g"] = df.loc[df.index[:250], "g"].replace("delta", "alpha")  # a level absent early on
    df["y"] = 1.0 + df["x"] + 2.0 * (df["g"] == "gamma") + rng.standard_normal(n)
    df["k"] = rng.poisson(np.exp(0.3 + 0.2 * df["x"])).astype(float)
    df["s"] = rng.binomial(5, 1 / (1 + np.exp(-0.5 * df["x"]))).astype(float)
    df["f"] = 5.0 - df["s"]
    df.loc[["r5", "r17", "r400"], "x"] = np.nan
    df.loc[["r30"], "g"] = None
    df.loc[["r611"], "k"] = np.inf
    return df
