"""Robust regression by M-estimation (MASS::rlm): the fit, its influence measures and exact case deletion.

The fit
    An M-estimate with scale ``s`` solves ``sum_i psi(r_i / s) x_i = 0``, ``r_i = y_i - x_i' b``. It is computed as
    MASS::rlm computes it: iteratively reweighted least squares with weights ``w_i = psi(u_i) / u_i``
    (``u_i = r_i / s``), started from least squares (``method="M"``), the scale re-estimated from the residuals at
    every step -- ``median |r_i| / 0.6745`` ("MAD"), Huber's proposal 2 ("Huber") -- or held fixed (a number, or the
    S-estimate's scale with ``method="MM"``, the S-estimate computed as ``MASS::lqs(method = "S")`` computes it:
    :mod:`regdiag.linear.rlm_s`). Unlike rlm's default (20 steps, ``acc = 1e-4``), the iteration runs
    to the fixed point that defines the estimator: until the relative change of the residuals stops shrinking
    (at rounding level).

    Standard errors are ``summary.rlm``'s (method "XtX"): ``cov = tau^2 (X'X)^{-1}`` with
    ``tau = sqrt(sum(psi(u)^2) s^2 / (n - p)) kappa / m``, ``m = mean(psi'(u))``,
    ``kappa = 1 + p var(psi'(u)) / (n m^2)`` (Huber 1981, section 7.6).

    Prior weights (``weights=``) follow MASS's ``wt.method``: "inv.var" fits the rows scaled by ``sqrt(w_i)`` (all
    of the above then applies to the scaled rows); "case" multiplies the IRLS weights by ``w_i``, takes the
    weighted MAD (or proposal 2 with weighted sums) and summary.rlm's weighted ``tau`` (``n`` replaced by
    ``sum(w)``).

Influence
    * ``leverage``: the diagonal of the hat matrix of the final weighted least-squares fit, ``w_i x_i'(X'WX)^{-1}
      x_i`` (R's ``hatvalues`` of an rlm fit).
    * One-step deletion (the scale held fixed): a Newton step of the estimating equation without row i,
      ``b - b_(i) = s psi(u_i) (X'DX)^{-1} x_i / (1 - h*_i)``, ``D = diag(psi'(u))``,
      ``h*_i = psi'_i x_i'(X'DX)^{-1} x_i``. Its size is bounded by ``|psi|``: an observation with a large residual
      moves the estimate no more than one at the bend of psi (Huber) or not at all (redescending psi).
    * Exact deletion: the M-estimation re-solved without row i, the scale re-estimated too (the median of the
      other ``n - 1`` absolute residuals, or proposal 2 over them), by batched Newton steps warm-started at the full
      fit; see :func:`exact_deletion`. A fixed scale stays fixed, and so does an MM fit's S-scale: re-running the
      S search without the row is not part of the deletion. With case weights each deletion is refitted by IRLS
      from the full fit. The MAD iteration can have more than one fixed point; the deleted fit is the one reached
      from the full fit.
    * Robust COVRATIO: ``det(cov_(i)) / det(cov)`` with each deleted fit's own ``tau_(i)``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .. import _distributions as dist
from .._validation import ConvergenceError, DataError, DesignError, format_labels
from .._warnings import warn_not_converged
from ..design import Design, DesignLabels, make_design
from ..linalg import qr_factor
from ..protocols import ModelKind
from ..results import GroupInfluence, RLMInfluence
from .glm_exact import blocked_matmul  # products small enough for OpenBLAS to run on the calling thread
from .rlm_s import lqs_s_estimate, s_start_from_coef

__all__ = ["Psi", "psi_function", "RLMFit", "rlm", "rlm_from_statsmodels", "exact_deletion", "MAD_CONSTANT"]

#: MASS::rlm's MAD constant (``median(|r|) / 0.6745``); statsmodels uses ``norm.ppf(0.75) = 0.67448975...``
MAD_CONSTANT = 0.6745
#: default tolerance of exact deletion, in standard errors of each coefficient
LOO_TOL = 1e-10
LOO_MAXIT = 50
#: IRLS steps of a deleted fit refitted from the full fit before it counts as not converging
REFIT_MAXIT = 5000
#: redescending psi: the relative change of the residuals at which the batched IRLS from the full fit is compared
#: with the chord steps' root, and the distance (standard errors) beyond which it has found another root
IRLS_CHECK_ACC = 1e-8
ROOT_GAP_SE = 1e-4
BATCH = 256
#: rows each side of the median kept as candidates for the deleted fits' median
MEDIAN_BAND = 48


# ---------------------------------------------------------------------------------------------------------------
# psi functions (MASS's psi.huber, psi.bisquare, psi.hampel)


@dataclass(frozen=True)
class Psi:
    """A psi function with its tuning constants.

    Attributes
    ----------
    name : str
        "huber", "bisquare" or "hampel".
    constants : tuple of float
        ``(k,)`` for Huber (default 1.345), ``(c,)`` for the bisquare (4.685), ``(a, b, c)`` for Hampel (2, 4, 8).
    """

    name: str
    constants: tuple[float, ...]

    def weight(self, u: np.ndarray) -> np.ndarray:
        """``psi(u) / u`` (MASS's ``psi(u)``), 1 at 0.

        Parameters
        ----------
        u : ndarray
            Scaled residuals ``r / s``, any shape.

        Returns
        -------
        ndarray
            The weights, the shape of ``u``.
        """
        au = np.abs(u)
        if self.name == "huber":
            (k,) = self.constants
            with np.errstate(divide="ignore"):
                return np.minimum(1.0, k / au)
        if self.name == "bisquare":
            (c,) = self.constants
            t = np.minimum(1.0, au / c)
            return (1.0 - t * t) ** 2
        a, b, c = self.constants
        U = np.minimum(au + 1e-50, c)
        return np.where(U <= a, U, np.where(U <= b, a, a * (c - U) / (c - b))) / U

    def psi(self, u: np.ndarray) -> np.ndarray:
        """``psi(u)`` (``u`` times :meth:`weight`; Huber's and the bisquare's without the division).

        Parameters
        ----------
        u : ndarray
            Scaled residuals ``r / s``, any shape.

        Returns
        -------
        ndarray
            ``psi(u)``, the shape of ``u``.
        """
        if self.name == "huber":
            k = self.constants[0]
            return np.clip(u, -k, k)
        if self.name == "bisquare":
            t = u / self.constants[0]
            t *= t
            np.minimum(t, 1.0, out=t)
            np.subtract(1.0, t, out=t)
            t *= t
            t *= u
            return t
        return u * self.weight(u)

    def deriv(self, u: np.ndarray) -> np.ndarray:
        """``psi'(u)`` (MASS's ``psi(u, deriv = 1)``).

        Parameters
        ----------
        u : ndarray
            Scaled residuals ``r / s``, any shape.

        Returns
        -------
        ndarray
            ``psi'(u)``, the shape of ``u``.
        """
        au = np.abs(u)
        if self.name == "huber":
            return (au <= self.constants[0]).astype(float)
        if self.name == "bisquare":
            t = (u / self.constants[0]) ** 2
            return np.where(t < 1.0, (1.0 - t) * (1.0 - 5.0 * t), 0.0)
        a, b, c = self.constants
        U = np.minimum(au + 1e-50, c)
        return np.where(au <= c, np.where(U <= a, 1.0, np.where(U <= b, 0.0, -a / (c - b))), 0.0)

    def bounded_at(self, u: np.ndarray) -> np.ndarray:
        """True where psi is no longer the identity (the residual's pull is capped or reduced).

        Parameters
        ----------
        u : ndarray
            Scaled residuals ``r / s``, any shape.

        Returns
        -------
        ndarray
            Booleans, the shape of ``u``.
        """
        return self.weight(u) < 1.0

    @property
    def redescending(self) -> bool:
        """Whether psi returns to 0 for large residuals (the bisquare and Hampel's; Huber's does not)."""
        return self.name != "huber"


_DEFAULTS = {"huber": (1.345,), "bisquare": (4.685,), "hampel": (2.0, 4.0, 8.0)}


def psi_function(psi: str | Psi, constants: Any = None) -> Psi:
    """A :class:`Psi` from its name and optional tuning constants.

    Parameters
    ----------
    psi : {"huber", "bisquare", "hampel"} or Psi
        The name (MASS's ``psi.huber`` etc. are accepted too); a :class:`Psi` is returned as it is.
    constants : float or sequence of float, optional
        The tuning constants: one number, or ``(a, b, c)`` for Hampel; the defaults are MASS's.

    Returns
    -------
    Psi
        The psi function.

    Raises
    ------
    ValueError
        For an unknown name, the wrong number of constants, or constants that are not positive (and increasing, for
        Hampel).
    """
    if isinstance(psi, Psi):
        return psi
    name = str(psi).lower().replace("psi.", "")
    if name not in _DEFAULTS:
        raise ValueError(f"psi={psi!r} is not one of 'huber', 'bisquare', 'hampel'")
    if constants is None:
        consts = _DEFAULTS[name]
    else:
        consts = tuple(float(c) for c in np.atleast_1d(constants))
        if len(consts) != len(_DEFAULTS[name]):
            raise ValueError(f"psi {name!r} takes {len(_DEFAULTS[name])} tuning constant(s), got {len(consts)}")
    positive = all(np.isfinite(c) and c > 0 for c in consts)
    if not positive or (name == "hampel" and not consts[0] < consts[1] < consts[2]):
        raise ValueError(f"invalid tuning constants {consts} for psi {name!r}")
    return Psi(name, consts)


# ---------------------------------------------------------------------------------------------------------------
# scale estimates


@dataclass(frozen=True)
class _Scale:
    kind: str  # "mad", "huber", "fixed"
    value: float | None = None
    k2: float = 1.345
    mad_constant: float = MAD_CONSTANT

    @property
    def gamma(self) -> float:
        k2 = self.k2
        theta = 2.0 * dist.norm_cdf(k2) - 1.0
        return float(theta + k2 * k2 * (1.0 - theta) - 2.0 * k2 * dist.norm_pdf(k2))

    def update(self, r: np.ndarray, s_old: float, df: float, case: np.ndarray | None = None) -> float:
        """The next scale from the residuals ``r`` (``case``: case weights, as rlm's ``wt.method = "case"``)."""
        if self.kind == "fixed":
            return float(self.value)  # type: ignore[arg-type]
        if self.kind == "mad":
            if case is not None:
                return wmad(r, case)
            return float(np.median(np.abs(r))) / self.mad_constant
        clipped = np.minimum(r * r, (self.k2 * s_old) ** 2)
        total = float(np.sum(clipped if case is None else case * clipped))
        return math.sqrt(total / (df * self.gamma))


def wmad(r: np.ndarray, w: np.ndarray) -> float:
    """MASS::rlm's weighted MAD (``wmad``): the weighted median of ``|r|`` over 0.6745 (the mean of the two middle
    values when the cumulative weight reaches exactly one half).

    Parameters
    ----------
    r : ndarray of shape (n_obs,)
    w : ndarray of shape (n_obs,)
        Case weights (non-negative, not all 0).

    Returns
    -------
    float
    """
    order = np.argsort(np.abs(r), kind="stable")
    a = np.abs(r)[order]
    cum = np.cumsum(w[order]) / np.sum(w)
    k = int(np.sum(cum < 0.5))
    if cum[k] > 0.5:
        return float(a[k]) / 0.6745
    return float(a[k] + a[k + 1]) / (2.0 * 0.6745)


def _scale_spec(scale: Any, k2: float, mad_constant: float) -> _Scale:
    if isinstance(scale, (int, float)) and not isinstance(scale, bool):
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"a fixed scale must be a positive number, got {scale!r}")
        return _Scale("fixed", float(scale))
    key = str(scale).lower().replace(" ", "")
    if key == "mad":
        return _Scale("mad", mad_constant=mad_constant)
    if key in ("huber", "proposal2"):
        return _Scale("huber", k2=k2)
    raise ValueError(f"scale={scale!r} is not one of 'MAD', 'Huber' ('proposal 2') or a positive number")


# ---------------------------------------------------------------------------------------------------------------
# the fit


@dataclass(frozen=True, eq=False)
class RLMFit(DesignLabels):
    """A robust (M or MM) regression fit. Make one with :func:`regdiag.rlm`.

    Attributes
    ----------
    design : Design
        The validated data.
    coef : ndarray of shape (n_params,)
        Coefficients.
    scale : float
        ``s`` at the fixed point.
    weights : ndarray of shape (n_obs,)
        Final IRLS weights ``psi(u_i) / u_i`` (MASS's ``fit$w``).
    psi : Psi
        The psi function and its tuning constants.
    scale_spec : object
        How the scale is estimated (its ``kind`` is :attr:`scale_kind`) and its constants.
    method : str
        "M" or "MM".
    iterations : int
        IRLS iterations taken.
    converged : bool
        Whether IRLS met its tolerance within the iteration limit.
    s_coef : ndarray or None
        The S-estimate the MM fit started from.
    wt_method : {"inv.var", "case"} or None
        How the design's prior weights entered (None without weights): ``"inv.var"`` (MASS's default) fits the rows
        scaled by ``sqrt(w_i)`` (the working design, residuals and influence are those of the scaled rows, R's
        ``wresid``); ``"case"`` multiplies the IRLS weights by ``w_i`` (``weights`` includes them, as R's
        ``fit$w``).
    _Xw : ndarray of shape (n_obs, n_params) or None
        With inverse-variance weights, the working design (rows scaled by ``sqrt(w_i)``); None otherwise.
    _yw : ndarray of shape (n_obs,) or None
        With inverse-variance weights, the working response (offset removed, scaled by ``sqrt(w_i)``); None
        otherwise.
    """

    model_kind: ClassVar[ModelKind] = ModelKind.RLM

    design: Design
    coef: np.ndarray
    scale: float
    weights: np.ndarray
    psi: Psi
    scale_spec: _Scale
    method: str
    iterations: int
    converged: bool
    s_coef: np.ndarray | None = None
    wt_method: str | None = None
    _Xw: np.ndarray | None = field(default=None, repr=False)
    _yw: np.ndarray | None = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, init=False, repr=False)

    # ---- basic quantities ------------------------------------------------------------------------------------
    @property
    def scale_kind(self) -> str:
        """How the scale is estimated: "mad", "huber" (proposal 2) or "fixed" (a given scale, or the MM S-scale)."""
        return self.scale_spec.kind

    @property
    def nobs(self) -> int:
        """Number of observations."""
        return self.design.n_obs

    @property
    def rank(self) -> int:
        """Number of coefficients (rlm needs a design of full column rank)."""
        return self.design.n_params

    @property
    def df_resid(self) -> float:
        """``n - p``; with case weights ``sum(w) - p`` (summary.rlm)."""
        c = self._case
        return float(self.nobs - self.rank) if c is None else float(np.sum(c)) - self.rank

    @property
    def prior_weights(self) -> np.ndarray | None:
        """The prior weights (``rlm(weights = )``), shape (n_obs,), or None."""
        return None if self.design.weights is None else np.asarray(self.design.weights, dtype=float)

    @property
    def _case(self) -> np.ndarray | None:
        return self.prior_weights if self.wt_method == "case" else None

    @property
    def aliased(self) -> tuple[str, ...]:
        """Names of aliased coefficients: none (rlm needs a design of full column rank)."""
        return ()

    @property
    def X_fitted(self) -> np.ndarray:
        """The working design the M-estimation ran on (rows scaled by ``sqrt(w)`` with inverse-variance weights).

        Returns
        -------
        ndarray of shape (n_obs, n_params)
            ``design.X``, or its weighted rows.
        """
        return np.asarray(self.design.X if self._Xw is None else self._Xw, dtype=float)

    @property
    def _y(self) -> np.ndarray:
        """The working response (offset removed; scaled with inverse-variance weights)."""
        if self._yw is not None:
            return self._yw
        y = np.asarray(self.design.y, dtype=float)
        return y if self.design.offset is None else y - np.asarray(self.design.offset, dtype=float)

    @property
    def _resid(self) -> np.ndarray:
        """Working residuals (R's ``wresid``)."""
        return self._y - self.X_fitted @ self.coef

    @property
    def _offset(self) -> np.ndarray | float:
        return 0.0 if self.design.offset is None else np.asarray(self.design.offset, dtype=float)

    @property
    def u(self) -> np.ndarray:
        """Scaled residuals ``r_i / s``."""
        return self._resid / self.scale

    @property
    def resid(self) -> pd.Series:
        """``y - offset - X b`` on the data's scale (R's ``residuals(fit)``)."""
        y = np.asarray(self.design.y, dtype=float)
        return pd.Series(y - self.fitted.to_numpy(), index=self.index, name="resid")

    @property
    def fitted(self) -> pd.Series:
        """``X b + offset`` (R's ``fitted(fit)``)."""
        X = np.asarray(self.design.X, dtype=float)
        return pd.Series(X @ self.coef + self._offset, index=self.index, name="fitted")

    @property
    def stddev(self) -> float:
        """``tau``: summary.rlm's scale of the coefficients' covariance (see the module docstring)."""
        u = self.u
        n, p = self.nobs, self.rank
        d = self.psi.deriv(u)
        c = self._case
        if c is None:
            S = float(np.sum((self.psi.psi(u) * self.scale) ** 2)) / (n - p)
            mn = float(np.mean(d))
            kappa = 1.0 + p * float(np.var(d, ddof=1)) / (n * mn * mn)
            return math.sqrt(S) * kappa / mn
        # summary.rlm with wt.method = "case": sums weighted, n replaced by sum(w)
        nn = float(np.sum(c))
        S = float(np.sum(c * (self.psi.psi(u) * self.scale) ** 2)) / (nn - p)
        m1, m2 = float(np.sum(c * d)), float(np.sum(c * d * d))
        mn = m1 / nn
        kappa = 1.0 + p * (m2 - m1 * m1 / nn) / (nn - 1.0) / (nn * mn * mn)
        return math.sqrt(S) * kappa / mn

    def cov_params(self) -> pd.DataFrame:
        """``tau^2 (X'X)^{-1}`` (summary.rlm, method "XtX"; ``X'CX`` with case weights ``C``).

        Returns
        -------
        pandas.DataFrame of shape (n_params, n_params)
            The covariance of the coefficients, rows and columns labelled by ``param_names``.
        """
        names = list(self.param_names)
        return pd.DataFrame(self.stddev**2 * self._xtx_inv(), index=names, columns=names)

    def _xtx_inv(self) -> np.ndarray:
        if "xtx_inv" not in self._cache:
            c = self._case
            f = qr_factor(self.X_fitted if c is None else self.X_fitted * np.sqrt(c)[:, None])
            self._cache["xtx_inv"] = f.cov_unscaled()
        return self._cache["xtx_inv"]

    @property
    def bse(self) -> pd.Series:
        """Standard errors ``tau sqrt(diag((X'X)^{-1}))`` (summary.rlm), indexed by ``param_names``."""
        return pd.Series(self.stddev * np.sqrt(np.diag(self._xtx_inv())), index=list(self.param_names), name="bse")

    @property
    def tvalues(self) -> pd.Series:
        """t statistics ``params / bse``."""
        return (self.params / self.bse).rename("t")

    def coef_table(self) -> pd.DataFrame:
        """Coefficients, standard errors and t statistics (as summary.rlm).

        Returns
        -------
        pandas.DataFrame of shape (n_params, 3)
            Columns ``estimate``, ``se`` and ``t``, indexed by ``param_names``.
        """
        return pd.DataFrame({"estimate": self.params, "se": self.bse, "t": self.tvalues})

    def summary(self) -> str:
        """A text summary: method, psi, scale, IRLS steps and the coefficient table.

        Returns
        -------
        str
            Several lines.
        """
        lines = [
            f"Robust regression ({self.method}, psi = {self.psi.name}{self.psi.constants}, scale = {self.scale_kind})",
            f"n = {self.nobs}, p = {self.rank}, scale s = {self.scale:.6g}, IRLS steps = {self.iterations}"
            + ("" if self.converged else " (not converged)"),
        ]
        dropped = self.design.dropped
        if len(dropped):
            lines.append(f"dropped for missing values: {len(dropped)} row(s) ({format_labels(dropped)})")
        lines.append(self.coef_table().to_string())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<RLMFit {self.method} psi={self.psi.name} n={self.nobs} p={self.rank} s={self.scale:.4g}>"

    # ---- influence ---------------------------------------------------------------------------------------------
    def _newton_matrix(self) -> np.ndarray:
        """``X' diag(c psi'(u)) X`` (the Hessian of ``sum c rho(r/s)`` times ``s^2``; ``c`` the case weights, 1
        without)."""
        X = self.X_fitted
        return (X.T * (self.psi.deriv(self.u) * self._case_or_one)) @ X

    @property
    def _case_or_one(self) -> np.ndarray:
        c = self._case
        return np.ones(self.nobs) if c is None else c

    def influence(self, loo: str = "exact", *, tol: float = LOO_TOL, maxit: int = LOO_MAXIT) -> RLMInfluence:
        """Influence measures of every observation.

        Parameters
        ----------
        loo : {"exact", "one-step"}
            ``dfbeta`` and the deletion measures from the exact re-solved fits (the scale re-estimated without
            the row; default) or from the one-step Newton approximation with the scale held fixed. With case
            weights the exact fits are refits by IRLS from the full fit (:func:`brute_force_loo`).
        tol : float
            Exact deletion: bound on the error left, in standard errors of each coefficient.
        maxit : int
            Exact deletion: Newton steps before a row is refitted by IRLS from the full fit.

        Returns
        -------
        RLMInfluence

        Notes
        -----
        ``cov_ratio`` is ``det(cov_(i)) / det(cov)`` for the robust covariance ``tau^2 (X'CX)^{-1}`` of the fit
        and of each deleted fit: ``(tau_(i) / tau)^(2p) / (1 - c_i x_i'(X'CX)^{-1} x_i)``, with ``tau_(i)``
        summary.rlm's ``stddev`` from the deleted fit's residuals and scale (``C`` the case weights, the identity
        without). It is NaN where ``tau_(i)`` is not positive and finite.
        """
        if loo not in ("exact", "one-step"):
            raise ValueError(f"loo={loo!r} is not one of 'exact', 'one-step'")
        X = self.X_fitted
        n, p = X.shape
        u = self.u
        psi, d = self.psi.psi(u), self.psi.deriv(u)
        h = qr_factor(X, np.sqrt(self.weights)).hat_diag()
        hstar, one_step = self._one_step(psi, d)
        iters = err = None
        if loo == "one-step":
            dfbeta, s_loo = one_step, np.full(n, self.scale)
        elif self._case is not None:
            dfbeta, s_loo = brute_force_loo(self)
        else:
            ex = exact_deletion(self, one_step, tol=tol, maxit=maxit)
            dfbeta, s_loo, iters, err = ex.dfbeta, ex.scale, ex.iterations, ex.error_bound
        m = self._deletion_measures(dfbeta, s_loo, h)
        cov = self.cov_params().to_numpy()
        return RLMInfluence(
            leverage=h, resid=self._resid, standard_resid=m["std"], student_resid=m["stud"], press_resid=m["press"],
            sigma_loo=s_loo, cooks_distance=m["cook"], cooks_pvalue=dist.f_sf(m["cook"], p, n - p),
            dffits=m["dffits"], cov_ratio=self._cov_ratio(dfbeta, s_loo), dfbeta_data=dfbeta,
            params=np.array(self.coef),
            cov_unscaled_diag=np.diag(cov) / self.stddev**2, sigma=self.scale, rank=p, df_resid=float(n - p),
            n_obs=n,
            weights=None,  # no prior weights (the robustness weights are rlm_weights)
            index=self.index, param_names=self.param_names,
            method="rlm-exact" if loo == "exact" else "rlm-one-step", fit=self, rlm_weights=np.array(self.weights),
            scaled_resid=u, psi_values=psi, psi_deriv=d, leverage_newton=hstar, dfbeta_one_step=one_step,
            stddev=self.stddev, loo_iterations=iters, loo_error_bound=err, psi_bounded=self.psi.bounded_at(u),
        )

    def _one_step(self, psi: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``h*`` (n,) and the one-step ``b - b_(i)`` (n, p) with the scale held:
        ``s c_i psi_i M^{-1} x_i / (1 - h*_i)``, ``M = X' diag(c psi') X``, ``h*_i = c_i psi'_i x_i' M^{-1} x_i``."""
        X = self.X_fitted
        c = self._case_or_one
        Minv_x = np.linalg.solve(self._newton_matrix(), X.T).T  # (n, p)
        hstar = c * d * np.einsum("ij,ij->i", X, Minv_x)
        with np.errstate(divide="ignore", invalid="ignore"):
            one_step = (self.scale * c * psi / (1.0 - hstar))[:, None] * Minv_x
        one_step[~(hstar < 1.0 - 1e-12)] = np.nan
        return hstar, one_step

    def _deletion_measures(self, dfbeta: np.ndarray, s_loo: np.ndarray, h: np.ndarray) -> dict[str, np.ndarray]:
        """Cook's distance in the robust covariance, standardized and studentized residuals, DFFITS, PRESS."""
        p = self.rank
        r = self._resid
        cov_inv = np.linalg.inv(self.cov_params().to_numpy())
        cook = np.einsum("ij,jk,ik->i", dfbeta, cov_inv, dfbeta) / p
        bad = ~(h < 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            root = np.sqrt(1.0 - h)
            std = r / (self.scale * root)
            stud = r / (s_loo * root)
            dffits = stud * np.sqrt(h / (1.0 - h))
            press = np.where(bad, np.nan, r / np.where(bad, 1.0, 1.0 - h))
        for a in (std, stud, dffits):
            a[bad] = np.nan
        return {"cook": cook, "std": std, "stud": stud, "dffits": dffits, "press": press}

    def _cov_ratio(self, dfbeta: np.ndarray, s_loo: np.ndarray) -> np.ndarray:
        """Robust COVRATIO (see :meth:`influence`), in batches of deletions (``n x BATCH`` residuals at a time)."""
        X, y = self.X_fitted, self._y
        n, p = X.shape
        c = self._case_or_one
        h0 = c * np.einsum("ij,ij->i", X, X @ self._xtx_inv())
        out = np.full(n, np.nan)
        for start in range(0, n, BATCH):
            rows = np.arange(start, min(start + BATCH, n))
            B = self.coef[None, :] - dfbeta[rows]  # deleted fits' coefficients
            U = (y[:, None] - X @ B.T) / s_loo[rows][None, :]
            C = np.repeat(c[:, None], len(rows), axis=1)
            C[rows, np.arange(len(rows))] = 0.0  # row i is not in its deleted fit
            tau = _stddev(self.psi.psi(U), self.psi.deriv(U), C, s_loo[rows], p)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[rows] = (tau / self.stddev) ** (2 * p) / (1.0 - h0[rows])
        out[~np.isfinite(out) | (out <= 0)] = np.nan
        return out

    def group_deletion(self, groups: Any) -> GroupInfluence:
        """Exact deletion of whole groups of rows: the M-estimation (and its scale, unless fixed) re-solved without
        each group from the full fit: batched chord steps (:func:`_batched_group_deletion`) for a monotone psi
        (Huber), and IRLS to the fixed point for groups they do not settle, for redescending psi functions (whose
        several roots near the full fit IRLS and the chord steps can tell apart differently) and for case-weighted
        fits.

        Parameters
        ----------
        groups : array_like, mapping or sequence of sequences
            One group label per row (a Series is aligned on the row labels), ``{group: [row labels]}``, or a list
            of lists of row labels.

        Returns
        -------
        GroupInfluence
            ``dfbeta = b - b_(G)``; ``dfbetas`` over the robust standard errors; ``cooks_distance`` ``dfbeta'
            cov^{-1} dfbeta / p`` in the robust covariance; ``sigma_loo`` the deleted fit's scale; ``leverage`` the
            sum of the group's hat values of the weighted fit.
        """
        from .deletion import resolve_groups

        labels, members = resolve_groups(self.index, groups)
        X, y, case = self.X_fitted, self._y, self._case
        n, p = X.shape
        dfbeta = np.full((len(members), p), np.nan)
        scales = np.full(len(members), np.nan)
        settled = np.zeros(len(members), dtype=bool)
        failed: list[Any] = []
        if case is None and not self.psi.redescending:
            # a redescending psi has several roots near the full fit; IRLS from the full fit picks the one R's
            # rlm(init = coef(fit)) picks, the chord steps need not
            dfbeta, scales, settled = _batched_group_deletion(self, members)
        for g, rows in enumerate(members):
            if settled[g]:
                continue
            keep = np.ones(n, dtype=bool)
            keep[rows] = False
            if keep.sum() <= p:
                continue
            try:
                coef, s_g, _, _, conv = _irls(X[keep], y[keep], self.psi, self.scale_spec, self.coef.copy(),
                                              self.scale, acc=1e-15, maxit=REFIT_MAXIT,
                                              case=None if case is None else case[keep])
            except ConvergenceError:
                conv = False
            if not conv:
                failed.append(labels[g])
                continue
            dfbeta[g], scales[g] = self.coef - coef, s_g
        if failed:
            warn_not_converged("rlm: IRLS without the group", REFIT_MAXIT, "steps", ": their deletion measures are "
                               "NaN", rows=failed, noun="groups")
        cov = self.cov_params().to_numpy()
        h = qr_factor(X, np.sqrt(self.weights)).hat_diag()
        return GroupInfluence(
            groups=labels, size=np.array([len(m) for m in members], dtype=float), loo_params=self.coef - dfbeta,
            dfbeta=dfbeta, dfbetas=dfbeta / np.sqrt(np.diag(cov)),
            cooks_distance=np.einsum("gi,ij,gj->g", dfbeta, np.linalg.inv(cov), dfbeta) / p, sigma_loo=scales,
            leverage=np.array([h[m].sum() for m in members]), param_names=self.param_names, method="rlm-exact",
        )

    def robustness(self, infl: RLMInfluence | None = None, *, cutoff: float | None = None) -> pd.DataFrame:
        """Which rows psi holds back and which an OLS fit of the same design lets dominate.

        Parameters
        ----------
        infl : RLMInfluence, optional
            This fit's influence (computed, exact, when not given).
        cutoff : float, optional
            Cook's distance above which a row dominates (default ``4 / n``, the common rule).

        Returns
        -------
        pandas.DataFrame
            Per row: ``weight`` (final IRLS weight), ``scaled_resid`` (``r / s``), ``psi_bounded`` (psi caps or
            reduces the row's pull), ``cooks_rlm`` and ``cooks_ols`` (Cook's distance of the exact deletion in the
            robust fit and in OLS), ``dfbetas_rlm`` and ``dfbetas_ols`` (largest ``|DFBETAS|``), ``ols_dominant``
            (OLS Cook's distance above the cut-off) and ``tamed`` (dominant under OLS, not under the robust fit).
        """
        from .ols import fit_design

        infl = self.influence() if infl is None else infl
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            o = fit_design(self.design).influence()
        n = self.nobs
        cut = 4.0 / n if cutoff is None else float(cutoff)
        frame = pd.DataFrame(
            {
                "weight": infl.rlm_weights,
                "scaled_resid": infl.scaled_resid,
                "psi_bounded": infl.psi_bounded,
                "cooks_rlm": infl.cooks_distance,
                "cooks_ols": o.cooks_distance,
                "dfbetas_rlm": np.nanmax(np.abs(infl.dfbetas), axis=1),
                "dfbetas_ols": np.nanmax(np.abs(o.dfbetas), axis=1),
            },
            index=self.index,
        )
        frame["ols_dominant"] = frame["cooks_ols"] > cut
        frame["tamed"] = frame["ols_dominant"] & ~(frame["cooks_rlm"] > cut)
        frame.attrs["cutoff"] = cut
        return frame


def _stddev(psi: np.ndarray, dpsi: np.ndarray, c: np.ndarray, s: np.ndarray | float, p: int) -> np.ndarray:
    """summary.rlm's ``stddev`` (``tau``) of fits given column-wise: ``psi``, ``psi'`` and case weights ``c``
    (0 for rows left out) of shape (n, k), scales ``s`` (k,). With all weights 1 this is the unweighted formula
    (``n m2 - m1^2 = n (n - 1) var``)."""
    nn = c.sum(axis=0)
    S = np.sum(c * psi * psi, axis=0) * np.asarray(s) ** 2 / (nn - p)
    m1, m2 = np.sum(c * dpsi, axis=0), np.sum(c * dpsi * dpsi, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mn = m1 / nn
        kappa = 1.0 + p * (m2 - m1 * m1 / nn) / (nn - 1.0) / (nn * mn * mn)
        tau = np.sqrt(S) * kappa / mn
    return np.where(mn > 0, tau, np.nan)


# ---------------------------------------------------------------------------------------------------------------
# fitting


def _wls(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)
    return coef


def _irls(
    X: np.ndarray, y: np.ndarray, psi: Psi, scale: _Scale, coef: np.ndarray, s: float | None, *, acc: float,
    maxit: int, case: np.ndarray | None = None,
) -> tuple[np.ndarray, float, np.ndarray, int, bool]:
    """MASS::rlm's iteration from ``coef`` (and the scale ``s`` for proposal 2's first step), run to its fixed
    point: stops when the relative change of the residuals is at most ``acc`` or has stopped shrinking. ``case``:
    case weights (``wt.method = "case"``), multiplying the IRLS weights; the returned weights include them."""
    n, p = X.shape
    r = y - X @ coef
    if s is None:
        # MASS: mad(resid, 0), R's constant 1.4826, or wmad with case weights (only proposal 2's first step uses it)
        if scale.kind == "fixed":
            s = float(scale.value)  # type: ignore[arg-type]
        else:
            s = float(np.median(np.abs(r))) * 1.4826 if case is None else wmad(r, case)
    df = n - p if case is None else float(np.sum(case)) - p
    prev = math.inf
    stall = 0
    w = np.ones(n)
    for it in range(1, maxit + 1):
        s = scale.update(r, s, df, case)
        if s == 0.0:
            raise ConvergenceError("the scale estimate is 0: more than half the residuals are 0 (an exact fit)")
        w = psi.weight(r / s)
        if case is not None:
            w = w * case
        if not np.any(w > 0):
            raise ConvergenceError("every weight is 0: the scale is too small for the residuals")
        coef = _wls(X, y, w)
        r_new = y - X @ coef
        delta = math.sqrt(float(np.sum((r - r_new) ** 2)) / max(1e-20, float(np.sum(r * r))))
        r = r_new
        if delta <= acc:
            return coef, s, w, it, True
        stall = stall + 1 if delta >= prev else 0
        if stall >= 5 and delta < 1e3 * acc:
            return coef, s, w, it, True  # at rounding level: the change no longer decreases
        prev = min(prev, delta)
    return coef, s, w, maxit, False


def _working_arrays(design: Design, wt_method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(X, y, case weights or None)`` as rlm fits them: the offset taken from ``y``; prior weights either scale
    the rows by their square roots (``"inv.var"``) or become case weights (``"case"``)."""
    X = np.asarray(design.X, dtype=float)
    y = np.asarray(design.y, dtype=float)
    if y.ndim != 1:
        raise DataError("robust regression needs a one-column response")
    if design.offset is not None:
        y = y - np.asarray(design.offset, dtype=float)
    if design.weights is None:
        return X, y, None
    w = np.asarray(design.weights, dtype=float)
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise DataError("rlm's prior weights must be finite and non-negative")
    if wt_method == "inv.var":
        fac = np.sqrt(w)
        return X * fac[:, None], y * fac, None
    if wt_method == "case":
        return X, y, w
    raise ValueError(f"wt_method={wt_method!r} is not one of 'inv.var', 'case'")


def _start(
    method: str, psi: str | Psi, k: Any, scale: Any, k2: float, mad_constant: float, init: Any, X: np.ndarray,
    y: np.ndarray, case: np.ndarray | None, nsamp: Any, seed: int, r_seed: int | None = None,
) -> tuple[Psi, _Scale, np.ndarray, float | None, np.ndarray | None]:
    """psi, scale rule, start coefficients and scale, and the S-estimate's coefficients (MM) of a fit."""
    p = X.shape[1]
    if method == "M":
        ps = psi_function(psi, k)
        sc = _scale_spec(scale, k2, mad_constant)
        if init is None:
            return ps, sc, _wls(X, y, np.ones(len(y)) if case is None else case), None, None
        coef0, s0 = _init(init, p)
        return ps, sc, coef0, s0, None
    if method != "MM":
        raise ValueError(f"method={method!r} is not one of 'M', 'MM'")
    if not (isinstance(psi, str) and psi.lower() in ("bisquare", "psi.bisquare")) and psi != "huber":
        raise ValueError("method='MM' uses the bisquare psi (MASS's default); pass psi='bisquare' or leave it")
    c = 4.685 if k is None else float(k)
    if c < 1.548:
        raise ValueError("the MM bisquare constant must be at least 1.548")
    if init is None:  # (with case weights, lqs sees the unweighted data, as in rlm)
        s_est = lqs_s_estimate(X, y, nsamp=nsamp, seed=seed, r_seed=r_seed)
        coef0, s0 = s_est.coef, s_est.scale
    else:
        coef0, s0 = _init(init, p)
        if s0 is None:
            coef0, s0 = s_start_from_coef(X, y, coef0)
        elif not (np.isfinite(s0) and s0 > 0):
            raise ValueError(f"init's S-scale must be a positive number, got {s0!r}")
    return Psi("bisquare", (c,)), _Scale("fixed", float(s0)), coef0, s0, np.array(coef0)


def fit_rlm_design(
    design: Design,
    psi: str | Psi = "huber",
    *,
    k: Any = None,
    scale: Any = "MAD",
    method: str = "M",
    k2: float = 1.345,
    mad_constant: float = MAD_CONSTANT,
    init: Any = None,
    acc: float = 1e-14,
    maxit: int = 2000,
    seed: int = 0,
    nsamp: Any = "best",
    wt_method: str = "inv.var",
    r_seed: int | None = None,
) -> RLMFit:
    """Fit a validated :class:`Design` by M- or MM-estimation (see :func:`rlm`)."""
    X, y, case = _working_arrays(design, wt_method)
    f = qr_factor(X)
    if f.rank < X.shape[1]:
        names = [design.param_names[j] for j in f.aliased]
        raise DesignError(f"robust regression needs a design of full column rank; aliased columns: {names}")
    n, p = X.shape
    if n <= p:
        raise DesignError(f"robust regression needs more observations ({n}) than coefficients ({p})")
    method = str(method).upper()
    ps, sc, coef0, s0, s_coef = _start(method, psi, k, scale, k2, mad_constant, init, X, y, case, nsamp, seed,
                                       r_seed)
    coef, s, _, it, conv = _irls(X, y, ps, sc, np.asarray(coef0, dtype=float), s0, acc=acc, maxit=maxit, case=case)
    if not conv:
        warn_not_converged("rlm: the IRLS", maxit, "steps", category=RuntimeWarning)
    weights = psi_weights(ps, y - X @ coef, s)
    return RLMFit(design=design, coef=coef, scale=s, weights=weights if case is None else weights * case, psi=ps,
                  scale_spec=sc, method=method, iterations=it, converged=conv, s_coef=s_coef,
                  wt_method=None if design.weights is None else wt_method, _Xw=X, _yw=y)


def psi_weights(psi: Psi, r: np.ndarray, s: float) -> np.ndarray:
    """``psi(r/s) / (r/s)``: the IRLS weights at the fixed point."""
    return psi.weight(r / s)


def _init(init: Any, p: int) -> tuple[np.ndarray, float | None]:
    if isinstance(init, tuple) and len(init) == 2 and np.ndim(init[1]) == 0:
        coef, s = np.asarray(init[0], dtype=float), float(init[1])
    else:
        coef, s = np.asarray(init, dtype=float), None
    if coef.shape != (p,):
        raise ValueError(f"init coefficients must have {p} entries, got shape {coef.shape}")
    return coef, s


def rlm(
    y_or_formula: Any,
    X: Any = None,
    *,
    data: Any = None,
    psi: str = "huber",
    k: Any = None,
    scale: Any = "MAD",
    method: str = "M",
    k2: float = 1.345,
    init: Any = None,
    missing: str = "drop",
    acc: float = 1e-14,
    maxit: int = 2000,
    seed: int = 0,
    nsamp: Any = "best",
    weights: Any = None,
    wt_method: str = "inv.var",
    r_seed: int | None = None,
) -> RLMFit:
    """Robust linear regression by M-estimation, as MASS::rlm (iterated to its fixed point).

    Parameters
    ----------
    y_or_formula : str or array_like of shape (n_obs,)
        A formula (with ``data``) or the response.
    X : array_like of shape (n_obs, n_params), optional
        The design when ``y_or_formula`` is the response (used as given).
    data : pandas.DataFrame, optional
    psi : {"huber", "bisquare", "hampel"}
        MASS's ``psi.huber`` (k = 1.345), ``psi.bisquare`` (c = 4.685), ``psi.hampel`` (a, b, c = 2, 4, 8).
    k : float or tuple of float, optional
        Tuning constant(s) of ``psi``.
    scale : {"MAD", "Huber", "proposal 2"} or float
        Scale re-estimated at each step: ``median |r| / 0.6745`` (MASS's default), Huber's proposal 2 (with
        ``k2``), or held at the given number.
    method : {"M", "MM"}
        "MM": bisquare M-step (``c = k``, default 4.685) with the scale fixed at an S-estimate's (breakdown 1/2),
        started from it, as ``rlm(method = "MM")``. The S-estimate is ``lqs(method = "S", k0 = 1.548)``'s, computed
        by lqs's algorithm (:mod:`regdiag.linear.rlm_s`): when ``choose(n, p) < 5000`` lqs tries every
        ``p``-subset and the S-estimate, hence the MM fit, reproduces R's to rounding. Otherwise lqs draws
        ``min(500 p, 3000)`` subsets with R's random number generator: by default the subsets here come from
        NumPy's (``seed``), and the S-estimate can differ from R's. To reproduce R's MM fit there, pass
        ``r_seed`` (R's draws after ``set.seed(r_seed)``), or R's S-estimate as ``init=(S$coefficents, S$scale)``
        for ``S <- lqs(x, y, intercept = FALSE, method = "S", k0 = 1.548)`` (``coefficents``, so spelt, holds
        lqs's refined coefficients, the ones ``rlm`` starts from).
    k2 : float
        Huber's proposal 2 constant.
    init : array_like or tuple, optional
        ``method="M"``: start coefficients (or ``(coefficients, scale)``) instead of least squares.
        ``method="MM"``: ``(coefficients, scale)`` of an S-estimate to start from, with the scale held; or
        coefficients alone, whose S-scale is then solved and refined as lqs does for a candidate it keeps.
    missing : {"drop", "raise"}
    acc, maxit : float, int
        Stop when the relative change of the residuals is at most ``acc`` (or at rounding level).
    seed : int
        Seed of the S search's random subsets (``method="MM"`` with ``choose(n, p) >= 5000``).
    nsamp : {"best", "exact", "sample"} or int
        lqs's ``nsamp`` for the S search (``method="MM"``).
    weights : str or array_like of shape (n_obs,), optional
        Prior weights (a column name or values), non-negative, as ``rlm(weights = )``.
    wt_method : {"inv.var", "case"}
        MASS's ``wt.method``: ``"inv.var"`` (default) takes the weights as inverse variances, fitting the rows
        scaled by ``sqrt(w)`` (the S search of MM too); ``"case"`` as case weights, multiplying the IRLS weights,
        with a weighted MAD (or proposal 2), summary.rlm's weighted standard errors, and exact deletion by refits.
        An integer case weight equals repeating the row.
    r_seed : int, optional
        ``method="MM"`` with random subsets: draw them as R does after ``set.seed(r_seed)`` (R's default
        generator), reproducing ``set.seed(r_seed); rlm(..., method = "MM")``.

    Returns
    -------
    RLMFit

    Examples
    --------
    >>> import regdiag
    >>> df = regdiag.datasets.load("stackloss")
    >>> fit = regdiag.rlm("stack_loss ~ Air_Flow + Water_Temp + Acid_Conc", data=df)
    >>> round(float(fit.scale), 4)
    2.4405
    """
    design = make_design(y_or_formula, X, data=data, weights=weights, missing=missing)
    return fit_rlm_design(design, psi, k=k, scale=scale, method=method, k2=k2, init=init, acc=acc, maxit=maxit,
                          seed=seed, nsamp=nsamp, wt_method=wt_method, r_seed=r_seed)


def rlm_from_statsmodels(results: Any) -> RLMFit:
    """Refit a statsmodels ``RLM`` results object with its norm (HuberT, TukeyBiweight, Hampel) and scale
    estimate (``mad``, with statsmodels' constant ``norm.ppf(0.75)``; or the scale held fixed with
    ``update_scale=False``) to the fixed point.

    statsmodels does not record ``update_scale``: a fit whose scale is not the MAD of its final residuals (to 1e-9,
    relative) held its scale fixed, and is refitted with that scale. Where the two agree (every weight 1 under
    Huber's psi, say) both readings give the same estimate; the deletion measures then re-estimate the scale.

    Parameters
    ----------
    results : statsmodels.robust.robust_linear_model.RLMResults
        A fitted statsmodels ``RLM``.

    Returns
    -------
    RLMFit
        The same model refitted by regdiag.

    Raises
    ------
    DataError
        For a norm or scale estimate regdiag does not implement.
    """
    import statsmodels.robust.norms as norms

    from ..design import Design

    model = results.model
    norm = model.M
    if isinstance(norm, norms.HuberT):
        ps = Psi("huber", (float(norm.t),))
    elif isinstance(norm, norms.TukeyBiweight):
        ps = Psi("bisquare", (float(norm.c),))
    elif isinstance(norm, norms.Hampel):
        ps = Psi("hampel", (float(norm.a), float(norm.b), float(norm.c)))
    else:
        raise DataError(f"statsmodels RLM norm {type(norm).__name__} is not supported (HuberT, TukeyBiweight, "
                        "Hampel are)")
    X = np.asarray(model.exog, dtype=float)
    y = np.asarray(model.endog, dtype=float)
    labels = getattr(getattr(model, "data", None), "row_labels", None)
    design = Design(X=X, y=y, weights=None, offset=None,
                    index=pd.Index(labels) if labels is not None else pd.RangeIndex(len(y)),
                    param_names=tuple(str(c) for c in model.exog_names), response_name=str(model.endog_names),
                    has_intercept=bool(np.any(np.all(X == 1.0, axis=0))))
    opts = getattr(results, "fit_options", None) or {}
    scale_est = opts.get("scale_est", "mad")
    if not (isinstance(scale_est, str) and scale_est in ("mad", "fixed")):
        raise DataError(f"statsmodels RLM with scale_est={scale_est!r} is not supported (only 'mad')")
    scale: str | float = float(results.scale)  # 'fixed': start_scale given with update_scale=False
    if scale_est == "mad":
        # statsmodels does not record update_scale. A fit that re-estimates the scale ends with it equal to the MAD
        # of its final residuals (about 0); with update_scale=False it is held at the MAD of the first residuals
        params = np.asarray(results.params, dtype=float)
        mad = float(np.median(np.abs(y - X @ params))) / float(dist.norm_ppf(0.75))
        if math.isclose(float(results.scale), mad, rel_tol=1e-9, abs_tol=0.0):
            scale = "MAD"
    return fit_rlm_design(design, ps, scale=scale, mad_constant=float(dist.norm_ppf(0.75)),
                          init=np.asarray(results.params, dtype=float))
    return fit_rlm_design(design, ps, scale=scale, mad_constant=float(dist.norm_ppf(0.75)),
                          init=np.asarray(results.params, dtype=float))


# ---------------------------------------------------------------------------------------------------------------
# exact deletion


@dataclass(frozen=True, eq=False)
class ExactRLMDeletion:
    """Exact leave-one-out results: ``dfbeta`` (n, p), the deleted fits' scales ``scale`` (n,), ``iterations``
    (n,), ``error_bound`` (n,): bound on the error left, in standard errors; ``refitted`` (n,) rows solved by IRLS."""

    dfbeta: np.ndarray
    scale: np.ndarray
    iterations: np.ndarray
    error_bound: np.ndarray
    refitted: np.ndarray


def _deleted_scales(
    fit: RLMFit, R: np.ndarray, rows: np.ndarray, s_prev: np.ndarray, band: tuple[np.ndarray, int, int, np.ndarray],
    delta_bound: np.ndarray,
) -> tuple[np.ndarray, Any]:
    """The scale of each deleted fit from its residuals ``R`` (n, B) (row ``rows[j]`` left out of column j), and
    for the MAD the two rows at the middle positions (None otherwise)."""
    sc = fit.scale_spec
    n, B = R.shape
    if sc.kind == "fixed":
        return np.full(B, float(sc.value)), None  # type: ignore[arg-type]
    if sc.kind == "huber":
        df = n - 1 - fit.rank
        out = s_prev.copy()
        A = R * R
        A[rows, np.arange(B)] = 0.0
        for _ in range(3):  # Newton on s^2 df gamma = sum min(r^2, k2^2 s^2), piecewise quadratic in s
            cap = (sc.k2 * out) ** 2
            inside = A < cap[None, :]
            inside[rows, np.arange(B)] = True
            n_out = np.sum(~inside, axis=0)
            total = np.sum(np.where(inside, A, 0.0), axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                new = np.sqrt(total / (df * sc.gamma - sc.k2**2 * n_out))
            out = np.where(np.isfinite(new) & (new > 0), new, out)
        return out, None
    # MAD: the median of the other n - 1 absolute residuals, from a band of candidates around the median
    order, lo, hi, a_sorted = band
    m = n - 1
    k1, k2_ = (m - 1) // 2, m // 2
    cand = order[lo:hi]
    V = np.abs(R[cand])  # (K, B)
    rank_of = np.empty(n, dtype=np.intp)
    rank_of[order] = np.arange(n)
    in_band = (rank_of[rows] >= lo) & (rank_of[rows] < hi)
    V[rank_of[rows[in_band]] - lo, np.flatnonzero(in_band)] = np.inf
    V.sort(axis=0)
    below = lo - (rank_of[rows] < lo).astype(np.intp)
    p1, p2 = k1 - below, k2_ - below
    K = hi - lo
    ok = (p1 >= 0) & (p2 < K - 1)
    cols = np.arange(B)
    v1 = V[np.clip(p1, 0, K - 1), cols]
    v2 = V[np.clip(p2, 0, K - 1), cols]
    if lo > 0:
        ok &= a_sorted[lo - 1] + delta_bound <= v1
    if hi < n:
        ok &= a_sorted[hi] - delta_bound >= v2
    med = 0.5 * (v1 + v2)
    # the rows at the two middle positions (the median's gradient in b is theirs)
    Vi = np.argsort(np.abs(R[cand]) + np.where(np.arange(K)[:, None] == (rank_of[rows] - lo)[None, :], np.inf, 0.0),
                    axis=0, kind="stable")
    m1 = cand[Vi[np.clip(p1, 0, K - 1), cols]]
    m2 = cand[Vi[np.clip(p2, 0, K - 1), cols]]
    if not np.all(ok):  # the band was not wide enough for these: the full median
        for j in np.flatnonzero(~ok):
            others = np.delete(np.arange(n), rows[j])
            col = np.abs(R[others, j])
            o = np.argsort(col, kind="stable")
            m1[j], m2[j] = others[o[k1]], others[o[k2_]]
            med[j] = 0.5 * (col[o[k1]] + col[o[k2_]])
    return med / sc.mad_constant, (m1, m2)


def exact_deletion(fit: RLMFit, first: np.ndarray, *, tol: float = LOO_TOL, maxit: int = LOO_MAXIT) -> ExactRLMDeletion:
    """Exact ``b - b_(i)`` and ``s_(i)`` for every row: the M-estimation (and scale) re-solved without the row.

    Newton steps warm-started at the one-step estimate ``first``, batched over ``BATCH`` deletions: for each
    deletion the residuals of all rows at its current iterate (one matrix product), its scale (the median of
    the other ``n - 1`` absolute residuals, found among ``MEDIAN_BAND`` candidates each side of the full fit's
    median with a proof that no other row can take its place, else by a full selection), and its estimating
    function ``F(b) = sum_{j != i} psi(r_j / s(b)) x_j``. The step solves with the Jacobian of ``F`` at the full
    fit with row i removed, the scale's dependence on ``b`` included
    (``-(1/s)[X'DX - psi'_i x_i x_i' + (1/s) g (ds/db)']``, ``g = sum_{j != i} psi'_j r_j x_j``): a chord method,
    whose error after a correction ``c_k`` (in standard errors) is at most ``c_k rho / (1 - rho)`` for a contraction
    factor ``rho``, estimated as the ratio of successive corrections. A deletion has converged when the last
    correction is at most ``tol`` with ``rho <= 1/2`` (the bound then at most ``tol``; the correction itself rather
    than the extrapolated bound because the median's row may switch between iterates, a kink in ``F``); one that
    has not after ``maxit`` steps (or contracts more slowly) is refitted by IRLS started at the full fit, run to its
    fixed point. For a redescending psi the estimating equation has several roots near the full fit, and the deleted
    fit is the one R's ``rlm(init = coef(fit))`` reaches: IRLS from the full fit, run for every row at once to a
    relative change of :data:`IRLS_CHECK_ACC`, finds the rows where it settles more than :data:`ROOT_GAP_SE`
    standard errors from the chord steps' root (those are refitted by IRLS to its fixed point) and those where it
    does not settle (cycling between two roots as the MAD's middle rows switch; NaN, with one warning naming the
    rows).

    Parameters
    ----------
    fit : RLMFit
        The full fit.
    first : ndarray of shape (n_obs, n_params)
        The one-step estimates of ``b - b_(i)`` the iteration starts from (rows that are not finite are refitted).
    tol : float
        Convergence tolerance, in standard errors of each coefficient.
    maxit : int
        Most chord steps per deletion before it is refitted.

    Returns
    -------
    ExactRLMDeletion
        ``dfbeta`` (n_obs, n_params), the deleted fits' scales, iterations, error bounds and which rows were
        refitted.
    """
    ctx = _DeletionSetup.at(fit)
    n = ctx.n
    dfbeta = np.array(first, dtype=float)
    scales = np.full(n, ctx.s)
    iterations = np.ones(n, dtype=np.intp)
    err = np.full(n, np.inf)
    pending = np.flatnonzero(np.all(np.isfinite(dfbeta), axis=1))
    slow = np.setdiff1d(np.arange(n), pending)
    for start in range(0, pending.size, BATCH):
        rows = pending[start:start + BATCH]
        D, s_cur, unsettled = _newton_batch(ctx, fit, rows, -dfbeta[rows], iterations, err, tol=tol, maxit=maxit)
        scales[rows] = s_cur
        dfbeta[rows] = -D
        slow = np.union1d(slow, unsettled)
    if fit.psi.redescending:
        # several roots near the full fit: the deleted fit is the one IRLS reaches from the full fit (R's
        # rlm(init = coef(fit))). IRLS for every row at once, near its fixed point, tells where the chord steps
        # found another root (those rows are refitted by IRLS) and where IRLS does not settle (NaN: R's neither)
        coefs, _, _, done = _irls_batched(fit, np.arange(n), acc=IRLS_CHECK_ACC)
        with np.errstate(invalid="ignore"):
            gap = np.max(np.abs(fit.coef[None, :] - dfbeta - coefs) / ctx.se[None, :], axis=1)
        slow = np.union1d(slow, np.flatnonzero(done & ~(gap <= ROOT_GAP_SE)))
        if not done.all():
            dfbeta[~done], scales[~done], err[~done] = np.nan, np.nan, np.nan
            slow = np.setdiff1d(slow, np.flatnonzero(~done))
            warn_not_converged("rlm: IRLS without the row", REFIT_MAXIT, "steps", ": their deletion measures are NaN",
                               rows=fit.index[~done])
    refitted = np.zeros(n, dtype=bool)
    _refit_rows(fit, np.asarray(slow, dtype=np.intp), dfbeta, scales, iterations, err, refitted)
    return ExactRLMDeletion(dfbeta=dfbeta, scale=scales, iterations=iterations, error_bound=err, refitted=refitted)


@dataclass(frozen=True, eq=False)
class _DeletionSetup:
    """What every batch of exact deletions shares: the full fit's residuals, ``psi'``, ``X'DX``, the scale's
    gradient ``ds/db``, the median band, and the bound ``|x_j' d| <= cmax ||L' d||`` (``X'X = L L'``)."""

    X: np.ndarray
    r: np.ndarray
    d: np.ndarray
    M: np.ndarray
    g_full: np.ndarray
    se: np.ndarray
    dsdb: np.ndarray
    band: tuple[np.ndarray, int, int, np.ndarray]
    Lc: np.ndarray
    cmax: float
    s: float
    n: int

    @classmethod
    def at(cls, fit: RLMFit) -> _DeletionSetup:
        X = fit.X_fitted
        n = X.shape[0]
        r = fit._y - X @ fit.coef
        d = fit.psi.deriv(r / fit.scale)
        dsdb, order = _scale_gradient(fit.scale_spec, X, r, fit.scale)
        mid_rank = (n - 1) // 2
        lo, hi = max(0, mid_rank - MEDIAN_BAND), min(n, mid_rank + MEDIAN_BAND + 2)
        Lc = np.linalg.cholesky(X.T @ X)
        cmax = math.sqrt(float(np.max(np.sum(np.linalg.solve(Lc, X.T) ** 2, axis=0))))
        return cls(X=X, r=r, d=d, M=(X.T * d) @ X, g_full=X.T @ (d * r), se=fit.bse.to_numpy(), dsdb=dsdb,
                   band=(order, lo, hi, np.abs(r)[order]), Lc=Lc, cmax=cmax, s=fit.scale, n=n)


def _scale_gradient(sc: _Scale, X: np.ndarray, r: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray]:
    """``ds/db`` of the scale rule at the full fit (with row i removed, to first order), and the order of
    ``|r|``."""
    n, p = X.shape
    order = np.argsort(np.abs(r), kind="stable")
    if sc.kind == "mad":
        mid = [order[(n - 1) // 2], order[n // 2]]
        return -sum(np.sign(r[m]) * X[m] for m in mid) / (2.0 * sc.mad_constant), order
    if sc.kind == "huber":
        inside = np.abs(r) < sc.k2 * s
        return -(X[inside].T @ r[inside]) / (s * ((n - 1 - p) * sc.gamma - sc.k2**2 * np.sum(~inside))), order
    return np.zeros(p), order


def _inv(J: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(J)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(J)


def _newton_batch(
    ctx: _DeletionSetup, fit: RLMFit, rows: np.ndarray, D: np.ndarray, iterations: np.ndarray, err: np.ndarray, *,
    tol: float, maxit: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chord steps for the deletions ``rows`` from ``D = b_(i) - b``; updates ``iterations`` and ``err`` in place
    and returns ``(D, the deleted scales, the rows left unsettled)``."""
    X, r, d, s, sc, psi = ctx.X, ctx.r, ctx.d, ctx.s, fit.scale_spec, fit.psi
    B = rows.size
    Xi = X[rows]
    # Jacobian of each deletion's estimating function (times -s), at the full fit
    g = ctx.g_full[None, :] - (d[rows] * r[rows])[:, None] * Xi
    J0 = ctx.M[None] - (d[rows][:, None, None] * Xi[:, :, None] * Xi[:, None, :])
    Jinv = _inv(J0 + g[:, :, None] * ctx.dsdb[None, None, :] / s)
    D = np.array(D, dtype=float)
    s_cur = np.full(B, s)
    prev = np.full(B, np.inf)
    active = np.ones(B, dtype=bool)
    unsettled = np.zeros(0, dtype=np.intp)
    for it in range(maxit):
        a = np.flatnonzero(active)
        if a.size == 0:
            break
        Da = D[a]
        R = r[:, None] - blocked_matmul(X, Da.T)  # residuals of every row at each iterate (n, |a|)
        delta_bound = ctx.cmax * np.linalg.norm(Da @ ctx.Lc, axis=1)
        s_new, mids = _deleted_scales(fit, R, rows[a], s_cur[a], ctx.band, delta_bound)
        if mids is not None:  # the scale's gradient from the current median rows: a Newton step in the scale
            m1, m2 = mids
            sg = -(np.sign(R[m1, np.arange(a.size)])[:, None] * X[m1]
                   + np.sign(R[m2, np.arange(a.size)])[:, None] * X[m2]) / (2.0 * sc.mad_constant)
            Jinv[a] = _inv(J0[a] + g[a][:, :, None] * sg[:, None, :] / s)
        R /= s_new[None, :]
        Psi_ = psi.psi(R)
        Psi_[rows[a], np.arange(a.size)] = 0.0
        F = blocked_matmul(Psi_.T, X)  # (|a|, p)
        step = s_new[:, None] * np.einsum("bij,bj->bi", Jinv[a], F)
        D[a] = Da + step
        iterations[rows[a]] += 1
        # the correction of the joint iterate (b, s): b in its standard errors, s in s / sqrt(n) (the order of
        # a scale estimate's standard error); s lags b by one step, so both must settle
        crit = np.maximum(np.max(np.abs(step) / ctx.se[None, :], axis=1),
                          np.abs(s_new - s_cur[a]) * math.sqrt(ctx.n) / s)
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.where(np.isfinite(prev[a]), crit / prev[a], 1.0)
            bound = np.where(rho < 1.0, crit * rho / (1.0 - rho), np.inf)
        # the median's row can change from one iterate to the next (a kink), which makes a single small ratio
        # unreliable: the last correction itself must be within tol, while contracting
        done = (crit == 0.0) | ((rho <= 0.5) & (crit <= tol))
        err[rows[a]] = np.where(crit == 0.0, 0.0, bound)
        stalled = ~np.isfinite(crit) | ((it >= 3) & (rho > 0.9))
        prev[a] = crit
        s_cur[a] = s_new
        active[a[done | stalled]] = False
        unsettled = np.union1d(unsettled, rows[a[stalled & ~done]])
    return D, s_cur, np.union1d(unsettled, rows[active])


def _batched_group_deletion(fit: RLMFit, members: list[np.ndarray], *, tol: float = LOO_TOL,
                            maxit: int = LOO_MAXIT) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(b - b_(G), s_(G), settled)`` for each group by chord steps batched over groups: at each iterate the
    residuals of every row (one product), the scale without the group (the median of the other absolute
    residuals by a full sort, proposal 2 by Newton on its equation, or fixed) and the estimating function
    ``F = sum_{j not in G} psi(r_j / s) x_j``; the step solves with the Jacobian at the full fit without the group
    (``X'DX - X_G' D_G X_G`` plus the scale's dependence, as for one row). A group has settled when its
    correction (coefficients in standard errors, the scale in ``s / sqrt(n)``) is at most ``tol`` while
    contracting by half."""
    ctx = _DeletionSetup.at(fit)
    X, r, d, s, n = ctx.X, ctx.r, ctx.d, ctx.s, ctx.n
    p = X.shape[1]
    m = len(members)
    dfbeta = np.full((m, p), np.nan)
    scales = np.full(m, np.nan)
    settled = np.zeros(m, dtype=bool)
    batch = int(max(1, min(BATCH, (1 << 20) // max(n, 1))))
    for start in range(0, m, batch):
        gs = np.arange(start, min(start + batch, m))
        B = gs.size
        mask = np.zeros((n, B), dtype=bool)
        J0 = np.empty((B, p, p))
        gvec = np.empty((B, p))
        for j, g in enumerate(gs):
            rows = np.asarray(members[g])
            mask[rows, j] = True
            Xg = X[rows]
            gvec[j] = ctx.g_full - Xg.T @ (d[rows] * r[rows])
            J0[j] = ctx.M - (Xg.T * d[rows]) @ Xg
        Jinv = _inv(J0 + gvec[:, :, None] * ctx.dsdb[None, None, :] / s)
        D = np.zeros((B, p))
        s_cur = np.full(B, s)
        prev = np.full(B, np.inf)
        active = np.ones(B, dtype=bool)
        for it in range(maxit):
            a = np.flatnonzero(active)
            if a.size == 0:
                break
            R = r[:, None] - blocked_matmul(X, D[a].T)
            s_new, mids = _group_scales(fit, R, mask[:, a], s_cur[a])
            if mids is not None:  # the MAD's gradient from the current median rows (a Newton step in the scale)
                m1, m2 = mids
                ca = np.arange(a.size)
                sg = -(np.sign(R[m1, ca])[:, None] * X[m1] + np.sign(R[m2, ca])[:, None] * X[m2]) / (
                    2.0 * fit.scale_spec.mad_constant)
                Jinv[a] = _inv(J0[a] + gvec[a][:, :, None] * sg[:, None, :] / s)
            Psi_ = fit.psi.psi(R / s_new[None, :])
            Psi_[mask[:, a]] = 0.0
            step = s_new[:, None] * np.einsum("bij,bj->bi", Jinv[a], blocked_matmul(Psi_.T, X))
            D[a] += step
            crit = np.maximum(np.max(np.abs(step) / ctx.se[None, :], axis=1),
                              np.abs(s_new - s_cur[a]) * math.sqrt(n) / s)
            with np.errstate(divide="ignore", invalid="ignore"):
                rho = np.where(np.isfinite(prev[a]), crit / prev[a], 1.0)
            done = (crit == 0.0) | ((rho <= 0.5) & (crit <= tol))
            stalled = ~np.isfinite(crit) | ((it >= 3) & (rho > 0.9))
            prev[a], s_cur[a] = crit, s_new
            settled[gs[a[done]]] = True
            active[a[done | stalled]] = False
        dfbeta[gs] = -D
        scales[gs] = s_cur
    dfbeta[~settled] = np.nan
    scales[~settled] = np.nan
    return dfbeta, scales, settled


def _group_scales(fit: RLMFit, R: np.ndarray, mask: np.ndarray, s_prev: np.ndarray) -> tuple[np.ndarray, Any]:
    """The scale of each deleted fit from its residuals ``R`` (n, B), the rows ``mask`` left out of each column;
    for the MAD also the rows at the two middle positions (None otherwise)."""
    sc = fit.scale_spec
    n, B = R.shape
    if sc.kind == "fixed":
        return np.full(B, float(sc.value)), None  # type: ignore[arg-type]
    kept = n - mask.sum(axis=0)
    if sc.kind == "huber":
        df = kept - fit.rank
        out = s_prev.copy()
        A = np.where(mask, 0.0, R * R)
        for _ in range(3):  # Newton on s^2 df gamma = sum min(r^2, k2^2 s^2), piecewise quadratic in s
            inside = (A < ((sc.k2 * out) ** 2)[None, :]) | mask
            total = np.sum(np.where(inside, A, 0.0), axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                new = np.sqrt(total / (df * sc.gamma - sc.k2**2 * np.sum(~inside, axis=0)))
            out = np.where(np.isfinite(new) & (new > 0), new, out)
        return out, None
    A = np.where(mask, np.inf, np.abs(R))
    order = np.argsort(A, axis=0, kind="stable")
    cols = np.arange(B)
    m1, m2 = order[(kept - 1) // 2, cols], order[kept // 2, cols]
    return 0.5 * (A[m1, cols] + A[m2, cols]) / sc.mad_constant, (m1, m2)


def _refit_rows(fit: RLMFit, slow: np.ndarray, dfbeta: np.ndarray, scales: np.ndarray, iterations: np.ndarray,
                err: np.ndarray, refitted: np.ndarray) -> None:
    """Deletions the chord steps did not settle: IRLS from the full fit without the row, to its fixed point (the
    arrays are updated in place; NaN where IRLS fails)."""
    X, y, b = fit.X_fitted, fit._y, fit.coef
    n = X.shape[0]
    failed = []
    for i in slow:
        keep = np.ones(n, dtype=bool)
        keep[i] = False
        try:
            coef, s_i, _, it_i, conv = _irls(X[keep], y[keep], fit.psi, fit.scale_spec, b.copy(), fit.scale,
                                             acc=1e-15, maxit=REFIT_MAXIT)
        except ConvergenceError:
            conv = False
        if not conv:
            dfbeta[i] = np.nan
            scales[i] = np.nan
            err[i] = np.nan
            failed.append(i)
            continue
        dfbeta[i] = b - coef
        scales[i] = s_i
        iterations[i] += it_i
        err[i] = np.nan  # IRLS's own criterion (relative change at rounding level), no contraction bound
        refitted[i] = True
    if failed:
        warn_not_converged("rlm: IRLS without the row", REFIT_MAXIT, "steps", ": their deletion measures are NaN",
                           rows=fit.index[failed])


def _irls_batched(fit: RLMFit, rows: np.ndarray, *, acc: float = 1e-15,
                  maxit: int = REFIT_MAXIT) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MASS::rlm's IRLS from the full fit without each of ``rows``, all at once (batches of :data:`BATCH`), run to
    its fixed point as :func:`_irls` stops: ``(coefficients (B, p), scales (B,), steps (B,), converged (B,))``.

    The weighted least-squares steps are solved in the basis of the design's QR factor (``X = Q R``: the weighted
    Gram matrices of ``Q`` are as well conditioned as the weights, not squared by ``X``'s condition)."""
    X, y, sc = fit.X_fitted, fit._y, fit.scale_spec
    n, p = X.shape
    Q, Rx = np.linalg.qr(X)
    QQ = (Q[:, :, None] * Q[:, None, :]).reshape(n, p * p)
    Qy = Q * y[:, None]
    coefs = np.tile(fit.coef, (len(rows), 1))
    scales = np.full(len(rows), float(fit.scale))
    steps = np.zeros(len(rows), dtype=np.intp)
    done = np.zeros(len(rows), dtype=bool)
    m = n - 1
    k1, k2 = (m - 1) // 2, m // 2
    for start in range(0, len(rows), BATCH):
        b = np.arange(start, min(start + BATCH, len(rows)))
        keep = np.ones((n, b.size))
        keep[rows[b], np.arange(b.size)] = 0.0
        C, s = coefs[b], scales[b]
        R = (y[:, None] - X @ C.T) * keep
        active = np.ones(b.size, dtype=bool)
        prev = np.full(b.size, np.inf)
        stall = np.zeros(b.size, dtype=np.intp)
        for _ in range(maxit):
            a = np.flatnonzero(active)
            if a.size == 0:
                break
            Ra, Ka = R[:, a], keep[:, a]
            if sc.kind == "mad":
                A = np.where(Ka > 0, np.abs(Ra), np.inf)
                A.partition([k1, k2], axis=0)
                s[a] = 0.5 * (A[k1] + A[k2]) / sc.mad_constant
            elif sc.kind == "huber":
                cap = (sc.k2 * s[a]) ** 2
                s[a] = np.sqrt(np.sum(np.minimum(Ra * Ra, cap[None, :]) * Ka, axis=0) / ((m - p) * sc.gamma))
            with np.errstate(divide="ignore", invalid="ignore"):
                W = fit.psi.weight(Ra / s[a][None, :]) * Ka
                G = (W.T @ QQ).reshape(a.size, p, p)
                try:
                    z = np.linalg.solve(G, (W.T @ Qy)[:, :, None])[:, :, 0]
                except np.linalg.LinAlgError:  # a singular batch: its rows one by one, as _irls does
                    active[a] = False
                    continue
                C[a] = np.linalg.solve(Rx, z.T).T
            R_new = (y[:, None] - X @ C[a].T) * Ka
            with np.errstate(divide="ignore", invalid="ignore"):
                delta = np.sqrt(np.sum((Ra - R_new) ** 2, axis=0) / np.maximum(1e-20, np.sum(Ra * Ra, axis=0)))
            R[:, a] = R_new
            steps[b[a]] += 1
            stall[a] = np.where(delta >= prev[a], stall[a] + 1, 0)
            prev[a] = np.minimum(prev[a], delta)
            ok = (delta <= acc) | ((stall[a] >= 5) & (delta < 1e3 * acc))  # _irls's rule
            done[b[a[ok]]] = True
            active[a[ok | ~np.isfinite(delta)]] = False
        coefs[b], scales[b] = C, s
    return coefs, scales, steps, done


def brute_force_loo(fit: RLMFit) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out by refitting (IRLS from the full fit to the fixed point), one row at a time: the oracle.

    Parameters
    ----------
    fit : RLMFit
        The full fit.

    Returns
    -------
    dfbeta : ndarray of shape (n_obs, n_params)
        ``b - b_(i)``.
    scales : ndarray of shape (n_obs,)
        The scale of each deleted fit.
    """
    X = fit.X_fitted
    y = fit._y
    case = fit._case
    n, p = X.shape
    out = np.empty((n, p))
    sc = np.empty(n)
    for i in range(n):
        keep = np.ones(n, dtype=bool)
        keep[i] = False
        coef, s_i, *_ = _irls(X[keep], y[keep], fit.psi, fit.scale_spec, fit.coef.copy(), fit.scale, acc=1e-15,
                              maxit=20000, case=None if case is None else case[keep])
        out[i] = fit.coef - coef
        sc[i] = s_i
    return out, sc

