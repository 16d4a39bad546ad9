"""Robust regression: the final IRLS weights against the scaled residuals, with the psi function's weight curve."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..linear.rlm import RLMFit
from ..results import RLMInfluence
from ._base import Display, as_influence, finish, frame, get_ax, label_points, scatter, top_k

__all__ = ["weights_plot"]


def weights_plot(result: Any, *, ax: Any = None, n_labels: int = 3) -> Display:
    """Final robustness weights ``w_i = psi(u_i) / u_i`` against the scaled residuals ``u_i = r_i / s``.

    Points on the flat part of the curve (weight 1) pull the fit as in least squares; points where the curve falls
    have their pull capped (Huber: ``|psi| <= k``) or removed (redescending psi: weight 0 beyond ``c``). The rows
    with the smallest weights are labelled.

    Parameters
    ----------
    result : RLMFit or RLMInfluence
    ax : matplotlib Axes, optional
    n_labels : int

    Returns
    -------
    Display
        ``data_`` has columns ``x`` (scaled residual) and ``y`` (weight); ``artists_``: "points", "curve".
    """
    infl = as_influence(result)
    if not isinstance(infl, RLMInfluence):
        raise TypeError(f"the weights plot is for robust fits (regdiag.rlm); got {type(infl).__name__}")
    u = np.asarray(infl.scaled_resid, dtype=float)
    w = np.asarray(infl.rlm_weights, dtype=float)
    ok = np.isfinite(u) & np.isfinite(w)
    ax, fig = get_ax(ax)
    arts: dict[str, Any] = {"points": scatter(ax, u[ok], w[ok])}
    fit = infl.fit
    if isinstance(fit, RLMFit):
        lim = max(float(np.max(np.abs(u[ok]))) * 1.05, 1.0)
        grid = np.linspace(-lim, lim, 801)
        (arts["curve"],) = ax.plot(grid, fit.psi.weight(grid), color="tab:blue", lw=1, zorder=1,
                                   label=f"{fit.psi.name} weight")
        ax.legend(loc="lower center", fontsize=8, frameon=False)
    ax.set_ylim(-0.05, 1.08)
    finish(ax, "Robustness weights", "Scaled residual r / s", "Weight psi(u) / u")
    labelled = label_points(ax, u, w, infl.index, top_k(np.where(ok, -w, np.nan), n_labels))
    return Display(ax, fig, frame(infl.index, ok, x=u, y=w), labelled, arts)
