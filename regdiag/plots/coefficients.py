"""Per-coefficient plots: the DFBETAS panel and added-variable (partial regression) plots."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..results import GLMInfluence, MLEInfluence
from ._base import (
    DENSITY_ABOVE,
    Display,
    PanelDisplay,
    as_influence,
    finish,
    frame,
    index_bars,
    label_points,
    note_omitted,
    panel_axes,
    scatter,
    stems,
    top_k,
)

__all__ = ["dfbetas_panel", "added_variable", "added_variable_residuals"]

#: index plots draw a stem per observation up to this many observations, points alone above
MAX_STEMS = 2000

_INTERCEPTS = ("Intercept", "(Intercept)", "const")


def _select(infl: Any, terms: Any, drop_intercept: bool) -> list[int]:
    names = list(infl.param_names)
    aliased = set(getattr(infl, "aliased", ()))
    if terms is None:
        keep = [j for j, nm in enumerate(names) if nm not in aliased and not (drop_intercept and nm in _INTERCEPTS)]
    else:
        terms = [terms] if isinstance(terms, str) else list(terms)
        missing = [t for t in terms if t not in names]
        if missing:
            raise ValueError(f"no coefficient named {missing[0]!r}; the coefficients are {', '.join(names)}")
        bad = [t for t in terms if t in aliased]
        if bad:
            raise ValueError(f"coefficient {bad[0]!r} is aliased (not estimable), so it has no influence to plot")
        keep = [names.index(t) for t in terms]
    if not keep:
        raise ValueError("no coefficient to plot")
    return keep


def dfbetas_panel(
    result: Any, *, ax: Any = None, n_labels: int = 2, terms: Any = None, ncols: int = 3
) -> PanelDisplay:
    """One small index plot of DFBETAS per coefficient, with lines at ``+/- 2/sqrt(n)`` and ``+/- 1``.

    A panel whose largest ``|DFBETAS|`` is at least 1/3 extends its y-axis to show the ``+/- 1`` lines; the others
    say "±1 off scale" above the panel.

    Parameters
    ----------
    result : Influence or fit
    ax : None, one Axes (its area is divided) or an array of Axes (one per coefficient)
    n_labels : int
        In each panel, label the observations with the largest ``|DFBETAS|``.
    terms : str or list of str, optional
        Coefficients to show (default: every estimable one).
    ncols : int
        Panels per row.

    Returns
    -------
    PanelDisplay
        ``panels_[name].data_``: ``x`` (observation number), ``y`` (DFBETAS); each panel's ``artists_["reference"]``
        holds the four lines keyed ``"+2/sqrt(n)"``, ``"-2/sqrt(n)"``, ``"+1"``, ``"-1"``.

    Notes
    -----
    ``DFBETAS_ij = (b_j - b_(i)j) / (s_(i) sqrt([(X'WX)^{-1}]_jj))``: the change in coefficient j when row i is
    deleted, in standard errors. Belsley, Kuh & Welsch flag ``|DFBETAS| > 2/sqrt(n)``; R flags ``|DFBETAS| > 1``.
    """
    infl = as_influence(result)
    cols = _select(infl, terms, drop_intercept=False)
    dfbs = np.asarray(infl.dfbetas)
    n = int(infl.n_obs)
    cut = 2.0 / np.sqrt(n)
    x = np.arange(1, dfbs.shape[0] + 1, dtype=float)
    w = infl.weights
    used = np.ones(dfbs.shape[0], dtype=bool) if w is None else np.asarray(w) > 0
    axes, fig = panel_axes(ax, len(cols), ncols)
    panels: dict[str, Display] = {}
    for k, j in enumerate(cols):
        a = axes.ravel()[k]
        y = dfbs[:, j]
        ok = used & np.isfinite(y)
        arts: dict[str, Any] = {}
        if ok.sum() <= MAX_STEMS:  # above that, stems merge into a band: points alone read better (and draw fast)
            arts["stems"] = stems(a, x[ok], 0.0, y[ok], color="0.35", lw=0.7, zorder=2)
        if ok.sum() > DENSITY_ABOVE:  # the band of values per screen column, and the extreme rows as points
            arts["stems"] = index_bars(a, x[ok], y[ok], base=None, color="0.45", lw=0.4, zorder=2)
            ext = top_k(np.where(ok, np.abs(y), np.nan), 200)
            arts["points"] = scatter(a, x[ext], y[ext], s=5)
        else:
            arts["points"] = scatter(a, x[ok], y[ok], s=6 if ok.sum() <= MAX_STEMS else None)
        big = float(np.max(np.abs(y[ok]))) if ok.any() else 0.0
        ymax = max(big * 1.12, cut * 1.3)
        if big >= 1.0 / 3.0:  # within a factor 3 of R's cut-off: show the +/-1 lines themselves
            ymax = max(ymax, 1.08)
        a.set_ylim(-ymax, ymax)
        a.set_xlim(0, len(x) + 1)
        refs = {}
        lines = ((cut, "+2/sqrt(n)", "--"), (-cut, "-2/sqrt(n)", "--"), (1.0, "+1", ":"), (-1.0, "-1", ":"))
        for val, key, ls in lines:
            refs[key] = a.axhline(val, color="C3", ls=ls, lw=0.8, zorder=3)  # above the points: always visible
        arts["reference"] = refs
        a.axhline(0.0, color="0.6", lw=0.6, zorder=1)
        name = infl.param_names[j]
        finish(a, name, "Observation number" if k >= len(cols) - axes.shape[1] else "",
               "DFBETAS" if k % axes.shape[1] == 0 else "")
        if ymax < 1.0:  # say where R's cut-off is (above the panel, where it hides no point)
            a.set_title("±1 off scale", loc="right", fontsize=6.5, color="C3")
        a.tick_params(labelsize=7)
        labelled = label_points(a, x, y, infl.index, top_k(np.where(ok, np.abs(y), np.nan), n_labels), fontsize=7)
        omitted = infl.index[used & ~ok]
        note_omitted(a, omitted)
        panels[name] = Display(a, fig, frame(infl.index, ok, x=x, y=y), labelled, arts, omitted)
    fig.suptitle(f"DFBETAS (dashed: ±2/√n = ±{cut:.2g}, Belsley, Kuh & Welsch; dotted: ±1, R)", fontsize=10)
    return PanelDisplay(axes, fig, panels)


def added_variable_residuals(result: Any, term: str, *, row_solve: np.ndarray | None = None) -> pd.DataFrame:
    """The two residual vectors of the added-variable plot of ``term``, from the fit's factorization.

    Parameters
    ----------
    result : Influence or fit
        Of a least-squares fit or a GLM (one with a factorization).
    term : str
        The coefficient's name.
    row_solve : ndarray of shape (n_obs, rank), optional
        The factorization's ``row_solve()`` when it was computed already (for several terms).

    Returns
    -------
    DataFrame
        Indexed by row label (rows with positive weight), columns ``x`` (``term`` regressed on the other columns)
        and ``y`` (the response regressed on the other columns), both in the weighted metric of the fit (multiplied
        by ``sqrt(w)``; GLMs: IRLS working weights, so ``y`` starts from the Pearson residuals).

    Notes
    -----
    With ``A = W^{1/2} X = Q R``, column k of ``A (A'A)^{-1} = Q R^{-T}`` divided by ``[(A'A)^{-1}]_kk`` is the
    residual of column k regressed on the others; and the response's residual on the others is
    ``e + b_k (that residual)`` since the full-model residual ``e`` is orthogonal to every column. One triangular
    solve for all terms: O(n p^2), no refit (``row_solve``: the factorization's ``row_solve()``, computed once for
    several terms).
    """
    infl = as_influence(result)
    fit: Any = getattr(infl, "fit", None)  # a fit with a factorization (checked next), else None
    factor = getattr(fit, "factor", None)
    if factor is None:
        raise ValueError("added-variable plots need the fit's factorization; pass the fit or fit.influence()")
    j = _select(infl, [term], drop_intercept=False)[0]
    k = int(np.flatnonzero(np.asarray(factor.cols) == j)[0])
    C = factor.row_solve() if row_solve is None else row_solve
    cud = float(np.asarray(infl.cov_unscaled_diag)[j])
    ex = C[:, k] * factor.scale[j] / cud
    pearson = getattr(infl, "resid_pearson", None)
    e = np.asarray(pearson if pearson is not None else fit.wresid, dtype=float)
    b = float(np.asarray(infl.params)[j])
    ey = e + b * ex
    w = infl.weights
    used = np.ones(len(ex), dtype=bool) if w is None else np.asarray(w) > 0
    return pd.DataFrame({"x": ex[used], "y": ey[used]}, index=infl.index[used])


def added_variable(
    result: Any, *, ax: Any = None, n_labels: int = 2, terms: Any = None, ncols: int = 3
) -> PanelDisplay:
    """Added-variable (partial regression) plots: one panel per coefficient (the intercept left out).

    Each panel plots the response's residual against the term's residual, both regressed on all other columns
    (weighted by the fit's weights); the least-squares line through them has slope equal to the term's
    coefficient, and a point's pull on that line is its pull on the coefficient.

    Parameters
    ----------
    result : Influence or fit
    ax : None, one Axes (its area is divided) or an array of Axes
    n_labels : int
        In each panel label the rows with the largest ``|DFBETAS|`` for that coefficient.
    terms : str or list of str, optional
    ncols : int

    Returns
    -------
    PanelDisplay
        ``panels_[name].data_``: ``x``, ``y`` as in :func:`added_variable_residuals`; ``artists_["line"]`` the
        line of slope ``b_j``.
    """
    infl = as_influence(result)
    cols = _select(infl, terms, drop_intercept=terms is None)
    dfbs = np.asarray(infl.dfbetas)
    axes, fig = panel_axes(ax, len(cols), ncols, panel_size=(3.4, 2.9))
    yname = getattr(getattr(getattr(infl, "fit", None), "design", None), "response_name", "y")
    weighted = infl.weights is not None or isinstance(infl, (GLMInfluence, MLEInfluence))
    panels: dict[str, Display] = {}
    factor = getattr(getattr(infl, "fit", None), "factor", None)
    solved = factor.row_solve() if factor is not None else None  # once for every panel
    for k, j in enumerate(cols):
        a = axes.ravel()[k]
        name = infl.param_names[j]
        df = added_variable_residuals(infl, name, row_solve=solved)
        pos = infl.index.get_indexer(df.index)
        arts: dict[str, Any] = {"points": scatter(a, df["x"].to_numpy(), df["y"].to_numpy())}
        b = float(np.asarray(infl.params)[j])
        xs = np.array([df["x"].min(), df["x"].max()])
        (arts["line"],) = a.plot(xs, b * xs, color="C3", lw=1.1, zorder=3)
        suffix = " (weighted)" if weighted else ""
        finish(a, f"{name}   (slope {b:.3g})", f"{name} | others{suffix}", f"{yname} | others{suffix}")
        a.tick_params(labelsize=7)
        a.xaxis.label.set_size(8)
        a.yaxis.label.set_size(8)
        score = np.abs(dfbs[pos, j])
        xs_all = np.full(len(infl.index), np.nan)
        ys_all = np.full(len(infl.index), np.nan)
        xs_all[pos], ys_all[pos] = df["x"].to_numpy(), df["y"].to_numpy()
        sc_all = np.full(len(infl.index), np.nan)
        sc_all[pos] = score
        labelled = label_points(a, xs_all, ys_all, infl.index, top_k(sc_all, n_labels), fontsize=7)
        panels[name] = Display(a, fig, df, labelled, arts, pd.Index([]))
    fig.suptitle("Added-variable plots", fontsize=10)
    return PanelDisplay(axes, fig, panels)
