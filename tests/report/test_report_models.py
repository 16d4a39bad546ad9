"""`regdiag report --model`: robust regression and the discrete models."""

from __future__ import annotations

import pytest

from regdiag.cli import main


def test_report_rlm(tmp_path, capsys):
    out = tmp_path / "rlm"
    rc = main(["report", "--dataset", "stackloss", "--model", "rlm", "--psi", "hampel", "-o", str(out), "-q",
               "--nsim", "2", "--no-engine-plots"])
    assert rc == 0
    page = (out / "report.html").read_text()
    assert "Robustness weights" in page and "not drawn" not in page
    text = capsys.readouterr().out
    assert "Robust regression (M, psi = hampel" in text
    assert "agree with the closed form" in text


@pytest.mark.parametrize("model,formula", [("logit", "low ~ age + lwt + smoke"), ("mnlogit", "race ~ age + lwt")])
def test_report_discrete(tmp_path, capsys, model, formula):
    out = tmp_path / model
    rc = main(["report", "--dataset", "birthwt", "--formula", formula, "--model", model, "-o", str(out), "-q",
               "--no-engine-plots", "--nsim", "2"])
    assert rc == 0
    assert "not drawn" not in (out / "report.html").read_text()
    assert f"{model} maximum-likelihood fit" in capsys.readouterr().out


def test_report_model_errors(tmp_path, capsys):
    rc = main(["report", "--dataset", "stackloss", "--model", "rml", "-o", str(tmp_path), "-q"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "--model 'rml'" in err and "rlm" in err
    rc = main(["report", "--dataset", "birthwt", "--formula", "low ~ age", "--model", "logit", "--family",
               "binomial", "-o", str(tmp_path), "-q"])
    assert rc == 2
    assert "--family goes with --model glm" in capsys.readouterr().err


def test_robust_fit_whose_covratio_flags_most_rows_says_why():
    """Duncan with Huber's psi and the MAD scale: R's rule flags most rows by COVRATIO, because deleting any row
    moves the MAD; the note on the share flagged says so (least squares flags 4 of 45)."""
    import warnings

    import regdiag
    from regdiag.report.bundle import diagnose

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = regdiag.rlm("prestige ~ income + education", data=regdiag.datasets.load("Duncan"))
        b = diagnose(fit, nsim=0, cross_check=False, engine=False)
    assert len(b.flagged) > 20
    assert "the scale moves, not the fit" in b.share_note
    ols = diagnose(regdiag.ols("prestige ~ income + education", data=regdiag.datasets.load("Duncan")), nsim=0,
                   cross_check=False, engine=False)
    assert "the scale moves" not in ols.share_note
