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
               "-o", str(out), "--top", "5", "--missing", "drop"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "observation(s) flagged" in text and "report.html" in text
    ref = regdiag.glm("k ~ x + g", data=frame, family="poisson", missing="drop").influence()
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
    from tests.report.htmlcheck import check_html

    check_html(out / "report.html")  # well-formed, and its links to the exports resolve
    for name in ("measures.parquet", "summary.json", "report.txt"):
        assert f'href="{name}"' in page


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
    args = ["report", str(parquet_dir), "--formula", "y ~ x", "--family", "poison", "-o", str(tmp_path / "f")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "did you mean 'poisson'?" in err and err.count("\n") == 1
    # a CSV export of data that may not fit in memory is refused, not silently replaced by parquet
    assert main(["report", str(parquet_dir), "--formula", "y ~ x", "--exports", "csv", "-o", str(tmp_path / "g")]) == 2
    assert "--exports csv: a streamed report writes its measures as parquet" in capsys.readouterr().err


@pytest.fixture
def unlabelled_files(tmp_path, frame):
    """The frame in 3 files of 300 rows without a label column (each file's rows numbered from 0 by pandas)."""
    folder = tmp_path / "plain"
    folder.mkdir()
    data = frame.reset_index(drop=True)
    for i in range(3):
        data.iloc[300 * i : 300 * (i + 1)].to_parquet(folder / f"part-{i}.parquet", index=False)
    return folder


def _file_row_labels(frame):
    return [f"part-{i // 300}:{i % 300}" for i in range(len(frame))]


def test_rows_of_several_files_get_file_and_row_labels(unlabelled_files, tmp_path, frame, capsys):
    out = tmp_path / "report"
    rc = main(["report", str(unlabelled_files), "--formula", "y ~ x + g", "-o", str(out), "--top", "5"])
    assert rc == 0
    text = capsys.readouterr().out
    ref = regdiag.ols("y ~ x + g", data=frame.set_axis(_file_row_labels(frame))).influence()
    measures = pd.read_parquet(out / "measures.parquet")
    assert measures.index.is_unique
    assert list(measures.index) == list(ref.index)  # "part-1:41": the file and the row's number in it
    assert_same(measures["cooks_distance"], ref.cooks_distance)
    summary = json.loads((out / "summary.json").read_text())
    order = np.argsort(-np.nan_to_num(ref.cooks_distance, nan=-1))[:5]
    assert summary["top"]["rows"] == list(ref.index[order])
    assert str(ref.index[order[0]]) in text
    assert "part-" in (out / "report.html").read_text()


def test_single_file_is_streamed_unless_in_memory_is_asked(unlabelled_files, tmp_path, frame, capsys):
    one = unlabelled_files / "part-1.parquet"
    out = tmp_path / "streamed"
    assert main(["report", str(one), "--formula", "y ~ x", "-o", str(out), "--top", "3"]) == 0
    assert (out / "measures.parquet").is_dir() and (out / "summary.json").is_file()
    assert not (out / "measures.csv").exists()
    measures = pd.read_parquet(out / "measures.parquet")
    part = frame.iloc[300:600].reset_index(drop=True)
    ref = regdiag.ols("y ~ x", data=part).influence()
    assert list(measures.index) == list(ref.index)  # row numbers in the file, as pandas.read_parquet numbers them
    assert_same(measures["leverage"], ref.leverage)
    capsys.readouterr()
    mem = tmp_path / "in-memory"
    assert main(["report", str(one), "--formula", "y ~ x", "--in-memory", "-o", str(mem), "--no-cross-check",
                 "--no-engine-plots", "--nsim", "19", "--quiet"]) == 0
    assert (mem / "measures.csv").is_file() and not (mem / "measures.parquet").exists()
    assert_same(pd.read_csv(mem / "measures.csv", index_col=0)["leverage"], ref.leverage)
    with pytest.raises(SystemExit):
        main(["report", str(one), "--formula", "y ~ x", "--stream", "--in-memory"])
    assert "not allowed with" in capsys.readouterr().err


def test_help_states_streaming_and_in_memory(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--in-memory" in text and "parquet is streamed" in text


def test_notes_hold_regdiag_warnings_only(parquet_dir, tmp_path, monkeypatch, recwarn):
    """A zero weight gives an InfluenceWarning (a note); another library's warning is passed on, not a note; the
    streamed pass itself raises no warning (no mixed Dask collections, no pandas deprecations from a writer)."""
    import warnings

    for f in sorted(parquet_dir.glob("*.parquet")):
        part = pd.read_parquet(f)
        part.loc[part.index[:1], "w"] = 0.0
        part.to_parquet(f, index=False)
    import importlib

    dask_ols = importlib.import_module("regdiag.dask.ols")  # the module (the package's ``ols`` is the function)
    real_ols = dask_ols.ols

    def noisy_ols(*args, **kwargs):
        warnings.warn("a library's own deprecation", FutureWarning, stacklevel=2)
        return real_ols(*args, **kwargs)

    monkeypatch.setattr(dask_ols, "ols", noisy_ols)
    out = tmp_path / "notes"
    assert main(["report", str(parquet_dir), "--formula", "y ~ x", "--weights", "w", "--index-col", "case",
                 "-o", str(out)]) == 0
    caught = [(w.category, str(w.message)) for w in recwarn]
    assert (FutureWarning, "a library's own deprecation") in caught
    assert all(cat is FutureWarning for cat, _ in caught), caught
    notes = json.loads((out / "summary.json").read_text())["warnings"]
    assert len(notes) == 1 and notes[0].startswith("InfluenceWarning: zero weight")
    for name in ("report.txt", "report.html"):
        text = (out / name).read_text()
        assert "zero weight" in text and "deprecation" not in text and "mixed collections" not in text


def test_summarize_with_a_dask_dataframe_write_is_one_pass_without_warning(frame, tmp_path):
    import sys
    import warnings

    import dask.dataframe as dd

    fit = regdiag.ols("y ~ x + g", data=dd.from_pandas(frame, npartitions=4, sort=False))
    module = sys.modules["regdiag.dask.ols"]
    calls = []
    real = module._ols_block_influence

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    module._ols_block_influence = counted
    try:
        infl = fit.influence()
        write = infl.to_frame().to_parquet(str(tmp_path / "m.parquet"), compute=False, write_index=True)
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            summary, _ = infl.summarize([write])
            n_flagged, frame_back = infl.summarize([infl.to_frame()])
    finally:
        module._ols_block_influence = real
    assert not [w for w in rec if "mixed" in str(w.message)], [str(w.message) for w in rec]
    assert len(calls) == 2 * 4  # each block once per summarize call
    assert summary.n_flagged == n_flagged.n_flagged
    assert len(frame_back) == 896 and list(pd.read_parquet(tmp_path / "m.parquet").index) == list(frame_back.index)
