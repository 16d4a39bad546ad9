"""From what a user names on the command line to a fitted model: a data file or a bundled data set, a formula, a
family and link. Every user mistake becomes a :class:`~regdiag.DataError` whose message is one line saying what is
wrong and how to fix it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .._validation import DataError, RegdiagError

__all__ = ["ModelInput", "load_data", "model_input", "fit_model", "one_line"]

DEFAULT_DATASET = "LifeCycleSavings"


@dataclass(frozen=True)
class ModelInput:
    """A data table and the model to fit to it.

    Attributes
    ----------
    data : pandas.DataFrame
    formula : str
    family, link : str or None
        None for a linear model (least squares).
    weights : str or None
        Column of weights (analytic weights; for a binomial GLM the numbers of trials of proportions).
    label : str
        Where the data came from, for titles.
    """

    data: pd.DataFrame
    formula: str
    family: str | None
    link: str | None
    weights: str | None
    label: str


def one_line(message: str) -> str:
    """A message on one line: terminal colour codes removed, line breaks and runs of spaces collapsed."""
    message = re.sub(r"\x1b\[[0-9;]*m", "", str(message))
    message = message.replace("⧛", "").replace("⧚", "")
    return re.sub(r"\s+", " ", message).strip()


def load_data(path: str | Path, index_col: str | None = None) -> pd.DataFrame:
    """Read a CSV or parquet file; the row labels are ``index_col``, or an unnamed first column (as ``write.csv`` and
    ``DataFrame.to_csv`` write them).

    Raises
    ------
    DataError
        The file does not exist, cannot be parsed, is empty, or ``index_col`` is not one of its columns.
    """
    path = Path(path)
    if not path.is_file():
        hint = " (it is a folder)" if path.is_dir() else ""
        raise DataError(f"no such file: {path}{hint}. Give the path of a CSV or parquet file")
    parquet = path.suffix.lower() in (".parquet", ".pq")
    kind = "parquet" if parquet else "CSV"
    try:
        if parquet:
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path)
            if df.shape[1] == 1:  # one column: maybe another separator (';' from a European locale, tabs)
                header = str(df.columns[0])
                sep = next((c for c in (";", "\t", "|") if c in header), None)
                if sep is not None:
                    df = pd.read_csv(path, sep=sep)
    except ImportError as exc:
        raise DataError(
            f"reading {path.name} needs a parquet engine: pip install pyarrow (or save the table as CSV)"
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"cannot read {path} as CSV: it is not UTF-8 text ({one_line(exc)}); save it as UTF-8 CSV") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as exc:
        fix = "check that it is a parquet file" if parquet else "check that it is comma-separated with a header line"
        raise DataError(f"cannot read {path} as {kind}: {one_line(exc).rstrip('.')}; {fix}") from exc
    if df.shape[1] == 0 or df.shape[0] == 0:
        raise DataError(f"{path} has no data rows; it needs a header line and one line per observation")
    if index_col:
        if index_col not in df.columns:
            raise DataError(
                f"--index-col {index_col!r} is not a column of {path.name}; columns are {', '.join(map(str, df.columns))}"
            )
        df = df.set_index(index_col)
    elif str(df.columns[0]).startswith("Unnamed") or str(df.columns[0]) == "":
        df = df.set_index(df.columns[0]).rename_axis(None)
    return df


def _suggest(value: str, choices: list[str]) -> str:
    """``"did you mean 'x'? "`` for the closest choice (ignoring case), or ``""``."""
    lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(value.lower(), list(lower), n=1, cutoff=0.6)
    return f"did you mean {lower[close[0]]!r}? " if close else ""


def _check_family(family: str | None, link: str | None) -> None:
    """A family or link typo, with the closest valid name added to the GLM code's own message."""
    from ..linear.families import FAMILIES, LINKS, make_family

    if family is None:
        if link is not None:
            raise DataError(f"--link {link!r} needs --family (e.g. --family poisson --link {link})")
        return
    try:
        make_family(family, link)
    except RegdiagError as exc:
        msg = one_line(str(exc))
        if msg.startswith("unknown family"):
            raise DataError(msg.replace("; choose", f"; {_suggest(family, list(FAMILIES))}choose", 1)) from exc
        if msg.startswith("unknown link"):
            raise DataError(msg.replace("; choose", f"; {_suggest(str(link), list(LINKS))}choose", 1)) from exc
        if "link" in msg:
            raise DataError(msg) from exc


def model_input(
    data: str | Path | None = None,
    *,
    formula: str | None = None,
    dataset: str | None = None,
    family: str | None = None,
    link: str | None = None,
    weights: str | None = None,
    index_col: str | None = None,
) -> ModelInput:
    """What to fit: a data file with a formula, a bundled data set (its own formula, family and weights unless
    given), or with nothing at all the bundled default (LifeCycleSavings)."""
    from .. import datasets

    if data is not None and dataset is not None:
        raise DataError("give either a data file or --dataset, not both")
    if data is not None:
        if not formula:
            df = load_data(data, index_col)
            cols = ", ".join(map(str, df.columns[:6]))
            raise DataError(f'a data file needs a model: add --formula "y ~ x1 + x2" (columns: {cols})')
        df = load_data(data, index_col)
        _check_family(family, link)
        return ModelInput(df, formula, family, link, weights, Path(data).name)
    name = dataset or DEFAULT_DATASET
    try:
        info = datasets.info(name)
    except KeyError as exc:
        names = datasets.names()
        raise DataError(f"no bundled data set named {name!r}; {_suggest(name, names)}choose from {', '.join(names)}") from exc
    df = datasets.load(name)
    fam = family if family is not None else (info.get("family") if not formula else None)
    _check_family(fam, link)
    return ModelInput(
        df,
        formula or info["formula"],
        fam,
        link,
        weights or (info.get("weights") if not formula else None),
        f"{name} (bundled)",
    )


def fit_model(spec: ModelInput) -> Any:
    """Fit the model: :func:`regdiag.ols` without a family, :func:`regdiag.glm` with one."""
    import regdiag

    try:
        if spec.family is None:
            return regdiag.ols(spec.formula, data=spec.data, weights=spec.weights)
        return regdiag.glm(spec.formula, data=spec.data, family=spec.family, link=spec.link, weights=spec.weights)
    except RegdiagError as exc:
        raise type(exc)(one_line(str(exc))) from exc
