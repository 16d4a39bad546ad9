"""The GLM envelope by projected scoring steps against full refits of the same simulated responses."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import regdiag
from regdiag.linear.envelope import envelope


def _fit(name: str, formula: str, family: str, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return regdiag.glm(formula, data=regdiag.datasets.load(name), family=family, **kw)


CASES = {
    "poisson": ("quine", "Days ~ Eth + Sex + Age + Lrn", "poisson", {}, 0.1, False),
    "negative_binomial": ("quine", "Days ~ Eth + Sex + Age + Lrn", "negative_binomial", {"alpha": 1 / 1.27}, 0.15,
                          True),
    "binomial": ("birthwt", "low ~ age + lwt + race + smoke + ptl + ht + ui", "binomial", {}, 0.45, False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_projection_envelope_is_within_a_fraction_of_the_band_of_refits(case):
    name, formula, family, kw, bound, absolute = CASES[case]
    infl = _fit(name, formula, family, **kw).influence()
    m = int(np.isfinite(infl.student_resid).sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = envelope(infl, m, nsim=19, rng=5, absolute=absolute)
        slow = envelope(infl, m, nsim=19, rng=5, absolute=absolute, method="refit")
    assert fast.nsim == slow.nsim == 19  # the same draws, every one usable
    width = np.median(slow.upper - slow.lower)
    for a, b in ((fast.lower, slow.lower), (fast.median, slow.median), (fast.upper, slow.upper)):
        diff = np.abs(a - b) / width
        assert diff.max() <= bound
        assert diff.mean() <= bound / 3
    assert "scoring" in fast.method and "refit" in slow.method


def test_projection_envelope_rejects_an_unknown_method():
    infl = _fit(*CASES["poisson"][:3]).influence()
    with pytest.raises(ValueError, match="projection"):
        envelope(infl, 10, method="one step")


def test_order_statistic_band_of_a_big_linear_model_matches_simulation(monkeypatch):
    """Above ORDER_STATISTICS_ABOVE residuals a linear model's band comes from the order statistics of self-scaled
    t residuals (no simulation); lowered to 1000 here, it agrees with the simulated (exact) band within a small
    fraction of the band's local width (measured: at most 0.15, 0.03 on average)."""
    from regdiag.linear import envelope as env_mod

    rng = np.random.default_rng(0)
    n = 3000
    X = np.column_stack([np.ones(n), rng.standard_normal((n, 3))])
    fit = regdiag.ols(X @ [1.0, 2.0, 0.0, -1.0] + rng.standard_normal(n), X)
    infl = fit.influence()
    for absolute in (False, True):
        sim = envelope(infl, n, nsim=400, rng=1, absolute=absolute)
        monkeypatch.setattr(env_mod, "ORDER_STATISTICS_ABOVE", 1000)
        ana = envelope(infl, n, nsim=400, rng=1, absolute=absolute)
        monkeypatch.setattr(env_mod, "ORDER_STATISTICS_ABOVE", 10**9)
        assert ana.nsim == 0 and "order statistics" in ana.method
        width = sim.upper - sim.lower  # pointwise: the band is narrow in the middle and wide in the tails
        for a, b in ((ana.lower, sim.lower), (ana.median, sim.median), (ana.upper, sim.upper)):
            rel = np.abs(a - b) / width
            assert np.max(rel) < 0.3 and np.mean(rel) < 0.06, (np.max(rel), np.mean(rel))
