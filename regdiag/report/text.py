"""The text report: fit summary, flagged observations, outlier test, and a CSV of every measure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["ReportResult", "write_report", "summary_text", "write_measures_csv"]

#: at most this many flagged rows are printed in the terminal (all of them are in the exports)
MAX_PRINTED = 20


@dataclass(frozen=True)
class ReportResult:
    """What a report wrote and printed.

    Attributes
    ----------
    text : str
        The terminal summary.
    measures_csv : pathlib.Path
        CSV of every per-observation measure (``Influence.to_frame()``), indexed by row label.
    flagged : pandas.DataFrame
        The flagged observations with the criteria that flagged each.
    """

    text: str
    measures_csv: Path
    flagged: pd.DataFrame


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def summary_text(fit: Any, infl: Any, flagged: pd.DataFrame, rule: str, title: str | None = None) -> list[str]:
    """The lines of the terminal summary: title, fit, flagged observations (at most ``MAX_PRINTED``), outlier test."""
    lines = []
    if title:
        lines += [title, "=" * len(title)]
    lines.append(fit.summary())
    lines.append("")
    crit = flagged.attrs.get("criteria", {})
    lines.append(f"Influential observations (rule {rule!r}): {len(flagged)} of {infl.n_obs}")
    if crit:
        lines.append("criteria: " + "; ".join(dict.fromkeys(crit.values())))
    if len(flagged):
        shown = flagged.sort_values("cooks_distance", ascending=False) if len(flagged) > MAX_PRINTED else flagged
        lines.append(shown.iloc[:MAX_PRINTED].to_string(float_format=_fmt))
        if len(flagged) > MAX_PRINTED:
            lines.append(f"... and {len(flagged) - MAX_PRINTED} more (largest Cook's distance shown)")
    lines.append("")
    ot = infl.outlier_test()
    lines.append(f"Outlier test (Bonferroni, {ot.attrs.get('reference')} reference):")
    lines.append(ot.to_string(float_format=_fmt))
    return lines


def write_measures_csv(infl: Any, out: Path) -> Path:
    """``out/measures.csv``: every per-observation measure (``Influence.to_frame()``), first column the row label."""
    frame = infl.to_frame()
    csv = out / "measures.csv"
    frame.to_csv(csv, index_label=frame.index.name or "row")
    return csv


def write_report(fit: Any, out_dir: str | Path, rule: str = "R", title: str | None = None) -> ReportResult:
    """Compute the influence measures of ``fit``, write them to ``out_dir/measures.csv`` and return the summary.

    Parameters
    ----------
    fit : OLSFit or another regdiag fit with ``influence()`` and ``summary()``
    out_dir : str or Path
        Folder for the exports (created if needed).
    rule : str
        Flagging rule, see :meth:`regdiag.Influence.flags`.
    title : str, optional
        First line of the summary (for example the data set's name).

    Returns
    -------
    ReportResult
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    infl = fit.influence()
    csv = write_measures_csv(infl, out)
    flagged = infl.flagged(rule)
    lines = summary_text(fit, infl, flagged, rule, title)
    lines.append("")
    lines.append(f"all measures: {csv}")
    return ReportResult(text="\n".join(lines), measures_csv=csv, flagged=flagged)
