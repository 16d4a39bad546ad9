"""Bundled regression data sets.

The CSV files live in the top-level ``datasets/`` folder of the source tree and are installed with the package as
``regdiag._datasets``; ``datasets/README.md`` gives the source, licence and description of each. The catalog
(``catalog.json``) records for every data set its file, the column holding the row labels, a default model formula
and its provenance.

Examples
--------
>>> import regdiag
>>> df = regdiag.datasets.load("Longley")
>>> df.shape
(16, 7)
>>> "Longley" in regdiag.datasets.names()
True
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["load", "names", "info", "nist_certified"]


def _root() -> Path:
    """Folder holding ``catalog.json``: the installed package data, else the source tree's ``datasets/``."""
    try:
        root = Path(str(resources.files("regdiag._datasets")))
        if (root / "catalog.json").is_file():
            return root
    except (ModuleNotFoundError, TypeError):
        pass
    root = Path(__file__).resolve().parent.parent / "datasets"
    if (root / "catalog.json").is_file():
        return root
    raise FileNotFoundError(
        "regdiag's bundled data sets were not found; reinstall the package (pip install regdiag) "
        "or run from a source checkout that has the datasets/ folder"
    )


@lru_cache(maxsize=1)
def _catalog() -> dict[str, dict[str, Any]]:
    with open(_root() / "catalog.json", encoding="utf-8") as f:
        return json.load(f)


def names() -> list[str]:
    """Names of the bundled data sets, in catalog order.

    Returns
    -------
    list of str
    """
    return list(_catalog())


def _entry(name: str) -> dict[str, Any]:
    cat = _catalog()
    if name in cat:
        return cat[name]
    folded = {k.lower(): k for k in cat}
    if name.lower() in folded:
        return cat[folded[name.lower()]]
    raise KeyError(f"no bundled data set named {name!r}; available: {', '.join(cat)}")


def info(name: str) -> dict[str, Any]:
    """Catalog entry of a data set: ``file``, ``index_col``, ``formula`` (a default model), ``title``,
    ``source``, ``licence`` and, where given, ``family`` for a GLM.

    Parameters
    ----------
    name : str
        Data set name (case-insensitive).

    Returns
    -------
    dict
    """
    return dict(_entry(name))


def load(name: str) -> pd.DataFrame:
    """Load a bundled data set as a DataFrame indexed by its row labels.

    Parameters
    ----------
    name : str
        Data set name (case-insensitive); see :func:`names`.

    Returns
    -------
    pandas.DataFrame
    """
    entry = _entry(name)
    path = _root() / entry["file"]
    index_col = entry.get("index_col")
    df = pd.read_csv(path, index_col=index_col)
    if index_col is None:
        df.index = pd.RangeIndex(1, len(df) + 1, name="row")
    return df


@lru_cache(maxsize=1)
def _certified() -> dict[str, Any]:
    with open(_root() / "nist-strd" / "certified.json", encoding="utf-8") as f:
        return json.load(f)


def nist_certified(name: str) -> dict[str, Any]:
    """NIST's certified values for one StRD linear-regression data set.

    Parameters
    ----------
    name : str
        The data set's name, as in :func:`names` (``"Longley"``, ``"Norris"``, ...).

    Returns
    -------
    dict
        ``model`` (text), ``difficulty``, ``certified_coefficients`` and ``certified_standard_deviations``
        (lists in the order of the model's terms, intercept first where there is one).
    """
    cert = _certified()
    folded = {k.lower(): k for k in cert}
    if name.lower() not in folded:
        raise KeyError(f"{name!r} is not a NIST StRD data set; available: {', '.join(cert)}")
    return dict(cert[folded[name.lower()]])
