"""The report of a Cox model: coefficients, the most influential observations (exact deletion beside R's one-step
``dfbeta``), dfbeta index plots, martingale residuals against the covariates, the engine cross-check and, on
request, the comparison with statsmodels' ``PHReg``. What ``regdiag report --model coxph`` writes."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .bundle import Steps as _Steps
from .html import HTMLReport, _e, _image_src, _page, _table, _vector
from .inputs import one_line
from .text import make_folder

__all__ = ["CoxDiagnostics", "diagnose_cox", "write_cox_report"]


def _influential(fit: Any, infl: Any, top: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows whose deletion moves some coefficient by more than ``2 / sqrt(n)`` standard errors (largest first), and
    the ``top`` of them as a table."""
    dfbs = infl.dfbetas
    worst = np.nanmax(np.abs(dfbs), axis=1)
    j = np.nanargmax(np.abs(np.where(np.isfinite(dfbs), dfbs, 0.0)), axis=1)
    cut = 2.0 / math.sqrt(fit.n_obs)
    names = np.array(fit.param_names)
    table = pd.DataFrame(
        {
            "time": fit.design.time,
            "status": fit.design.status.astype(int),
            "coefficient": names[j],
            "exact change / SE": dfbs[np.arange(len(j)), j],
            "one-step (R) / SE": infl.dfbetas_one_step[np.arange(len(j)), j],
            "martingale": infl.martingale,
            "deviance": infl.deviance,
        },
        index=fit.index,
    )
    order = np.argsort(-np.where(np.isfinite(worst), worst, np.inf), kind="stable")
    flagged = table.iloc[order][(worst[order] > cut) | ~np.isfinite(worst[order])]
    return flagged, flagged.head(top)


@dataclass(frozen=True, eq=False)
class CoxDiagnostics:
    """Everything the Cox report shows, computed once by :func:`diagnose_cox`.

    Attributes
    ----------
    fit : CoxFit
    influence : CoxInfluence
        Exact deletion beside R's one-step dfbeta, residuals.
    flagged : pandas.DataFrame
        Rows whose deletion moves some coefficient by more than 2/sqrt(n) standard errors, largest first.
    shown : pandas.DataFrame
        The first ``top`` of them (the page's table).
    cross_check : pandas.DataFrame or None
    cross_check_error : str
    comparison : Comparison or None
    comparison_error : str
    warnings : tuple of str
    """

    fit: Any
    influence: Any
    flagged: pd.DataFrame
    shown: pd.DataFrame
    cross_check: pd.DataFrame | None = None
    cross_check_error: str = ""
    comparison: Any = None
    comparison_error: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)


def diagnose_cox(fit: Any, *, top: int = 15, cross_check: bool = True, compare_statsmodels: bool = False,
                 steps: _Steps | None = None) -> CoxDiagnostics:
    """Compute every number of the Cox report once: the influence (exact leave-one-out), the flagged rows, the
    engine cross-check and the comparison with statsmodels' ``PHReg`` (each optional)."""
    from ..compare import compare
    from ..engine.crosscheck import cross_check as run_cross_check

    step = steps or _Steps(None)
    cc = cmp = None
    cc_error = cmp_error = ""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        step("exact leave-one-out")
        infl = fit.influence()
        if cross_check:
            step("engine cross-check")
            try:
                cc = run_cross_check(fit, curvatures=["exact"], solvers=["direct", "cg"], corrections=["none"])
            except Exception as exc:
                cc_error = one_line(str(exc))
        if compare_statsmodels:
            step("statsmodels comparison")
            try:
                cmp = compare(fit)
            except Exception as exc:
                cmp_error = one_line(str(exc))
    flagged, shown = _influential(fit, infl, top)
    return CoxDiagnostics(
        fit=fit, influence=infl, flagged=flagged, shown=shown, cross_check=cc, cross_check_error=cc_error,
        comparison=cmp, comparison_error=cmp_error,
        warnings=tuple(f"{w.category.__name__}: {w.message}" for w in rec),
    )


def _cox_figures(b: CoxDiagnostics, n_labels: int) -> list[tuple[str, str, str, str]]:
    """``(key, caption, data URI, error)`` of the Cox report's plots, drawn from the bundle."""
    from .. import plots

    fit, infl = b.fit, b.influence
    p = len(fit.param_names)

    def grid() -> Any:  # a figure outside pyplot (no GUI backend, nothing left open)
        ncols = min(3, p)
        return plots.figure_grid(math.ceil(p / ncols), ncols, (3.4, 2.8))[1]

    figs = []
    for key, fn, caption in (
        ("dfbeta", lambda: plots.cox_dfbeta_index(infl, n_labels=n_labels, ax=grid()),
         "Change of each coefficient when each observation is deleted, in standard errors: exact deletion "
         "(stems) and R's one-step dfbetas (crosses); dashed lines at ±2/√n."),
        ("martingale", lambda: plots.cox_martingale_covariates(fit, n_labels=n_labels, ax=grid()),
         "Martingale residuals against each covariate with a lowess curve: a curve away from 0 suggests the "
         "covariate's functional form is wrong; large negative residuals are observations that lived much "
         "longer than the model predicts."),
    ):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                disp = fn()
                figs.append((key, caption, _image_src(disp.figure_, _vector(fit.n_obs)), ""))
        except Exception as exc:  # a plot that cannot be drawn is reported, the rest of the report stays
            figs.append((key, caption, "", one_line(str(exc))))
    return figs


def _cox_exports(b: CoxDiagnostics, out: Path) -> dict[str, Path]:
    """Write the measures, the flagged rows and the cross-check and comparison tables into ``out``."""
    exports: dict[str, Path] = {}
    b.influence.to_frame().to_csv(out / "measures.csv")
    exports["measures.csv"] = out / "measures.csv"
    b.flagged.to_csv(out / "flagged.csv")
    exports["flagged.csv"] = out / "flagged.csv"
    if b.cross_check is not None:
        b.cross_check.to_csv(out / "cross_check.csv", index=False)
        exports["cross_check.csv"] = out / "cross_check.csv"
    if b.comparison is not None:
        b.comparison.table.to_csv(out / "compare_statsmodels.csv")
        exports["compare_statsmodels.csv"] = out / "compare_statsmodels.csv"
    return exports


def _dropped_line(d: Any) -> str:
    """The rows a Cox model's design dropped for missing values, named (as the other reports do)."""
    from .._validation import format_labels

    return f"dropped for missing values: {len(d.dropped)} row(s) ({format_labels(list(d.dropped), 10)})"


def _cox_sections(b: CoxDiagnostics, figs: list[tuple[str, str, str, str]], exports: dict[str, Path],
                  cross_check: bool, compare_statsmodels: bool) -> list[tuple[str, str, str]]:
    """The page's sections ``(id, heading, html)``."""
    fit, infl = b.fit, b.influence
    d = fit.design
    strata = f", {len(d.strata_labels)} strata" if len(d.strata_labels) > 1 else ""
    model_html = (
        f"<p>{_e(d.formula or ' + '.join(fit.param_names))}: Cox proportional hazards, ties = {_e(fit.ties)}; "
        f"n = {fit.n_obs}, events = {fit.n_events}{_e(strata)}; log partial likelihood {fit.loglik:.6g} "
        f"(null {fit.loglik_null:.6g}); {'converged' if fit.converged else 'NOT converged'} in "
        f"{fit.iterations} Newton iterations.</p>" + (f"<p>{_e(_dropped_line(d))}</p>" if len(d.dropped) else "")
        + _table(fit.summary_frame(), index_label="coefficient")
    )
    infl_html = (
        f"<p>{len(b.flagged)} of {fit.n_obs} observations move some coefficient by more than 2/√n = "
        f"{2 / math.sqrt(fit.n_obs):.3g} standard errors when deleted (exact deletion; largest first, "
        f"the first {len(b.shown)} shown). R's one-step dfbeta differs from the exact change by up to "
        f"{np.nanmax(infl.one_step_error):.3g} standard errors here.</p>"
        + _table(b.shown, text_cols=("coefficient",), index_label="row")
    )
    plot_html = "".join(
        f'<figure><img alt="{_e(k)}" src="{src}"><figcaption>{_e(c)}</figcaption></figure>'
        if src else f'<p class="note">{_e(k)}: not drawn ({_e(err)})</p>'
        for k, c, src, err in figs
    )
    sections = [("model", "Model", model_html), ("influence", "Influential observations", infl_html),
                ("plots", "Plots", plot_html)]
    if cross_check:
        cc = b.cross_check
        if cc is not None:
            show = cc[["curvature", "solver", "param_influence", "cooks_distance", "exact_deletion", "tolerance",
                       "agrees"]].set_index("curvature")
            cc_html = ("<p>The engine with gradients = negative score residuals and curvature = information / n "
                       "against R's one-step dfbeta (<code>param_influence</code>) and likelihood displacement "
                       "(<code>cooks_distance</code>); <code>exact_deletion</code>: its distance from the exact "
                       "change (the one-step approximation's error).</p>" + _table(show, text_cols=("solver",)))
        else:
            cc_html = f'<p class="note">not computed: {_e(b.cross_check_error)}</p>'
        sections.append(("cross-check", "Engine cross-check", cc_html))
    if compare_statsmodels:
        sections.append(("compare", "statsmodels PHReg", b.comparison.to_html() if b.comparison is not None
                         else f'<p class="note">not computed: {_e(b.comparison_error)}</p>'))
    if b.warnings:
        sections.append(("warnings", "Warnings", "<ul>" + "".join(f"<li>{_e(w)}</li>" for w in b.warnings)
                         + "</ul>"))
    items = "".join(f'<li><a href="{_e(k)}" download>{_e(k)}</a></li>' for k in exports)
    sections.append(("exports", "Files", f"<ul>{items}</ul>"))
    return sections


def write_cox_report(
    fit: Any,
    out_dir: str | Path,
    *,
    n_labels: int = 3,
    top: int = 15,
    title: str | None = None,
    label: str = "",
    cross_check: bool = True,
    compare_statsmodels: bool = False,
    progress: Callable[[str, int, int], None] | bool | None = None,
) -> HTMLReport:
    """Write ``out_dir/report.html`` and ``measures.csv`` / ``flagged.csv`` (and the cross-check and comparison
    tables) for a Cox fit: one :class:`CoxDiagnostics` bundle (:func:`diagnose_cox`), drawn and written by the
    report's one page writer.

    Parameters
    ----------
    fit : CoxFit
    out_dir : str or Path
    n_labels : int
        Points labelled in each plot.
    top : int
        Rows listed in the report (all flagged rows are in ``flagged.csv``).
    title, label : str
    cross_check : bool
        Add the engine cross-check (:func:`regdiag.cross_check`).
    compare_statsmodels : bool
        Add the comparison with statsmodels' ``PHReg`` (:func:`regdiag.compare`).
    progress : callable or bool, optional

    Returns
    -------
    HTMLReport
    """
    out = Path(out_dir)
    make_folder(out)
    steps = _Steps(progress, 3 + int(cross_check) + int(compare_statsmodels))
    b = diagnose_cox(fit, top=top, cross_check=cross_check, compare_statsmodels=compare_statsmodels, steps=steps)
    steps("plots")
    figs = _cox_figures(b, n_labels)
    steps("writing")
    exports = _cox_exports(b, out)
    title = title or f"regdiag report: {label or 'Cox model'}"
    path = out / "report.html"
    sections = _cox_sections(b, figs, exports, cross_check, compare_statsmodels)
    path.write_text(_page(title, sections, f"regdiag Cox model report{': ' + _e(label) if label else ''}"),
                    encoding="utf-8")
    lines = [title, f"{fit.n_obs} observations, {fit.n_events} events; {len(b.flagged)} move a coefficient by more "
             f"than 2/sqrt(n) SE when deleted"]
    if len(fit.design.dropped):
        lines.insert(1, _dropped_line(fit.design))
    if len(b.shown):
        lines.append(b.shown.head(5).to_string(float_format=lambda v: f"{v:.3g}"))
    lines.append(f"report: {path}")
    return HTMLReport(path=path, text="\n".join(lines), exports=exports, flagged=b.flagged,
                      cross_check=b.cross_check, comparison=b.comparison, warnings=b.warnings)
