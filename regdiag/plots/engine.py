"""Engine plots: the second-order influence estimate against exact deletion, and curvatures compared on one fit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ._base import (
    DENSITY_ABOVE,
    Display,
    PanelDisplay,
    as_influence,
    density_scatter,
    finish,
    label_points,
    panel_axes,
    top_k,
)

__all__ = ["engine_vs_exact", "curvature_comparison"]

#: above DENSITY_ABOVE (observation, coefficient) pairs, the rows drawn as coloured points (largest changes)
MAX_COLOURED = 200


def _values(estimate: Any, exact: Any) -> Any:
    """The numbers to draw (an EngineComparison): given, or read from an engine result and the exact deletion
    result it is compared with (nothing is run here)."""
    from ..engine.comparison import EngineComparison, compare_with_exact

    if isinstance(estimate, EngineComparison):
        return estimate
    if exact is None:
        raise ValueError(
            "an engine result is drawn against exact deletion: pass exact= (the fit's influence(), or for a GLM "
            "influence(loo=\"exact\"); regdiag.engine.comparison.exact_reference(fit) gives it)"
        )
    return compare_with_exact(estimate, as_influence(exact))


def engine_vs_exact(estimate: Any, exact: Any = None, *, ax: Any = None, n_labels: int = 3) -> Display:
    """The engine's coefficient changes against exact deletion, in standard errors, with the line y = x.

    Parameters
    ----------
    estimate : EngineComparison or EngineInfluence
        The numbers to draw (:func:`regdiag.engine.comparison.compare_with_exact`), or an engine result from
        :func:`regdiag.engine.influence` together with ``exact``.
    exact : Influence or fit, optional
        Exact deletion to compare an engine result with (needed with one): for a linear model its ``influence()``,
        for a GLM its exact leave-one-out ``influence(loo="exact")``.
    ax : matplotlib Axes, optional
    n_labels : int
        Label the observations whose largest change (exact or estimated) is largest.

    Returns
    -------
    Display
        ``data_``: one row per (observation, coefficient): ``x`` (exact ``(theta_(-i) - theta)_j / se_j``), ``y``
        (the estimate, same units), ``coefficient``; ``artists_["identity"]`` the line y = x;
        ``artists_["discrepancy"]`` the largest ``|y - x|`` relative to the largest ``|x|``.

    Notes
    -----
    Points on the line: the estimate is exact deletion. Without the leverage correction an OLS estimate is
    ``(1 - h_i)`` times exact deletion, so high-leverage points fall towards zero; with it, and a curvature equal to
    ``X'WX``, every point is on the line up to rounding.
    """
    values = _values(estimate, exact)
    x, y, names = values.exact, values.estimate, list(values.names)
    n, k = x.shape
    ok = np.isfinite(x) & np.isfinite(y)
    ax, fig = get_ax_square(ax)
    arts = _draw_pairs(ax, x, y, ok, names)
    finite = np.concatenate([x[ok], y[ok]]) if ok.any() else np.array([-1.0, 1.0])
    lo, hi = float(finite.min()), float(finite.max())
    pad = 0.06 * (hi - lo if hi > lo else 1.0)
    lim = (lo - pad, hi + pad)
    (arts["identity"],) = ax.plot(lim, lim, color="0.3", lw=0.9, ls="--", zorder=1, label="y = x")
    ax.set_xlim(*lim)
    ax.set_ylim(*lim)
    ax.set_aspect("equal", adjustable="box")
    scale = float(np.nanmax(np.abs(x[ok]))) if ok.any() else np.nan
    disc = float(np.nanmax(np.abs(y[ok] - x[ok])) / scale) if ok.any() and scale > 0 else np.nan
    arts["discrepancy"] = disc
    method, damping = values.method, values.damping
    title = method.replace("engine:", "") + (f", damping {damping:.3g}" if damping else "")
    finish(ax, f"Engine ({title}) vs exact deletion", "Exact change / SE", "Estimated change / SE")
    note = f"largest |estimate - exact| / max |exact| = {disc:.2g}"
    if values.correction == "none":
        note += "\nno leverage correction: expect (1 - h) x exact"
    ax.text(0.02, 0.98, note, transform=ax.transAxes, ha="left", va="top", fontsize=7, color="0.3")
    if k <= 10:
        legend = ax.legend(loc="lower right", fontsize=7, frameon=False, markerscale=1.5)
        for handle in legend.legend_handles:  # full colour in the legend, however faint the points
            handle.set_alpha(1.0)
    # label: per observation, the coefficient it moves most
    big = np.where(ok, np.maximum(np.abs(x), np.abs(y)), -np.inf)
    jstar = np.argmax(big, axis=1)
    score = np.where(np.isfinite(big.max(axis=1)), big.max(axis=1), np.nan)
    rows = np.arange(n)
    labelled = label_points(ax, x[rows, jstar], y[rows, jstar], values.index, top_k(score, n_labels), fontsize=7)
    data = pd.DataFrame(
        {"x": x.ravel(), "y": y.ravel(),
         "coefficient": pd.Categorical.from_codes(np.tile(np.arange(k), n), categories=pd.Index(names))},
        index=np.repeat(np.asarray(values.index), k),
    )
    data = data[ok.ravel()]
    data.index.name = values.index.name
    omitted = values.index[~ok.any(axis=1)]
    return Display(ax, fig, data, labelled, arts, omitted)


def _draw_pairs(ax: Any, x: np.ndarray, y: np.ndarray, ok: np.ndarray, names: list[str]) -> dict[str, Any]:
    """The (exact, estimate) pairs, one colour per coefficient; with many pairs the bulk as a density and the rows
    that move a coefficient most as coloured points on top."""
    n, k = x.shape
    arts: dict[str, Any] = {"points": {}}
    many = n * k > 5000
    dense = n * k > DENSITY_ABOVE
    rows_drawn = np.arange(n)
    if dense:
        arts["density"] = density_scatter(ax, x[ok], y[ok], zorder=1.5)
        big = np.where(ok, np.maximum(np.abs(x), np.abs(y)), -np.inf).max(axis=1)
        rows_drawn = top_k(np.where(np.isfinite(big), big, np.nan), MAX_COLOURED)
    for j, nm in enumerate(names):
        r = rows_drawn[ok[rows_drawn, j]]
        arts["points"][nm] = ax.scatter(
            x[r, j], y[r, j], s=10 if not many else 3, alpha=0.8 if not many or dense else 0.3,
            color=f"C{j % 10}", label=nm if k <= 10 else None, linewidths=0, zorder=2, rasterized=many,
        )
    return arts


def get_ax_square(ax: Any) -> tuple[Any, Any]:
    from ._base import get_ax

    return get_ax(ax, figsize=(5.0, 5.0))


def curvature_comparison(
    runs: Mapping[str, Any],
    *,
    exact: Any = None,
    ax: Any = None,
    n_labels: int = 2,
) -> PanelDisplay:
    """Exact vs K-FAC vs EK-FAC (or any curvatures) on one fit: each one's estimate against exact deletion.

    Parameters
    ----------
    runs : mapping of str to EngineComparison or EngineInfluence
        One panel per entry, e.g. ``{c: regdiag.engine.influence(fit, c, correction="leverage") for c in
        ("exact", "kfac", "ekfac")}``. The leverage correction makes a curvature equal to the closed form's land
        exactly on the line, so what remains off it is the curvature's approximation.
    exact : Influence, optional
        Exact deletion to compare engine results with (see :func:`engine_vs_exact`).
    ax : None, one Axes (its area is divided) or an array of Axes
    n_labels : int

    Returns
    -------
    PanelDisplay
        ``panels_``: name -> the :func:`engine_vs_exact` display of that run.
    """
    if not isinstance(runs, Mapping):
        raise TypeError(
            "curvature_comparison draws engine results it is given: pass a mapping of name to "
            "regdiag.engine.influence(fit, curvature, correction=\"leverage\") (and exact=)"
        )
    values = {name: _values(res, exact) for name, res in runs.items()}
    if not values:
        raise ValueError("no engine result to compare")
    axes, fig = panel_axes(ax, len(values), min(len(values), 3), panel_size=(4.0, 4.3))
    panels = {
        name: engine_vs_exact(res, ax=axes.ravel()[i], n_labels=n_labels)
        for i, (name, res) in enumerate(values.items())
    }
    for i, (name, d) in enumerate(panels.items()):
        d.ax_.set_title(name, fontsize=10)
        legend = d.ax_.get_legend()
        if i > 0 and legend is not None:
            legend.remove()
        if i > 0:
            d.ax_.set_ylabel("")
    first = next(iter(values.values()))
    tail = "with leverage correction" if first.correction == "leverage" else "influence-function estimate"
    fig.suptitle(f"Curvatures compared: estimated vs exact coefficient change ({tail})", fontsize=10)
    return PanelDisplay(axes, fig, panels)
