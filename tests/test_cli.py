"""The `regdiag` command, through its entry point: the report it writes, its options, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag.cli import main

from .report.htmlcheck import check_html

FAST = ["--no-cross-check", "--no-engine-plots", "--nsim", "19", "--quiet"]


def test_default_report_prints_and_writes_csv_equal_to_frame(tmp_path, capsys):
    assert main(["report", "-o", str(tmp_path), "--nsim", "19"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "LifeCycleSavings" in out and "Influential observations (rule 'R'): 4 of 50" in out
    assert out.rstrip().splitlines()[-1] == f"report: {tmp_path / 'report.html'}"
    assert "runs that theory says are exact agree with the closed form" in out
    # progress goes to standard error, one line per step
    progress = captured.err.strip().splitlines()
    assert progress[0].startswith("fitting sr ~ pop15") and progress[-1].endswith("writing report.html")
    csv = pd.read_csv(tmp_path / "measures.csv", index_col=0)
    df = regdiag.datasets.load("LifeCycleSavings")
    frame = regdiag.ols("sr ~ pop15 + pop75 + dpi + ddpi", data=df).influence().to_frame()
    assert list(csv.columns) == list(frame.columns)
    assert list(csv.index) == list(frame.index)
    np.testing.assert_array_equal(csv.to_numpy(), frame.to_numpy())
    data = json.loads((tmp_path / "measures.json").read_text())
    np.testing.assert_array_equal(np.array(data["measures"]["cooks_distance"]), frame["cooks_distance"].to_numpy())
    c = check_html(tmp_path / "report.html")
    assert c.tags["img"] >= 8


def test_report_on_a_csv_file(tmp_path, capsys):
    df = regdiag.datasets.load("Duncan")
    path = tmp_path / "duncan.csv"
    df.to_csv(path)
    assert main(["report", str(path), "--formula", "prestige ~ income + education", "--index-col", "occupation",
                 "--rule", "BKW", "-o", str(tmp_path / "out"), *FAST]) == 0
    out = capsys.readouterr().out
    assert "minister" in out and "rule 'BKW'" in out
    assert "minister" in (tmp_path / "out" / "report.html").read_text()


def test_unnamed_first_column_becomes_the_row_labels(tmp_path, capsys):
    df = regdiag.datasets.load("Duncan")
    path = tmp_path / "duncan.csv"
    df.rename_axis(None).to_csv(path)  # header "",type,income,...
    assert main(["report", str(path), "--formula", "prestige ~ income + education", "-o", str(tmp_path), *FAST]) == 0
    assert pd.read_csv(tmp_path / "measures.csv", index_col=0).index[0] == "accountant"


def test_other_separators_and_parquet(tmp_path, capsys):
    df = regdiag.datasets.load("Duncan")
    semi = tmp_path / "duncan.csv"
    df.to_csv(semi, sep=";")
    assert main(["report", str(semi), "--formula", "prestige ~ income + education", "--index-col", "occupation",
                 "-o", str(tmp_path / "a"), *FAST]) == 0
    assert "minister" in capsys.readouterr().out
    pytest.importorskip("pyarrow")
    pq = tmp_path / "duncan.parquet"
    df.to_parquet(pq)
    assert main(["report", str(pq), "--formula", "prestige ~ income + education", "-o", str(tmp_path / "b"),
                 *FAST]) == 0
    assert "minister" in capsys.readouterr().out


def test_labels_option_and_compare_statsmodels(tmp_path, capsys):
    assert main(["report", "--dataset", "Duncan", "--labels", "5", "--compare-statsmodels", "-o", str(tmp_path),
                 *FAST]) == 0
    out = capsys.readouterr().out
    assert "Comparison with statsmodels" in out and "measures agree" in out
    text = (tmp_path / "report.html").read_text()
    assert ">Comparison with statsmodels</h2>" in text
    assert (tmp_path / "compare_statsmodels.csv").is_file()


def test_open_hands_the_report_to_a_browser(tmp_path, capsys, monkeypatch):
    opened = []
    import webbrowser

    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    assert main(["report", "-o", str(tmp_path), "--open", *FAST]) == 0
    assert opened == [(tmp_path / "report.html").resolve().as_uri()]


def test_quiet_prints_no_progress(tmp_path, capsys):
    assert main(["report", "-o", str(tmp_path), *FAST]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "argv,message",
    [
        (["report", "missing.csv", "--formula", "y ~ x"], "no such file: missing.csv"),
        (["report", "{csv}"], 'needs a model: add --formula "y ~ x1 + x2" (columns: y, x)'),
        (["report", "{csv}", "--formula", "y ~ nope"], "uses 'nope', not a column of the data; columns are"),
        (["report", "{csv}", "--formula", "y ~ x +"], "cannot parse the formula 'y ~ x +'"),
        (["report", "{bad}", "--formula", "y ~ x"], "cannot read"),
        (["report", "{empty}", "--formula", "y ~ x"], "cannot read"),
        (["report", "{csv}", "--formula", "y ~ x", "--index-col", "id"], "--index-col 'id' is not a column"),
        (["report", "{csv}", "--formula", "y ~ x", "--weights", "w"], "weights='w' is not a column"),
        (["report", "--dataset", "nothing"], "no bundled data set named 'nothing'"),
        (["report", "--dataset", "Dunkan"], "did you mean 'Duncan'?"),
        (["report", "--rule", "bogus"], "unknown flagging rule 'bogus'"),
        (["report", "{csv}", "--formula", "y ~ x", "--family", "binomal"], "did you mean 'binomial'?"),
        (["report", "{csv}", "--formula", "y ~ x", "--family", "poisson", "--link", "lgo"], "did you mean 'log'?"),
        (["report", "{csv}", "--formula", "y ~ x", "--family", "poisson", "--link", "logit"], "'logit' link"),
        (["report", "{csv}", "--formula", "y ~ x", "--link", "log"], "--link 'log' needs --family"),
        (["report", "--labels", "-2"], "'-2' is negative"),
        (["report", "--labels", "many"], "'many' is not a whole number"),
        (["report", "{csv}", "--dataset", "Duncan"], "either a data file or --dataset"),
        (["report", "{parquet}", "--formula", "y ~ x"], ""),
    ],
)
def test_user_errors_are_one_line_with_nonzero_exit(tmp_path, capsys, argv, message):
    csv = tmp_path / "d.csv"
    pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "x": [1.0, 3, 2, 5, 4, 6]}).to_csv(csv, index=False)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    parquet = tmp_path / "d.parquet"
    parquet.write_bytes(b"not parquet")
    argv = [a.format(csv=csv, bad=bad, empty=empty, parquet=parquet) for a in argv] + ["-o", str(tmp_path / "o")]
    with pytest.raises(SystemExit) if argv[1] == "--labels" else _no_exit() as exit_info:
        rc = main(argv + ["--quiet"])
    if exit_info is not None and hasattr(exit_info, "value"):
        rc = exit_info.value.code
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # one line
    assert err.startswith("regdiag: error:") and message in err and "Traceback" not in err


class _no_exit:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_console_script_runs(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "regdiag.cli", "report", "-o", str(tmp_path), *FAST], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "Libya" in proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "regdiag.cli", "report", "nope.csv", "--formula", "y ~ x"], capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("regdiag: error: no such file") and not bad.stdout
    assert "Traceback" not in bad.stderr


def test_glm_report_with_family_and_link(tmp_path, capsys):
    df = regdiag.datasets.load("InsectSprays")
    path = tmp_path / "sprays.csv"
    df.to_csv(path, index=False)
    assert main(["report", str(path), "--formula", "count ~ spray", "--family", "poisson", "--link", "sqrt",
                 "-o", str(tmp_path / "out"), "--compare-statsmodels", *FAST]) == 0
    out = capsys.readouterr().out
    assert out.startswith("regdiag report: sprays.csv") and "GLM fit, poisson(link=sqrt)" in out
    text = (tmp_path / "out" / "report.html").read_text()
    assert 'id="plot-half_normal"' in text and "poisson / sqrt" in text
    assert "sqrt link is not canonical" in text  # the comparison's detected reason
    check_html(tmp_path / "out" / "report.html")


def test_bundled_glm_data_set_uses_its_family(tmp_path, capsys):
    assert main(["report", "--dataset", "budworm", "-o", str(tmp_path), *FAST]) == 0
    assert "binomial" in capsys.readouterr().out
