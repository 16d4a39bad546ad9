"""`regdiag report` on parquet data streamed through Dask: a directory, a glob, a file with --stream."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag.cli import main
from tests.dask.conftest import assert_same

pytest.importorskip("pyarrow")
pytest.importorskip("dask.dataframe")


@pytest.fixture
def parquet_dir(tmp_path, frame):
    folder = tmp_path / "data"
    folder.mkdir()
    data = frame.rename_axis("case").reset_index()
    for i in range(3):
        data.iloc[300 * i : 300 * (i + 1)].to_parquet(folder / f"part-{i}.parquet", index=False)
    return folder


def test_directory_is_streamed_and_matches_in_memory(parquet_dir, tmp_path, frame, capsys):
    out = tmp_path / "report"
    rc = main(["report", str(parquet_dir), "--formula", "k ~ x + g", "--family", "poisson", "--index-col", "case",
               "-o", str(out), "--top", "5"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "observation(s) flagged" in text and "report.html" in text
    ref = regdiag.glm("k ~ x + g", data=frame, family="poisson").influence()
    summary = json.loads((out / "summary.json").read_text())
    flags = ref.flags("R").fillna(False).astype(bool)
    assert summary["flag_counts"] == {k: int(v) for k, v in flags.sum().items()}
    assert summary["n_flagged"] == int(flags.any(axis=1).sum())
    order = np.argsort(-np.nan_to_num(ref.cooks_distance, nan=-1))[:5]
    assert summary["top"]["rows"] == list(ref.index[order])
    measures = pd.read_parquet(out / "measures.parquet")
    want = ref.to_frame()
    assert list(measures.index) == list(want.index)
    for col in ("leverage", "cooks_distance", "dfbetas_x"):
        assert_same(measures[col], want[col])
    page = (out / "report.html").read_text()
    assert "<table" in page and "most influential rows" in page


def test_glob_and_single_file_with_stream(parquet_dir, tmp_path, capsys):
    rc = main(["report", str(parquet_dir / "part-*.parquet"), "--formula", "y ~ x", "-o", str(tmp_path / "a")])
    assert rc == 0
    rc = main(["report", str(parquet_dir / "part-0.parquet"), "--stream", "--formula", "y ~ x",
               "-o", str(tmp_path / "b")])
    assert rc == 0
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert a["n_obs"] == 897 and b["n_obs"] == 298  # x is missing in 3 rows, 2 of them in part 0


def test_streamed_errors_are_one_line(parquet_dir, tmp_path, capsys):
    assert main(["report", str(parquet_dir), "-o", str(tmp_path / "c")]) == 2
    assert "--formula" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nothing-*.parquet"), "--formula", "y ~ x", "-o", str(tmp_path / "d")]) == 2
    assert "no file matches" in capsys.readouterr().err
    assert main(["report", str(parquet_dir), "--formula", "y ~ nope", "-o", str(tmp_path / "e")]) == 2
    assert "'nope'" in capsys.readouterr().err
