"""Ordinary and weighted least squares: the fit and its closed-form influence measures.

One pivoted QR of ``W^(1/2) X`` (see :mod:`regdiag.linalg`) gives the coefficients, the leverage
``h_i = ||Q_i||^2`` and every deletion measure in closed form, in O(n p^2) time and O(n p) memory:
``b - b_(i) = (X'WX)^{-1} x_i w_i e_i / (1 - h_i)``, ``s_(i)^2 = (RSS - w_i e_i^2/(1 - h_i)) / (n - p - 1)``, ...
No n x n matrix and no refitting loop.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..protocols import ModelKind
from .._validation import ConditioningWarning, DesignError, InfluenceWarning, format_labels, warn_rows
from ..design import Design, make_design
from ..linalg import EPS, QRFactor, lstsq, qr_factor
from ..results import FactorDfbeta, GroupInfluence, Influence
from .. import measures
from ._fit import FitCommon

__all__ = [
    "OLSFit", "ols", "fit_design", "row_measures", "undefined_rows", "response_resid", "warn_conditioning",
    "check_residual_df", "COND_WARN",
]

#: condition number (of the column-equilibrated design) above which a ConditioningWarning is issued
COND_WARN = 1e8
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
        return pd.Series(self.design.y - self._resid_array(), index=self.index, name="fitted")

    @property
    def rsquared(self) -> float:
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
            warnings.warn(
                "perfect fit: the residuals are at rounding level (sigma = %.3g), so every measure that divides by "
                "sigma or by a residual is NaN" % math.sqrt(self.ssr / self.df_resid),
                InfluenceWarning,
                stacklevel=2,
            )
        else:
            one = pos & ~(h < 1.0)
            if one.any():
                warn_rows(
                    "leverage is 1 (the fit passes through these observations and deleting one makes a coefficient "
                    "unidentifiable): their deletion measures are NaN",
                    self.index[one],
                )
            if (~pos).any():
                warn_rows(
                    "zero weight takes these observations out of the fit: leverage 0, deletion measures NaN",
                    self.index[~pos],
                )
            if df <= 1:
                warnings.warn(
                    "one residual degree of freedom: the leave-one-out scale is undefined, so sigma_loo, "
                    "student_resid, dffits, cov_ratio and dfbetas are NaN",
                    InfluenceWarning,
                    stacklevel=2,
                )
            else:
                zero = ~undefined & (s_loo == 0)
                if zero.any():
                    warn_rows(
                        "deleting one of these observations leaves a perfect fit (sigma_loo = 0): their studentized "
                        "residual, DFFITS, COVRATIO and DFBETAS are NaN",
                        self.index[zero],
                    )
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
        """
        from .deletion import group_deletion

        return group_deletion(self, groups)

    # ---- presentation -----------------------------------------------------------------------------------------------
    def coef_table(self) -> pd.DataFrame:
        """Coefficients, standard errors, t values and p-values."""
        return pd.DataFrame(
            {"estimate": self.params, "std_error": self.bse, "t": self.tvalues, "p_value": self.pvalues}
        )

    def summary(self) -> str:
        """A text summary in the spirit of R's ``summary(lm)``."""
        d = self.design
        head = f"{self.method.upper()} fit"
        if d.formula:
            head += f": {d.formula}"
        lines = [head, f"n = {self.nobs}, rank = {self.rank}, df_resid = {self.df_resid}"]
        if len(d.dropped):
            lines.append(f"dropped for missing values: {len(d.dropped)} row(s) ({format_labels(d.dropped)})")
        if self.aliased:
            lines.append(f"aliased (not estimable, coefficient NaN): {', '.join(self.aliased)}")
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
    """Rows whose deletion measures are NaN: leverage 1 (after the clamp), zero weight, or every row of a perfect fit."""
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


def dask_input(*objs: Any) -> bool:
    """Whether an argument is a Dask collection (found by its module, so that dask is not imported here)."""
    return any(type(o).__module__.split(".")[0] == "dask" for o in objs if o is not None)


def warn_conditioning(cond: float, stacklevel: int = 2, *, glm: bool = False) -> None:
    """A :class:`ConditioningWarning` when the condition number exceeds ``COND_WARN``, with the digits kept.

    ``glm``: worded for a GLM's design weighted by the working weights (in memory and on Dask alike).
    """
    if cond > COND_WARN:
        digits = max(0.0, -math.log10(EPS * cond))
        what = (
            f"the weighted design is ill-conditioned: condition number {cond:.3g} (column-equilibrated)"
            if glm
            else f"the design is ill-conditioned: condition number {cond:.3g} (of the column-equilibrated design)"
        )
        warnings.warn(
            f"{what}; leverage and influence measures keep about {digits:.0f} significant digits",
            ConditioningWarning,
            stacklevel=stacklevel,
        )


def check_residual_df(npos: int, rank: int) -> None:
    """The error when the rows of positive weight leave no residual degree of freedom (no measure is defined)."""
    if npos <= rank:
        raise DesignError(
            f"{npos} observation(s) with positive weight but the design has rank {rank}: no residual degrees "
            "of freedom are left, so no influence measure is defined. Use more observations or fewer terms."
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
    warn_conditioning(factor.cond, stacklevel=4)
    fit = OLSFit(design=design, factor=factor, coef=coef, wresid=sol.resid, refine_steps=sol.refine_steps)
    if fit.perfect_fit:
        warnings.warn(
            "perfect fit: the residuals are at rounding level (RSS %.3g), so sigma and the standard errors are "
            "reported as 0 and t statistics and p-values as NaN" % fit.ssr,
            InfluenceWarning,
            stacklevel=4,
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

    Parameters
    ----------
    y_or_formula : str or array_like of shape (n_obs,)
        A formula such as ``"y ~ x1 + x2"`` (needs ``data``; an intercept is added as in R), or the response.
    X : array_like of shape (n_obs, n_params), optional
        The design when ``y_or_formula`` is the response, used as given (no intercept is added, as in
        statsmodels). A DataFrame's column names become the parameter names.
    data : pandas.DataFrame, optional
        Data for a formula.
    weights : str or array_like of shape (n_obs,), optional
        Analytic (precision) weights: a weight of k counts like k duplicated rows in the fit; a weight of 0 takes
        the row out of the fit. A string names a column of ``data``.
    missing : {"omit", "drop", "raise"}
        ``"omit"`` (R's ``na.omit``): rows with a missing value (NaN, None, NA) are dropped and listed in
        ``fit.design.dropped`` and the summary; an infinite value, in the data or made by a transform such as
        ``log(0)``, is an error naming the term and rows (R's ``NA/NaN/Inf in 'y'``). ``"drop"``: those rows are
        dropped too, with one warning naming them. ``"raise"``: any missing or non-finite value is an error.
    tol : float, optional
        Rank tolerance on the pivots of the equilibrated design (default ``10 sqrt(n) eps``).

    Returns
    -------
    OLSFit
        Or, for Dask arrays / DataFrames (a formula over a Dask DataFrame, weights naming its column), a
        :class:`regdiag.dask.DaskOLSFit` whose influence measures are lazy Dask collections (needs the extra
        ``regdiag[dask]``).

    Examples
    --------
    >>> import regdiag
    >>> df = regdiag.datasets.load("LifeCycleSavings")
    >>> fit = regdiag.ols("sr ~ pop15 + pop75 + dpi + ddpi", data=df)
    >>> infl = fit.influence()
    >>> round(float(infl.cooks_distance.max()), 4)
    0.2681
    """
    if dask_input(y_or_formula, X, data, weights):
        from ..dask import ols as dask_ols

        return dask_ols(y_or_formula, X, data=data, weights=weights, missing=missing, tol=tol)
    design = make_design(y_or_formula, X, data=data, weights=weights, missing=missing)
    return fit_design(design, tol=tol)
