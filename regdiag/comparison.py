"""What every comparison with a peer shares: the :class:`Comparison` and :class:`Reason` types, the table of
regdiag's numbers beside the peer's (:func:`build_comparison`), and the plain relative bound of peers that solve
the same equations (:data:`RTOL`, :func:`relative_tolerance`).

:mod:`regdiag.compare` (OLS, WLS, GLM, R's output), :mod:`regdiag.compare_models` (robust and discrete models) and
:mod:`regdiag.compare_cox` (Cox models) build their results here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import numpy as np
import pandas as pd

from ._validation import format_labels

_P = ParamSpec("_P")
_T = TypeVar("_T")

__all__ = ["RTOL", "Comparison", "Reason", "build_comparison", "one_line_error", "quietly", "relative_tolerance",
           "statsmodels_version"]


@dataclass(frozen=True)
class Reason:
    """A known cause of a systematic difference, detected from the situation.

    Attributes
    ----------
    key : str
        Short name: statsmodels "wls_hat", "zero_weight", "rank_deficient", "aliased", "leverage_one",
        "robust_covariance", "freq_weights", "pearson_deviance", "dfbetas_scale", "decreasing_link",
        "offset_ignored", "observed_information", "peer_failed"; R "leverage_one", "bonferroni_not_capped",
        "car_t_reference", "r_deviance_dfbeta", "exact_vs_one_step", "r_glm_convergence", "different_model",
        "observed_information".
    text : str
        The explanation, naming the rows or quantities it concerns.
    predicted : dict of str to ndarray of shape (n_rows,)
        Measure -> the peer's values recomputed by regdiag under the peer's convention (checked against the peer).
    measures : frozenset of str
        Measures the situation affects (also those it cannot recompute); ``"*"`` stands for every measure.
    rows : pandas.Index
        Rows it concerns (for reasons that concern rows, such as leverage 1).
    checked : frozenset of str
        Measures whose peer values cannot be recomputed (rounding noise, such as a ratio of determinants of singular
        matrices) but for which the situation itself was checked numerically (e.g. the determinant is zero to
        rounding): the reason counts as explaining them.
    """

    key: str
    text: str
    predicted: dict[str, np.ndarray] = field(default_factory=dict)
    measures: frozenset[str] = frozenset()
    rows: pd.Index = field(default_factory=lambda: pd.Index([]))
    checked: frozenset[str] = frozenset()

    def affects(self, measure: str) -> bool:
        """Whether the situation concerns a measure.

        Parameters
        ----------
        measure : str
            A measure's name, as in :attr:`Comparison.table`'s index.

        Returns
        -------
        bool
            True when the measure has a recomputed peer value here, is named among :attr:`measures` or
            :attr:`checked`, or :attr:`measures` holds ``"*"`` (every measure).
        """
        return (measure in self.predicted or measure in self.measures or measure in self.checked
                or "*" in self.measures)


@dataclass(frozen=True, eq=False)
class Comparison:
    """regdiag against a peer on the same fit.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per measure (index: regdiag's name for statsmodels, R's column name for R): ``peer_column``, ``n``
        (rows compared), ``max_abs_diff``, ``max_rel_diff`` (largest absolute difference over the largest absolute
        peer value), ``tolerance`` (the largest per-row bound on an agreeing difference, over the same scale),
        ``differ_most`` (row labels, largest difference first), ``defined_on_one_side`` (rows where one side is NaN
        or infinite and the other is not), ``agree`` (every difference within its row's bound, and the same rows
        defined), ``reason`` and ``explained`` (whether regdiag, recomputing the peer's number under the cause's
        convention, reproduces the peer's values; NA when they agree).
    values : dict of str to pandas.DataFrame of shape (n_rows, 2)
        Per measure, the two columns side by side (``regdiag``, ``peer``) indexed by row label.
    reasons : tuple of Reason
        Every situation detected, whether or not it made a difference.
    peer : str
        What was compared with (e.g. "statsmodels 0.14.1 OLSInfluence").
    model : str
        The model, in words.
    notes : tuple of str
        How rows and columns were matched, tolerances, measures skipped.
    """

    table: pd.DataFrame
    values: dict[str, pd.DataFrame]
    reasons: tuple[Reason, ...]
    peer: str
    model: str
    notes: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The per-measure table.

        Returns
        -------
        pandas.DataFrame
            A copy of :attr:`table`: one row per measure.
        """
        return self.table.copy()

    def side_by_side(self) -> pd.DataFrame:
        """Every measure's two columns side by side.

        Returns
        -------
        pandas.DataFrame
            Of shape (n_rows, 2 * n_measures): columns ``(measure, "regdiag")`` and ``(measure, "peer")``, indexed by
            row label.
        """
        return pd.concat(self.values, axis=1)

    def detail(self, measure: str) -> pd.DataFrame:
        """One measure row by row, largest difference first.

        Parameters
        ----------
        measure : str
            A measure compared (a key of :attr:`values`).

        Returns
        -------
        pandas.DataFrame
            Of shape (n_rows, 3): ``regdiag``, ``peer``, ``abs_diff``, indexed by row label and sorted by decreasing
            ``abs_diff`` (rows where it is NaN first).

        Raises
        ------
        KeyError
            If ``measure`` was not compared.
        """
        if measure not in self.values:
            raise KeyError(f"no measure {measure!r}; compared: {', '.join(self.values)}")
        v = self.values[measure].copy()
        v["abs_diff"] = (v["regdiag"] - v["peer"]).abs()
        return v.sort_values("abs_diff", ascending=False, na_position="first")

    @property
    def all_explained(self) -> bool:
        """True when every measure agrees or differs for a reason that reproduces the peer's numbers."""
        t = self.table
        return bool((t["agree"] | t["explained"].fillna(False).astype(bool)).all())

    def summary(self) -> str:
        """A text rendering: header, the table, the reasons.

        Returns
        -------
        str
            The peer and the model, the notes, the table (differences to three significant digits) and each reason
            with the measures it explains, one per line.
        """
        lines = [f"regdiag vs {self.peer}", f"model: {self.model}"]
        lines += [f"note: {n}" for n in self.notes]
        show = self.table.drop(columns=["reason"]).copy()
        for c in ("max_abs_diff", "max_rel_diff", "tolerance"):
            show[c] = show[c].map(lambda v: f"{v:.3g}")
        lines.append(show.to_string())
        reasons = self.table.loc[self.table["reason"] != "", "reason"]
        if len(reasons):
            lines.append("")
            lines.append("reasons:")
            for text, measures in reasons.groupby(reasons, sort=False):
                lines.append(f"- {', '.join(measures.index)}: {text}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def to_html(self) -> str:
        """The table as HTML (used by the HTML report).

        Returns
        -------
        str
            An HTML ``<table class="compare">`` of :attr:`table`, differences to three significant digits and
            ``explained`` as "yes", "no" or empty.
        """
        show = self.table.copy()
        for c in ("max_abs_diff", "max_rel_diff", "tolerance"):
            show[c] = show[c].map(lambda v: f"{v:.3g}")
        show["explained"] = show["explained"].map(lambda v: "" if v is pd.NA or v is None else ("yes" if v else "no"))
        return show.to_html(classes="compare", border=0, escape=True, na_rep="")

    def _repr_html_(self) -> str:
        return f"<p>regdiag vs {self.peer}; model: {self.model}</p>" + self.to_html()


# ---------------------------------------------------------------------------------------------------------------
# the comparison itself


def build_comparison(
    pairs: dict[str, tuple[np.ndarray, np.ndarray, str]],
    index: pd.Index,
    reasons: list[Reason],
    *,
    tol: Callable[[str, np.ndarray], np.ndarray],
    n_rows: int,
    peer: str,
    model: str,
    notes: list[str],
) -> Comparison:
    """The per-measure table of regdiag's values against a peer's.

    Parameters
    ----------
    pairs : dict of str to tuple of (ndarray of shape (n_rows,), ndarray of shape (n_rows,), str)
        Measure -> (regdiag's values, the peer's values, the peer's name for the column). NaN marks a row where a
        side is undefined.
    index : pandas.Index of length n_rows
        Row labels of both sides.
    reasons : list of Reason
        Situations detected, tried in order to explain a difference.
    tol : callable
        ``tol(measure, peer_values)`` gives the per-row bound on an agreeing difference (an array broadcastable to
        shape (n_rows,)).
    n_rows : int
        How many row labels to name where the sides differ most.
    peer : str
        What was compared with (e.g. "statsmodels 0.14.1 OLSInfluence").
    model : str
        The model, in words.
    notes : list of str
        How rows and columns were matched, tolerances, measures skipped.

    Returns
    -------
    Comparison
        Its table holds one row per key of ``pairs``, in that order.
    """
    rows = []
    values: dict[str, pd.DataFrame] = {}
    for measure, (ours, theirs, peer_col) in pairs.items():
        ours = np.asarray(ours, dtype=float)
        theirs = np.asarray(theirs, dtype=float)
        values[measure] = pd.DataFrame({"regdiag": ours, "peer": theirs}, index=index)
        both = np.isfinite(ours) & np.isfinite(theirs)
        one = np.isfinite(ours) != np.isfinite(theirs)
        diff = np.abs(ours - theirs)
        scale = float(np.max(np.abs(theirs[both]))) if both.any() else 0.0
        max_abs = float(np.max(diff[both])) if both.any() else 0.0
        max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else math.inf)
        allow = np.broadcast_to(np.asarray(tol(measure, theirs), dtype=float), theirs.shape)
        within = bool(np.all(diff[both] <= allow[both]))
        order = np.argsort(-np.where(both, diff, -np.inf), kind="stable")
        worst = [index[i] for i in order[:n_rows] if both[i] and diff[i] > 0]
        agree = within and not one.any()
        reason, explained = _explain(measure, reasons, ours, theirs, within, one, index, allow, n_rows)
        bound = float(np.max(allow[both])) / scale if both.any() and scale > 0 else 0.0
        rows.append(
            {
                "measure": measure,
                "peer_column": peer_col,
                "n": int(both.sum()),
                "max_abs_diff": max_abs,
                "max_rel_diff": max_rel,
                "tolerance": bound,
                "differ_most": format_labels(worst, n_rows) if worst else "",
                "defined_on_one_side": format_labels(list(index[one]), 5) if one.any() else "",
                "agree": agree,
                "reason": reason,
                "explained": pd.NA if agree else explained,
            }
        )
    table = pd.DataFrame(rows).set_index("measure")
    table["explained"] = table["explained"].astype("boolean")
    return Comparison(table=table, values=values, reasons=tuple(reasons), peer=peer, model=model, notes=tuple(notes))


def _reproduces(pred: np.ndarray, ours: np.ndarray, theirs: np.ndarray, allow: np.ndarray) -> bool:
    """Whether the peer's values recomputed under its convention match the peer's: within the bound where both are
    finite, and non-finite exactly where the peer is (on the rows regdiag defines)."""
    pred = np.asarray(pred, dtype=float)
    ok = np.isfinite(pred) & np.isfinite(theirs)
    if not ok.any():
        return False
    defined = np.isfinite(ours)
    if np.any((np.isfinite(pred) != np.isfinite(theirs)) & defined):
        return False
    # a convention that rescales a measure rescales its sensitivity to the peer's convergence with it
    with np.errstate(divide="ignore", invalid="ignore"):
        stretch = np.where(np.isfinite(ours) & (np.abs(ours) > 0), np.abs(pred) / np.abs(ours), 1.0)
    stretch = np.maximum(np.nan_to_num(stretch, nan=1.0, posinf=1.0), 1.0)
    return bool(np.all(np.abs(pred[ok] - theirs[ok]) <= (allow * stretch)[ok]))


def _rel_gap(pred: np.ndarray, theirs: np.ndarray) -> float:
    pred = np.asarray(pred, dtype=float)
    ok = np.isfinite(pred) & np.isfinite(theirs)
    if not ok.any():
        return math.inf
    scale = float(np.max(np.abs(theirs[ok])))
    return float(np.max(np.abs(pred[ok] - theirs[ok]))) / scale if scale > 0 else math.inf


def _explain(
    measure: str,
    reasons: list[Reason],
    ours: np.ndarray,
    theirs: np.ndarray,
    within: bool,
    one: np.ndarray,
    index: pd.Index,
    allow: np.ndarray,
    n_rows: int,
) -> tuple[str, Any]:
    """The first detected reason that reproduces the peer's values (on every row, NaN where the peer is NaN); rows
    defined on one side only need a reason that names them or reproduces them. Anything else is reported as
    unexplained, with the rows and the size of the difference."""
    if within and not one.any():
        return "", pd.NA
    texts: list[str] = []
    verified = True
    hit = None
    for r in reasons:
        if measure in r.predicted and _reproduces(r.predicted[measure], ours, theirs, allow):
            hit = r
            break
    if hit is None and not within:
        hit = next((r for r in reasons if measure in r.checked), None)
    if hit is not None:
        texts.append(hit.text)
        if one.any():  # the rows defined on one side only: their own reasons too
            texts += [r.text for r in reasons if len(r.rows) and r.affects(measure) and r is not hit
                      and set(index[one]) & set(r.rows)]
    if one.any() and hit is None:
        row_reasons = [r for r in reasons if len(r.rows) and r.affects(measure)]
        covered = pd.Index([])
        for r in row_reasons:
            covered = covered.union(r.rows)
            texts.append(r.text)
        checked = [r for r in reasons if measure in r.checked]
        texts += [r.text for r in checked]
        if not set(index[one]) <= set(covered) and not checked:
            verified = False
            texts.append(f"defined on one side only at rows {format_labels(list(index[one]), 5)}, for no known reason")
    if not within and hit is None and not any(measure in r.checked for r in reasons):
        verified = False
        both = np.isfinite(ours) & np.isfinite(theirs)
        excess = np.where(both, np.abs(ours - theirs) - allow, -np.inf)
        bad = np.flatnonzero(excess > 0)
        bad = bad[np.argsort(-excess[bad], kind="stable")]
        worst = format_labels([index[i] for i in bad[:n_rows]], n_rows)
        size = float(np.max(np.abs(ours - theirs)[bad]))
        tried = [r.key for r in reasons if r.affects(measure) and measure in r.predicted]
        closest = [_rel_gap(r.predicted[measure], theirs) for r in reasons if measure in r.predicted]
        untested = [r.text for r in reasons if r.affects(measure) and not r.predicted and not len(r.rows)]
        texts.insert(
            0,
            f"unexplained: differs beyond the bound at {len(bad)} rows (largest {size:.3g} at {worst})"
            + (f"; recomputing the peer's number as {', '.join(tried)} does not reproduce it (closest: "
               f"{min(closest):.2g} relative)" if tried
               else "; no known cause detected" if not untested else "")
            + "".join(f"; {t}" for t in untested),
        )
    return "; ".join(dict.fromkeys(texts)), verified


#: Agreement bound, relative to a measure's largest value, for peers that solve the same estimating equations to
#: rounding by the same method (Cox partial likelihood, robust and discrete models), where no convergence
#: allowance is needed: a convention-free difference is rounding amplified by the conditioning.
RTOL = 1e-8


def relative_tolerance(rtol: float) -> Callable[[str, np.ndarray], np.ndarray]:
    """The per-row allowance ``rtol`` times the largest finite peer value, in the form :func:`build_comparison`
    takes.

    Parameters
    ----------
    rtol : float
        The bound relative to the largest absolute finite peer value of a measure.

    Returns
    -------
    callable
        ``tol(measure, peer_values)`` -> ndarray of the shape of ``peer_values``, every entry ``rtol`` times that
        scale (plus 1000 times the smallest normal number, so that zero agrees with zero).
    """

    def tol(measure: str, theirs: np.ndarray) -> np.ndarray:
        finite = np.isfinite(theirs)
        scale = float(np.max(np.abs(theirs[finite]))) if finite.any() else 0.0
        return np.full(theirs.shape, rtol * scale + 1e3 * np.finfo(float).tiny)

    return tol


def one_line_error(exc: BaseException) -> str:
    """An exception's message on one line, for a note of the comparison.

    Parameters
    ----------
    exc : BaseException
        The exception.

    Returns
    -------
    str
        Its message with every run of whitespace made one space; its type's name when the message is empty.
    """
    return " ".join(str(exc).split()) or type(exc).__name__


def statsmodels_version() -> str:
    """The installed statsmodels' version, as a comparison names its peer.

    Returns
    -------
    str
        ``statsmodels.__version__``, e.g. "0.14.1".
    """
    import statsmodels

    return statsmodels.__version__


def quietly(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """``fn(*args, **kwargs)`` with warnings and floating-point warnings silenced.

    A peer's own warnings are not regdiag's.

    Parameters
    ----------
    fn : callable
        What to call.
    *args : object
        Its positional arguments.
    **kwargs : object
        Its keyword arguments.

    Returns
    -------
    object
        What ``fn`` returns.
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)
