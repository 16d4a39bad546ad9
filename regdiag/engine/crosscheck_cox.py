"""The engine on a Cox model against R's one-step ``dfbeta`` and the exact deletion.

A Cox model exposes the negative score residuals as per-observation gradients and ``I / n`` as the curvature
(:class:`regdiag.engine.model.CoxModel`). Theory: with the exact curvature and no correction the engine's
``delta_i`` equals ``-U_i I^{-1}``, R's ``dfbeta`` with the removal convention's sign, and its Cook's distance the
one-step likelihood displacement ``dfbeta_i' I dfbeta_i / p``, to rounding (direct solver) or to the iterative
solvers' tolerance. The exact deletion differs from both by the one-step approximation's error, which the table
reports (``expected`` NaN: no exact relation).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._validation import SolverKind
from .crosscheck import COLUMNS, _tolerance, conditioning, engine_run, failed_run, relative_discrepancy
from .model import CoxModel

__all__ = ["cross_check_cox"]

#: the measures of a Cox cross-check row (NaN for a run that gave no result)
_MEASURES = ("param_influence", "dfbeta", "cooks_distance", "exact_deletion", "expected", "tolerance")


def cross_check_cox(
    model: CoxModel,
    curvatures: Sequence[str] | None = None,
    solvers: Sequence[str] | None = None,
    corrections: Sequence[str] = ("none", "leverage"),
    damping: float = 0.0,
    solver_options: dict[str, dict[str, Any]] | None = None,
) -> pd.DataFrame:
    """The :func:`regdiag.cross_check` table for a Cox fit.

    Rows: every curvature and solver asked for (default ``exact`` and ``identity``, all solvers) with
    ``correction="none"``; ``correction="leverage"`` (and curvatures that need per-observation curvature factors)
    rows say why they give no result. ``param_influence`` is compared with ``-dfbeta`` (R's one-step value),
    ``dfbeta`` with R's ``dfbeta``, ``cooks_distance`` with ``dfbeta' I dfbeta / p``; ``exact_deletion`` is the
    discrepancy from the exact leave-one-out change (the one-step approximation's error).

    Parameters
    ----------
    model : CoxModel
        The engine's view of the Cox fit (``model.fit``).
    curvatures : sequence of str, optional
        Default: ``exact`` and ``identity``.
    solvers : sequence of str, optional
        Default: all solvers.
    corrections : sequence of {"none", "leverage"}
        Corrections to run; ``"leverage"`` gives rows that say why there is no result.
    damping : float
        Damping for every run (0 compares with R's one-step ``dfbeta`` exactly).
    solver_options : dict, optional
        Per solver name, options for it.

    Returns
    -------
    pandas.DataFrame
        One row per run, the columns of :func:`regdiag.cross_check` and ``exact_deletion``. ``frame.attrs`` holds
        ``n_compared``, ``cond``, ``cond_equilibrated``, ``damping`` and ``one_step_vs_exact`` (the relative
        discrepancy of R's one-step ``dfbeta`` from the exact deletion).
    """
    fit = model.fit
    infl = fit.influence()
    dfb = np.asarray(infl.dfbeta_one_step, dtype=float)
    exact = np.asarray(infl.dfbeta_exact, dtype=float)
    ok = np.isfinite(exact).all(axis=1)
    ld = np.einsum("ij,jk,ik->i", dfb, model._info, dfb) / model.rank
    cond_raw, cond_eq = conditioning(model.hessian())
    curvatures = ["exact", "identity"] if curvatures is None else list(curvatures)
    solvers = [s.value for s in SolverKind] if solvers is None else list(solvers)
    solver_options = solver_options or {}
    rows = []
    for cur, sol, cor in itertools.product(curvatures, solvers, corrections):
        is_exact = cur == "exact" and cor == "none"
        why = ("exact curvature I/n, gradient -U_i: equals R's one-step dfbeta U_i I^-1" if is_exact else
               "no curvature: scale arbitrary" if cur == "identity" else
               "approximation" if cor == "none" else
               "the partial likelihood has no per-observation curvature terms (no leverage correction)")
        row: dict[str, Any] = {"curvature": cur, "solver": sol, "correction": cor, "theory": why}
        opts = dict(solver_options.get(sol, {}))
        res, status = engine_run(model, cur, sol, cor, damping, opts)
        if res is None:
            row.update(failed_run(_MEASURES, status))
            rows.append(row)
            continue
        pinf = res.param_influence
        disc_param = relative_discrepancy(pinf, -dfb)
        disc_dfb = relative_discrepancy(-pinf, dfb)
        disc_cook = relative_discrepancy(res.cooks_distance, ld)
        disc_exact = relative_discrepancy(-pinf[ok], exact[ok]) if ok.any() else np.nan
        tol = _tolerance(res, cond_eq, cond_raw, opts)
        exact_rel = is_exact and damping == 0
        agrees = bool(max(disc_param, disc_dfb, disc_cook) <= tol) if exact_rel else pd.NA
        row.update(param_influence=disc_param, dfbeta=disc_dfb, cooks_distance=disc_cook,
                   exact_deletion=disc_exact, expected=0.0 if exact_rel else np.nan,
                   tolerance=tol if exact_rel else np.nan, agrees=agrees, status=status)
        rows.append(row)
    frame = pd.DataFrame(rows)[list(COLUMNS[:6]) + ["exact_deletion"] + list(COLUMNS[6:])]
    frame["agrees"] = frame["agrees"].astype("boolean")
    frame.attrs.update(n_compared=len(dfb), cond=float(cond_raw), cond_equilibrated=float(cond_eq),
                       damping=damping, one_step_vs_exact=relative_discrepancy(dfb[ok], exact[ok]) if ok.any()
                       else np.nan)
    return frame
