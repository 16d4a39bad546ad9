"""The text report: fit summary, flagged observations, outlier test, and a CSV of every measure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["ReportResult", "write_report"]


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
    frame = infl.to_frame()
    csv = out / "measures.csv"
    frame.to_csv(csv, index_label=frame.index.name or "row")
    flagged = infl.flagged(rule)
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
        lines.append(flagged.to_string(float_format=lambda v: f"{v:.4g}"))
    lines.append("")
    ot = infl.outlier_test()
    lines.append(f"Outlier test (Bonferroni, {ot.attrs.get('reference')} reference):")
    lines.append(ot.to_string(float_format=lambda v: f"{v:.4g}"))
    lines.append("")
    lines.append(f"all measures: {csv}")
    return ReportResult(text="\n".join(lines), measures_csv=csv, flagged=flagged)
