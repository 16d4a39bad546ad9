"""The command line takes the formulas and models the Python API takes (R's formula language, glm.nb's theta)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag.cli import main

FAST = ["--no-cross-check", "--no-engine-plots", "--nsim", "0", "--quiet"]


@pytest.fixture
def csv(tmp_path):
    rng = np.random.default_rng(11)
    n = 80
    age = rng.integers(20, 60, n)
    lfp = np.where(rng.random(n) < 1 / (1 + np.exp(-(age - 40) / 8)), "yes", "no")
    mu = np.exp(0.5 + 0.03 * (age - 40))
    counts = rng.negative_binomial(1.5, 1.5 / (1.5 + mu))
    df = pd.DataFrame({"lfp": lfp, "age": age, "Solar.R": rng.normal(size=n), "counts": counts},
                      index=pd.Index([f"p{i}" for i in range(n)], name="id"))
    path = tmp_path / "data.csv"
    df.to_csv(path)
    return path, df


def test_event_expression_as_response(csv, tmp_path, capsys):
    path, df = csv
    assert main(["report", str(path), "--formula", "I(lfp == 'yes') ~ age + I(age^2) + Solar.R",
                 "--family", "binomial", "-o", str(tmp_path / "out"), *FAST]) == 0
    measures = pd.read_csv(tmp_path / "out" / "measures.csv", index_col=0)
    api = regdiag.glm("I(lfp == 'yes') ~ age + I(age**2) + `Solar.R`", data=df, family="binomial").influence()
    np.testing.assert_allclose(measures["cooks_distance"], api.cooks_distance, rtol=1e-12)


def test_text_response_for_binomial_states_its_levels(csv, tmp_path, capsys):
    path, _ = csv
    assert main(["report", str(path), "--formula", "lfp ~ age", "--family", "binomial",
                 "-o", str(tmp_path / "out"), *FAST]) == 0
    out = capsys.readouterr().out
    assert "'no' (its first level) = 0, 'yes' = 1" in out


def test_text_response_without_binomial_is_one_line(csv, tmp_path, capsys):
    path, _ = csv
    assert main(["report", str(path), "--formula", "lfp ~ age", "-o", str(tmp_path / "out"), *FAST]) != 0
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "the response 'lfp'" in err and "--family binomial" in err


@pytest.mark.parametrize("extra", [[], ["--theta", "1.5"], ["--alpha", "0.5"]])
def test_negative_binomial_theta_estimated_or_fixed(csv, tmp_path, capsys, extra):
    path, df = csv
    assert main(["report", str(path), "--formula", "counts ~ age", "--family", "negative_binomial", *extra,
                 "-o", str(tmp_path / "out"), *FAST]) == 0
    measures = pd.read_csv(tmp_path / "out" / "measures.csv", index_col=0)
    kw = {} if not extra else {extra[0][2:]: float(extra[1])}
    api = regdiag.glm("counts ~ age", data=df, family="negative_binomial", **kw).influence()
    np.testing.assert_allclose(measures["cooks_distance"], api.cooks_distance, rtol=1e-12)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--formula", "counts ~ age", "--theta", "2"], "--theta and --alpha are the negative binomial's"),
        (["--formula", "counts ~ age | lfp"], "uses '|'"),
        (["--formula", "counts ~ s(age)"], "the function s()"),
    ],
)
def test_formula_and_theta_errors_are_one_line(csv, tmp_path, capsys, argv, message):
    path, _ = csv
    assert main(["report", str(path), *argv, "-o", str(tmp_path / "out"), *FAST]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and "Traceback" not in "\n".join(err)
