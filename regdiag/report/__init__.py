"""Reports: a terminal summary and CSV exports of every measure (an HTML report builds on these)."""

from __future__ import annotations

from .text import ReportResult, write_report

__all__ = ["ReportResult", "write_report"]
