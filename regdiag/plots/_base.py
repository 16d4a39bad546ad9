"""Shared machinery of the plots: display objects, the view of a result that plots read, labels, smoother, axes.

Nothing here refits a model: everything is read from a result object (an :class:`~regdiag.Influence` or a fit whose
``influence()`` gives one).
"""

from __future__ import annotations

import warnings

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Display", "PanelDisplay", "as_influence", "View", "view"]

#: above this many plotted points, scatter plots are rasterized and drawn lighter
MANY_POINTS = 5000


@dataclass(eq=False)
class Display:
    """What a plot drew, scikit-learn style.

    Attributes
    ----------
    ax_ : matplotlib.axes.Axes
    figure_ : matplotlib.figure.Figure
    data_ : pandas.DataFrame
        The plotted coordinates (columns ``x`` and ``y``, plus plot-specific ones), indexed by row label; rows that
        could not be plotted (NaN measure, zero weight) are absent.
    labelled_ : pandas.Index
        Row labels written next to their points.
    artists_ : dict
        The main artists by name ("points", "smoother", "envelope", "reference", "contours", ...).
    omitted_ : pandas.Index
        Row labels not shown because their measure is undefined (NaN) or their weight is zero.
    """

    ax_: Any
    figure_: Any
    data_: pd.DataFrame
    labelled_: pd.Index
    artists_: dict[str, Any] = field(default_factory=dict)
    omitted_: pd.Index = field(default_factory=lambda: pd.Index([]))

    def savefig(self, path: Any, **kwargs: Any) -> None:
        """Save the figure (``Figure.savefig``)."""
        kwargs.setdefault("dpi", 150)
        kwargs.setdefault("bbox_inches", "tight")
        self.figure_.savefig(path, **kwargs)


@dataclass(eq=False)
class PanelDisplay:
    """A grid of plots (DFBETAS panel, added-variable plots, the 2 x 2 overview).

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes
        The panels, in reading order (2-D, rows x columns; unused cells are switched off).
    ax_ : ndarray of matplotlib Axes
        The same array (so every display has ``ax_``).
    figure_ : matplotlib.figure.Figure
    panels_ : dict of str to Display
        Each panel's display, by name (coefficient name, or the plot's name in the overview).
    """

    axes_: Any
    figure_: Any
    panels_: dict[str, Display]

    @property
    def ax_(self) -> Any:
        return self.axes_

    @property
    def labelled_(self) -> pd.Index:
        """Union of the row labels written on any panel."""
        out = pd.Index([])
        for d in self.panels_.values():
            out = out.union(d.labelled_, sort=False)
        return out

    def savefig(self, path: Any, **kwargs: Any) -> None:
        """Save the figure (``Figure.savefig``)."""
        kwargs.setdefault("dpi", 150)
        kwargs.setdefault("bbox_inches", "tight")
        self.figure_.savefig(path, **kwargs)


def as_influence(result: Any) -> Any:
    """The :class:`~regdiag.Influence` of ``result``: itself, or ``result.influence()`` for a fit (closed form, no refit)."""
    if hasattr(result, "leverage") and hasattr(result, "cooks_distance"):
        return result
    infl = getattr(result, "influence", None)
    if callable(infl):
        return infl()
    raise TypeError(
        f"cannot plot a {type(result).__name__}: pass a regdiag fit (regdiag.ols(...), regdiag.glm(...)) or its "
        "influence() result"
    )


# ---------------------------------------------------------------------------------------------------------------
# the view of a result


@dataclass(eq=False)
class View:
    """Per-observation quantities the plots read, for linear models and GLMs alike.

    ``resid`` are the residuals R's ``plot.lm`` uses: weighted residuals ``sqrt(w) (y - fitted)`` for linear models,
    deviance residuals for GLMs. ``fitted`` is the fitted mean (linear models) or the linear predictor (GLMs).
    ``std_pearson`` are the standardized Pearson residuals that Cook's distance is built from.
    """

    infl: Any
    index: pd.Index
    used: np.ndarray  # rows in the fit: positive weight
    fitted: np.ndarray | None
    fitted_label: str
    resid: np.ndarray
    resid_label: str
    std_resid: np.ndarray
    std_resid_label: str
    std_pearson: np.ndarray
    student_resid: np.ndarray
    leverage: np.ndarray
    cooks: np.ndarray
    p: int
    n: int
    is_glm: bool
    title: str


def _attr(obj: Any, *names: str) -> Any:
    for nm in names:
        v = getattr(obj, nm, None)
        if v is not None:
            return v
    return None


def view(result: Any) -> View:
    """Collect what the plots need from a result (see :class:`View`)."""
    infl = as_influence(result)
    fit = getattr(infl, "fit", None)
    n_rows = len(infl.index)
    w = infl.weights
    used = np.ones(n_rows, dtype=bool) if w is None else np.asarray(w) > 0
    dev = _attr(infl, "resid_deviance")
    is_glm = dev is not None
    if is_glm:
        resid = np.asarray(dev, dtype=float)
        resid_label = "Deviance residuals"
        eta = _attr(fit, "linear_predictor", "eta") if fit is not None else None
        fitted = None if eta is None else np.asarray(eta, dtype=float)
        fitted_label = "Linear predictor"
        pearson_std = _attr(infl, "standard_resid_pearson")
        if pearson_std is None:
            rp = _attr(infl, "resid_pearson")
            disp = float(_attr(infl, "dispersion") or infl.sigma**2)
            with np.errstate(divide="ignore", invalid="ignore"):
                pearson_std = np.asarray(rp) / np.sqrt(disp * (1.0 - infl.leverage))
        std_label = "Std. deviance resid."
    else:
        r = np.asarray(infl.resid, dtype=float)
        resid = r if w is None else r * np.sqrt(np.asarray(w))
        resid_label = "Residuals" if w is None else "Weighted residuals"
        fitted = None
        if fit is not None and hasattr(fit, "fitted"):
            fitted = np.asarray(fit.fitted, dtype=float)
        fitted_label = "Fitted values"
        pearson_std = infl.standard_resid
        std_label = "Standardized residuals"
    title = ""
    if fit is not None:
        formula = getattr(getattr(fit, "design", None), "formula", None)
        title = formula or ""
    return View(
        infl=infl,
        index=infl.index,
        used=used,
        fitted=fitted,
        fitted_label=fitted_label,
        resid=resid,
        resid_label=resid_label,
        std_resid=np.asarray(infl.standard_resid, dtype=float),
        std_resid_label=std_label,
        std_pearson=np.asarray(pearson_std, dtype=float),
        student_resid=np.asarray(infl.student_resid, dtype=float),
        leverage=np.asarray(infl.leverage, dtype=float),
        cooks=np.asarray(infl.cooks_distance, dtype=float),
        p=int(infl.rank),
        n=int(infl.n_obs),
        is_glm=is_glm,
        title=title,
    )


def require_fitted(v: View, what: str) -> np.ndarray:
    if v.fitted is None:
        raise ValueError(
            f"{what} needs fitted values, and this result has no fit attached; pass the fit (or fit.influence())"
        )
    return v.fitted


# ---------------------------------------------------------------------------------------------------------------
# axes, points, labels


def get_ax(ax: Any, figsize: tuple[float, float] = (6.0, 4.5)) -> tuple[Any, Any]:
    """``(ax, figure)``: the given axes, or a new figure with one axes (pyplot, so it shows in notebooks)."""
    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return ax, fig
    return ax, ax.figure


def panel_axes(ax: Any, n_panels: int, ncols: int, panel_size: tuple[float, float] = (3.2, 2.6)) -> tuple[np.ndarray, Any]:
    """A grid of ``n_panels`` axes: a new figure (``ax=None``), the given array of axes, or the area of one axes.

    Returns the axes as a 2-D array (unused cells switched off) and the figure.
    """
    ncols = max(1, min(ncols, n_panels))
    nrows = int(np.ceil(n_panels / ncols))
    if ax is None:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(
            nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows), squeeze=False, layout="constrained"
        )
    elif isinstance(ax, (np.ndarray, list, tuple)):
        flat = np.asarray(ax, dtype=object).ravel()
        if flat.size < n_panels:
            raise ValueError(f"this plot needs {n_panels} axes; {flat.size} were given")
        fig = flat[0].figure
        axes = np.asarray(ax, dtype=object)
        if axes.ndim == 1:
            axes = axes[None, :]
    else:
        fig = ax.figure
        spec = ax.get_subplotspec()
        if spec is None:
            raise ValueError("to draw a panel inside one axes, the axes must belong to a grid (fig.subplots / add_subplot)")
        ax.set_axis_off()
        sub = spec.subgridspec(nrows, ncols, wspace=0.35, hspace=0.5)
        axes = np.empty((nrows, ncols), dtype=object)
        for i in range(nrows):
            for j in range(ncols):
                axes[i, j] = fig.add_subplot(sub[i, j])
    for k, a in enumerate(axes.ravel()):
        if k >= n_panels:
            a.set_axis_off()
    return axes, fig


def scatter(ax: Any, x: np.ndarray, y: np.ndarray, **kwargs: Any) -> Any:
    """Points, lighter and rasterized when there are many."""
    n = len(x)
    if kwargs.get("s") is None:
        kwargs["s"] = 16 if n <= 500 else 8 if n <= MANY_POINTS else 3
    kwargs.setdefault("alpha", 0.85 if n <= 500 else max(0.15, min(0.85, 2000.0 / n)))
    kwargs.setdefault("color", "0.25")
    kwargs.setdefault("linewidths", 0)
    kwargs.setdefault("zorder", 2)
    if n > MANY_POINTS:
        kwargs.setdefault("rasterized", True)
    return ax.scatter(x, y, **kwargs)


def top_k(score: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest finite scores, largest first (stable for ties)."""
    score = np.asarray(score, dtype=float)
    if k <= 0:
        return np.array([], dtype=np.intp)
    finite = np.flatnonzero(np.isfinite(score))
    order = finite[np.argsort(-score[finite], kind="stable")]
    return order[:k]


def label_points(
    ax: Any,
    x: np.ndarray,
    y: np.ndarray,
    labels: pd.Index,
    positions: np.ndarray,
    fontsize: float = 8.0,
    gap: np.ndarray | float = 4.0,
    ring: bool = True,
) -> pd.Index:
    """Write the row label next to each point at ``positions``; returns the labels written.

    Labels go to the upper right of their point (``gap`` points away; an array gives one gap per position, e.g. a
    bubble's radius), to the left for points in the right fifth of the axes so they stay inside, and are nudged
    up or down when they would overlap a label already written. With ``ring`` the points get a red ring.
    """
    positions = np.asarray(positions, dtype=np.intp)
    if positions.size == 0:
        return pd.Index([])
    if ring:  # mark the labelled points themselves: among many faint points a label alone is hard to attach
        ax.scatter(np.asarray(x, dtype=float)[positions], np.asarray(y, dtype=float)[positions], s=36,
                   facecolors="none", edgecolors="C3", linewidths=0.9, zorder=4)
    gaps = np.broadcast_to(np.asarray(gap, dtype=float), positions.shape)
    ax.autoscale_view()
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    texts = []
    for i, g in zip(positions, gaps):
        xi, yi = float(x[i]), float(y[i])
        right = (xi - x0) > 0.8 * (x1 - x0)
        top = (yi - y0) > 0.9 * (y1 - y0)
        texts.append(
            ax.annotate(
                str(labels[i]),
                (xi, yi),
                xytext=(-g if right else g, -g * 0.75 if top else g * 0.75),
                textcoords="offset points",
                ha="right" if right else "left",
                va="top" if top else "bottom",
                fontsize=fontsize,
                color="0.1",
                zorder=5,
            )
        )
    _repel(ax, texts)
    return pd.Index([labels[i] for i in positions])


def _repel(ax: Any, texts: list[Any]) -> None:
    """Nudge each label vertically (by whole line heights) until it overlaps no earlier label."""
    if len(texts) < 2:
        return
    fig = ax.figure
    if not hasattr(fig.canvas, "get_renderer"):  # a bare Figure (not made by pyplot): give it an Agg canvas
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    px_per_pt = fig.dpi / 72.0
    placed: list[Any] = []
    for t in texts:
        box = t.get_window_extent(renderer)
        step = box.height / px_per_pt + 1.0
        x_off, y_off = t.xyann
        for k in (0, -1, 1, -2, 2, -3, 3):
            t.xyann = (x_off, y_off + k * step)
            box = t.get_window_extent(renderer)
            if not any(box.overlaps(b) for b in placed):
                break
        placed.append(box)


def smoother(ax: Any, x: np.ndarray, y: np.ndarray, color: str = "C3", **kwargs: Any) -> Any:
    """A lowess curve (R's ``panel.smooth``: span 2/3, 3 robustness iterations); None for fewer than 5 points.

    Above 20 000 points the curve is computed on an evenly spaced subset of the points sorted by ``x`` (it is a
    visual guide, and lowess costs grow with n times the span).
    """
    from statsmodels.nonparametric.smoothers_lowess import lowess

    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 5 or np.ptp(x) == 0:
        return None
    if x.size > 20000:
        order = np.argsort(x, kind="stable")
        pick = order[np.linspace(0, x.size - 1, 20000).round().astype(int)]
        x, y = x[pick], y[pick]
    fitted = None
    # with few distinct x values (a factor model) the robustness weights can be 0/0: retry without them
    for it in (3, 0):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            fitted = lowess(y, x, frac=2.0 / 3.0, it=it, delta=0.01 * float(np.ptp(x)), return_sorted=True)
        if np.isfinite(fitted).all():
            break
    if fitted is None or not np.isfinite(fitted).all():
        return None
    (line,) = ax.plot(fitted[:, 0], fitted[:, 1], color=color, lw=1.4, zorder=3, **kwargs)
    return line


def note_omitted(ax: Any, omitted: pd.Index, why: str = "undefined") -> None:
    """A small note in the lower right corner naming rows that are not shown."""
    if len(omitted) == 0:
        return
    from .._validation import format_labels

    ax.text(
        0.99,
        0.01,
        f"not shown ({why}): {format_labels(list(omitted), 3)}",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=7,
        color="0.4",
    )


def finish(ax: Any, title: str, xlabel: str, ylabel: str, subtitle: str = "") -> None:
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, color="0.92", lw=0.6, zorder=0)
    ax.set_axisbelow(True)
    if subtitle:
        ax.text(0.0, 1.0, subtitle, transform=ax.transAxes, ha="left", va="bottom", fontsize=7, color="0.45")


def frame(index: pd.Index, mask: np.ndarray, **cols: np.ndarray) -> pd.DataFrame:
    """The plotted coordinates as a DataFrame indexed by row label (rows of ``mask``)."""
    return pd.DataFrame({k: np.asarray(v)[mask] for k, v in cols.items()}, index=index[mask])
