"""regdiag's Cox model beside statsmodels' ``PHReg``: coefficients, standard errors, log-likelihood and residuals.

Used by :func:`regdiag.compare` for ``PHReg`` results and for :class:`regdiag.CoxFit`. Two systematic differences
are detected and *checked* (regdiag recomputes statsmodels' convention and the reason counts as explaining the
difference only if that reproduces statsmodels' numbers):

* ``efron_score_breslow``: with ``ties="efron"`` and tied event times, statsmodels' ``score_residuals`` are the
  Breslow-type score residuals (risk-set means and hazard increments without Efron's down-weighting of the tied
  deaths) evaluated at the Efron estimate; R's (and regdiag's) use Efron's terms, whose sum is the Efron score
  (zero at the fit). Hence also ``score_residuals @ cov_params`` differs from R's ``dfbeta``.
* ``martingale_lagged_hazard``: statsmodels' baseline cumulative hazard array holds at each event time ``t_k`` the
  sum of the increments *before* ``t_k`` (Breslow's increments ``d_k / S0_k``, also with ``ties="efron"``), and
  its zero-order interpolation carries that value to the next event time; its martingale residual
  ``delta_i - exp(eta_i) Lambda`` therefore leaves out the last hazard increment at or before each row's time (for
  a row alone at risk at the last event time, a difference of exactly 1). With strata, statsmodels 0.14-0.15
  raises ``KeyError`` in ``martingale_residuals``; the measure is then left out (noted).
* the Schoenfeld residuals with ``ties="efron"`` are Breslow-type too (``x_i - S1/S0``), part of the first reason.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from ._validation import DataError
from .comparison import RTOL, Comparison, Reason, build_comparison, statsmodels_version
from .comparison import relative_tolerance as _relative
from .survival import CoxFit, CoxInfluence, coxph_from_statsmodels
from .survival.conventions import breslow_type_residuals

__all__ = ["compare_phreg", "is_cox"]

def is_cox(obj: Any) -> bool:
    """Whether ``obj`` is a regdiag Cox fit or a statsmodels ``PHReg`` results object.

    Parameters
    ----------
    obj : object
        Anything :func:`regdiag.compare` was given.

    Returns
    -------
    bool
        True for a :class:`~regdiag.survival.CoxFit`, a :class:`~regdiag.survival.CoxInfluence`, or results whose
        ``model`` is a ``PHReg``.
    """
    if isinstance(obj, (CoxFit, CoxInfluence)):
        return True
    return type(getattr(obj, "model", None)).__name__ == "PHReg"


def _phreg_of(fit: CoxFit) -> Any:
    from statsmodels.duration.hazard_regression import PHReg

    d = fit.design
    if d.entry is not None:
        raise DataError("statsmodels' PHReg is not compared for counting-process data (Surv(start, stop, event)): "
                        "its entry times are a different convention from R's (start, stop] intervals")
    strata = d.strata if len(d.strata_labels) > 1 else None
    X = pd.DataFrame(np.asarray(d.X), index=d.index, columns=list(d.param_names))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PHReg(pd.Series(d.time, index=d.index), X, status=d.status, strata=strata, ties=fit.ties,
                     offset=d.offset).fit()


def compare_phreg(results: Any, *, rtol: float | None = None, n_rows: int = 3) -> Comparison:
    """Compare a Cox model fitted by regdiag and by statsmodels' ``PHReg``.

    Parameters
    ----------
    results : statsmodels PHReg results or CoxFit
        PHReg results are refitted by regdiag (same design, times, status, strata, ties); a regdiag fit is refitted
        by statsmodels.
    rtol : float, optional
        Agreement tolerance relative to each measure's largest absolute value (default ``RTOL``, 1e-8).
    n_rows : int

    Returns
    -------
    Comparison
        Measures: ``coefficients``, ``standard_errors``, ``loglik`` (per parameter / one row), ``martingale``,
        ``schoenfeld``, ``score_residuals`` and ``dfbeta`` (``score_residuals @ cov_params``; per row and parameter,
        rows labelled ``(row, parameter)``).
    """
    rtol = RTOL if rtol is None else rtol
    fit, res = _fit_pair(results)
    names = list(fit.param_names)
    index = fit.index
    flat = pd.MultiIndex.from_product([index, names], names=["row", "parameter"])
    sm_score = np.asarray(res.score_residuals, dtype=float)
    cov_sm = np.asarray(res.cov_params(), dtype=float)
    ev = fit.design.status > 0
    sm_sch = np.asarray(res.schoenfeld_residuals, dtype=float)
    sm_sch[~ev] = np.nan
    ours_sch = fit.resid_schoenfeld
    d = fit.design
    reasons = _phreg_reasons(fit, cov_sm)
    peer = f"statsmodels {statsmodels_version()} PHReg (ties={fit.ties!r})"
    model = (f"Cox PH ({fit.ties}): {d.formula or ' + '.join(names)}; n = {fit.n_obs}, events = {fit.n_events}"
             + (f", strata = {len(d.strata_labels)}" if len(d.strata_labels) > 1 else ""))
    notes = ["rows of per-parameter residuals are labelled (row, parameter)"]
    per_param = build_comparison(
        {"coefficients": (fit.coef, np.asarray(res.params, float), "params"),
         "standard_errors": (fit.bse, np.asarray(res.bse, float), "bse")},
        pd.Index(names), reasons, tol=_relative(rtol), n_rows=n_rows, peer=peer, model=model, notes=notes)
    scalar = build_comparison({"loglik": (np.array([fit.loglik]), np.array([float(res.llf)]), "llf")},
                              pd.Index(["loglik"]), reasons, tol=_relative(rtol), n_rows=n_rows, peer=peer,
                              model=model, notes=notes)
    try:
        sm_mart = np.asarray(res.martingale_residuals, dtype=float)
    except (KeyError, IndexError) as exc:  # statsmodels' stratified martingale residuals fail on its own dict keys
        sm_mart = None
        notes.append(f"martingale residuals left out: statsmodels raised {type(exc).__name__} ({exc}) computing them")
    parts: list[Comparison] = []
    if sm_mart is not None:
        parts.append(build_comparison({"martingale": (fit.resid_martingale, sm_mart, "martingale_residuals")},
                            index, reasons, tol=_relative(rtol), n_rows=n_rows, peer=peer, model=model, notes=notes))
    per_cell = build_comparison(
        {"schoenfeld": (ours_sch.reshape(-1), sm_sch.reshape(-1), "schoenfeld_residuals"),
         "score_residuals": (fit.resid_score.reshape(-1), sm_score.reshape(-1), "score_residuals"),
         "dfbeta": (fit.dfbeta.reshape(-1), (sm_score @ cov_sm).reshape(-1), "score_residuals @ cov_params()")},
        flat, reasons, tol=_relative(rtol), n_rows=n_rows, peer=peer, model=model, notes=notes)
    return _joined([per_param, scalar, *parts, per_cell], reasons, peer, model, notes)


def _fit_pair(results: Any) -> tuple[CoxFit, Any]:
    """regdiag's Cox fit and statsmodels' PHReg results of the same model, whichever was given."""
    if isinstance(results, CoxInfluence):
        raise TypeError("compare a CoxFit (or PHReg results), not its influence")
    if isinstance(results, CoxFit):
        if results.design.weights is not None:
            raise DataError("statsmodels' PHReg does not fit case weights (it ignores them), so a weighted Cox model "
                            "has no statsmodels counterpart to compare with")
        return results, _phreg_of(results)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return coxph_from_statsmodels(results), results


def _phreg_reasons(fit: CoxFit, cov_sm: np.ndarray) -> list[Reason]:
    """Why statsmodels' residuals differ: Breslow-type score residuals under Efron's ties (when deaths are tied),
    and a baseline hazard that lags one event time."""
    reasons: list[Reason] = []
    d = fit.design
    ev = d.status > 0
    tied = pd.DataFrame({"s": d.strata[ev], "t": d.time[ev]}).duplicated().any()
    b_score, b_sch, b_mart = breslow_type_residuals(fit)
    if fit.ties == "efron" and tied:
        reasons.append(Reason(
            key="efron_score_breslow",
            text=("statsmodels' PHReg score residuals are Breslow-type (risk-set means without Efron's "
                  "down-weighting of tied deaths) even with ties='efron', evaluated at the Efron estimate; R and "
                  "regdiag use Efron's terms, so dfbeta = score residuals x covariance differs too (and the "
                  "Schoenfeld residuals use the Breslow risk-set mean)"),
            predicted={"score_residuals": b_score.reshape(-1), "dfbeta": (b_score @ cov_sm).reshape(-1),
                       "schoenfeld": b_sch.reshape(-1)},
        ))
    reasons.append(Reason(
        key="martingale_lagged_hazard",
        text=("statsmodels' baseline cumulative hazard lags one event time (its array holds at t_k the increments "
              "before t_k, carried forward by a zero-order interpolation): its martingale residuals leave out the "
              "last Breslow hazard increment at or before each row's time"),
        predicted={"martingale": b_mart},
    ))
    return reasons


def _joined(parts: list[Comparison], reasons: list[Reason], peer: str, model: str, notes: list[str]) -> Comparison:
    """One comparison of the parts' tables and values."""
    table = pd.concat([c.table for c in parts])
    table["explained"] = table["explained"].astype("boolean")
    values: dict[str, pd.DataFrame] = {}
    for c in parts:
        values.update(c.values)
    return Comparison(table=table, values=values, reasons=tuple(reasons), peer=peer, model=model, notes=tuple(notes))
