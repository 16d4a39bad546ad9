"""Ordinary and weighted least squares: the fit and its closed-form influence measures.

One pivoted QR of ``W^(1/2) X`` (see :mod:`regdiag.linalg`) gives the coefficients, the leverage
``h_i = ||Q_i||^2`` and every deletion measure in closed form, in O(n p^2) time and O(n p) memory:
``b - b_(i) = (X'WX)^{-1} x_i w_i e_i / (1 - h_i)``, ``s_(i)^2 = (RSS - w_i e_i^2/(1 - h_i)) / (n - p - 1)``, ...
No n x n matrix and no refitting loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .. import measures
from .._validation import ResidualDfError
from .._warnings import (
    COND_WARN,
    warn,
    warn_leverage_one,
    warn_perfect_fit,
    warn_sigma_loo_zero,
    warn_zero_weight,
)
from .._warnings import warn_conditioning as _warn_conditioning
from ..design import Design, make_design
from ..linalg import EPS, QRFactor, lstsq, qr_factor
from ..protocols import ModelKind
from ..results import FactorDfbeta, GroupInfluence, Influence
from ._fit import FitCommon

__all__ = [
    "OLSFit", "ols", "fit_design", "row_measures", "undefined_rows", "response_resid", "warn_conditioning",
    "check_residual_df", "COND_WARN",
]

#: a fit is perfect when the residual norm is below this multiple of eps * ||sqrt(w) y||
PERFECT_FIT_FACTOR = 100.0


@dataclass(frozen=True, eq=False, slots=True)
class OLSFit(FitCommon):
    """A fitted linear model (OLS or WLS with analytic weights).

    Use :func:`regdiag.ols` to make one. Coefficient-level results are pandas Series indexed by ``param_names``;
    observation-level results are Series indexed by the input's row labels.

    Attributes
    ----------
    design : Design
        The validated data.
    factor : QRFactor
        The one factorization every measure reuses.
    coef : ndarray of shape (n_params,)
        Coefficients (NaN for aliased columns).
    wresid : ndarray of shape (n_obs,)
        Weighted residuals ``sqrt(w) (y - X b)``.
    refine_steps : int
        Steps of extended-precision refinement taken (0 when not needed).
    """

    model_kind: ClassVar[ModelKind] = ModelKind.OLS

    design: Design
    factor: QRFactor
    coef: np.ndarray
    wresid: np.ndarray
    refine_steps: int = 0

    def __post_init__(self) -> None:
        for a in (self.coef, self.wresid):
            a.flags.writeable = False

    # ---- basic quantities --------------------------------------------------------------------------------------
    @property
    def method(self) -> str:
        """``"wls"`` with weights, else ``"ols"``."""
        return "wls" if self.design.weights is not None else "ols"

    @property
    def positive(self) -> np.ndarray:
        """Boolean mask of observations with positive weight."""
        w = self.design.weights
        return np.ones(self.design.n_obs, dtype=bool) if w is None else w > 0

    @property
    def _cov_scale(self) -> float:
        return self.sigma**2

    @property
    def _normal_reference(self) -> bool:
        return False

    @property
    def ssr(self) -> float:
        """Weighted residual sum of squares."""
        return float(self.wresid @ self.wresid)

    @property
    def sigma(self) -> float:
        """Residual standard error ``sqrt(RSS / (n - p))``; exactly 0 for a perfect fit (:attr:`perfect_fit`: the
        residuals are rounding noise), so standard errors are 0 and t statistics and p-values NaN, never noise."""
        if self.perfect_fit:
            return 0.0
        return math.sqrt(self.ssr / self.df_resid)

    def _resid_array(self) -> np.ndarray:
        return response_resid(self.wresid, self.design, self.coef)

    def _offset(self) -> np.ndarray:
        off = self.design.offset
        return np.zeros(self.design.n_obs) if off is None else off

    @property
    def resid(self) -> pd.Series:
        """Response residuals ``y - fitted`` (not weighted)."""
        return pd.Series(self._resid_array(), index=self.index, name="resid")

    @property
    def fitted(self) -> pd.Series:
        """Fitted values ``X b`` (with the offset), indexed by row label."""
        return pd.Series(self.design.y - self._resid_array(), index=self.index, name="fitted")

    @property
    def rsquared(self) -> float:
        """Weighted coefficient of determination: sums of squares about the mean with an intercept, about 0 without.

        As R's ``summary(lm)``; NaN when the total sum of squares is 0.
        """
        w = self.design.weights
        y = self.design.y - self._offset()
        ww = np.ones_like(y) if w is None else w
        if self.design.has_intercept:
            ybar = np.sum(ww * y) / np.sum(ww)
            tss = float(np.sum(ww * (y - ybar) ** 2))
        else:
            tss = float(np.sum(ww * y**2))
        return 1.0 - self.ssr / tss if tss > 0 else float("nan")

    @property
    def perfect_fit(self) -> bool:
        """Residuals at rounding level: measures that divide by sigma are NaN."""
        b = self.design.y if self.design.weights is None else self.design.y * np.sqrt(self.design.weights)
        nb = float(np.linalg.norm(b))
        return math.sqrt(self.ssr) <= PERFECT_FIT_FACTOR * EPS * nb

    # ---- influence ---------------------------------------------------------------------------------------------------
    def influence(self) -> Influence:
        """Every closed-form influence measure of every observation.

        Returns
        -------
        Influence

        Notes
        -----
        With weighted residuals ``e_i = sqrt(w_i) (y_i - x_i' b)`` and leverage ``h_i``:
        ``s_(i)^2 = (RSS - e_i^2/(1-h_i))/(n-p-1)``, ``r_i = e_i/(s sqrt(1-h_i))``,
        ``t_i = e_i/(s_(i) sqrt(1-h_i))``, ``D_i = r_i^2 h_i/(p(1-h_i))``, ``DFFITS_i = t_i sqrt(h_i/(1-h_i))``,
        ``COVRATIO_i = (s_(i)/s)^(2p)/(1-h_i)``, ``b - b_(i) = (X'WX)^{-1} x_i sqrt(w_i) e_i/(1-h_i)``.
        Rows with ``h_i = 1`` (after R's clamp at ``1 - 10 eps``), zero weight, or all rows of a perfect fit get NaN
        deletion measures, with one warning naming them.
        """
        f = self.factor
        e = np.asarray(self.wresid)
        p = self.rank
        df = self.df_resid
        s = self.sigma
        pos = self.positive
        perfect = self.perfect_fit
        m = row_measures(f, e, self._resid_array(), pos, rss=self.ssr, df=df, sigma=s, perfect=perfect,
                         lazy_dfbeta=True)
        h, s_loo = m["leverage"], m["sigma_loo"]
        undefined = undefined_rows(h, pos, perfect)

        if perfect:
            warn_perfect_fit(
                f"sigma = {math.sqrt(self.ssr / self.df_resid):.3g}",
                "every measure that divides by sigma or by a residual is NaN",
            )
        else:
            one = pos & ~(h < 1.0)
            if one.any():
                warn_leverage_one(self.index[one])
            if (~pos).any():
                warn_zero_weight(self.index[~pos])
            if df <= 1:
                warn(
                    "one residual degree of freedom: the leave-one-out scale is undefined, so sigma_loo, "
                    "student_resid, dffits, cov_ratio and dfbetas are NaN"
                )
            else:
                zero = ~undefined & (s_loo == 0)
                if zero.any():
                    warn_sigma_loo_zero(self.index[zero])
        return Influence(
            **m,
            params=np.array(self.coef),
            cov_unscaled_diag=f.cov_unscaled_diag(),
            sigma=s,
            rank=p,
            df_resid=float(df),
            n_obs=self.nobs,
            weights=None if self.design.weights is None else np.array(self.design.weights),
            index=self.index,
            param_names=self.param_names,
            aliased=self.aliased,
            method=self.method,
            fit=self,
        )

    def group_deletion(self, groups: Any) -> GroupInfluence:
        """Exact coefficients, Cook's distance and DFBETAS with whole groups deleted.

        See :func:`regdiag.linear.deletion.group_deletion`.

        Parameters
        ----------
        groups : array_like, mapping or sequence of sequences
            One group label per row (a Series is aligned on the row labels), a mapping ``{group: [row labels]}``, or
            a sequence of sequences of row labels (see :func:`regdiag.linear.deletion.resolve_groups`).

        Returns
        -------
        GroupInfluence
            One row per group.
        """
        from .deletion import group_deletion

        return group_deletion(self, groups)

    # ---- presentation -----------------------------------------------------------------------------------------------
    def coef_table(self) -> pd.DataFrame:
        """Coefficients, standard errors, t values and p-values.

        Returns
        -------
        pandas.DataFrame
            Columns ``estimate``, ``std_error``, ``t``, ``p_value``; one row per coefficient.
        """
        return pd.DataFrame(
            {"estimate": self.params, "std_error": self.bse, "t": self.tvalues, "p_value": self.pvalues}
        )

    def summary(self) -> str:
        """A text summary in the spirit of R's ``summary(lm)``.

        Returns
        -------
        str
            The coefficient table with the fit's size, rank, residual standard error and R squared.
        """
        lines = self._summary_head(f"{self.method.upper()} fit")
        lines.append(self.coef_table().to_string(float_format=lambda v: f"{v:.6g}"))
        lines.append(f"residual standard error: {self.sigma:.6g} on {self.df_resid} df; R-squared: {self.rsquared:.4f}")
        lines.append(f"condition number (equilibrated design): {self.cond:.3g}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<OLSFit {self.method} n={self.nobs} rank={self.rank} params={list(self.param_names)}>"


def response_resid(wresid: np.ndarray, design: Design, coef: np.ndarray) -> np.ndarray:
    """Response residuals ``y - X b - offset`` from the weighted ones (computed directly for zero weights)."""
    w = design.weights
    if w is None:
        return np.asarray(wresid)
    out = np.empty(design.n_obs)
    pos = w > 0
    out[pos] = wresid[pos] / np.sqrt(w[pos])
    if not pos.all():
        b = np.where(np.isnan(coef), 0.0, coef)
        off = 0.0 if design.offset is None else design.offset[~pos]
        out[~pos] = design.y[~pos] - design.X[~pos] @ b - off
    return out


def undefined_rows(h: np.ndarray, positive: np.ndarray, perfect: bool) -> np.ndarray:
    """Rows whose deletion measures are NaN: leverage 1 (after the clamp), zero weight, or every row of a perfect
    fit."""
    if perfect:
        return np.ones(h.shape, dtype=bool)
    return ~(h < 1.0) | ~positive


def row_measures(
    f: QRFactor,
    e: np.ndarray,
    resid: np.ndarray,
    positive: np.ndarray,
    *,
    rss: float,
    df: float,
    sigma: float,
    perfect: bool,
    lazy_dfbeta: bool = False,
) -> dict[str, Any]:
    """Every per-row closed-form measure of the rows of ``f.q`` (all rows of a fit, or one block of them).

    Parameters
    ----------
    f : QRFactor
        The fit's factorization; ``f.q`` holds the rows to measure (a block of the full ``Q`` is enough: every
        measure of row i depends on row i of ``Q`` and on the fit's scalars only).
    e : ndarray of shape (n_rows,)
        Weighted residuals ``sqrt(w) (y - X b)``.
    resid : ndarray of shape (n_rows,)
        Response residuals ``y - X b`` (not weighted).
    positive : ndarray of shape (n_rows,)
        Rows with positive weight.
    rss, df, sigma : float
        The whole fit's weighted residual sum of squares, residual degrees of freedom and residual standard error.
    perfect : bool
        The whole fit is a perfect fit (every deletion measure is NaN).
    lazy_dfbeta : bool
        Give ``dfbeta`` as a :class:`regdiag.results.FactorDfbeta` (the factor and one vector, from which the n x p
        array is computed when read) instead of the array.

    Returns
    -------
    dict
        The per-row fields of :class:`regdiag.results.Influence` (``leverage``, ``resid``, ``standard_resid``,
        ``student_resid``, ``press_resid``, ``sigma_loo``, ``cooks_distance``, ``cooks_pvalue``, ``dffits``,
        ``cov_ratio``, ``dfbeta_data``); formulas in :meth:`OLSFit.influence`.
    """
    h = f.hat_diag()
    p = f.rank
    h[~positive] = 0.0  # exactly: Householder leaves rounding-level entries in Q's zero rows
    s_eff = 0.0 if perfect else sigma
    s_loo = measures.sigma_loo(e, h, rss, df)
    r = measures.standard_resid(e, h, s_eff)
    t = measures.student_resid(e, h, s_loo)
    d = measures.cooks_distance(r, h, p)
    dff = measures.dffits(t, h)
    cr = measures.cov_ratio(s_loo, s_eff, h, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = e / (1.0 - h)
        press = resid / (1.0 - h)
    undefined = undefined_rows(h, positive, perfect)
    factor[undefined] = np.nan
    for arr in (s_loo, r, t, d, dff, cr, press):
        arr[undefined] = np.nan
    return {
        "leverage": h,
        "resid": resid,
        "standard_resid": r,
        "student_resid": t,
        "press_resid": press,
        "sigma_loo": s_loo,
        "cooks_distance": d,
        "cooks_pvalue": measures.cooks_pvalue(d, p, df),
        "dffits": dff,
        "cov_ratio": cr,
        # lazy: the factor and one vector, from which the influence object computes the n x p array when read
        "dfbeta_data": FactorDfbeta(f, factor) if lazy_dfbeta else f.coef_rows(factor),
    }


def warn_conditioning(cond: float, *, glm: bool = False) -> None:
    """A :class:`~regdiag.ConditioningWarning` when the condition number of the column-equilibrated design exceeds
    ``COND_WARN``, with the digits kept (:func:`regdiag._warnings.warn_conditioning`).

    Parameters
    ----------
    cond : float
    glm : bool
        Worded for a GLM's design weighted by the working weights (in memory and on Dask alike).
    """
    _warn_conditioning(cond, "the weighted design" if glm else "the design")


def check_residual_df(npos: int, rank: int) -> None:
    """The error when the rows of positive weight leave no residual degree of freedom (no measure is defined)."""
    if npos <= rank:
        raise ResidualDfError(
            f"{npos} observation(s) with positive weight but the design has rank {rank}: no residual degrees "
            "of freedom are left, so no influence measure is defined. Use more observations or fewer terms.",
            n_positive=npos, rank=rank,
        )


def fit_design(design: Design, *, tol: float | None = None) -> OLSFit:
    """Fit a validated :class:`Design` by least squares (weighted if it has weights)."""
    X = design.X
    y = design.y if design.offset is None else design.y - design.offset
    w = design.weights
    sqrt_w = None if w is None else np.sqrt(w)
    npos = design.n_obs if w is None else int(np.count_nonzero(w > 0))
    factor = qr_factor(X, sqrt_w, tol)
    check_residual_df(npos, factor.rank)
    sol = lstsq(factor, X, y, sqrt_w)
    coef = factor.to_original(sol.x)
    warn_conditioning(factor.cond)
    fit = OLSFit(design=design, factor=factor, coef=coef, wresid=sol.resid, refine_steps=sol.refine_steps)
    if fit.perfect_fit:
        warn_perfect_fit(
            f"RSS {fit.ssr:.3g}", "sigma and the standard errors are reported as 0 and t statistics and p-values as NaN"
        )
    return fit


def ols(
    y_or_formula: Any,
    X: Any = None,
    *,
    data: Any = None,
    weights: Any = None,
    missing: str = "omit",
    tol: float | None = None,
) -> OLSFit:
    """Fit a linear model by ordinary or weighted least squares.

    The in-memory fit behind :func:`regdiag.ols` (which hands Dask collections to :func:`regdiag.dask.ols`
    instead); the parameters, their conventions and examples are documented there.

    Parameters
    ----------
    y_or_formula, X, data, weights, missing, tol
        As :func:`regdiag.ols`.

    Returns
    -------
    OLSFit
    """
    design = make_design(y_or_formula, X, data=data, weights=weights, missing=missing)
    return fit_design(design, tol=tol)
