"""Residuals of a Cox fit under other programs' conventions, for comparing with them (:mod:`regdiag.compare_cox`)."""

from __future__ import annotations

import numpy as np

from ._core import evaluate, residuals
from ._risk import RiskSets
from .cox import CoxFit

__all__ = ["breslow_type_residuals"]


def breslow_type_residuals(fit: CoxFit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score and Schoenfeld residuals with Breslow's risk-set terms, at the fit's coefficients, and the martingale
    residuals as statsmodels computes them (data order).

    With ``ties="efron"`` and tied event times these are statsmodels' ``PHReg`` conventions, not R's (see
    :mod:`regdiag.compare_cox`): risk-set means and hazard increments without Efron's down-weighting of the tied
    deaths, and a cumulative hazard that leaves out the last increment at or before each row's time.

    Parameters
    ----------
    fit : CoxFit

    Returns
    -------
    score : ndarray of shape (n_obs, n_params)
    schoenfeld : ndarray of shape (n_obs, n_params)
    martingale : ndarray of shape (n_obs,)
    """
    d = fit.design
    rs = RiskSets(d.time, d.status, d.strata, efron=False, offset=d.offset)
    st = evaluate(fit._X, rs, fit.coef, information=False)
    res = residuals(fit._X, rs, st)
    score, schoen = res.score[rs.rank], res.schoenfeld[rs.rank]
    # Breslow hazard increments d_b / S0_b. statsmodels' array of the cumulative hazard at the event times holds
    # at t_k the sum of the increments before t_k, and its zero-order interpolation carries that value forward
    # to t_(k+1): each row gets the cumulative hazard without the last increment at or before its time
    has = rs.d > 0
    inc = np.where(has, rs.d / st.S0, 0.0)
    H = rs.cumulative(inc)
    last = np.zeros(rs.n_blocks)
    for sl in rs.stratum_blocks:
        seg = inc[sl]
        pos = np.where(has[sl], np.arange(seg.size), -1)
        pos = np.maximum.accumulate(pos)
        last[sl] = np.where(pos >= 0, seg[np.maximum(pos, 0)], 0.0)
    lam = H - last
    mart = (rs.status - st.w * lam[rs.blk])[rs.rank]
    return score, schoen, mart
