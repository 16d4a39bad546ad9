"""A report of data that do not fit in memory: parquet files streamed through Dask.

:func:`stream_report` reads a parquet file, a glob of them or a directory lazily, fits the model (one pass, or one per
IRLS iteration), and in one more pass writes every per-row measure to ``measures.parquet`` (one file per partition)
while counting the flags and finding the most influential rows. It writes ``report.html`` (a self-contained page:
fit, flag counts per criterion, the most influential rows with the criteria that flag them, notes), ``report.txt``
and ``summary.json`` next to it. Plots, which need every point in memory, are left to the in-memory report.
"""

from __future__ import annotations

import glob
import html
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import numpy as np
import pandas as pd

from .._validation import DataError

__all__ = ["StreamReport", "read_parquet", "stream_report", "is_parquet_collection"]


@dataclass(frozen=True)
class StreamReport:
    """What :func:`stream_report` wrote.

    Attributes
    ----------
    path : pathlib.Path
        ``report.html`` in the output folder.
    text : str
        The terminal summary (ends with the report's path).
    exports : dict of str to Path
        ``measures.parquet`` (a folder of parquet files, one per partition), ``summary.json``, ``report.txt``.
    fit : DaskOLSFit or DaskGLMFit
    summary : InfluenceSummary
    warnings : tuple of str
    """

    path: Path
    text: str
    exports: dict[str, Path]
    fit: Any
    summary: Any
    warnings: tuple[str, ...] = field(default_factory=tuple)


def is_parquet_collection(path: str | Path) -> bool:
    """A directory, a glob pattern, or a parquet file: what :func:`read_parquet` streams."""
    text = str(path)
    if any(ch in text for ch in "*?["):
        return True
    p = Path(text)
    return p.is_dir() or p.suffix.lower() in (".parquet", ".pq")


def read_parquet(path: str | Path, index_col: str | None = None) -> Any:
    """A parquet file, a glob of them (``"data/part-*.parquet"``) or a directory, as a lazy Dask DataFrame.

    ``index_col`` names the column of row labels (read as each partition's index; no shuffle).

    Raises
    ------
    DataError
        Nothing matches, or the files cannot be read as parquet.
    """
    text = str(path)
    if any(ch in text for ch in "*?["):
        files = sorted(glob.glob(text))
        if not files:
            raise DataError(f"no file matches {text!r}; give a parquet file, a glob of them, or a directory")
        source: Any = files
    else:
        p = Path(text)
        if not p.exists():
            raise DataError(f"no such file or directory: {text}; give a parquet file, a glob of them, or a directory")
        if p.is_dir() and not any(p.rglob("*.parquet")) and not any(p.rglob("*.pq")):
            raise DataError(f"the directory {text} holds no .parquet files")
        source = text
    try:
        return dd.read_parquet(source, index=index_col) if index_col else dd.read_parquet(source)
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(f"cannot read {text} as parquet: {str(exc).splitlines()[0]}") from exc


def _table(frame: pd.DataFrame | pd.Series) -> str:
    return frame.to_html(float_format=lambda v: f"{v:.4g}", na_rep="NA", border=0, classes="t")


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "table.t{border-collapse:collapse;font-size:.9rem}table.t td,table.t th{padding:.2rem .6rem;"
    "border-bottom:1px solid #ddd;text-align:right}pre{background:#f6f6f6;padding:.8rem;overflow:auto}"
    ".note{color:#8a4b00}"
)


def _html(title: str, fit: Any, summary: Any, notes: list[str], label: str) -> str:
    crit = pd.DataFrame(
        {"criterion": [summary.criteria.get(c, "") for c in summary.flag_counts.index],
         "flagged rows": summary.flag_counts.to_numpy(), "undefined": summary.undefined_counts.to_numpy()},
        index=summary.flag_counts.index,
    )
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(label)}: {fit.nobs} observations with positive weight, {len(fit.block_lengths)} "
        "partitions, streamed through Dask (every measure of every row is in <code>measures.parquet</code>).</p>",
        "<h2>Fit</h2>",
        f"<pre>{html.escape(fit.summary())}</pre>",
        f"<h2>Flags (rule {html.escape(str(summary.rule))})</h2>",
        f"<p>{summary.n_flagged} observation(s) flagged by at least one criterion.</p>",
        _table(crit),
        f"<h2>The {len(summary.top)} most influential rows by {html.escape(summary.by)}</h2>",
        _table(summary.top),
    ]
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li class='note'>{html.escape(n)}</li>" for n in notes) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _json_value(v: Any) -> Any:
    if isinstance(v, (np.generic,)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def stream_report(
    data: str | Path,
    out_dir: str | Path,
    *,
    formula: str,
    family: str | None = None,
    link: str | None = None,
    weights: str | None = None,
    index_col: str | None = None,
    rule: str = "R",
    top: int = 20,
    title: str | None = None,
) -> StreamReport:
    """Fit a model to parquet data streamed through Dask and write a report of its influential rows.

    Parameters
    ----------
    data : str or Path
        A parquet file, a glob of them, or a directory.
    out_dir : str or Path
        Output folder (created if needed).
    formula : str
        Model formula (categorical levels are made global, see :mod:`regdiag.dask`).
    family, link : str, optional
        A GLM family and link; a linear model fitted by least squares without a family.
    weights : str, optional
        Column of weights.
    index_col : str, optional
        Column of row labels.
    rule : str
        Flagging rule (see :meth:`regdiag.Influence.flags`).
    top : int
        Rows in the table of the most influential rows (by Cook's distance).
    title : str, optional

    Returns
    -------
    StreamReport
    """
    import regdiag

    ddf = read_parquet(data, index_col)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    label = Path(str(data)).name or str(data)
    title = title or f"regdiag report: {label}"
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        if family is None:
            fit = regdiag.ols(formula, data=ddf, weights=weights)
        else:
            fit = regdiag.glm(formula, data=ddf, family=family, link=link, weights=weights)
        infl = fit.influence()
        measures_dir = out / "measures.parquet"
        write = infl.to_frame().to_parquet(str(measures_dir), compute=False, write_index=True, overwrite=True)
        summary, _ = infl.summarize([write], rule=rule, top=top)
    caught = tuple(f"{w.category.__name__}: {w.message}" for w in rec)
    notes = list(dict.fromkeys(caught))
    (out / "report.html").write_text(_html(title, fit, summary, notes, label), encoding="utf-8")
    payload = {
        "format": "regdiag streamed report summary",
        "data": str(data),
        "formula": formula,
        "family": family,
        "link": link,
        "method": fit.method,
        "n_obs": int(fit.nobs),
        "rank": int(fit.rank),
        "df_resid": float(fit.df_resid),
        "params": {n: _json_value(float(v)) for n, v in zip(fit.param_names, fit.coef)},
        "rule": rule,
        "n_flagged": summary.n_flagged,
        "flag_counts": {k: int(v) for k, v in summary.flag_counts.items()},
        "top": {
            "by": summary.by,
            "rows": [_json_value(x) for x in summary.top.index],
            "cooks_distance": [_json_value(float(x)) for x in summary.top["cooks_distance"]],
        },
        "warnings": list(caught),
    }
    (out / "summary.json").write_text(json.dumps(payload, indent=1, allow_nan=False), encoding="utf-8")
    text = "\n".join(
        [fit.summary(), "", str(summary), "", *notes, f"report: {out / 'report.html'}",
         f"every measure of every row: {measures_dir}"]
    )
    (out / "report.txt").write_text(text + "\n", encoding="utf-8")
    return StreamReport(
        path=out / "report.html",
        text=text,
        exports={"measures.parquet": measures_dir, "summary.json": out / "summary.json",
                 "report.txt": out / "report.txt"},
        fit=fit,
        summary=summary,
        warnings=caught,
    )
