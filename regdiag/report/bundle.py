"""The report's one diagnostics bundle: every number the report shows, computed once by the numerical layers.

:func:`diagnose` computes the influence measures, the flags, the outlier test, the engine cross-check (whose runs
also feed the engine plots), the simulated envelopes, the exact leave-one-out the engine plots compare with, the
comparison with statsmodels, and the numbers of the teaching plots (VIF, partial residuals, index series, Hadi's
functions). The page writer and the plots only draw what the bundle holds: nothing is fitted or run while drawing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..protocols import ModelKind, is_glm, model_kind
from ..results import GLMInfluence, Influence, RLMInfluence

__all__ = ["Diagnostics", "diagnose", "Steps", "text_progress", "PROGRESS_AFTER_S"]

#: above this many observations the cross-check runs the direct solver only (the iterative ones cost many passes)
CROSS_CHECK_ALL_SOLVERS = 20000
#: above this many observations the report leaves out the engine (cross-check and engine plots): twelve engine
#: runs over every row would cost more than the rest of the report, and the agreement they show does not depend on
#: n; ``regdiag.cross_check(fit)`` runs it
ENGINE_MAX_N = 200_000
#: GLM exact leave-one-out (for the engine plots) costs O(n^2 p): above this many rows the engine plots compare
#: with the closed-form one-step changes instead
MAX_EXACT_GLM = 3000
#: a simulated envelope does at most about this many numbers' worth of work (n times simulations): fewer
#: simulations on big data (at least MIN_ENVELOPE_SIMS), as the band's precision depends on their number, not on n
ENVELOPE_WORK = 1e7
MIN_ENVELOPE_SIMS = 39
#: a note says how to read the flags when the rule flags more than this share of the rows
LARGE_SHARE = 0.01
#: terminal progress lines start once the report has taken this long (quick reports print none)
PROGRESS_AFTER_S = 1.0


def text_progress(step: str, done: int, total: int) -> None:
    """Progress on standard error: ``[3/11] plots: Q-Q envelope``.

    Parameters
    ----------
    step : str
        What the report is doing now.
    done : int
        Number of this step, counted from 1.
    total : int
        Number of steps of the report.
    """
    sys.stderr.write(f"[{done}/{total}] {step}\n")
    sys.stderr.flush()


class Steps:
    """Counts the report's steps and passes each to ``progress``.

    ``progress=True`` writes to the terminal (:func:`text_progress`), but only the steps that start once the report
    has run for :data:`PROGRESS_AFTER_S` seconds: a report that takes less prints nothing. A callable gets every
    step; None or False: nothing.
    """

    def __init__(self, progress: Callable[[str, int, int], None] | bool | None, total: int = 0) -> None:
        self.delayed = progress is True
        self.fn = text_progress if progress is True else (progress or None)
        self.total = total
        self.done = 0
        self.t0 = time.perf_counter()

    def __call__(self, step: str) -> None:
        self.done += 1
        if self.fn is None:
            return
        if self.delayed and time.perf_counter() - self.t0 < PROGRESS_AFTER_S:
            return
        self.fn(step, self.done, max(self.total, self.done))


@dataclass(frozen=True, eq=False)
class Diagnostics:
    """Everything the report shows about one fit.

    Attributes
    ----------
    fit : OLSFit or GLMFit
    influence : Influence or GLMInfluence
    rule : str
        The flagging rule.
    flagged : pandas.DataFrame
        Every flagged row (data order), with its main measures and the criteria that flagged it.
    ranked : pandas.DataFrame
        The same rows ranked by Cook's distance (largest first).
    share_note : str
        When the rule flags more than :data:`LARGE_SHARE` of the rows: what that means and what to use instead;
        else "".
    outlier_test : pandas.DataFrame
        car's ``outlierTest`` (rows below the Bonferroni cut-off, or the largest).
    n_bonferroni : int
        Rows whose Bonferroni-adjusted p-value is below 0.05.
    n_cooks_f : int
        Rows whose Cook's distance exceeds the median of F(p, n - p).
    cross_check : pandas.DataFrame or None
    cross_check_error : str
    engine_runs : dict
        Engine results by ``(curvature, solver, correction)``, shared by the cross-check and the engine plots.
    exact : Influence or None
        What the engine plots compare with (the exact leave-one-out of a GLM, or the closed form).
    engine_values : dict
        What the engine plots draw, by ``(curvature, solver, correction)``: each run's coefficient changes beside
        exact deletion's, in standard errors (:class:`~regdiag.engine.comparison.EngineComparison`).
    comparison : Comparison or None
    comparison_error : str
    envelope, half_normal_envelope : Envelope or None
        The simulated bands of the Q-Q and half-normal plots.
    vif : pandas.DataFrame or None
    vif_error : str
        Why there is no VIF table (else "").
    partial : pandas.DataFrame or None
        Component + residual (partial) residuals by term.
    index_values : pandas.DataFrame
    potential_residual : pandas.DataFrame
    deletion : DeletionEffect or None
        The fit without the row of largest Cook's distance.
    warnings : tuple of str
    timings : dict of str to float
        Seconds spent on each part.
    """

    fit: Any
    influence: Any
    rule: str
    flagged: pd.DataFrame
    ranked: pd.DataFrame
    share_note: str
    outlier_test: pd.DataFrame
    n_bonferroni: int
    n_cooks_f: int
    cross_check: pd.DataFrame | None = None
    cross_check_error: str = ""
    engine_runs: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    exact: Any = None
    engine_values: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    comparison: Any = None
    comparison_error: str = ""
    envelope: Any = None
    half_normal_envelope: Any = None
    vif: pd.DataFrame | None = None
    vif_error: str = ""
    partial: pd.DataFrame | None = None
    index_values: pd.DataFrame | None = None
    potential_residual: pd.DataFrame | None = None
    deletion: Any = None
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def is_glm(self) -> bool:
        """Whether the fit is a GLM (its influence a :class:`~regdiag.GLMInfluence`)."""
        return isinstance(self.influence, GLMInfluence)


def _share_note(infl: Any, rule: str, n_flagged: int, n_bonf: int, n_cook: int) -> str:
    n = int(infl.n_obs)
    if n == 0 or n_flagged <= LARGE_SHARE * n:
        return ""
    return (
        f"Rule {rule!r} flags {n_flagged} of {n} rows ({100.0 * n_flagged / n:.1f}%). Its cut-offs do not grow with "
        "the number of observations, so on large data sets a share of perfectly ordinary rows crosses them (the "
        "COVRATIO and DFBETAS cut-offs especially). Tests that account for n: the Bonferroni outlier test "
        f"({n_bonf} row{'s' if n_bonf != 1 else ''} with adjusted p < 0.05) and Cook's distance against the median "
        f"of F(p, n - p) ({n_cook} row{'s' if n_cook != 1 else ''} above it); the page lists the flagged rows by "
        "decreasing Cook's distance, all of them are in the flagged export."
        + (" For this robust fit with the MAD scale, deleting any row moves the median of the absolute residuals, so "
           "the scale of nearly every deleted fit differs from the full fit's by a few percent and COVRATIO, which "
           "takes it to the power 2p, crosses R's cut-off for ordinary rows: there the scale moves, not the fit."
           if isinstance(infl, RLMInfluence) and getattr(getattr(infl, "fit", None), "scale_kind", "") == "mad"
           else "")
    )


def _envelope_sims(n: int, nsim: int) -> int:
    return int(min(nsim, max(MIN_ENVELOPE_SIMS, ENVELOPE_WORK // max(n, 1))))


def _positions_m(infl: Any) -> int:
    w = infl.weights
    t = np.asarray(infl.student_resid, dtype=float)
    used = np.ones(t.size, dtype=bool) if w is None else np.asarray(w) > 0
    return int(np.count_nonzero(used & np.isfinite(t)))


#: the engine runs the engine plots draw: (curvature, solver, leverage correction)
ENGINE_PLOT_RUNS = (("exact", "direct", "none"), ("exact", "direct", "leverage"), ("kfac", "direct", "leverage"),
                    ("ekfac", "direct", "leverage"))


def _engine_values(fit: Any, infl: Any, runs: dict[tuple[str, str, str], Any],
                   caught: list[str]) -> tuple[Any, dict[tuple[str, str, str], Any]]:
    """The exact deletion the engine plots compare with, and each of their runs beside it (runs the cross-check
    did not already make are made here and added to ``runs``)."""
    from ..engine import influence as engine_influence
    from ..engine.comparison import compare_with_exact

    # a least-squares ``infl`` holds its DFBETA already (diagnose solved it once): not solved again per run
    exact = fit.influence(loo="exact") if is_glm(fit) and fit.nobs <= MAX_EXACT_GLM else infl
    values = {}
    for key in ENGINE_PLOT_RUNS:
        try:
            if key not in runs:
                runs[key] = engine_influence(fit, key[0], key[1], correction=key[2])
            values[key] = compare_with_exact(runs[key], exact)
        except Exception as exc:  # the plot says it could not be drawn
            caught.append(f"engine run {key}: {type(exc).__name__}: {exc}")
    return exact, values


def diagnose(
    fit: Any,
    *,
    rule: str = "R",
    nsim: int = 199,
    cross_check: bool = True,
    engine: bool = True,
    compare_statsmodels: bool = False,
    teaching: bool = True,
    steps: Steps | None = None,
    ready: Callable[[Diagnostics], None] | None = None,
) -> Diagnostics:
    """Compute every number of the report once.

    Parameters
    ----------
    fit : OLSFit or GLMFit
    rule : str
        Flagging rule (see :meth:`regdiag.Influence.flags`).
    nsim : int
        Simulated data sets for the envelopes (fewer on big data, see :data:`ENVELOPE_WORK`).
    cross_check : bool
        Run the engine against the closed form (:func:`regdiag.cross_check`).
    engine : bool
        The engine runs of the engine plots (taken from the cross-check where it ran them).
    compare_statsmodels : bool
    teaching : bool
        The numbers of the teaching plots (VIF, partial residuals, index series, Hadi, deletion).
    steps : Steps, optional
        Progress.
    ready : callable, optional
        Called with a bundle of every number but the engine's and the comparison's as soon as they are known (the
        report starts drawing the main figures while the engine runs).

    Returns
    -------
    Diagnostics
    """
    step = steps or Steps(None)
    timed = _Timings()
    caught: list[str] = []
    step("influence measures and flags")
    with timed("influence and flags"), warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        infl = fit.influence()
        if isinstance(infl, Influence) and infl.dfbeta_is_lazy:  # least squares: DFBETA solved once for every
            infl = dataclasses.replace(infl, dfbeta_data=infl.dfbeta)  # figure and export, not once per read
        flagged = infl.flagged(rule)
    caught += [f"{w.category.__name__}: {w.message}" for w in rec]
    with timed("influence and flags"):
        parts, ot_all = _flags(infl, rule, flagged)
    if nsim >= 2:
        step("simulated envelopes")
        with timed("envelopes"):
            parts.update(_envelopes(infl, nsim, caught))
    # least squares and GLMs (robust and discrete fits have their own plots)
    if teaching and model_kind(fit) in (ModelKind.OLS, ModelKind.GLM):
        step("numbers of the teaching plots")
        with timed("teaching plots' numbers"):
            parts.update(_teaching(fit, infl, ot_all, caught))
    runs: dict[tuple[str, str, str], Any] = {}
    if ready is not None:  # every number but the engine's and the comparison's
        ready(Diagnostics(fit=fit, influence=infl, rule=rule, flagged=flagged, engine_runs=runs,
                          warnings=tuple(dict.fromkeys(caught)), timings=dict(timed.seconds), **parts))

    too_big = (f"not run in the report: n = {infl.n_obs} > {ENGINE_MAX_N} (every engine run passes over all rows; "
               "the agreement it checks does not depend on n); regdiag.cross_check(fit) runs it")
    if cross_check and infl.n_obs > ENGINE_MAX_N:
        cross_check, parts["cross_check_error"] = False, "The engine cross-check was " + too_big + "."
    if engine and infl.n_obs > ENGINE_MAX_N:
        engine = False
        caught.append("the engine plots were " + too_big)
    if cross_check:
        solvers = ("direct",) if infl.n_obs > CROSS_CHECK_ALL_SOLVERS else None
        step("engine cross-check (every curvature"
             + (f", solvers {', '.join(solvers)})" if solvers else " and solver)"))
        with timed("engine cross-check"):
            parts.update(_cross_check(fit, infl.n_obs, solvers, runs))
    if engine:
        step("engine runs for the engine plots")
        with timed("engine plots' runs"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parts["exact"], parts["engine_values"] = _engine_values(fit, infl, runs, caught)
    if compare_statsmodels:
        step("comparison with statsmodels")
        with timed("comparison with statsmodels"):
            parts.update(_comparison(fit))
    return Diagnostics(fit=fit, influence=infl, rule=rule, flagged=flagged, engine_runs=runs,
                       warnings=tuple(dict.fromkeys(caught)), timings=timed.seconds, **parts)


class _Timings:
    """``with timed("name"):`` adds the block's wall time to ``timed.seconds["name"]``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t


def _flags(infl: Any, rule: str, flagged: pd.DataFrame) -> tuple[dict[str, Any], pd.DataFrame]:
    """The flagged rows ranked, the outlier test (its rows below the Bonferroni cut-off, at most 10), the counts of
    the tests that account for n and the note on the share flagged; and the whole outlier test."""
    from scipy.special import fdtri

    order = np.lexsort((-np.abs(flagged["student_resid"].to_numpy()), -flagged["cooks_distance"].to_numpy()))
    ot_all = infl.outlier_test(cutoff=None, n_max=None, style="R")  # car's reference, as the index plot's
    n_bonf = int(np.count_nonzero(ot_all["bonferroni_p"].to_numpy() < 0.05))
    ot = ot_all[ot_all["bonferroni_p"] < 0.05] if n_bonf else ot_all.iloc[:1]
    ot = ot.iloc[:10]
    ot.attrs.update(ot_all.attrs)
    p, n = float(infl.rank), float(infl.n_obs)
    cook_cut = float(fdtri(p, n - p, 0.5)) if n > p else math.inf
    n_cook = int(np.count_nonzero(np.asarray(infl.cooks_distance, dtype=float) > cook_cut))
    parts = {"ranked": flagged.iloc[order], "share_note": _share_note(infl, rule, len(flagged), n_bonf, n_cook),
             "outlier_test": ot, "n_bonferroni": n_bonf, "n_cooks_f": n_cook}
    return parts, ot_all


def _cross_check(fit: Any, n_obs: int, solvers: tuple[str, ...] | None,
                 runs: dict[tuple[str, str, str], Any]) -> dict[str, Any]:
    """The engine against the closed form (its runs are kept in ``runs``), or why it could not run."""
    from ..engine.crosscheck import cross_check as run_cross_check

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cc = run_cross_check(fit, solvers=solvers, runs=runs)
    except Exception as exc:  # shown in the report; the rest of it stands
        return {"cross_check_error": f"the cross-check could not run: {type(exc).__name__}: {exc}"}
    if solvers is not None:
        cc.attrs["note"] = (
            f"With n = {n_obs} the solvers are {', '.join(solvers)} only, to keep the report quick; "
            "regdiag.cross_check(fit) runs them all."
        )
    return {"cross_check": cc}


def _comparison(fit: Any) -> dict[str, Any]:
    from ..compare import compare

    try:
        return {"comparison": compare(fit)}
    except Exception as exc:
        return {"comparison_error": f"the comparison with statsmodels could not run: {type(exc).__name__}: {exc}"}


def _envelopes(infl: Any, nsim: int, caught: list[str]) -> dict[str, Any]:
    """The Q-Q plot's simulated band, and for a GLM the half-normal plot's."""
    from ..linear.envelope import envelope

    m = _positions_m(infl)
    k = _envelope_sims(m, nsim)
    out: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out["envelope"] = envelope(infl, m, nsim=k, rng=0) if m else None
            if isinstance(infl, GLMInfluence) and m:
                out["half_normal_envelope"] = envelope(infl, m, nsim=max(19, k // 2), rng=0, absolute=True)
        except Exception as exc:
            caught.append(f"envelope: {type(exc).__name__}: {exc}")
    return out


def _teaching(fit: Any, infl: Any, ot_all: pd.DataFrame, caught: list[str]) -> dict[str, Any]:
    """The numbers of the teaching plots: VIF, partial residuals, the index plot's series, Hadi's functions and the
    fit without the row of largest Cook's distance."""
    from ..linear import teaching as teach

    out: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out["vif"] = teach.vif(fit)
        except Exception as exc:
            out["vif_error"] = str(exc)
        out["partial"] = teach.partial_residuals(fit)
        out["index_values"] = teach.index_values(infl, ot_all)
        out["potential_residual"] = teach.potential_residual(infl)
        d = np.asarray(infl.cooks_distance, dtype=float)
        if np.isfinite(d).any():
            try:
                out["deletion"] = teach.deletion_effect(fit, infl.index[int(np.nanargmax(d))])
            except Exception as exc:
                caught.append(f"deletion: {type(exc).__name__}: {exc}")
    return out
