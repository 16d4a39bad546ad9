"""R's formula language on top of formulaic.

formulaic parses Wilkinson formulas and evaluates the Python code inside them; R users write R there. This module
adds what R users write, through formulaic's own extension points:

* a parser (:class:`RFormulaParser`, a ``DefaultFormulaParser``) that reads the code of each term as R would:
  ``^`` is a power (``I(age^2)``), dotted column names (``Solar.R``) and R's dotted functions (``as.factor``) are
  names, ``TRUE`` / ``FALSE`` are booleans; and whose ``%in%`` is R's (``a %in% b`` is ``a:b``);
* transforms (:data:`R_TRANSFORMS`) for the functions R users call in formulas: ``factor``, ``as.factor``,
  ``relevel``, ``offset``, ``cbind``, ``c``, ``sqrt``, ``log`` (with ``base``), and ``ns`` / ``bs`` with
  ``splines``' default knots and basis (same columns as R, not only the same column space). formulaic's own
  ``poly`` (R's orthogonal polynomials by the same three-term recurrence), ``scale``, ``I`` and ``C`` are kept;
* :func:`parse`, which returns the parsed formula with a one-line :class:`~regdiag.DataError` for anything the
  language does not support (``|``, random effects, an unknown function), naming the construct and what to write.

The rewriting of term code works on the tokens of Python's tokenizer, never on the formula text with patterns.
"""

from __future__ import annotations

import ast
import functools
import io
import itertools
import keyword
import re
import tokenize
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from formulaic.parser import DefaultFormulaParser, DefaultOperatorResolver
from formulaic.parser.types import Operator, OrderedSet, Token
from formulaic.transforms import TRANSFORMS
from formulaic.utils.code import sanitize_variable_names
from formulaic.utils.stateful_transforms import stateful_transform

from ._validation import DataError

__all__ = [
    "RFormulaParser",
    "R_TRANSFORMS",
    "parse",
    "used_columns",
    "factor",
    "relevel",
    "ns",
    "bs",
    "spline_design",
]

#: R's dotted function names and the names they have in :data:`R_TRANSFORMS`.
R_DOTTED = {
    "as.factor": "factor",
    "as.numeric": "as_numeric",
    "as.double": "as_numeric",
    "as.integer": "as_integer",
    "as.logical": "as_logical",
}


# ---------------------------------------------------------------------------------------------------- transforms


def _values(x: Any) -> Any:
    return x.to_numpy() if isinstance(x, (pd.Series, pd.Index)) else np.asarray(x)


def factor(x: Any, levels: Sequence[Any] | None = None, labels: Sequence[Any] | None = None) -> pd.Categorical:
    """R's ``factor(x)`` / ``as.factor(x)``: a categorical with the sorted distinct values as levels.

    Parameters
    ----------
    x : array_like of shape (n_obs,)
    levels : sequence, optional
        The levels in the order wanted (R's ``factor(x, levels = c(...))``); the first is the reference level of
        treatment contrasts. A value that is not among them is an error (R would make it NA).
    labels : sequence, optional
        New names of the levels, in their order (R's ``factor(x, labels = c(...))``); one per level.

    Returns
    -------
    pandas.Categorical
    """
    if labels is not None:
        cat = factor(x, levels)
        labels = [labels] if isinstance(labels, str) else list(labels)
        if len(labels) != len(cat.categories) or len(set(labels)) != len(labels):
            raise DataError(
                f"factor(..., labels=...) needs one distinct label per level: {len(labels)} labels {labels} for the "
                f"{len(cat.categories)} levels {list(cat.categories)}"
            )
        return cat.rename_categories(dict(zip(cat.categories, labels)))
    if isinstance(x, pd.Categorical) and levels is None:
        return x
    if isinstance(x, pd.Series) and isinstance(x.dtype, pd.CategoricalDtype) and levels is None:
        return x.array  # type: ignore[return-value]
    vals = _values(x)
    if levels is None:
        return pd.Categorical(vals)
    levels = list(levels)
    out = pd.Categorical(vals, categories=levels)
    stray = pd.isna(out) & ~pd.isna(vals)
    if stray.any():
        raise DataError(
            f"factor(..., levels=...) leaves out the values {sorted(map(str, set(vals[stray])))[:5]}; "
            f"list every value among the levels {levels}"
        )
    return out


def relevel(x: Any, ref: Any) -> pd.Categorical:
    """R's ``relevel(x, ref)``: the factor ``x`` with level ``ref`` first (the reference of treatment contrasts).

    Parameters
    ----------
    x : array_like
        Values of a factor (or a categorical).
    ref : object
        The level made first (compared as is and as text).

    Returns
    -------
    pandas.Categorical
        ``x`` with ``ref`` as its first level.
    """
    cat = factor(x)
    cats = list(cat.categories)
    match = [c for c in cats if c == ref or str(c) == str(ref)]
    if not match:
        raise DataError(f"relevel(..., ref={ref!r}): {ref!r} is not a level; the levels are {cats}")
    order = [match[0]] + [c for c in cats if c is not match[0] and c != match[0]]
    return cat.reorder_categories(order)


def _ordered(*_: Any, **__: Any) -> Any:
    raise DataError(
        "ordered(...) factors take polynomial contrasts in R; regdiag's formulas do not: use factor(x) "
        "(treatment contrasts) or poly() of a numeric score"
    )


def _log(x: Any, base: float | None = None) -> Any:
    out = np.log(x)
    return out if base is None else out / np.log(base)


def _as_numeric(x: Any) -> np.ndarray:
    vals = _values(x)
    if isinstance(x, pd.Categorical) or (isinstance(x, pd.Series) and isinstance(x.dtype, pd.CategoricalDtype)):
        raise DataError("as.numeric() of a factor gives R's level codes, not its values: convert the column itself")
    try:
        return np.asarray(vals, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"as.numeric(): the values are not numbers ({exc})") from exc


def _as_integer(x: Any) -> np.ndarray:
    return np.trunc(_as_numeric(x))


def _as_logical(x: Any) -> np.ndarray:
    return np.asarray(_values(x), dtype=bool)


def _round(x: Any, digits: int = 0) -> np.ndarray:
    """R's ``round(x)``: to the nearest integer, halves to even (IEC 60559, as R); only ``digits = 0``."""
    if digits != 0:
        raise DataError(
            f"round(x, {digits!r}): only whole numbers (digits = 0) are rounded inside a formula; round the column "
            "before fitting"
        )
    return np.round(np.asarray(_values(x), dtype=float))


def _c(*args: Any) -> list[Any]:
    out: list[Any] = []
    for a in args:
        out.extend(a if isinstance(a, (list, tuple)) else [a])
    return out


def offset(x: Any) -> np.ndarray:
    """R's ``offset(expr)`` term: a column known on the linear-predictor scale, taken out of the design.

    Parameters
    ----------
    x : array_like of shape (n_obs,)
        Numeric values.

    Returns
    -------
    ndarray of shape (n_obs,)
        The values as floats.
    """
    try:
        return np.asarray(_values(x), dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"offset(...) must be numeric ({exc})") from exc


def cbind(*columns: Any) -> pd.DataFrame:
    """R's ``cbind(successes, failures)`` response of a binomial GLM: two numeric columns.

    Parameters
    ----------
    *columns : array_like of shape (n_obs,)
        Exactly two: the successes and the failures.

    Returns
    -------
    pandas.DataFrame of shape (n_obs, 2)
        Columns ``successes`` and ``failures``.
    """
    if len(columns) != 2:
        raise DataError(
            f"cbind(...) on the left of '~' must have exactly two arguments (successes, failures); got {len(columns)}"
        )
    try:
        cols = [np.asarray(_values(c), dtype=float) for c in columns]
    except (TypeError, ValueError) as exc:
        raise DataError(f"cbind(...) needs two numeric columns ({exc})") from exc
    return pd.DataFrame({"successes": cols[0], "failures": cols[1]})


def spline_design(knots: np.ndarray, x: np.ndarray, order: int, derivs: Any = 0) -> np.ndarray:
    """R's ``splines::splineDesign(knots, x, order, derivs)``: the B-spline basis (or a derivative) at ``x``.

    Parameters
    ----------
    knots : ndarray of shape (n_knots,)
        Non-decreasing knot sequence, boundary knots repeated ``order`` times.
    x : ndarray of shape (n_x,)
        Points in ``[knots[order - 1], knots[-order]]`` (the right end takes the limit from the left, as R).
    order : int
        Spline order (degree + 1).
    derivs : int or array_like of int of shape (n_x,)
        Derivative order at each point.

    Returns
    -------
    ndarray of shape (n_x, n_knots - order)
    """
    from scipy.interpolate import BSpline

    x = np.asarray(x, dtype=float)
    nb = len(knots) - order
    spl = BSpline(np.asarray(knots, dtype=float), np.eye(nb), order - 1, extrapolate=True)
    d = np.broadcast_to(np.asarray(derivs, dtype=int), x.shape)
    out = np.empty((x.shape[0], nb))
    for nu in np.unique(d):
        sel = d == nu
        out[sel] = spl(x[sel], nu=int(nu))
    return out


def _spline_knots(
    x: np.ndarray, df: int | None, knots: Any, n_fixed: int, boundary: Any, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Interior and boundary knots as ``splines::bs``/``ns`` choose them (quantiles at equal probabilities)."""
    xs = x[~np.isnan(x)]
    if xs.size == 0:
        raise DataError(f"{name}(): the variable has no non-missing values")
    bk = np.array([xs.min(), xs.max()]) if boundary is None else np.sort(np.asarray(boundary, dtype=float))
    if knots is not None:
        return np.sort(np.atleast_1d(np.asarray(knots, dtype=float))), bk  # one knot may be a number (R: knots = 3)
    if df is None:
        return np.array([]), bk
    n_inner = int(df) - n_fixed
    if n_inner < 0:
        raise DataError(f"{name}(df={df}) is too small: at least {n_fixed} columns are needed")
    if n_inner == 0:
        return np.array([]), bk
    inside = xs[(xs >= bk[0]) & (xs <= bk[1])]
    probs = np.linspace(0.0, 1.0, n_inner + 2)[1:-1]
    return np.quantile(inside, probs), bk  # numpy's default is R's quantile type 7


def _spline_state(_state: dict, x: np.ndarray, df: Any, knots: Any, n_fixed: int, boundary: Any, name: str) -> Any:
    if "knots" not in _state:
        inner, bk = _spline_knots(x, df, knots, n_fixed, boundary, name)
        _state["knots"] = inner.tolist()
        _state["boundary"] = bk.tolist()
    return np.asarray(_state["knots"], dtype=float), np.asarray(_state["boundary"], dtype=float)


def _basis_inside(
    x: np.ndarray, inner: np.ndarray, boundary: np.ndarray, order: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The B-spline basis of ``order`` on the knots ``inner`` and ``boundary`` at the values of ``x`` within the
    boundary knots; the rows beyond them are left to the caller (each spline extrapolates its own way).

    Parameters
    ----------
    x : ndarray of shape (n_obs,)
        The variable (NaN for a missing value).
    inner : ndarray of shape (n_inner,)
        Interior knots.
    boundary : ndarray of shape (2,)
        Boundary knots.
    order : int
        Order of the splines (degree + 1).

    Returns
    -------
    knots : ndarray of shape (n_inner + 2 order,)
        All knots, the boundary knots repeated ``order`` times.
    basis : ndarray of shape (n_obs, n_inner + order)
        The basis at the rows within the boundary knots, NaN elsewhere.
    left, right : ndarray of bool, shape (n_obs,)
        The rows below and above the boundary knots.
    """
    knots = np.sort(np.concatenate([np.repeat(boundary, order), inner]))
    basis = np.full((x.shape[0], len(knots) - order), np.nan)
    ok = ~np.isnan(x)
    left, right = ok & (x < boundary[0]), ok & (x > boundary[1])
    inside = ok & ~left & ~right
    basis[inside] = spline_design(knots, x[inside], order)
    return knots, basis, left, right


def _basis_columns(out: np.ndarray) -> Any:
    from formulaic.materializers.types import FactorValues

    return FactorValues(out, column_names=tuple(str(j) for j in range(1, out.shape[1] + 1)))


@stateful_transform
def bs(  # pylint: disable=dangerous-default-value
    x: Any,
    df: int | None = None,
    knots: Any = None,
    degree: int = 3,
    intercept: bool = False,
    Boundary_knots: Any = None,  # noqa: N803 - R's argument name
    _state: dict = {},  # noqa: B006 - formulaic replaces it
) -> Any:
    """R's ``splines::bs``: a B-spline basis with R's default knots (``df - degree - 1 + intercept`` interior knots at
    quantiles of ``x``), the same columns as R. Values beyond the boundary knots (new data) are extrapolated by the
    Taylor expansion R uses.

    Parameters
    ----------
    x : array_like of shape (n_obs,)
        The variable.
    df : int, optional
        Degrees of freedom (number of columns); sets the number of interior knots.
    knots : array_like, optional
        Interior knots (instead of ``df``).
    degree : int
        Degree of the piecewise polynomials.
    intercept : bool
        Keep the first basis function (R's ``intercept = TRUE``).
    Boundary_knots : array_like of shape (2,), optional
        Boundary knots (default: the range of ``x``).
    _state : dict
        formulaic's state of the transform: the knots found on the data, reused for new data.

    Returns
    -------
    formulaic FactorValues of shape (n_obs, n_basis)
        The basis columns, named ``1``, ``2``, ... as R.
    """
    xv = np.asarray(_values(x), dtype=float)
    order = int(degree) + 1
    if order < 2:
        raise DataError("bs(): degree must be an integer >= 1")
    inner, bk = _spline_state(_state, xv, df, knots, order - (0 if intercept else 1), Boundary_knots, "bs")
    aknots, out, left, right = _basis_inside(xv, inner, bk, order)
    scale = np.array([float(np.prod(np.arange(1, k + 1))) for k in range(order)])  # factorials
    e = 0.25
    for sel, pivot in (
        (left, (1 - e) * bk[0] + e * aknots[order]),
        (right, (1 - e) * bk[1] + e * aknots[len(aknots) - order - 1]),
    ):
        if sel.any():
            powers = (xv[sel] - pivot)[:, None] ** np.arange(order)[None, :]
            tt = spline_design(aknots, np.full(order, pivot), order, np.arange(order))
            out[sel] = powers @ (tt / scale[:, None])
    if not intercept:
        out = out[:, 1:]
    return _basis_columns(out)


@stateful_transform
def ns(  # pylint: disable=dangerous-default-value
    x: Any,
    df: int | None = None,
    knots: Any = None,
    intercept: bool = False,
    Boundary_knots: Any = None,  # noqa: N803 - R's argument name
    _state: dict = {},  # noqa: B006 - formulaic replaces it
) -> Any:
    """R's ``splines::ns``: a natural cubic spline basis with R's default knots (``df - 1 - intercept`` interior
    knots at quantiles of ``x``) and R's basis (the B-splines projected on the null space of the second derivatives
    at the boundary knots by the same Householder QR), the same columns as R; linear beyond the boundary knots.

    Parameters
    ----------
    x : array_like of shape (n_obs,)
        The variable.
    df : int, optional
        Degrees of freedom (number of columns); sets the number of interior knots.
    knots : array_like, optional
        Interior knots (instead of ``df``).
    intercept : bool
        Keep the first basis function (R's ``intercept = TRUE``).
    Boundary_knots : array_like of shape (2,), optional
        Boundary knots (default: the range of ``x``).
    _state : dict
        formulaic's state of the transform: the knots found on the data, reused for new data.

    Returns
    -------
    formulaic FactorValues of shape (n_obs, n_basis)
        The basis columns, named ``1``, ``2``, ... as R.
    """
    xv = np.asarray(_values(x), dtype=float)
    inner, bk = _spline_state(_state, xv, df, knots, 1 + int(bool(intercept)), Boundary_knots, "ns")
    aknots, basis, left, right = _basis_inside(xv, inner, bk, 4)
    for sel, pivot in ((left, bk[0]), (right, bk[1])):
        if sel.any():
            tt = spline_design(aknots, np.array([pivot, pivot]), 4, np.array([0, 1]))
            basis[sel] = np.column_stack([np.ones(int(sel.sum())), xv[sel] - pivot]) @ tt
    const = spline_design(aknots, bk, 4, np.array([2, 2]))
    if not intercept:
        const, basis = const[:, 1:], basis[:, 1:]
    q, _ = np.linalg.qr(const.T, mode="complete")  # Householder, the same reflectors as R's qr()
    return _basis_columns(basis @ q[:, 2:])


R_TRANSFORMS: dict[str, Any] = {
    "factor": factor,
    "relevel": relevel,
    "ordered": _ordered,
    "as_numeric": _as_numeric,
    "as_integer": _as_integer,
    "as_logical": _as_logical,
    "offset": offset,
    "cbind": cbind,
    "c": _c,
    "log": _log,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "round": _round,
    "floor": np.floor,
    "ceiling": np.ceil,
    "trunc": np.trunc,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "ns": ns,
    "bs": bs,
    "TRUE": True,
    "FALSE": False,
    "T": True,
    "F": False,
    "NULL": None,
}
"""Names available inside formula terms besides formulaic's own transforms (``poly``, ``scale``, ``C``, ``I``,
``exp``, ``log10``, ...)."""

#: Every function name a formula may call.
KNOWN_FUNCTIONS = frozenset(TRANSFORMS) | frozenset(R_TRANSFORMS) | frozenset(R_DOTTED)


# ---------------------------------------------------------------------------------------------------- parser


def r_code_to_python(code: str, columns: frozenset[str]) -> str:
    """The code of one term, read as R: ``^`` -> ``**``, dotted column names quoted, R's dotted functions renamed.

    Works on the tokens of Python's tokenizer (strings and backquoted names are left alone).

    Parameters
    ----------
    code : str
        The code of one term.
    columns : frozenset of str
        The data's column names.

    Returns
    -------
    str
        Python code for formulaic (the input unchanged when it does not tokenize).
    """
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return code
    starts = [0]
    for line in io.StringIO(code).readlines():
        starts.append(starts[-1] + len(line))

    def offset_of(pos: tuple[int, int]) -> int:
        return starts[pos[0] - 1] + pos[1]

    edits: list[tuple[int, int, str]] = []
    in_quote = False
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok.type == tokenize.ERRORTOKEN and tok.string == "`":
            in_quote = not in_quote
        elif not in_quote and tok.type == tokenize.OP and tok.string == "^":
            edits.append((offset_of(tok.start), offset_of(tok.end), "**"))
        elif not in_quote and tok.type == tokenize.NAME:
            # NAME ('.' NAME)* written without spaces: one R name
            j, end = i, tok.end
            while (
                j + 2 < len(toks)
                and toks[j + 1].string == "."
                and toks[j + 1].start == end
                and toks[j + 2].type == tokenize.NAME
                and toks[j + 2].start == toks[j + 1].end
            ):
                j += 2
                end = toks[j].end
            # a trailing dot belongs to the name in R (``x.``)
            name = code[offset_of(tok.start) : offset_of(end)]
            prev = toks[i - 1].string if i else ""
            if prev != "." and "." in name:
                if name in columns:
                    edits.append((offset_of(tok.start), offset_of(end), f"`{name}`"))
                elif name in R_DOTTED:
                    edits.append((offset_of(tok.start), offset_of(end), R_DOTTED[name]))
                i = j
            elif prev != "." and keyword.iskeyword(name) and name in columns:
                edits.append((offset_of(tok.start), offset_of(end), f"`{name}`"))
        i += 1
    for lo, hi, text in sorted(edits, reverse=True):
        code = code[:lo] + text + code[hi:]
    return code


@dataclass
class ROperatorResolver(DefaultOperatorResolver):
    """formulaic's operators with R's ``%in%``: ``a %in% b`` is the interaction ``a:b`` (R's nesting)."""

    @property
    def operators(self) -> list[Operator]:
        ops = [op for op in super().operators if op.symbol != "in"]
        ops.append(
            Operator(
                "in",
                arity=2,
                precedence=200,
                associativity="left",
                to_terms=lambda *term_sets: OrderedSet(
                    functools.reduce(lambda x, y: x * y, term) for term in itertools.product(*term_sets)
                ),
            )
        )
        return ops


@dataclass
class RFormulaParser(DefaultFormulaParser):
    """formulaic's parser reading the code of each term as R (see :func:`r_code_to_python`).

    Attributes
    ----------
    operator_resolver : formulaic OperatorResolver
        R's operators (:class:`ROperatorResolver`).
    feature_flags, context, include_intercept
        formulaic's parser settings, as in its ``DefaultFormulaParser``.
    columns : frozenset of str
        The data's column names: dotted names among them are names, not attribute access.
    """

    operator_resolver: DefaultOperatorResolver = field(default_factory=ROperatorResolver)
    columns: frozenset[str] = frozenset()

    def get_tokens_from_formula(self, formula: str, *, context: Any) -> Any:
        """formulaic's tokens of the formula after its term code is read as R (:func:`r_formula_text`).

        Parameters
        ----------
        formula : str
            The formula as written, in R.
        context : object
            formulaic's parsing context.

        Returns
        -------
        list of formulaic Token
            The formula's tokens.
        """
        return super().get_tokens_from_formula(r_formula_text(formula, self.columns), context=context)


def r_formula_text(formula: str, columns: frozenset[str]) -> str:
    """The formula with the code of each term read as R (:func:`r_code_to_python`).

    The terms are found by formulaic's own tokenizer; only the code of its Python tokens is rewritten.
    """
    from formulaic.parser.algos.tokenize import tokenize as formula_tokens

    try:
        tokens = list(formula_tokens(formula))
    except Exception:  # formulaic reports the error when it parses the formula
        return formula
    out = formula
    for tok in reversed(tokens):
        if tok.kind is not Token.Kind.PYTHON or tok.source_start is None:
            continue
        code = tok.token
        start = tok.source_start
        if out[start : start + len(code)] != code:
            start += 1  # a braced {code} token starts at its brace
            if out[start : start + len(code)] != code:
                continue
        new = r_code_to_python(code, columns)
        if new != code:
            out = out[:start] + new + out[start + len(code) :]
    return out


def formula_error_message(formula: str, exc: BaseException) -> str:
    """formulaic's parse error of ``formula`` as one line saying what is wrong and where, in words."""
    raw = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    first = raw.strip().splitlines()[0].strip() if raw.strip() else type(exc).__name__
    marked = re.search(r"⧛(.*?)⧚", raw, re.DOTALL)
    token = marked.group(1).strip() if marked else ""
    where = ""
    if marked:
        line = next((ln for ln in raw.splitlines() if "⧛" in ln), "")
        where = f" (at character {line.index('⧛') + 1})"
    if m := re.match(r"Operator `(.+?)` has insuff\w* arguments", first):
        problem = f"{m.group(1)!r} needs a term on each side{where}"
    elif m := re.match(r"Operator `(.+?)` is incorrectly used", first):
        op = m.group(1)
        problem = ("'~' must appear once, between the response and the terms" if "~" in op
                   else f"{op!r} is not an operator{where}: join terms with +, -, *, : or /")
    elif m := re.match(r"Missing operator between `(.+?)` and `(.+?)`", first):
        problem = f"nothing joins {m.group(1)!r} and {m.group(2)!r}: put '~' after the response and '+' between terms"
    elif first.startswith("Could not find matching context marker"):
        problem = f"{token!r} has no matching parenthesis{where}" if token else "unbalanced parentheses"
    elif m := re.match(r"Formula ended before quote context was closed\. Expected: (.+)", first):
        problem = f"{token!r} is not closed: add {m.group(1).strip()!r}" if token else f"add {m.group(1).strip()!r}"
    else:
        problem = first.rstrip(".")
    return f'cannot read the formula {formula!r}: {problem}; write it as "response ~ term + term", e.g. "y ~ x1 + x2"'



def _top_level_tilde(formula: str) -> int:
    """Position of the first ``~`` outside parentheses, brackets, braces and quotes; -1 if there is none."""
    depth, quote = 0, ""
    for i, ch in enumerate(formula):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "~" and depth == 0:
            return i
    return -1


def r_response(formula: str) -> str:
    """The formula with an expression on the left of ``~`` evaluated as one value, as R evaluates the response.

    R evaluates the left-hand side as an expression: ``y/n ~ x`` is the proportion and ``vote == "Y" ~ x`` the
    event, where formulaic's grammar would read ``/`` as nesting or fail on ``==``. A left-hand side that is
    more than one name or call becomes ``I(...)``; a name, ``log(y)`` or ``cbind(s, f)`` is left as it is.
    """
    from formulaic.parser.algos.tokenize import tokenize as formula_tokens

    at = _top_level_tilde(formula)
    lhs = formula[:at].strip() if at > 0 else ""
    if not lhs:
        return formula
    try:
        single = len(list(formula_tokens(lhs))) == 1
    except Exception:  # formulaic cannot tokenize it as terms: an expression
        single = False
    return formula if single else f"I({lhs}) {formula[at:]}"


def _unsupported(formula: str, what: str, instead: str) -> DataError:
    return DataError(f"the formula {formula!r} uses {what}, which regdiag's formulas do not support: {instead}")


def parse(formula: str, columns: Sequence[str], response: bool = True) -> Any:
    """Parse an R formula for data with these ``columns``.

    Parameters
    ----------
    formula : str
        ``"y ~ x1 + factor(g) + ns(x2, 3) + offset(log(t))"``; ``.`` stands for every column not on the left.
    columns : sequence of str
        The data's column names.
    response : bool
        Whether a response (left of ``~``) is required.

    Returns
    -------
    formulaic.Formula
        With ``lhs`` and ``rhs`` when there is a response.

    Raises
    ------
    DataError
        A formula that cannot be read, a construct the language does not support (``|``, random effects), or a
        call of a function it does not know; the message names it and says what to write instead.
    """
    import formulaic
    from formulaic.parser.algos.tokenize import tokenize as formula_tokens

    cols = [str(c) for c in columns]
    formula = r_response(formula)
    try:
        bar = any(t.kind is Token.Kind.OPERATOR and t.token == "|" for t in formula_tokens(formula))
    except Exception:  # reported by the parse below
        bar = False
    if bar:
        raise _unsupported(
            formula,
            "'|' (a conditioning bar, or random effects such as (1 | g))",
            "regdiag fits fixed-effect models; put the grouping variable in as a factor (+ factor(g)) or fit a "
            "mixed model elsewhere",
        )
    parser = RFormulaParser(columns=frozenset(cols))
    try:
        parsed = formulaic.Formula(
            formula, _parser=parser, _context={"__formulaic_variables_available__": cols}
        )
    except DataError:
        raise
    except Exception as exc:  # formulaic's parse errors: what is wrong and where, in one line
        raise DataError(formula_error_message(formula, exc)) from None
    if not hasattr(parsed, "lhs"):
        if type(parsed).__name__ != "SimpleFormula":
            raise _unsupported(formula, "'|'", "write one right-hand side")
        if response:
            raise DataError(f"the formula {formula!r} needs a response on the left of '~' (e.g. 'y ~ x')")
        return parsed
    _check_calls(formula, parsed, frozenset(cols))
    return parsed


def _factor_code(factor: Any) -> str | None:
    return str(factor.expr) if factor.eval_method.value == "python" else None


#: R's abbreviations of contrasts in ``C(f, sum)`` and formulaic's names for them
R_CONTRASTS = {"sum": "contr.sum", "helmert": "contr.helmert", "treatment": "contr.treatment", "poly": "contr.poly",
               "SAS": "contr.SAS"}


def _check_calls(formula: str, parsed: Any, columns: frozenset[str] = frozenset()) -> None:
    """Every function called in a term is one the formula language knows."""
    for side in (parsed.lhs, parsed.rhs):
        for term in side:
            for fac in term.factors:
                code = _factor_code(fac)
                if code is None:
                    continue
                tree = _parse_code(formula, code)
                for node in ast.walk(tree):
                    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "C"
                            and len(node.args) > 1 and isinstance(node.args[1], ast.Name)
                            and node.args[1].id in R_CONTRASTS and node.args[1].id not in columns):
                        short = node.args[1].id
                        raise _unsupported(
                            formula, f"R's contrast abbreviation {short!r} in the term {code!r}",
                            f"write the contrast in full, C(..., {R_CONTRASTS[short]})",
                        )
                    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "poly"
                            and len(node.args) > 1 and not isinstance(node.args[1], ast.Constant)):
                        raise _unsupported(
                            formula, f"poly() of several variables in the term {code!r}",
                            "write the polynomial of each variable and the products wanted, e.g. "
                            "poly(x, 2) + poly(z, 2) + x:z",
                        )
                    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                        name = node.func.id
                        if name in KNOWN_FUNCTIONS or name.startswith("_formulaic"):
                            continue
                        hint = {
                            "s": "smooth terms are mgcv's; use ns(x, df) or bs(x, df)",
                            "te": "smooth terms are mgcv's; use ns(x, df) or bs(x, df)",
                            "strata": "strata() belongs to survival models; for a linear model use factor(g)",
                            "interaction": "write a:b",
                            "cut": "cut the column before fitting (pandas.cut) and use factor()",
                            "ifelse": "compute the column before fitting (numpy.where)",
                            "pmin": "compute the column before fitting (numpy.minimum)",
                            "pmax": "compute the column before fitting (numpy.maximum)",
                        }.get(name, "compute the column before fitting, or pass the function in context={...}")
                        raise _unsupported(formula, f"the function {name}() in the term {code!r}", hint)


def _parse_code(formula: str, code: str) -> ast.AST:
    aliases: dict[str, str] = {}
    try:
        return ast.parse(sanitize_variable_names(code, {}, aliases), mode="eval")
    except SyntaxError:
        raise DataError(f"cannot read the term {code!r} of the formula {formula!r} (R or Python code expected)"
                        ) from None


def used_columns(
    parsed: Any, columns: Sequence[str], context: Mapping[str, Any] | None = None, side: str = "both"
) -> tuple[list[str], list[str]]:
    """The data columns the formula reads (in the data's order) and the names that are neither columns nor known.

    ``side`` is "both", "lhs" or "rhs": the columns of the response, of the terms, or of both.

    Parameters
    ----------
    parsed : formulaic Formula
        The parsed formula.
    columns : sequence of str
        The data's column names.
    context : mapping, optional
        Names available besides the columns (functions, variables).
    side : {"both", "lhs", "rhs"}
        Which sides of the formula to read.

    Returns
    -------
    used : list of str
    unknown : list of str
    """
    cols = [str(c) for c in columns]
    colset = set(cols)
    names: set[str] = set()
    unknown: set[str] = set()
    known = set(KNOWN_FUNCTIONS) | set(context or {})
    if not hasattr(parsed, "lhs"):
        sides = [parsed]
    else:
        sides = {"both": [parsed.lhs, parsed.rhs], "lhs": [parsed.lhs], "rhs": [parsed.rhs]}[side]
    for part in sides:
        for term in part:
            for fac in term.factors:
                method = fac.eval_method.value
                if method == "lookup":
                    names.add(str(fac.expr))
                    if str(fac.expr) not in colset and str(fac.expr) not in known:
                        unknown.add(str(fac.expr))
                elif method == "python":
                    aliases: dict[str, str] = {}
                    try:
                        tree = ast.parse(sanitize_variable_names(str(fac.expr), {}, aliases), mode="eval")
                    except SyntaxError:
                        continue
                    for node in ast.walk(tree):
                        if isinstance(node, ast.Name):
                            nm = aliases.get(node.id, node.id)
                            names.add(nm)
                            if nm not in colset and nm not in known:
                                unknown.add(nm)
    return [c for c in cols if c in names], sorted(unknown)
