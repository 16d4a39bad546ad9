"""Inputs -> :class:`Design`: a validated design matrix, response, weights, offset, row labels and names.

Three ways in:

* a formula and a DataFrame (formulaic; an intercept is added as in R unless the formula says ``0 +`` or ``- 1``);
* arrays or DataFrames ``y, X`` (X used as given, as statsmodels does: add a column of ones for an intercept);
* a fitted statsmodels results object (its model's endog, exog, weights and row labels).

Rows with a missing or non-finite value in anything the model uses are dropped and recorded in ``Design.dropped``
(``missing="drop"``), or reported in an error naming the column and rows (``missing="raise"``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._validation import (
    DataError,
    Missing,
    as_enum,
    check_finite,
    check_weights,
    format_labels,
    nonfinite_report,
    numeric_frame,
    numeric_vector,
)

__all__ = ["Design", "make_design", "design_from_statsmodels"]


@dataclass(frozen=True, eq=False, slots=True)
class Design:
    """A validated model design. Arrays are read-only.

    Attributes
    ----------
    X : ndarray of shape (n_obs, n_params)
    y : ndarray of shape (n_obs,) or (n_obs, 2)
        Response (two columns only for a binomial successes/failures response).
    weights : ndarray of shape (n_obs,) or None
        Analytic (precision) weights; ``None`` means all ones.
    offset : ndarray of shape (n_obs,) or None
    index : pandas.Index
        Row labels of the rows used.
    param_names : tuple of str
    response_name : str
    formula : str or None
    dropped : pandas.Index
        Row labels removed because of missing or non-finite values.
    has_intercept : bool
    model_spec : object or None
        formulaic's model spec, to build the design of new data with :meth:`design_for`.
    """

    X: np.ndarray
    y: np.ndarray
    weights: np.ndarray | None
    offset: np.ndarray | None
    index: pd.Index
    param_names: tuple[str, ...]
    response_name: str
    formula: str | None = None
    dropped: pd.Index = field(default_factory=lambda: pd.Index([]))
    has_intercept: bool = False
    model_spec: Any = None

    def __post_init__(self) -> None:
        # read-only views: the caller's own arrays (used without a copy when already float64) stay writeable
        for name in ("X", "y", "weights", "offset"):
            arr = getattr(self, name)
            if arr is not None:
                view = arr.view()
                view.flags.writeable = False
                object.__setattr__(self, name, view)

    @property
    def n_obs(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_params(self) -> int:
        return int(self.X.shape[1])

    def design_for(self, data: pd.DataFrame) -> np.ndarray:
        """Design matrix of new data with the same columns (same formula, same categorical levels)."""
        if self.model_spec is None:
            arr = np.asarray(data, dtype=float)
            if arr.ndim == 1:
                arr = arr[:, None]
            if arr.shape[1] != self.n_params:
                raise DataError(f"new data has {arr.shape[1]} columns, the design has {self.n_params}")
            return arr
        mm = self.model_spec.get_model_matrix(data)
        return np.asarray(mm, dtype=float)


_MISSING_VAR = re.compile(r"`([^`]+)` is not present in the dataset")


def _as_index(obj: Any) -> pd.Index | None:
    if isinstance(obj, (pd.Series, pd.DataFrame)):
        return obj.index
    return None


def _drop_or_raise(
    bad_rows: np.ndarray,
    report: list[tuple[str, list[Any]]],
    index: pd.Index,
    missing: Missing,
    what: str,
) -> np.ndarray:
    """Rows to keep. With ``missing=raise`` an error names each column and its bad rows."""
    if not np.any(bad_rows):
        return np.ones(len(index), dtype=bool)
    if missing is Missing.RAISE:
        parts = [f"column {col!r} at rows {format_labels(rows, 5)}" for col, rows in report[:5]]
        raise DataError(
            f"{what} has missing or infinite values: " + "; ".join(parts) + ". "
            "Remove or impute them, or pass missing='drop' to drop those rows."
        )
    return ~bad_rows


def _vector(value: Any, data: pd.DataFrame | None, n: int, index: pd.Index, what: str) -> np.ndarray | None:
    """Weights or offset: None, a column name of ``data``, or an array-like of length n."""
    if value is None:
        return None
    if isinstance(value, str):
        if data is None:
            raise DataError(f"{what}={value!r} names a column, but no data frame was given (pass data=...)")
        if value not in data.columns:
            raise DataError(f"{what}={value!r} is not a column of the data; columns are {list(map(str, data.columns))}")
        what = f"{what} (column {value!r})"
        value = data[value]
    if isinstance(value, pd.Series) and not value.index.equals(index):
        if len(value) == n and isinstance(value.index, pd.RangeIndex) and not isinstance(index, pd.RangeIndex):
            pass
        else:
            raise DataError(f"{what} has row labels that differ from the data's; align it or pass a plain array")
    arr = numeric_vector(value, what, index)
    if arr.shape[0] != n:
        raise DataError(f"{what} has {arr.shape[0]} values but the data have {n} rows")
    return arr


def formula_columns(parsed: Any, columns: pd.Index) -> list[str]:
    """The data columns a parsed formula uses, in the data's order.

    formulaic's ``required_variables`` leaves out the arguments of stateful transforms (``center(x)``,
    ``poly(x, 2)``, ``bs(x)``), so the names in every evaluated factor's expression are collected as well.
    """
    names = {str(v) for v in parsed.required_variables}
    for side in (parsed.lhs, parsed.rhs):
        for term in side:
            for factor in term.factors:
                expr = str(factor.expr)
                if factor.eval_method.value == "lookup":
                    names.add(expr)
                elif factor.eval_method.value == "python":
                    try:
                        tree = ast.parse(expr, mode="eval")
                    except SyntaxError:
                        continue
                    names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return [str(c) for c in columns if str(c) in names]


def _formula_design(
    formula: str,
    data: Any,
    weights: Any,
    offset: Any,
    missing: Missing,
    context: Mapping[str, Any] | None,
    two_column_response: bool = False,
) -> Design:
    import formulaic

    user_formula = formula
    formula, offset_terms = split_offsets(formula)
    pair = _split_cbind(formula)
    if pair is not None:
        if not two_column_response:
            raise DataError(
                f"the response of {formula!r} is two columns (cbind); a successes/failures response is for "
                "binomial GLMs: use regdiag.glm(..., family='binomial')"
            )
        (first, second), rhs_text = pair
        formula = f"{{{first}}} + {{{second}}} ~ {rhs_text}"
    if data is None:
        raise DataError("a formula needs data: pass data=<DataFrame>")
    if isinstance(data, Mapping):
        data = pd.DataFrame(dict(data))
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame (or a dict of columns), not {type(data).__name__}")
    # the offset terms' variables count as used (missing values, unknown names): parsed as python factors
    checked = formula + "".join(f" + {{{e}}}" for e in offset_terms)
    try:
        parsed = formulaic.Formula(checked)
    except Exception as exc:
        raise DataError(f"cannot parse the formula {user_formula!r}: {exc}") from exc
    if not hasattr(parsed, "lhs") or not hasattr(parsed, "rhs"):
        raise DataError(f"the formula {user_formula!r} needs a response on the left of '~'")
    used = formula_columns(parsed, data.columns)
    unknown = [str(v) for v in sorted(parsed.required_variables, key=str) if str(v) not in data.columns]
    if unknown and context is None:
        raise DataError(
            f"the formula {user_formula!r} uses {', '.join(map(repr, unknown))}, not a column of the data; "
            f"columns are {list(map(str, data.columns))}"
        )
    n = len(data)
    index = data.index
    w = _vector(weights, data, n, index, "weights")
    off = _vector(offset, data, n, index, "offset")

    # stage 1: missing values in the raw columns the formula uses (also catches NaN categories)
    bad = np.zeros(n, dtype=bool)
    report: list[tuple[str, list[Any]]] = []
    for col in used:
        s = data[col]
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            b = ~np.isfinite(s.to_numpy(dtype=float, na_value=np.nan))
        else:
            b = s.isna().to_numpy()
        if b.any():
            report.append((col, list(index[b])))
            bad |= b
    for name, arr in (("weights", w), ("offset", off)):
        if arr is not None:
            b = ~np.isfinite(arr)
            if b.any():
                report.append((name, list(index[b])))
                bad |= b
    keep = _drop_or_raise(bad, report, index, missing, "the data")
    dropped = index[~keep]
    clean = data.loc[keep, used] if not keep.all() else data[used]
    if w is not None:
        w = w[keep]
    if off is not None:
        off = off[keep]
    if len(clean) == 0:
        raise DataError("no rows are left after dropping rows with missing values")
    # offset(expr) terms (R's syntax): each evaluated on the data, added to the offset argument as R does
    off_cols: list[np.ndarray] = []
    for expr in offset_terms:
        try:
            with np.errstate(all="ignore"):
                om = formulaic.model_matrix(f"0 + {{{expr}}}", clean, na_action="ignore", context=context)
        except Exception as exc:
            raise DataError(f"cannot evaluate offset({expr}) in {user_formula!r}: {exc}") from exc
        if om.shape[1] != 1:
            raise DataError(f"offset({expr}) in {user_formula!r} must give one numeric column; got {list(om.columns)}")
        off_cols.append(np.asarray(om, dtype=float)[:, 0])

    try:
        with np.errstate(all="ignore"):  # log(0) and the like are reported below, by column and row
            mm = formulaic.model_matrix(formula, clean, na_action="ignore", context=context)
    except Exception as exc:  # formulaic's errors carry the offending factor
        m = _MISSING_VAR.search(str(exc))
        if m:
            raise DataError(
                f"the formula {formula!r} uses {m.group(1)!r}, which is not a column of the data; "
                f"columns are {list(map(str, data.columns))}"
            ) from exc
        raise DataError(f"cannot build the design of {formula!r}: {exc}") from exc
    lhs, rhs = mm.lhs, mm.rhs
    if pair is not None:
        if lhs.shape[1] != 2:
            raise DataError(
                f"cbind(...) in {user_formula!r} must give two numeric columns (successes, failures); it expands to "
                f"{list(lhs.columns)}"
            )
        y = np.asarray(lhs, dtype=float)
        response_name = f"cbind({pair[0][0]}, {pair[0][1]})"
        ycols: tuple[str, ...] = tuple(str(c) for c in lhs.columns)
    else:
        if lhs.shape[1] != 1:
            raise DataError(
                f"the response of {formula!r} must be one numeric column; it expands to {list(lhs.columns)} "
                "(a text or categorical response? encode it as numbers)"
            )
        y = np.asarray(lhs, dtype=float)[:, 0]
        response_name = str(lhs.columns[0])
        ycols = (response_name,)
    X = _column_major(rhs)
    names = tuple(str(c) for c in rhs.columns)
    rindex = rhs.index

    if off_cols:
        total = np.sum(off_cols, axis=0)
        off = total if off is None else off + total
    off_names = tuple(f"offset({e})" for e in offset_terms)

    # stage 2: non-finite values made by transforms (log(0), 1/x, ...)
    bad2 = ~np.isfinite(y.reshape(len(y), -1)).all(axis=1) | ~np.isfinite(X).all(axis=1)
    for col in off_cols:
        bad2 |= ~np.isfinite(col)
    if bad2.any():
        report2 = nonfinite_report(np.column_stack([y, X] + off_cols), ycols + names + off_names, rindex)
        keep2 = _drop_or_raise(bad2, report2, rindex, missing, "the model matrix")
        dropped = dropped.append(rindex[~keep2])
        X, y, rindex = X[keep2], y[keep2], rindex[keep2]
        w = w[keep2] if w is not None else None
        off = off[keep2] if off is not None else None
    if X.shape[1] == 0:
        raise DataError(f"the formula {formula!r} has no terms on the right-hand side")
    if w is not None:
        check_weights(w, rindex)
    return Design(
        X=X,
        y=y,
        weights=w,
        offset=off,
        index=rindex,
        param_names=names,
        response_name=response_name,
        formula=user_formula,
        dropped=dropped,
        has_intercept="Intercept" in names,
        model_spec=rhs.model_spec,
    )


def _array_design(
    y: Any, X: Any, weights: Any, offset: Any, missing: Missing, two_column_response: bool = False
) -> Design:
    if X is None:
        raise DataError("pass a design matrix X with y (or a formula string and data=...)")
    # response
    ycols: tuple[str, ...] | None = None
    if two_column_response and np.ndim(y) == 2 and np.shape(y)[1] == 2:
        yv, y_index, ycols = _pair_response(y)
        response_name = f"cbind({ycols[0]}, {ycols[1]})"
    else:
        if isinstance(y, pd.DataFrame):
            if y.shape[1] != 1:
                raise DataError(f"y must be one column; got {y.shape[1]} columns {list(y.columns)}")
            y = y.iloc[:, 0]
        y_index = _as_index(y)
        if isinstance(y, pd.Series):
            response_name = str(y.name) if y.name is not None else "y"
            if not (pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype)):
                raise DataError(f"y ({response_name!r}) is not numeric (dtype {y.dtype}); encode it as numbers")
            yv = y.to_numpy(dtype=float, na_value=np.nan)
        else:
            response_name = "y"
            try:
                yv = np.asarray(y, dtype=float)
            except (TypeError, ValueError) as exc:
                raise DataError(f"y cannot be converted to numbers: {exc}") from exc
            if yv.ndim == 2 and yv.shape[1] == 1:
                yv = yv[:, 0]
            if yv.ndim != 1:
                raise DataError(f"y must be one-dimensional; got shape {yv.shape}")
    # design
    if isinstance(X, pd.Series):
        X = X.to_frame()
    x_index = _as_index(X)
    if isinstance(X, pd.DataFrame):
        names = tuple(str(c) for c in X.columns)
        dup = sorted({c for c in names if names.count(c) > 1})
        if dup:
            raise DataError(f"X has duplicated column names {dup}; give every column its own name")
        Xv = numeric_frame(X, "X")
    else:
        try:
            Xv = np.asarray(X, dtype=float)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"X cannot be converted to numbers ({exc}); pass a numeric array, or a DataFrame to have the "
                "offending column named"
            ) from exc
        if Xv.ndim == 1:
            Xv = Xv[:, None]
        if Xv.ndim != 2:
            raise DataError(f"X must be two-dimensional; got shape {Xv.shape}")
        names = _array_names(Xv)
    n = yv.shape[0]
    if Xv.shape[0] != n:
        raise DataError(f"y has {n} rows but X has {Xv.shape[0]}: they must describe the same observations")
    if Xv.shape[1] == 0:
        raise DataError("X has no columns")
    if y_index is not None and x_index is not None and not y_index.equals(x_index):
        raise DataError(
            "y and X have different row labels; align them (for example y = y.loc[X.index]) or pass plain arrays"
        )
    index = y_index if y_index is not None else x_index if x_index is not None else pd.RangeIndex(n)
    w = _vector(weights, None, n, index, "weights")
    off = _vector(offset, None, n, index, "offset")
    if ycols is None:
        ycols = (response_name,)
    bad = ~np.isfinite(yv.reshape(n, -1)).all(axis=1) | ~np.isfinite(Xv).all(axis=1)
    for arr in (w, off):
        if arr is not None:
            bad |= ~np.isfinite(arr)
    if bad.any():
        # the report is built from the offending rows only (no second copy of the data)
        parts = [yv[bad].reshape(int(bad.sum()), -1), Xv[bad]]
        colnames: list[str] = [*ycols, *names]
        for name, arr in (("weights", w), ("offset", off)):
            if arr is not None:
                parts.append(arr[bad][:, None])
                colnames.append(name)
        report = nonfinite_report(np.hstack(parts), colnames, index[bad])
        keep = _drop_or_raise(bad, report, index, missing, "the data")
        dropped = index[~keep]
        yv, Xv, index = yv[keep], Xv[keep], index[keep]
        w = w[keep] if w is not None else None
        off = off[keep] if off is not None else None
    else:
        dropped = index[:0]
    if len(index) == 0:
        raise DataError("no rows are left after dropping rows with missing values")
    if w is not None:
        check_weights(w, index)
    const = np.all(Xv == 1.0, axis=0)
    return Design(
        X=np.ascontiguousarray(Xv),
        y=np.ascontiguousarray(yv),
        weights=w,
        offset=off,
        index=index,
        param_names=names,
        response_name=response_name,
        formula=None,
        dropped=dropped,
        has_intercept=bool(const.any()),
    )


_CBIND = re.compile(r"^\s*cbind\s*\((?P<args>.*)\)\s*~(?P<rhs>.*)$", re.DOTALL)


_OFFSET = re.compile(r"(?<![\w.])offset\s*\(")


def split_offsets(formula: str) -> tuple[str, tuple[str, ...]]:
    """``y ~ x + offset(log(t))`` -> (``"y ~ x"``, (``"log(t)"``,)): R's offset terms taken out of the right-hand side.

    Each ``offset(...)`` must be a term of its own (joined with ``+``); a right-hand side left empty becomes ``1``
    (R keeps the intercept). Brackets and quotes inside the argument are respected.
    """
    if "~" not in formula or _OFFSET.search(formula.split("~", 1)[1]) is None:
        return formula, ()
    lhs, rhs = formula.split("~", 1)
    exprs: list[str] = []
    kept: list[str] = []
    pos = 0
    while True:
        m = _OFFSET.search(rhs, pos)
        if m is None:
            kept.append(rhs[pos:])
            break
        depth, quote, j = 1, None, m.end()
        while j < len(rhs) and depth:
            ch = rhs[j]
            if quote:
                quote = None if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
            j += 1
        if depth:
            raise DataError(f"unbalanced brackets in offset(...) of the formula {formula!r}")
        before = rhs[pos : m.start()]
        after = rhs[j:]
        # a term of its own: only '+' (or the start of the right-hand side) before it, '+', '-' or the end after it
        if before.rstrip() and not before.rstrip().endswith("+"):
            raise DataError(
                f"offset(...) in {formula!r} must be a term of its own, added with '+' (as in R: y ~ x + offset(z))"
            )
        if after.strip() and after.lstrip()[0] not in "+-":
            raise DataError(
                f"offset(...) in {formula!r} must be a term of its own, added with '+' (as in R: y ~ x + offset(z))"
            )
        exprs.append(rhs[m.end() : j - 1].strip())
        kept.append(before.rstrip()[:-1] if before.rstrip().endswith("+") else before)
        pos = j
    rest = " ".join(part.strip() for part in kept if part.strip())
    rest = re.sub(r"^\+\s*", "", rest.strip())
    if not rest or rest.startswith("-"):
        rest = f"1 {rest}".strip()
    if not all(exprs):
        raise DataError(f"offset() in {formula!r} needs an argument, e.g. offset(log(exposure))")
    return f"{lhs.rstrip()} ~ {rest}", tuple(exprs)


def _split_cbind(formula: str) -> tuple[tuple[str, str], str] | None:
    """``cbind(a, b) ~ rhs`` -> ((a, b), rhs); None for any other formula. Commas inside brackets do not split."""
    m = _CBIND.match(formula)
    if m is None:
        return None
    args, depth, cur = [], 0, ""
    for ch in m.group("args"):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += ch
    args.append(cur.strip())
    if len(args) != 2 or not all(args):
        raise DataError(
            f"cbind(...) on the left of {formula!r} must have exactly two arguments (successes, failures); got {len(args)}"
        )
    return (args[0], args[1]), m.group("rhs").strip()


def _pair_response(y: Any) -> tuple[np.ndarray, pd.Index | None, tuple[str, str]]:
    """A two-column (successes, failures) response as floats, its row labels and column names."""
    if isinstance(y, pd.DataFrame):
        cols = (str(y.columns[0]), str(y.columns[1]))
        return numeric_frame(y, "y"), y.index, cols
    try:
        yv = np.asarray(y, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"y cannot be converted to numbers: {exc}") from exc
    return yv, None, ("successes", "failures")


def _column_major(frame: pd.DataFrame) -> np.ndarray:
    """The model matrix as a Fortran-ordered float array, one column copy at a time.

    A model matrix is assembled column by column (many pandas blocks): copying each column into a column-major
    array is a handful of contiguous copies, where ``np.asarray`` would interleave the blocks row by row and a
    C-ordered array would then need a transposing copy before the QR (which factors column-major storage).
    """
    out = np.empty(frame.shape, dtype=np.float64, order="F")
    for j in range(frame.shape[1]):
        out[:, j] = frame.iloc[:, j].to_numpy(dtype=np.float64)
    return out


def _array_names(X: np.ndarray) -> tuple[str, ...]:
    """statsmodels' names for an unnamed design: "const" for a column of ones, x1, x2, ... for the others."""
    return const_names(X.shape[1], lambda col: bool(X.shape[0]) and bool(np.all(X[:, col] == 1.0)))


def const_names(k: int, is_const: Callable[[int], bool]) -> tuple[str, ...]:
    """statsmodels' names for ``k`` unnamed columns: "const" for the first column ``col`` for which ``is_const(col)``
    holds (asked in column order, no more once one is found), x1, x2, ... for the others."""
    names, j = [], 1
    const_done = False
    for col in range(k):
        if not const_done and is_const(col):
            names.append("const")
            const_done = True
        else:
            names.append(f"x{j}")
            j += 1
    return tuple(names)


def make_design(
    y_or_formula: Any,
    X: Any = None,
    *,
    data: Any = None,
    weights: Any = None,
    offset: Any = None,
    missing: str | Missing = "drop",
    context: Mapping[str, Any] | None = None,
    two_column_response: bool = False,
) -> Design:
    """Validate user input once and return a :class:`Design`.

    Parameters
    ----------
    y_or_formula : str or array_like of shape (n_obs,)
        A formula such as ``"y ~ x1 + x2"`` (with ``data``), or the response. ``offset(expr)`` terms (R's syntax,
        e.g. ``"y ~ x1 + offset(log(t))"``) are evaluated on the data and added to ``offset``, as R does.
    X : array_like of shape (n_obs, n_params), optional
        Design matrix when ``y_or_formula`` is the response; used as given (no intercept is added).
    data : pandas.DataFrame, optional
        Data for a formula (and for weights/offset given as column names).
    weights, offset : str or array_like of shape (n_obs,), optional
    missing : {"drop", "raise"}
        Drop rows with missing or non-finite values (recorded in ``Design.dropped``) or raise an error naming them.
    context : mapping, optional
        Extra names for formula evaluation (functions or variables not in ``data``).
    two_column_response : bool
        Accept a two-column response (binomial successes and failures): a formula ``"cbind(s, f) ~ x"`` (R's
        notation; each argument a column or an expression such as ``total - s``) or a two-column ``y``. The
        response is then of shape (n_obs, 2).

    Returns
    -------
    Design
    """
    missing_ = as_enum(Missing, missing, "missing")
    if isinstance(y_or_formula, str):
        if X is not None:
            if data is None and isinstance(X, (pd.DataFrame, Mapping)):
                data = X
            else:
                raise DataError("with a formula, pass the data as data=<DataFrame>, not as X")
        return _formula_design(y_or_formula, data, weights, offset, missing_, context, two_column_response)
    if data is not None:
        raise DataError("data= goes with a formula; with arrays pass y and X")
    return _array_design(y_or_formula, X, weights, offset, missing_, two_column_response)


def design_from_statsmodels(results: Any) -> Design:
    """The design of a fitted statsmodels OLS, WLS or GLM model (its own rows, after its own missing handling)."""
    model = getattr(results, "model", results)
    exog = getattr(model, "exog", None)
    endog = getattr(model, "endog", None)
    if exog is None or endog is None:
        raise DataError(f"{type(results).__name__} is not a fitted statsmodels regression model")
    X = np.asarray(exog, dtype=float)
    y = np.asarray(endog, dtype=float)
    names = tuple(str(c) for c in getattr(model, "exog_names", [f"x{j + 1}" for j in range(X.shape[1])]))
    labels = getattr(getattr(model, "data", None), "row_labels", None)
    index = pd.Index(labels) if labels is not None else pd.RangeIndex(X.shape[0])
    w = None
    kind = type(model).__name__
    if kind == "WLS":
        w = np.asarray(model.weights, dtype=float) * np.ones(X.shape[0])
    elif kind == "GLM":
        fw = getattr(model, "freq_weights", None)
        vw = getattr(model, "var_weights", None)
        w = np.ones(X.shape[0])
        if fw is not None:
            w = w * np.asarray(fw, dtype=float)
        if vw is not None:
            w = w * np.asarray(vw, dtype=float)
        if np.all(w == 1.0):
            w = None
    elif kind != "OLS":
        raise DataError(f"statsmodels {kind} models are not supported; pass an OLS, WLS or GLM results object")
    off = getattr(model, "offset", None)
    exposure = getattr(model, "exposure", None)
    if off is not None or exposure is not None:
        total = np.zeros(X.shape[0])
        if off is not None:
            total = total + np.asarray(off, dtype=float)
        if exposure is not None:
            total = total + np.asarray(exposure, dtype=float)  # statsmodels stores log(exposure)
        off = total
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    check_finite(X, names, index, "the statsmodels design")
    ynames = getattr(model, "endog_names", "y")
    check_finite(y.reshape(len(y), -1), [str(ynames)] if y.ndim == 1 else [f"{ynames}[{j}]" for j in
                                                                        range(y.shape[1])], index,
                 "the statsmodels response (fitted with missing='none'?)")
    if w is not None:
        check_weights(w, index)
    return Design(
        X=np.ascontiguousarray(X),
        y=np.ascontiguousarray(y),
        weights=w,
        offset=off,
        index=index,
        param_names=names,
        response_name=str(ynames) if isinstance(ynames, str) else "y",
        formula=model.formula if isinstance(getattr(model, "formula", None), str) else None,
        dropped=pd.Index([]),
        has_intercept=bool(np.any(np.all(X == 1.0, axis=0))),
    )
