"""Inputs of the Dask path that change the model unless read as in memory: categorical columns read without their
levels, hive folders with a missing key, partitions left without rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag.cli import main

dd = pytest.importorskip("dask.dataframe")
pytest.importorskip("pyarrow")


@pytest.fixture
def data() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 600
    g = np.where(np.arange(n) < 150, "b", rng.choice(["a", "b", "c"], n))  # 'b' is seen first, 'a' is first sorted
    x = rng.standard_normal(n)
    y = 1.0 + 0.5 * x + (g == "c") - 0.5 * (g == "a") + rng.standard_normal(n)
    return pd.DataFrame({"y": y, "x": x, "g": g}, index=pd.Index([f"r{i:03d}" for i in range(n)], name="id"))


def test_categorical_levels_found_in_the_data_are_sorted(data, tmp_path):
    """A categorical whose levels Dask does not know, or whose metadata lists none (parquet files of a pandas
    category column, read by regdiag.dask.read_parquet), gets the sorted levels, as in memory: the same reference
    level, the same coefficients."""
    from regdiag.dask import read_parquet

    ref = regdiag.ols("y ~ x + g", data=data)
    frame = data.assign(g=data["g"].astype("category"))
    ddf = dd.from_pandas(frame, npartitions=4, sort=False)
    unknown = ddf.assign(g=ddf["g"].cat.as_unknown())
    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(3):
        frame.iloc[200 * i: 200 * (i + 1)].to_parquet(folder / f"part-{i}.parquet")
    for d in (unknown, read_parquet(folder)):
        fit = regdiag.ols("y ~ x + g", data=d)
        assert fit.param_names == ref.param_names == ("Intercept", "x", "g[T.b]", "g[T.c]")
        np.testing.assert_allclose(np.asarray(fit.params), ref.coef, rtol=1e-10)


def test_hive_folder_with_a_missing_key_drops_those_rows(data, tmp_path, capsys):
    """pyarrow writes a missing partition key as __HIVE_DEFAULT_PARTITION__: a missing value (dropped, as in memory
    and in R), not a level."""
    frame = data.assign(region=np.where(data["x"] > 0, "north", "south"))
    frame.loc[["r010", "r020", "r300"], "region"] = None
    frame.to_parquet(tmp_path / "hive", partition_cols=["region"])
    assert (tmp_path / "hive" / "region=__HIVE_DEFAULT_PARTITION__").is_dir()
    ref = regdiag.ols("y ~ x + region", data=frame)
    out = tmp_path / "out"
    assert main(["report", str(tmp_path / "hive"), "--formula", "y ~ x + region", "-o", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert f"n = {ref.nobs}," in text and "__HIVE_DEFAULT_PARTITION__" not in text
    measures = pd.read_parquet(out / "measures.parquet")
    assert sorted(measures.index) == sorted(ref.index)


def test_a_partition_left_without_rows_keeps_every_label_of_the_export(data, tmp_path, capsys):
    """The first file's rows all lack the response: the measures export still has every row's label (the empty
    block writes no file whose schema would drop them)."""
    folder = tmp_path / "parts"
    folder.mkdir()
    frame = data.copy()
    frame.iloc[:200, 0] = np.nan
    for i in range(3):
        frame.iloc[200 * i: 200 * (i + 1)].to_parquet(folder / f"part-{i}.parquet")
    out = tmp_path / "out"
    assert main(["report", str(folder), "--formula", "y ~ x + g", "-o", str(out), "-q"]) == 0
    measures = pd.read_parquet(out / "measures.parquet")
    assert list(measures.index) == list(frame.index[200:])
    assert len(dd.read_parquet(out / "measures.parquet").compute()) == 400


def test_labels_restarting_in_each_partition_are_said(data, tmp_path):
    """dd.read_csv numbers each partition's rows from 0: the measures' labels would repeat and name other rows, so
    one warning says so; a frame split from pandas keeps its own labels and says nothing."""
    import warnings

    path = tmp_path / "data.csv"
    data.to_csv(path, index=False)
    ddf = dd.read_csv(path, blocksize=8_000)
    assert ddf.npartitions > 1
    with pytest.warns(regdiag.DataWarning, match="restart in each partition"):
        regdiag.ols("y ~ x + g", data=ddf)
    with warnings.catch_warnings():
        warnings.simplefilter("error", regdiag.DataWarning)
        regdiag.ols("y ~ x + g", data=dd.from_pandas(data.reset_index(drop=True), npartitions=3, sort=False))


def test_in_memory_parquet_export_replaces_a_streamed_one(data, tmp_path, capsys):
    """A streamed report writes measures.parquet as a folder of parts; an in-memory report into the same folder
    replaces it with its one file."""
    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(2):
        data.iloc[300 * i: 300 * (i + 1)].to_parquet(folder / f"part-{i}.parquet")
    out = tmp_path / "out"
    assert main(["report", str(folder), "--formula", "y ~ x", "-o", str(out), "-q"]) == 0
    assert (out / "measures.parquet").is_dir()
    assert main(["report", str(folder / "part-0.parquet"), "--in-memory", "--formula", "y ~ x", "--exports",
                 "parquet", "-o", str(out), "-q"]) == 0
    assert (out / "measures.parquet").is_file() and len(pd.read_parquet(out / "measures.parquet")) == 300


def test_a_file_without_a_model_column_is_named(data, tmp_path, capsys):
    folder = tmp_path / "parts"
    folder.mkdir()
    data.iloc[:300].to_parquet(folder / "part-0.parquet")
    data.iloc[300:].drop(columns="x").to_parquet(folder / "part-1.parquet")
    assert main(["report", str(folder), "--formula", "y ~ x", "-o", str(tmp_path / "out"), "-q"]) == 2
    assert "part-1.parquet has no column 'x'" in capsys.readouterr().err


def test_text_in_a_number_column_of_one_file_is_named(data, tmp_path, capsys):
    folder = tmp_path / "parts"
    folder.mkdir()
    data.iloc[:300].to_parquet(folder / "part-0.parquet")
    data.iloc[300:].assign(x=data["x"].iloc[300:].astype(str).where(data.index[300:] != "r400", "n/a")).to_parquet(
        folder / "part-1.parquet")
    assert main(["report", str(folder), "--formula", "y ~ x", "-o", str(tmp_path / "out"), "-q"]) == 2
    assert "part-1.parquet: column 'x' holds text ('n/a') where the first file has numbers" in capsys.readouterr().err
