"""``Surv(time, status) ~ terms + strata(g)``: R's Cox model formula, read with formulaic's parser.

The formula is parsed by :class:`formulaic.Formula`; its left-hand side must be one factor, a call
``Surv(time, status)``, and the right-hand side terms that are calls ``strata(...)`` name the stratification
variables. Each factor's expression is inspected with Python's :mod:`ast` (not by pattern matching on the formula
text). The remaining terms build the design with :func:`regdiag.design.make_design` (R's coding: an intercept is
used for the contrasts and then removed, as ``coxph`` does), so categorical variables, transforms and
interactions behave as in the other fits.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from .._validation import DataError, FormulaParseError, Missing, as_enum, format_labels, numeric_vector
from ..design import make_design

__all__ = ["SurvDesign", "surv_design", "surv_arrays"]

#: column name under which the survival time is handed to the design builder
_TIME = "_regdiag_surv_time_"


@dataclass(frozen=True, eq=False)
class SurvDesign:
    """A validated Cox model design (rows in data order).

    Attributes
    ----------
    X : ndarray of shape (n_obs, n_params)
        Design without intercept.
    time : ndarray of shape (n_obs,)
    status : ndarray of shape (n_obs,)
        1 for an event, 0 for censoring.
    strata : ndarray of int, shape (n_obs,)
        Stratum codes (0 .. n_strata - 1; all 0 without ``strata()``).
    strata_labels : tuple of str
        Label of each stratum code, R's ``g=value`` style.
    weights : ndarray of shape (n_obs,) or None
        Case weights (R's ``coxph(weights = )``), positive; None for all ones.
    entry : ndarray of shape (n_obs,) or None
        Start times of counting-process data (``Surv(start, stop, event)``); ``time`` holds the stop times.
    offset : ndarray of shape (n_obs,) or None
        ``offset(...)`` terms, summed: added to the linear predictor with coefficient 1.
    cluster : ndarray of int, shape (n_obs,), or None
        Cluster codes (``cluster(id)``): the robust variance sums the dfbeta residuals within clusters.
    cluster_labels : pandas.Index
        The label of each cluster code.
    index : pandas.Index
    param_names : tuple of str
    formula : str or None
    dropped : pandas.Index
        Rows removed for missing values.
    """

    X: np.ndarray
    time: np.ndarray
    status: np.ndarray
    strata: np.ndarray
    strata_labels: tuple[str, ...]
    index: pd.Index
    param_names: tuple[str, ...]
    formula: str | None = None
    dropped: pd.Index = field(default_factory=lambda: pd.Index([]))
    strata_names: tuple[str, ...] = ()
    weights: np.ndarray | None = None
    entry: np.ndarray | None = None
    offset: np.ndarray | None = None
    cluster: np.ndarray | None = None
    cluster_labels: pd.Index = field(default_factory=lambda: pd.Index([]))

    def subset(self, keep: np.ndarray) -> SurvDesign:
        """The design on the rows ``keep`` (boolean mask or positions, data order)."""
        def take(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[keep]

        return replace(self, X=self.X[keep], time=self.time[keep], status=self.status[keep],
                       strata=self.strata[keep], index=self.index[keep], weights=take(self.weights),
                       entry=take(self.entry), offset=take(self.offset), cluster=take(self.cluster))

    @property
    def n_obs(self) -> int:
        return int(self.X.shape[0])


def _call(expr: str) -> tuple[str, list[ast.expr]] | None:
    try:
        tree = ast.parse(expr, mode="eval").body
    except SyntaxError:
        return None
    if isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name):
        return tree.func.id, list(tree.args)
    return None


def _evaluate(arg: ast.expr, data: pd.DataFrame, formula: str, what: str) -> pd.Series:
    """A ``Surv``/``strata`` argument: a column name, or an expression evaluated by formulaic (a python factor)."""
    import formulaic

    from ..rformula import R_TRANSFORMS, r_code_to_python

    text = ast.unparse(arg)
    if text in data.columns:  # a name, or R's dotted name (strata(ph.ecog)), not attribute access
        return data[text]
    node = arg
    while isinstance(node, ast.Attribute):  # R's dotted name, a.b.c
        node = node.value
    if isinstance(node, ast.Name):
        raise DataError(f"{what} {text!r} in {formula!r} is not a column of the data; "
                        f"columns are {list(map(str, data.columns))}")
    try:
        with np.errstate(all="ignore"):
            code = r_code_to_python(text, frozenset(map(str, data.columns)))
            mm = formulaic.model_matrix(f"0 + {{{code}}}", data, na_action="ignore", context=R_TRANSFORMS)
    except Exception as exc:
        raise DataError(f"cannot evaluate {what} {text!r} in {formula!r}: {exc}") from exc
    if mm.shape[1] != 1:
        raise DataError(f"{what} {text!r} in {formula!r} must give one column; it gives {list(mm.columns)}")
    return pd.Series(np.asarray(mm)[:, 0], index=data.index, name=text)


def _check_term_names(formula: str, terms: list[str], data: pd.DataFrame,
                      context: Mapping[str, Any] | None) -> list[str]:
    """The data columns the covariates use; those that are not columns of the data are an error with the user's
    formula and columns (the design is built with the survival time under an internal column name)."""
    from .. import rformula

    cols = [str(c) for c in data.columns]
    parsed = rformula.parse(f"{_TIME} ~ " + " + ".join(terms), [*cols, _TIME])
    used, unknown = rformula.used_columns(parsed, [*cols, _TIME], context)
    if unknown:
        raise DataError(f"the formula {formula!r} uses {', '.join(map(repr, unknown))}, not a column of the data; "
                        f"columns are {cols}")
    return [c for c in used if c != _TIME and c in data.columns]


def _categories_of(arg: ast.expr) -> ast.expr:
    """A strata argument without a ``factor(x)`` / ``as.factor(x)`` around it: the strata are the values of ``x``
    either way."""
    if (isinstance(arg, ast.Call) and len(arg.args) == 1 and not arg.keywords
            and ast.unparse(arg.func) in ("factor", "as.factor", "as_factor")):
        return arg.args[0]
    return arg


def _status_codes(s: pd.Series, index: pd.Index, what: str) -> np.ndarray:
    """R's ``Surv`` status: 0/1, FALSE/TRUE, or 1/2 (2 = event)."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=float, na_value=np.nan)
    if not pd.api.types.is_numeric_dtype(s.dtype):
        raise DataError(f"{what} must be 0/1, TRUE/FALSE or 1/2 (2 = event); it has dtype {s.dtype}")
    v = s.to_numpy(dtype=float, na_value=np.nan)
    fin = v[np.isfinite(v)]
    vals = set(np.unique(fin).tolist())
    if vals <= {0.0, 1.0}:
        return v
    if vals <= {1.0, 2.0}:
        return v - 1.0
    bad = np.isfinite(v) & ~np.isin(v, [0.0, 1.0])
    raise DataError(
        f"{what} must be 0/1 (1 = event), TRUE/FALSE or 1/2 (2 = event); values {sorted(vals)[:5]} at rows "
        f"{format_labels(index[bad], 5)}"
    )


@dataclass(frozen=True)
class _Parsed:
    """The pieces of a Cox formula: ``Surv``'s arguments, the special terms' arguments, the other terms."""

    surv: list[ast.expr]
    strata: list[ast.expr]
    offset: list[ast.expr]
    cluster: list[ast.expr]
    terms: list[str]


_SPECIALS = ("strata", "offset", "cluster")


def _parse(formula: str) -> _Parsed:
    """Split ``Surv(...) ~ terms + strata(g) + offset(o) + cluster(id)`` (formulaic's parser, then :mod:`ast`)."""
    import formulaic

    try:
        parsed = formulaic.Formula(formula)
    except Exception as exc:
        raise FormulaParseError(f"cannot parse the formula {formula!r}: {exc}", formula=formula) from exc
    if not hasattr(parsed, "lhs"):
        raise DataError(f"the formula {formula!r} needs a response Surv(time, status) on the left of '~'")
    lhs_factors = [f for term in parsed.lhs for f in term.factors]
    call = _call(str(lhs_factors[0].expr)) if len(lhs_factors) == 1 else None
    if call is None or call[0] != "Surv":
        raise DataError(f"the response of {formula!r} must be Surv(time, status) or Surv(start, stop, event)")
    if len(call[1]) not in (2, 3):
        raise DataError(f"Surv(...) in {formula!r} needs two arguments (time, status) or three (start, stop, "
                        f"event); got {len(call[1])}")
    special: dict[str, list[ast.expr]] = {k: [] for k in _SPECIALS}
    terms: list[str] = []
    for term in parsed.rhs:
        factors = list(term.factors)
        kinds = [(_call(str(f.expr)) or ("", []))[0] for f in factors]
        if "tt" in kinds:
            raise DataError(f"{formula!r}: tt() (time-transformed covariates, R's coxph(tt = )) is not supported; "
                            "split the follow-up into intervals with the covariate's value on each and use "
                            "Surv(start, stop, event)")
        hit = [k for k in kinds if k in _SPECIALS]
        if hit:
            if len(factors) > 1:
                raise DataError(f"{formula!r}: {hit[0]}() cannot be part of an interaction ({term})")
            args = _call(str(factors[0].expr))[1]  # type: ignore[index]
            if hit[0] != "strata" and len(args) != 1:
                raise DataError(f"{formula!r}: {hit[0]}() takes one argument ({term})")
            special[hit[0]].extend(args)
            continue
        if str(term) in ("1", "0"):
            continue
        terms.append(str(term))
    if len(special["cluster"]) > 1:
        raise DataError(f"{formula!r}: give one cluster() term")
    if not terms:
        raise DataError(f"the formula {formula!r} has no covariates on the right-hand side")
    return _Parsed(surv=call[1], strata=special["strata"], offset=special["offset"], cluster=special["cluster"],
                   terms=terms)


def _numeric_column(arg: ast.expr, data: pd.DataFrame, formula: str, what: str) -> np.ndarray:
    col = _evaluate(arg, data, formula, what)
    if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
        raise DataError(f"{what} {st_name(arg)!r} must be numeric; it has dtype {col.dtype}")
    return col.to_numpy(dtype=float, na_value=np.nan)


def _response(pf: _Parsed, data: pd.DataFrame, formula: str) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """``(entry or None, time, status)`` from ``Surv(time, status)`` or ``Surv(start, stop, event)``."""
    *times, st_arg = pf.surv
    entry = _numeric_column(times[0], data, formula, "the start time") if len(times) == 2 else None
    t = _numeric_column(times[-1], data, formula, "the stop time" if entry is not None else "the survival time")
    status = _evaluate(st_arg, data, formula, "the status")
    s = _status_codes(status, data.index, f"the status {st_name(st_arg)!r}")
    return entry, t, s


def _check_times(entry: np.ndarray | None, t: np.ndarray, index: pd.Index) -> None:
    if entry is None:
        neg = np.isfinite(t) & (t < 0)
        if neg.any():
            raise DataError(f"survival times must be >= 0; negative at rows {format_labels(index[neg], 5)}")
        return
    bad = np.isfinite(t) & np.isfinite(entry) & ~(entry < t)
    if bad.any():
        raise DataError(f"Surv(start, stop, event) needs start < stop on every row (as R's coxph); not at rows "
                        f"{format_labels(index[bad], 5)}")


def surv_design(
    formula: str, data: Any, *, weights: Any = None, missing: str | Missing = "drop",
    context: Mapping[str, Any] | None = None, cluster: Any = None,
) -> SurvDesign:
    """Build a :class:`SurvDesign` from ``"Surv(time, status) ~ x + strata(g)"`` (or ``Surv(start, stop, event)``,
    with ``offset(o)`` and ``cluster(id)`` terms) and a DataFrame; ``cluster`` may also be a column name."""
    missing_ = as_enum(Missing, missing, "missing")
    if isinstance(data, Mapping):
        data = pd.DataFrame(dict(data))
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame (or a dict of columns), not {type(data).__name__}")
    if not data.index.is_unique:
        raise DataError("the data's row labels are not unique; reset the index (data.reset_index(drop=True))")
    pf = _parse(formula)
    entry, t, s = _response(pf, data, formula)
    st_cols = [_evaluate(_categories_of(a), data, formula, "the strata variable") for a in pf.strata]
    offs = [_numeric_column(a, data, formula, "the offset") for a in pf.offset]
    cl_col = _cluster_column(pf, cluster, data, formula)
    index = data.index
    w = _weights(weights, data)
    bad = ~np.isfinite(t) | ~np.isfinite(s)
    for extra in [entry, w, *offs]:
        if extra is not None:
            bad |= ~np.isfinite(extra)
    for col in [*st_cols, *([cl_col] if cl_col is not None else [])]:
        bad |= col.isna().to_numpy()
    used = _check_term_names(formula, pf.terms, data, context)
    if missing_ is Missing.RAISE:
        covariates = data[used].isna().any(axis=1).to_numpy() if used else np.zeros(len(index), dtype=bool)
        if (bad | covariates).any():
            raise DataError(
                f"the survival times, status, strata, offset, cluster or covariates have missing values at rows "
                f"{format_labels(index[bad | covariates], 5)}. Remove them, or pass missing='drop'."
            )
    _check_times(entry, t, index)
    keep = ~bad
    sub = data.loc[keep].assign(**{_TIME: t[keep]})
    design = make_design(f"{_TIME} ~ " + " + ".join(pf.terms), data=sub, missing=missing_, context=context)
    pos = data.index.get_indexer(design.index)
    names = list(design.param_names)
    X = np.asarray(design.X, dtype=float)
    if "Intercept" in names:
        j = names.index("Intercept")
        X = np.delete(X, j, axis=1)
        names.pop(j)
    codes, labels = _strata_codes([c.iloc[pos] for c in st_cols], tuple(ast.unparse(a) for a in pf.strata),
                                  len(pos))
    if s[pos].sum() == 0:
        raise DataError(f"{formula!r}: the data have no events (status is 0 on every row)")
    cl_codes, cl_labels = (None, pd.Index([])) if cl_col is None else _cluster_codes(cl_col.iloc[pos])
    return SurvDesign(
        X=np.ascontiguousarray(X), time=t[pos], status=s[pos], strata=codes, strata_labels=labels,
        index=design.index, param_names=tuple(names), formula=formula, dropped=index[bad].append(design.dropped),
        strata_names=tuple(ast.unparse(a) for a in pf.strata), weights=None if w is None else w[pos],
        entry=None if entry is None else entry[pos], offset=np.sum([o[pos] for o in offs], axis=0) if offs else None,
        cluster=cl_codes, cluster_labels=cl_labels,
    )


def _cluster_column(pf: _Parsed, cluster: Any, data: pd.DataFrame, formula: str) -> pd.Series | None:
    if cluster is not None and pf.cluster:
        raise DataError(f"{formula!r} has a cluster() term; do not also pass cluster=")
    if pf.cluster:
        return _evaluate(pf.cluster[0], data, formula, "the cluster variable")
    if cluster is None:
        return None
    if isinstance(cluster, str):
        return _named_column("cluster", cluster, data)
    col = pd.Series(np.asarray(cluster), index=data.index) if not isinstance(cluster, pd.Series) else cluster
    if len(col) != len(data):
        raise DataError(f"cluster has {len(col)} values but the data have {len(data)} rows")
    return col


def _named_column(argument: str, column: str, data: pd.DataFrame) -> pd.Series:
    """``data[column]`` for an argument given as a column name; an error naming the argument and the columns there
    are when there is no such column."""
    if column not in data.columns:
        raise DataError(f"{argument}={column!r} is not a column of the data; "
                        f"columns are {list(map(str, data.columns))}")
    return data[column]


def _cluster_codes(col: pd.Series) -> tuple[np.ndarray, pd.Index]:
    codes, uniques = pd.factorize(col, sort=True)
    return codes.astype(np.intp), pd.Index(uniques)


def _weights(weights: Any, data: pd.DataFrame) -> np.ndarray | None:
    """Case weights: None, a column name or an array of the data's length; positive where finite."""
    if weights is None:
        return None
    if isinstance(weights, str):
        what, values = f"weights (column {weights!r})", _named_column("weights", weights, data)
    else:
        what, values = "weights", weights
    w = numeric_vector(values, what, data.index)
    if len(w) != len(data):
        raise DataError(f"{what} has {len(w)} values but the data have {len(data)} rows")
    return _check_positive(w, data.index, what)


def _check_positive(w: np.ndarray, index: pd.Index, what: str) -> np.ndarray:
    bad = np.isfinite(w) & (w <= 0)
    if bad.any():
        raise DataError(f"{what} must be positive (as R's coxph requires); not at rows {format_labels(index[bad], 5)}. "
                        "Leave rows out of the data instead of giving them weight 0")
    return w


def st_name(arg: ast.expr) -> str:
    return ast.unparse(arg)


def _strata_codes(
    cols: list[pd.Series], names: tuple[str, ...], n: int
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer codes of the combinations of the strata variables (R's ``strata(a, b)``: ``a=1, b=2``), in sorted
    order of the values."""
    if not cols:
        return np.zeros(n, dtype=np.intp), ()
    frame = pd.DataFrame({f"v{k}": c.to_numpy() for k, c in enumerate(cols)})
    keys = frame.drop_duplicates().sort_values(list(frame.columns)).reset_index(drop=True)
    keys["_code"] = np.arange(len(keys))
    codes = frame.merge(keys, how="left", on=list(frame.columns))["_code"].to_numpy(dtype=np.intp)
    labels = tuple(
        ", ".join(f"{nm}={row[f'v{k}']}" for k, nm in enumerate(names)) for _, row in keys.iterrows()
    )
    return codes, labels


def surv_arrays(
    time: Any, status: Any, X: Any, strata: Any = None, *, weights: Any = None, names: Any = None, index: Any = None
) -> SurvDesign:
    """A :class:`SurvDesign` from arrays (no formula): ``X`` used as given (no intercept)."""
    Xa = np.asarray(X, dtype=float)
    if Xa.ndim == 1:
        Xa = Xa[:, None]
    n = Xa.shape[0]
    idx = pd.Index(index) if index is not None else (X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(n))
    if names is None:
        if isinstance(X, pd.DataFrame):
            names = [str(c) for c in X.columns]
        else:
            names = [f"x{j + 1}" for j in range(Xa.shape[1])]
    t = np.asarray(time, dtype=float).reshape(-1)
    s = np.asarray(status, dtype=float).reshape(-1)
    if len(t) != n or len(s) != n:
        raise DataError(f"time has {len(t)}, status {len(s)} values, but X has {n} rows")
    for what, v in (("time", t), ("status", s), ("X", Xa)):
        bad = ~np.isfinite(v.reshape(n, -1)).all(axis=1)
        if bad.any():
            raise DataError(f"{what} has missing or infinite values at rows {format_labels(idx[bad], 5)}")
    if not np.isin(s, [0.0, 1.0]).all():
        raise DataError(f"status must be 0 or 1; other values at rows {format_labels(idx[~np.isin(s, [0.0, 1.0])], 5)}")
    labels: tuple[str, ...]
    if strata is None:
        codes, labels = np.zeros(n, dtype=np.intp), ()
    else:
        codes, labels = _strata_codes([pd.Series(np.asarray(strata).reshape(-1))], ("strata",), n)
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=float).reshape(-1)
        if len(w) != n or not np.isfinite(w).all():
            raise DataError(f"weights must be {n} finite numbers")
        w = _check_positive(w, idx, "weights")
    return SurvDesign(X=np.ascontiguousarray(Xa), time=t, status=s, strata=codes, strata_labels=labels, index=idx,
                      param_names=tuple(map(str, names)), weights=w)
