"""Diagnostic plots (matplotlib). The only part of regdiag that imports matplotlib.

Every plot takes a result object — an :class:`~regdiag.Influence` or a fit whose ``influence()`` gives one — and
never refits the model; accepts ``ax=None`` (a new figure) or axes to draw into; labels the most extreme points
with their row labels (``n_labels``); and returns a :class:`Display` holding ``ax_``, ``figure_``, the plotted
coordinates ``data_`` (indexed by row label) and the labels written ``labelled_``. Panels return a
:class:`PanelDisplay` with ``axes_``. Labels are placed when the figure is drawn (so after the layout): next to their
point where they cover the fewest points, lines and texts, inside the axes, with a thin leader line when they had to
move away; they are texts with gid :data:`LABEL_GID`. :func:`figure_grid` makes a figure without pyplot (for files).

============================  ===================================================================================
plot                          shows
============================  ===================================================================================
:func:`residuals_fitted`      residuals vs fitted values, lowess smoother (R ``plot.lm`` 1)
:func:`qq`                    studentized residuals vs t / normal quantiles, simulated envelope (car ``qqPlot``)
:func:`half_normal`           ``|studentized residuals|`` vs half-normal quantiles, simulated envelope
:func:`scale_location`        ``sqrt(|standardized residual|)`` vs fitted (R ``plot.lm`` 3)
:func:`cooks_index`           Cook's distance by observation (R ``plot.lm`` 4)
:func:`residuals_leverage`    standardized residuals vs leverage, Cook's contours 0.5 and 1 (R ``plot.lm`` 5);
                              vs factor levels when every leverage is the same (as R)
:func:`cooks_leverage`        Cook's distance vs ``h/(1-h)`` (R ``plot.lm`` 6)
:func:`influence_bubble`      studentized residuals vs leverage, area ~ Cook's D (car ``influencePlot``)
:func:`dfbetas_panel`         DFBETAS by observation, one panel per coefficient
:func:`added_variable`        added-variable plots, one panel per coefficient
:func:`overview`              the 2 x 2 of R's ``plot(lm)``: panels 1, Q-Q, 3 and 5
:func:`engine_vs_exact`       the engine's coefficient changes vs exact deletion, line y = x
:func:`curvature_comparison`  exact vs K-FAC vs EK-FAC (any curvatures) against exact deletion, one panel each
:func:`weights_plot`          robust fits: final IRLS weights against scaled residuals, with the psi weight curve
:func:`component_residual`    component + residual (partial residual) plots with lowess (car ``crPlots``)
:func:`index_plot`            Cook's D, studentized residuals, Bonferroni p, hat values by row (car ``infIndexPlot``)
:func:`dffits_index`          DFFITS by observation with R's and Belsley-Kuh-Welsch's cut-offs
:func:`covratio_index`        COVRATIO by observation with R's cut-off
:func:`potential_residual`    Hadi's potential-residual plot
:func:`vif_panel`             collinearity: VIF / generalized VIF per term (car ``vif``)
:func:`deletion`              the fit with and without a chosen row or group (exact), simple or added-variable view
============================  ===================================================================================

Cox models (:mod:`regdiag.plots.survival`): :func:`cox_dfbeta_index` (each coefficient's change by observation,
exact deletion and R's one-step) and :func:`cox_martingale_covariates` (martingale residuals against each covariate,
lowess curve: the functional form).

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import regdiag
>>> from regdiag import plots
>>> fit = regdiag.ols("sr ~ pop15 + pop75 + dpi + ddpi", data=regdiag.datasets.load("LifeCycleSavings"))
>>> disp = plots.residuals_leverage(fit, n_labels=3)
>>> list(disp.labelled_)
['Libya', 'Japan', 'Zambia']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..survival.results import CoxInfluence
from ._base import DENSITY_ABOVE, LABEL_GID, Display, PanelDisplay, figure_grid, image_data_uri, warm_up
from .coefficients import added_variable, added_variable_residuals, dfbetas_panel
from .engine import curvature_comparison, engine_vs_exact
from .influence import cooks_index, cooks_leverage, influence_bubble, residuals_leverage
from .overview import overview
from .residuals import half_normal, qq, residuals_fitted, scale_location
from .robust import weights_plot
from .survival import cox_dfbeta_index, cox_martingale_covariates, plot_cox_influence
from .teaching import (
    component_residual,
    covratio_index,
    deletion,
    dffits_index,
    index_plot,
    potential_residual,
    vif_panel,
)

__all__ = [
    "plot",
    "Display",
    "PanelDisplay",
    "figure_grid",
    "LABEL_GID",
    "DENSITY_ABOVE",
    "warm_up",
    "image_data_uri",
    "residuals_fitted",
    "qq",
    "half_normal",
    "scale_location",
    "cooks_index",
    "residuals_leverage",
    "cooks_leverage",
    "influence_bubble",
    "dfbetas_panel",
    "added_variable",
    "added_variable_residuals",
    "overview",
    "engine_vs_exact",
    "curvature_comparison",
    "cox_dfbeta_index",
    "cox_martingale_covariates",
    "weights_plot",
    "component_residual",
    "index_plot",
    "dffits_index",
    "covratio_index",
    "potential_residual",
    "vif_panel",
    "deletion",
]

_KINDS: dict[str, Callable[..., Display | PanelDisplay]] = {
    "overview": overview,
    "residuals_fitted": residuals_fitted,
    "qq": qq,
    "half_normal": half_normal,
    "scale_location": scale_location,
    "cooks_index": cooks_index,
    "residuals_leverage": residuals_leverage,
    "cooks_leverage": cooks_leverage,
    "influence_bubble": influence_bubble,
    "dfbetas": dfbetas_panel,
    "dfbetas_panel": dfbetas_panel,
    "added_variable": added_variable,
    "weights": weights_plot,
    "component_residual": component_residual,
    "index_plot": index_plot,
    "dffits_index": dffits_index,
    "covratio_index": covratio_index,
    "potential_residual": potential_residual,
    "vif": vif_panel,
    "deletion": deletion,
}


def plot(result: Any, kind: str = "overview", **kwargs: Any) -> Display | PanelDisplay:
    """Draw the plot named ``kind`` for a fit or an influence result.

    Parameters
    ----------
    result : Influence or fit
    kind : str
        "overview" (default: the 2 x 2 of R's ``plot(lm)``) or the name of any plot of this module
        ("qq", "cooks_index", "influence_bubble", "dfbetas", "added_variable", ...).
    **kwargs
        Passed to the plot (``ax``, ``n_labels``, ...).

    Returns
    -------
    Display or PanelDisplay
    """
    if isinstance(result, CoxInfluence):
        return plot_cox_influence(result, kind, **kwargs)
    try:
        fn = _KINDS[kind]
    except KeyError:
        raise ValueError(f"kind={kind!r} is not a plot; choose from {', '.join(map(repr, _KINDS))}") from None
    return fn(result, **kwargs)
