"""Dask input -> blocks of rows, each turned into an in-memory :class:`regdiag.design.Design` by the workers.

Three ways in, as for the in-memory path:

* Dask arrays ``y, X`` (weights and offset as Dask arrays; numpy arrays are chunked like ``X``): X's row chunks are
  the blocks; a row's label is its position, as for numpy input.
* Dask DataFrames / Series ``y, X`` with the same partitions: partitions are the blocks; labels are the index.
* A formula over a Dask DataFrame (``weights`` and ``offset`` name columns): partitions are the blocks.

Every block goes through :func:`regdiag.design.make_design`, so missing values are dropped (and counted) or reported
naming the column and rows exactly as in memory. A formula's categorical levels are made global before any block is
built: every categorical variable of the formula (text and categorical columns, and the variable of each ``C(x)``
term) is cast in every partition to a pandas Categorical with the levels found in the whole column (a categorical
column with known categories keeps them; otherwise the sorted distinct values, pandas' own order, which is what the
in-memory path gets). formulaic then encodes every partition with the same columns, unused levels included; each
block's parameter names are checked against the others' all the same, and a formula whose transforms keep state
(``center``, ``scale``, ``poly``, splines) is refused: that state would be computed per partition.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd

from .._validation import DataError
from .._warnings import warn_partition_labels
from ..design import Design, array_names, make_design

__all__ = ["Source", "Block", "make_source", "block_design", "is_dask"]

_NO_ROWS = "no rows are left"


def is_dask(obj: Any) -> bool:
    """A Dask collection (array, DataFrame, Series), detected by its module."""
    return type(obj).__module__.split(".")[0] == "dask"


def _is_frame(obj: Any) -> bool:
    """A Dask DataFrame or Series (not a Dask array)."""
    return is_dask(obj) and hasattr(obj, "divisions")


@dataclass(frozen=True)
class BlockSpec:
    """What a worker needs to turn one block's raw data into a Design (small and picklable)."""

    kind: str  # "arrays", "frames" or "formula"
    missing: str
    two_column: bool
    formula: str | None = None
    weights: str | None = None  # formula: column names
    offset: str | None = None
    levels: dict[str, Any] = field(default_factory=dict)
    n_cols: int = 0
    y_name: str = "y"
    intercept_only: bool = False


@dataclass(frozen=True)
class Block:
    """One block of rows after validation.

    Attributes
    ----------
    design : Design or None
        None when no row is left (an empty partition, or every row dropped).
    dropped : pandas.Index
        Labels of the rows dropped for missing values.
    const : ndarray of bool or None
        Arrays input: which columns of the raw block are all ones (statsmodels' "const" naming).
    """

    design: Design | None
    dropped: pd.Index
    const: np.ndarray | None = None


@dataclass(frozen=True)
class Source:
    """The blocks of a Dask input: one Delayed raw tuple per block, and how to validate them."""

    raw: list[Any]
    spec: BlockSpec
    names: tuple[str, ...] | None  # None: decided after the first pass (arrays: const detection)
    description: str
    index_meta: pd.Index  # an empty index with the labels' type
    weighted: bool

    @property
    def n_blocks(self) -> int:
        return len(self.raw)


# ---------------------------------------------------------------------------------------------------------------
# worker side


def block_design(raw: tuple, spec: BlockSpec) -> Block:
    """Validate one block (runs on a worker); see the module docstring."""
    if spec.kind == "formula":
        return _formula_block(raw, spec)
    if spec.kind == "arrays":
        start, y, X, w, off = raw
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X[:, None]
        index = pd.RangeIndex(start, start + X.shape[0])
        y = np.asarray(y)
        y_obj: Any = (
            pd.DataFrame(y, index=index, columns=["successes", "failures"])
            if y.ndim == 2 and y.shape[1] == 2 and spec.two_column
            else pd.Series(y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y, index=index, name=spec.y_name)
        )
        const = np.all(X == 1.0, axis=0) if X.shape[0] else np.ones(X.shape[1], dtype=bool)
        X_obj: Any = pd.DataFrame(X, index=index, columns=list(array_names(X)), copy=False)
    else:  # frames
        y_obj, X_obj, w, off = raw
        const = None
        index = X_obj.index
        if isinstance(X_obj, pd.Series):
            X_obj = X_obj.to_frame()
    if len(index) == 0:
        return Block(None, index[:0], const)
    w = None if w is None else np.asarray(w, dtype=float)
    off = None if off is None else np.asarray(off, dtype=float)
    w, zero_weights = _weights_for_block(w)
    try:
        d = make_design(y_obj, X_obj, weights=w, offset=off, missing=spec.missing, two_column_response=spec.two_column)
    except DataError as exc:
        if str(exc).startswith(_NO_ROWS):
            return Block(None, index, const)
        raise
    return Block(_finish(d, zero_weights, spec), d.dropped, const)


def _weights_for_block(w: np.ndarray | None) -> tuple[np.ndarray | None, bool]:
    """Weights that are all zero in one block are legal (other blocks have positive ones): validate them as ones."""
    if w is None:
        return None, False
    finite = w[np.isfinite(w)]
    if finite.size and np.all(finite == 0):
        return np.where(w == 0, 1.0, w), True
    return w, False


def _finish(d: Design, zero_weights: bool, spec: BlockSpec) -> Design:
    """Zero weights restored (see :func:`_weights_for_block`); the intercept-only design of the null model."""
    if zero_weights:
        d = dataclasses.replace(d, weights=np.zeros(d.n_obs))
    if spec.intercept_only:
        d = dataclasses.replace(d, X=np.ones((d.n_obs, 1)), param_names=("Intercept",))
    return d


def _formula_block(raw: tuple, spec: BlockSpec) -> Block:
    (part,) = raw
    if len(part) == 0:
        return Block(None, part.index[:0])
    part = part.copy()
    for var, levels in spec.levels.items():
        part[var] = pd.Categorical(part[var], categories=levels)
    w = None
    zero_weights = False
    if spec.weights is not None:
        w, zero_weights = _weights_for_block(part[spec.weights].to_numpy(dtype=float, na_value=np.nan))
    try:
        d = make_design(
            spec.formula,
            data=part,
            weights=w,
            offset=spec.offset,
            missing=spec.missing,
            two_column_response=spec.two_column,
        )
    except DataError as exc:
        if str(exc).startswith(_NO_ROWS):
            return Block(None, part.index)
        raise
    state = getattr(d.model_spec, "transform_state", None)
    if state:
        raise DataError(
            f"the formula {spec.formula!r} uses stateful transforms ({', '.join(map(str, state))}) whose state (a "
            "mean, a scale, knots) would be computed partition by partition on Dask; compute those columns first "
            "(for example with dask's own mean and std) and use them in the formula"
        )
    return Block(_finish(d, zero_weights, spec), d.dropped)


# ---------------------------------------------------------------------------------------------------------------
# client side


def _check_missing(missing: str) -> str:
    from .._validation import Missing, as_enum

    return as_enum(Missing, missing, "missing").value


def _as_dask_array(obj: Any, chunks: tuple, what: str) -> Any:
    if obj is None:
        return None
    if is_dask(obj):
        if not hasattr(obj, "rechunk"):
            obj = obj.to_dask_array(lengths=True)
    else:
        obj = np.asarray(obj, dtype=float)
        obj = da.from_array(obj, chunks=(chunks[0],) + tuple((s,) for s in obj.shape[1:]))
    if any(np.isnan(c) for c in obj.chunks[0]):
        raise DataError(f"{what} has unknown chunk sizes; call .compute_chunk_sizes() on it first")
    if obj.shape[0] != sum(chunks[0]):
        raise DataError(f"{what} has {obj.shape[0]} rows but X has {sum(chunks[0])}: they must describe the same rows")
    return obj.rechunk((chunks[0],) + tuple((s,) for s in obj.shape[1:]))


def _array_source(y: Any, X: Any, weights: Any, offset: Any, missing: str, two_column: bool) -> Source:
    if not is_dask(X):
        raise DataError("with a Dask response, pass the design X as a Dask array too (or a formula and data=)")
    X = X if hasattr(X, "rechunk") else X.to_dask_array(lengths=True)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise DataError(f"X must be two-dimensional; got shape {X.shape}")
    if any(np.isnan(c) for c in X.chunks[0]):
        raise DataError("X has unknown chunk sizes; call X.compute_chunk_sizes() first")
    X = X.rechunk({1: -1})
    chunks = X.chunks
    y = _as_dask_array(y, chunks, "y")
    if y.ndim == 2:
        y = y.rechunk({1: -1})
    w = _as_dask_array(weights, chunks, "weights")
    off = _as_dask_array(offset, chunks, "offset")
    y_blocks = y.to_delayed().ravel()
    X_blocks = X.to_delayed().ravel()
    ws = w.to_delayed().ravel() if w is not None else [None] * len(X_blocks)
    offs = off.to_delayed().ravel() if off is not None else [None] * len(X_blocks)
    starts = np.concatenate([[0], np.cumsum(chunks[0])[:-1]]).astype(int)
    raw = [(int(s), yb, Xb, wb, ob) for s, yb, Xb, wb, ob in zip(starts, y_blocks, X_blocks, ws, offs)]
    spec = BlockSpec(kind="arrays", missing=missing, two_column=two_column, n_cols=int(X.shape[1]))
    return Source(
        raw=raw,
        spec=spec,
        names=None,
        description=f"Dask arrays ({X.shape[0]} rows, {len(raw)} blocks)",
        index_meta=pd.RangeIndex(0),
        weighted=w is not None,
    )


def _frame_source(y: Any, X: Any, weights: Any, offset: Any, missing: str, two_column: bool) -> Source:
    if not _is_frame(X):
        raise DataError("with a Dask Series response, pass X as a Dask DataFrame with the same partitions")
    nparts = X.npartitions

    def parts(obj: Any, what: str) -> list[Any]:
        if obj is None:
            return [None] * nparts
        if not _is_frame(obj):
            raise DataError(f"{what} must be a Dask Series with the same partitions as X (or None)")
        if obj.npartitions != nparts:
            raise DataError(f"{what} has {obj.npartitions} partitions but X has {nparts}: repartition them alike")
        return list(obj.to_delayed())

    cols = list(X.columns) if hasattr(X, "columns") else [X.name]
    names = tuple(str(c) for c in cols)
    raw = list(zip(parts(y, "y"), parts(X, "X"), parts(weights, "weights"), parts(offset, "offset")))
    y_name = str(getattr(y, "name", "y")) if getattr(y, "name", None) is not None else "y"
    spec = BlockSpec(kind="frames", missing=missing, two_column=two_column, n_cols=len(cols), y_name=y_name)
    return Source(
        raw=raw,
        spec=spec,
        names=names,
        description=f"Dask DataFrame ({nparts} partitions)",
        index_meta=X._meta.index[:0],
        weighted=weights is not None,
    )


#: Functions that make a factor of their argument: on Dask the column gets global levels first.
_FACTOR_CALLS = frozenset({"C", "factor", "relevel"})


def _calls(parsed: Any) -> list[tuple[str, set[str]]]:
    """(function name, names in its arguments) for every call in the formula's terms, response included."""
    import ast

    from formulaic.utils.code import sanitize_variable_names

    out = []
    for side in (parsed.lhs, parsed.rhs):
        for term in side:
            for factor in term.factors:
                if factor.eval_method.value != "python":
                    continue
                aliases: dict[str, str] = {}
                tree = ast.parse(sanitize_variable_names(str(factor.expr), {}, aliases), mode="eval")
                for node in ast.walk(tree):
                    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                        args = {aliases.get(n.id, n.id) for a in node.args for n in ast.walk(a)
                                if isinstance(n, ast.Name)}
                        out.append((node.func.id, args))
    return out


def _categorical_vars(formula: str, parsed: Any, data: Any) -> dict[str, Any]:
    """Variables of the formula that are encoded as categorical, with their global levels."""
    from ..rformula import used_columns

    used = set(used_columns(parsed, [str(c) for c in data.columns])[0])
    in_factor = {v for fn, args in _calls(parsed) if fn in _FACTOR_CALLS for v in args} & used
    columns = set(map(str, data.columns))
    todo: dict[str, Any] = {}
    for var in sorted(used & columns):
        dt = data[var].dtype
        textual = isinstance(dt, pd.CategoricalDtype) or not (
            pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)
        )
        if textual or var in in_factor:
            todo[var] = data[var]
    if not todo:
        return {}
    lazy = {}
    for var, col in todo.items():
        if isinstance(col.dtype, pd.CategoricalDtype) and col.cat.known and len(col.dtype.categories):
            continue  # levels the data declare (their order, as in memory)
        # found in the data (a categorical read without its levels, whose metadata may even list none): sorted, as
        # pandas sorts the distinct values in memory; not in the order the partitions happen to show them
        lazy[var] = (col.cat.as_unknown().cat.as_known().dtype if isinstance(col.dtype, pd.CategoricalDtype)
                     else col.dropna().unique())
    computed = dict(zip(lazy, dask.compute(*lazy.values()))) if lazy else {}
    levels: dict[str, Any] = {}
    for var, col in todo.items():
        if var in computed:
            val = computed[var]
            values = np.asarray(val.categories if isinstance(val, pd.CategoricalDtype) else val)
            cats = pd.Categorical(values).categories
        else:
            cats = col.dtype.categories
        levels[var] = list(cats)
    return levels


def _check_partition_labels(frame: Any) -> None:
    """Row labels that restart in every partition (``dd.read_csv`` numbers each partition's rows from 0): the
    measures' labels would repeat and name other rows, so one warning says so (read from the first rows of the
    first two partitions)."""
    if frame.npartitions < 2 or frame.known_divisions:
        return
    first, second = dask.compute(frame.partitions[0].head(1, compute=False),
                                 frame.partitions[1].head(1, compute=False))
    if len(first) and len(second) and first.index[0] == second.index[0]:
        warn_partition_labels(first.index[0])


def _refuse_partition_dependent(formula: str, parsed: Any) -> None:
    """Transforms whose value depends on other rows (a mean, knots, the previous row) cannot run partition-wise."""
    from formulaic.transforms import TRANSFORMS

    from ..rformula import R_TRANSFORMS

    known = {**TRANSFORMS, **R_TRANSFORMS}
    used = sorted({
        fn for fn, _ in _calls(parsed)
        if fn == "lag" or (getattr(known.get(fn), "__is_stateful_transform__", False) and fn != "Q")
    })
    if used:
        raise DataError(
            f"the formula {formula!r} uses {', '.join(used)}, whose values depend on other rows (a mean, a scale, "
            "knots, the previous row) and would be computed partition by partition on Dask (a stateful transform); "
            "compute those columns on the whole data first and use them in the formula"
        )


def _formula_source(formula: str, data: Any, weights: Any, offset: Any, missing: str, two_column: bool) -> Source:
    if not (is_dask(data) and hasattr(data, "columns")):
        raise DataError(f"a formula with Dask data needs a Dask DataFrame as data=, not {type(data).__name__}")
    for what, val in (("weights", weights), ("offset", offset)):
        if val is not None and not isinstance(val, str):
            raise DataError(
                f"with a formula over a Dask DataFrame, {what} must name a column of the data (add it with "
                f"data.assign({what}=...)); got {type(val).__name__}"
            )
        if isinstance(val, str) and val not in data.columns:
            raise DataError(f"{what}={val!r} is not a column of the data; columns are {list(map(str, data.columns))}")
    from ..rformula import parse, used_columns

    columns = [str(c) for c in data.columns]
    parsed = parse(formula, columns)
    needed, unknown = used_columns(parsed, columns)
    if unknown:
        raise DataError(
            f"the formula {formula!r} uses {', '.join(map(repr, unknown))}, not a column of the data; "
            f"columns are {columns}"
        )
    cols = [c for c in data.columns if str(c) in needed or c in (weights, offset)]
    _refuse_partition_dependent(formula, parsed)
    levels = _categorical_vars(formula, parsed, data)
    frame = data[cols]
    _check_partition_labels(frame)
    raw = [(p,) for p in frame.to_delayed()]
    spec = BlockSpec(
        kind="formula",
        missing=missing,
        two_column=two_column,
        formula=formula,
        weights=weights,
        offset=offset,
        levels=levels,
    )
    return Source(
        raw=raw,
        spec=spec,
        names=None,
        description=f"Dask DataFrame ({frame.npartitions} partitions)",
        index_meta=data._meta.index[:0],
        weighted=weights is not None,
    )


def make_source(
    y_or_formula: Any,
    X: Any = None,
    *,
    data: Any = None,
    weights: Any = None,
    offset: Any = None,
    missing: str = "omit",
    two_column: bool = False,
) -> Source:
    """The blocks of a Dask input (see the module docstring)."""
    missing = _check_missing(missing)
    if isinstance(y_or_formula, str):
        if X is not None:
            if data is None and is_dask(X):
                data = X
            else:
                raise DataError("with a formula, pass the data as data=<Dask DataFrame>, not as X")
        return _formula_source(y_or_formula, data, weights, offset, missing, two_column)
    if data is not None:
        raise DataError("data= goes with a formula; with arrays pass y and X")
    y = y_or_formula
    if _is_frame(y) or _is_frame(X):
        return _frame_source(y, X, weights, offset, missing, two_column)
    return _array_source(y, X, weights, offset, missing, two_column)
