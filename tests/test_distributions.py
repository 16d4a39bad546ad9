"""The distribution functions of regdiag._distributions against scipy.stats (the same special functions: equal to
the last bit, or to rounding where the formula is rearranged)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from regdiag import _distributions as dist

RNG = np.random.default_rng(11)
X = np.r_[RNG.standard_normal(200) * 6.0, 0.0, -1.0, 40.0, np.inf, -np.inf, np.nan]


@pytest.mark.parametrize("df", [1.0, 4.5, 30.0, 1e6])
def test_t(df):
    assert_allclose(dist.t_sf(X, df), stats.t.sf(X, df), rtol=1e-14, atol=0)
    q = np.r_[1e-12, RNG.uniform(size=20), 1 - 1e-9]
    assert_allclose(dist.t_ppf(q, df), stats.t.ppf(q, df), rtol=1e-12, atol=0)


def test_normal():
    assert_allclose(dist.norm_pdf(X), stats.norm.pdf(X), rtol=1e-15, atol=0)
    assert_allclose(dist.norm_sf(X), stats.norm.sf(X), rtol=1e-15, atol=0)
    assert_allclose(dist.norm_cdf(X), stats.norm.cdf(X), rtol=1e-15, atol=0)
    q = RNG.uniform(size=50)
    assert_allclose(dist.norm_ppf(q), stats.norm.ppf(q), rtol=1e-15, atol=0)


@pytest.mark.parametrize(("a", "b"), [(1, 5), (5, 45), (11, 999_989)])
def test_f(a, b):
    x = np.abs(X)
    x[:3] = [-1.0, 0.0, 1e-300]  # outside and at the edge of the support
    assert_allclose(dist.f_sf(x, a, b), stats.f.sf(x, a, b), rtol=1e-13, atol=0)
    assert_allclose(dist.f_cdf(x, a, b), stats.f.cdf(x, a, b), rtol=1e-13, atol=0)
    q = RNG.uniform(size=20)
    assert_allclose(dist.f_ppf(q, a, b), stats.f.ppf(q, a, b), rtol=1e-12, atol=0)


def test_log_probabilities():
    k = RNG.integers(0, 12, 100).astype(float)
    n = k + RNG.integers(0, 12, 100)
    p = RNG.uniform(0.001, 0.999, 100)
    assert_allclose(dist.binom_logpmf(k, n, p), stats.binom.logpmf(k, n, p), rtol=1e-13, atol=1e-13)
    assert_allclose(dist.poisson_logpmf(k, 6 * p), stats.poisson.logpmf(k, 6 * p), rtol=1e-13, atol=1e-13)
    y = RNG.gamma(2.0, size=100) + 0.01
    assert_allclose(dist.gamma_logpdf(y, 2.5, p), stats.gamma.logpdf(y, 2.5, scale=p), rtol=1e-13, atol=1e-13)
