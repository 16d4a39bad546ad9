"""Influence measures of a Dask fit: lazy per-row collections, and small in-memory summaries in one pass.

Each block of rows is one task that computes the block's in-memory :class:`~regdiag.Influence` (or
:class:`~regdiag.GLMInfluence`) from the fit's scalars; every per-row measure, frame, flag table and summary is
derived from those tasks, so computing several of them together (``dask.compute(infl.leverage, infl.cooks_distance)``,
or :meth:`DaskInfluence.summary`) runs each block once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd

from .._warnings import LEVERAGE_ONE, SIGMA_LOO_ZERO, ZERO_WEIGHT, rows_note, warn
from ..results import Influence

if TYPE_CHECKING:  # pragma: no cover
    from .glm import DaskGLMFit
    from .ols import DaskOLSFit

__all__ = ["DaskInfluence", "InfluenceSummary"]

#: per-row measures with one column per coefficient
_TWO_D = frozenset(
    {"dfbeta", "dfbetas", "loo_params", "dfbeta_one_step", "dfbeta_as", "dfbetas_as"}
)
#: fields of the result objects that are per-coefficient, not per-row
_PER_PARAM = frozenset({"params", "cov_unscaled_diag"})
#: measures ranked by absolute value in the top-k table
_SIGNED = frozenset({"student_resid", "standard_resid", "dffits", "resid", "press_resid", "standard_resid_pearson",
                     "resid_pearson", "resid_deviance"})
_SHOWN = ("leverage", "student_resid", "cooks_distance", "dffits", "cov_ratio")


def _measure(infl: Influence, name: str, args: tuple[Any, ...]) -> np.ndarray:
    """``infl.<name>``, or ``infl.<name>(*args)`` for a method given arguments."""
    value = getattr(infl, name)
    return value(*args) if args else value


def _per_row(template: Influence, name: str) -> bool:
    if name in _PER_PARAM:
        return False
    val = getattr(template, name)
    return isinstance(val, np.ndarray) and val.ndim >= 1 and val.shape[0] == 0


@dataclass(frozen=True)
class InfluenceSummary:
    """Flag counts and the most influential rows of a Dask fit (small, in memory).

    Attributes
    ----------
    rule : str or tuple of str
    n_obs : int
        Rows with positive weight (``n`` in the cut-offs).
    rank : int
    sigma : float
    params : pandas.Series
    flag_counts : pandas.Series
        Rows flagged by each criterion (one entry per coefficient for DFBETAS; same labels as ``flags(rule)``).
    undefined_counts : pandas.Series
        Rows where each criterion's measure is undefined (NaN).
    n_flagged : int
        Rows flagged by at least one criterion.
    top : pandas.DataFrame
        The ``top`` rows with the largest ``by`` (absolute value for signed measures), by row label, with their main
        measures and the criteria that flag them.
    by : str
    criteria : dict
        Description of each criterion's cut-off.
    notes : tuple of str
        Rows whose deletion measures are NaN (leverage 1, zero weight, ...), as counts with their first labels.
    """

    rule: Any
    n_obs: int
    rank: int
    sigma: float
    params: pd.Series
    flag_counts: pd.Series
    undefined_counts: pd.Series
    n_flagged: int
    top: pd.DataFrame
    by: str
    criteria: dict
    notes: tuple[str, ...] = ()

    def __str__(self) -> str:
        lines = [
            f"n = {self.n_obs}, rank = {self.rank}, sigma = {self.sigma:.6g}",
            f"{self.n_flagged} observation(s) flagged by rule {self.rule!r}",
            "rows flagged per criterion:",
            self.flag_counts.to_string(),
            f"top {len(self.top)} by {self.by}:",
            self.top.to_string(float_format=lambda v: f"{v:.4g}"),
        ]
        lines.extend(self.notes)
        return "\n".join(lines)


def _whole_fit_n(rule: Any, n_positive_leverage: int | None) -> int | None:
    """The ``n`` a block's flags use: ``Influence.flags(rule="R")`` counts, as R does, the rows with positive
    leverage among those it holds, and a block holds some rows of the fit, so with rule "R" the fit's count is passed;
    other rules use ``n_obs``, which already is the fit's."""
    return n_positive_leverage if isinstance(rule, str) and rule == "R" else None


def _block_summary(infl: Influence, rule: Any, top: int, by: str, n_r: int | None = None) -> dict[str, Any]:
    fl = infl.flags(rule, n=_whole_fit_n(rule, n_r))
    hit = fl.fillna(False).astype(bool)
    values = np.asarray(getattr(infl, by), dtype=float)
    key = np.abs(values) if by in _SIGNED else values
    ok = np.flatnonzero(np.isfinite(key))
    if ok.size > top:
        ok = ok[np.argpartition(-key[ok], top - 1)[:top]]
    frame = pd.DataFrame({m: getattr(infl, m)[ok] for m in _SHOWN}, index=infl.index[ok])
    if by not in frame:
        frame[by] = values[ok]
    frame["flagged_by"] = [", ".join(c for c in fl.columns if hit.iloc[i][c]) for i in ok]
    frame["_key"] = key[ok]
    h = infl.leverage
    w = infl.weights
    pos = np.ones(h.shape, dtype=bool) if w is None else w > 0
    one = pos & ~(h < 1.0)
    zero = pos & (h < 1.0) & (infl.sigma_loo == 0)
    return {
        "counts": hit.sum(),
        "na": fl.isna().sum(),
        "any": int(hit.any(axis=1).sum()),
        "top": frame,
        "one": (int(one.sum()), list(infl.index[one][:10])),
        "zero_weight": (int((~pos).sum()), list(infl.index[~pos][:10])),
        "sigma_zero": (int(zero.sum()), list(infl.index[zero][:10])),
        "criteria": fl.attrs.get("criteria", {}),
    }


def _frame(infl: Influence, how: str, arg: Any, n_r: int | None = None) -> pd.DataFrame:
    if how in ("flags", "flagged"):
        return getattr(infl, how)(arg, n=_whole_fit_n(arg, n_r))
    return getattr(infl, how)(arg)


def _as_delayed(obj: Any) -> Any:
    """A Dask DataFrame, Series or Scalar (expression-backed) as Delayed objects computing the same value, so that
    it is computed with the blocks' Delayed tasks as one graph (Dask warns about, and materializes, a mix of the
    two); anything else as given."""
    if getattr(obj, "expr", None) is None or not hasattr(obj, "to_delayed") or not hasattr(obj, "_meta"):
        return obj
    parts = obj.to_delayed()
    if isinstance(parts, list):  # DataFrame or Series: its partitions, concatenated as compute() does
        return dask.delayed(_concat_frames, pure=True)(parts, obj._meta)
    return parts


def _concat_frames(parts: Sequence[Any], meta: Any) -> Any:
    return pd.concat(list(parts)) if parts else meta


def _concat(parts: Sequence[Influence], template: Influence) -> Influence:
    values: dict[str, Any] = {}
    for f in dataclasses.fields(type(template)):
        name = f.name
        if name == "index":
            values[name] = template.index.append([p.index for p in parts]) if parts else template.index
        elif name == "weights":
            ws = [p.weights for p in parts]
            values[name] = None if all(w is None for w in ws) else np.concatenate(
                [np.ones(len(p.index)) if w is None else w for p, w in zip(parts, ws)]
            )
        elif _per_row(template, name):
            values[name] = np.concatenate([getattr(template, name)] + [getattr(p, name) for p in parts])
        else:
            values[name] = getattr(template, name)
    return type(template)(**values)


@dataclass(frozen=True, eq=False)
class DaskInfluence:
    """Influence measures of every row of a Dask fit, as lazy Dask collections.

    Every per-row attribute of :class:`~regdiag.Influence` (and :class:`~regdiag.GLMInfluence` for GLMs) is
    available as a Dask array with one chunk per block: ``leverage``, ``resid``, ``standard_resid``,
    ``student_resid``, ``press_resid``, ``sigma_loo``, ``cooks_distance``, ``cooks_pvalue``, ``dffits``,
    ``cov_ratio``, ``dfbeta`` and ``dfbetas`` (shape (n_obs, n_params)), ``dffits_internal``, ... Scalars
    (``params``, ``sigma``, ``rank``, ``n_obs``, ``param_names``, ``method``, ...) are in memory.

    Attributes
    ----------
    blocks : list of dask.delayed.Delayed
        One task per block, computing the in-memory influence object of the block's rows.
    lengths : tuple of int
        Rows of each block.
    template : Influence
        The result type with no rows: names and the fit's scalars.
    fit : DaskOLSFit or DaskGLMFit
    n_positive_leverage : int or None
        Rows of the whole fit with positive leverage: the ``n`` of the "R" flagging rule (as in memory, where it is
        counted on all rows), used when each block's rows are flagged.
    """

    blocks: list[Any]
    lengths: tuple[int, ...]
    template: Influence
    fit: DaskOLSFit | DaskGLMFit | None = None
    n_positive_leverage: int | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("blocks", "lengths", "template", "fit", "n_positive_leverage"):
            raise AttributeError(name)
        template = object.__getattribute__(self, "template")
        if _per_row(template, name):
            return self.column(name)
        return getattr(template, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {f.name for f in dataclasses.fields(type(self.template))})

    @property
    def n_rows(self) -> int:
        """Rows in the result (after dropping missing values; zero weights included)."""
        return int(sum(self.lengths))

    def column(self, name: str, *args: Any) -> Any:
        """One per-row measure as a Dask array.

        Parameters
        ----------
        name : str
            A per-row field of the in-memory result (``"leverage"``, ``"dfbetas"``, ...), or one of its methods.
        *args
            Arguments of the method ``name`` (``column("dfbetas_as", "R")``); none for a field.

        Returns
        -------
        dask.array.Array of shape (n_rows,) or (n_rows, n_params)
            The measure (two-dimensional for ``dfbeta``-like ones), one chunk per block.
        """
        k = len(self.template.param_names)
        parts = []
        for task, m in zip(self.blocks, self.lengths):
            shape = (m, k) if name in _TWO_D else (m,)
            parts.append(da.from_delayed(dask.delayed(_measure, pure=True)(task, name, args), shape=shape, dtype=float))
        if not parts:  # pragma: no cover - a source has at least one block
            return da.zeros((0,))
        return da.concatenate(parts, axis=0)

    def dfbeta_as(self, convention: str = "regdiag") -> Any:
        """:meth:`regdiag.Influence.dfbeta_as` of every row, as a Dask array.

        Parameters
        ----------
        convention : str
            As :meth:`regdiag.Influence.dfbeta_as` (checked now, not when computed).

        Returns
        -------
        dask.array.Array of shape (n_rows, n_params)
            One chunk per block.
        """
        self.template.dfbeta_as(convention)  # checks the convention now, not when computed
        return self.column("dfbeta_as", convention)

    def dfbetas_as(self, convention: str = "regdiag") -> Any:
        """:meth:`regdiag.Influence.dfbetas_as` of every row, as a Dask array.

        Parameters
        ----------
        convention : str
            As :meth:`regdiag.Influence.dfbetas_as` (checked now, not when computed).

        Returns
        -------
        dask.array.Array of shape (n_rows, n_params)
            One chunk per block.
        """
        self.template.dfbetas_as(convention)
        return self.column("dfbetas_as", convention)

    def cooks_distance_as(self, convention: str = "regdiag") -> Any:
        """:meth:`regdiag.Influence.cooks_distance_as` of every row, as a Dask array.

        Parameters
        ----------
        convention : str
            As :meth:`regdiag.Influence.cooks_distance_as` (checked now, not when computed).

        Returns
        -------
        dask.array.Array of shape (n_rows,)
            One chunk per block.
        """
        self.template.cooks_distance_as(convention)
        return self.column("cooks_distance_as", convention)

    @property
    def labels(self) -> Any:
        """Row labels as a Dask array (one chunk per block)."""
        dtype = self.template.index.dtype
        return da.concatenate(
            [
                da.from_delayed(dask.delayed(lambda inf: np.asarray(inf.index))(task), shape=(m,), dtype=dtype)
                for task, m in zip(self.blocks, self.lengths)
            ]
        )

    # ---- frames ---------------------------------------------------------------------------------------------------
    def _dd(self, how: str, arg: Any) -> Any:
        n_r = self.n_positive_leverage
        meta = _frame(self.template, how, arg, n_r)
        parts = [dask.delayed(_frame, pure=True)(task, how, arg, n_r) for task in self.blocks]
        return dd.from_delayed(parts, meta=meta, verify_meta=False)

    def to_frame(self, style: str = "regdiag") -> Any:
        """Every per-row measure as a Dask DataFrame indexed by the row labels (columns as in memory).

        Parameters
        ----------
        style : {"regdiag", "R", "statsmodels", "SAS"}
            Column names, as :meth:`regdiag.Influence.to_frame`.

        Returns
        -------
        dask.dataframe.DataFrame
            One partition per block; write it out with ``.to_parquet(...)`` without holding it in memory.
        """
        return self._dd("to_frame", style)

    def flags(self, rule: str | Sequence[str] = "R") -> Any:
        """Which rows each criterion flags, as a Dask DataFrame (see :meth:`regdiag.Influence.flags`).

        Parameters
        ----------
        rule : str or sequence of str
            Flagging rule or criteria, as :meth:`regdiag.Influence.flags`.

        Returns
        -------
        dask.dataframe.DataFrame
            One boolean column per criterion, indexed by the row labels, one partition per block.
        """
        return self._dd("flags", rule)

    def flagged(self, rule: str | Sequence[str] = "R") -> Any:
        """The flagged rows with their main measures, as a Dask DataFrame (see :meth:`regdiag.Influence.flagged`).

        Parameters
        ----------
        rule : str or sequence of str
            Flagging rule or criteria, as :meth:`regdiag.Influence.flags`.

        Returns
        -------
        dask.dataframe.DataFrame
            The flagged rows only, indexed by the row labels, one partition per block.
        """
        return self._dd("flagged", rule)

    # ---- in memory ------------------------------------------------------------------------------------------------
    def compute(self, **kwargs: Any) -> Influence:
        """The whole result in memory (for data that fit): the same type as the in-memory path's.

        Parameters
        ----------
        **kwargs
            Passed to :func:`dask.compute` (``scheduler=...``, ...).

        Returns
        -------
        Influence
            The in-memory result (:class:`~regdiag.Influence`, or :class:`~regdiag.GLMInfluence` for a GLM fit).
        """
        parts = dask.compute(*self.blocks, **kwargs)
        return _concat(parts, self.template)

    def summary(self, rule: str | Sequence[str] = "R", top: int = 10, by: str = "cooks_distance") -> InfluenceSummary:
        """Flag counts per criterion and the ``top`` most influential rows, in one pass over the data.

        Parameters
        ----------
        rule : str or sequence of str
            Flagging rule or criteria, as :meth:`regdiag.Influence.flags`.
        top : int
            Number of rows in the table of the most influential rows.
        by : str
            Measure that ranks the rows (absolute value for signed measures such as ``student_resid``).

        Returns
        -------
        InfluenceSummary
            Rows whose deletion measures are undefined (leverage 1, zero weight, a deletion that leaves a perfect
            fit) are counted and named, with one :class:`~regdiag.InfluenceWarning` each, as in memory.
        """
        (summary,) = self.summarize([], rule=rule, top=top, by=by)
        return summary

    def summarize(
        self, also: Sequence[Any], rule: str | Sequence[str] = "R", top: int = 10, by: str = "cooks_distance"
    ) -> tuple[Any, ...]:
        """:meth:`summary` computed in the same pass as other lazy results of this fit.

        Parameters
        ----------
        also : sequence
            Other lazy results of this fit to compute in the same pass (e.g.
            ``to_frame().to_parquet(path, compute=False)``).
        rule : str or sequence of str
            Flagging rule or criteria, as :meth:`summary`.
        top : int
            Number of rows in the table of the most influential rows.
        by : str
            Measure that ranks the rows.

        Returns
        -------
        tuple
            ``(summary, *computed also)``.
        """
        if not _per_row(self.template, by):
            raise ValueError(f"by={by!r} is not a per-row measure of this result")
        top = max(int(top), 1)
        n_r = self.n_positive_leverage
        tasks = [dask.delayed(_block_summary, pure=True)(t, rule, top, by, n_r) for t in self.blocks]
        parts, *others = dask.compute(tasks, *[_as_delayed(a) for a in also])
        return (self._finish(parts, rule, top, by), *others)

    def _finish(self, parts: Sequence[dict[str, Any]], rule: Any, top: int, by: str) -> InfluenceSummary:
        counts = sum((p["counts"] for p in parts[1:]), parts[0]["counts"])
        na = sum((p["na"] for p in parts[1:]), parts[0]["na"])
        frames = [p["top"] for p in parts if len(p["top"])]
        best = (
            pd.concat(frames).sort_values("_key", ascending=False, kind="stable").head(top).drop(columns="_key")
            if frames
            else parts[0]["top"].drop(columns="_key")
        )
        notes = []
        for key, text in (("one", LEVERAGE_ONE), ("zero_weight", ZERO_WEIGHT), ("sigma_zero", SIGMA_LOO_ZERO)):
            count = sum(p[key][0] for p in parts)
            if count:
                head = [lab for p in parts for lab in p[key][1]][:10]
                notes.append(rows_note(text, head, count=count))
                warn(notes[-1])
        t = self.template
        return InfluenceSummary(
            rule=rule,
            n_obs=t.n_obs,
            rank=t.rank,
            sigma=t.sigma,
            params=pd.Series(t.params, index=list(t.param_names), name="params"),
            flag_counts=counts.astype(int).rename("flagged"),
            undefined_counts=na.astype(int).rename("undefined"),
            n_flagged=int(sum(p["any"] for p in parts)),
            top=best,
            by=by,
            criteria=parts[0]["criteria"],
            notes=tuple(notes),
        )

    def group_deletion(self, groups: Any, **kwargs: Any) -> Any:
        """Deletion of whole groups: the fit's ``group_deletion``.

        See :meth:`regdiag.dask.DaskOLSFit.group_deletion`.

        Parameters
        ----------
        groups : array_like, mapping or sequence of sequences
            The grouping, as the fit's ``group_deletion`` takes it.
        **kwargs
            The fit's ``group_deletion`` options.

        Returns
        -------
        object
            What the fit's ``group_deletion`` returns (the Dask fits raise NotImplementedError: group deletion needs
            the rows of every group together, in memory).
        """
        if self.fit is None:
            raise ValueError("this influence object has no fit attached; group deletion needs the fit's factorization")
        return self.fit.group_deletion(groups, **kwargs)

    def __repr__(self) -> str:
        t = self.template
        return (
            f"<DaskInfluence method={t.method!r} n_obs={t.n_obs} rank={t.rank} blocks={len(self.blocks)} "
            f"params={list(t.param_names)}>"
        )
