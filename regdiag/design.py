"""Inputs -> :class:`Design`: a validated design matrix, response, weights, offset, row labels and names.

Three ways in:

* a formula and a DataFrame (formulaic; an intercept is added as in R unless the formula says ``0 +`` or ``- 1``);
* arrays or DataFrames ``y, X`` (X used as given, as statsmodels does: add a column of ones for an intercept);
* a fitted statsmodels results object (its model's endog, exog, weights and row labels).

Rows with a missing value in anything the model uses are dropped and recorded in ``Design.dropped`` (R's
``na.omit``, ``missing="omit"``); an infinite value, in the data or made by a transform, is an error naming the term
and rows unless ``missing="drop"`` (dropped, with a warning) — see :class:`regdiag._validation.Missing`. Formulas are
read as R reads them (:mod:`regdiag.rformula`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._validation import (
    DataError,
    DataWarning,
    Missing,
    TermError,
    as_enum,
    check_finite,
    check_weights,
    format_labels,
    nonfinite_report,
    numeric_frame,
    numeric_vector,
)
from ._warnings import warn, warn_dropped_rows, warn_nan_rows_omitted

__all__ = ["Design", "DesignLabels", "make_design", "design_from_statsmodels"]


class DesignLabels:
    """Mixin for a fit holding ``design`` (anything with ``param_names`` and ``index``) and ``coef`` (shape
    (n_params,)): the coefficient names, the row labels and the coefficients as a labelled Series."""

    __slots__ = ()

    if TYPE_CHECKING:  # what a subclass provides (fields of its dataclass)
        design: Any
        coef: np.ndarray

    @property
    def param_names(self) -> tuple[str, ...]:
        """Coefficient names, one per column of the design."""
        return self.design.param_names

    @property
    def index(self) -> pd.Index:
        """Row labels of the observations."""
        return self.design.index

    @property
    def params(self) -> pd.Series:
        """Coefficients (shape (n_params,)) indexed by ``param_names``."""
        return pd.Series(self.coef, index=list(self.param_names), name="params")


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
    offset_columns : tuple of int
        Columns of ``model_spec``'s matrix that are ``offset(...)`` terms (summed into ``offset``, not in ``X``).
    response_levels : tuple of str or None
        A text or factor response (binomial GLMs): its levels; ``y`` is 0 for the first level and 1 for every other,
        as R's ``glm``.
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
    offset_columns: tuple[int, ...] = ()
    response_levels: tuple[str, ...] | None = None

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
        """Number of rows of the design matrix (after dropping rows with missing values)."""
        return int(self.X.shape[0])

    @property
    def n_params(self) -> int:
        """Number of columns of the design matrix, one per coefficient."""
        return int(self.X.shape[1])

    def design_for(self, data: pd.DataFrame) -> np.ndarray:
        """Design matrix of new data with the same columns (same formula, same categorical levels).

        Parameters
        ----------
        data : pandas.DataFrame or array_like of shape (n_new, n_params)
            New data: the formula's variables for a formula design, the matrix itself otherwise.

        Returns
        -------
        ndarray of shape (n_new, n_params)
            The model matrix of ``data`` (offset columns left out).
        """
        if self.model_spec is None:
            arr = np.asarray(data, dtype=float)
            if arr.ndim == 1:
                arr = arr[:, None]
            if arr.shape[1] != self.n_params:
                raise DataError(f"new data has {arr.shape[1]} columns, the design has {self.n_params}")
            return arr
        from .rformula import R_TRANSFORMS

        mm = np.asarray(self.model_spec.get_model_matrix(data, context=R_TRANSFORMS), dtype=float)
        if self.offset_columns:
            mm = np.delete(mm, list(self.offset_columns), axis=1)
        return mm


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


def _raw_bad_rows(
    data: pd.DataFrame, used: list[str], vectors: list[tuple[str, np.ndarray | None]], index: pd.Index
) -> tuple[np.ndarray, list[tuple[str, list[Any]]], np.ndarray, list[tuple[str, list[Any]]]]:
    """Rows with a missing value (NaN, None, NA) and rows with an infinite value, each with a report by column."""
    n = len(index)
    missing = np.zeros(n, dtype=bool)
    infinite = np.zeros(n, dtype=bool)
    miss_report: list[tuple[str, list[Any]]] = []
    inf_report: list[tuple[str, list[Any]]] = []
    columns: list[tuple[str, Any]] = [(col, data[col]) for col in used]
    columns += [(name, arr) for name, arr in vectors if arr is not None]
    for col, s in columns:
        if isinstance(s, np.ndarray):
            m, i = np.isnan(s), np.isinf(s)
        elif pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            v = s.to_numpy(dtype=float, na_value=np.nan)
            m, i = np.isnan(v), np.isinf(v)
        else:
            m, i = s.isna().to_numpy(), np.zeros(n, dtype=bool)
        if m.any():
            miss_report.append((col, list(index[m])))
            missing |= m
        if i.any():
            inf_report.append((col, list(index[i])))
            infinite |= i
    return missing, miss_report, infinite, inf_report


def _nonfinite_error(report: list[tuple[str, list[Any]]], formula: str, made: bool) -> DataError:
    """Infinite values (in the data, or made by a transform such as log(0)): R stops on them."""
    kind = "model column" if made else "column"
    parts = [f"{kind} {col!r} at rows {format_labels(rows, 5)}" for col, rows in report[:5]]
    return DataError(
        f"the formula {formula!r} gives infinite values (in the data, or from a transform such as log(0) or 1/0) in "
        + "; ".join(parts) + ". R stops here too ('NA/NaN/Inf'); change the transform or the data, or pass "
        "missing='drop' to drop those rows with a warning"
    )


def _materialize(spec_or_formula: Any, frame: pd.DataFrame, ctx: Mapping[str, Any]) -> Any:
    import formulaic

    with np.errstate(all="ignore"):  # log(0) and the like are reported below, by term and row
        if isinstance(spec_or_formula, tuple):
            return tuple(s.get_model_matrix(frame, context=ctx, na_action="ignore") for s in spec_or_formula)
        mm = formulaic.model_matrix(spec_or_formula, frame, na_action="ignore", context=ctx)
        return mm.lhs, mm.rhs


def _build_matrices(formula: str, parsed: Any, data: pd.DataFrame, keep: np.ndarray, ctx: Mapping[str, Any]) -> Any:
    """The model matrices of the kept rows, stateful transforms (poly, ns, bs, scale) fitted on every row.

    R evaluates the variables of a formula on the whole data and only then drops rows with missing values
    (``model.frame`` before ``na.omit``): the knots of ``ns(x, 3)``, the polynomials of ``poly(x, 2)`` and the
    mean of ``scale(x)`` come from all rows with ``x``. Factor levels come from the rows kept (``lm``'s
    ``drop.unused.levels``).
    """
    clean = data if keep.all() else data.loc[keep]
    try:
        lhs, rhs = _materialize(parsed, clean, ctx)
        if not keep.all() and (lhs.model_spec.transform_state or rhs.model_spec.transform_state):
            full_l, full_r = _materialize(parsed, data, ctx)
            specs = tuple(
                m.model_spec.update(encoder_state={}, structure=None) for m in (full_l, full_r)
            )
            lhs, rhs = _materialize(specs, clean, ctx)
    except (DataError, TypeError) as exc:
        raise DataError(f"cannot build the design of {formula!r}: {exc}") from None
    except Exception as exc:  # formulaic's errors carry the offending factor: keep the first line
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        term = _failed_factor(exc)
        raise TermError(f"cannot build the design of {formula!r}: {msg}", formula=formula, term=term,
                        columns=_columns_read(term, data.columns) if term else ()) from None
    return lhs, rhs


def _failed_factor(exc: Exception) -> str | None:
    """The factor named by formulaic's ``FactorEvaluationError`` (which has it in its message only), else None."""
    from formulaic.errors import FactorEvaluationError

    if not isinstance(exc, FactorEvaluationError):
        return None
    m = re.search(r"`(.+?)`", str(exc))
    return m.group(1) if m else None


def _columns_read(term: str, columns: Any) -> list[str]:
    """The columns among ``columns`` that the expression ``term`` names (as whole names)."""
    return [str(c) for c in columns if re.search(rf"(?<![\w.]){re.escape(str(c))}(?![\w.])", term)]


def _single_level_factors(spec: Any) -> list[tuple[str, list[Any]]]:
    out = []
    for fac, (kind, state) in spec.encoder_state.items():
        if getattr(kind, "value", kind) == "categorical":
            levels = _state_levels(state)
            if len(levels) < 2:
                out.append((str(fac), levels))
    return out


#: the ASCII characters other than letters in the order of the Unicode collation (ICU's root order, R's sort on
#: builds with ICU): spaces, punctuation, symbols, currency, digits; letters follow
_COLLATION_ASCII = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789"


def _state_levels(state: Mapping[str, Any]) -> list[Any]:
    """The levels of a categorical factor, from the formula library's encoder state."""
    return list(state.get("categories", state["contrasts"].levels if "contrasts" in state else []))


def _r_collation_key(level: str) -> tuple[list[tuple[int, int, str]], str]:
    """An approximation of R's usual (locale) ordering of text, the Unicode collation: characters other than
    letters by their collation order before letters, letters case-insensitive; lower case first on ties."""

    def weight(ch: str) -> tuple[int, int, str]:
        i = _COLLATION_ASCII.find(ch)
        if i >= 0:
            return 0, i, ""
        if ch.isalpha():
            return 1, 0, ch.casefold()
        return 0, len(_COLLATION_ASCII) if ch.isdigit() else -1, ch

    return [weight(ch) for ch in level], level.swapcase()


def _warn_reference_levels(spec: Any, formula: str) -> None:
    """A text factor whose sorted levels start elsewhere than R's usual order: one warning naming it.

    Text levels are sorted by code point (upper case before lower case: ``'USA' < 'non-USA'``); R sorts them in the
    locale's order (``'non-USA' < 'USA'`` in the usual UTF-8 locales), so it takes another reference level. The fit
    is the same model (fitted values, leverage, Cook's distance), but the factor's coefficients and DFBETAS are
    another parametrization: said here, with the ``relevel`` that gives R's.
    """
    for fac, (kind, state) in spec.encoder_state.items():
        if getattr(kind, "value", kind) != "categorical":
            continue
        levels = _state_levels(state)
        if len(levels) < 2 or not all(isinstance(v, str) for v in levels) or levels != sorted(levels):
            continue  # not text, or an order the user chose
        r_first = min(levels, key=_r_collation_key)
        if r_first != levels[0]:
            warn(
                f"the text factor {fac} in {formula!r} takes {levels[0]!r} as its reference level (levels sorted by "
                f"code point); R, sorting in its locale, takes {r_first!r}: the factor's coefficients and DFBETAS "
                f"differ from R's (fitted values, leverage and Cook's distance do not). For R's reference write "
                f"relevel({fac}, ref={r_first!r})",
                DataWarning,
            )


def _factor_response_levels(lhs: Any) -> list[Any] | None:
    """The levels of a response that is one categorical factor (a text column), else None."""
    states = [st for kind, st in lhs.model_spec.encoder_state.values() if getattr(kind, "value", kind) == "categorical"]
    if len(lhs.model_spec.encoder_state) != 1 or len(states) != 1:
        return None
    st = states[0]
    levels = _state_levels(st)
    if len(levels) < 2 or lhs.shape[1] != len(levels):
        return None
    return levels


def _term_kind(term: Any, fn: str) -> bool:
    """Whether a term is one call of ``fn`` (``offset(...)`` / ``cbind(...)``)."""
    if len(term.factors) != 1 or term.factors[0].eval_method.value != "python":
        return False
    try:
        tree = ast.parse(str(term.factors[0].expr).replace("`", ""), mode="eval")
    except SyntaxError:
        return False
    node = tree.body
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == fn


def _offset_terms(formula: str, parsed: Any) -> list[Any]:
    offsets = [t for t in parsed.rhs if _term_kind(t, "offset")]
    for term in parsed.rhs:
        if len(term.factors) > 1 and any("offset(" in str(f.expr) for f in term.factors):
            raise DataError(
                f"offset(...) in {formula!r} must be a term of its own, added with '+' (as in R: y ~ x + offset(z))"
            )
    return offsets


def _formula_design(
    formula: str,
    data: Any,
    weights: Any,
    offset: Any,
    missing: Missing,
    context: Mapping[str, Any] | None,
    two_column_response: bool = False,
) -> Design:
    """The :class:`Design` of a formula over a DataFrame (see :func:`make_design`)."""
    from . import rformula

    data, parsed, used = _formula_frame(formula, data, context)
    lhs_terms = list(parsed.lhs)
    is_pair = len(lhs_terms) == 1 and _term_kind(lhs_terms[0], "cbind")
    if is_pair and not two_column_response:
        raise DataError(
            f"the response of {formula!r} is two columns (cbind); a successes/failures response is for "
            "binomial GLMs: use regdiag.glm(..., family='binomial')"
        )
    offset_terms = _offset_terms(formula, parsed)
    n = len(data)
    index = data.index
    w = _vector(weights, data, n, index, "weights")
    off = _vector(offset, data, n, index, "offset")

    keep = _raw_rows_kept(data, used, w, off, missing, formula)
    dropped = index[~keep]
    lhs, rhs = _build_matrices(formula, parsed, data[used], keep, {**rformula.R_TRANSFORMS, **(context or {})})
    if w is not None:
        w = w[keep]
    if off is not None:
        off = off[keep]
    _check_factors(rhs.model_spec, formula)

    y, response_name, ycols, response_levels = _formula_response(formula, lhs, lhs_terms[0], is_pair,
                                                                 two_column_response)
    # offset(...) terms: out of the design, into the offset (as R)
    off_idx = [i for t in offset_terms for i in rhs.model_spec.term_indices[t]]
    off_cols = [np.asarray(rhs.iloc[:, i], dtype=float) for i in off_idx]
    x_idx = [i for i in range(rhs.shape[1]) if i not in set(off_idx)]
    X = _column_major(rhs.iloc[:, x_idx] if off_idx else rhs)
    names = tuple(str(rhs.columns[i]) for i in x_idx)
    rindex = rhs.index
    if off_cols:
        total = np.sum(off_cols, axis=0)
        off = total if off is None else off + total

    # stage 2: non-finite values made by transforms (log(0), 1/x, log(-1), ...)
    bad2 = ~np.isfinite(y.reshape(len(y), -1)).all(axis=1) | ~np.isfinite(X).all(axis=1)
    for col in off_cols:
        bad2 |= ~np.isfinite(col)
    if bad2.any():
        off_names = tuple(str(rhs.columns[i]) for i in off_idx)
        _refuse_or_warn_transformed(
            np.column_stack([y, X] + off_cols), ycols + names + off_names, rindex, bad2, missing, formula
        )
        keep2 = ~bad2
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
        formula=formula,
        dropped=dropped,
        has_intercept="Intercept" in names,
        model_spec=rhs.model_spec,
        offset_columns=tuple(off_idx),
        response_levels=response_levels,
    )


def _raw_rows_kept(
    data: pd.DataFrame, used: list[str], w: np.ndarray | None, off: np.ndarray | None, missing: Missing,
    formula: str,
) -> np.ndarray:
    """Stage 1 of a formula's rows: missing values in the raw columns (R's ``na.omit``) are dropped; infinite values
    are an error unless dropped on request (with a warning). Returns the rows kept, of shape (n_obs,)."""
    index = data.index
    miss, miss_report, inf, inf_report = _raw_bad_rows(data, used, [("weights", w), ("offset", off)], index)
    if missing is Missing.RAISE and (miss.any() or inf.any()):
        _drop_or_raise(miss | inf, miss_report + inf_report, index, missing, "the data")
    if inf.any() and missing is Missing.OMIT:
        raise _nonfinite_error(inf_report, formula, made=False)
    if inf.any():
        warn_dropped_rows("with infinite values", index[inf & ~miss])
    keep = ~(miss | inf)
    if not keep.any():
        raise DataError("no rows are left after dropping rows with missing values")
    return keep


def _check_factors(spec: Any, formula: str) -> None:
    """A factor with a single level in the rows used is an error; a text factor whose reference level differs from
    R's warns (:func:`_warn_reference_levels`)."""
    for name, levels in _single_level_factors(spec):
        raise DataError(
            f"the factor {name} in {formula!r} has a single level {levels} in the rows used: a factor needs two or "
            "more levels (R: 'contrasts can be applied only to factors with 2 or more levels'); remove it from "
            "the formula"
        )
    _warn_reference_levels(spec, formula)
    _warn_interaction_coding(spec, formula)


def _warn_interaction_coding(spec: Any, formula: str) -> None:
    """An interaction of factors whose columns are not R's: one warning naming it.

    R codes a factor of a term by its contrasts when the term without that factor is in the model (the intercept
    standing for the empty term), else by indicators of all its levels (``model.matrix``); where that makes the
    columns rank deficient (``a:b`` without ``a`` and ``b`` but with an intercept: one indicator per cell, the last
    aliased) the formula library chooses a full-rank coding of the same space instead. The fit is the same model
    (fitted values, leverage, Cook's distance, DFFITS, COVRATIO), but the term's coefficients, their number and
    DFBETA(S) are not R's: said here, with the term.
    """
    terms = list(getattr(spec, "terms", ()))
    present = {frozenset(str(f) for f in t.factors) - {"1"} for t in terms}
    states = {str(k): v for k, v in spec.encoder_state.items()}
    for term in terms:
        names = [str(f) for f in term.factors]
        if len(names) < 2 or any(getattr(states.get(nm, ("",))[0], "value", None) != "categorical" for nm in names):
            continue
        n_r = 1
        for nm in names:
            k = len(_state_levels(states[nm][1]))
            n_r *= k - 1 if frozenset(names) - {nm} in present else k
        cols = spec.term_indices.get(term, [])
        if len(cols) != n_r:
            warn(
                f"the interaction {term} in {formula!r} is coded with {len(cols)} columns where R's model.matrix "
                f"has {n_r} (one per level of each factor whose other factors have no term of their own, so that "
                "some are aliased): the same model (fitted values, leverage, Cook's distance, DFFITS, COVRATIO), "
                "but the term's coefficients and DFBETAS are another parametrization than R's. Add the main effects "
                "(a * b) for a coding R and regdiag share",
                DataWarning,
            )


def _formula_frame(formula: str, data: Any, context: Mapping[str, Any] | None) -> tuple[pd.DataFrame, Any, list[str]]:
    """The data as a DataFrame, the parsed formula and the columns it uses (an error naming any it lacks)."""
    from . import rformula

    if data is None:
        raise DataError("a formula needs data: pass data=<DataFrame>")
    if isinstance(data, Mapping):
        data = pd.DataFrame(dict(data))
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame (or a dict of columns), not {type(data).__name__}")
    parsed = rformula.parse(formula, [str(c) for c in data.columns])
    used, unknown = rformula.used_columns(parsed, [str(c) for c in data.columns], context)
    if unknown:
        raise DataError(
            f"the formula {formula!r} uses {', '.join(map(repr, unknown))}, not a column of the data; columns are "
            f"{list(map(str, data.columns))}"
        )
    return data, parsed, used


def _formula_response(
    formula: str, lhs: Any, term: Any, is_pair: bool, two_column_response: bool
) -> tuple[np.ndarray, str, tuple[str, ...], tuple[str, ...] | None]:
    """The response of a formula's left-hand side ``lhs`` (model matrix of ``term``).

    Returns ``(y, response_name, ycols, response_levels)``: ``y`` of shape (n_obs,), or (n_obs, 2) for ``cbind``;
    ``ycols`` the names of its columns; ``response_levels`` a factor response's levels (R's glm: the first level
    failure, every other level success), else None.
    """
    if is_pair:
        if lhs.shape[1] != 2:
            raise DataError(f"cbind(...) in {formula!r} must give two numeric columns (successes, failures)")
        args = ast.parse(str(term.factors[0].expr).replace("`", ""), mode="eval").body.args  # type: ignore[attr-defined]
        pair_names = [ast.unparse(a) for a in args]
        return (
            np.asarray(lhs, dtype=float), f"cbind({pair_names[0]}, {pair_names[1]})", tuple(pair_names), None
        )
    levels = _factor_response_levels(lhs)
    if levels is not None and two_column_response:
        response_name = str(term)
        return 1.0 - np.asarray(lhs, dtype=float)[:, 0], response_name, (response_name,), tuple(map(str, levels))
    if lhs.shape[1] != 1:
        raise DataError(
            f"the response of {formula!r} must be one numeric column; it expands to {list(lhs.columns)} "
            "(a text response is for a binomial GLM: regdiag.glm(..., family='binomial'), or write the event, "
            "e.g. I(lfp == 'yes') ~ ...)"
        )
    response_name = str(lhs.columns[0])
    return np.asarray(lhs, dtype=float)[:, 0], response_name, (response_name,), None


def _refuse_or_warn_transformed(
    values: np.ndarray, columns: tuple[str, ...], index: pd.Index, bad: np.ndarray, missing: Missing, formula: str
) -> None:
    """Non-finite values made by a formula's transforms. NaN (the log or square root of a negative number) is a
    missing value, as in R's model frame: ``missing='omit'`` drops its rows with one warning naming them (R drops
    them, warning "NaNs produced"). An infinite value (log(0), 1/0) is an error naming the terms and rows, as R
    stops on it. ``missing='drop'`` drops both with one warning; ``missing='raise'`` refuses both."""
    infinite = np.isinf(values)
    if missing is Missing.RAISE:
        _drop_or_raise(bad, nonfinite_report(values, columns, index), index, missing, f"the formula {formula!r}")
    if missing is Missing.OMIT and infinite.any():
        raise _nonfinite_error(nonfinite_report(np.where(infinite, values, 0.0), columns, index), formula, made=True)
    report = nonfinite_report(values, columns, index)
    detail = ": " + "; ".join(f"{c!r}" for c, _ in report[:5])
    if missing is Missing.OMIT:
        warn_nan_rows_omitted(index[bad], detail)
    else:
        warn_dropped_rows("whose transformed values are not finite", index[bad], detail)


def _array_design(
    y: Any, X: Any, weights: Any, offset: Any, missing: Missing, two_column_response: bool = False
) -> Design:
    """The :class:`Design` of a response and a design matrix given as arrays or pandas objects (see
    :func:`make_design`)."""
    if X is None:
        raise DataError("pass a design matrix X with y (or a formula string and data=...)")
    yv, y_index, ycols, response_name = _array_response(y, two_column_response)
    Xv, x_index, names = _array_matrix(X)
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
    bad = ~np.isfinite(yv.reshape(n, -1)).all(axis=1) | ~np.isfinite(Xv).all(axis=1)
    for arr in (w, off):
        if arr is not None:
            bad |= ~np.isfinite(arr)
    if bad.any():
        keep = _array_rows_kept(yv, Xv, w, off, bad, index, (*ycols, *names), missing)
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


def _array_response(y: Any, two_column_response: bool) -> tuple[np.ndarray, pd.Index | None, tuple[str, ...], str]:
    """The response given as an array, Series or one-column DataFrame (or a (successes, failures) pair).

    Returns ``(y, row labels or None, column names, response name)``; ``y`` of shape (n_obs,), or (n_obs, 2).
    """
    if two_column_response and np.ndim(y) == 2 and np.shape(y)[1] == 2:
        yv, y_index, ycols = _pair_response(y)
        return yv, y_index, ycols, f"cbind({ycols[0]}, {ycols[1]})"
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise DataError(f"y must be one column; got {y.shape[1]} columns {list(y.columns)}")
        y = y.iloc[:, 0]
    y_index = _as_index(y)
    if isinstance(y, pd.Series):
        response_name = str(y.name) if y.name is not None else "y"
        if not (pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype)):
            raise DataError(f"y ({response_name!r}) is not numeric (dtype {y.dtype}); encode it as numbers")
        return y.to_numpy(dtype=float, na_value=np.nan), y_index, (response_name,), response_name
    try:
        yv = np.asarray(y, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"y cannot be converted to numbers: {exc}") from exc
    if yv.ndim == 2 and yv.shape[1] == 1:
        yv = yv[:, 0]
    if yv.ndim != 1:
        raise DataError(f"y must be one-dimensional; got shape {yv.shape}")
    return yv, y_index, ("y",), "y"


def _array_matrix(X: Any) -> tuple[np.ndarray, pd.Index | None, tuple[str, ...]]:
    """The design given as an array, Series or DataFrame: ``(X of shape (n_obs, n_params), row labels or None,
    column names)`` (statsmodels' names for an unnamed array)."""
    if isinstance(X, pd.Series):
        X = X.to_frame()
    x_index = _as_index(X)
    if isinstance(X, pd.DataFrame):
        names = tuple(str(c) for c in X.columns)
        dup = sorted({c for c in names if names.count(c) > 1})
        if dup:
            raise DataError(f"X has duplicated column names {dup}; give every column its own name")
        return numeric_frame(X, "X"), x_index, names
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
    return Xv, x_index, array_names(Xv)


def _array_rows_kept(
    yv: np.ndarray, Xv: np.ndarray, w: np.ndarray | None, off: np.ndarray | None, bad: np.ndarray, index: pd.Index,
    columns: tuple[str, ...], missing: Missing,
) -> np.ndarray:
    """The rows kept when the rows ``bad`` have a missing or non-finite value, by ``missing`` (an error naming the
    columns and rows, or a warning for infinite values dropped on request)."""
    n = len(index)
    # the report is built from the offending rows only (no second copy of the data)
    parts = [yv[bad].reshape(int(bad.sum()), -1), Xv[bad]]
    colnames: list[str] = list(columns)
    for name, arr in (("weights", w), ("offset", off)):
        if arr is not None:
            parts.append(arr[bad][:, None])
            colnames.append(name)
    report = nonfinite_report(np.hstack(parts), colnames, index[bad])
    infinite = np.zeros(n, dtype=bool)
    infinite[bad] = np.isinf(np.hstack(parts)).any(axis=1)
    if infinite.any() and missing is Missing.OMIT:
        inf_report = nonfinite_report(np.where(np.isinf(np.hstack(parts)), np.inf, 0.0), colnames, index[bad])
        parts_txt = "; ".join(f"column {c!r} at rows {format_labels(r, 5)}" for c, r in inf_report[:5])
        raise DataError(
            f"the data have infinite values: {parts_txt}. Remove them, or pass missing='drop' to drop those rows "
            "with a warning"
        )
    if infinite.any() and missing is Missing.DROP:
        warn_dropped_rows("with infinite values", index[infinite])
    return _drop_or_raise(bad, report, index, missing, "the data")


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


def array_names(X: np.ndarray) -> tuple[str, ...]:
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
    missing: str | Missing = "omit",
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
    missing : {"omit", "drop", "raise"}
        ``"omit"`` (R's ``na.omit``): rows with a missing value (NaN, None, NA) are dropped and listed in
        ``fit.design.dropped`` and the summary; an infinite value, in the data or made by a transform such as
        ``log(0)``, is an error naming the term and rows (R's ``NA/NaN/Inf in 'y'``). ``"drop"``: those rows are
        dropped too, with one warning naming them. ``"raise"``: any missing or non-finite value is an error.
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
    """The design of a fitted statsmodels OLS, WLS or GLM model (its own rows, after its own missing handling).

    Parameters
    ----------
    results : statsmodels results or model
        A fitted ``OLS``, ``WLS`` or ``GLM`` (its results, or the model itself).

    Returns
    -------
    Design
        The model's design matrix, response, weights (WLS weights; GLM frequency times variance weights) and offset
        with its column names and row labels.
    """
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
