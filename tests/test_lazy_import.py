"""``import regdiag`` costs what the user uses: the fitting code, scipy's statistics and the engine load on first
use."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "; import sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_import_loads_no_fitting_code_scipy_stats_or_engine():
    mods = _modules_after("import regdiag")
    for heavy in ("scipy.stats", "regdiag.linear.ols", "regdiag.engine", "matplotlib", "torch", "dask"):
        assert heavy not in mods, heavy


def test_public_names_load_on_first_use():
    mods = _modules_after("import regdiag; f = regdiag.ols; g = regdiag.cross_check; assert callable(f) and "
                          "callable(g); assert regdiag.Influence.__name__ == 'Influence'; assert 'ols' in dir(regdiag)")
    assert "regdiag.linear.ols" in mods and "regdiag.engine.crosscheck" in mods
    assert "matplotlib" not in mods


def test_subpackages_load_on_first_use():
    """``import regdiag`` then ``regdiag.engine.influence(...)``, as the docs write it, without importing the
    subpackage by name."""
    mods = _modules_after("import regdiag; assert callable(regdiag.engine.influence); "
                          "assert regdiag.survival.coxph is regdiag.coxph; assert 'engine' in dir(regdiag)")
    assert "regdiag.engine" in mods and "regdiag.dask" not in mods


def test_compare_is_the_function_even_after_its_module_is_imported():
    code = ("import regdiag, regdiag.report.bundle; from regdiag.compare import compare; "
            "assert regdiag.compare is compare")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_entry_layer_loads_dask_and_the_engine_only_when_used():
    mods = _modules_after("import regdiag; f = regdiag.ols; g = regdiag.glm; h = regdiag.influence")
    assert "regdiag.api" in mods and "regdiag.linear.glm" in mods
    for heavy in ("regdiag.engine", "regdiag.dask", "dask", "regdiag.survival", "matplotlib", "torch"):
        assert heavy not in mods, heavy


def test_a_report_of_a_least_squares_fit_loads_no_scipy_stats():
    """The report's numbers and every figure module: distribution functions come from scipy.special."""
    mods = _modules_after("import regdiag.report, regdiag.report.bundle, regdiag.plots")
    assert "scipy.stats" not in mods
