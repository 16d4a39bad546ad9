"""Every warning regdiag gives: one text per condition, and one way to point it at the user's line.

A condition met in several places (a row with leverage 1, a zero weight, a perfect fit, an iteration that stopped
short, a badly conditioned design) is worded once here, whichever fit or backend meets it. Every warning is issued
with the ``stacklevel`` of the first frame outside the regdiag package (:func:`user_stacklevel`), so that it names
the user's line however deep inside regdiag it is raised.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ._validation import (
    ConditioningWarning,
    DataWarning,
    InfluenceWarning,
    format_labels,
)

__all__ = [
    "LEVERAGE_ONE",
    "SIGMA_LOO_ZERO",
    "ZERO_WEIGHT",
    "rows_note",
    "user_stacklevel",
    "warn",
    "warn_conditioning",
    "warn_dropped_rows",
    "warn_leverage_one",
    "warn_not_converged",
    "warn_perfect_fit",
    "warn_rows",
    "warn_sigma_loo_zero",
    "warn_zero_weight",
]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

#: rows with leverage 1 (after R's clamp at ``1 - 10 eps``)
LEVERAGE_ONE = (
    "leverage is 1 (the fit passes through these observations and deleting one makes a coefficient "
    "unidentifiable): their deletion measures are NaN"
)
#: rows with prior weight 0
ZERO_WEIGHT = "zero weight takes these observations out of the fit: leverage 0, deletion measures NaN"
#: rows whose deletion leaves a perfect fit
SIGMA_LOO_ZERO = (
    "deleting one of these observations leaves a perfect fit (sigma_loo = 0): their studentized residual, DFFITS, "
    "COVRATIO and DFBETAS are NaN"
)


def user_stacklevel() -> int:
    """``stacklevel`` for a ``warnings.warn`` call made in the function that calls this one, pointing the warning at
    the first frame outside the regdiag package (the user's call, however deep inside regdiag it is raised).

    Returns
    -------
    int
    """
    frame = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn(message: str, category: type[Warning] = InfluenceWarning) -> None:
    """Issue ``message`` as a ``category`` warning pointing at the user's line (:func:`user_stacklevel`).

    Parameters
    ----------
    message : str
    category : type of Warning
    """
    warnings.warn(message, category, stacklevel=user_stacklevel())


def rows_note(message: str, rows: Sequence[Any] | pd.Index, noun: str = "rows", count: int | None = None) -> str:
    """``message`` followed by the rows it concerns: ``"... (rows 'a', 'b')"``, or with ``count`` (the rows are then
    the first of them) ``"... (52 rows: 'a', 'b' and 50 more)"``.

    Parameters
    ----------
    message : str
    rows : sequence or pandas.Index
        Row (or group) labels.
    noun : str
        What the labels are.
    count : int, optional
        Total number of rows when ``rows`` lists only the first ones.

    Returns
    -------
    str
    """
    if count is None:
        return f"{message} ({noun} {format_labels(rows)})"
    shown = list(rows)
    more = f" and {count - len(shown)} more" if count > len(shown) else ""
    return f"{message} ({count} {noun}: {format_labels(shown)}{more})"


def warn_rows(
    message: str, rows: Sequence[Any] | pd.Index, category: type[Warning] = InfluenceWarning, noun: str = "rows",
) -> None:
    """One warning naming the rows (or groups) it concerns (:func:`rows_note`), pointing at the user's line.

    Parameters
    ----------
    message : str
    rows : sequence or pandas.Index
    category : type of Warning
    noun : str
    """
    warnings.warn(rows_note(message, rows, noun), category, stacklevel=user_stacklevel())


def warn_leverage_one(rows: Sequence[Any] | pd.Index) -> None:
    """Rows with leverage 1: their deletion measures are NaN.

    Parameters
    ----------
    rows : sequence or pandas.Index
        Their labels.
    """
    warn_rows(LEVERAGE_ONE, rows)


def warn_deletion_unidentifiable(rows: Sequence[Any] | pd.Index, noun: str = "rows") -> None:
    """Rows (or groups) no other row can stand in for (a Cox model's leverage 1): their exact deletion measures are
    NaN.

    Parameters
    ----------
    rows : sequence or pandas.Index
        Their labels.
    noun : str
        What the labels are ("rows", "groups").
    """
    warn_rows(f"deleting one of these {noun} leaves a coefficient not estimable (no other row spans its direction of "
              "the design centred within strata; R's coxph without it drops the coefficient): their exact deletion "
              "measures are NaN", rows, noun=noun)


def warn_partition_labels(label: Any) -> None:
    """A Dask DataFrame whose row labels restart in each partition (``dd.read_csv``): the measures' labels repeat.

    Parameters
    ----------
    label : object
        The label both of the first two partitions start with.
    """
    warn(f"the Dask DataFrame's row labels restart in each partition (the first two both start at {label!r}, as "
         "dd.read_csv numbers each partition's rows from 0): the measures' row labels repeat and name rows of other "
         "partitions. Give the rows labels of their own (a column of the data, ddf.set_index('id')), or read parquet "
         "files with regdiag.dask.read_parquet, which labels rows by file and row", DataWarning)


def warn_zero_weight(rows: Sequence[Any] | pd.Index) -> None:
    """Rows with zero weight: out of the fit, leverage 0, deletion measures NaN.

    Parameters
    ----------
    rows : sequence or pandas.Index
        Their labels.
    """
    warn_rows(ZERO_WEIGHT, rows)


def warn_sigma_loo_zero(rows: Sequence[Any] | pd.Index) -> None:
    """Rows whose deletion leaves a perfect fit (``sigma_loo = 0``).

    Parameters
    ----------
    rows : sequence or pandas.Index
        Their labels.
    """
    warn_rows(SIGMA_LOO_ZERO, rows)


def warn_perfect_fit(scale: str, consequence: str) -> None:
    """A fit whose residuals are at rounding level.

    Parameters
    ----------
    scale : str
        The scale that shows it, e.g. ``"RSS 1e-30"``.
    consequence : str
        What is reported instead of the usual numbers.
    """
    warn(f"perfect fit: the residuals are at rounding level ({scale}), so {consequence}")


def warn_not_converged(
    what: str,
    limit: int,
    steps: str,
    consequence: str = "",
    rows: Sequence[Any] | pd.Index | None = None,
    noun: str = "rows",
    category: type[Warning] = InfluenceWarning,
) -> None:
    """An iteration that stopped at its limit without reaching its tolerance (and whose result is kept).

    Parameters
    ----------
    what : str
        The iteration, e.g. ``"exact leave-one-out"``.
    limit : int
        Its largest number of steps.
    steps : str
        What a step is, e.g. ``"Newton steps"``.
    consequence : str
        What that means for the result (starts with its own punctuation, e.g. ``": its measures are NaN"``).
    rows : sequence or pandas.Index, optional
        The rows (or groups) concerned.
    noun : str
        What the labels in ``rows`` are.
    category : type of Warning
    """
    message = f"{what} did not converge in {limit} {steps}{consequence}"
    if rows is not None:
        message = rows_note(message, rows, noun)
    warnings.warn(message, category, stacklevel=user_stacklevel())


def warn_dropped_rows(why: str, rows: Sequence[Any] | pd.Index, detail: str = "") -> None:
    """Rows dropped on request (``missing='drop'``).

    Parameters
    ----------
    why : str
        Why, e.g. ``"with infinite values"``.
    rows : sequence or pandas.Index
        Their labels.
    detail : str
        What follows the reason (e.g. ``": 'log(y)'"``, the columns).
    """
    warn_rows(f"dropped rows {why} (missing='drop'){detail}", rows, DataWarning)


def warn_nan_rows_omitted(rows: Sequence[Any] | pd.Index, detail: str = "") -> None:
    """Rows dropped by ``missing='omit'`` (R's ``na.omit``) because a formula's transform made NaN there, a missing
    value in R's model frame (the log or square root of a negative number; R warns "NaNs produced").

    Parameters
    ----------
    rows : sequence or pandas.Index
        Their labels.
    detail : str
        What follows the reason (e.g. ``": 'log(y)'"``, the columns).
    """
    warn_rows(f"dropped rows whose transformed values are NaN, missing values as in R's model frame (where the "
              f"transform warns 'NaNs produced'){detail}", rows, DataWarning)


#: condition number above which a fit warns
COND_WARN = 1e8


def warn_conditioning(
    cond: float, what: str = "the design", measures: str = "leverage and influence measures", limit: float = COND_WARN,
) -> None:
    """A :class:`ConditioningWarning` when ``cond`` exceeds ``limit``, with the significant digits kept.

    Parameters
    ----------
    cond : float
        Condition number (of the column-equilibrated matrix).
    what : str
        The matrix, e.g. ``"the weighted design"``.
    measures : str
        What loses digits.
    limit : float
        Condition number above which it warns.
    """
    if cond > limit:
        digits = max(0.0, -math.log10(sys.float_info.epsilon * cond))
        warn(
            f"{what} is ill-conditioned: condition number {cond:.3g} (column-equilibrated); {measures} keep about "
            f"{digits:.0f} significant digits",
            ConditioningWarning,
        )
