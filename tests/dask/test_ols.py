"""OLS/WLS on Dask against the in-memory path (itself checked against R, statsmodels and brute-force refits)."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag import ConditioningWarning, DataError, InfluenceWarning
from tests.dask.conftest import assert_same, assert_same_influence, design

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
from regdiag.dask import DaskInfluence, DaskOLSFit  # noqa: E402


@pytest.mark.parametrize("n, chunk", [(1000, 1000), (1000, 250), (1000, 37), (120, 3)])  # 3 rows < 5 columns
@pytest.mark.parametrize("weighted", [False, True])
def test_arrays_match_in_memory(n, chunk, weighted):
    X, y, w = design(n, 5)
    w = w if weighted else None
    fit = regdiag.ols(
        da.from_array(y, chunks=chunk), da.from_array(X, chunks=(chunk, 5)),
        weights=None if w is None else da.from_array(w, chunks=chunk),
    )
    ref = regdiag.ols(y, X, weights=w)
    assert isinstance(fit, DaskOLSFit)
    assert fit.method == ref.method
    assert fit.param_names == ref.param_names == ("const", "x1", "x2", "x3", "x4")
    assert_same(fit.coef, ref.coef)
    assert_same(fit.bse, ref.bse)
    np.testing.assert_allclose([fit.sigma, fit.rsquared], [ref.sigma, ref.rsquared], rtol=1e-10)
    # LAPACK's 1-norm condition estimate depends on the signs of R's rows (the same factor up to signs here)
    assert ref.cond / 10 < fit.cond < 10 * ref.cond
    assert (fit.rank, fit.df_resid, fit.nobs) == (ref.rank, ref.df_resid, ref.nobs)
    assert_same_influence(fit.influence(), ref.influence())


def test_rank_deficient_design_aliases_the_same_column():
    X, y, _ = design(600, 4, seed=3)
    X = np.column_stack([X[:, :3], X[:, 1] - 2.0 * X[:, 2], X[:, 3]])  # column 3 is a combination of 1 and 2
    fit = regdiag.ols(da.from_array(y, chunks=70), da.from_array(X, chunks=(70, 5)))
    ref = regdiag.ols(y, X)
    assert fit.aliased == ref.aliased == ("x3",)
    assert fit.rank == ref.rank == 4
    assert np.isnan(fit.coef[3])
    assert_same(fit.coef, ref.coef)
    assert_same_influence(fit.influence(), ref.influence())


def test_zero_weights_and_a_block_of_them():
    X, y, w = design(400, 3, seed=4)
    w[:50] = 0.0  # the whole first block
    w[[120, 300]] = 0.0
    fit = regdiag.ols(da.from_array(y, chunks=50), da.from_array(X, chunks=(50, 3)), weights=da.from_array(w, 50))
    with pytest.warns(InfluenceWarning, match="zero weight"):
        ref = regdiag.ols(y, X, weights=w).influence()
    assert fit.nobs == ref.n_obs == 348
    infl = fit.influence()
    assert_same_influence(infl, ref)
    with pytest.warns(InfluenceWarning, match=r"zero weight.*52 rows: 0, 1, 2"):
        summary = infl.summary()
    assert "52 rows" in summary.notes[0]


def test_dataframe_x_and_series_y_keep_names_and_labels():
    X, y, _w = design(300, 3, seed=5)
    idx = pd.Index([f"case{i}" for i in range(300)])
    Xf = pd.DataFrame(X[:, 1:], columns=["age", "dose"], index=idx)
    ys = pd.Series(y, index=idx, name="resp")
    fit = regdiag.ols(dd.from_pandas(ys, npartitions=4, sort=False), dd.from_pandas(Xf, npartitions=4, sort=False))
    ref = regdiag.ols(ys, Xf)
    assert fit.param_names == ("age", "dose")
    assert_same_influence(fit.influence(), ref.influence())


def test_formula_with_global_levels_missing_values_and_weights(frame):
    formula = "y ~ x + g + np.log(z) + C(dose)"
    ddf = dd.from_pandas(frame, npartitions=6, sort=False)
    # the first partition lacks level "delta": levels are global anyway
    assert "delta" not in set(ddf.partitions[0].compute()["g"])
    fit = regdiag.ols(formula, data=ddf, weights="w")
    ref = regdiag.ols(formula, data=frame, weights="w")
    assert fit.param_names == ref.param_names
    assert "g[T.delta]" in fit.param_names and "C(dose)[T.3]" in fit.param_names
    assert fit.n_dropped == len(ref.design.dropped) == 4
    assert set(fit.dropped_head) == set(ref.design.dropped)
    assert_same(fit.coef, ref.coef)
    assert_same_influence(fit.influence(), ref.influence())


def test_known_categories_are_kept_in_their_order(frame):
    cat = frame.assign(g=pd.Categorical(frame["g"], categories=["gamma", "delta", "beta", "alpha", "unused"]))
    ddf = dd.from_pandas(cat, npartitions=3, sort=False)
    fit = regdiag.ols("y ~ x + g", data=ddf)
    ref = regdiag.ols("y ~ x + g", data=cat)
    assert fit.param_names == ref.param_names
    assert "g[T.unused]" in fit.param_names and fit.aliased == ref.aliased == ("g[T.unused]",)
    assert_same(fit.coef, ref.coef)


def test_missing_raise_names_the_column_and_rows(frame):
    ddf = dd.from_pandas(frame, npartitions=3, sort=False)
    # the first block to fail reports its own rows
    with pytest.raises(DataError, match=r"column 'x' at rows ('r5', 'r17'|'r400')"):
        regdiag.ols("y ~ x + g", data=ddf, missing="raise")
    X, y, _ = design(100, 3)
    X[42, 1] = np.nan
    with pytest.raises(DataError, match=r"column 'x1' at rows 42"):
        regdiag.ols(da.from_array(y, chunks=30), da.from_array(X, chunks=(30, 3)), missing="raise")


def test_stateful_transform_is_refused(frame):
    with pytest.raises(DataError, match="stateful"):
        regdiag.ols("y ~ center(z)", data=dd.from_pandas(frame, npartitions=2, sort=False))


def test_summary_counts_and_top_rows_match_in_memory(frame):
    ddf = dd.from_pandas(frame, npartitions=5, sort=False)
    infl = regdiag.ols("y ~ x + g", data=ddf).influence()
    ref = regdiag.ols("y ~ x + g", data=frame).influence()
    for rule in ("R", "BKW", ["cooks_4n", "student_2"]):
        s = infl.summary(rule, top=7)
        flags = ref.flags(rule)
        pd.testing.assert_series_equal(
            s.flag_counts, flags.fillna(False).astype(bool).sum().astype(int).rename("flagged"), check_names=False
        )
        assert s.n_flagged == int(flags.fillna(False).astype(bool).any(axis=1).sum())
    s = infl.summary(top=7, by="student_resid")
    order = np.argsort(-np.abs(ref.student_resid))[:7]
    assert list(s.top.index) == list(ref.index[order])
    assert_same(s.top["student_resid"], ref.student_resid[order])
    assert s.top.loc[ref.index[order[0]], "flagged_by"] == ref.flagged("R").reindex([ref.index[order[0]]])[
        "flagged_by"
    ].fillna("").iloc[0]


def test_frames_in_every_style_and_lazy_columns():
    X, y, w = design(500, 4, seed=9)
    fit = regdiag.ols(da.from_array(y, chunks=120), da.from_array(X, chunks=(120, 4)), weights=da.from_array(w, 120))
    infl = fit.influence()
    ref = regdiag.ols(y, X, weights=w).influence()
    assert isinstance(infl, DaskInfluence)
    assert isinstance(regdiag.influence(fit), DaskInfluence)
    for style in ("regdiag", "R", "statsmodels", "SAS"):
        lazy = infl.to_frame(style)
        assert lazy.npartitions == 5
        got = lazy.compute()
        want = ref.to_frame(style)
        assert list(got.columns) == list(want.columns)
        np.testing.assert_array_equal(got.index, want.index)
        for col in want:
            assert_same(got[col], want[col])
    lev = infl.leverage
    assert lev.chunks == ((120, 120, 120, 120, 20),)
    np.testing.assert_allclose(float(lev.sum().compute()), 4.0, rtol=1e-12)
    assert infl.dfbetas.shape == (500, 4)
    assert_same(infl.dffits_internal.compute(), ref.dffits_internal)
    flagged = infl.flagged("BKW").compute()
    pd.testing.assert_index_equal(flagged.index, ref.flagged("BKW").index, exact=False)


def test_group_deletion_is_refused_with_the_reason():
    X, y, _ = design(100, 3)
    fit = regdiag.ols(da.from_array(y, chunks=50), da.from_array(X, chunks=(50, 3)))
    with pytest.raises(NotImplementedError, match="group deletion is not available on Dask"):
        fit.group_deletion(np.arange(100) % 5)
    with pytest.raises(NotImplementedError, match="group deletion is not available on Dask"):
        fit.influence().group_deletion(np.arange(100) % 5)


def test_ill_conditioned_design_warns_as_in_memory():
    rng = np.random.default_rng(11)
    t = rng.uniform(0, 1, 400)
    X = np.column_stack([np.ones(400), t, t + 1e-9 * rng.standard_normal(400)])
    y = 1 + t + rng.standard_normal(400)
    with pytest.warns(ConditioningWarning, match="ill-conditioned"):
        regdiag.ols(y, X)
    with pytest.warns(ConditioningWarning, match="ill-conditioned"):
        regdiag.ols(da.from_array(y, chunks=100), da.from_array(X, chunks=(100, 3)))


def test_summary_text_and_repr(frame):
    fit = regdiag.ols("y ~ x + g", data=dd.from_pandas(frame, npartitions=2))
    text = fit.summary()
    assert "dropped for missing values: 4 row(s)" in text and "g[T.delta]" in text
    assert "DaskOLSFit" in repr(fit) and "DaskInfluence" in repr(fit.influence())
    assert "observation(s) flagged" in str(fit.influence().summary())


def test_import_regdiag_does_not_import_dask():
    code = "import sys, regdiag; print(any(m == 'dask' or m.startswith('dask.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_numpy_input_stays_in_memory():
    X, y, _ = design(50, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert type(regdiag.ols(y, X)).__name__ == "OLSFit"


def test_rule_r_counts_rows_with_positive_leverage_of_the_whole_fit():
    """R's rule takes n = rows with h > 0 (here half the rows have x = 0 and no intercept): every block is flagged
    with the whole fit's count, as in memory, not with its own rows'."""
    rng = np.random.default_rng(12)
    X = rng.standard_normal((200, 2))
    X[100:] = 0.0
    y = X @ [1.0, -1.0] + rng.standard_normal(200)
    fit = regdiag.ols(da.from_array(y, chunks=40), da.from_array(X, chunks=(40, 2)))
    ref = regdiag.ols(y, X).influence()
    assert fit.n_positive_leverage == int(np.count_nonzero(ref.leverage > 0)) == 100
    infl = fit.influence()
    want = ref.flags("R")
    got = infl.flags("R").compute()
    pd.testing.assert_frame_equal(got, want, check_index_type=False)
    s = infl.summary("R")
    pd.testing.assert_series_equal(
        s.flag_counts, want.fillna(False).astype(bool).sum().astype(int).rename("flagged"), check_names=False
    )
    assert infl.flagged("R").compute().index.tolist() == ref.flagged("R").index.tolist()
