"""Bundled data sets: every catalog entry loads, has provenance, and its default formula fits."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import regdiag

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", regdiag.datasets.names())
def test_entry_loads_and_is_documented(name):
    info = regdiag.datasets.info(name)
    for key in ("file", "formula", "title", "source", "licence"):
        assert info.get(key), key
    df = regdiag.datasets.load(name)
    assert len(df) >= 3 and df.index.is_unique
    readme = (ROOT / "datasets" / "README.md").read_text()
    assert name in readme or (info["file"].startswith("nist-strd/") and "NIST StRD" in readme)


@pytest.mark.parametrize(
    "name", [n for n in regdiag.datasets.names() if regdiag.datasets.info(n).get("family") in (None, "gaussian")]
)
def test_default_formula_fits(name):
    info = regdiag.datasets.info(name)
    df = regdiag.datasets.load(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = regdiag.ols(info["formula"], data=df, weights=info.get("weights"))
    assert np.isfinite(fit.coef[~np.isin(fit.param_names, fit.aliased)]).all()


def test_nist_certified_and_lookup():
    cert = regdiag.datasets.nist_certified("longley")
    assert len(cert["certified_coefficients"]) == 7
    with pytest.raises(KeyError, match="available"):
        regdiag.datasets.load("no-such-data")
