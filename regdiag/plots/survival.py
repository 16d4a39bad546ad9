"""Plots for Cox models: coefficient changes by observation, and martingale residuals against each covariate.

:func:`cox_dfbeta_index` draws, per coefficient, the change ``beta - beta_(-i)`` in standard errors against the
observation number (exact deletion as stems, R's one-step ``dfbetas`` as small crosses where both are computed),
with R's ``2 / sqrt(n)`` cut-off. :func:`cox_martingale_covariates` plots the martingale residuals against each
covariate with a lowess curve: a curve away from zero suggests the covariate's functional form is wrong (Therneau,
Grambsch and Fleming, 1990).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._base import (
    MANY_POINTS,
    Display,
    PanelDisplay,
    finish,
    frame,
    label_points,
    panel_axes,
    scatter,
    smoother,
    stems,
    top_k,
)

__all__ = ["cox_dfbeta_index", "cox_martingale_covariates", "plot_cox_influence"]


def _influence(result: Any) -> Any:
    from ..survival import CoxFit

    return result.influence() if isinstance(result, CoxFit) else result


def cox_dfbeta_index(
    result: Any, *, ax: Any = None, n_labels: int = 3, ncols: int = 3, one_step: bool = True
) -> PanelDisplay:
    """Change of each coefficient, in standard errors, when each observation is deleted; one panel per coefficient.

    Parameters
    ----------
    result : CoxInfluence or CoxFit
        A fit's ``influence()`` (exact deletion by default) is used.
    ax : matplotlib Axes, array of Axes, or None
    n_labels : int
        Label the observations with the largest absolute change in each panel.
    ncols : int
    one_step : bool
        Also draw R's one-step ``dfbetas`` (crosses) where the exact change is shown.

    Returns
    -------
    PanelDisplay
        Each panel's ``data_``: ``x`` (observation number, 1-based), ``y`` (the change in standard errors) and, with
        the exact deletion, ``one_step``.
    """
    infl = _influence(result)
    names = list(infl.param_names)
    exact = infl.dfbeta_exact is not None
    y_all = infl.dfbetas
    one = infl.dfbetas_one_step
    n = len(infl.index)
    axes, fig = panel_axes(ax, len(names), ncols)
    x = np.arange(1, n + 1, dtype=float)
    cut = 2.0 / np.sqrt(n)
    panels: dict[str, Display] = {}
    for j, name in enumerate(names):
        a = axes.ravel()[j]
        y = y_all[:, j]
        ok = np.isfinite(y)
        arts: dict[str, Any] = {
            "stems": stems(a, x[ok], 0.0, y[ok], color="0.3", lw=0.9 if n <= 500 else 0.4, zorder=2,
                           rasterized=n > MANY_POINTS)
        }
        if exact and one_step:
            arts["one_step"] = a.scatter(x, one[:, j], marker="x", s=10 if n <= 500 else 3, color="C0", lw=0.7,
                                         zorder=3, label="one-step (R)")
        arts["reference"] = [a.axhline(s * cut, color="C3", ls="--", lw=0.8, zorder=1,
                                       label=f"±2/√n = {cut:.3g}" if s > 0 else None) for s in (-1, 1)]
        a.axhline(0.0, color="0.5", lw=0.6, zorder=1)
        finish(a, name, "Observation number",
               ("exact change / SE" if exact else "one-step change / SE") if j % ncols == 0 else "")
        if j == 0:
            a.legend(fontsize=7, loc="best", frameon=False)
        labelled = label_points(a, x, y, infl.index, top_k(np.where(ok, np.abs(y), np.nan), n_labels))
        cols = {"x": x, "y": y} | ({"one_step": one[:, j]} if exact else {})
        panels[name] = Display(a, fig, frame(infl.index, ok, **cols), labelled, arts, infl.index[~ok])
    return PanelDisplay(axes, fig, panels)


def cox_martingale_covariates(
    fit: Any, *, ax: Any = None, n_labels: int = 3, ncols: int = 3, columns: list[str] | None = None
) -> PanelDisplay:
    """Martingale residuals against each covariate (design column), with a lowess curve.

    Parameters
    ----------
    fit : CoxFit
        (It holds the covariates; the plot computes nothing but the residuals already defined by the fit.)
    ax : matplotlib Axes, array of Axes, or None
    n_labels : int
        Label the observations with the most negative residuals (the longest survivors relative to the model).
    ncols : int
    columns : list of str, optional
        Design columns to plot (default all).

    Returns
    -------
    PanelDisplay
        Each panel's ``data_``: ``x`` (the covariate), ``y`` (the martingale residual).
    """
    names = list(fit.param_names)
    cols = names if columns is None else list(columns)
    unknown = [c for c in cols if c not in names]
    if unknown:
        raise ValueError(f"columns {unknown} are not covariates of the model; they are {names}")
    X = np.asarray(fit.design.X, dtype=float)
    m = np.asarray(fit.resid_martingale, dtype=float)
    axes, fig = panel_axes(ax, len(cols), ncols)
    panels: dict[str, Display] = {}
    for k, name in enumerate(cols):
        a = axes.ravel()[k]
        xv = X[:, names.index(name)]
        arts = {"points": scatter(a, xv, m)}
        arts["smoother"] = smoother(a, xv, m)
        a.axhline(0.0, color="0.5", lw=0.6, zorder=1)
        finish(a, name, name, "martingale residual" if k % ncols == 0 else "")
        labelled = label_points(a, xv, m, fit.index, top_k(-m, n_labels))
        panels[name] = Display(a, fig, frame(fit.index, np.ones(len(m), dtype=bool), x=xv, y=m), labelled, arts,
                               pd.Index([]))
    return PanelDisplay(axes, fig, panels)


def plot_cox_influence(infl: Any, kind: str = "dfbeta", **kwargs: Any) -> Any:
    """The plot of a Cox influence result named ``kind``: ``"dfbeta"``
    (:func:`cox_dfbeta_index`)."""
    if kind == "dfbeta":
        return cox_dfbeta_index(infl, **kwargs)
    raise ValueError(f"kind={kind!r}: a Cox influence result has the plot 'dfbeta' (and the fit "
                     "regdiag.plots.cox_martingale_covariates)")
