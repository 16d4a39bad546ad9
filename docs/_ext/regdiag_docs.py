"""Helpers for code that runs inside the documentation pages: paths and reStructuredText tables."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DOCS = Path(__file__).resolve().parent.parent
REPO = DOCS.parent

__all__ = ["DOCS", "REPO", "rst_table", "rst_escape", "fmt", "check_close"]


def fmt(value: Any, digits: int = 4) -> str:
    """A number for a table: ``digits`` significant digits, NaN as "NaN", integers as integers."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "NaN"
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.{max(digits - 1, 0)}e}"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.{digits}g}"
    if value is None or value is pd.NA:
        return "NA"
    return str(value)


def rst_escape(text: str) -> str:
    """Plain text for a reStructuredText cell: markup characters (``* ` _ | \\``) lose their meaning."""
    out = str(text).replace("\\", "\\\\")
    for ch in "*`_|":
        out = out.replace(ch, "\\" + ch)
    return out


def _cell(text: str) -> str:
    text = text.replace("\n", " ").strip()
    return text if text else r"\ "


def rst_table(
    frame: pd.DataFrame | Sequence[Sequence[Any]],
    header: Sequence[str] | None = None,
    *,
    digits: int = 4,
    index: bool = True,
    formatters: dict[str, Callable[[Any], str]] | None = None,
    widths: Sequence[int] | None = None,
    caption: str = "",
) -> str:
    """A ``list-table`` directive for a DataFrame (or rows with a header), to print from ``:output: rst`` blocks.

    Cells are taken as reStructuredText, so ``code`` and math roles may be used in them.
    """
    formatters = formatters or {}
    if isinstance(frame, pd.DataFrame):
        cols = [str(c) for c in frame.columns]
        head = ([str(frame.index.name or "")] if index else []) + cols
        rows = []
        for label, rec in zip(frame.index, frame.itertuples(index=False)):
            cells = [formatters.get(c, lambda v: fmt(v, digits))(v) for c, v in zip(cols, rec)]
            rows.append(([fmt(label)] if index else []) + cells)
    else:
        if header is None:
            raise ValueError("rows need a header")
        head = list(header)
        rows = [[fmt(v, digits) for v in r] for r in frame]
    lines = [f".. list-table:: {caption}".rstrip(), "   :header-rows: 1"]
    if widths:
        lines.append("   :widths: " + " ".join(str(w) for w in widths))
    lines.append("")
    for r in [head, *rows]:
        first = True
        for c in r:
            lines.append(("   * - " if first else "     - ") + _cell(str(c)))
            first = False
    return "\n".join(lines) + "\n"


def check_close(name: str, actual: Any, expected: Any, *, rtol: float = 1e-10, atol: float = 1e-12) -> str:
    """Assert that two arrays agree (NaN where both are NaN) and return a one-line report of the largest gap.

    The documentation's derivations end with such checks: if a formula on a page stops matching the computation,
    the build fails.
    """
    a = np.asarray(actual, dtype=float)
    b = np.asarray(expected, dtype=float)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True, err_msg=name)
    both = np.isfinite(a) & np.isfinite(b)
    gap = float(np.max(np.abs(a[both] - b[both]))) if both.any() else 0.0
    return f"{name}: agree, largest difference {gap:.1e}"
