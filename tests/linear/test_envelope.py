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
