"""Influence plots: Cook's distance by observation, residuals vs leverage with Cook's contours, Cook's distance vs
``h/(1-h)``, and the influence bubble plot."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from ._base import MANY_POINTS, Display, finish, frame, get_ax, label_points, note_omitted, scatter, smoother, top_k, view

__all__ = ["cooks_index", "residuals_leverage", "cooks_leverage", "influence_bubble"]


def _hline_note(ax: Any, y: float, text: str, **kwargs: Any) -> Any:
    """A horizontal reference line with its label at the right end, inside the axes."""
    line = ax.axhline(y, **kwargs)
    ax.annotate(
        text, (0.0, y), xycoords=("axes fraction", "data"), xytext=(2, 2), textcoords="offset points",
        ha="left", va="bottom", fontsize=7, color=kwargs.get("color", "0.4"),
    )
    return line


def cooks_index(result: Any, *, ax: Any = None, n_labels: int = 3) -> Display:
    """Cook's distance of each observation against its position (R's ``plot.lm`` panel 4).

    Reference lines: ``4/n`` (a common rule of thumb) and the median of ``F(p, n - p)`` (R's ``influence.measures``
    flags ``D`` above it), each drawn only when it falls within the plotted range (a note says where it is otherwise).

    Returns
    -------
    Display
        ``data_``: ``x`` (observation number, 1-based, in data order), ``y`` (Cook's distance).
    """
    v = view(result)
    d = v.cooks
    ok = v.used & np.isfinite(d)
    x = np.arange(1, len(d) + 1, dtype=float)
    ax, fig = get_ax(ax)
    arts: dict[str, Any] = {}
    arts["stems"] = ax.vlines(x[ok], 0.0, d[ok], color="0.3", lw=0.9 if ok.sum() <= 500 else 0.4, zorder=2,
                              rasterized=bool(ok.sum() > MANY_POINTS))
    top = float(np.nanmax(d[ok])) if ok.any() else 1.0
    ax.set_ylim(0, top * 1.08 if top > 0 else 1.0)
    ax.set_xlim(0, len(d) + 1)
    refs = {"4/n": 4.0 / v.n}
    if not v.is_glm and v.n > v.p:
        refs[f"F({v.p}, {v.n - v.p}) median"] = float(stats.f.ppf(0.5, v.p, v.n - v.p))
    above = []
    arts["reference"] = {}
    for text, yv in refs.items():
        if yv <= ax.get_ylim()[1]:
            arts["reference"][text] = _hline_note(ax, yv, f"{text} = {yv:.3g}", color="C3", ls="--", lw=0.9, zorder=1)
        else:
            above.append(f"{text} = {yv:.3g}")
    if above:
        ax.text(0.01, 0.99, "above the plot: " + ", ".join(above), transform=ax.transAxes, ha="left", va="top",
                fontsize=7, color="C3")
    finish(ax, "Cook's distance", "Observation number", "Cook's distance")
    labelled = label_points(ax, x, d, v.index, top_k(np.where(ok, d, np.nan), n_labels))
    omitted = v.index[v.used & ~ok]
    note_omitted(ax, omitted)
    return Display(ax, fig, frame(v.index, ok, x=x, y=d), labelled, arts, omitted)


def residuals_leverage(
    result: Any, *, ax: Any = None, n_labels: int = 3, levels: tuple[float, ...] = (0.5, 1.0), smooth: bool = True
) -> Display:
    """Standardized (Pearson) residuals against leverage with Cook's distance contours (R's ``plot.lm`` panel 5).

    Parameters
    ----------
    result : Influence or fit
    ax : matplotlib Axes, optional
    n_labels : int
        Label the points with the largest Cook's distance.
    levels : tuple of float
        Cook's distance of the contours (R: 0.5 and 1).
    smooth : bool

    Returns
    -------
    Display
        ``data_``: ``x`` (leverage), ``y`` (standardized residual); ``artists_["contours"]``: level -> the two
        curves ``r = +/- sqrt(D p (1 - h) / h)``.

    Notes
    -----
    Cook's distance is ``D = r^2 h / (p (1 - h))`` with ``r`` the standardized (for GLMs: Pearson) residual, so the
    points of equal ``D`` lie on ``r = +/- sqrt(D p (1 - h) / h)``.
    """
    v = view(result)
    h, r = v.leverage, v.std_pearson
    ok = v.used & np.isfinite(h) & np.isfinite(r) & (h < 1)
    ax, fig = get_ax(ax)
    arts: dict[str, Any] = {"points": scatter(ax, h[ok], r[ok])}
    arts["reference"] = ax.axhline(0.0, color="0.5", ls=":", lw=1, zorder=1)
    if smooth:
        arts["smoother"] = smoother(ax, h[ok], r[ok])
    hmax = float(np.max(h[ok])) if ok.any() else 1.0
    xmax = min(1.0, hmax * 1.08)
    rmax = float(np.max(np.abs(r[ok]))) if ok.any() else 2.0
    ylim = (-rmax * 1.1, rmax * 1.1)
    ax.set_xlim(0, xmax)
    ax.set_ylim(*ylim)
    hh = np.linspace(max(xmax, 1e-6) / 400, xmax, 400)
    arts["contours"] = {}
    for lev in levels:
        rr = np.sqrt(lev * v.p * (1 - hh) / hh)
        up = ax.plot(hh, rr, color="C3", ls="--", lw=0.9, zorder=1)[0]
        lo = ax.plot(hh, -rr, color="C3", ls="--", lw=0.9, zorder=1)[0]
        arts["contours"][lev] = (up, lo)
        inside = rr[-1] < ylim[1] * 0.97
        if inside:
            for sign in (1, -1):
                ax.annotate(f"{lev:g}", (xmax, sign * rr[-1]), xytext=(-2, 2 * sign), textcoords="offset points",
                            ha="right", va="bottom" if sign > 0 else "top", fontsize=7, color="C3")
    finish(ax, "Residuals vs leverage", "Leverage", "Std. Pearson resid." if v.is_glm else v.std_resid_label)
    visible = [lev for lev in levels if np.sqrt(lev * v.p * (1 - xmax) / xmax) < ylim[1]]
    hidden = [lev for lev in levels if lev not in visible]
    text = "Cook's distance " + ", ".join(f"{lev:g}" for lev in levels)
    if hidden:
        text += " (beyond the plotted range)" if not visible else f" ({', '.join(f'{h:g}' for h in hidden)} beyond)"
    ax.plot([], [], color="C3", ls="--", lw=0.9, label=text)
    ax.legend(loc="lower left", fontsize=7, frameon=False)
    labelled = label_points(ax, h, r, v.index, top_k(np.where(ok, v.cooks, np.nan), n_labels))
    omitted = v.index[v.used & ~ok]
    note_omitted(ax, omitted, "leverage 1 or undefined")
    return Display(ax, fig, frame(v.index, ok, x=h, y=r, cooks_distance=v.cooks), labelled, arts, omitted)


def _pretty(upper: float, n: int = 5) -> np.ndarray:
    """Round values spanning (0, upper], like R's ``pretty``."""
    if not np.isfinite(upper) or upper <= 0:
        return np.array([])
    raw = upper / n
    mag = 10 ** np.floor(np.log10(raw))
    step = min((s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw), default=10 * mag)
    return np.arange(step, upper + step * 1e-9, step)


def cooks_leverage(result: Any, *, ax: Any = None, n_labels: int = 3) -> Display:
    """Cook's distance against ``h / (1 - h)`` (R's ``plot.lm`` panel 6).

    Since ``D = (r^2 / p) h / (1 - h)``, observations with the same standardized residual ``|r|`` lie on a line
    through the origin; the grey lines are those of round values of ``|r|``.

    Returns
    -------
    Display
        ``data_``: ``x`` (``h/(1-h)``), ``y`` (Cook's distance); ``artists_["contours"]``: ``|r|`` -> line.
    """
    v = view(result)
    h, d = v.leverage, v.cooks
    ok = v.used & np.isfinite(d) & (h < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = h / (1 - h)
    ax, fig = get_ax(ax)
    arts: dict[str, Any] = {"points": scatter(ax, g[ok], d[ok])}
    xmax = float(np.max(g[ok])) * 1.08 if ok.any() else 1.0
    ymax = float(np.max(d[ok])) * 1.08 if ok.any() else 1.0
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, ymax)
    arts["contours"] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        rmax = float(np.nanmax(np.sqrt(v.p * d[ok] / g[ok]))) if ok.any() else 0.0
    for rv in _pretty(rmax):
        slope = rv**2 / v.p
        (line,) = ax.plot([0, xmax], [0, slope * xmax], color="0.6", ls=":", lw=0.9, zorder=1)
        arts["contours"][float(rv)] = line
        x_end, y_end = (xmax, slope * xmax) if slope * xmax <= ymax else (ymax / slope, ymax)
        ax.annotate(f"{rv:g}", (x_end, y_end), xytext=(-2, -2), textcoords="offset points", ha="right", va="top",
                    fontsize=7, color="0.45")
    finish(ax, "Cook's distance vs leverage h/(1-h)", "Leverage h/(1-h)", "Cook's distance")
    ax.text(0.99, 0.99, "dotted: equal |standardized residual|", transform=ax.transAxes, ha="right", va="top",
            fontsize=7, color="0.45")
    labelled = label_points(ax, g, d, v.index, top_k(np.where(ok, d, np.nan), n_labels))
    omitted = v.index[v.used & ~ok]
    note_omitted(ax, omitted, "leverage 1 or undefined")
    return Display(ax, fig, frame(v.index, ok, x=g, y=d), labelled, arts, omitted)


def influence_bubble(result: Any, *, ax: Any = None, n_labels: int = 2, max_size: float = 600.0) -> Display:
    """Studentized residuals against leverage, circle area proportional to Cook's distance (car's ``influencePlot``).

    Reference lines at leverage ``2p/n`` and ``3p/n`` and at studentized residuals ``-2, 0, 2``. The labelled
    points are car's "noteworthy" ones: the ``n_labels`` largest by leverage, by ``|t|`` and by Cook's distance.

    Returns
    -------
    Display
        ``data_``: ``x`` (leverage), ``y`` (studentized residual), ``cooks_distance``, ``size`` (marker area).
    """
    v = view(result)
    h, t, d = v.leverage, v.student_resid, v.cooks
    ok = v.used & np.isfinite(h) & np.isfinite(t) & np.isfinite(d)
    dmax = float(np.max(d[ok])) if ok.any() else 1.0
    size = np.where(ok, max_size * d / dmax if dmax > 0 else 20.0, np.nan)
    size = np.maximum(size, 4.0)
    ax, fig = get_ax(ax)
    arts: dict[str, Any] = {}
    arts["points"] = ax.scatter(h[ok], t[ok], s=size[ok], facecolor="C0", alpha=0.35, edgecolor="C0", lw=0.8, zorder=2)
    arts["reference"] = {}
    for val, txt in ((2.0 * v.p / v.n, "2p/n"), (3.0 * v.p / v.n, "3p/n")):
        arts["reference"][txt] = ax.axvline(val, color="0.45", ls="--" if txt == "2p/n" else ":", lw=0.9, zorder=1)
        ax.annotate(txt, (val, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -2), textcoords="offset points",
                    ha="left", va="top", fontsize=7, color="0.4")
    for val in (-2.0, 0.0, 2.0):
        arts["reference"][f"t={val:g}"] = ax.axhline(val, color="0.45", ls=":" if val == 0 else "--", lw=0.9, zorder=1)
    finish(ax, "Influence plot", "Leverage (hat values)", "Studentized residuals")
    ax.set_xlim(left=0)
    tmax = max(2.5, float(np.max(np.abs(t[ok]))) * 1.15) if ok.any() else 2.5
    ax.set_ylim(-tmax, tmax)
    # legend for the bubble sizes
    refs = [x for x in _pretty(dmax, 3) if x <= dmax][-2:] or [dmax]
    for dv in refs:
        ax.scatter([], [], s=max_size * dv / dmax, facecolor="C0", alpha=0.35, edgecolor="C0", label=f"D = {dv:.2g}")
    ax.legend(loc="lower right", fontsize=7, frameon=False, labelspacing=1.2, borderpad=0.8, title="Cook's distance",
              title_fontsize=7)
    pick: list[int] = []
    for score in (h, np.abs(t), d):
        for i in top_k(np.where(ok, score, np.nan), n_labels):
            if i not in pick:
                pick.append(int(i))
    pick_arr = np.array(pick, dtype=np.intp)
    radius = np.sqrt(size[pick_arr] / np.pi) if pick_arr.size else np.array([])
    labelled = label_points(ax, h, t, v.index, pick_arr, gap=np.maximum(4.0, 0.75 * radius + 2.0), ring=False)
    omitted = v.index[v.used & ~ok]
    note_omitted(ax, omitted)
    data = frame(v.index, ok, x=h, y=t, cooks_distance=d, size=size)
    return Display(ax, fig, data, labelled, arts, omitted)
