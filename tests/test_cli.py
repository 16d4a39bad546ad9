"""The `regdiag` command, through its entry point."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag.cli import main


def test_default_report_prints_and_writes_csv_equal_to_frame(tmp_path, capsys):
    assert main(["report", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "LifeCycleSavings" in out and "Influential observations (rule 'R'): 4 of 50" in out
    csv = pd.read_csv(tmp_path / "measures.csv", index_col=0)
    df = regdiag.datasets.load("LifeCycleSavings")
    frame = regdiag.ols("sr ~ pop15 + pop75 + dpi + ddpi", data=df).influence().to_frame()
    assert list(csv.columns) == list(frame.columns)
    assert list(csv.index) == list(frame.index)
    np.testing.assert_allclose(csv.to_numpy(), frame.to_numpy(), rtol=1e-14)


def test_report_on_a_csv_file(tmp_path, capsys):
    df = regdiag.datasets.load("Duncan")
    path = tmp_path / "duncan.csv"
    df.to_csv(path)
    assert main(["report", str(path), "--formula", "prestige ~ income + education", "--index-col", "occupation",
                 "--rule", "BKW", "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "minister" in out and "rule 'BKW'" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["report", "missing.csv", "--formula", "y ~ x"], "no such file: missing.csv"),
        (["report", "{csv}"], "needs a model: add --formula"),
        (["report", "{csv}", "--formula", "y ~ nope"], "'nope'"),
        (["report", "--dataset", "nothing"], "no bundled data set named 'nothing'"),
        (["report", "--rule", "bogus"], "unknown flagging rule 'bogus'"),
    ],
)
def test_user_errors_are_one_line_with_nonzero_exit(tmp_path, capsys, argv, message):
    csv = tmp_path / "d.csv"
    pd.DataFrame({"y": [1.0, 2, 3, 4, 5], "x": [1.0, 3, 2, 5, 4]}).to_csv(csv, index=False)
    argv = [a.format(csv=csv) for a in argv] + ["-o", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("regdiag: error:") and message in err and "Traceback" not in err


def test_console_script_runs(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "regdiag.cli", "report", "-o", str(tmp_path)], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "Libya" in proc.stdout
