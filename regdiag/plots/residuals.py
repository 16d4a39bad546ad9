"""Residual plots: residuals vs fitted, normal Q-Q with a simulated envelope, half-normal, scale-location."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .. import _distributions as dist
from ..linear.envelope import Envelope, order_positions
from ..linear.envelope import envelope as _envelope
from ._base import (
    Display,
    finish,
    frame,
    get_ax,
    label_points,
    note_omitted,
    require_fitted,
    scatter,
    smoother,
    top_k,
    view,
)

__all__ = ["residuals_fitted", "qq", "half_normal", "scale_location"]


def residuals_fitted(result: Any, *, ax: Any = None, n_labels: int = 3, smooth: bool = True) -> Display:
    """Residuals against fitted values with a lowess smoother (R's ``plot.lm`` panel 1).

    Parameters
    ----------
    result : Influence or fit
        Linear models show weighted residuals ``sqrt(w) (y - fitted)`` against fitted values; GLMs show deviance
        residuals against the linear predictor.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    n_labels : int
        Label this many points with the largest absolute residuals with their row labels.
    smooth : bool
        Draw the lowess curve.

    Returns
    -------
    Display
        ``data_`` has columns ``x`` (fitted) and ``y`` (residual); ``artists_``: "points", "smoother", "reference".
    """
    v = view(result)
    x = require_fitted(v, "residuals_fitted")
    y = v.resid
    ok = v.used & np.isfinite(x) & np.isfinite(y)
    ax, fig = get_ax(ax)
    arts: dict[str, Any] = {"points": scatter(ax, x[ok], y[ok])}
    arts["reference"] = ax.axhline(0.0, color="0.5", ls=":", lw=1, zorder=1)
    if smooth:
        arts["smoother"] = smoother(ax, x[ok], y[ok])
    finish(ax, "Residuals vs fitted", v.fitted_label, v.resid_label)
    score = np.where(ok, np.abs(y), np.nan)
    labelled = label_points(ax, x, y, v.index, top_k(score, n_labels))
    omitted = v.index[v.used & ~ok]
    note_omitted(ax, omitted)
    return Display(ax, fig, frame(v.index, ok, x=x, y=y), labelled, arts, omitted)


def _plotting_positions(m: int) -> np.ndarray:
    """R's ``ppoints(m)``: ``(i - a) / (m + 1 - 2a)``, a = 3/8 for m <= 10 and 1/2 otherwise."""
    a = 3.0 / 8.0 if m <= 10 else 0.5
    return (np.arange(1, m + 1) - a) / (m + 1 - 2 * a)


def _reference(v: Any) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """The quantile function of the studentized residuals under the model, t(n - p - 1) for linear models, else
    N(0, 1), and its axis label."""
    if v.is_glm:
        return dist.norm_ppf, "Normal quantiles"
    df = float(v.infl.df_resid) - 1.0
    return (lambda q: dist.t_ppf(q, df)), f"t quantiles (df = {df:g})"


def qq(
    result: Any,
    *,
    ax: Any = None,
    n_labels: int = 3,
    envelope: bool | Envelope = True,
    nsim: int = 199,
    level: float = 0.95,
    rng: np.random.Generator | int | None = 0,
) -> Display:
    """Q-Q plot of the externally studentized residuals with a simulated pointwise envelope (as car's ``qqPlot``).

    Parameters
    ----------
    result : Influence or fit
    ax : matplotlib Axes, optional
    n_labels : int
        Label the points with the largest ``|t|``.
    envelope : bool or Envelope
        Draw the band within which the sorted residuals of data simulated from the fitted model fall with pointwise
        probability ``level``. Linear models: errors ``sigma z / sqrt(w)`` with the fit's own weights (exact, by
        projection; see :mod:`regdiag.linear.envelope`). An :class:`~regdiag.linear.envelope.Envelope` computed
        beforehand (by the report) is drawn as it is.
    nsim : int
        Number of simulated data sets.
    level : float
        Pointwise coverage of the envelope.
    rng : Generator, int or None
        Random numbers for the envelope (fixed by default, so the plot is reproducible).

    Returns
    -------
    Display
        ``data_``: columns ``x`` (theoretical quantile), ``y`` (studentized residual), in increasing order;
        ``artists_``: "points", "reference" (y = x), "envelope" (a band) and ``envelope_`` data in
        ``artists_["envelope_data"]``.

    Notes
    -----
    Under the linear model an externally studentized residual follows Student's t with ``n - p - 1`` degrees of
    freedom, so the theoretical quantiles are those of that t at R's ``ppoints``; for GLMs they are standard normal.
    Above 5000 residuals only the 500 most extreme at each end and 2000 evenly spaced ones are drawn.
    """
    v = view(result)
    ppf, xlabel = _reference(v)
    disp = _sorted_plot(
        v, v.student_resid, lambda m, keep: ppf(_plotting_positions(m)[keep]), ax=ax, n_labels=n_labels,
        envelope=envelope, nsim=nsim, level=level, rng=rng, absolute=False,
    )
    a = disp.ax_
    lim = [float(disp.data_["x"].min()), float(disp.data_["x"].max())] if len(disp.data_) else [-1.0, 1.0]
    (disp.artists_["reference"],) = a.plot(lim, lim, color="C3", lw=1, ls="--", zorder=3, label="y = x")
    finish(a, "Q-Q plot of studentized residuals", xlabel, "Studentized residuals")
    a.legend(loc="upper left", fontsize=7, frameon=False)
    return disp


def _sorted_plot(
    v: Any, values: np.ndarray, quantiles: Callable[[int, np.ndarray], np.ndarray], *, ax: Any, n_labels: int,
    envelope: bool | Envelope, nsim: int, level: float, rng: np.random.Generator | int | None, absolute: bool,
) -> Display:
    """Sorted ``values`` (or their absolute values) against ``quantiles(m, keep)`` (the theoretical quantiles of
    the order statistics ``keep`` of ``m``), with the simulated envelope."""
    t = np.abs(values) if absolute else values
    ok = v.used & np.isfinite(t)
    pos = np.flatnonzero(ok)
    order = pos[np.argsort(t[pos], kind="stable")]
    m = order.size
    keep = order_positions(m)
    theo = quantiles(m, keep)
    sample = t[order][keep]
    ax, fig = get_ax(ax)
    arts: dict[str, Any] = {}
    if isinstance(envelope, Envelope) or (envelope and m > 0):
        if isinstance(envelope, Envelope):
            env = envelope
            if not np.array_equal(env.positions, keep):
                raise ValueError(f"the envelope is of {env.positions.size} order statistics; this plot has {keep.size}")
        else:
            env = _envelope(v.infl, m, nsim=nsim, level=level, rng=rng, absolute=absolute)
        arts["envelope"] = ax.fill_between(
            theo, env.lower, env.upper, color="C0", alpha=0.18, lw=0, zorder=1,
            label=(f"{level:.0%} simulated envelope ({env.nsim} data sets)" if env.nsim else
                   f"{level:.0%} envelope (order statistics)"),
        )
        arts["envelope_data"] = env
    arts["points"] = scatter(ax, theo, sample)
    x_full = np.full(len(v.index), np.nan)
    y_full = np.full(len(v.index), np.nan)
    x_full[order[keep]] = theo
    y_full[order[keep]] = sample
    score = np.where(np.isfinite(x_full), np.abs(t), np.nan)
    labelled = label_points(ax, x_full, y_full, v.index, top_k(score, n_labels))
    omitted = v.index[v.used & ~ok]
    note_omitted(ax, omitted)
    data = pd.DataFrame({"x": theo, "y": sample}, index=v.index[order[keep]])
    return Display(ax, fig, data, labelled, arts, omitted)


def half_normal(
    result: Any,
    *,
    ax: Any = None,
    n_labels: int = 3,
    envelope: bool | Envelope = True,
    nsim: int = 199,
    level: float = 0.95,
    rng: np.random.Generator | int | None = 0,
) -> Display:
    """Half-normal plot of ``|studentized residuals|`` with a simulated envelope (Atkinson 1985), for GLMs and LMs.

    Parameters
    ----------
    result : Influence or fit
    ax : matplotlib Axes, optional
    n_labels : int
        Label the points with the largest ``|t|``.
    envelope : bool or Envelope
        As in :func:`qq`; the envelope holds sorted ``|t|`` of data simulated from the fitted model with its weights.
    nsim : int
        Number of simulated data sets.
    level : float
        Pointwise coverage of the envelope.
    rng : Generator, int or None
        Random numbers for the envelope (fixed by default, so the plot is reproducible).

    Returns
    -------
    Display
        ``data_``: ``x`` (half-normal quantile), ``y`` (``|t|``), increasing.

    Notes
    -----
    The i-th of m sorted absolute residuals is plotted against ``Phi^{-1}((i + m - 1/8) / (2m + 1/2))``.
    """
    v = view(result)

    def quantiles(m: int, keep: np.ndarray) -> np.ndarray:
        return dist.norm_ppf((np.asarray(keep) + 1 + m - 0.125) / (2 * m + 0.5))

    disp = _sorted_plot(
        v, v.student_resid, quantiles, ax=ax, n_labels=n_labels, envelope=envelope, nsim=nsim, level=level, rng=rng,
        absolute=True,
    )
    a = disp.ax_
    env = disp.artists_.get("envelope_data")
    if env is not None:
        (disp.artists_["median"],) = a.plot(
            disp.data_["x"], env.median, color="C0", lw=1, ls="--", zorder=3, label="simulated median"
        )
        a.legend(loc="upper left", fontsize=7, frameon=False)
    finish(a, "Half-normal plot", "Half-normal quantiles", "|Studentized residuals|")
    a.set_xlim(left=0)
    a.set_ylim(bottom=0)
    return disp


def scale_location(result: Any, *, ax: Any = None, n_labels: int = 3, smooth: bool = True) -> Display:
    """``sqrt(|standardized residual|)`` against fitted values with a lowess smoother (R's ``plot.lm`` panel 3).

    Parameters
    ----------
    result : Influence or fit
    ax : matplotlib Axes, optional
    n_labels : int
        Label the points with the largest ``sqrt(|r|)``.
    smooth : bool
        Draw the lowess smoother.

    Returns
    -------
    Display
        ``data_``: ``x`` (fitted or linear predictor), ``y`` (``sqrt(|r|)``).
    """
    v = view(result)
    x = require_fitted(v, "scale_location")
    y = np.sqrt(np.abs(v.std_resid))
    ok = v.used & np.isfinite(x) & np.isfinite(y)
    ax, fig = get_ax(ax)
    arts: dict[str, Any] = {"points": scatter(ax, x[ok], y[ok])}
    if smooth:
        arts["smoother"] = smoother(ax, x[ok], y[ok])
    finish(ax, "Scale-location", v.fitted_label, "\u221a|" + v.std_resid_label + "|")  # as R labels it: √|...|
    ax.set_ylim(bottom=0)
    labelled = label_points(ax, x, y, v.index, top_k(np.where(ok, y, np.nan), n_labels))
    omitted = v.index[v.used & ~ok]
    note_omitted(ax, omitted)
    return Display(ax, fig, frame(v.index, ok, x=x, y=y), labelled, arts, omitted)
