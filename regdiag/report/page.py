"""The one HTML page writer of regdiag's reports: the in-memory report (:mod:`regdiag.report.html`) and the
streamed report of data that do not fit in memory (:mod:`regdiag.dask.report`) give it their sections, and it
writes one self-contained page (styles inline, no external URL) with the same look, navigation and table style.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["page", "table", "escape", "number", "CSS"]

CSS = """
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1d232b;
background:#f6f7f9;line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1{font-size:1.55em;margin:0 0 4px}h2{font-size:1.2em;margin:34px 0 8px;padding-top:8px;border-top:1px solid #e3e6ea}
h3{font-size:1.02em;margin:22px 0 6px}
.meta{color:#5b6572;font-size:.9em}
nav{font-size:.9em;margin:14px 0 0}nav a{margin-right:14px;color:#1f5fa8;text-decoration:none}
table{border-collapse:collapse;font-size:.86em;margin:6px 0 10px}
th,td{padding:3px 9px;border-bottom:1px solid #e6e8eb;text-align:right;vertical-align:top}
th{background:#f0f2f5;font-weight:600}td:first-child,th:first-child{text-align:left}
tbody tr:nth-child(even){background:#fafbfc}
td.text,th.text{text-align:left;max-width:480px}
.flag{color:#9b1c1c;font-weight:600}.ok{color:#1c6b2a;font-weight:600}.warn{color:#8a5a00}
figure{margin:14px 0 26px}figure img{max-width:100%;height:auto;border:1px solid #eceef1}
figcaption{font-size:.88em;color:#3c4652;max-width:900px;margin-top:4px}
pre{background:#f4f5f7;padding:10px;overflow-x:auto;font-size:.82em}
.kv td{text-align:left}.kv td:first-child{color:#5b6572;padding-right:18px}
.note{font-size:.88em;color:#4a5561}
.scroll{overflow-x:auto}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.{digits}g}"
    return _e(v)


def _table(frame: pd.DataFrame, text_cols: tuple[str, ...] = (), index_label: str | None = None,
           classes: dict[str, Callable[[Any], str]] | None = None) -> str:
    """A small HTML table, every cell escaped; text columns left-aligned."""
    classes = classes or {}
    head = "".join(
        f'<th class="text">{_e(c)}</th>' if c in text_cols else f"<th>{_e(c)}</th>" for c in frame.columns
    )
    rows = []
    for label, row in frame.iterrows():
        cells = []
        for c in frame.columns:
            v = row[c]
            cls = ["text"] if c in text_cols else []
            if c in classes:
                extra = classes[c](v)
                if extra:
                    cls.append(extra)
            attr = f' class="{" ".join(cls)}"' if cls else ""
            text = _e(v) if c in text_cols else ("" if v is pd.NA else _num(v))
            cells.append(f"<td{attr}>{text}</td>")
        rows.append(f"<tr><td>{_e(label)}</td>{''.join(cells)}</tr>")
    name = index_label if index_label is not None else (frame.index.name or "")
    return (
        f'<div class="scroll"><table><thead><tr><th>{_e(name)}</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )




def page(title: str, sections: list[tuple[str, str, str]], meta: str) -> str:
    """The whole page: ``sections`` are ``(id, heading, HTML content)``, in order, linked from the navigation bar;
    ``meta`` is the line under the title (HTML)."""
    nav = "".join(f'<a href="#{sid}">{_e(name)}</a>' for sid, name, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{_e(name)}</h2>{content}</section>' for sid, name, content in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>{_e(title)}</h1><p class=\"meta\">{meta}</p><nav>{nav}</nav>{body}</main></body></html>\n"
    )


escape = _e
number = _num
table = _table
