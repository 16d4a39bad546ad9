"""``regdiag report --model coxph`` and the Cox HTML report."""

from __future__ import annotations

import pandas as pd
import pytest

from regdiag.cli import main
from tests.reference_cases import ROOT
from tests.report.htmlcheck import check_html

OVARIAN = ROOT / "tests" / "reference" / "coxph" / "data" / "ovarian.csv"


def test_cli_cox_report(tmp_path, capsys):
    out = tmp_path / "rep"
    rc = main(["report", str(OVARIAN), "--index-col", "row", "--model", "coxph", "--formula",
               "Surv(futime, fustat) ~ age + ecog_ps + strata(rx)", "--ties", "breslow", "-o", str(out), "-q",
               "--compare-statsmodels"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "26 observations, 12 events" in text
    parsed = check_html(out / "report.html")  # well-formed, self-contained, links resolve
    assert parsed.tags.get("img", 0) == 2
    html = (out / "report.html").read_text(encoding="utf-8")
    for part in ("Influential observations", "Engine cross-check", "statsmodels PHReg", "data:image/svg+xml;base64"):
        assert part in html
    measures = pd.read_csv(out / "measures.csv", index_col=0)
    assert len(measures) == 26 and {"dfb_age", "dfb1_age", "martingale", "loo_error"} <= set(measures.columns)
    cc = pd.read_csv(out / "cross_check.csv")
    assert cc["agrees"].all()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--formula", "Surv(futime, nope) ~ age"], "'nope'"),
        ([], "needs --formula"),
        (["--formula", "futime ~ age"], "Surv(time, status)"),
    ],
)
def test_cli_cox_errors(tmp_path, capsys, args, message):
    rc = main(["report", str(OVARIAN), "--model", "coxph", "-o", str(tmp_path / "r"), "-q", *args])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_cli_cox_missing_rows_are_listed_or_refused(tmp_path, capsys):
    """Rows with a missing value are dropped and named on the terminal and the page (as the other reports do), or
    refused with --missing raise."""
    data = pd.read_csv(OVARIAN, index_col=0)
    data.loc[data.index[3], "ecog_ps"] = None
    data.loc[data.index[7], "futime"] = None
    path = tmp_path / "ovarian.csv"
    data.to_csv(path)
    args = ["report", str(path), "--index-col", "row", "--model", "coxph", "--formula",
            "Surv(futime, fustat) ~ age + strata(ecog_ps)", "-q"]
    assert main([*args, "-o", str(tmp_path / "a")]) == 0
    text = capsys.readouterr().out
    line = next(ln for ln in text.splitlines() if ln.startswith("dropped for missing values: 2 row(s) ("))
    assert {str(data.index[3]), str(data.index[7])} == set(line.split("(")[-1].rstrip(")").split(", "))
    assert line in (tmp_path / "a" / "report.html").read_text(encoding="utf-8")
    assert "24 observations" in text
    assert main([*args, "-o", str(tmp_path / "b"), "--missing", "raise"]) == 2
    assert "missing values at rows" in capsys.readouterr().err
