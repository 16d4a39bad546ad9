"""The `regdiag` command, through its entry point: the report it writes, its options, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag.cli import main

from .report.htmlcheck import check_html

FAST = ["--no-cross-check", "--no-engine-plots", "--nsim", "19", "--quiet"]


def test_default_report_prints_and_writes_csv_equal_to_frame(tmp_path, capsys, monkeypatch):
    from regdiag.report import bundle

    monkeypatch.setattr(bundle, "PROGRESS_AFTER_S", 0.0)  # every step counts as slow: all progress lines show
    assert main(["report", "-o", str(tmp_path), "--nsim", "19"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "LifeCycleSavings" in out and "Influential observations (rule 'R'): 4 of 50" in out
    assert out.rstrip().splitlines()[-1] == f"report: {tmp_path / 'report.html'}"
    assert "runs that theory says are exact agree with the closed form" in out
    # progress goes to standard error, one line per step
    progress = captured.err.strip().splitlines()
    assert progress[0].startswith("fitting sr ~ pop15") and progress[-1].endswith("writing report.html")
    assert all(line.startswith("[") for line in progress[1:])
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
    assert "no web browser" not in capsys.readouterr().err
    monkeypatch.setattr(webbrowser, "open", lambda url: False)  # no browser here: said, and the report still written
    assert main(["report", "-o", str(tmp_path), "--open", *FAST]) == 0
    assert "no web browser could be started here; open" in capsys.readouterr().err


def test_quiet_prints_no_progress(tmp_path, capsys):
    assert main(["report", "-o", str(tmp_path), *FAST]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "argv,message",
    [
        (["report", "missing.csv", "--formula", "y ~ x"], "no such file: missing.csv"),
        (["report", "{csv}"], 'needs a model: add --formula "y ~ x1 + x2" (columns: y, x, name)'),
        (["report", "{csv}", "--formula", "y ~ nope"], "uses 'nope', not a column of the data; columns are"),
        (["report", "{csv}", "--formula", "y ~ x +"],
         "cannot read the formula 'y ~ x +': '+' needs a term on each side (at character 7); write it as"),
        (["report", "{csv}", "--formula", "y x"], "nothing joins 'y' and 'x': put '~' after the response"),
        (["report", "{csv}", "--formula", "y ~ log(x"], "'log(x' is not closed: add ')'"),
        (["report", "{csv}", "--formula", "y ~~ x"], "'~' must appear once"),
        (["report", "{csv}", "--formula", "name ~ x"], "the response 'name' of 'name ~ x' is a text column (values "
         "'a0', 'a1', 'a2', ...); the response must be numeric"),
        (["report", "{csv}", "--formula", "y ~ log(name)"], "cannot compute log(name) in 'y ~ log(name)': 'name' is "
         "a text column"),
        (["report", "-o", "{csv}"], "it is a file, not a folder; choose a folder"),
        (["report", "{bad}", "--formula", "y ~ x"], "cannot read"),
        (["report", "{empty}", "--formula", "y ~ x"], "cannot read"),
        (["report", "{csv}", "--formula", "y ~ x", "--index-col", "id"], "--index-col 'id' is not a column"),
        (["report", "{csv}", "--formula", "y ~ x", "--weights", "w"], "weights='w' is not a column"),
        (["report", "--dataset", "nothing"], "no bundled data set named 'nothing'"),
        (["report", "--dataset", "Dunkan"], "did you mean 'Duncan'?"),
        (["report", "--rule", "bogus"], "unknown flagging rule 'bogus'"),
        (["report", "{csv}", "--formula", "y ~ x", "--family", "binomal"], "did you mean 'binomial'?"),
        # not a typo of 'poisson', whose fixed dispersion would change the measures
        (["report", "{csv}", "--formula", "y ~ x", "--family", "quasipoisson"], "'poisson' fixes the dispersion at 1, "
         "so its standardized measures, Cook's distance and DFBETAS are not quasipoisson's"),
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
    pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "x": [1.0, 3, 2, 5, 4, 6], "name": [f"a{i}" for i in range(6)]}).to_csv(
        csv, index=False
    )
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    parquet = tmp_path / "d.parquet"
    parquet.write_bytes(b"not parquet")
    argv = [a.format(csv=csv, bad=bad, empty=empty, parquet=parquet) for a in argv]
    if "-o" not in argv:
        argv += ["-o", str(tmp_path / "o")]
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


def test_os_errors_print_their_text_and_file_not_their_number(tmp_path, capsys, monkeypatch):
    import regdiag.report as report_mod

    target = tmp_path / "out"

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(target / "report.html"))

    monkeypatch.setattr(report_mod, "write_html_report", denied)
    assert main(["report", "-o", str(target), *FAST]) == 2
    err = capsys.readouterr().err
    assert err == (f"regdiag: error: Permission denied: {target / 'report.html'}; choose an output folder you can "
                   "write to with -o/--output\n")
    from regdiag.report import error_line

    assert error_line(FileExistsError(17, "File exists", "/x/afile"), output="/x/afile").startswith(
        "File exists: /x/afile"
    )
    assert error_line(OSError(28, "No space left on device", "/x/o/m.csv"), output="/x/o") == (
        "No space left on device: /x/o/m.csv; free some space or choose another output folder with -o/--output"
    )


def test_output_that_is_a_file_is_a_one_line_error(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("")
    assert main(["report", "-o", str(afile), *FAST]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot write the report to {afile}: it is a file, not a folder" in err
    assert "error: 17" not in err and "Errno" not in err


def test_a_bad_parquet_file_in_a_folder_is_named(tmp_path, capsys):
    pytest.importorskip("dask.dataframe")
    pytest.importorskip("pyarrow")
    df = regdiag.datasets.load("Duncan")
    for first in (True, False):  # the bad file read first (schema) or later (while computing)
        folder = tmp_path / f"parts{int(first)}"
        folder.mkdir()
        df.iloc[:20].to_parquet(folder / "b.parquet")
        df.iloc[20:].to_parquet(folder / "c.parquet")
        bad = folder / ("a.parquet" if first else "d.parquet")
        bad.write_bytes(b"not parquet at all")
        assert main(["report", str(folder), "--formula", "prestige ~ income + education", "-o",
                     str(tmp_path / "o"), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert f"not a parquet file (no PAR1 magic bytes): {bad}" in err, err
        assert "An error occurred while calling" not in err


def test_error_line_keeps_the_informative_part_of_a_wrapped_error():
    from regdiag import DataError
    from regdiag.report import error_line

    cause = ValueError(
        "An error occurred while calling the read_parquet method registered to the pandas backend.\n"
        "Original Message: Could not open Parquet input source 'data/x.parquet': Parquet magic bytes not found"
    )
    try:
        try:
            raise cause
        except ValueError as exc:
            raise DataError("cannot read data as parquet: An error occurred while calling the read_parquet method "
                            "registered to the pandas backend.") from exc
    except DataError as exc:
        line = error_line(exc)
    assert line == ("cannot read data as parquet: Could not open Parquet input source 'data/x.parquet': Parquet "
                    "magic bytes not found")
    many = DataError(f"it expands to {[f'c[{i}]' for i in range(50)]} (a text response?)")
    assert error_line(many) == "it expands to c[0], c[1], c[2], c[3], ... (50 in all) (a text response?)"


def test_csv_with_a_named_index_keeps_its_row_labels(tmp_path, capsys):
    df = regdiag.datasets.load("Duncan")  # index named "occupation": to_csv writes it as a named first column
    path = tmp_path / "duncan.csv"
    df.to_csv(path)
    assert main(["report", str(path), "--formula", "prestige ~ income + education", "-o", str(tmp_path / "o"),
                 *FAST]) == 0
    out = capsys.readouterr().out
    assert "row labels: 'occupation'" in out and "minister" in out
    assert pd.read_csv(tmp_path / "o" / "measures.csv", index_col=0).index[0] == "accountant"
    # a first column the formula uses stays a column (and the rows are numbered)
    df.reset_index().assign(code=lambda d: d["occupation"]).to_csv(path, index=False)
    assert main(["report", str(path), "--formula", "prestige ~ income + type", "-o", str(tmp_path / "p"),
                 *FAST]) == 0
    assert "row labels: 'occupation'" in capsys.readouterr().out
    plain = tmp_path / "plain.csv"
    df[["income", "education", "prestige"]].to_csv(plain, index=False)
    assert main(["report", str(plain), "--formula", "prestige ~ income", "-o", str(tmp_path / "q"), *FAST]) == 0
    assert "row labels: row numbers (0 to 44); to label rows by a column" in capsys.readouterr().out


def test_terminal_summary_fits_in_100_columns(tmp_path, capsys):
    for rule in ("BKW", "R"):
        assert main(["report", "--rule", rule, "-o", str(tmp_path / rule), *FAST]) == 0
        out = capsys.readouterr().out
        flagged = out.split("Influential observations", 1)[1].split("Outlier test", 1)[0]
        assert max(len(line) for line in flagged.splitlines()) <= 100, flagged
        assert "flagged by" in flagged
    assert "Libya" in out and "dfb.ddpi, dffit, cov.r," in out


def test_streamed_formula_errors_are_reworded_too(tmp_path, capsys):
    pytest.importorskip("dask.dataframe")
    pytest.importorskip("pyarrow")
    path = tmp_path / "d.parquet"
    regdiag.datasets.load("Duncan").to_parquet(path)
    assert main(["report", str(path), "--formula", "prestige ~ income +", "-o", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == ("regdiag: error: cannot read the formula 'prestige ~ income +': '+' needs a term on each side (at "
                   'character 19); write it as "response ~ term + term", e.g. "y ~ x1 + x2"\n')


def test_advice_to_pass_start_values_is_translated_for_the_command_line(tmp_path, capsys):
    data = Path(__file__).resolve().parents[1] / "datasets" / "LifeCycleSavings.csv"
    rc = main(["report", str(data), "--formula", "sr ~ log(pop15) + offset(log(dpi))", "--family", "gamma",
               "-o", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert "try another --link" in err and "pass start=" not in err


def test_index_col_with_repeated_values_is_refused(tmp_path, capsys):
    """Row labels name the rows in the report: a column with repeated values is refused by name, with the values."""
    csv = tmp_path / "d.csv"
    pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "x": [1.0, 3, 2, 5, 4, 6], "g": list("abcabd")}).to_csv(csv, index=False)
    assert main(["report", str(csv), "--formula", "y ~ x", "--index-col", "g", "-o", str(tmp_path / "r"), "-q"]) == 2
    assert "--index-col 'g' has repeated values ('a', 'b')" in capsys.readouterr().err
