"""The HTML report: one self-contained file (plots embedded as base64 SVG for small data, PNG above
:data:`SVG_MAX_N` observations; styles inline, no external URL) with the
model and fit, the flagged observations (ranked, capped, with a note when the rule flags a large share) and the rule
that flagged each, the diagnostic and teaching plots, the outlier test, collinearity, the engine cross-check, an
optional comparison with statsmodels, and links to the exports of every measure written next to it (CSV and JSON
up to :data:`EXPORT_PARQUET_ABOVE` observations, parquet above).

Every number comes from one :class:`~regdiag.report.bundle.Diagnostics` bundle; this module draws and writes it.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..protocols import is_glm
from ..results import MLEInfluence, RLMInfluence
from .bundle import CROSS_CHECK_ALL_SOLVERS, ENGINE_MAX_N, MAX_EXACT_GLM, Diagnostics, Steps, diagnose, text_progress
from .drawing import Drawing, machine_idle, take_early, worker_count
from .page import _e, _num, _table
from .page import page as _page
from .text import make_folder, summary_text, write_measures_csv

__all__ = ["HTMLReport", "write_html_report", "text_progress", "EXPORT_PARQUET_ABOVE"]

#: resolution of the embedded plots
PNG_DPI = 110
#: up to this many observations the plots are embedded as SVG, above as PNG: at this size a vector figure is drawn
#: in about three quarters of the time of the PNG (text is written, not rendered) and stays sharp at any zoom; with
#: more points it is no faster and several times larger
SVG_MAX_N = 200
#: rows of the flagged table shown in the page, by decreasing Cook's distance (all of them are in the export)
MAX_FLAGGED_ROWS = 100
#: with ``exports="auto"``, above this many observations the measures are written as parquet (measures.parquet)
#: instead of CSV and JSON: a CSV of n = 10^6 rows and 25 measures is about 0.7 GB and takes a minute to format,
#: the parquet file a tenth of that in a second, and it keeps every double exactly
EXPORT_PARQUET_ABOVE = 50_000
#: figures drawn in parallel worker processes (forked, where the platform has fork) when there are this many or more
PARALLEL_FIGURES = 4
#: up to this many observations, and while the machine's load average is below
#: :data:`~regdiag.report.drawing.EARLY_DRAWING_MAX_LOAD`, the drawing processes start before the numbers are computed
#: (see _Figures)
EARLY_DRAWING_MAX_N = 20_000

_ = (CROSS_CHECK_ALL_SOLVERS, ENGINE_MAX_N, MAX_EXACT_GLM)  # re-exported: the report's limits live in bundle.py


@dataclass(frozen=True)
class HTMLReport:
    """What the HTML report wrote.

    Attributes
    ----------
    path : pathlib.Path
        The report (``report.html`` in the output folder).
    text : str
        The terminal summary (ends with the report's path).
    exports : dict of str to Path
        The files written next to the report: "measures.csv" and "measures.json" (or "measures.parquet" and
        "model.json" for big data), "flagged.csv", "outlier_test.csv", and where computed "cross_check.csv",
        "compare_statsmodels.csv", "vif.csv".
    flagged : pandas.DataFrame
    cross_check : pandas.DataFrame or None
    comparison : Comparison or None
    warnings : tuple of str
        Warnings raised while computing (shown in the report).
    diagnostics : Diagnostics
        The bundle every number of the report came from.
    """

    path: Path
    text: str
    exports: dict[str, Path]
    flagged: pd.DataFrame
    cross_check: pd.DataFrame | None = None
    comparison: Any = None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    diagnostics: Diagnostics | None = None


# ---------------------------------------------------------------------------------------------------------------
# figures


def _image_src(fig: Any, vector: bool) -> str:
    """The figure as a ``data:`` URI: SVG when ``vector`` (see :data:`SVG_MAX_N`), else PNG."""
    from ..plots import image_data_uri

    return image_data_uri(fig, vector)


def _vector(n_obs: int) -> bool:
    """Whether a figure of ``n_obs`` observations is embedded as SVG (see :data:`SVG_MAX_N`)."""
    return n_obs <= SVG_MAX_N


def _figure(nrows: int, ncols: int, panel: tuple[float, float]) -> tuple[Any, Any]:
    """A figure that does not go through pyplot (so no GUI backend is touched) and its grid of axes (matplotlib is
    imported by regdiag.plots only)."""
    from ..plots import figure_grid

    return figure_grid(nrows, ncols, panel, dpi=PNG_DPI, layout="fixed")


def _grid(n: int, ncols: int) -> tuple[int, int]:
    ncols = max(1, min(ncols, n))
    return math.ceil(n / ncols), ncols


@dataclass
class _Plot:
    key: str
    title: str
    caption: str
    src: str = ""
    error: str = ""


def _overview_caption(b: Diagnostics, n_labels: int) -> str:
    """The caption of the overview (R's plot(lm)): what each panel shows, the Q-Q band and the leverage panel for
    this fit, the labels and the density layer."""
    from ..plots import DENSITY_ABOVE

    infl = b.influence
    h = np.asarray(infl.leverage, dtype=float)
    w = infl.weights
    used = np.isfinite(h) & (h < 1) & (np.ones(len(h), dtype=bool) if w is None else np.asarray(w) > 0)
    if used.any() and float(np.ptp(h[used])) <= 1e-10 * float(np.max(h[used])):
        bottom_right = (
            "every observation has the same leverage (" + f"{float(np.mean(h[used])):.4g}" + "), so, as in R, the "
            "standardized residuals are plotted against the levels of the model's factors instead (against the "
            "observation number if it has none)."
        )
    else:
        bottom_right = (
            "standardized residuals against leverage; points beyond the dashed Cook's distance contours 0.5 and 1 "
            "move the fit a lot."
        )
    labelled = (
        f" In each plot the {n_labels} most extreme points are labelled with their row labels." if n_labels else ""
    )
    many = (
        f" With {infl.n_obs} rows the bulk of the points is drawn as a shaded density and the points in sparse "
        "regions (and the labelled ones) on top." if infl.n_obs > DENSITY_ABOVE else ""
    )
    env = b.envelope
    if env is None:
        band = "no simulated band"
    elif env.nsim == 0:
        band = ("the band in which 95% of the sorted residuals fall under the model, from the distribution of order "
                f"statistics (exact to O(p/n); with n = {infl.n_obs} no simulation is needed)")
    else:
        band = (f"the band in which 95% of the sorted residuals of {env.nsim} data sets simulated from the fitted "
                "model fall (with its weights)")
    return (
        "Top left: residuals against fitted values with a lowess smoother — curvature suggests a missing term, a "
        f"funnel unequal variances. Top right: studentized residuals against their theoretical quantiles, with {band}. "
        "Bottom left: scale-location, a rising smoother means the spread grows with the mean. Bottom right: "
        + bottom_right + labelled + many
    )


def _engine_specs(b: Diagnostics, n_labels: int) -> list[tuple[str, str, str, Callable[[], Any]]]:
    """The engine plots: the plain influence-function estimate against exact deletion, and three curvatures."""
    from .. import plots

    infl = b.influence
    specs: list[tuple[str, str, str, Callable[[], Any]]] = []
    runs = b.engine_values
    plain = runs.get(("exact", "direct", "none"))
    specs.append((
        "engine_vs_exact", "Second-order influence estimate against exact deletion",
        "The engine's influence-function estimate H⁻¹∇ℓᵢ/n with the exact Hessian and no leverage correction, "
        "against the exact change from deleting the observation, in standard errors. For least squares the "
        "estimate is (1 - hᵢ) times the exact change, so high-leverage points fall short of the line.",
        _engine_single(plots, plain, n_labels) if plain is not None
        else _failed(_no_engine(infl)),
    ))
    curv = {c: runs[(c, "direct", "leverage")] for c in ("exact", "kfac", "ekfac")
            if (c, "direct", "leverage") in runs}
    specs.append((
        "curvature_comparison", "Curvatures compared: exact, K-FAC, EK-FAC",
        "The same comparison with the leverage correction, for three curvatures. Points on the line: the "
        "curvature gives the exact deletion; what remains off it is the curvature's approximation.",
        _engine_panel(plots, curv, n_labels) if curv else _failed(_no_engine(infl)),
    ))
    return specs


def _single(infl: Any, fn: Callable[..., Any], size: tuple[float, float] = (6.4, 4.6), **kw: Any) -> Callable[[], Any]:
    """Draws ``fn(infl, **kw)`` on a new figure of one panel of ``size`` inches (``n_labels=None``: a plot that
    labels no extreme points)."""
    if kw.get("n_labels", 0) is None:
        del kw["n_labels"]

    def make() -> Any:
        fig, axes = _figure(1, 1, size)
        fn(infl, ax=axes[0, 0], **kw)
        return fig

    return make


def _panel(infl: Any, fn: Callable[..., Any], n: int, ncols: int, size: tuple[float, float],
           **kw: Any) -> Callable[[], Any]:
    """Draws ``fn(infl, **kw)`` on a new figure of ``n`` panels of ``size`` inches, ``ncols`` across."""
    def make() -> Any:
        fig, axes = _figure(*_grid(n, ncols), size)
        fn(infl, ax=axes, **kw)
        return fig

    return make


def _component_residual_spec(b: Diagnostics, n_labels: int) -> tuple[str, str, str, Callable[[], Any]]:
    from .. import plots

    one_col = _numeric_terms(b.fit)
    return (
        "component_residual", "Component + residual plots (car's crPlots)",
        "Each term's partial residual (working residual plus the term's centred contribution) against the term, "
        "with the fitted component (dashed) and a lowess smoother (red): a smoother that bends away from the "
        "line suggests the term needs a transformation." + (" Factors are left out." if len(one_col) <
                                                               len(_terms(b.fit)) else ""),
        _panel(b.influence, plots.component_residual, len(one_col), 3, (3.5, 3.0), n_labels=min(n_labels, 2),
               partial=b.partial),
    )


def _teaching_specs(b: Diagnostics, n_labels: int, slopes: list[str]) -> list[tuple[str, str, str, Callable[[], Any]]]:
    """The plots of least squares and GLM fits beyond R's: added-variable, component + residual, collinearity and
    what deleting the most influential row does."""
    from .. import plots

    fit, infl = b.fit, b.influence
    specs: list[tuple[str, str, str, Callable[[], Any]]] = []
    if slopes:
        specs.append((
            "added_variable", "Added-variable plots",
            "For each coefficient, the response and that term each regressed on all other terms; the line through "
            "the residuals has the coefficient as its slope, so a point's pull on the line is its pull on the "
            "coefficient.",
            _panel(infl, plots.added_variable, len(slopes), 3, (3.5, 3.0), n_labels=n_labels),
        ))
    if _numeric_terms(fit) and b.partial is not None:
        specs.append(_component_residual_spec(b, n_labels))
    if len(_terms(fit)) >= 2:  # collinearity needs two terms
        specs.append((
            "vif", "Collinearity (car's vif)",
            "GVIF^(1/(2 Df)) per term — for a one-column term √VIF, the factor by which its standard error is "
            "inflated by its correlation with the other terms; generalized (Fox & Monette) for factors. Lines at VIF "
            "5 and 10.",
            _single(infl, plots.vif_panel, (6.4, 0.45 * len(b.vif) + 1.6), values=b.vif, n_labels=None)
            if b.vif is not None else _failed(b.vif_error or "not computed"),
        ))
    rows = ", ".join(map(str, b.deletion.rows)) if b.deletion is not None else "the most influential row"
    specs.append((  # the exact deletion from the closed form: least squares and GLMs
        "deletion", "What deleting the most influential row does",
        f"The fit with and without {rows} (the largest Cook's distance), exact from the closed form: the fitted "
        "line when the model has one predictor, else the added-variable view of the coefficient the deletion "
        "moves most.",
        _single(infl, plots.deletion, effect=b.deletion, n_labels=None) if b.deletion is not None
        else _failed("the deletion could not be computed"),
    ))
    return specs


def _plot_specs(b: Diagnostics, n_labels: int, engine: bool) -> list[tuple[str, str, str, Any]]:
    """The report's plots: (key, title, caption, a function drawing it on a new figure from the bundle)."""
    from .. import plots

    fit, infl = b.fit, b.influence
    is_glm = b.is_glm
    kept = [nm for nm in infl.param_names if nm not in infl.aliased]
    slopes = [nm for nm in kept if nm not in ("Intercept", "(Intercept)", "const")]
    specs: list[tuple[str, str, str, Callable[[], Any]]] = []

    def single(fn: Callable[..., Any], size: tuple[float, float] = (6.4, 4.6), **kw: Any) -> Callable[[], Any]:
        return _single(infl, fn, size, **{"n_labels": n_labels, **kw})

    def panel(fn: Callable[..., Any], n: int, ncols: int, size: tuple[float, float], **kw: Any) -> Callable[[], Any]:
        return _panel(infl, fn, n, ncols, size, **kw)

    robust = isinstance(infl, RLMInfluence)
    mle = isinstance(infl, MLEInfluence)  # discrete models: no least-squares residuals, no factorization
    overview_caption = _overview_caption(b, n_labels)
    if robust:
        specs += [
            ("weights", "Robustness weights",
             "The final IRLS weight of each observation against its scaled residual r/s, on the curve of the psi "
             "function's weights: weight 1 pulls the fit as in least squares, lower weights have their pull capped "
             "(Huber) or removed (redescending psi).",
             single(plots.weights_plot)),
            ("residuals_fitted", "Residuals vs fitted", "Residuals against fitted values, with a lowess smoother.",
             single(plots.residuals_fitted)),
        ]
    elif not mle:  # the overview's panels need least-squares or GLM residuals
        specs.append((
            "overview", "Overview (R's plot(lm))",
            overview_caption,
            panel(plots.overview, 4, 2, (5.2, 4.0), n_labels=n_labels,
                  envelope=b.envelope if b.envelope is not None else False),
        ))
    if is_glm:
        specs.append((
            "half_normal", "Half-normal plot",
            "Absolute studentized (likelihood) residuals against half-normal quantiles, with the 95% pointwise band "
            f"of {getattr(b.half_normal_envelope, 'nsim', 0)} data sets simulated from the fitted GLM (same "
            "weights), each taken to its own estimate by scoring steps with the fit's factorization. Points above "
            "the band are more extreme than the model allows.",
            single(plots.half_normal, envelope=b.half_normal_envelope if b.half_normal_envelope is not None
                   else False),
        ))
    specs += [
        ("cooks_index", "Cook's distance by observation",
         "How far the whole coefficient vector moves, in its own confidence-region metric, when each observation is "
         "deleted. Reference lines: 4/n, and the median of F(p, n - p) (R's cut-off).",
         single(plots.cooks_index)),
        ("cooks_leverage", "Cook's distance against h/(1-h)",
         "Cook's distance is the product of a leverage part h/(1-h) and a residual part; the dotted lines join points "
         "with equal standardized residuals. Points high on the right are influential through leverage, points high "
         "on the left through their residual.",
         single(plots.cooks_leverage)),
        ("influence_bubble", "Influence plot",
         "Studentized residual against leverage; circle area proportional to Cook's distance. Dashed lines: leverage "
         "2p/n and 3p/n, residuals ±2."
         + (f" Labelled (outlined in red), as car's influencePlot does: the {n_labels} largest leverages, the "
            f"{n_labels} largest |studentized residuals| and the {n_labels} largest Cook's distances." if n_labels
            else ""),
         single(plots.influence_bubble)),
        ("index_plot", "Influence index plot (car's infIndexPlot)",
         "Cook's distance, studentized residuals, Bonferroni-adjusted outlier p-values and hat values by row.",
         panel(plots.index_plot, 4, 1, (8.0, 1.7), n_labels=n_labels, values=b.index_values)),
        ("dffits_covratio", "DFFITS and COVRATIO by observation",
         "Left: the change of each row's own fitted value when it is deleted, in standard errors; dashed: R's "
         "±3√(p/(n−p)) and Belsley, Kuh & Welsch's ±2√(p/n). Right: the ratio of the determinants of the "
         "coefficients' covariance without and with the row; dashed: R's 1 ± 3p/(n−p).",
         _pair(plots.dffits_index, plots.covratio_index, infl, n_labels)),
        ("potential_residual", "Potential-residual plot (Hadi)",
         "Potential h/(1−h) against Hadi's residual function p/(1−h)·d²/(1−d²) (d the normalized residual): high "
         "points are remote in the design, points on the right are badly fitted; labelled: the largest Hadi "
         "measures (their sum).",
         single(plots.potential_residual, values=b.potential_residual)),
        ("dfbetas", "DFBETAS",
         "Change in each coefficient when an observation is deleted, in standard errors. Dashed: ±2/√n (Belsley, Kuh "
         "& Welsch); dotted: ±1 (R's cut-off), drawn in the panels whose values reach a third of it (the others say "
         "it is off scale)." + (_GLM_DFBETA_NOTE if is_glm and not mle else ""),
         panel(plots.dfbetas_panel, len(kept), 3, (3.4, 2.7), n_labels=n_labels)),
    ]
    if mle:  # the bubble plot needs studentized residuals, not defined for these models
        specs = [sp for sp in specs if sp[0] != "influence_bubble"]
    if not (robust or mle):
        specs += _teaching_specs(b, n_labels, slopes)
    elif _numeric_terms(fit) and b.partial is not None:
        specs.append(_component_residual_spec(b, n_labels))
    if engine:
        specs += _engine_specs(b, n_labels)
    return specs


def _n_plots(fit: Any, engine: bool) -> int:
    """How many plots :func:`_plot_specs` makes for this fit (known before the bundle, for the progress count)."""
    infl_names = [nm for nm in fit.design.param_names if nm not in getattr(fit, "aliased", ())]
    slopes = [nm for nm in infl_names if nm not in ("Intercept", "(Intercept)", "const")]
    one_col = _numeric_terms(fit)
    return (9 + int(len(_terms(fit)) >= 2) + int(is_glm(fit)) + int(bool(slopes)) + int(bool(one_col))
            + 2 * int(engine))


def _no_engine(infl: Any) -> str:
    if infl.n_obs > ENGINE_MAX_N:
        return f"the engine is not run in the report above {ENGINE_MAX_N} observations (regdiag.engine.influence(fit))"
    return "the engine did not run"


def _failed(why: str) -> Callable[[], Any]:
    def make() -> Any:
        raise ValueError(why)

    return make


def _terms(fit: Any) -> dict[str, list[int]]:
    from ..linear.teaching import term_columns

    return term_columns(fit)


def _numeric_terms(fit: Any) -> list[str]:
    from ..linear.teaching import numeric_terms

    return numeric_terms(fit)


def _pair(left: Callable[..., Any], right: Callable[..., Any], infl: Any, n_labels: int) -> Callable[[], Any]:
    def make() -> Any:
        fig, axes = _figure(1, 2, (5.0, 3.8))
        left(infl, ax=axes[0, 0], n_labels=n_labels)
        right(infl, ax=axes[0, 1], n_labels=n_labels)
        return fig

    return make


def _draw(make: Callable[[], Any], vector: bool) -> tuple[str, str]:
    """``(data URI, error)`` of one figure."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _image_src(make(), vector), ""
    except Exception as exc:  # a plot that cannot be drawn for this fit is reported, not fatal
        return "", f"{type(exc).__name__}: {exc}"


#: the figures being drawn, read by workers forked after they were made (a function made in the parent cannot be
#: pickled)
_PENDING: list[tuple[Callable[[], Any], bool]] = []
#: in a worker started before the numbers: the bundles it read (by file) and the figures made from each
_LOADED: dict[str, tuple[Diagnostics, list[Callable[[], Any]]]] = {}


def _draw_pending(k: int) -> tuple[str, str]:
    return _draw(*_PENDING[k])


def _draw_from_bundle(path: str, n_labels: int, k: int, engine_path: str | None = None) -> tuple[str, str]:
    """Draw figure ``k`` of the bundle pickled at ``path`` (read once per worker): of its main figures, or with
    ``engine_path`` (the engine plots' values, pickled once the engine has run) of its engine figures."""
    import pickle

    key = path if engine_path is None else engine_path
    if key not in _LOADED:
        if path not in _LOADED:
            with open(path, "rb") as fh:
                b = pickle.load(fh)
            _LOADED[path] = (b, [make for *_, make in _plot_specs(b, n_labels, engine=False)])
        if engine_path is not None:
            with open(engine_path, "rb") as fh:
                values = pickle.load(fh)
            b = dataclasses.replace(_LOADED[path][0], engine_values=values)
            _LOADED[engine_path] = (b, [make for *_, make in _engine_specs(b, n_labels)])
    b, makes = _LOADED[key]
    return _draw(makes[k], _vector(b.influence.n_obs))


def _cost(key: str, b: Diagnostics) -> int:
    """The relative cost of drawing figure ``key``: about its number of panels (others: one)."""
    infl = b.influence
    kept = [nm for nm in infl.param_names if nm not in infl.aliased]
    panels = {"overview": 4, "index_plot": 4, "dfbetas": len(kept), "added_variable": len(kept),
              "component_residual": len(kept), "curvature_comparison": 3, "dffits_covratio": 2}
    return panels.get(key, 1)


class _Figures:
    """The report's figures, drawn by worker processes (:mod:`regdiag.report.drawing`) or by the parent.

    On a machine with a core to spare and up to :data:`EARLY_DRAWING_MAX_N` observations the workers are started
    before the numbers (by ``regdiag report`` before it even reads the data; here otherwise): they load matplotlib
    while the parent computes. They are handed the bundle pickled to a file as soon as every number the main figures
    need is known (:meth:`main`), and draw those while the parent runs the engine; the engine plots follow, handed
    over with the engine's values (:meth:`render`). Otherwise (big data, a saturated machine) the workers are forked
    once the whole bundle is computed, after the parent has loaded matplotlib once for all of them, and they inherit
    the bundle. With one core, or no ``fork``, the parent draws. The figures are the same either way.
    """

    def __init__(self, n_figures: int, n_obs: int, n_labels: int) -> None:
        self.n_labels = n_labels
        self.early = take_early()
        if self.early is not None and (n_obs > EARLY_DRAWING_MAX_N or n_figures < PARALLEL_FIGURES):
            self.early.close()  # big data: the bundle is not pickled, the workers are forked after the numbers
            self.early = None
        if self.early is None and n_obs <= EARLY_DRAWING_MAX_N and n_figures >= PARALLEL_FIGURES and machine_idle():
            self.early = Drawing.start(n_figures, collect=False)
        self.tasks: dict[int, str] = {}  # task -> figure key
        self.path = ""

    def close(self) -> None:
        if self.early is not None:
            self.early.close()
            self.early = None

    def main(self, b: Diagnostics) -> None:
        """Hand the main figures of ``b`` (every number but the engine's) to the early workers."""
        if self.early is None:
            return
        import os
        import pickle

        specs = _plot_specs(b, self.n_labels, engine=False)
        self.path = os.path.join(self.early.scratch, "bundle.pickle")
        with open(self.path, "wb") as fh:  # the engine runs hold their engines; the plots need only their values
            pickle.dump(dataclasses.replace(b, engine_runs={}), fh, protocol=pickle.HIGHEST_PROTOCOL)
        for k in sorted(range(len(specs)), key=lambda k: -_cost(specs[k][0], b)):  # the longest first
            tid = self.early.submit(_draw_from_bundle, (self.path, self.n_labels, k))
            self.tasks[tid] = specs[k][0]

    def render(self, b: Diagnostics, specs: list[tuple[str, str, str, Any]], steps: Steps) -> list[_Plot]:
        """Every figure of ``specs`` (made by :func:`_plot_specs` from the whole bundle ``b``)."""
        drawn: dict[str, tuple[str, str]] = {}
        if self.early is not None and not self.path:  # never handed a bundle
            self.close()
        try:
            if self.early is not None and self.path:
                drawn = self._early(b, specs, steps)
            elif len(specs) >= PARALLEL_FIGURES and worker_count(len(specs)):
                drawn = self._forked(b, specs, steps)
        finally:
            self.close()
            _LOADED.clear()  # bundles read here for a lost worker's figures
        for key, title, _, make in specs:  # the parent draws what no worker did
            if key not in drawn:
                steps(f"plot: {title}")
                drawn[key] = _draw(make, _vector(b.influence.n_obs))
        items = [_Plot(key, title, caption) for key, title, caption, _ in specs]
        for item in items:
            item.src, item.error = drawn[item.key]
        return items

    def _early(self, b: Diagnostics, specs: list[tuple[str, str, str, Any]],
               steps: Steps) -> dict[str, tuple[str, str]]:
        assert self.early is not None
        import os
        import pickle

        titles = {key: title for key, title, *_ in specs}
        main = set(self.tasks.values())
        engine = [sp for sp in specs if sp[0] not in main]
        if engine and b.engine_values and [sp[0] for sp in _engine_specs(b, self.n_labels)] == [sp[0] for sp in engine]:
            values_path = os.path.join(self.early.scratch, "engine.pickle")
            with open(values_path, "wb") as fh:
                pickle.dump(b.engine_values, fh, protocol=pickle.HIGHEST_PROTOCOL)
            for k, sp in enumerate(engine):
                tid = self.early.submit(_draw_from_bundle, (self.path, self.n_labels, k, values_path))
                self.tasks[tid] = sp[0]
        drawn = {}
        for tid, result in self.early.results():
            key = self.tasks[tid]
            if key in titles:
                steps(f"plot: {titles[key]}")
                drawn[key] = result
        return drawn

    def _forked(self, b: Diagnostics, specs: list[tuple[str, str, str, Any]],
                steps: Steps) -> dict[str, tuple[str, str]]:
        global _PENDING
        from ..plots import warm_up

        warm_up()  # imported once here, shared by the forked workers
        vector = _vector(b.influence.n_obs)
        _PENDING = [(make, vector) for *_, make in specs]
        drawing = Drawing.start(len(specs), warm=False)
        if drawing is None:
            _PENDING = []
            return {}
        try:
            keys = {drawing.submit(_draw_pending, (k,)): specs[k] for k in range(len(specs))}
            drawn = {}
            for tid, result in drawing.results():
                steps(f"plot: {keys[tid][1]}")
                drawn[keys[tid][0]] = result
            return drawn
        finally:
            drawing.close()
            _PENDING = []


def _engine_single(plots: Any, values: Any, n_labels: int) -> Callable[[], Any]:
    def make() -> Any:
        fig, axes = _figure(1, 1, (4.8, 4.8))
        plots.engine_vs_exact(values, ax=axes[0, 0], n_labels=n_labels)
        return fig

    return make


def _engine_panel(plots: Any, runs: dict[str, Any], n_labels: int) -> Callable[[], Any]:
    def make() -> Any:
        fig, axes = _figure(1, len(runs), (4.2, 4.4))
        plots.curvature_comparison(runs, ax=axes, n_labels=n_labels)
        return fig

    return make


# ---------------------------------------------------------------------------------------------------------------
# exports


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _write_json(infl: Any, fit: Any, path: Path, frame: pd.DataFrame | None = None) -> None:
    """Every measure, column by column (exact doubles: the shortest repr that reads back; NaN as null), with the
    model description. Each column is formatted by numpy in one call, not float by float."""
    frame = infl.to_frame() if frame is None else frame
    head = {
        "format": "regdiag measures, columns",
        "model": _model_info(fit, infl),
        "index_name": frame.index.name,
        "index": [_json_value(x.item() if isinstance(x, np.generic) else x) for x in frame.index],
    }
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(head, allow_nan=False)[:-1] + ', "measures": {')
        for k, col in enumerate(frame.columns):
            fh.write(("" if k == 0 else ", ") + json.dumps(str(col)) + ": [" + _json_numbers(frame[col]) + "]")
        fh.write("}}")


def _json_numbers(col: pd.Series) -> str:
    """A column of doubles as JSON numbers: ``repr`` of each (shortest round trip), ``null`` for NaN and infinities.

    ``json.dumps`` of the list writes the non-finite values as the tokens ``NaN``, ``Infinity`` and ``-Infinity``
    (no number contains those letters), which are then replaced: one C-speed pass instead of a test per value."""
    text = json.dumps(col.to_numpy(dtype=float).tolist(), allow_nan=True)[1:-1]
    if "N" in text or "I" in text:
        text = text.replace("-Infinity", "null").replace("Infinity", "null").replace("NaN", "null")
    return text


def write_measures_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """``measures.parquet``: every measure with the row labels (as the CSV, exact doubles). A folder of that name
    (a streamed report's export, one file per partition, in the same output folder) is replaced."""
    if path.is_dir():
        import shutil

        shutil.rmtree(path)
    frame.to_parquet(path, index=True)
    return path


def _model_info(fit: Any, infl: Any) -> dict[str, Any]:
    d = fit.design
    info: dict[str, Any] = {
        "formula": d.formula,
        "response": d.response_name,
        "method": infl.method,
        "n_obs": int(infl.n_obs),
        "rank": int(infl.rank),
        "df_resid": float(infl.df_resid),
        "params": {nm: _json_value(float(v)) for nm, v in zip(infl.param_names, np.asarray(infl.params))},
        "weights": d.weights is not None,
    }
    fam = getattr(fit, "family", None)
    if fam is not None:
        info["family"] = str(fam.name)
        info["link"] = str(getattr(fam.link, "name", fam.link))
        info["dispersion"] = float(fit.dispersion)
    else:
        info["sigma"] = float(infl.sigma)
    return info


# ---------------------------------------------------------------------------------------------------------------
# the page

def _fit_section(fit: Any, infl: Any, label: str) -> str:
    d = fit.design
    info = _model_info(fit, infl)
    kv = [("data", label), ("model", d.formula or "(design given as arrays)"), ("method", infl.method)]
    if "family" in info:
        kv.append(("family / link", f"{info['family']} / {info['link']}"))
        kv.append(("dispersion", _num(info["dispersion"], 6)))
        kv.append(("deviance", f"{_num(fit.deviance, 6)} on {fit.df_resid} df (null {_num(fit.null_deviance, 6)})"))
    else:
        kv.append(("residual standard error", f"{_num(infl.sigma, 6)} on {_num(infl.df_resid)} df"))
        kv.append(("R-squared", _num(getattr(fit, "rsquared", float("nan")), 4)))
    kv += [
        ("observations", f"{infl.n_obs}" + (" (weighted)" if d.weights is not None else "")),
        ("rank", f"{infl.rank} of {len(infl.param_names)} columns"),
        ("condition number", _num(getattr(fit, "cond", float("nan")), 3)),
    ]
    if len(d.dropped):
        kv.append(("dropped (missing values)", f"{len(d.dropped)}: " + ", ".join(map(str, d.dropped[:10]))))
    if infl.aliased:
        kv.append(("aliased (not estimable)", ", ".join(infl.aliased)))
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in kv)
    coef = fit.coef_table()
    return (
        f'<table class="kv"><tbody>{rows}</tbody></table>'
        f"<h3>Coefficients</h3>{_table(coef, index_label='term')}"
        f"<details><summary class=\"note\">full text summary</summary><pre>{_e(fit.summary())}</pre></details>"
    )


def _flagged_section(b: Diagnostics, flagged_export: str) -> str:
    flagged, infl, rule = b.flagged, b.influence, b.rule
    crit = flagged.attrs.get("criteria", {})
    n = len(flagged)
    parts = [
        f"<p><b>{n}</b> of {infl.n_obs} observations flagged by rule <b>{_e(rule)}</b>"
        + (" — an observation is listed when at least one criterion below flags it." if n else ".")
        + "</p>"
    ]
    if b.share_note:
        parts.append(f'<p class="warn">{_e(b.share_note)}</p>')
    if n:
        parts.append(_table(b.ranked.iloc[:MAX_FLAGGED_ROWS], text_cols=("flagged_by",)))
        shown = min(n, MAX_FLAGGED_ROWS)
        parts.append(f'<p class="note">{"All" if shown == n else f"The {shown} largest of the"} {n} flagged rows, '
                     f"by decreasing Cook's distance; all of them in <a href=\"{_e(flagged_export)}\">"
                     f"{_e(flagged_export)}</a>.</p>")
    if crit:
        items = "".join(f"<tr><td>{_e(k)}</td><td class=\"text\">{_e(v)}</td></tr>" for k, v in crit.items())
        parts.append(
            "<h3>The rule's criteria</h3><table><thead><tr><th>column</th><th class=\"text\">flags when</th></tr>"
            f"</thead><tbody>{items}</tbody></table>"
        )
    return "".join(parts)


def _outlier_section(b: Diagnostics) -> str:
    ot = b.outlier_test
    ref = ot.attrs.get("reference", "")
    return (
        f"<p>Each studentized residual tested as a mean shift ({_e(ref)} reference), Bonferroni-adjusted over "
        f"{ot.attrs.get('n_tests', '')} tests (car's outlierTest: the rows below the 0.05 cut-off, at most 10, or the "
        f"largest if none is; {b.n_bonferroni} row(s) in all below it).</p>" + _table(ot)
    )


def _cross_check_section(cc: pd.DataFrame | None, error: str) -> str:
    """The engine cross-check as a grid: one row per curvature and correction, one column per solver; each cell the
    relative DFBETA discrepancy, green where theory says the run is exact and it agrees, red where it does not."""
    if cc is None:
        return f'<p class="note">{_e(error or "not computed")}</p>'
    exact = cc[cc["agrees"].notna()]
    n_ok = int(exact["agrees"].fillna(False).astype(bool).sum())
    out = [
        f"<p>The second-order influence engine, run with each curvature and solver on the same fit, against the "
        f"closed form ({cc.attrs.get('n_compared', '')} observations; condition number of the curvature "
        f"{_num(cc.attrs.get('cond'), 3)}). Each cell is the relative discrepancy of the coefficient changes, "
        "max |engine − closed form| / max |closed form|. Where theory says a run is exact (green when it agrees) it "
        "must match to rounding — 0 with the leverage correction, and the leverage effect max |h·DFBETA| / max "
        "|DFBETA| (column <i>expected</i>) without it; the other runs are approximations, shown for scale. "
        f"<b class=\"{'ok' if n_ok == len(exact) else 'flag'}\">{n_ok} of {len(exact)}</b> exact runs agree.</p>"
    ]
    solvers = list(dict.fromkeys(cc["solver"]))
    head = "".join(f"<th>{_e(sv)}</th>" for sv in solvers)
    rows: list[str] = []
    failures: dict[str, None] = {}  # an ordered set of the failure messages
    for (cur, cor), grp in cc.groupby(["curvature", "correction"], sort=False):
        cells = []
        for sv in solvers:
            r = grp[grp["solver"] == sv]
            if not len(r):
                cells.append("<td></td>")
                continue
            r = r.iloc[0]
            if r["status"] != "ok":
                key = r["status"].split(":")[0]
                failures.setdefault(f"{sv}: {r['status']}", None)
                cells.append(f'<td class="warn" title="{_e(r["status"])}">{_e(key)}</td>')
                continue
            agrees = r["agrees"]
            cls = "" if agrees is pd.NA else (' class="ok"' if agrees else ' class="flag"')
            cells.append(f"<td{cls}>{_num(r['dfbeta'], 3)}</td>")
        expected = grp["expected"].dropna()
        exp_txt = _num(expected.iloc[0], 3) if len(expected) else "—"
        theory = grp["theory"].iloc[0]
        rows.append(
            f"<tr><td>{_e(cur)}</td><td>{_e(cor)}</td>{''.join(cells)}<td>{exp_txt}</td>"
            f'<td class="text">{_e(theory)}</td></tr>'
        )
    out.append(
        '<div class="scroll"><table><thead><tr><th>curvature</th><th>correction</th>'
        f'{head}<th>expected</th><th class="text">theory</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )
    if cc.attrs.get("note"):
        out.append(f'<p class="note">{_e(cc.attrs["note"])}</p>')
    if failures:
        items = "".join(f"<li>{_e(f)}</li>" for f in failures)
        out.append(f'<p class="note">Runs that gave no result:</p><ul class="note">{items}</ul>')
    out.append('<p class="note">Every run with its Cook\'s distance discrepancy and tolerance: '
               '<a href="cross_check.csv">cross_check.csv</a>.</p>')
    return "".join(out)


def _compare_section(cmp: Any, error: str) -> str:
    if cmp is None:
        return f'<p class="note">{_e(error)}</p>' if error else ""
    t = cmp.table.copy()
    notes = "".join(f"<li>{_e(n)}</li>" for n in cmp.notes)
    head = (
        f"<p>regdiag against <b>{_e(cmp.peer)}</b> on the same fit ({_e(cmp.model)}). Per measure: the largest "
        "absolute difference, the largest difference relative to the measure's scale, the rows that differ most, "
        "and, where they differ, the cause detected from the situation; <i>explained</i> says whether regdiag, "
        "recomputing the peer's convention, reproduces the peer's numbers.</p>"
    )
    if notes:
        head += f'<ul class="note">{notes}</ul>'

    def expl_cls(v: Any) -> str:
        if v is pd.NA or v is None:
            return ""
        return "ok" if v else "flag"

    # each distinct reason once, under the table; the table refers to it by number
    numbers: dict[str, int] = {}
    for text in t["reason"]:
        if text and text not in numbers:
            numbers[text] = len(numbers) + 1
    t["reason"] = [f"[{numbers[x]}]" if x else "" for x in t["reason"]]
    table = _table(
        t, text_cols=("peer_column", "differ_most", "defined_on_one_side", "reason"),
        classes={"agree": lambda v: "ok" if v else "warn", "explained": expl_cls},
    )
    items = "".join(f"<li value=\"{n}\">{_e(text)}</li>" for text, n in numbers.items())
    return head + table + (f'<p class="note">Reasons:</p><ol class="note">{items}</ol>' if items else "")


#: what a GLM's DFBETA(S) are, beside R's
_GLM_DFBETA_NOTE = (
    " For a GLM these are the one-step changes with Pearson residuals (the Fisher-scoring step, as statsmodels "
    "computes them); R's influence.measures takes deviance residuals instead (Influence.dfbeta_as('R')), which "
    "differ for rows with large residuals. Rule 'R' flags with R's."
)


def _exports_section(exports: dict[str, Path], glm: bool = False) -> str:
    what = {
        "measures.csv": "every measure of every observation (the columns of Influence.to_frame())"
                        + ("; DFBETA(S) with Pearson residuals, R's with deviance residuals" if glm else ""),
        "measures.json": "the same, column by column, with the model description (NaN as null)",
        "measures.parquet": "every measure of every observation (the columns of Influence.to_frame(), exact doubles; "
                            f"written instead of CSV and JSON above {EXPORT_PARQUET_ABOVE} observations)",
        "model.json": "the model description (the head of measures.json)",
        "flagged.csv": "every flagged observation and the criteria that flagged each",
        "outlier_test.csv": "the outlier test",
        "cross_check.csv": "the engine cross-check table",
        "compare_statsmodels.csv": "the comparison with statsmodels",
        "vif.csv": "variance inflation factors (car's vif)",
    }
    items = "".join(
        f'<li><a href="{_e(name)}" download>{_e(name)}</a> — {_e(what.get(name, ""))}</li>' for name in exports
    )
    return f'<p class="note">Written next to this report (same folder):</p><ul>{items}</ul>'


def _vif_section(b: Diagnostics) -> str:
    if b.vif is None:
        return f'<p class="note">{_e(b.vif_error or "not computed")}</p>'
    return (
        "<p>Variance inflation factors as car's <code>vif</code>: GVIF (generalized for terms of several columns, Fox "
        "&amp; Monette 1992), its degrees of freedom, and GVIF^(1/(2 Df)), which is comparable across terms (for one "
        "column √VIF, the factor by which the standard error is inflated by collinearity).</p>" + _table(b.vif)
    )


# ---------------------------------------------------------------------------------------------------------------


def write_exports(b: Diagnostics, out: Path, exports: str = "auto") -> dict[str, Path]:
    """Write the exports of a bundle into ``out``: the measures (CSV and JSON for small data, parquet above
    :data:`EXPORT_PARQUET_ABOVE` observations with ``exports="auto"``), every flagged row, the outlier test, the
    cross-check, the comparison and the VIF table."""
    if exports not in ("auto", "csv", "parquet"):
        raise ValueError(f"exports={exports!r}; choose 'auto', 'csv' or 'parquet'")
    infl, fit = b.influence, b.fit
    frame = infl.to_frame()
    parquet = exports == "parquet" or (exports == "auto" and infl.n_obs > EXPORT_PARQUET_ABOVE)
    written: dict[str, Path] = {}
    if parquet:
        try:
            written["measures.parquet"] = write_measures_parquet(frame, out / "measures.parquet")
            (out / "model.json").write_text(json.dumps(_model_info(fit, infl), allow_nan=False, indent=1),
                                            encoding="utf-8")
            written["model.json"] = out / "model.json"
        except ImportError:  # no parquet engine: CSV after all
            parquet = False
    if not parquet:
        written["measures.csv"] = write_measures_csv(infl, out, frame=frame)
        written["measures.json"] = out / "measures.json"
        _write_json(infl, fit, written["measures.json"], frame=frame)
    written["flagged.csv"] = out / "flagged.csv"
    b.flagged.to_csv(written["flagged.csv"], index_label=str(b.flagged.index.name or "row"))
    written["outlier_test.csv"] = out / "outlier_test.csv"
    b.outlier_test.to_csv(written["outlier_test.csv"], index_label=str(b.outlier_test.index.name or "row"))
    if b.cross_check is not None:
        written["cross_check.csv"] = out / "cross_check.csv"
        b.cross_check.to_csv(written["cross_check.csv"], index=False)
    if b.comparison is not None:
        written["compare_statsmodels.csv"] = out / "compare_statsmodels.csv"
        b.comparison.table.to_csv(written["compare_statsmodels.csv"])
    if b.vif is not None:
        written["vif.csv"] = out / "vif.csv"
        b.vif.to_csv(written["vif.csv"], index_label="term")
    return written


def _figures_html(figures: list[_Plot]) -> str:
    out = []
    for f in figures:
        if f.src:
            out.append(
                f'<figure id="plot-{f.key}"><h3>{_e(f.title)}</h3><img alt="{_e(f.title)}" '
                f'src="{f.src}"><figcaption>{_e(f.caption)}</figcaption></figure>'
            )
        else:
            out.append(f'<h3>{_e(f.title)}</h3><p class="warn">not drawn: {_e(f.error)}</p>')
    return "".join(out)


def _sections(b: Diagnostics, figures: list[_Plot], written: dict[str, Path], label: str,
              compare_statsmodels: bool) -> list[tuple[str, str, str]]:
    """The page's sections ``(id, heading, html)``, from the bundle, the drawn figures and the exports."""
    sections = [
        ("fit", "Model and fit", _fit_section(b.fit, b.influence, label)),
        ("flagged", "Flagged observations", _flagged_section(b, "flagged.csv")),
        ("plots", "Plots", _figures_html(figures)),
        ("outliers", "Outlier test", _outlier_section(b)),
        ("collinearity", "Collinearity", _vif_section(b)),
        ("crosscheck", "Engine cross-check", _cross_check_section(b.cross_check, b.cross_check_error)),
    ]
    if compare_statsmodels:
        sections.append(("compare", "Comparison with statsmodels", _compare_section(b.comparison,
                                                                                     b.comparison_error)))
    if b.warnings:
        items = "".join(f"<li>{_e(w)}</li>" for w in b.warnings)
        sections.append(("warnings", "Warnings", f'<ul class="warn">{items}</ul>'))
    sections.append(("exports", "Exports", _exports_section(written, glm=b.is_glm and
                                                          not isinstance(b.influence, MLEInfluence))))
    return sections


def _meta(infl: Any) -> str:
    from .._version import __version__

    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return f"regdiag {_e(__version__)} · {_e(now)} · {_e(infl.method)}, n = {infl.n_obs}, rank = {infl.rank}"


def _summary_lines(b: Diagnostics, title: str) -> list[str]:
    """The terminal summary: the fit, the flagged rows, the note on their share, the cross-check and comparison."""
    import textwrap

    lines = summary_text(b.fit, b.influence, b.flagged, b.rule, title, outlier=b.outlier_test, ranked=b.ranked)
    if b.share_note:
        lines += ["", *textwrap.wrap(b.share_note, 100)]
    cc = b.cross_check
    if cc is not None:
        exact = cc[cc["agrees"].notna()]
        n_ok = int(exact["agrees"].fillna(False).astype(bool).sum())
        lines.append(f"\nEngine cross-check: {n_ok} of {len(exact)} runs that theory says are exact agree with the "
                     "closed form")
    elif b.cross_check_error:
        lines.append(f"\n{b.cross_check_error}")
    cmp = b.comparison
    if cmp is not None:
        differ = cmp.table[~cmp.table["agree"]]
        lines.append(
            f"Comparison with {cmp.peer}: {len(cmp.table) - len(differ)} of {len(cmp.table)} measures agree"
            + (f"; the other {len(differ)} differ for detected reasons" if len(differ) and cmp.all_explained else
               (f"; {len(differ)} differ (see the report)" if len(differ) else ""))
        )
    elif b.comparison_error:
        lines.append(b.comparison_error)
    return lines


def write_html_report(
    fit: Any,
    out_dir: str | Path,
    *,
    rule: str = "R",
    n_labels: int = 3,
    title: str | None = None,
    label: str = "",
    cross_check: bool = True,
    engine_plots: bool = True,
    compare_statsmodels: bool = False,
    nsim: int = 199,
    progress: Callable[[str, int, int], None] | bool | None = None,
    exports: str = "auto",
) -> HTMLReport:
    """Write ``out_dir/report.html`` and the exports for a fitted model.

    Every number is computed once, into one :class:`~regdiag.report.bundle.Diagnostics` bundle
    (:func:`~regdiag.report.bundle.diagnose`); the plots and the page only draw what it holds.

    Parameters
    ----------
    fit : OLSFit or GLMFit
    out_dir : str or Path
        Output folder (created if needed).
    rule : str
        Flagging rule (see :meth:`regdiag.Influence.flags`): "R", "BKW", "common" or criterion names.
    n_labels : int
        Points labelled with their row label in each plot.
    title : str, optional
    label : str
        Where the data came from (shown in the fit summary).
    cross_check : bool
        Run :func:`regdiag.cross_check` (every curvature and solver against the closed form; on big data the
        direct and CG solvers, or the direct one only).
    engine_plots : bool
        Draw the engine plots (estimate vs exact deletion, curvature comparison).
    compare_statsmodels : bool
        Add :func:`regdiag.compare` against statsmodels' measures on the same fit.
    nsim : int
        Simulated data sets for the Q-Q envelope (fewer on big data: the band's precision depends on their number,
        not on n; the caption says how many).
    progress : bool or callable(step, done, total), optional
        True: one line per step on standard error, once the report has taken more than about a second; a callable
        gets every step.
    exports : {"auto", "csv", "parquet"}
        Format of the measures: "auto" writes CSV and JSON up to :data:`EXPORT_PARQUET_ABOVE` observations and
        parquet above.

    Returns
    -------
    HTMLReport
    """
    out = Path(out_dir)
    make_folder(out)
    steps = Steps(progress, 0)
    n_plots = _n_plots(fit, engine_plots)
    steps.total = (2 + int(cross_check) + int(engine_plots) + int(compare_statsmodels) + int(nsim >= 2)
                   + n_plots + 2)
    drawing = _Figures(n_plots, int(getattr(fit, "nobs", 0) or 0), n_labels)
    try:
        b = diagnose(fit, rule=rule, nsim=nsim, cross_check=cross_check, engine=engine_plots,
                     compare_statsmodels=compare_statsmodels, steps=steps, ready=drawing.main)
        infl = b.influence
        specs = _plot_specs(b, n_labels, engine_plots)
        steps.total = steps.done + 2 + len(specs)  # the same count, unless a fit's terms surprise _n_plots
        steps("exports: " + ("parquet" if exports == "parquet" or (exports == "auto" and infl.n_obs >
                                                                    EXPORT_PARQUET_ABOVE) else "CSV and JSON"))
        written = write_exports(b, out, exports)
        title = title or "regdiag report"
        # the page and the summary, but for the figures, while the workers draw them
        sections = _sections(b, [], written, label, compare_statsmodels)
        lines = _summary_lines(b, title)
        figures = drawing.render(b, specs, steps)
    finally:
        drawing.close()
    steps("writing report.html")
    path = out / "report.html"
    sections = [(sid, head, _figures_html(figures) if sid == "plots" else body) for sid, head, body in sections]
    path.write_text(_page(title, sections, _meta(infl)), encoding="utf-8")
    measures = written.get("measures.csv", written.get("measures.parquet"))
    lines += ["", f"all measures: {measures}", f"report: {path}"]
    cc, cmp = b.cross_check, b.comparison
    return HTMLReport(
        path=path, text="\n".join(lines), exports=written, flagged=b.flagged, cross_check=cc, comparison=cmp,
        warnings=b.warnings, diagnostics=b,
    )
