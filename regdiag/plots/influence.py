"""Influence plots: Cook's distance by observation, residuals vs leverage with Cook's contours, Cook's distance vs
``h/(1-h)``, and the influence bubble plot."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._distributions import f_ppf
from ._base import (
    DENSITY_ABOVE,
    MANY_POINTS,
    Display,
    degenerate,
    density_scatter,
    finish,
    frame,
    get_ax,
    index_bars,
    label_points,
    note_omitted,
    scatter,
    smoother,
    stems,
    top_k,
    view,
)

__all__ = ["cooks_index", "residuals_leverage", "cooks_leverage", "influence_bubble"]

#: influence plots of more than DENSITY_ABOVE rows draw circles for this many rows (largest Cook's distances)
MAX_BUBBLES = 500


def _hline_note(ax: Any, y: float, text: str, **kwargs: Any) -> Any:
    """A horizontal reference line with its label at the right end, inside the axes."""
    line = ax.axhline(y, **kwargs)
    ax.annotate(
        text, (0.0, y), xycoords=("axes fraction", "data"), xytext=(2, 2), textcoords="offset points",
        ha="left", va="bottom", fontsize=7, color=kwargs.get("color", "0.4"), zorder=6,
        bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 0.5},  # legible over dense stems
    )
    return line


def cooks_index(result: Any, *, ax: Any = None, n_labels: int = 3) -> Display:
    """Cook's distance of each observation against its position (R's ``plot.lm`` panel 4).

    Reference lines: ``4/n`` (a common rule of thumb) and the median of ``F(p, n - p)`` (R's ``influence.measures``
    flags ``D`` above it), each drawn only when it falls within the plotted range (a note says where it is otherwise).

    Parameters
    ----------
    result : Influence or fit
    ax : matplotlib Axes, optional
    n_labels : int
        Label the points with the largest Cook's distance.

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
    if ok.sum() > DENSITY_ABOVE:  # one bar per screen column's worth of rows: the same picture, drawn in O(1)
        arts["stems"] = index_bars(ax, x[ok], d[ok], color="0.3", lw=0.4, zorder=2)
    else:
        arts["stems"] = stems(ax, x[ok], 0.0, d[ok], color="0.3", lw=0.9 if ok.sum() <= 500 else 0.4, zorder=2,
                               rasterized=bool(ok.sum() > MANY_POINTS))
    top = float(np.nanmax(d[ok])) if ok.any() else 1.0
    ax.set_ylim(0, top * 1.08 if top > 0 else 1.0)
    ax.set_xlim(0, len(d) + 1)
    refs = {"4/n": 4.0 / v.n}
    if not v.is_glm and v.n > v.p:
        refs[f"F({v.p}, {v.n - v.p}) median"] = float(f_ppf(0.5, v.p, v.n - v.p))
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

    When every leverage is the same (relative spread below 1e-10, as in a balanced one-way layout), plotting against
    leverage would give one vertical strip; as R's ``plot.lm`` does, the residuals are then plotted against the level
    combinations of the model's factors ("Residuals vs factor levels"; ``data_["x"]`` the combination's position,
    ``artists_["levels"]`` its names), or against the observation number when the model has no factor, with no
    smoother and no contours.
    """
    v = view(result)
    h, r = v.leverage, v.std_pearson
    ok = v.used & np.isfinite(h) & np.isfinite(r) & (h < 1)
    ax, fig = get_ax(ax)
    if ok.any() and degenerate(h[ok]):
        return _residuals_factor_levels(v, ax, fig, ok, n_labels)
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
    ax.legend(loc="best", fontsize=7, frameon=False)  # "best" avoids the points: scatter offsets count
    labelled = label_points(ax, h, r, v.index, top_k(np.where(ok, v.cooks, np.nan), n_labels))
    omitted = v.index[v.used & ~ok]
    note_omitted(ax, omitted, "leverage 1 or undefined")
    return Display(ax, fig, frame(v.index, ok, x=h, y=r, cooks_distance=v.cooks), labelled, arts, omitted)


def _factor_codes(v: Any) -> tuple[np.ndarray, list[str], list[str]] | None:
    """Each row's combination of the levels of the model's factors: ``(position, names of the combinations in
    order, factor names)``, read from the design matrix columns of each one-factor term (formulaic's model spec), or
    None when the model has no such term."""
    fit = getattr(v.infl, "fit", None)
    design = getattr(fit, "design", None)
    spec = getattr(design, "model_spec", None)
    contrasts = getattr(spec, "factor_contrasts", None) or {}
    term_indices = getattr(spec, "term_indices", None) or {}
    if design is None or not contrasts or tuple(getattr(spec, "column_names", ())) != tuple(design.param_names):
        return None
    X = np.asarray(design.X, dtype=float)
    names: list[str] = []
    codes: list[np.ndarray] = []
    levels: list[list[str]] = []
    for term, cols in term_indices.items():
        factors = list(getattr(term, "factors", ()))
        if len(factors) != 1 or factors[0] not in contrasts or not cols:
            continue
        state = contrasts[factors[0]]
        block = X[:, list(cols)]
        try:
            coding = state.contrasts.get_coding_matrix(state.levels, reduced_rank=len(cols) < len(state.levels))
            table = np.asarray(coding, dtype=float)
            lev = [str(x) for x in state.levels]
        except Exception:  # another contrast implementation: the distinct rows of the block, in order of appearance
            table, first = np.unique(block, axis=0, return_index=True)
            table = table[np.argsort(first)]
            lev = [f"level {k + 1}" for k in range(len(table))]
        if table.shape[1] != block.shape[1]:
            continue
        dist = np.abs(block[:, None, :] - table[None, :, :]).max(axis=2)
        code = np.argmin(dist, axis=1)
        if not np.all(dist[np.arange(len(code)), code] < 1e-8):
            continue
        names.append(str(factors[0]))
        codes.append(code)
        levels.append(lev)
    if not codes:
        return None
    combo = np.stack(codes, axis=1)
    present, position = np.unique(combo, axis=0, return_inverse=True)  # lexicographic: first factor slowest
    labels = [":".join(levels[j][k] for j, k in enumerate(row)) for row in present]
    return position.ravel().astype(float), labels, names


def _residuals_factor_levels(v: Any, ax: Any, fig: Any, ok: np.ndarray, n_labels: int) -> Display:
    """Standardized residuals against factor level combinations (R's ``plot.lm`` 5 for constant leverage)."""
    r = v.std_pearson
    found = _factor_codes(v)
    if found is not None:
        x, combos, factors = found
        xlabel = f"Levels of {factors[0]}" if len(factors) == 1 else "Level combinations of " + " : ".join(factors)
        title = "Constant leverage: residuals vs factor levels"
    else:
        x, combos, factors = np.arange(1, len(r) + 1, dtype=float), [], []
        xlabel, title = "Observation number", "Constant leverage: residuals vs observation number"
    arts: dict[str, Any] = {"points": scatter(ax, x[ok], r[ok])}
    arts["reference"] = ax.axhline(0.0, color="0.5", ls=":", lw=1, zorder=1)
    arts["smoother"] = None
    arts["contours"] = {}
    arts["levels"] = combos
    if combos:
        k = len(combos)
        ax.set_xlim(-0.5, k - 0.5)
        if k <= 20:
            ax.set_xticks(np.arange(k), combos, fontsize=8 if k <= 8 else 7, rotation=0 if k <= 8 else 60,
                          ha="center" if k <= 8 else "right")
        for b in np.arange(k - 1) + 0.5:
            ax.axvline(b, color="0.85", lw=0.6, zorder=0)
    rmax = float(np.max(np.abs(r[ok]))) if ok.any() else 2.0
    ax.set_ylim(-rmax * 1.12, rmax * 1.12)
    finish(ax, title, xlabel, "Std. Pearson resid." if v.is_glm else v.std_resid_label)
    h0 = float(np.mean(v.leverage[ok]))
    ax.text(0.99, 0.98, f"every leverage = {h0:.4g}", transform=ax.transAxes, ha="right", va="top", fontsize=7,
            color="0.4")
    labelled = label_points(ax, x, r, v.index, top_k(np.where(ok, v.cooks, np.nan), n_labels))
    omitted = v.index[v.used & ~ok]
    note_omitted(ax, omitted, "leverage 1 or undefined")
    data = frame(v.index, ok, x=x, y=r, cooks_distance=v.cooks, leverage=v.leverage)
    return Display(ax, fig, data, labelled, arts, omitted)


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

    Parameters
    ----------
    result : Influence or fit
    ax : matplotlib Axes, optional
    n_labels : int
        Label the points with the largest Cook's distance.

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
    if ok.any() and degenerate(h[ok]):
        note = f"every leverage = {float(np.mean(h[ok])):.4g}: Cook's distance\nreflects the residual only"
        ax.text(0.01, 0.99, note,
                transform=ax.transAxes, ha="left", va="top", fontsize=7, color="0.45")
    labelled = label_points(ax, g, d, v.index, top_k(np.where(ok, d, np.nan), n_labels))
    omitted = v.index[v.used & ~ok]
    note_omitted(ax, omitted, "leverage 1 or undefined")
    return Display(ax, fig, frame(v.index, ok, x=g, y=d), labelled, arts, omitted)


def influence_bubble(result: Any, *, ax: Any = None, n_labels: int = 2, max_size: float = 600.0) -> Display:
    """Studentized residuals against leverage, circle area proportional to Cook's distance (car's ``influencePlot``).

    Reference lines at leverage ``2p/n`` and ``3p/n`` (the x-axis always reaches ``3p/n``) and at studentized
    residuals ``-2, 0, 2``. The labelled points are car's "noteworthy" ones: the ``n_labels`` largest by leverage,
    by ``|t|`` and by Cook's distance (by ``|t|`` and Cook's distance only when every leverage is the same).

    Parameters
    ----------
    result : Influence or fit
    ax : matplotlib Axes, optional
    n_labels : int
        How many points to label by each criterion.
    max_size : float
        Marker area (points squared) of the largest Cook's distance with up to 200 points; with more points the
        circles shrink (down to a sixth of it) so that they stay apart.

    Returns
    -------
    Display
        ``data_``: ``x`` (leverage), ``y`` (studentized residual), ``cooks_distance``, ``size`` (marker area).
    """
    v = view(result)
    h, t, d = v.leverage, v.student_resid, v.cooks
    ok = v.used & np.isfinite(h) & np.isfinite(t) & np.isfinite(d)
    m = int(ok.sum())
    biggest = max_size * float(np.clip(np.sqrt(200.0 / max(m, 1)), 1.0 / 6.0, 1.0))
    dmax = float(np.max(d[ok])) if ok.any() else 1.0
    size = np.where(ok, biggest * d / dmax if dmax > 0 else 20.0, np.nan)
    size = np.maximum(size, 4.0)
    alpha = 0.35 if m <= 500 else 0.25
    ax, fig = get_ax(ax)
    arts: dict[str, Any] = {}
    if m > DENSITY_ABOVE:  # the bulk as density; circles for the rows with the largest Cook's distances
        arts["density"] = density_scatter(ax, h[ok], t[ok], zorder=1.5)
        big = top_k(np.where(ok, d, np.nan), MAX_BUBBLES)
        arts["points"] = ax.scatter(h[big], t[big], s=size[big], facecolor="C0", alpha=alpha, edgecolor="C0", lw=0.8,
                                    zorder=2)
    else:
        arts["points"] = ax.scatter(h[ok], t[ok], s=size[ok], facecolor="C0", alpha=alpha, edgecolor="C0", lw=0.8,
                                    zorder=2, rasterized=m > MANY_POINTS)
    finish(ax, "Influence plot", "Leverage (hat values)", "Studentized residuals")
    cuts = {"2p/n": 2.0 * v.p / v.n, "3p/n": 3.0 * v.p / v.n}
    hmax = float(np.max(h[ok])) if ok.any() else cuts["3p/n"]
    # the x-axis reaches past 3p/n (with room for its label), so both reference lines are always seen
    ax.set_xlim(0, max(hmax * 1.05, cuts["3p/n"] / 0.9))
    tmax = max(2.5, float(np.max(np.abs(t[ok]))) * 1.15) if ok.any() else 2.5
    ax.set_ylim(-tmax, tmax)
    x1 = ax.get_xlim()[1]
    arts["reference"] = {}
    for txt, val in cuts.items():
        arts["reference"][txt] = ax.axvline(val, color="0.45", ls="--" if txt == "2p/n" else ":", lw=0.9, zorder=1)
        # 2p/n written left of its line and 3p/n right of it (so that the two never overlap), unless that side is
        # too narrow
        left = (txt == "2p/n" and val > 0.06 * x1) or val > 0.92 * x1
        ax.annotate(txt, (val, 1.0), xycoords=("data", "axes fraction"), xytext=(-2 if left else 2, -2),
                    textcoords="offset points", ha="right" if left else "left", va="top", fontsize=7, color="0.4")
    for val in (-2.0, 0.0, 2.0):
        arts["reference"][f"t={val:g}"] = ax.axhline(val, color="0.45", ls=":" if val == 0 else "--", lw=0.9, zorder=1)
    # legend for the bubble sizes, where it covers the fewest points
    refs = [x for x in _pretty(dmax, 3) if x <= dmax][-2:] or [dmax]
    for dv in refs:
        ax.scatter([], [], s=biggest * dv / dmax, facecolor="C0", alpha=0.35, edgecolor="C0", label=f"D = {dv:.2g}")
    ax.legend(loc="best", fontsize=7, frameon=False, labelspacing=1.5, borderpad=0.8, title="Cook's distance",
              title_fontsize=7)
    pick: list[int] = []
    constant = ok.any() and degenerate(h[ok])
    if constant:  # no leverage stands out: label by |t| and Cook's distance only
        ax.text(0.01, 0.01, f"every leverage = {float(np.mean(h[ok])):.4g}", transform=ax.transAxes, ha="left",
                va="bottom", fontsize=7, color="0.4")
    for score in ((np.abs(t), d) if constant else (h, np.abs(t), d)):
        for i in top_k(np.where(ok, score, np.nan), n_labels):
            if i not in pick:
                pick.append(int(i))
    pick_arr = np.array(pick, dtype=np.intp)
    radius = np.sqrt(size[pick_arr] / np.pi) if pick_arr.size else np.array([])
    if pick_arr.size:  # the labelled circles outlined, so that a label is not read as a neighbour's
        arts["labelled"] = ax.scatter(h[pick_arr], t[pick_arr], s=size[pick_arr], facecolor="none", edgecolor="C3",
                                      lw=0.9, zorder=4)
    labelled = label_points(ax, h, t, v.index, pick_arr, gap=np.maximum(4.0, radius + 2.0), ring=False)
    omitted = v.index[v.used & ~ok]
    note_omitted(ax, omitted)
    data = frame(v.index, ok, x=h, y=t, cooks_distance=d, size=size)
    return Display(ax, fig, data, labelled, arts, omitted)
