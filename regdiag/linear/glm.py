"""Generalized linear models: the fit (IRLS finishing on one QR) and its influence measures.

:func:`glm` validates the data once (:func:`regdiag.design.make_design`), fits by Fisher scoring
(:mod:`regdiag.linear.glm_irls`: Cholesky steps while far from the optimum, QR steps to finish, a stated convergence
rule that matches R's ``glm`` run at ``epsilon = 1e-15``) and keeps the QR of ``W^(1/2) X`` at convergence, from
which :meth:`GLMFit.influence` computes every one-step measure in closed form, in ``O(n p^2)`` time and
``O(n p)`` memory (:mod:`regdiag.linear.glm_influence`), and exact leave-one-out by batched Newton steps
(:mod:`regdiag.linear.glm_exact`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .._validation import DataError, DesignError
from .._warnings import warn
from ..design import Design, make_design
from ..linalg import EPS, QRFactor, lstsq, qr_factor
from ..protocols import ModelKind
from ..results import GLMInfluence, GroupInfluence
from ._fit import FitCommon
from .families import Family, make_family
from .glm_exact import DEFAULT_LOO_MAXIT, DEFAULT_LOO_TOL, DEFAULT_MEMORY_MB
from .glm_irls import DEFAULT_MAXIT, DEFAULT_TOL, IRLSResult, Separation, irls, warn_separation
from .negbin import ThetaEstimate, fit_negbin_design
from .ols import (
    COND_WARN,  # noqa: F401  (GLMs warn at OLS's threshold; the name stays importable from here)
    check_residual_df,
    warn_conditioning,
)

__all__ = [
    "GLMFit",
    "glm",
    "fit_glm_design",
    "glm_from_statsmodels",
    "pearson_residuals",
    "deviance_residuals",
    "working_residuals",
]


@dataclass(frozen=True, eq=False, slots=True)
class GLMFit(FitCommon):
    """A fitted generalized linear model.

    Use :func:`regdiag.glm` to make one. Coefficient-level results are pandas Series indexed by ``param_names``;
    observation-level results are Series indexed by the input's row labels.

    Attributes
    ----------
    design : Design
        The validated data.
    family : Family
        Family and link.
    factor : QRFactor
        QR of ``W^(1/2) X`` with the working weights ``W`` of the last iteration: every measure reuses it.
    coef : ndarray of shape (n_params,)
        Coefficients (NaN for aliased columns).
    eta, mu : ndarray of shape (n_obs,)
        Linear predictor (with offset) and fitted means.
    y : ndarray of shape (n_obs,)
        Response on the model's scale (proportions for binomial).
    prior_weights : ndarray of shape (n_obs,)
        Prior weights (times the numbers of trials for a two-column binomial response), R's ``prior.weights``.
    n_trials : ndarray of shape (n_obs,)
        Binomial trials of a two-column response (ones otherwise).
    working_weights : ndarray of shape (n_obs,)
        IRLS weights ``W`` of ``factor`` (R's ``fit$weights``).
    deviance, null_deviance : float
    iterations : int
        IRLS iterations (R's ``iter``).
    converged : bool
    deviance_trace : tuple of float
        Deviance at the start and after every iteration.
    separation : Separation or None
        Models whose maximum-likelihood estimate is infinite: the separating direction and rows of a separated
        binomial model, or (``kind="boundary"``) of a Poisson / negative binomial model with log link whose zero
        counts at those rows have fitted means tending to 0 (e.g. a factor level with only zero counts).
    dispersion_fixed : float or None
        Dispersion given by the user instead of the family's default.
    tol : float
        Convergence tolerance used.
    resid_exact : ndarray of shape (n_obs,) or None
        Gaussian family with identity link only: the response residuals of the refined least-squares solve (as
        :class:`~regdiag.linear.ols.OLSFit`), exact where ``y - mu`` would cancel.
    theta : ThetaEstimate or None
        Negative binomial with theta estimated (``MASS::glm.nb``): the estimate, its standard error and the
        log-likelihood; ``family`` is the negative binomial at the estimate. None when theta was given.
    """

    model_kind: ClassVar[ModelKind] = ModelKind.GLM

    design: Design
    family: Family
    factor: QRFactor
    coef: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    y: np.ndarray
    prior_weights: np.ndarray
    n_trials: np.ndarray
    working_weights: np.ndarray
    deviance: float
    null_deviance: float
    iterations: int
    converged: bool
    deviance_trace: tuple[float, ...]
    separation: Separation | None = None
    dispersion_fixed: float | None = None
    tol: float = DEFAULT_TOL
    resid_exact: np.ndarray | None = None
    theta: ThetaEstimate | None = None

    def __post_init__(self) -> None:
        for name in ("coef", "eta", "mu", "y", "prior_weights", "n_trials", "working_weights", "resid_exact"):
            if getattr(self, name) is not None:
                getattr(self, name).flags.writeable = False

    # ---- basic quantities --------------------------------------------------------------------------------------
    @property
    def method(self) -> str:
        """``"glm"``: the name of the fit's model class in messages and results."""
        return "glm"

    @property
    def positive(self) -> np.ndarray:
        """Boolean mask of observations with positive prior weight."""
        return self.prior_weights > 0

    @property
    def df_null(self) -> int:
        """Degrees of freedom of the null model: ``nobs`` less 1 with an intercept."""
        return self.nobs - int(self.design.has_intercept)

    @property
    def offset(self) -> np.ndarray:
        """The offset of every row, shape (n_obs,) (zeros without one)."""
        off = self.design.offset
        return np.zeros(self.design.n_obs) if off is None else np.asarray(off)

    @property
    def pearson_chi2(self) -> float:
        """Pearson's chi-square ``sum w (y - mu)^2 / V(mu)``."""
        r = self._resid_pearson()
        return float(r @ r)

    @property
    def dispersion(self) -> float:
        """``phi``: 1 for binomial and Poisson, else Pearson's chi-square over ``df_resid`` (R's ``summary.glm``)."""
        if self.dispersion_fixed is not None:
            return float(self.dispersion_fixed)
        if self.family.fixed_dispersion:
            return 1.0
        return self.pearson_chi2 / self.df_resid if self.df_resid > 0 else math.nan

    @property
    def scale(self) -> float:
        """statsmodels' name for the dispersion."""
        return self.dispersion

    @property
    def aic(self) -> float:
        """R's ``AIC`` of the fit (an estimated negative binomial theta counts as a parameter, as ``glm.nb``)."""
        pos = self.positive
        return self.family.aic(
            self.y[pos], self.n_trials[pos], self.mu[pos], self.prior_weights[pos], self.deviance, self.rank
        ) + (2.0 if self.theta is not None else 0.0)

    @property
    def _cov_scale(self) -> float:
        return self.dispersion

    @property
    def _normal_reference(self) -> bool:
        return self.family.fixed_dispersion or self.dispersion_fixed is not None

    # ---- residuals ------------------------------------------------------------------------------------------------
    def _resid_response(self) -> np.ndarray:
        return self.y - self.mu if self.resid_exact is None else np.array(self.resid_exact)

    def _resid_pearson(self) -> np.ndarray:
        return pearson_residuals(self.family, self.y, self.mu, self.prior_weights, resid=self.resid_exact)

    def _resid_deviance(self) -> np.ndarray:
        if self.resid_exact is not None:  # Gaussian: the deviance residual is the weighted residual
            return self._resid_pearson()
        return deviance_residuals(self.family, self.y, self.mu, self.prior_weights)

    def _resid_working(self) -> np.ndarray:
        return working_residuals(self.family, self.y, self.mu, self.eta, resid=self.resid_exact)

    def _series(self, values: np.ndarray, name: str) -> pd.Series:
        return pd.Series(values, index=self.index, name=name)

    @property
    def fitted(self) -> pd.Series:
        """Fitted means ``mu`` (probabilities for binomial)."""
        return self._series(np.array(self.mu), "fitted")

    @property
    def linear_predictor(self) -> pd.Series:
        """``eta = X b + offset``."""
        return self._series(np.array(self.eta), "linear_predictor")

    @property
    def resid_response(self) -> pd.Series:
        """``y - mu``."""
        return self._series(self._resid_response(), "resid_response")

    @property
    def resid_working(self) -> pd.Series:
        """``(y - mu) / mu'(eta)``."""
        return self._series(self._resid_working(), "resid_working")

    @property
    def resid_pearson(self) -> pd.Series:
        """``(y - mu) sqrt(w / V(mu))``."""
        return self._series(self._resid_pearson(), "resid_pearson")

    @property
    def resid_deviance(self) -> pd.Series:
        """``sign(y - mu) sqrt(unit deviance)`` (with prior weights)."""
        return self._series(self._resid_deviance(), "resid_deviance")

    # ---- influence ---------------------------------------------------------------------------------------------------
    def influence(
        self,
        loo: str = "one-step",
        residual: str = "pearson",
        observed: bool = False,
        *,
        loo_tol: float = DEFAULT_LOO_TOL,
        loo_maxit: int = DEFAULT_LOO_MAXIT,
        memory_mb: float = DEFAULT_MEMORY_MB,
    ) -> GLMInfluence:
        """Influence measures of every observation.

        Parameters
        ----------
        loo : {"one-step", "exact"}
            "one-step": closed-form one-step estimates from the QR (R's and statsmodels' measures), ``O(n p^2)``.
            "exact": exact leave-one-out coefficients for every observation by warm-started, batched Newton steps
            (the one-step estimate is the first), converged to within ``loo_tol`` standard errors of every
            coefficient; ``O(n^2 p)`` time, the same for any BLAS thread setting.
            ``dfbeta``, ``dfbetas``, ``loo_params``, ``cooks_distance`` and ``press_resid`` are then exact.
        residual : {"pearson", "deviance"}
            Residual in the one-step ``dfbeta``: Pearson (statsmodels, the Fisher-scoring step) or deviance (R's
            ``dfbeta.glm``).
        observed : bool
            Leverage and one-step changes from the observed instead of the expected information (statsmodels'
            ``get_influence(observed=True)``; the same for canonical links).
        loo_tol : float
            Exact leave-one-out: bound on the error left in every coefficient, in its standard errors (see
            :mod:`regdiag.linear.glm_exact`). For the Gaussian family with identity link the one-step estimate is
            exact (one step). The one-step estimate itself is ``influence()`` without ``loo``.
        loo_maxit : int
            Exact leave-one-out: largest number of batched Newton (chord) steps, after which the rows not yet
            converged are refitted individually by IRLS from their current estimate (so ``loo_iterations`` may
            exceed ``loo_maxit``; the result is converged either way).
        memory_mb : float
            Exact leave-one-out: largest memory of one block of the batched score evaluation, in MiB.

        Returns
        -------
        GLMInfluence
            Every measure of every observation (arrays of length n_obs, ``dfbeta`` and ``dfbetas`` of shape
            (n_obs, n_params)).

        Notes
        -----
        With leverage ``h``, Pearson residuals ``r_P``, deviance residuals ``d`` and dispersion ``phi``:
        ``rstandard = d / sqrt(phi (1 - h))``; ``rstudent = sign(d) sqrt(d^2 + h r_P^2 / (1 - h))``, divided by
        ``sigma_(i) = sqrt((sum d^2 - d_i^2 / (1 - h_i)) / (n - p - 1))`` except for binomial and Poisson;
        ``D_i = (r_P / (1 - h))^2 h / (phi p)``; ``dfbeta_i = (X'WX)^{-1} x_i sqrt(W_i) r_i / (1 - h_i)``;
        ``dffits = d sqrt(h) / (sigma_(i) (1 - h))``; ``covratio = (sigma_(i) / s)^(2p) / (1 - h)`` with
        ``s^2 = D / (n - p)``; all as R's ``influence.measures``.

        ``dfbetas = dfbeta / (sqrt(phi_(i)) sqrt(diag((X'WX)^{-1})))``: the change in units of the coefficient's
        standard error, with ``phi_(i)`` the dispersion where it is fixed (1 for binomial and Poisson) and otherwise
        Pearson's chi-square without observation i over ``n - p - 1`` (one-step, or of the exact fit); for binomial
        and Poisson this is statsmodels' and SAS's DFBETAS. With ``residual="deviance"`` it is R's ``dfbetas``
        (R's deviance-residual change over ``sigma_(i)``). ``dfbetas_as("R")`` is R's in every case, and
        ``flags(rule="R")`` uses it (R's ``is.inf``). ``loo_params`` is ``b - dfbeta``: the one-step estimate of the
        leave-one-out coefficients unless ``loo="exact"``.
        """
        from .glm_influence import glm_influence

        return glm_influence(
            self,
            loo=loo,
            residual=residual,
            observed=observed,
            loo_tol=loo_tol,
            loo_maxit=loo_maxit,
            memory_mb=memory_mb,
        )

    def group_deletion(
        self,
        groups: Any,
        loo: str = "one-step",
        *,
        loo_tol: float = DEFAULT_LOO_TOL,
        loo_maxit: int = DEFAULT_LOO_MAXIT,
        memory_mb: float = DEFAULT_MEMORY_MB,
    ) -> GroupInfluence:
        """Coefficients, Cook's distance and DFBETAS with whole groups deleted.

        Parameters
        ----------
        groups : array_like, mapping or sequence of sequences
            One group label per row (a Series is aligned on the row labels), ``{group: [row labels]}``, or a list
            of lists of row labels.
        loo : {"one-step", "exact"}
            "one-step": ``b - b_(G) = (X'WX)^{-1} X_G' W_G^(1/2) (I - H_GG)^{-1} r_P,G`` (the Fisher-scoring step
            without the group, in closed form from the QR). "exact": converged Newton iterations from it.
        loo_tol : float
            ``loo="exact"``: bound on the error left in every coefficient, in its standard errors.
        loo_maxit : int
            ``loo="exact"``: largest number of batched Newton steps before the groups not yet converged are refitted
            individually.
        memory_mb : float
            ``loo="exact"``: largest memory of one block of the batched score evaluation, in MiB.

        Returns
        -------
        GroupInfluence
            ``cooks_distance`` is ``(b - b_(G))' X'WX (b - b_(G)) / (p phi)``; ``sigma_loo`` the square root of
            Pearson's chi-square over ``n - p - m`` without the group (one-step, or of the exact fit);
            ``dfbetas`` is ``dfbeta / (sigma_loo sqrt(diag((X'WX)^{-1})))``, with ``sqrt(phi)`` in place of
            ``sigma_loo`` where the dispersion is fixed (binomial, Poisson, or given to the fit), as for
            :meth:`influence`.
        """
        from .glm_influence import glm_group_deletion

        return glm_group_deletion(self, groups, loo=loo, loo_tol=loo_tol, loo_maxit=loo_maxit, memory_mb=memory_mb)

    # ---- presentation -----------------------------------------------------------------------------------------------
    def coef_table(self) -> pd.DataFrame:
        """Coefficients, standard errors, Wald statistics and p-values (as R's ``summary.glm``).

        Returns
        -------
        pandas.DataFrame
            One row per coefficient (indexed by ``param_names``): ``estimate``, ``std_error``, ``z`` (dispersion
            fixed by the family or given to the fit) or ``t``, ``p_value``.
        """
        stat = "z" if self._normal_reference else "t"
        return pd.DataFrame(
            {"estimate": self.params, "std_error": self.bse, stat: self.tvalues, "p_value": self.pvalues}
        )

    def summary(self) -> str:
        """A text summary in the spirit of R's ``summary(glm)``.

        Returns
        -------
        str
            The fit's family, sizes, coefficient table, deviances and iterations, several lines.
        """
        d = self.design
        levels = () if d.response_levels is None else (response_levels_line(d.response_name, d.response_levels),)
        lines = self._summary_head(f"GLM fit, {self.family}", *levels)
        if self.separation is not None:
            lines.append(self.separation.describe(self.param_names, self.index))
        lines.append(self.coef_table().to_string(float_format=lambda v: f"{v:.6g}"))
        lines.append(
            f"dispersion {self.dispersion:.6g}; null deviance {self.null_deviance:.6g} on {self.df_null} df; "
            f"residual deviance {self.deviance:.6g} on {self.df_resid} df; AIC {self.aic:.6g}"
        )
        lines.append(f"IRLS iterations: {self.iterations} ({'converged' if self.converged else 'NOT converged'})")
        if self.theta is not None:
            t = self.theta
            lines.append(
                f"theta {t.theta:.6g} (std. error {t.se:.4g}), estimated by maximum likelihood as MASS::glm.nb "
                f"({t.alternations} alternations); 2 x log-likelihood {2 * t.loglik:.6g}; influence measures "
                "treat theta as known"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<GLMFit {self.family} n={self.nobs} rank={self.rank} params={list(self.param_names)}>"


def response_levels_line(name: str, levels: tuple[str, ...]) -> str:
    """How a text response was coded, in one line (R's rule for a factor response of a binomial GLM)."""
    others = ", ".join(repr(v) for v in levels[1:])
    return (f"response {name!r} is text: {levels[0]!r} (its first level) = 0, {others} = 1, as R's glm; to model "
            f"another level, write e.g. I({name} == {levels[0]!r}) ~ ...")


# ---------------------------------------------------------------------------------------------------------------
# residuals (pure functions of a block of rows)


def pearson_residuals(
    family: Family, y: np.ndarray, mu: np.ndarray, prior_weights: np.ndarray, resid: np.ndarray | None = None
) -> np.ndarray:
    """Pearson residuals ``(y - mu) sqrt(w / V(mu))``; 0 for rows with zero prior weight (``resid``: ``y - mu``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (y - mu if resid is None else resid) * np.sqrt(prior_weights) / np.sqrt(family.variance(mu))
    r[~(prior_weights > 0)] = 0.0
    return r


def deviance_residuals(family: Family, y: np.ndarray, mu: np.ndarray, prior_weights: np.ndarray) -> np.ndarray:
    """Deviance residuals ``sign(y - mu) sqrt(unit deviance)`` (with prior weights); 0 for zero prior weight."""
    d = np.sqrt(np.maximum(family.dev_resids(y, mu, prior_weights), 0.0))
    d[~(prior_weights > 0)] = 0.0
    return np.where(y > mu, d, -d)


def working_residuals(
    family: Family, y: np.ndarray, mu: np.ndarray, eta: np.ndarray, resid: np.ndarray | None = None
) -> np.ndarray:
    """Working residuals ``(y - mu) / mu'(eta)`` (``resid``: ``y - mu`` when known more accurately)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (y - mu if resid is None else resid) / family.link.mu_eta(eta)


# ---------------------------------------------------------------------------------------------------------------
# fitting


def extreme_probabilities(mu: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Rows of positive weight whose fitted probability is numerically 0 or 1 (within ``10 eps``), as R tests."""
    eps10 = 10 * EPS
    return positive & ((mu > 1 - eps10) | (mu < eps10))


def warn_extreme_probabilities() -> None:
    """R's warning for a binomial fit with :func:`extreme_probabilities` (and no separation found or checked)."""
    warn("fitted probabilities numerically 0 or 1 occurred")


def _null_deviance(
    family: Family, y: np.ndarray, w: np.ndarray, offset: np.ndarray, has_offset: bool, intercept: bool,
    mu: np.ndarray, tol: float, maxit: int,
) -> float:
    """R's null deviance: intercept-only (with the offset, refitted as ``glm`` does) or ``g^{-1}(offset)``."""
    if not intercept:
        return family.deviance(y, family.link.inverse(offset), w)
    if not has_offset:
        wtdmu = float(np.sum(w * y) / np.sum(w))
        return family.deviance(y, np.full_like(y, wtdmu), w)
    ones = np.ones((y.shape[0], 1))
    try:
        res = irls(ones, y, w, offset, family, mu, tol=tol, maxit=maxit)
    except Exception:  # pragma: no cover - the null model failing to converge is not the fit's problem
        return math.nan
    return res.deviance


def _least_squares_fit(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, offset: np.ndarray, family: Family, mustart: np.ndarray,
    rank_tol: float | None,
) -> tuple[IRLSResult, np.ndarray]:
    """Gaussian with identity link: the working response and weights do not depend on the coefficients, so one
    refined least-squares solve is the IRLS fixed point (and the same computation as :func:`regdiag.ols`).

    Returns the fit as IRLS would (one iteration, deviance trace from the starting means) and the response
    residuals ``y - mu`` from the refined solve, shape (n_obs,): exact where ``y - X b`` cancels.
    """
    sqrt_w = np.sqrt(w)
    factor = qr_factor(X, sqrt_w, rank_tol)
    sol = lstsq(factor, X, y - offset, sqrt_w)
    coef = factor.to_original(sol.x)
    eta = X @ np.where(np.isnan(coef), 0.0, coef) + offset
    pos = w > 0  # residuals from the refined solve (as OLS): exact where y - X b cancels
    eta[pos] = y[pos] - sol.resid[pos] / sqrt_w[pos]
    mu = eta.copy()
    dev = float(sol.resid @ sol.resid)
    resid_exact = np.zeros(len(y))
    resid_exact[pos] = sol.resid[pos] / sqrt_w[pos]
    resid_exact[~pos] = y[~pos] - mu[~pos]
    res = IRLSResult(
        coef=coef, eta=eta, mu=mu, factor=factor, weights=w, deviance=dev, iterations=1, converged=True,
        deviance_trace=(family.deviance(y, mustart, w), dev), criterion=math.nan, qr_iterations=1, separation=None,
    )
    return res, resid_exact


def fit_glm_design(
    design: Design,
    family: Family,
    *,
    start: Any = None,
    tol: float = DEFAULT_TOL,
    maxit: int = DEFAULT_MAXIT,
    rank_tol: float | None = None,
    dispersion: float | None = None,
) -> GLMFit:
    """Fit a validated :class:`Design` (see :func:`glm`)."""
    if design.response_levels is not None and family.name != "binomial":
        raise DataError(
            f"the response {design.response_name!r} is text (levels {list(design.response_levels)}): only a binomial "
            "GLM takes a text response; use family='binomial', or a numeric response"
        )
    X = design.X
    n, k = X.shape
    y, w, trials, mustart = family.prepare(design.y, design.weights, design.index, design.response_name)
    offset = np.zeros(n) if design.offset is None else np.asarray(design.offset, dtype=float)
    npos = int(np.count_nonzero(w > 0))
    if start is not None:
        start = np.asarray(start, dtype=float).reshape(-1)
        if start.shape[0] != k:
            raise DesignError(
                f"start has {start.shape[0]} values but the design has {k} columns {list(design.param_names)}"
            )
    resid_exact: np.ndarray | None = None
    if family.name == "gaussian" and family.link.name == "identity":
        res, resid_exact = _least_squares_fit(X, y, w, offset, family, mustart, rank_tol)
    else:
        res = irls(X, y, w, offset, family, mustart, start=start, tol=tol, maxit=maxit, rank_tol=rank_tol,
                   index=design.index, names=design.param_names)
    mu, separation = res.mu, res.separation
    check_residual_df(npos, res.factor.rank)
    nulldev = _null_deviance(
        family, y, w, offset, design.offset is not None and bool(np.any(offset != 0)), design.has_intercept, mu,
        tol, maxit,
    )
    if separation is not None:
        warn_separation(separation, design.param_names, design.index)
    elif family.name == "binomial" and np.any(extreme_probabilities(mu, w > 0)):
        warn_extreme_probabilities()
    warn_conditioning(res.factor.cond, glm=True)
    return GLMFit(
        design=design,
        family=family,
        factor=res.factor,
        coef=np.array(res.coef, dtype=float),
        eta=np.array(res.eta, dtype=float),
        mu=np.array(mu, dtype=float),
        y=np.array(y, dtype=float),
        prior_weights=np.array(w, dtype=float),
        n_trials=np.array(trials, dtype=float),
        working_weights=np.array(res.weights, dtype=float),
        deviance=float(res.deviance),
        null_deviance=float(nulldev),
        iterations=int(res.iterations),
        converged=bool(res.converged),
        deviance_trace=tuple(float(v) for v in res.deviance_trace),
        separation=separation,
        dispersion_fixed=None if dispersion is None else float(dispersion),
        tol=tol,
        resid_exact=resid_exact,
    )


def glm(
    y_or_formula: Any,
    X: Any = None,
    *,
    data: Any = None,
    family: Any = "gaussian",
    link: str | None = None,
    weights: Any = None,
    offset: Any = None,
    alpha: float | None = None,
    theta: float | None = None,
    start: Any = None,
    dispersion: float | None = None,
    missing: str = "omit",
    tol: float = DEFAULT_TOL,
    maxit: int = DEFAULT_MAXIT,
    rank_tol: float | None = None,
) -> GLMFit:
    """Fit a generalized linear model by IRLS (Fisher scoring) finishing on a QR of the weighted design.

    The in-memory fit behind :func:`regdiag.glm` (which hands Dask collections to :func:`regdiag.dask.glm`
    instead); the parameters, their conventions and examples are documented there.

    Parameters
    ----------
    y_or_formula, X, data, family, link, weights, offset, alpha, theta, start, dispersion, missing, tol, maxit, rank_tol
        As :func:`regdiag.glm`.

    Returns
    -------
    GLMFit
    """
    alpha, estimate_theta = negbin_alpha(family, link, alpha, theta)
    fam = make_family(family, link, alpha)
    design = make_design(
        y_or_formula, X, data=data, weights=weights, offset=offset, missing=missing, two_column_response=True
    )  # a two-column response for another family gets the family's message (Family.prepare)
    if estimate_theta:
        return fit_negbin_design(
            design, fam.link.name, start=start, irls_tol=tol, irls_maxit=maxit, rank_tol=rank_tol,
            dispersion=1.0 if dispersion is None else dispersion,
        )
    return fit_glm_design(design, fam, start=start, tol=tol, maxit=maxit, rank_tol=rank_tol, dispersion=dispersion)


def negbin_alpha(
    family: Any, link: str | None, alpha: float | None, theta: float | None, *, estimable: bool = True
) -> tuple[float | None, bool]:
    """The negative binomial's ``alpha`` from ``alpha`` or ``theta`` (``alpha = 1 / theta``), and whether theta is
    to be estimated (a negative binomial family named without either).

    Parameters
    ----------
    family : str or Family
        As :func:`glm`'s ``family``.
    link : str or None
        As :func:`glm`'s ``link``.
    alpha, theta : float or None
        As :func:`glm`'s; at most one of them.
    estimable : bool
        Whether theta can be estimated from these data: ``False`` for data read in blocks (Dask), where a
        negative binomial family needs ``theta`` or ``alpha``.

    Returns
    -------
    alpha : float or None
        ``alpha``, or ``1 / theta``, or ``None`` when neither is given.
    estimate_theta : bool
        Whether theta is estimated by maximum likelihood (:mod:`regdiag.linear.negbin`).

    Raises
    ------
    DesignError
        Both ``alpha`` and ``theta`` given, a theta that is not a positive number, or neither given for data that
        cannot estimate theta (``estimable=False``).
    """
    if alpha is not None and theta is not None:
        raise DesignError("give the negative binomial's theta or alpha, not both (alpha = 1 / theta)")
    if theta is not None:
        if not (isinstance(theta, (int, float)) and theta > 0 and math.isfinite(theta)):
            raise DesignError(f"theta must be a positive number; got {theta!r}")
        alpha = 1.0 / float(theta)
    estimate_theta = (
        not isinstance(family, Family) and alpha is None and make_family(family, link).name == "negative_binomial"
    )
    if estimate_theta and not estimable:
        raise DesignError(
            "estimating the negative binomial's theta needs the data in memory; for Dask data pass theta= (or "
            "alpha=), e.g. the estimate from a sample"
        )
    return alpha, estimate_theta


def _statsmodels_family(results: Any) -> Family:
    """regdiag's family and link for a statsmodels GLM results object."""
    import statsmodels.genmod.families as smf
    from statsmodels.genmod.families import links as sml

    fam = results.model.family
    kinds = [
        (smf.Gaussian, "gaussian"),
        (smf.Binomial, "binomial"),
        (smf.Poisson, "poisson"),
        (smf.Gamma, "gamma"),
        (smf.InverseGaussian, "inverse_gaussian"),
        (smf.NegativeBinomial, "negative_binomial"),
    ]
    name = next((nm for cls, nm in kinds if type(fam) is cls), None)
    if name is None:
        raise DesignError(f"the statsmodels family {type(fam).__name__} is not supported")
    lk = fam.link
    # by exact class name: statsmodels derives Probit and CLogLog from Logit
    link = {"logit": "logit", "probit": "probit", "cloglog": "cloglog", "log": "log"}.get(type(lk).__name__.lower())
    if link is None and isinstance(lk, sml.Power):
        link = {1.0: "identity", -1.0: "inverse", -2.0: "inverse_squared", 0.5: "sqrt"}.get(float(lk.power))
    if link is None:
        raise DesignError(f"the statsmodels link {type(lk).__name__} is not supported")
    alpha = float(fam.alpha) if name == "negative_binomial" else None
    return make_family(name, link, alpha)


def glm_from_statsmodels(results: Any) -> GLMFit:
    """Refit a statsmodels ``GLM`` results object's model (design, response, weights, offset, family, link).

    ``freq_weights`` and ``var_weights`` both become prior weights (R's ``weights``), binomial trials of a
    two-column response too; a negative binomial keeps statsmodels' dispersion 1.

    Parameters
    ----------
    results : statsmodels GLMResults
        A fitted statsmodels ``GLM``.

    Returns
    -------
    GLMFit
        The same model fitted by regdiag, started from statsmodels' coefficients.
    """
    from ..design import design_from_statsmodels

    fam = _statsmodels_family(results)
    design = design_from_statsmodels(results)
    nt = getattr(results.model, "n_trials", None)
    if fam.name == "binomial" and nt is not None and np.any(np.asarray(nt) != 1):
        w = np.asarray(nt, dtype=float) * (1.0 if design.weights is None else np.asarray(design.weights))
        design = dataclasses.replace(design, weights=w)
    start = np.asarray(results.params, dtype=float)
    # statsmodels fixes the negative binomial's dispersion at 1 (R's glm estimates it): keep statsmodels' choice
    dispersion = 1.0 if fam.name == "negative_binomial" else None
    return fit_glm_design(design, fam, start=start, dispersion=dispersion)
