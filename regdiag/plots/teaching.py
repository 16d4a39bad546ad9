"""The plots teachers reach for: component + residual plots (``car::crPlots``), the influence index plot
(``car::infIndexPlot``), DFFITS and COVRATIO index plots, Hadi's potential-residual plot, the collinearity panel
(VIF / generalized VIF as ``car::vif``) and what deleting a row or group does to the fit.

Each draws numbers from :mod:`regdiag.linear.teaching` (pass them in, as the report does, or they are computed from
the result's own factorization: never a refit).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..linear import teaching
from ..protocols import is_glm
from ._base import (
    DENSITY_ABOVE,
    Display,
    PanelDisplay,
    as_influence,
    finish,
    frame,
    get_ax,
    index_bars,
    label_points,
    note_omitted,
    panel_axes,
    scatter,
    smoother,
    stems,
    top_k,
)

__all__ = ["component_residual", "index_plot", "dffits_index", "covratio_index", "potential_residual", "vif_panel",
           "deletion"]


def _fit_of(result: Any) -> Any:
    infl = as_influence(result)
    fit = getattr(infl, "fit", None)
    if fit is None:
        raise ValueError("this plot needs the fit (its design and coefficients); pass the fit or fit.influence()")
    return infl, fit


def _used(infl: Any) -> np.ndarray:
    w = infl.weights
    return np.ones(len(infl.index), dtype=bool) if w is None else np.asarray(w) > 0


def component_residual(
    result: Any, *, ax: Any = None, n_labels: int = 2, terms: Any = None, ncols: int = 3,
    partial: pd.DataFrame | None = None, smooth: bool = True,
) -> PanelDisplay:
    """Component + residual plots (``car::crPlots``): for each numeric one-column term, the partial residual
    (working residual plus the term's centred contribution) against the term's values, with the component line of
    slope ``b_j`` and a lowess smoother. A smoother that bends away from the line suggests the term needs a
    transformation.

    Parameters
    ----------
    result : Influence or fit
    ax : None, one Axes (its area is divided) or an array of Axes
    n_labels : int
        In each panel label the rows with the largest ``|partial residual - component|``.
    terms : str or list of str, optional
        Terms to show (default: every numeric one-column term; factors, even of two levels, are left out).
    ncols : int
        Panels per row.
    partial : DataFrame, optional
        :func:`regdiag.linear.teaching.partial_residuals` computed beforehand.
    smooth : bool

    Returns
    -------
    PanelDisplay
        ``panels_[term].data_``: ``x`` (term values), ``y`` (partial residual); ``artists_["line"]``.
    """
    infl, fit = _fit_of(result)
    cols = teaching.term_columns(fit)
    if terms is None:
        terms = teaching.numeric_terms(fit)
    else:
        terms = [terms] if isinstance(terms, str) else list(terms)
    if not terms:
        raise ValueError("no one-column term to plot (component + residual plots of factors are box plots)")
    pr = teaching.partial_residuals(fit) if partial is None else partial
    b = np.nan_to_num(np.asarray(fit.coef, dtype=float))
    used = _used(infl)
    axes, fig = panel_axes(ax, len(terms), ncols, panel_size=(3.4, 2.9))
    panels: dict[str, Display] = {}
    for k, term in enumerate(terms):
        a = axes.ravel()[k]
        x = teaching.component_values(fit, term)
        y = pr[term].to_numpy(dtype=float)
        ok = used & np.isfinite(x) & np.isfinite(y)
        arts: dict[str, Any] = {"points": scatter(a, x[ok], y[ok])}
        j = cols[term][0]
        xs = np.array([np.min(x[ok]), np.max(x[ok])]) if ok.any() else np.array([0.0, 1.0])
        has_intercept = any(nm in ("Intercept", "(Intercept)", "const") for nm in fit.design.param_names)
        centre = float(np.mean(x)) if has_intercept else 0.0
        (arts["line"],) = a.plot(xs, b[j] * (xs - centre), color="C0", ls="--", lw=1.1, zorder=3)
        if smooth:
            arts["smoother"] = smoother(a, x[ok], y[ok], color="C3")
        finish(a, term, term, "Component + residual" if k % axes.shape[1] == 0 else "")
        a.tick_params(labelsize=7)
        score = np.where(ok, np.abs(y - b[j] * (x - centre)), np.nan)
        labelled = label_points(a, x, y, infl.index, top_k(score, n_labels), fontsize=7)
        panels[term] = Display(a, fig, frame(infl.index, ok, x=x, y=y), labelled, arts, infl.index[used & ~ok])
    fig.suptitle("Component + residual plots (dashed: the fitted component; red: lowess)", fontsize=10)
    return PanelDisplay(axes, fig, panels)


def _index_axes(a: Any, x: np.ndarray, y: np.ndarray, ok: np.ndarray, base: float | None) -> Any:
    if ok.sum() > DENSITY_ABOVE:
        return index_bars(a, x[ok], y[ok], base=base if base is not None else None, color="0.3", lw=0.4, zorder=2)
    lo = base if base is not None else 0.0
    return stems(a, x[ok], lo, y[ok], color="0.3", lw=0.9 if ok.sum() <= 500 else 0.4, zorder=2,
                 rasterized=bool(ok.sum() > 5000))


_INDEX_SERIES = {
    "cooks_distance": ("Cook's distance", "abs"),
    "student_resid": ("Studentized residuals", "abs"),
    "bonferroni_p": ("Bonferroni p-value", "low"),
    "leverage": ("hat-values", "abs"),
}


def index_plot(
    result: Any, *, ax: Any = None, n_labels: int = 2, values: pd.DataFrame | None = None,
    series: tuple[str, ...] = ("cooks_distance", "student_resid", "bonferroni_p", "leverage"),
) -> PanelDisplay:
    """Influence index plot (``car::infIndexPlot``): Cook's distance, studentized residuals, Bonferroni p-values and
    hat values against the observation number, one panel each, stacked.

    Parameters
    ----------
    result : Influence or fit
    ax : None, one Axes (its area is divided) or an array of Axes
    n_labels : int
        Label the most extreme rows of each panel (largest value; smallest p-value).
    values : DataFrame, optional
        :func:`regdiag.linear.teaching.index_values` computed beforehand.
    series : tuple of str
        Which of the four to show.

    Returns
    -------
    PanelDisplay
        ``panels_[name].data_``: ``x`` (observation number, 1-based), ``y`` (the value).
    """
    infl = as_influence(result)
    vals = teaching.index_values(infl) if values is None else values
    unknown = [s for s in series if s not in _INDEX_SERIES]
    if unknown:
        raise ValueError(f"unknown series {unknown[0]!r}; choose from {', '.join(_INDEX_SERIES)}")
    axes, fig = panel_axes(ax, len(series), 1, panel_size=(7.0, 1.7))
    used = _used(infl)
    n = len(infl.index)
    x = np.arange(1, n + 1, dtype=float)
    panels: dict[str, Display] = {}
    for k, name in enumerate(series):
        a = axes.ravel()[k]
        title, how = _INDEX_SERIES[name]
        y = vals[name].to_numpy(dtype=float)
        ok = used & np.isfinite(y)
        arts: dict[str, Any] = {}
        if how == "low":  # car draws p-values from 1 down to the value
            arts["stems"] = _index_axes(a, x, y, ok, 1.0) if ok.sum() <= DENSITY_ABOVE else index_bars(
                a, x[ok], y[ok], base=None, color="0.3", lw=0.4, zorder=2)
            a.set_ylim(min(float(np.nanmin(y[ok])) if ok.any() else 0.0, 1.0) - 0.05, 1.05)
            score = np.where(ok & (y < 1.0), -y, np.nan)  # only rows whose p-value is below 1 stand out
        else:
            arts["stems"] = _index_axes(a, x, y, ok, 0.0)
            a.axhline(0.0, color="0.6", lw=0.6, zorder=1)
            score = np.where(ok, np.abs(y), np.nan)
        if ok.sum() <= DENSITY_ABOVE:
            arts["points"] = scatter(a, x[ok], y[ok], s=6)
        a.set_xlim(0, n + 1)
        a.set_ylabel(title, fontsize=8)
        a.tick_params(labelsize=7, labelbottom=k == len(series) - 1)
        a.grid(True, color="0.92", lw=0.6, zorder=0)
        labelled = label_points(a, x, y, infl.index, top_k(score, n_labels), fontsize=7)
        note_omitted(a, infl.index[used & ~ok])
        panels[name] = Display(a, fig, frame(infl.index, ok, x=x, y=y), labelled, arts, infl.index[used & ~ok])
    axes.ravel()[len(series) - 1].set_xlabel("Observation number")
    fig.suptitle("Diagnostic plots (index)", fontsize=10)
    return PanelDisplay(axes, fig, panels)


def _one_index(result: Any, values: np.ndarray, *, ax: Any, n_labels: int, title: str, ylabel: str,
               centre: float, refs: dict[str, float]) -> Display:
    infl = as_influence(result)
    used = _used(infl)
    y = np.asarray(values, dtype=float)
    n = len(y)
    x = np.arange(1, n + 1, dtype=float)
    ok = used & np.isfinite(y)
    ax, fig = get_ax(ax)
    arts: dict[str, Any] = {}
    if ok.sum() > DENSITY_ABOVE:
        arts["stems"] = index_bars(ax, x[ok], y[ok], base=None, color="0.3", lw=0.4, zorder=2)
    else:
        arts["stems"] = stems(ax, x[ok], centre, y[ok], color="0.3", lw=0.9 if ok.sum() <= 500 else 0.4, zorder=2,
                               rasterized=bool(ok.sum() > 5000))
    ax.axhline(centre, color="0.6", lw=0.6, zorder=1)
    arts["reference"] = {}
    for text, val in refs.items():
        arts["reference"][text] = ax.axhline(val, color="C3", ls="--", lw=0.9, zorder=1)
    ax.set_xlim(0, n + 1)
    top = max([abs(v - centre) for v in refs.values()] + ([float(np.max(np.abs(y[ok] - centre)))] if ok.any() else []))
    ax.set_ylim(centre - 1.1 * top, centre + 1.1 * top)
    finish(ax, title, "Observation number", ylabel)
    ax.text(0.99, 0.99, "dashed: " + ", ".join(k for k in refs if not k.startswith("_")), transform=ax.transAxes,
            ha="right", va="top", fontsize=7, color="C3")
    labelled = label_points(ax, x, y, infl.index, top_k(np.where(ok, np.abs(y - centre), np.nan), n_labels))
    note_omitted(ax, infl.index[used & ~ok])
    return Display(ax, fig, frame(infl.index, ok, x=x, y=y), labelled, arts, infl.index[used & ~ok])


def dffits_index(result: Any, *, ax: Any = None, n_labels: int = 3) -> Display:
    """DFFITS by observation, with R's cut-off ``+/- 3 sqrt(p / (n - p))`` (``influence.measures``) and Belsley, Kuh
    & Welsch's ``+/- 2 sqrt(p / n)``.

    Parameters
    ----------
    result : Influence or fit
    ax : matplotlib Axes, optional
    n_labels : int
        Label the points with the largest ``|DFFITS|``.

    Returns
    -------
    Display
        ``data_``: ``x`` (observation number), ``y`` (DFFITS); ``artists_["reference"]``.
    """
    infl = as_influence(result)
    p, n = float(infl.rank), float(infl.n_obs)
    r_cut = 3.0 * np.sqrt(p / (n - p)) if n > p else np.nan
    bkw = 2.0 * np.sqrt(p / n)
    refs = {f"±3√(p/(n-p)) = {r_cut:.2g} (R)": r_cut, f"±2√(p/n) = {bkw:.2g} (BKW)": bkw}
    refs.update({"_" + k: -v for k, v in list(refs.items())})
    disp = _one_index(infl, infl.dffits, ax=ax, n_labels=n_labels, title="DFFITS by observation", ylabel="DFFITS",
                      centre=0.0, refs={k: v for k, v in refs.items() if np.isfinite(v)})
    return disp


def covratio_index(result: Any, *, ax: Any = None, n_labels: int = 3) -> Display:
    """COVRATIO by observation around 1, with R's cut-off ``|1 - COVRATIO| > 3p / (n - p)``.

    Parameters
    ----------
    result : Influence or fit
    ax : matplotlib Axes, optional
    n_labels : int
        Label the points with the largest ``|1 - COVRATIO|``.

    Returns
    -------
    Display
        ``data_``: ``x`` (observation number), ``y`` (COVRATIO).
    """
    infl = as_influence(result)
    p, n = float(infl.rank), float(infl.n_obs)
    cut = 3.0 * p / (n - p) if n > p else np.nan
    refs = {f"1 ± 3p/(n-p) = 1 ± {cut:.2g} (R)": 1.0 + cut, "_low": 1.0 - cut} if np.isfinite(cut) else {}
    return _one_index(infl, infl.cov_ratio, ax=ax, n_labels=n_labels, title="COVRATIO by observation",
                      ylabel="COVRATIO", centre=1.0, refs=refs)


def potential_residual(
    result: Any, *, ax: Any = None, n_labels: int = 3, values: pd.DataFrame | None = None
) -> Display:
    """Hadi's potential-residual plot: the potential ``h / (1 - h)`` against the residual function
    ``p / (1 - h) * d^2 / (1 - d^2)`` (see :func:`regdiag.linear.teaching.potential_residual`). High points are
    remote in the design (leverage), points on the right are badly fitted; both ends are influential.

    Parameters
    ----------
    result : Influence or fit
    ax : matplotlib Axes, optional
    n_labels : int
        Label the points with the largest Hadi measure (potential plus residual function).
    values : DataFrame, optional
        :func:`regdiag.linear.teaching.potential_residual` computed beforehand (columns ``potential``,
        ``residual``, ``hadi``, one row per observation).

    Returns
    -------
    Display
        ``data_``: ``x`` (residual function), ``y`` (potential), ``hadi`` (their sum, the labels' order).
    """
    infl = as_influence(result)
    pr = teaching.potential_residual(infl) if values is None else values
    x = pr["residual"].to_numpy(dtype=float)
    y = pr["potential"].to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    ax, fig = get_ax(ax)
    arts: dict[str, Any] = {"points": scatter(ax, x[ok], y[ok])}
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    finish(ax, "Potential-residual plot (Hadi)", "Residual function", "Potential h/(1-h)")
    labelled = label_points(ax, x, y, infl.index, top_k(np.where(ok, pr["hadi"].to_numpy(dtype=float), np.nan),
                                                      n_labels))
    note_omitted(ax, infl.index[_used(infl) & ~ok], "leverage 1 or undefined")
    data = frame(infl.index, ok, x=x, y=y, hadi=pr["hadi"].to_numpy(dtype=float))
    return Display(ax, fig, data, labelled, arts, infl.index[_used(infl) & ~ok])


def vif_panel(result: Any, *, ax: Any = None, values: pd.DataFrame | None = None) -> Display:
    """Collinearity: each term's ``GVIF^(1/(2 Df))`` (for a one-column term ``sqrt(VIF)``, the factor by which its
    standard error is inflated), as horizontal bars, with lines at ``sqrt(5)`` and ``sqrt(10)`` (VIF 5 and 10).

    Parameters
    ----------
    result : Influence or fit
    ax : matplotlib Axes, optional
    values : DataFrame, optional
        :func:`regdiag.linear.teaching.vif` computed beforehand (one row per term).

    Returns
    -------
    Display
        ``data_``: the :func:`regdiag.linear.teaching.vif` table (``GVIF``, ``Df``, ``GVIF^(1/(2*Df))``).
    """
    fit = getattr(as_influence(result), "fit", None) if values is None else None
    table = teaching.vif(fit if fit is not None else result) if values is None else values
    ax, fig = get_ax(ax, figsize=(6.0, 0.45 * len(table) + 1.4))
    y = np.arange(len(table))[::-1]
    v = table["GVIF^(1/(2*Df))"].to_numpy(dtype=float)
    arts: dict[str, Any] = {"bars": ax.barh(y, v, color=np.where(v > np.sqrt(5), "C3", "0.55"), height=0.6)}
    arts["reference"] = {k: ax.axvline(np.sqrt(val), color="C3", ls=ls, lw=0.9)
                         for k, val, ls in (("VIF 5", 5.0, "--"), ("VIF 10", 10.0, ":"))}
    ax.set_yticks(y, [f"{t} (Df {int(d)})" if d > 1 else str(t) for t, d in zip(table.index, table["Df"])],
                  fontsize=8)
    for yy, vv, g in zip(y, v, table["GVIF"]):
        ax.annotate(f"GVIF {g:.3g}", (vv, yy), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
    ax.set_xlim(0, max(float(np.max(v)) * 1.3, np.sqrt(10) * 1.1))
    finish(ax, "Collinearity (car::vif)", "GVIF^(1/(2 Df))  (one column: sqrt(VIF), the SE inflation)", "")
    ax.text(0.99, 0.01, "dashed: VIF 5; dotted: VIF 10", transform=ax.transAxes, ha="right", va="bottom", fontsize=7,
            color="C3")
    return Display(ax, fig, table, pd.Index([]), arts, pd.Index([]))


def _fitted_lines(fit: Any, names: list[str], intercept: int, j: int, b: np.ndarray,
                  bd: np.ndarray) -> tuple[Any, ...]:
    """The data of a one-predictor model and its fitted line (on the response scale) with and without the rows."""
    x = np.asarray(fit.design.X, dtype=float)[:, j]
    y = np.asarray(fit.design.y, dtype=float)
    xs = np.linspace(np.nanmin(x), np.nanmax(x), 100)
    X0 = np.zeros((xs.size, len(names)))
    X0[:, intercept], X0[:, j] = 1.0, xs
    line, line_d = X0 @ np.nan_to_num(b), X0 @ np.nan_to_num(bd)
    if is_glm(fit):
        line, line_d = fit.family.link.inverse(line), fit.family.link.inverse(line_d)
    return x, y, names[j], getattr(fit.design, "response_name", "y"), xs, line, line_d


def _most_moved(infl: Any, names: list[str], intercept: int | None, b: np.ndarray, bd: np.ndarray) -> str:
    """The coefficient (not the intercept) the deletion moves most, in standard errors."""
    se = np.sqrt(np.asarray(infl.cov_unscaled_diag, dtype=float))
    move = np.abs(b - bd) / np.where(se > 0, se, np.nan)
    cand = [k for k, nm in enumerate(names) if k != intercept and np.isfinite(move[k])]
    return names[max(cand, key=lambda k: move[k])]


def _added_variable_lines(infl: Any, fit: Any, j: int, term: str, b: np.ndarray, bd: np.ndarray) -> tuple[Any, ...]:
    """The added-variable residuals of ``term`` (by row, NaN where undefined) and the lines of slope ``b_j`` with
    and without the rows."""
    from .coefficients import added_variable_residuals

    av = added_variable_residuals(infl, term)
    x = np.full(len(infl.index), np.nan)
    y = np.full(len(infl.index), np.nan)
    pos = infl.index.get_indexer(av.index)
    x[pos], y[pos] = av["x"].to_numpy(), av["y"].to_numpy()
    response = getattr(fit.design, "response_name", "y")
    xs = np.linspace(np.nanmin(x), np.nanmax(x), 2)
    return x, y, f"{term} | others", f"{response} | others", xs, b[j] * xs, bd[j] * xs


def deletion(
    result: Any, rows: Any = None, *, ax: Any = None, term: str | None = None, effect: Any = None,
) -> Display:
    """What deleting a row (or a group of rows) does: the fitted line with and without it, exact (closed form).

    With one predictor (and an intercept) the data are drawn with both fitted lines; otherwise the added-variable
    plot of ``term`` (default: the coefficient the deletion moves most, in standard errors) with lines of slope
    ``b_j`` (all rows) and ``b_j`` without the rows. The deleted rows are marked.

    Parameters
    ----------
    result : Influence or fit
    rows : label or list of labels, optional
        Rows to delete (default: the row with the largest Cook's distance).
    ax : matplotlib Axes, optional
    term : str, optional
    effect : DeletionEffect, optional
        :func:`regdiag.linear.teaching.deletion_effect` computed beforehand.

    Returns
    -------
    Display
        ``data_``: ``x``, ``y`` of the view and ``deleted`` (bool); ``artists_["line"]``, ``artists_["line_deleted"]``;
        ``artists_["effect"]`` the DeletionEffect.
    """
    infl, fit = _fit_of(result)
    if effect is None:
        if rows is None:
            rows = infl.index[int(np.nanargmax(np.asarray(infl.cooks_distance, dtype=float)))]
        effect = teaching.deletion_effect(fit, rows)
    names = list(effect.param_names)
    b, bd = effect.params, effect.params_deleted
    deleted = infl.index.isin(effect.rows)
    terms = teaching.term_columns(fit)
    intercept = next((k for k, nm in enumerate(names) if nm in ("Intercept", "(Intercept)", "const")), None)
    ax, fig = get_ax(ax)
    arts: dict[str, Any] = {"effect": effect}
    simple = intercept is not None and len(terms) == 1 and len(next(iter(terms.values()))) == 1 and term is None
    what = ", ".join(map(str, effect.rows[:3])) + (" ..." if len(effect.rows) > 3 else "")
    if simple and intercept is not None:
        j = next(iter(terms.values()))[0]
        x, y, xlabel, ylabel, xs, line, line_d = _fitted_lines(fit, names, intercept, j, b, bd)
        title = f"Deleting {what}"
    else:
        term = term or _most_moved(infl, names, intercept, b, bd)
        x, y, xlabel, ylabel, xs, line, line_d = _added_variable_lines(infl, fit, names.index(term), term, b, bd)
        title = f"Deleting {what}: {term} (added-variable view)"
    ok = np.isfinite(x) & np.isfinite(y)
    arts["points"] = scatter(ax, x[ok & ~deleted], y[ok & ~deleted])
    arts["deleted"] = ax.scatter(x[deleted], y[deleted], s=60, facecolors="none", edgecolors="C3", linewidths=1.2,
                                 zorder=4, label="deleted")
    (arts["line"],) = ax.plot(xs, line, color="C0", lw=1.4, zorder=3, label="all rows")
    (arts["line_deleted"],) = ax.plot(xs, line_d, color="C3", lw=1.4, ls="--", zorder=3, label="without them")
    finish(ax, title, xlabel, ylabel)
    ax.legend(loc="best", fontsize=7, frameon=False)
    ax.text(0.01, 0.01, f"Cook's distance of the deletion: {effect.cooks_distance:.3g} (exact)", transform=ax.transAxes,
            fontsize=7, color="0.35", ha="left", va="bottom")
    labelled = label_points(ax, x, y, infl.index, np.flatnonzero(deleted & ok)[:5], ring=False)
    data = frame(infl.index, ok, x=x, y=y, deleted=deleted)
    return Display(ax, fig, data, labelled, arts, pd.Index([]))
