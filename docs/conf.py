"""Sphinx configuration of regdiag's documentation (build: ``make docs``; warnings are errors)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(REPO))  # the source tree first, and tests/ for the computations the pages share with it
os.environ.setdefault("MPLBACKEND", "Agg")

import pandas as pd  # noqa: E402

import regdiag  # noqa: E402

# how the pages' code prints tables (the pages run in this process)
pd.set_option("display.width", 110)
pd.set_option("display.max_columns", 12)
pd.set_option("display.precision", 4)

project = "regdiag"
author = "regdiag developers"
copyright = "regdiag developers"
version = release = regdiag.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "runcode",
]

root_doc = "index"
exclude_patterns = ["_build", "examples"]
templates_path: list[str] = []
html_static_path = ["_static"]
html_css_files = ["regdiag.css"]
html_theme = "alabaster"
html_theme_options = {"page_width": "1180px", "sidebar_width": "210px", "fixed_sidebar": True}
html_title = f"regdiag {release}"
pygments_style = "sphinx"

# API reference: numpydoc renders the sections; members are listed explicitly on the API pages
autodoc_member_order = "bysource"
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
