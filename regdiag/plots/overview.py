"""The 2 x 2 overview that R users know from ``plot(lm)``."""

from __future__ import annotations

from typing import Any

from ._base import Display, PanelDisplay, panel_axes, view
from .influence import residuals_leverage
from .residuals import qq, residuals_fitted, scale_location

__all__ = ["overview"]


def overview(
    result: Any, *, ax: Any = None, n_labels: int = 3, envelope: Any = True, **qq_kwargs: Any
) -> PanelDisplay:
    """Residuals vs fitted, Q-Q of studentized residuals (with envelope), scale-location, residuals vs leverage.

    Parameters
    ----------
    result : Influence or fit
    ax : None, one Axes (its area is divided) or an array of 4 Axes
    n_labels : int
        Points labelled in each panel.
    envelope : bool
        Simulated envelope in the Q-Q panel.
    **qq_kwargs
        Passed to :func:`regdiag.plots.qq` (``nsim``, ``level``, ``rng``).

    Returns
    -------
    PanelDisplay
        ``panels_`` keys: "residuals_fitted", "qq", "scale_location", "residuals_leverage".
    """
    v = view(result)
    axes, fig = panel_axes(ax, 4, 2, panel_size=(5.0, 3.9))
    flat = axes.ravel()
    panels: dict[str, Display] = {
        "residuals_fitted": residuals_fitted(v.infl, ax=flat[0], n_labels=n_labels),
        "qq": qq(v.infl, ax=flat[1], n_labels=n_labels, envelope=envelope, **qq_kwargs),
        "scale_location": scale_location(v.infl, ax=flat[2], n_labels=n_labels),
        "residuals_leverage": residuals_leverage(v.infl, ax=flat[3], n_labels=n_labels),
    }
    if v.title:
        fig.suptitle(v.title, fontsize=10)
    return PanelDisplay(axes, fig, panels)
