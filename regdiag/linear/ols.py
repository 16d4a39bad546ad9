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
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._validation import ConditioningWarning, DesignError, InfluenceWarning, format_labels, warn_rows
from ..design import Design, make_design
from ..linalg import EPS, QRFactor, lstsq, qr_factor
from ..results import GroupInfluence, Influence
from . import measures

__all__ = ["OLSFit", "ols", "fit_design", "COND_WARN"]

#: condition number (of the column-equilibrated design) above which a ConditioningWarning is issued
COND_WARN = 1e8
#: a fit is perfect when the residual norm is below this multiple of eps * ||sqrt(w) y||
PERFECT_FIT_FACTOR = 100.0


@dataclass(frozen=True, eq=False, slots=True)
class OLSFit:
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
    def param_names(self) -> tuple[str, ...]:
        return self.design.param_names

    @property
    def index(self) -> pd.Index:
        return self.design.index

    @property
    def rank(self) -> int:
        """Numerical rank of the design (``p`` in every formula)."""
        return self.factor.rank

    @property
    def positive(self) -> np.ndarray:
        """Boolean mask of observations with positive weight."""
        w = self.design.weights
        return np.ones(self.design.n_obs, dtype=bool) if w is None else w > 0

    @property
    def nobs(self) -> int:
        """Number of observations with positive weight."""
        return int(np.count_nonzero(self.positive))

    @property
    def df_resid(self) -> int:
        return self.nobs - self.rank

    @property
    def ssr(self) -> float:
        """Weighted residual sum of squares."""
        return float(self.wresid @ self.wresid)

    @property
    def sigma(self) -> float:
        """Residual standard error ``sqrt(RSS / (n - p))``."""
        return math.sqrt(self.ssr / self.df_resid)

    @property
    def aliased(self) -> tuple[str, ...]:
        """Names of the columns that are linear combinations of earlier ones (their coefficients are NaN)."""
        return tuple(self.param_names[j] for j in self.factor.aliased)

    @property
    def cond(self) -> float:
        """Estimated 1-norm condition number of the column-equilibrated (weighted) design."""
        return self.factor.cond

    @property
    def params(self) -> pd.Series:
        return pd.Series(self.coef, index=list(self.param_names), name="params")

    @property
    def bse(self) -> pd.Series:
        """Standard errors ``s sqrt(diag((X'WX)^{-1}))``."""
        return pd.Series(self.sigma * np.sqrt(self.factor.cov_unscaled_diag()), index=list(self.param_names), name="bse")

    @property
    def tvalues(self) -> pd.Series:
        return (self.params / self.bse).rename("t")

    @property
    def pvalues(self) -> pd.Series:
        return pd.Series(2 * stats.t.sf(np.abs(self.tvalues.to_numpy()), self.df_resid), index=list(self.param_names), name="p")

    def cov_params(self) -> pd.DataFrame:
        """Covariance matrix of the coefficients ``s^2 (X'WX)^{-1}`` (NaN rows/columns for aliased)."""
        names = list(self.param_names)
        return pd.DataFrame(self.sigma**2 * self.factor.cov_unscaled(), index=names, columns=names)

    def _resid_array(self) -> np.ndarray:
        w = self.design.weights
        if w is None:
            return np.asarray(self.wresid)
        out = np.empty(self.design.n_obs)
        pos = w > 0
        out[pos] = self.wresid[pos] / np.sqrt(w[pos])
        if not pos.all():
            b = np.where(np.isnan(self.coef), 0.0, self.coef)
            out[~pos] = self.design.y[~pos] - self.design.X[~pos] @ b - self._offset()[~pos]
        return out

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
        h = f.hat_diag()
        e = np.asarray(self.wresid)
        p = self.rank
        df = self.df_resid
        rss = self.ssr
        s = self.sigma
        pos = self.positive
        h[~pos] = 0.0  # exactly: Householder leaves rounding-level entries in Q's zero rows
        perfect = self.perfect_fit
        s_eff = 0.0 if perfect else s

        s_loo = measures.sigma_loo(e, h, rss, df)
        r = measures.standard_resid(e, h, s_eff)
        t = measures.student_resid(e, h, s_loo)
        d = measures.cooks_distance(r, h, p)
        dff = measures.dffits(t, h)
        cr = measures.cov_ratio(s_loo, s_eff, h, p)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = e / (1.0 - h)
        resid = self._resid_array()
        with np.errstate(divide="ignore", invalid="ignore"):
            press = resid / (1.0 - h)

        undefined = ~(h < 1.0) | ~pos
        if perfect:
            undefined = np.ones_like(undefined)
        factor[undefined] = np.nan
        for arr in (s_loo, r, t, d, dff, cr, press):
            arr[undefined] = np.nan
        dfbeta = _dfbeta(f, factor)
        pval = measures.cooks_pvalue(d, p, df)

        if perfect:
            warnings.warn(
                "perfect fit: the residuals are at rounding level (sigma = %.3g), so every measure that divides by "
                "sigma or by a residual is NaN" % s,
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
            leverage=h,
            resid=resid,
            standard_resid=r,
            student_resid=t,
            press_resid=press,
            sigma_loo=s_loo,
            cooks_distance=d,
            cooks_pvalue=pval,
            dffits=dff,
            cov_ratio=cr,
            dfbeta=dfbeta,
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

    def plot(self, kind: str = "overview", **kwargs: Any) -> Any:
        """Diagnostic plots of this fit (matplotlib, imported only now): the 2 x 2 overview of R's ``plot(lm)`` by
        default, or any plot of :mod:`regdiag.plots` by name; see :func:`regdiag.plots.plot`."""
        from .. import plots

        return plots.plot(self, kind, **kwargs)

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


def _dfbeta(f: QRFactor, row_factor: np.ndarray) -> np.ndarray:
    """``(X'WX)^{-1} x_i sqrt(w_i) * row_factor_i`` for every row, in the original coordinates (n x n_cols)."""
    C = f.row_solve(row_factor)  # n x rank, Fortran order, scaled/pivoted coordinates
    C *= f.scale[f.cols]
    n, k = C.shape[0], f.n_cols
    if f.rank == k:
        # permute columns in place (cycles), so the n x p result costs no second copy
        perm = np.empty(k, dtype=np.intp)
        perm[f.cols] = np.arange(k)  # original column j is C's column perm[j]
        done = np.zeros(k, dtype=bool)
        for start in range(k):
            if done[start] or perm[start] == start:
                done[start] = True
                continue
            tmp = C[:, start].copy()
            j = start
            while True:
                src = perm[j]
                done[j] = True
                if src == start:
                    C[:, j] = tmp
                    break
                C[:, j] = C[:, src]
                j = src
        return C
    out = np.full((n, k), np.nan, order="F")
    out[:, f.cols] = C
    return out


def fit_design(design: Design, *, tol: float | None = None) -> OLSFit:
    """Fit a validated :class:`Design` by least squares (weighted if it has weights)."""
    X = design.X
    y = design.y if design.offset is None else design.y - design.offset
    w = design.weights
    sqrt_w = None if w is None else np.sqrt(w)
    npos = design.n_obs if w is None else int(np.count_nonzero(w > 0))
    factor = qr_factor(X, sqrt_w, tol)
    if npos <= factor.rank:
        raise DesignError(
            f"{npos} observation(s) with positive weight but the design has rank {factor.rank}: no residual degrees "
            "of freedom are left, so no influence measure is defined. Use more observations or fewer terms."
        )
    sol = lstsq(factor, X, y, sqrt_w)
    coef = factor.to_original(sol.x)
    if factor.cond > COND_WARN:
        digits = max(0.0, -math.log10(EPS * factor.cond))
        warnings.warn(
            f"the design is ill-conditioned: condition number {factor.cond:.3g} (of the column-equilibrated design); "
            f"leverage and influence measures keep about {digits:.0f} significant digits",
            ConditioningWarning,
            stacklevel=3,
        )
    return OLSFit(design=design, factor=factor, coef=coef, wresid=sol.resid, refine_steps=sol.refine_steps)


def ols(
    y_or_formula: Any,
    X: Any = None,
    *,
    data: Any = None,
    weights: Any = None,
    missing: str = "drop",
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
    missing : {"drop", "raise"}
        Rows with a missing or non-finite value are dropped (listed in ``fit.design.dropped`` and in the summary),
        or reported in an error naming the column and rows.
    tol : float, optional
        Rank tolerance on the pivots of the equilibrated design (default ``10 sqrt(n) eps``).

    Returns
    -------
    OLSFit

    Examples
    --------
    >>> import regdiag
    >>> df = regdiag.datasets.load("LifeCycleSavings")
    >>> fit = regdiag.ols("sr ~ pop15 + pop75 + dpi + ddpi", data=df)
    >>> infl = fit.influence()
    >>> round(float(infl.cooks_distance.max()), 4)
    0.2681
    """
    design = make_design(y_or_formula, X, data=data, weights=weights, missing=missing)
    return fit_design(design, tol=tol)
