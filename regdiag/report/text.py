"""The text report: fit summary, flagged observations, outlier test, and a CSV of every measure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["ReportResult", "write_report", "summary_text", "write_measures_csv", "make_folder"]

#: at most this many flagged rows are printed in the terminal (all of them are in the exports)
MAX_PRINTED = 20
#: the flagged table of the terminal summary is wrapped to this many columns
WIDTH = 100


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


def make_folder(out: Path) -> None:
    """Create the output folder (and its parents); a file in its place is a user mistake, said in one line."""
    from .._validation import DataError

    for p in (out, *out.parents):
        if p.exists() and not p.is_dir():
            what = "is a file" if p == out else f"is inside {p}, which is a file"
            raise DataError(f"cannot write the report to {out}: it {what}, not a folder; choose a folder (new or "
                            "existing) for the report and its exports (-o/--output)")
    out.mkdir(parents=True, exist_ok=True)


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _compact_criteria(text: str) -> str:
    """``"dfbetas_a, dfbetas_b, dffits_2sqrtpn"`` -> ``"dfbetas (a, b), dffits_2sqrtpn"``: runs of names with a common
    ``dfbetas_`` / ``dfb.`` prefix written once."""
    out: list[str] = []
    run: tuple[str, list[str]] | None = None
    for item in [t.strip() for t in str(text).split(",") if t.strip()]:
        prefix = next((p for p in ("dfbetas_", "dfb.") if item.startswith(p)), None)
        if prefix is not None and run is not None and run[0] == prefix:
            run[1].append(item[len(prefix):])
            continue
        if run is not None:
            out.append(run[0] + run[1][0] if len(run[1]) == 1 else f"{run[0].rstrip('_.')} ({', '.join(run[1])})")
            run = None
        if prefix is not None:
            run = (prefix, [item[len(prefix):]])
        else:
            out.append(item)
    if run is not None:
        out.append(run[0] + run[1][0] if len(run[1]) == 1 else f"{run[0].rstrip('_.')} ({', '.join(run[1])})")
    return ", ".join(out)


def flagged_table(shown: pd.DataFrame, width: int = WIDTH) -> str:
    """The flagged rows as text no wider than ``width`` (unless the numbers alone are): the criteria that flagged
    each row come last, left-aligned and wrapped under their own heading."""
    import textwrap

    if "flagged_by" not in shown.columns:
        return shown.to_string(float_format=_fmt)
    body = shown.drop(columns=["flagged_by"]).to_string(float_format=_fmt).splitlines()
    n_head = len(body) - len(shown)
    left = max(len(line) for line in body)
    room = max(24, width - left - 2)
    lines = [body[0].ljust(left) + "  flagged by"] + [ln.ljust(left) for ln in body[1:n_head]]
    for line, crit in zip(body[n_head:], shown["flagged_by"]):
        wrapped = textwrap.wrap(_compact_criteria(crit), room, break_long_words=False, break_on_hyphens=False) or [""]
        lines.append(line.ljust(left) + "  " + wrapped[0])
        lines += [" " * (left + 2) + w for w in wrapped[1:]]
    return "\n".join(line.rstrip() for line in lines)


def _row_labels_line(infl: Any) -> str:
    """Where the row labels come from: a named column, or the row positions (then how to choose a column)."""
    index = infl.index
    if index.name is not None and str(index.name) != "row":
        return f"row labels: {index.name!r}"
    if index.name is None and isinstance(index, pd.RangeIndex):
        return (f"row labels: row numbers ({index[0]} to {index[-1]}); to label rows by a column give its name "
                "(--index-col, index_col=)") if len(index) else ""
    return ""


def summary_text(
    fit: Any, infl: Any, flagged: pd.DataFrame, rule: str, title: str | None = None, *,
    outlier: pd.DataFrame | None = None, ranked: pd.DataFrame | None = None,
) -> list[str]:
    """The lines of the terminal summary: title, fit, flagged observations (at most ``MAX_PRINTED``, by decreasing
    Cook's distance when there are more), outlier test (``outlier``: computed beforehand; ``ranked``: the flagged
    rows already ranked)."""
    lines = []
    if title:
        lines += [title, "=" * len(title)]
    lines.append(fit.summary())
    labels = _row_labels_line(infl)
    if labels:
        lines.append(labels)
    lines.append("")
    crit = flagged.attrs.get("criteria", {})
    lines.append(f"Influential observations (rule {rule!r}): {len(flagged)} of {infl.n_obs}")
    if crit:
        import textwrap

        lines += textwrap.wrap("criteria: " + "; ".join(dict.fromkeys(crit.values())), WIDTH, subsequent_indent="  ",
                               break_long_words=False)
    if len(flagged):
        if len(flagged) <= MAX_PRINTED:
            shown = flagged
        else:
            shown = ranked if ranked is not None else flagged.sort_values("cooks_distance", ascending=False)
        lines.append(flagged_table(shown.iloc[:MAX_PRINTED]))
        if len(flagged) > MAX_PRINTED:
            lines.append(f"... and {len(flagged) - MAX_PRINTED} more (largest Cook's distance shown)")
    lines.append("")
    ot = infl.outlier_test() if outlier is None else outlier
    lines.append(f"Outlier test (Bonferroni, {ot.attrs.get('reference')} reference):")
    lines.append(ot.to_string(float_format=_fmt))
    return lines


def write_measures_csv(infl: Any, out: Path, frame: pd.DataFrame | None = None) -> Path:
    """``out/measures.csv``: every per-observation measure (``Influence.to_frame()``, or ``frame`` when it was
    made already), first column the row label."""
    frame = infl.to_frame() if frame is None else frame
    csv = out / "measures.csv"
    frame.to_csv(csv, index_label=str(frame.index.name or "row"))
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
    make_folder(out)
    infl = fit.influence()
    csv = write_measures_csv(infl, out)
    flagged = infl.flagged(rule)
    lines = summary_text(fit, infl, flagged, rule, title)
    lines.append("")
    lines.append(f"all measures: {csv}")
    return ReportResult(text="\n".join(lines), measures_csv=csv, flagged=flagged)
