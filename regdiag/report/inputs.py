"""From what a user names on the command line to a fitted model: a data file or a bundled data set, a formula, a
family and link. Every user mistake becomes a :class:`~regdiag.DataError` whose message is one line saying what is
wrong and how to fix it.
"""

from __future__ import annotations

import difflib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._validation import DataError, FormulaParseError, RegdiagError, ResidualDfError, TermError, format_labels
from ..rformula import formula_error_message, parse, used_columns

__all__ = ["ModelInput", "load_data", "model_input", "fit_model", "one_line", "error_line"]

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
    theta, alpha : float or None
        Negative binomial: a fixed theta (or alpha = 1/theta); None estimates theta as ``MASS::glm.nb``.
    missing : str
        Rows with missing or non-finite values: "omit", "drop" or "raise" (see :func:`regdiag.ols`).
    model : str or None
        A model other than least squares / GLM: "rlm" (robust, with ``psi``) or a statsmodels discrete model
        ("logit", "probit", "poisson", "negbin", "genpoisson", "mnlogit"), fitted by :func:`fit_model`.
    psi : str
        The robust fit's psi function.
    """

    data: pd.DataFrame
    formula: str
    family: str | None
    link: str | None
    weights: str | None
    label: str
    theta: float | None = None
    alpha: float | None = None
    missing: str = "omit"
    model: str | None = None
    psi: str = "huber"


def one_line(message: str | BaseException) -> str:
    """A message on one line: terminal colour codes removed, line breaks and runs of spaces collapsed.

    Parameters
    ----------
    message : str or BaseException
        The message, or an exception whose text is the message.

    Returns
    -------
    str
    """
    message = re.sub(r"\x1b\[[0-9;]*m", "", str(message))
    message = message.replace("⧛", "").replace("⧚", "")
    return re.sub(r"\s+", " ", message).strip()


#: lists longer than this in an error message are shortened to their first few items and a count
MAX_LISTED = 8


def shorten_lists(message: str, keep: int = 4) -> str:
    """Python lists of more than :data:`MAX_LISTED` quoted items in a message (``['a', 'b', ...]``) shortened to the
    first ``keep`` and how many there are in all."""

    def short(m: re.Match[str]) -> str:
        items = re.findall(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"", m.group(0))
        items = [a or b for a, b in items]
        if len(items) <= MAX_LISTED:
            return m.group(0)
        return ", ".join(items[:keep]) + f", ... ({len(items)} in all)"

    return re.sub(r"\[(?:\s*(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\s*,?)+\]", short, message)


def error_line(exc: BaseException, data: str | None = None, output: str | None = None) -> str:
    """The one line ``regdiag`` prints for a user mistake: what is wrong (with the file it concerns) and the fix.

    ``OSError``: its text and file (``exc.args[0]`` alone is the error number), with a fix for the common cases
    (the output folder is a file, permission denied, no space left). A wrapped reading error whose first line is
    generic (Dask's "An error occurred while calling the read_parquet method ...") gets the informative part of
    its cause; a parquet file that is not parquet among ``data`` (a file, a glob or a folder) is named.

    Parameters
    ----------
    exc : BaseException
        The error raised.
    data : str, optional
        The data file, glob or folder the command read.
    output : str, optional
        The output folder the command wrote to.

    Returns
    -------
    str
        One line, without a line break.
    """
    if isinstance(exc, OSError) and (exc.strerror or exc.filename):
        return one_line(_os_error(exc, output))
    if isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    elif len(exc.args) == 1 and isinstance(exc.args[0], str):
        text = exc.args[0]
    else:
        text = str(exc) or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, FormulaParseError) and cause is not None and type(cause).__name__ == "FormulaSyntaxError":
        return one_line(formula_error_message(exc.formula, cause))
    if _GENERIC.search(text) and cause is not None:
        detail = _informative(str(cause))
        text = _GENERIC.sub(lambda _: detail, text) if detail else text
    text = _informative(text)
    if data is not None and re.search(r"parquet|magic bytes", text, re.IGNORECASE):
        bad = _not_parquet(data)
        if bad:
            names = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
            return one_line(f"cannot read {data} as parquet: not a parquet file (no PAR1 magic bytes): {names}; "
                            "remove or replace it (every file of a glob or folder must be parquet)")
    # the command line has no start values: point to what it can do instead
    text = re.sub(r"pass start= \(coefficients\)( to start elsewhere| closer to the estimate)?",
                  "try another --link (starting values, start=, are an option of regdiag.glm in Python)", text)
    return shorten_lists(one_line(text))


#: the generic first line Dask puts above a reader's own message
_GENERIC = re.compile(r"An error occurred while calling the \w+ method registered to the \w+ backend\.?")


def _informative(text: str) -> str:
    """``text`` without Dask's generic line and its "Original Message:" prefix."""
    text = _GENERIC.sub("", text)
    text = re.sub(r"Original Message:\s*", "", text)
    return one_line(text)


def _not_parquet(data: str) -> list[str]:
    """Files of ``data`` (a file, a glob, or a folder searched for .parquet / .pq files) that do not start and end
    with parquet's magic bytes ``PAR1``."""
    import glob

    text = str(data)
    if any(c in text for c in "*?["):
        files = [Path(f) for f in sorted(glob.glob(text))]
    elif Path(text).is_dir():
        files = sorted([*Path(text).rglob("*.parquet"), *Path(text).rglob("*.pq")])
    else:
        files = [Path(text)]
    bad = []
    for f in files[:10000]:
        try:
            with open(f, "rb") as fh:
                head = fh.read(4)
                fh.seek(0, 2)
                if fh.tell() >= 8:
                    fh.seek(-4, 2)
                    tail = fh.read(4)
                else:
                    tail = b""
        except OSError:
            continue
        if head != b"PAR1" or tail != b"PAR1":
            bad.append(str(f))
    return bad


def _os_error(exc: OSError, output: str | None) -> str:
    """``strerror: filename`` and what to do about it."""
    import errno

    where = exc.filename if exc.filename2 is None else f"{exc.filename} -> {exc.filename2}"
    what = exc.strerror or str(exc)
    text = f"{what}: {where}" if where is not None else what
    path = Path(str(exc.filename)) if exc.filename is not None else None
    out = Path(output) if output else None
    # the output folder itself, a file in it, or a folder on its path
    about_output = out is not None and path is not None and (path == out or out in path.parents
                                                             or path in out.parents)
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and path is not None and path.is_file():
        if about_output:
            return f"{text}: the output folder {output} is a file (or inside one); choose a folder with -o/--output"
        return f"{text}: a file is in the way of a folder; remove it or choose another path"
    if isinstance(exc, PermissionError):
        if about_output:
            return f"{text}; choose an output folder you can write to with -o/--output"
        return f"{text}; check the permissions of {where}"
    if isinstance(exc, IsADirectoryError):
        return f"{text}; give a file, not a folder"
    if isinstance(exc, FileNotFoundError):
        return f"{text}; check the path"
    if exc.errno == errno.ENOSPC:
        return f"{text}; free some space or choose another output folder with -o/--output"
    return text


#: Fields of a CSV file read as missing: what R's ``write.csv`` and pandas' ``to_csv`` write for a missing value.
#: Other text that pandas would take as missing ("None", "null", "NULL", "n/a", ...) stays text, as in R's
#: ``read.csv``: a level named "None" is a level.
CSV_NA = ["", "NA", "NaN", "nan", "-nan", "<NA>", "#N/A"]


def load_data(path: str | Path, index_col: str | None = None) -> pd.DataFrame:
    """Read a CSV or parquet file; the row labels are ``index_col``, or an unnamed first column (as ``write.csv`` and
    ``DataFrame.to_csv`` write them). :func:`model_input` also takes a first column of distinct text values that the
    formula does not use as the row labels (as ``DataFrame.to_csv`` writes a named index).

    Parameters
    ----------
    path : str or Path
        A CSV file, or a parquet file (suffix ``.parquet``, ``.pq`` or ``.parq``).
    index_col : str, optional
        The column of row labels.

    Returns
    -------
    pandas.DataFrame
        One row per line of the file, indexed by the row labels.

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
            df = pd.read_csv(path, keep_default_na=False, na_values=CSV_NA)
            if df.shape[1] == 1:  # one column: maybe another separator (';' from a European locale, tabs)
                header = str(df.columns[0])
                sep = next((c for c in (";", "\t", "|") if c in header), None)
                if sep is not None:
                    df = pd.read_csv(path, sep=sep, keep_default_na=False, na_values=CSV_NA)
    except ImportError as exc:
        raise DataError(
            f"reading {path.name} needs a parquet engine: pip install pyarrow (or save the table as CSV)"
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataError(
            f"cannot read {path} as CSV: it is not UTF-8 text ({one_line(exc)}); save it as UTF-8 CSV"
        ) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as exc:
        fix = "check that it is a parquet file" if parquet else "check that it is comma-separated with a header line"
        raise DataError(f"cannot read {path} as {kind}: {one_line(str(exc)).rstrip('.')}; {fix}") from exc
    if df.shape[1] == 0 or df.shape[0] == 0:
        raise DataError(f"{path} has no data rows; it needs a header line and one line per observation")
    if index_col:
        if index_col not in df.columns:
            raise DataError(
                f"--index-col {index_col!r} is not a column of {path.name}; "
                f"columns are {', '.join(map(str, df.columns))}"
            )
        df = df.set_index(index_col)
        if not df.index.is_unique:  # the report names rows by their labels
            repeated = df.index[df.index.duplicated()].unique()
            raise DataError(
                f"--index-col {index_col!r} has repeated values ({format_labels(list(repeated), 5)}): row labels "
                "name the rows in the report, so they must be unique; choose a column of unique values, or leave "
                "--index-col out"
            )
    elif str(df.columns[0]).startswith("Unnamed") or str(df.columns[0]) == "":
        df = df.set_index(df.columns[0]).rename_axis(None)
    return df


def _suggest(value: str, choices: list[str]) -> str:
    """``"did you mean 'x'? "`` for the closest choice (ignoring case), or ``""``."""
    lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(value.lower(), list(lower), n=1, cutoff=0.6)
    return f"did you mean {lower[close[0]]!r}? " if close else ""


def check_family(family: str | None, link: str | None) -> None:
    """A family or link typo, with the closest valid name (the GLM code gives the name and the choices as data)."""
    from .._validation import UnknownNameError
    from ..linear.families import make_family

    if family is None:
        if link is not None:
            raise DataError(f"--link {link!r} needs --family (e.g. --family poisson --link {link})")
        return
    try:
        make_family(family, link)
    except UnknownNameError as exc:
        choices = list(exc.choices)
        value = str(exc.value)
        if exc.what == "family" and value.lower().startswith("quasi"):
            # not a typo: the family it names fixes the dispersion at 1, which the quasi family estimates
            hint = ("regdiag has no quasi families (a dispersion estimated for a binomial or Poisson mean): "
                    f"{value[5:].lower() or 'poisson'!r} fixes the dispersion at 1, so its standardized measures, "
                    f"Cook's distance and DFBETAS are not {value}'s; ")
        else:
            hint = _suggest(value, choices)
        raise DataError(f"unknown {exc.what} {exc.value!r}; {hint}choose from {', '.join(map(repr, choices))}") from exc
    except RegdiagError as exc:  # a link the family does not take, ...: the user's option, as given
        raise DataError(one_line(str(exc))) from exc


def model_input(
    data: str | Path | None = None,
    *,
    formula: str | None = None,
    dataset: str | None = None,
    family: str | None = None,
    link: str | None = None,
    weights: str | None = None,
    index_col: str | None = None,
    theta: float | None = None,
    alpha: float | None = None,
    missing: str = "omit",
) -> ModelInput:
    """What to fit: a data file with a formula, a bundled data set (its own formula, family and weights unless
    given), or with nothing at all the bundled default (LifeCycleSavings).

    Parameters
    ----------
    data : str or Path, optional
        A CSV or parquet file (needs ``formula``).
    formula : str, optional
        The model formula (default for a bundled data set: its own).
    dataset : str, optional
        The name of a bundled data set (``regdiag.datasets.names()`` lists them).
    family, link : str, optional
        A GLM family and link (None: least squares).
    weights : str, optional
        Column of weights.
    index_col : str, optional
        The column of row labels of ``data``.
    theta, alpha : float, optional
        Negative binomial: a fixed theta or alpha = 1/theta (None estimates it).
    missing : str
        Rows with missing or non-finite values: "omit", "drop" or "raise".

    Returns
    -------
    ModelInput

    Raises
    ------
    DataError
        Both a data file and a data set, a data file without a formula, a file that cannot be read, an unknown
        data set, family or link, a theta or alpha that is not a positive number, or a formula that does not fit
        the data.
    """
    from .. import datasets

    if data is not None and dataset is not None:
        raise DataError("give either a data file or --dataset, not both")
    if data is not None:
        if not formula:
            df = load_data(data, index_col)
            cols = ", ".join(map(str, df.columns[:6]))
            raise DataError(f'a data file needs a model: add --formula "y ~ x1 + x2" (columns: {cols})')
        df = load_data(data, index_col)
        _check_formula(formula, df)
        if index_col is None:
            df = _row_labels_from_first_column(df, formula, weights)
        _check_response(df, formula, family)
        check_family(family, link)
        _check_theta(family, theta, alpha)
        return ModelInput(df, formula, family, link, weights, Path(data).name, theta, alpha, missing)
    name = dataset or DEFAULT_DATASET
    try:
        info = datasets.info(name)
    except KeyError as exc:
        names = datasets.names()
        raise DataError(
            f"no bundled data set named {name!r}; {_suggest(name, names)}choose from {', '.join(names)}"
        ) from exc
    df = datasets.load(name)
    if formula:
        _check_formula(formula, df)
        _check_response(df, formula, family)
    fam = family if family is not None else (info.get("family") if not formula else None)
    check_family(fam, link)
    _check_theta(fam, theta, alpha)
    return ModelInput(
        df,
        formula or info["formula"],
        fam,
        link,
        weights or (info.get("weights") if not formula else None),
        f"{name} (bundled)",
        theta,
        alpha,
        missing,
    )


def _check_theta(family: str | None, theta: float | None, alpha: float | None) -> None:
    from ..linear.families import make_family

    if theta is None and alpha is None:
        return
    if family is None or make_family(family).name != "negative_binomial":
        raise DataError("--theta and --alpha are the negative binomial's: add --family negative_binomial")
    if theta is not None and alpha is not None:
        raise DataError("give --theta or --alpha, not both (alpha = 1/theta)")
    value = theta if theta is not None else alpha
    if not (value is not None and value > 0 and np.isfinite(value)):
        raise DataError(f"--{'theta' if theta is not None else 'alpha'} must be a positive number; got {value}")


def _formula_variables(formula: str, df: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The data columns used on the left and on the right of ``~`` (read by the formula parser)."""
    try:
        columns = [str(c) for c in df.columns]
        parsed = parse(formula, columns)
    except DataError:
        return [], []
    return used_columns(parsed, columns, side="lhs")[0], used_columns(parsed, columns, side="rhs")[0]


def _text_column(s: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype))


def _row_labels_from_first_column(df: pd.DataFrame, formula: str, weights: str | None) -> pd.DataFrame:
    """A first column of distinct text values that the model does not use becomes the row labels (as pandas writes
    a named index: ``DataFrame.to_csv`` with the index name in the header)."""
    if not isinstance(df.index, pd.RangeIndex) or df.shape[1] < 2:
        return df
    first = df.columns[0]
    col = df[first]
    lhs, rhs = _formula_variables(formula, df)
    if str(first) in lhs or str(first) in rhs or str(first) == weights:
        return df
    if _text_column(col) and col.notna().all() and col.is_unique:
        return df.set_index(first)
    return df


def _sample(s: pd.Series, k: int = 3) -> str:
    vals = [repr(str(v)) for v in pd.unique(s.dropna())[:k]]
    return ", ".join(vals) + (", ..." if s.nunique() > k else "")


def _check_response(df: pd.DataFrame, formula: str, family: str | None = None) -> None:
    """A text column as the response of a model other than a binomial GLM: said in one line, with its values and the
    numeric columns to choose from. (A binomial GLM takes it as R does: first level 0, the others 1.)"""
    from ..linear.families import make_family

    try:
        parsed = parse(formula, [str(c) for c in df.columns])
    except DataError:
        return
    lhs = list(parsed.lhs)
    if len(lhs) != 1 or len(lhs[0].factors) != 1 or lhs[0].factors[0].eval_method.value != "lookup":
        return  # an expression such as I(lfp == 'yes'): evaluated, not a column
    c = str(lhs[0].factors[0].expr)
    if c not in df.columns or not _text_column(df[c]):
        return
    if family is not None:
        try:
            if make_family(family).name == "binomial":
                return
        except Exception:
            return  # the family's own check says what is wrong
    numeric = [str(x) for x in df.columns if not _text_column(df[x])]
    hint = ""
    if df[c].is_unique:
        hint = f" ({c!r} has a different value on every row: to label the rows by it, give --index-col {c})"
    listed = ", ".join(numeric[:6]) + (", ..." if len(numeric) > 6 else "")
    raise DataError(
        f"the response {c!r} of {formula!r} is a text column (values {_sample(df[c])}); the response must be "
        f"numeric: put a numeric column left of '~' (numeric columns: {listed or 'none'}), write the event "
        f"(I({c} == {str(df[c].dropna().iloc[0])!r}) ~ ...) or use --family binomial{hint}"
    )


def _check_formula(formula: str, df: pd.DataFrame) -> None:
    """A formula that cannot be read: what is wrong and where, in words (the formula parser's one-line errors)."""

    parse(formula, [str(c) for c in df.columns])


def _explain_fit_error(spec: ModelInput, exc: RegdiagError) -> str:
    """A fitting error, with what the data say about it: a term reading a text column that cannot be computed with
    (``TermError``), or a text column with a different value on every row (row labels used as a
    factor) that leaves no residual degree of freedom (``ResidualDfError``); else its message."""
    message = one_line(str(exc))
    df = spec.data
    _, rhs = _formula_variables(spec.formula, df)
    text_cols = [c for c in dict.fromkeys(rhs) if c in df.columns and _text_column(df[c])]
    if isinstance(exc, TermError) and exc.term is not None:
        used = [c for c in exc.columns if c in text_cols]
        if used:
            c = used[0]
            return (f"cannot compute {exc.term} in {spec.formula!r}: {c!r} is a text column (values "
                    f"{_sample(df[c])}); use it as it is (a factor) or pick a numeric column")
    if isinstance(exc, ResidualDfError):
        unique = [c for c in text_cols if df[c].is_unique]
        if unique:
            c = unique[0]
            return (f"{message.rstrip('.')}: the text column {c!r} has a different value on every row, so as a "
                    f"factor it fits every row exactly; leave it out of the formula (to label the rows by it, give "
                    f"--index-col {c})")
    return message


#: --model choices beside least squares and GLMs: statsmodels' discrete model classes
DISCRETE = {"logit": "Logit", "probit": "Probit", "poisson": "Poisson", "negbin": "NegativeBinomial",
            "genpoisson": "GeneralizedPoisson", "mnlogit": "MNLogit"}
MODELS = ("ols", "glm", "rlm", *DISCRETE)


def _fit_other(spec: ModelInput) -> Any:
    """A robust fit, or a statsmodels discrete model of the formula's design refitted by regdiag."""
    from ..linear.rlm import rlm

    model = spec.model.lower()  # type: ignore[union-attr]
    if model not in MODELS:
        raise DataError(f"--model {spec.model!r} is not one of {', '.join(MODELS)}; {_suggest(model, list(MODELS))}")
    if spec.family is not None and model != "glm":
        raise DataError(f"--family goes with --model glm (or no --model), not with --model {model}")
    if spec.weights is not None and model != "glm":
        raise DataError(f"--weights is not supported with --model {model}")
    if model == "rlm":
        return rlm(spec.formula, data=spec.data, psi=spec.psi)
    import statsmodels.api as sm

    from ..design import make_design
    from ..linear.discrete import discrete_from_statsmodels

    d = make_design(spec.formula, data=spec.data)
    X = pd.DataFrame(np.asarray(d.X), index=d.index, columns=list(d.param_names))
    y = pd.Series(np.asarray(d.y), index=d.index, name=d.response_name)
    kw = {"offset": np.asarray(d.offset)} if d.offset is not None else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = getattr(sm, DISCRETE[model])(y, X, **kw).fit(disp=0, maxiter=300)
    import dataclasses

    return dataclasses.replace(discrete_from_statsmodels(res), source_design=d)


def fit_model(spec: ModelInput) -> Any:
    """Fit the model: :func:`regdiag.ols` without a family, :func:`regdiag.glm` with one, or the ``model`` asked
    for (robust regression, a discrete model).

    Parameters
    ----------
    spec : ModelInput
        The data and the model.

    Returns
    -------
    fit
        The fitted model (``OLSFit``, ``GLMFit``, ``RLMFit`` or a discrete model's fit).

    Raises
    ------
    RegdiagError
        Of the class the fit raised, with its fields, worded for the command line.
    """
    from ..linear.glm import glm
    from ..linear.ols import ols

    try:
        if spec.model is not None and spec.model.lower() not in ("ols", "glm"):
            return _fit_other(spec)
        if spec.family is None:
            return ols(spec.formula, data=spec.data, weights=spec.weights, missing=spec.missing)
        return glm(spec.formula, data=spec.data, family=spec.family, link=spec.link, weights=spec.weights,
                   theta=spec.theta, alpha=spec.alpha, missing=spec.missing)
    except RegdiagError as exc:
        raise _reworded(exc, shorten_lists(_explain_fit_error(spec, exc))) from exc


def _reworded(exc: RegdiagError, message: str) -> RegdiagError:
    """A copy of ``exc`` (same class, same fields) with the message ``message``."""
    new = type(exc).__new__(type(exc))
    new.__dict__.update(exc.__dict__)
    new.args = (message,)
    return new
