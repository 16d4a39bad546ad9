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

from ..protocols import InfluenceResult, model_kind

__all__ = ["Display", "PanelDisplay", "as_influence", "View", "view", "figure_grid"]

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
        """Save the figure (``Figure.savefig``).

        Parameters
        ----------
        path : str, Path or file-like
            Where to write; the format follows the suffix unless ``format`` is given.
        **kwargs
            Passed to ``Figure.savefig`` (defaults here: ``dpi=150``, ``bbox_inches="tight"``).
        """
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
        """The panels' axes, the same array as ``axes_`` (so every display has ``ax_``)."""
        return self.axes_

    @property
    def labelled_(self) -> pd.Index:
        """Union of the row labels written on any panel."""
        out = pd.Index([])
        for d in self.panels_.values():
            out = out.union(d.labelled_, sort=False)
        return out

    def savefig(self, path: Any, **kwargs: Any) -> None:
        """Save the figure (``Figure.savefig``).

        Parameters
        ----------
        path : str, Path or file-like
            Where to write; the format follows the suffix unless ``format`` is given.
        **kwargs
            Passed to ``Figure.savefig`` (defaults here: ``dpi=150``, ``bbox_inches="tight"``).
        """
        kwargs.setdefault("dpi", 150)
        kwargs.setdefault("bbox_inches", "tight")
        self.figure_.savefig(path, **kwargs)


def as_influence(result: Any) -> Any:
    """The :class:`~regdiag.Influence` of ``result``: itself, or ``result.influence()`` for a fit (closed form,
    no refit)."""
    if model_kind(result) is not None:
        return result.influence()
    if isinstance(result, InfluenceResult):
        return result
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


def warm_up() -> None:
    """Import what drawing needs (matplotlib's figure and Agg canvas, the lowess smoother) and load the default
    font, so that processes forked afterwards to draw figures share them instead of each loading its own copy."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from statsmodels.nonparametric.smoothers_lowess import lowess  # noqa: F401

    fig = Figure(figsize=(1, 1))
    fig.text(0.5, 0.5, "0")
    FigureCanvasAgg(fig).draw()  # the font and the text layout caches


def image_data_uri(fig: Any, vector: bool) -> str:
    """The figure as a ``data:`` URI, for embedding in a page: SVG when ``vector``, else PNG.

    Both are written at the figure's own dpi, so that the text measured by the layout is measured once
    (matplotlib caches text layout per dpi). The SVG keeps text as text (drawn in the viewer's sans-serif font,
    DejaVu Sans where it has it, so it stays searchable and sharp) and has no date and no random ids: the same
    figure gives the same bytes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    vector : bool

    Returns
    -------
    str
    """
    import base64
    import io

    import matplotlib

    buf = io.BytesIO()
    if vector:
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "regdiag"}):
            fig.savefig(buf, format="svg", dpi="figure", metadata={"Date": None})
        mime = "image/svg+xml"
    else:
        fig.savefig(buf, format="png", dpi="figure")
        mime = "image/png"
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


#: margins (inches) of figures with a fixed layout: left, right, bottom, top, and between panels across and down
FIXED_MARGINS = (0.78, 0.22, 0.58, 0.42, 0.72, 0.78)
#: extra room at the top of a grid of several panels (its overall title), inches
SUPTITLE_ROOM = 0.3


def figure_grid(
    nrows: int, ncols: int, panel_size: tuple[float, float], dpi: float = 100.0, layout: str = "constrained"
) -> tuple[Any, np.ndarray]:
    """A figure that does not go through pyplot (no GUI backend is touched, nothing is kept open) with an
    ``nrows x ncols`` grid of axes of ``panel_size`` inches each: for writing files.

    ``layout="constrained"`` fits the margins to the texts when the figure is drawn; ``layout="fixed"`` uses
    :data:`FIXED_MARGINS`, which leave room for tick labels, axis labels and titles of the usual sizes, and saves
    the layout pass and the extra draw that constrained layout costs (about half of the time of a small figure).

    Parameters
    ----------
    nrows, ncols : int
        Rows and columns of panels.
    panel_size : tuple of float
        Width and height of one panel, inches.
    dpi : float
        Resolution of the figure.
    layout : {"constrained", "fixed"}
        How the margins are set.

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : ndarray of matplotlib Axes, shape (nrows, ncols)
    """
    from matplotlib.figure import Figure

    w, h = panel_size[0] * ncols, panel_size[1] * nrows
    if layout != "fixed":
        fig = Figure(figsize=(w, h), layout="constrained", dpi=dpi)
        return fig, fig.subplots(nrows, ncols, squeeze=False)
    import matplotlib as mpl

    left, right, bottom, top, across, down = FIXED_MARGINS
    if nrows * ncols > 1:
        top += SUPTITLE_ROOM
    fig = Figure(figsize=(w, h), dpi=dpi)
    ax_w = (w - left - right - (ncols - 1) * across) / ncols
    ax_h = (h - bottom - top - (nrows - 1) * down) / nrows
    fig.subplots_adjust(left=left / w, right=1 - right / w, bottom=bottom / h, top=1 - top / h,
                        wspace=across / ax_w if ncols > 1 else 0.2, hspace=down / ax_h if nrows > 1 else 0.2)
    # titles at the top edge of their axes, where matplotlib's automatic placement puts them when nothing is drawn
    # above an axes (no top ticks): the automatic placement measures every tick label of the axes at each draw
    with mpl.rc_context({"axes.titley": 1.0}):
        return fig, fig.subplots(nrows, ncols, squeeze=False)


def panel_axes(
    ax: Any, n_panels: int, ncols: int, panel_size: tuple[float, float] = (3.2, 2.6)
) -> tuple[np.ndarray, Any]:
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
            raise ValueError(
                "to draw a panel inside one axes, the axes must belong to a grid (fig.subplots / add_subplot)"
            )
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
    """Points, lighter and rasterized when there are many; above :data:`DENSITY_ABOVE` points the bulk is drawn
    as a density layer and only the points in sparse cells as markers (see :func:`density_scatter`)."""
    n = len(x)
    if n > DENSITY_ABOVE and kwargs.get("s") is None:
        return density_scatter(ax, x, y, zorder=kwargs.get("zorder", 2))
    if kwargs.get("s") is None:
        kwargs["s"] = 16 if n <= 500 else 8 if n <= MANY_POINTS else 3
    kwargs.setdefault("alpha", 0.85 if n <= 500 else max(0.15, min(0.85, 2000.0 / n)))
    kwargs.setdefault("color", "0.25")
    kwargs.setdefault("linewidths", 0)
    kwargs.setdefault("zorder", 2)
    if n > MANY_POINTS:
        kwargs.setdefault("rasterized", True)
    return ax.scatter(x, y, **kwargs)


#: above this many points a scatter plot draws the bulk as a density layer (one image) and the sparse points alone
DENSITY_ABOVE = 20000
#: cells of the density layer (x by y)
DENSITY_BINS = (160, 120)
#: points in cells holding at most this many points are drawn as markers on top of the density layer
SPARSE_CELL = 3
#: at most this many such markers (those in the emptiest cells first)
MAX_SPARSE = 5000


def density_counts(
    x: np.ndarray, y: np.ndarray, bins: tuple[int, int] = DENSITY_BINS
) -> tuple[np.ndarray, tuple[float, float, float, float], np.ndarray]:
    """Counts of the finite points ``(x, y)`` on a regular ``bins`` grid spanning their range.

    Returns
    -------
    counts : ndarray of shape (bins[0], bins[1])
        Points per cell (x index first).
    extent : tuple (x0, x1, y0, y1)
        The grid's edges, in data coordinates.
    cell : ndarray of shape (n_finite,)
        Each finite point's flat cell number ``ix * bins[1] + iy`` (points in input order, non-finite ones dropped).
    """
    nx, ny = bins
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size == 0:
        return np.zeros(bins), (0.0, 1.0, 0.0, 1.0), np.empty(0, dtype=np.intp)
    x0, x1 = float(x.min()), float(x.max())
    y0, y1 = float(y.min()), float(y.max())
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if y1 <= y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    ix = np.minimum(((x - x0) * (nx / (x1 - x0))).astype(np.intp), nx - 1)
    iy = np.minimum(((y - y0) * (ny / (y1 - y0))).astype(np.intp), ny - 1)
    cell = ix * ny + iy
    counts = np.bincount(cell, minlength=nx * ny).reshape(nx, ny)
    return counts, (x0, x1, y0, y1), cell


def density_scatter(ax: Any, x: np.ndarray, y: np.ndarray, zorder: float = 2, color: str = "0.25") -> Any:
    """Many points: their density as one rasterized image (shade rising with the log of the count per cell) and,
    as markers on top, the points of sparse cells (at most :data:`SPARSE_CELL` points), which are the ones a reader
    looks for; the cost is O(n) array work plus a drawing cost independent of n.

    Returns the markers' PathCollection; the density image is its ``density_`` attribute (and carries the grid in
    ``cells_``: cell centres in data coordinates and their counts, which label placement reads as obstacles).
    """
    from matplotlib.colors import to_rgb

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    counts, extent, cell = density_counts(x, y)
    nx, ny = counts.shape
    rgba = np.zeros((ny, nx, 4))
    rgba[..., :3] = to_rgb(color)
    c = counts.T.astype(float)
    top = float(np.log1p(c.max())) or 1.0
    rgba[..., 3] = np.where(c > 0, 0.18 + 0.72 * np.log1p(c) / top, 0.0)
    img = ax.imshow(rgba, extent=extent, origin="lower", aspect="auto", interpolation="nearest", zorder=zorder - 0.5,
                    rasterized=True)
    img.sticky_edges.x[:] = []  # the axes keep their usual margins around the data
    img.sticky_edges.y[:] = []
    x0, x1, y0, y1 = extent
    ii, jj = np.nonzero(counts)
    centres = np.column_stack([x0 + (ii + 0.5) * (x1 - x0) / nx, y0 + (jj + 0.5) * (y1 - y0) / ny])
    img.cells_ = (centres, counts[ii, jj])
    ok = np.isfinite(x) & np.isfinite(y)
    per_point = counts.ravel()[cell]
    sparse = np.flatnonzero(per_point <= SPARSE_CELL)
    if sparse.size > MAX_SPARSE:
        sparse = sparse[np.argsort(per_point[sparse], kind="stable")[:MAX_SPARSE]]
    xs, ys = x[ok][sparse], y[ok][sparse]
    coll = ax.scatter(xs, ys, s=5, color=color, alpha=0.8, linewidths=0, zorder=zorder, rasterized=True)
    coll.density_ = img
    return coll


def stems(ax: Any, x: np.ndarray, lo: np.ndarray | float, hi: np.ndarray, **kwargs: Any) -> Any:
    """Vertical segments from ``lo`` to ``hi`` at each ``x`` (what ``ax.vlines`` draws) as one line broken by NaN:
    the same picture, drawn in one path instead of a collection of one path per segment (a third less time for a
    panel of a few hundred stems). Returns the ``Line2D``."""
    x = np.asarray(x, dtype=float)
    n = x.size
    xy = np.full((3 * n, 2), np.nan)
    xy[0::3, 0] = xy[1::3, 0] = x
    xy[0::3, 1] = np.broadcast_to(np.asarray(lo, dtype=float), (n,))
    xy[1::3, 1] = np.asarray(hi, dtype=float)
    kwargs.setdefault("solid_capstyle", "butt")  # as a line collection ends its segments
    kwargs.setdefault("snap", True)  # pixel-aligned, as the collection draws them
    (line,) = ax.plot(xy[:, 0], xy[:, 1], scalex=n > 0, scaley=n > 0, **kwargs)
    line.stems_ = n
    return line


def index_bars(ax: Any, x: np.ndarray, y: np.ndarray, *, base: float | None = 0.0, nbins: int = 1500,
               **kwargs: Any) -> Any:
    """An index plot of many values (x increasing) as one vertical bar per bin of consecutive x: from ``base`` to the
    bin's largest value (``base=None``: from the bin's smallest to its largest value). At screen resolution this is
    the picture of one stem per value, with a drawing cost independent of n."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = x.size
    if n == 0:
        return stems(ax, np.empty(0), 0.0, np.empty(0), **kwargs)
    starts = np.unique(np.linspace(0, n, min(nbins, n) + 1).astype(np.intp)[:-1])
    hi = np.maximum.reduceat(y, starts)
    lo = np.full_like(hi, base) if base is not None else np.minimum.reduceat(y, starts)
    xc = np.add.reduceat(x, starts) / np.diff(np.append(starts, n))
    kwargs.setdefault("rasterized", True)
    return stems(ax, xc, lo, hi, **kwargs)


def top_k(score: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest finite scores, largest first (stable for ties)."""
    score = np.asarray(score, dtype=float)
    if k <= 0:
        return np.array([], dtype=np.intp)
    finite = np.flatnonzero(np.isfinite(score))
    if finite.size > 4 * k + 64:  # many rows: the k largest by partition (O(n)), ties kept in row order
        vals = score[finite]
        kth = np.partition(vals, finite.size - k)[finite.size - k]
        finite = finite[vals >= kth]
    order = finite[np.argsort(-score[finite], kind="stable")]
    return order[:k]


#: the ``gid`` of the row labels that :func:`label_points` writes (to tell them from other texts of a plot)
LABEL_GID = "regdiag-row-label"


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

    Where each label goes is decided when the figure is drawn, once the layout (and so the size of the axes) is
    final: next to its point (``gap`` points away; an array gives one gap per position, e.g. a bubble's radius) on
    the side that covers the fewest plotted points, lines and other labels, inside the axes. A label that has to
    move further away than that is joined to its point by a thin leader line. With ``ring`` the points get a red
    ring.
    """
    positions = np.asarray(positions, dtype=np.intp)
    if positions.size == 0:
        return pd.Index([])
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    gaps = np.broadcast_to(np.asarray(gap, dtype=float), positions.shape)
    if ring:  # mark the labelled points themselves: among many faint points a label alone is hard to attach
        ax.scatter(x[positions], y[positions], s=36, facecolors="none", edgecolors="C3", linewidths=0.9, zorder=4)
    placer = _placer(ax)
    for i, g in zip(positions, gaps):
        ann = ax.annotate(
            str(labels[i]),
            (float(x[i]), float(y[i])),
            xytext=(g, 0.75 * g),
            textcoords="offset points",
            ha="left",
            va="bottom",
            fontsize=fontsize,
            color="0.1",
            zorder=5,
            arrowprops={"arrowstyle": "-", "color": "0.45", "lw": 0.6, "shrinkA": 1.0,
                        "shrinkB": max(3.5, float(g) - 1.0)},
        )
        ann.set_gid(LABEL_GID)
        ann.set_path_effects([_halo()])  # legible where it crosses a line or faint points
        ann.set_in_layout(False)  # placed inside the axes at draw time: the layout need not make room for it
        # a leader line only where the label moves away from its point (set by the placer); without one, the
        # annotation computes no arrow path each time it is measured or drawn
        ann.leader_ = (ann.arrowprops, ann.arrow_patch)
        ann.arrowprops = ann.arrow_patch = None
        placer.items.append((ann, float(g)))
    return pd.Index([labels[i] for i in positions])


def _halo() -> Any:
    from matplotlib.patheffects import withStroke

    return withStroke(linewidth=2.2, foreground="white", alpha=0.8)


def _placer(ax: Any) -> Any:
    """The axes' label placer (created on first use): an invisible artist drawn before everything else."""
    placer = getattr(ax, "_regdiag_label_placer", None)
    if placer is None or placer not in ax.get_children():  # none yet, or the axes were cleared
        placer = _LabelPlacer(ax)
        ax.add_artist(placer)
        ax._regdiag_label_placer = placer
    return placer


def _label_placer_class() -> type:
    from matplotlib.artist import Artist
    from matplotlib.transforms import Bbox

    class LabelPlacer(Artist):
        """Places the row labels of one axes each time the figure is drawn: at that moment the layout is final,
        so what the labels avoid (points, lines, texts, the edges of the axes) is where the reader will see it."""

        def __init__(self, ax: Any) -> None:
            super().__init__()
            self.ax = ax
            self.items: list[tuple[Any, float]] = []
            self.set_zorder(-1e9)  # drawn first, so the labels are in place when they are drawn
            self.set_in_layout(False)

        def draw(self, renderer: Any) -> None:
            if self.items:
                # the layout pass and the drawing pass of one savefig see the same axes: place once
                key = (tuple(np.round(self.ax.bbox.bounds, 3)), float(renderer.points_to_pixels(1.0)),
                       self.ax.get_xlim(), self.ax.get_ylim(), len(self.items))
                if key != getattr(self, "_placed_for", None):
                    _place_labels(self.ax, self.items, renderer)
                    self._placed_for = key
            self.stale = False

        def get_window_extent(self, renderer: Any = None) -> Any:
            return Bbox.null()

    return LabelPlacer


_PLACER_CLASS: Any = None


def _LabelPlacer(ax: Any) -> Any:  # noqa: N802 - a class made on first use (matplotlib is imported lazily)
    global _PLACER_CLASS
    if _PLACER_CLASS is None:
        _PLACER_CLASS = _label_placer_class()
    return _PLACER_CLASS(ax)


#: directions tried around a point, in order of preference (upper right first, as R's text(pos = 4) and car do)
_DIRECTIONS = [(1, 1), (1, 0), (-1, 1), (-1, 0), (1, -1), (-1, -1), (0, 1), (0, -1)]
_DIRECTIONS_FAR = _DIRECTIONS + [(1, 0.5), (1, -0.5), (-1, 0.5), (-1, -0.5), (0.5, 1), (-0.5, 1), (0.5, -1), (-0.5, -1)]
#: rings of candidate positions, one text height apart
_RINGS = 10


def _point_obstacles(ax: Any, renderer: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Centres and radii (display pixels) of the axes' markers, and of the occupied cells of a density layer (each
    a disc of half the cell's size)."""
    from matplotlib.collections import PathCollection

    ppt = renderer.points_to_pixels(1.0)
    pts, rad = [], []
    for coll in ax.collections:
        if not coll.get_visible():
            continue
        if isinstance(coll, PathCollection):
            off = np.asarray(coll.get_offsets(), dtype=float)
            if off.size == 0:
                continue
            xy = coll.get_offset_transform().transform(off)
            sizes = np.asarray(coll.get_sizes(), dtype=float)
            r = np.sqrt(np.broadcast_to(sizes if sizes.size else np.array([16.0]), (len(xy),)) / np.pi) * ppt
            pts.append(xy)
            rad.append(r)
    for img in ax.images:
        cells = getattr(img, "cells_", None)
        if cells is None or not img.get_visible() or len(cells[0]) == 0:
            continue
        xy = ax.transData.transform(cells[0])
        ext = img.get_extent()
        nx, ny = DENSITY_BINS
        corner = ax.transData.transform([[ext[0], ext[2]], [ext[0] + (ext[1] - ext[0]) / nx,
                                                             ext[2] + (ext[3] - ext[2]) / ny]])
        half = 0.5 * float(np.min(np.abs(np.diff(corner, axis=0))))
        pts.append(xy)
        rad.append(np.full(len(xy), half))
    return pts, rad


def _sampled(v: np.ndarray) -> np.ndarray:
    """A polyline (display pixels) sampled every 3 pixels or so (as given if that would be over 200 000 points)."""
    v = v[np.isfinite(v).all(axis=1)]
    if len(v) < 2:
        return v
    seg = np.diff(v, axis=0)
    steps = np.maximum(1, np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / 3.0).astype(int))
    if steps.sum() > 200_000:
        return v
    total = int(steps.sum())
    first = np.repeat(np.cumsum(steps) - steps, steps)
    t = (np.arange(total) - first) / np.repeat(steps, steps)
    start = np.repeat(v[:-1], steps, axis=0)
    return np.vstack([start + np.repeat(seg, steps, axis=0) * t[:, None], v[-1:]])


def _segments_sampled(ends: np.ndarray) -> list[np.ndarray]:
    """Two-point segments (stems, bars; shape (k, 2, 2) in display pixels) sampled all at once, each its own line
    (none if that would be over 400 000 points)."""
    ends = ends[np.isfinite(ends).all(axis=(1, 2))]
    seg = ends[:, 1] - ends[:, 0]
    steps = np.maximum(1, np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / 3.0).astype(int)) + 1
    if steps.sum() > 400_000:
        return []
    first = np.repeat(np.cumsum(steps) - steps, steps)
    t = (np.arange(int(steps.sum())) - first) / np.repeat(steps - 1, steps)
    pts_all = np.repeat(ends[:, 0], steps, axis=0) + np.repeat(seg, steps, axis=0) * t[:, None]
    return np.split(pts_all, np.cumsum(steps)[:-1])


def _line_obstacles(ax: Any) -> list[np.ndarray]:
    """The axes' lines and line collections (up to 3000 segments), densely sampled in display pixels."""
    from matplotlib.collections import LineCollection

    lines: list[np.ndarray] = []
    for line in ax.lines:
        if not line.get_visible() or len(line.get_xydata()) < 2:
            continue
        if getattr(line, "stems_", None) is not None:  # stems: each segment its own line (up to 3000)
            if 0 < line.stems_ <= 3000:
                xy = np.asarray(line.get_xydata(), dtype=float).reshape(-1, 3, 2)[:, :2]
                ends = line.get_transform().transform(xy.reshape(-1, 2)).reshape(-1, 2, 2)
                lines += _segments_sampled(ends)
            continue
        path = line.get_transform().transform_path(line.get_path())
        lines.append(_sampled(np.asarray(path.vertices, dtype=float)))
    for coll in ax.collections:
        if isinstance(coll, LineCollection) and coll.get_visible():
            segs = coll.get_segments()
            if 0 < len(segs) <= 3000:
                tr = coll.get_transform()
                two = [s for s in segs if len(s) == 2]
                if two:
                    ends = tr.transform(np.asarray(two, dtype=float).reshape(-1, 2)).reshape(-1, 2, 2)
                    lines += _segments_sampled(ends)
                lines += [_sampled(tr.transform(np.asarray(s, dtype=float))) for s in segs if len(s) > 2]
    return [ln for ln in lines if len(ln)]


def _obstacles(
    ax: Any, renderer: Any, own: set[int]
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray], list[Any]]:
    """What a label should not cover, in display pixels: points (centres and radii), lines (densely sampled), and
    the boxes of texts that are not row labels."""
    pts, rad = _point_obstacles(ax, renderer)
    lines = _line_obstacles(ax)
    boxes = []
    for t in ax.texts:
        if id(t) in own or not t.get_visible() or not t.get_text():
            continue
        try:
            boxes.append(t.get_window_extent(renderer))
        except (RuntimeError, ValueError):  # pragma: no cover - a text that cannot be measured
            continue
    p = np.vstack(pts) if pts else np.empty((0, 2))
    r = np.concatenate(rad) if rad else np.empty(0)
    ok = np.isfinite(p).all(axis=1)
    line_pts = np.vstack(lines) if lines else np.empty((0, 2))
    line_ids = np.repeat(np.arange(len(lines)), [len(ln) for ln in lines]) if lines else np.empty(0, dtype=np.intp)
    return p[ok], r[ok], (line_pts, line_ids), boxes


def _box_distance(x0: float, y0: float, x1: float, y1: float, px: Any, py: Any) -> Any:
    """Distance from the box ``[x0, x1] x [y0, y1]`` to the point(s) ``(px, py)``."""
    dx = np.maximum(np.maximum(x0 - px, 0.0), px - x1)
    dy = np.maximum(np.maximum(y0 - py, 0.0), py - y1)
    return np.hypot(dx, dy)


def _place_labels(ax: Any, items: list[tuple[Any, float]], renderer: Any) -> None:
    """Put each label where it covers the fewest points, lines and texts, inside the axes, near its point; labels
    placed earlier (the more extreme points) choose first. A label not right next to its point gets a leader line."""
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

    ppt = renderer.points_to_pixels(1.0)
    anns = [a for a, _ in items]
    pts, rad, lines, boxes = _obstacles(ax, renderer, {id(a) for a in anns})
    frame_box = ax.bbox
    lo_x, lo_y, hi_x, hi_y = frame_box.x0 + 2, frame_box.y0 + 2, frame_box.x1 - 2, frame_box.y1 - 2
    placed: list[Any] = list(boxes)
    anchors = np.array([ax.transData.transform(a.xy) for a in anns], dtype=float).reshape(-1, 2)
    for ann, gap_pt in items:
        ann.set_ha("left")
        ann.set_va("bottom")
        px, py = ax.transData.transform(ann.xy)
        text_box = Text.get_window_extent(ann, renderer)
        w, h = text_box.width, text_box.height
        gap = gap_pt * ppt
        if not (np.isfinite(px) and np.isfinite(py)):
            continue
        others = anchors[[a is not ann for a in anns]]
        others = others[np.isfinite(others).all(axis=1)]
        reach = gap + _RINGS * h + w + h
        near = (np.abs(pts[:, 0] - px) < reach + rad) & (np.abs(pts[:, 1] - py) < reach + rad)
        near &= np.hypot(pts[:, 0] - px, pts[:, 1] - py) > 0.5  # not the labelled point itself (nor its ring)
        npts, nrad = pts[near], rad[near]
        line_pts, line_ids = lines
        keep = (np.abs(line_pts[:, 0] - px) < reach) & (np.abs(line_pts[:, 1] - py) < reach)
        nl_pts, nl_ids = line_pts[keep], line_ids[keep]
        best: tuple[float, float, float, bool] | None = None
        for ring in range(_RINGS + 1):
            dist = gap + ring * 0.9 * h
            for k, (cx, cy) in enumerate(_DIRECTIONS if ring < 2 else _DIRECTIONS_FAR):
                # the box's nearest corner or edge ``dist`` from the point, in the direction (cx, cy)
                norm = float(np.hypot(cx, cy))
                x0 = px + cx / norm * dist + np.sign(cx) * w / 2 - w / 2
                y0 = py + cy / norm * dist + np.sign(cy) * h / 2 - h / 2
                x1, y1 = x0 + w, y0 + h
                if x0 < lo_x or y0 < lo_y or x1 > hi_x or y1 > hi_y:
                    continue
                box = Bbox([[x0 - 1, y0 - 1], [x1 + 1, y1 + 1]])
                if any(box.overlaps(b) for b in placed):
                    continue
                covered = int(np.count_nonzero(
                    (npts[:, 0] + nrad > x0) & (npts[:, 0] - nrad < x1) & (npts[:, 1] + nrad > y0)
                    & (npts[:, 1] - nrad < y1)
                )) if len(npts) else 0
                crossed = int(np.unique(nl_ids[
                    (nl_pts[:, 0] > x0) & (nl_pts[:, 0] < x1) & (nl_pts[:, 1] > y0) & (nl_pts[:, 1] < y1)
                ]).size) if len(nl_ids) else 0  # how many lines (or stems) the box crosses
                # a label nearer another labelled point than its own is read as that point's label
                own_d = _box_distance(x0, y0, x1, y1, px, py)
                ambiguous = bool(len(others)) and float(np.min(_box_distance(
                    x0, y0, x1, y1, others[:, 0], others[:, 1]))) < 2.0 * own_d + 4.0
                # right next to its point a label must be unambiguous; further out its leader line tells
                score = 4.0 * covered + 2.0 * crossed + 1.5 * ring + 0.05 * k + (6.0 if ring == 0 else 1.0) * ambiguous
                if best is None or score < best[0]:
                    best = (score, x0, y0, ring > 0)
            if best is not None and best[0] < 1.5 * (ring + 1):  # nothing further out can score better
                break
        if best is None:  # no free place inside the axes: the preferred one, pulled inside
            x0 = min(max(px + gap, lo_x), hi_x - w)
            y0 = min(max(py + gap * 0.75, lo_y), hi_y - h)
            best = (0.0, x0, y0, True)
        _, x0, y0, moved = best
        ann.xyann = ((x0 - px) / ppt, (y0 - py) / ppt)
        ann.arrowprops, ann.arrow_patch = ann.leader_ if moved else (None, None)
        placed.append(Bbox([[x0 - 1, y0 - 1], [x0 + w + 1, y0 + h + 1]]))


def degenerate(x: np.ndarray, rtol: float = 1e-10) -> bool:
    """True when the finite values of ``x`` are all equal up to rounding (spread at most ``rtol`` times their size):
    nothing can be drawn against such an x but one vertical strip (R's ``plot.lm`` uses the same test for constant
    leverage)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return True
    return bool(np.ptp(x) <= rtol * float(np.max(np.abs(x))))


#: above this many points the smoother's evenly spaced subset is taken from every k-th point (see smoother)
SMOOTH_PRESAMPLE = 200_000


def smoother(ax: Any, x: np.ndarray, y: np.ndarray, color: str = "C3", **kwargs: Any) -> Any:
    """A lowess curve (R's ``panel.smooth``: span 2/3, 3 robustness iterations); None for fewer than 5 points or an
    ``x`` whose values are all equal up to rounding (see :func:`degenerate`).

    Above 20 000 points the curve is computed on an evenly spaced subset of the points sorted by ``x`` (it is a
    visual guide, and lowess costs grow with n times the span); above :data:`SMOOTH_PRESAMPLE` points that subset is
    taken from every k-th point in row order plus the smallest and largest ``x`` (sorting all of them would cost more
    than the curve).
    """
    from statsmodels.nonparametric.smoothers_lowess import lowess

    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 5 or degenerate(x):
        return None
    if x.size > SMOOTH_PRESAMPLE:
        step = x.size // SMOOTH_PRESAMPLE
        keep = np.unique(np.r_[np.arange(0, x.size, step), np.argmin(x), np.argmax(x)])
        x, y = x[keep], y[keep]
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
