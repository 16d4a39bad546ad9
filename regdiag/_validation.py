"""Every input check of regdiag and its message lives here.

Errors say what was wrong, where (column, row label) and what to do. Strings that select a behaviour come in at the
edge and become enums here.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "RegdiagError",
    "DataError",
    "DesignError",
    "TermError",
    "FormulaParseError",
    "ResidualDfError",
    "InfluenceWarning",
    "ConditioningWarning",
    "DataWarning",
    "ModelError",
    "ConvergenceError",
    "Missing",
    "Style",
    "CurvatureKind",
    "SolverKind",
    "Correction",
    "format_labels",
    "check_finite",
    "check_weights",
    "numeric_vector",
    "as_enum",
]


class RegdiagError(Exception):
    """Base class of regdiag's errors."""


class DataError(RegdiagError, ValueError):
    """The input data cannot be used as given (missing values, wrong types, mismatched lengths, ...)."""


class DesignError(RegdiagError, ValueError):
    """The model cannot be fitted to the data (too few observations for the rank, singular design, ...)."""


class UnknownNameError(DesignError):
    """A name that is not one of the choices (a family, a link): the message, and the name and choices as data.

    Attributes
    ----------
    what : str
        What was named ("family", "link").
    value : object
        The name given.
    choices : tuple of str
        The valid names.
    """

    def __init__(self, message: str, *, what: str, value: object, choices: Sequence[str]) -> None:
        super().__init__(message)
        self.what = what
        self.value = value
        self.choices = tuple(choices)


class TermError(DataError):
    """A term of a formula that cannot be evaluated on the data: the message, and the formula, term and columns as
    data.

    Attributes
    ----------
    formula : str
        The formula.
    term : str or None
        The term (factor) that failed, when the formula library names it.
    columns : tuple of str
        The data columns the term reads.
    """

    def __init__(self, message: str, *, formula: str, term: str | None, columns: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.formula = formula
        self.term = term
        self.columns = tuple(columns)


class FormulaParseError(DataError):
    """A formula the formula library cannot parse: the message, and the formula as data (the library's error is
    the cause).

    Attributes
    ----------
    formula : str
        The formula.
    """

    def __init__(self, message: str, *, formula: str) -> None:
        super().__init__(message)
        self.formula = formula


class ResidualDfError(DesignError):
    """The rows of positive weight leave no residual degree of freedom: the message, and the counts as data.

    Attributes
    ----------
    n_positive : int
        Observations with positive weight.
    rank : int
        Rank of the design.
    """

    def __init__(self, message: str, *, n_positive: int, rank: int) -> None:
        super().__init__(message)
        self.n_positive = int(n_positive)
        self.rank = int(rank)


class ModelError(RegdiagError, ValueError):
    """A model given to the influence engine breaks its protocol (a missing method, a wrong shape, NaN values)."""


class ConvergenceError(RegdiagError, ArithmeticError):
    """An iterative solver stopped before reaching its tolerance; its result is not returned."""


class InfluenceWarning(UserWarning):
    """Some influence measures are undefined for some rows (h = 1, a perfect fit, zero weights) and are NaN."""


class DataWarning(UserWarning):
    """Rows were dropped or values look unusual for the model (non-finite values dropped on request, non-integer
    counts for a count family)."""


class ConditioningWarning(UserWarning):
    """The design is badly conditioned: results carry fewer correct digits."""


class Missing(enum.Enum):
    """What to do with rows that have a missing or non-finite value.

    ``OMIT`` (the default) is R's ``na.omit``: rows with a missing value (NaN, None, NA) in anything the model uses
    are dropped and listed; an infinite value, in the data or made by a transform (``log(0)``), is an error naming
    the term and rows, as R's ``NA/NaN/Inf in 'y'``. ``DROP`` drops those rows too, with one warning naming them.
    ``RAISE`` makes every missing or non-finite value an error.
    """

    OMIT = "omit"
    DROP = "drop"
    RAISE = "raise"


class Style(enum.Enum):
    """Column naming of :meth:`Influence.to_frame`."""

    REGDIAG = "regdiag"
    R = "R"
    STATSMODELS = "statsmodels"
    SAS = "SAS"


class CurvatureKind(enum.Enum):
    """Curvature of the influence engine (:func:`regdiag.engine.influence`)."""

    EXACT = "exact"
    GAUSS_NEWTON = "gauss_newton"
    KFAC = "kfac"
    EKFAC = "ekfac"
    DIAGONAL = "diagonal"
    IDENTITY = "identity"


class SolverKind(enum.Enum):
    """Linear solver of the influence engine."""

    DIRECT = "direct"
    CG = "cg"
    LISSA = "lissa"
    LOWRANK = "lowrank"


class Correction(enum.Enum):
    """Influence-function estimate ("none") or the Newton step with the observation removed ("leverage")."""

    NONE = "none"
    LEVERAGE = "leverage"


def as_enum(kind: type[enum.Enum], value: Any, what: str) -> Any:
    """Turn a user string into an enum member, with a message listing the choices."""
    if isinstance(value, kind):
        return value
    for member in kind:
        if isinstance(value, str) and value.lower() == str(member.value).lower():
            return member
    choices = ", ".join(repr(m.value) for m in kind)
    raise ValueError(f"{what}={value!r} is not one of {choices}")


def format_labels(labels: Sequence[Any] | pd.Index, limit: int = 10) -> str:
    """Row labels for a message: ``'a', 'b', 'c' and 7 more``."""
    labels = list(labels)
    shown = ", ".join(repr(x.item() if isinstance(x, np.generic) else x) for x in labels[:limit])
    if len(labels) > limit:
        shown += f" and {len(labels) - limit} more"
    return shown


def nonfinite_report(values: np.ndarray, columns: Sequence[str], index: pd.Index) -> list[tuple[str, list[Any]]]:
    """For each column with NaN or infinite values, the row labels that have them."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    bad = ~np.isfinite(values)
    return [(str(columns[j]), list(index[bad[:, j]])) for j in np.flatnonzero(bad.any(axis=0)).tolist()]


def numeric_vector(value: Any, what: str, index: pd.Index) -> np.ndarray:
    """``value`` as a float vector; text, booleans stored as objects or other non-numbers are an error naming the
    first offending rows (numbers written as strings are refused too, as for a design column)."""
    raw = value.to_numpy() if isinstance(value, pd.Series) else np.asarray(value)
    raw = raw.reshape(-1)
    if raw.dtype.kind in "biuf":
        return raw.astype(float)
    if isinstance(value, pd.Series) and (pd.api.types.is_numeric_dtype(value.dtype) or
                                         pd.api.types.is_bool_dtype(value.dtype)):
        return value.to_numpy(dtype=float, na_value=np.nan)
    bad = [i for i, v in enumerate(raw) if not (isinstance(v, (int, float, np.integer, np.floating))
                                                and not isinstance(v, bool)) and not (v is None or v is pd.NA)]
    if bad:
        labels = index[bad] if len(index) == len(raw) else pd.Index(bad)
        first = raw[bad[0]]
        first = str(first) if isinstance(first, str) else first  # numpy's str_ prints as np.str_('...')
        kind = "text" if isinstance(first, str) else type(first).__name__
        raise DataError(
            f"{what} must be numbers; {kind} values (e.g. {first!r}) at rows {format_labels(labels, 5)}. "
            "Convert the column to numbers first (pandas.to_numeric)"
        )
    return np.array([np.nan if (v is None or v is pd.NA) else float(v) for v in raw], dtype=float)


def check_finite(values: np.ndarray, columns: Sequence[str], index: pd.Index, what: str) -> None:
    """Raise a :class:`DataError` naming the column and rows of any NaN or infinite value."""
    report = nonfinite_report(values, columns, index)
    if report:
        parts = [f"column {col!r} at rows {format_labels(rows, 5)}" for col, rows in report[:5]]
        raise DataError(
            f"{what} has missing or infinite values: " + "; ".join(parts) + ". "
            "Remove or impute them, or pass missing='drop' to drop those rows."
        )


def check_weights(w: np.ndarray, index: pd.Index) -> None:
    """Weights must be finite and non-negative (zero takes a row out of the fit)."""
    check_finite(w, ["weights"], index, "weights")
    neg = w < 0
    if np.any(neg):
        raise DataError(
            f"weights must be non-negative; negative at rows {format_labels(index[neg], 5)}. "
            "Analytic (precision) weights are inverse variances: a weight of 0 takes a row out of the fit."
        )
    if not np.any(w > 0):
        raise DataError("all weights are zero: no observation is left to fit")


def numeric_frame(df: pd.DataFrame, what: str) -> np.ndarray:
    """A float array from a DataFrame whose columns are all numeric (or boolean); names the first offender."""
    for col in df.columns:
        dt = df[col].dtype
        if pd.api.types.is_bool_dtype(dt) or pd.api.types.is_numeric_dtype(dt):
            if isinstance(dt, pd.CategoricalDtype):
                pass
            else:
                continue
        raise DataError(
            f"{what} column {str(col)!r} is not numeric (dtype {dt}). Encode it (for example with "
            "pandas.get_dummies), or use a formula such as 'y ~ x + C(group)', which makes indicator columns."
        )
    try:
        return df.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:  # pragma: no cover - numeric dtypes convert
        raise DataError(f"{what} cannot be converted to floating point: {exc}") from exc
