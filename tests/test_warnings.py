"""Warnings: one text per condition whichever fit meets it, and every warning pointing at the user's line."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag import ConditioningWarning, DataWarning, InfluenceWarning
from regdiag._warnings import LEVERAGE_ONE, SIGMA_LOO_ZERO, ZERO_WEIGHT


def _caught(call, category=Warning):
    """Run ``call`` (a lambda written on the caller's line) and return ``(warnings of category, that line)``."""
    line = inspect.currentframe().f_back.f_lineno
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        call()
    return [w for w in rec if issubclass(w.category, category)], line


def _data(n=30, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.standard_normal(n)])
    d = np.zeros(n)
    d[4] = 1.0  # a dummy of one row: leverage 1
    return rng, np.column_stack([X, d])


def test_zero_weight_and_leverage_one_read_the_same_for_ols_and_glm():
    rng, X = _data()
    y = rng.poisson(2.0, len(X)).astype(float)
    w = np.ones(len(X))
    w[7] = 0.0
    texts = []
    for fit in (regdiag.ols(y, X, weights=w), regdiag.glm(y, X, family="poisson", weights=w)):
        got, _ = _caught(fit.influence, InfluenceWarning)
        texts.append(sorted(str(w.message) for w in got))
    assert texts[0] == texts[1]
    assert texts[0] == sorted([f"{LEVERAGE_ONE} (rows 4)", f"{ZERO_WEIGHT} (rows 7)"])


def test_fit_and_influence_warnings_point_at_the_callers_line():
    rng, X = _data()
    y = 1.0 + 2.0 * X[:, 1]
    got, line = _caught(lambda: regdiag.ols(y, X[:, :2]), InfluenceWarning)  # perfect fit, from the fit
    assert [(w.filename, w.lineno) for w in got] == [(__file__, line)]
    fit = regdiag.ols(rng.standard_normal(len(X)), X)
    got, line = _caught(lambda: fit.influence(), InfluenceWarning)  # leverage 1, from the influence method
    assert [(w.filename, w.lineno) for w in got] == [(__file__, line)]
    assert str(got[0].message).startswith(LEVERAGE_ONE)


def test_warnings_point_at_the_user_whatever_the_call_depth():
    rng, X = _data(40)
    x = np.linspace(1, 2, 40)
    bad = np.column_stack([x**k for k in range(9)])

    def user_helper():  # one more frame of the user's own between the test and regdiag
        return regdiag.glm(rng.poisson(2.0, 40).astype(float), bad, family="poisson")

    got, _ = _caught(lambda: user_helper(), ConditioningWarning)
    assert got and all(w.filename == __file__ and w.lineno == user_helper.__code__.co_firstlineno + 1 for w in got)
    assert "ill-conditioned" in str(got[0].message)
    frame = pd.DataFrame({"y": rng.standard_normal(40), "x": X[:, 1]})
    frame.loc[3, "x"] = np.inf
    got, line = _caught(lambda: regdiag.ols("y ~ x", data=frame, missing="drop"), DataWarning)
    assert [(w.filename, w.lineno) for w in got] == [(__file__, line)]
    assert "dropped rows with infinite values" in str(got[0].message) and "3" in str(got[0].message)


def test_deletion_leaving_a_perfect_fit_has_its_one_text():
    x = np.arange(8.0)
    y = 1.0 + 2.0 * x
    y[2] += 1.0  # every other point lies exactly on a line
    fit = regdiag.ols(y, np.column_stack([np.ones(8), x]))
    got, _ = _caught(lambda: fit.influence(), InfluenceWarning)
    assert [str(w.message) for w in got] == [f"{SIGMA_LOO_ZERO} (rows 2)"]


def test_dask_summary_words_zero_weight_as_in_memory():
    pytest.importorskip("dask")
    import dask.array as da

    rng = np.random.default_rng(2)
    X = np.column_stack([np.ones(60), rng.standard_normal(60)])
    y = rng.standard_normal(60)
    w = np.ones(60)
    w[[5, 6]] = 0.0
    fit = regdiag.ols(
        da.from_array(y, chunks=20), da.from_array(X, chunks=(20, 2)), weights=da.from_array(w, chunks=20)
    )
    infl = fit.influence()
    got, line = _caught(lambda: infl.summary(), InfluenceWarning)
    assert [str(w.message) for w in got] == [f"{ZERO_WEIGHT} (2 rows: 5, 6)"]
    assert got[0].filename == __file__ and got[0].lineno == line
