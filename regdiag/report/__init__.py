"""Reports: a terminal summary, CSV and JSON exports of every measure, and a self-contained HTML report.

The HTML report (:func:`write_html_report`) and the terminal summary are what ``regdiag report`` writes;
:func:`model_input` and :func:`fit_model` turn command-line choices (a data file or bundled data set, a formula, a
family and link) into a fit, with one-line errors for user mistakes (:func:`error_line` turns any error into the line
``regdiag`` prints).
"""

from __future__ import annotations

from .bundle import Diagnostics, diagnose
from .html import HTMLReport, text_progress, write_html_report
from .inputs import ModelInput, error_line, fit_model, load_data, model_input, one_line
from .text import ReportResult, write_report

__all__ = [
    "ReportResult",
    "write_report",
    "HTMLReport",
    "Diagnostics",
    "diagnose",
    "write_html_report",
    "text_progress",
    "ModelInput",
    "model_input",
    "load_data",
    "fit_model",
    "one_line",
    "error_line",
]
