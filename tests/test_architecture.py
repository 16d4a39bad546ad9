"""The import graph keeps the layers of ``regdiag._layers.LAYERS``: read from the source with ``ast`` (imports inside
functions count, ``if TYPE_CHECKING:`` blocks do not), relative imports resolved.

Every check names the file, the line and the import that breaks it. The checks also run on a small planted package
(below) to show that each of them fails where it should.
"""

from __future__ import annotations

import textwrap

import pytest

from regdiag._layers import (
    LAYERS,
    PACKAGE,
    RULES,
    Import,
    Layer,
    describe,
    is_module,
    unit,
    violations,
)

#: imports that break a rule today, each (file, imported module, name) with what is to change; the test fails for any
#: other violation, and for an entry here that no longer occurs (so that the list only shrinks)
KNOWN_VIOLATIONS: dict[tuple[str, str, str | None], str] = {
}


@pytest.fixture(scope="module")
def found() -> dict[str, list[Import]]:
    return violations(PACKAGE, LAYERS, frozenset(KNOWN_VIOLATIONS))


def _unknown(found: list[Import]) -> list[Import]:
    return [imp for imp in found if imp.key not in KNOWN_VIOLATIONS]


@pytest.mark.parametrize("rule", list(RULES))
def test_imports_keep_the_layers(found, rule):
    bad = _unknown(found[rule])
    assert not bad, describe(rule, bad)


def test_known_violations_still_occur(found):
    # an entry fixed in the code leaves the list
    every = {imp.key for rule in found.values() for imp in rule}
    stale = sorted(set(KNOWN_VIOLATIONS) - every)
    assert not stale, f"no longer violated, remove from KNOWN_VIOLATIONS: {stale}"


def test_the_table_names_existing_modules_once():
    members = [m for layer in LAYERS for m in layer.members]
    assert len(members) == len(set(members))
    missing = [m for m in members if not is_module(m, PACKAGE)]
    assert not missing, f"regdiag._layers.LAYERS names modules that do not exist: {missing}"
    assert unit("regdiag.linear.glm") == "regdiag.linear"
    assert unit("regdiag.linear.ols") == "regdiag.linear"
    assert unit("regdiag") == "regdiag" and unit("numpy") is None


def test_the_design_page_lists_the_layer_table():
    # the page prints the table itself; what it says around it must name every layer in the table's order
    text = (PACKAGE.parent / "docs" / "design.rst").read_text(encoding="utf-8")
    assert "regdiag._layers" in text and ".. runcode::" in text
    positions = [text.find(f"**{layer.name}**") for layer in LAYERS]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), [layer.name for layer in LAYERS]


# ---- the checks fail where they should: a planted package ----------------------------------------------------------


_PLANTED = {
    "__init__.py": "from .api import run\n",
    "_validation.py": "class Err(Exception):\n    pass\n",
    "base.py": "from ._validation import Err\n",
    "linear/__init__.py": "",
    "linear/_private.py": "HELPER = 1\n",
    "linear/fit.py": """
        from typing import TYPE_CHECKING
        from ..base import Err
        if TYPE_CHECKING:
            from ..plots import draw  # exempt
        def plot(self):
            from ..plots import draw  # upward, inside a function
            return draw(self)
        def version():
            from .. import __version__  # the package root
            return __version__
    """,
    "plots/__init__.py": "from .core import draw\n",
    "plots/core.py": """
        from ..linear._private import HELPER  # a private module of another unit
        from ..linear.fit import _secret  # an underscore name
        def draw(x):
            return x
    """,
    "adapter/__init__.py": "from ..plots import draw  # outside the adapter's uses\n",
    "api.py": "from .linear.fit import plot as run\nfrom .adapter import draw\n",
    "orphan.py": "",
}

_PLANTED_LAYERS = (
    Layer("base", ("pkg._validation", "pkg.base"), ""),
    Layer("models", ("pkg.linear",), ""),
    Layer("plots", ("pkg.plots",), ""),
    Layer("adapter", ("pkg.adapter",), "", uses=("base", "models")),
    Layer("entry", ("pkg.api", "pkg"), ""),
)


def test_each_check_fails_on_a_planted_violation(tmp_path):
    root = tmp_path / "pkg"
    for rel, code in _PLANTED.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(code).lstrip("\n"), encoding="utf-8")
    found = violations(root, _PLANTED_LAYERS)
    said = {rule: [str(imp) for imp in imps] for rule, imps in found.items()}
    assert said["unmapped"] == ["pkg/orphan.py:1: (a module in no layer)"]
    assert said["upward"] == ["pkg/linear/fit.py:6: from ..plots import draw"]  # not the TYPE_CHECKING one (line 4)
    assert said["root"] == ["pkg/linear/fit.py:9: from .. import __version__"]
    assert said["adapter"] == ["pkg/adapter/__init__.py:1: from ..plots import draw"]
    assert said["private"] == ["pkg/plots/core.py:1: from ..linear._private import HELPER",
                               "pkg/plots/core.py:2: from ..linear.fit import _secret"]
    # linear -> plots (fit.py) and plots -> linear (core.py): one cycle, both of its imports named
    assert said["cycle"] == ["pkg/linear/fit.py:6: from ..plots import draw",
                             "pkg/plots/core.py:1: from ..linear._private import HELPER"]
    assert "pkg/linear/fit.py:6: from ..plots import draw" in describe("upward", found["upward"])


def test_every_subpackage_is_packaged():
    # setup.cfg lists the packages a wheel holds: a subpackage missing there is missing from an installed regdiag
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(PACKAGE.parent / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    found = {".".join(p.parent.relative_to(PACKAGE.parent).parts) for p in PACKAGE.rglob("__init__.py")}
    assert not found - listed, f"add to setup.cfg [options] packages: {sorted(found - listed)}"
