"""Fitting errors carry their facts as fields; the command line's wording is made from the fields."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import regdiag
from regdiag._validation import ResidualDfError, TermError
from regdiag.report.inputs import ModelInput, fit_model


@pytest.fixture
def frame():
    rng = np.random.default_rng(3)
    return pd.DataFrame({"y": rng.standard_normal(12), "x": rng.uniform(1, 2, 12),
                         "name": [f"r{i}" for i in range(12)]})


def test_a_term_that_cannot_be_evaluated_names_the_term_and_its_columns(frame):
    with pytest.raises(TermError, match=r"cannot build the design of 'y ~ x \+ log\(name\)'") as info:
        regdiag.ols("y ~ x + log(name)", data=frame)
    assert (info.value.formula, info.value.term, info.value.columns) == ("y ~ x + log(name)", "log(name)", ("name",))
    assert isinstance(info.value, regdiag.DataError)


def test_no_residual_df_carries_the_counts(frame):
    with pytest.raises(ResidualDfError, match="no residual degrees of freedom") as info:
        regdiag.ols("y ~ x", data=frame.iloc[:2])
    assert (info.value.n_positive, info.value.rank) == (2, 2)
    assert isinstance(info.value, regdiag.DesignError)


def _spec(frame, formula):
    return ModelInput(data=frame, formula=formula, family=None, link=None, weights=None, label="t")


def test_command_line_wording_comes_from_the_fields(frame):
    with pytest.raises(TermError, match=r"^cannot compute log\(name\) in 'y ~ log\(name\)': 'name' is a text column "
                                        r"\(values 'r0', 'r1', 'r2', \.\.\.\); use it as it is") as info:
        fit_model(_spec(frame, "y ~ log(name)"))
    assert info.value.term == "log(name)"  # the fields survive the rewording
    with pytest.raises(ResidualDfError, match=r"fewer terms: the text column 'name' has a different value on every "
                                              r"row, so as a factor it fits every row exactly; leave it out") as info:
        fit_model(_spec(frame, "y ~ name"))
    assert info.value.rank == 12


def test_an_unparsable_cox_formula_is_worded_from_its_formula_field():
    from regdiag._validation import FormulaParseError
    from regdiag.report.inputs import error_line
    from regdiag.rformula import formula_error_message

    data = pd.DataFrame({"time": [1.0, 2, 3, 4], "status": [1, 0, 1, 1], "x": [0.1, 0.4, 0.2, 0.9]})
    with pytest.raises(FormulaParseError) as info:
        regdiag.coxph("Surv(time, status) ~ x +", data)
    assert info.value.formula == "Surv(time, status) ~ x +"
    line = error_line(info.value)
    assert line == formula_error_message("Surv(time, status) ~ x +", info.value.__cause__)
    assert not line.startswith("cannot parse the formula")
