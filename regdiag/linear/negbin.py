"""Negative binomial regression with theta estimated by maximum likelihood, as ``MASS::glm.nb``.

The model: ``y ~ NB(mu, theta)``, ``Var(y) = mu + mu^2 / theta`` (regdiag's ``alpha = 1 / theta``), ``g(mu) = X b``.
As ``glm.nb``, the fit alternates two steps until neither moves:

1. IRLS for ``b`` with ``theta`` fixed (the negative binomial GLM of :func:`regdiag.glm`); the first fit is Poisson;
2. Newton's method for ``theta`` with ``mu`` fixed, on the score of the log-likelihood (MASS's ``theta.ml``)::

       U(theta) = sum_i w_i [psi(theta + y_i) - psi(theta) + log(theta) + 1 - log(theta + mu_i)
                             - (y_i + theta) / (mu_i + theta)]
       I(theta) = sum_i w_i [-psi'(theta + y_i) + psi'(theta) - 1/theta + 2/(mu_i + theta)
                             - (y_i + theta) / (mu_i + theta)^2]

   and ``SE(theta) = I(theta)^(-1/2)`` at the estimate (MASS's ``SE.theta``).

The alternation stops when the change of ``theta`` is below ``tol`` relative to ``theta`` and the change of the
log-likelihood below ``tol`` relative to its size (relative rules: they hold whatever the scale of the data). With the
log link ``b`` and ``theta`` are orthogonal in expected information, so few alternations are needed.

The influence measures of the fitted model treat ``theta`` as known (fixed at its estimate), as R's
``influence.measures`` does on a ``glm.nb`` fit, with the dispersion fixed at 1 (``summary.negbin``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import special

from .._validation import ConvergenceError, DataWarning, DesignError
from ..design import Design
from .families import make_family

if TYPE_CHECKING:
    from .glm import GLMFit

__all__ = ["ThetaEstimate", "theta_ml", "negbin_loglik", "fit_negbin_design"]

#: Largest theta the estimate may reach before the data are called equidispersed (Poisson).
THETA_MAX = 1e8


@dataclass(frozen=True, slots=True)
class ThetaEstimate:
    """The negative binomial's theta, estimated by maximum likelihood.

    Attributes
    ----------
    theta : float
        Estimate (R's ``fit$theta``); ``alpha = 1 / theta``.
    se : float
        Standard error from the observed information of theta at the estimate (R's ``fit$SE.theta``).
    loglik : float
        Log-likelihood at the estimate (R's ``fit$twologlik / 2``).
    alternations : int
        IRLS / theta alternations (R's ``fit$iter`` counts the same).
    """

    theta: float
    se: float
    loglik: float
    alternations: int


def _score_info(theta: float, y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    score = np.sum(
        w * (special.digamma(theta + y) - special.digamma(theta) + math.log(theta) + 1.0 - np.log(theta + mu)
             - (y + theta) / (mu + theta))
    )
    info = np.sum(
        w * (-special.polygamma(1, theta + y) + special.polygamma(1, theta) - 1.0 / theta + 2.0 / (mu + theta)
             - (y + theta) / (mu + theta) ** 2)
    )
    return float(score), float(info)


def theta_ml(
    y: np.ndarray, mu: np.ndarray, w: np.ndarray, start: float | None = None, tol: float = 1e-12, maxit: int = 100
) -> tuple[float, float]:
    """Maximum-likelihood theta for fixed means (MASS's ``theta.ml``), with its standard error.

    Newton's method from ``start`` (default: the moment estimate ``n / sum w (y/mu - 1)^2``), stopping when the step
    is below ``tol`` times theta, or when the steps have stopped shrinking below a millionth of theta (the rounding
    of the score, divided by a small information on nearly Poisson counts, then sets their size); a step that would
    make theta non-positive is halved.

    Parameters
    ----------
    y, mu, w : ndarray of shape (n_obs,)
        Counts, fitted means and prior weights (rows with zero weight are ignored).
    start : float, optional
    tol : float
    maxit : int

    Returns
    -------
    theta : float
    se : float

    Raises
    ------
    ConvergenceError
        No maximum: theta grows past ``THETA_MAX`` (no overdispersion: the Poisson model is the limit), or
        Newton's method did not settle in ``maxit`` steps.
    """
    pos = w > 0
    y, mu, w = y[pos], mu[pos], w[pos]
    theta = float(start) if start is not None else float(np.sum(w) / np.sum(w * (y / mu - 1.0) ** 2))
    if not (math.isfinite(theta) and theta > 0):
        theta = 1.0
    prev, stall = math.inf, 0
    for _ in range(maxit):
        score, info = _score_info(theta, y, mu, w)
        if info <= 0:  # not concave here: move towards the maximum with a gradient step on log(theta)
            step = math.copysign(theta * 0.5, score)
        else:
            step = score / info
        new = theta + step
        while new <= 0:
            step /= 2.0
            new = theta + step
        theta = new
        if theta > THETA_MAX:
            raise ConvergenceError(
                f"the negative binomial's theta grows without bound (past {THETA_MAX:.0e}): the counts show no "
                "overdispersion; fit family='poisson' instead"
            )
        stall = stall + 1 if abs(step) >= 0.5 * prev else 0  # Newton's steps shrink fast, rounding's do not
        prev = abs(step)
        if abs(step) <= tol * theta or (stall >= 3 and abs(step) <= 1e-6 * theta):
            _, info = _score_info(theta, y, mu, w)
            return theta, (1.0 / math.sqrt(info) if info > 0 else math.nan)
    raise ConvergenceError(f"theta did not converge in {maxit} Newton steps (last theta {theta:.6g}); give theta "
                           "(--theta on the command line) to fit it fixed")


def negbin_loglik(theta: float, y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> float:
    """The negative binomial log-likelihood (MASS's ``loglik`` in ``glm.nb``).

    Parameters
    ----------
    theta : float
        The negative binomial's shape (``Var(y) = mu + mu^2 / theta``).
    y : ndarray of shape (n_obs,)
        Counts.
    mu : ndarray of shape (n_obs,)
        Fitted means.
    w : ndarray of shape (n_obs,)
        Prior weights (rows with weight 0 are left out).

    Returns
    -------
    float
        The log-likelihood.
    """
    pos = w > 0
    y, mu, w = y[pos], mu[pos], w[pos]
    with np.errstate(divide="ignore"):
        ylogmu = np.where(y > 0, y * np.log(np.where(y > 0, mu, 1.0)), 0.0)
    return float(np.sum(
        w * (special.gammaln(theta + y) - special.gammaln(theta) - special.gammaln(y + 1) + theta * math.log(theta)
             + ylogmu - (theta + y) * np.log(theta + mu))
    ))


def fit_negbin_design(
    design: Design,
    link: str | None = None,
    *,
    start: np.ndarray | None = None,
    tol: float = 1e-10,
    maxit: int = 25,
    irls_tol: float | None = None,
    irls_maxit: int | None = None,
    rank_tol: float | None = None,
    dispersion: float | None = 1.0,
    init_theta: float | None = None,
) -> GLMFit:
    """Fit a negative binomial GLM with theta estimated (see the module docstring).

    Parameters
    ----------
    design : Design
    link : str, optional
        "log" (default), "sqrt" or "identity".
    start : ndarray of shape (n_params,), optional
        Starting coefficients of the first fit.
    tol : float
        Relative tolerance of the alternation (theta and log-likelihood).
    maxit : int
        Largest number of alternations.
    irls_tol, irls_maxit : optional
        Passed to each IRLS fit (default: :func:`regdiag.glm`'s).
    rank_tol : float, optional
    dispersion : float or None
        Dispersion of the measures; 1 (the default) as ``glm.nb``; None for Pearson's estimate.
    init_theta : float, optional
        First theta (R's ``init.theta``): the first fit is then negative binomial rather than Poisson.

    Returns
    -------
    GLMFit
        With ``theta`` (a :class:`ThetaEstimate`) set; its family is the negative binomial at the estimate.
    """
    from .glm import DEFAULT_MAXIT, DEFAULT_TOL, fit_glm_design

    kw: dict[str, Any] = {"tol": irls_tol or DEFAULT_TOL, "maxit": irls_maxit or DEFAULT_MAXIT, "rank_tol": rank_tol}
    link = link or "log"
    if init_theta is not None and not init_theta > 0:
        raise DesignError(f"init_theta must be a positive number; got {init_theta!r}")
    # the response is checked (and non-integer counts warned about) once, as the negative binomial's
    make_family("negative_binomial", link, 1.0).prepare(design.y, design.weights, design.index, design.response_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        if init_theta is None:
            fit = fit_glm_design(design, make_family("poisson", link), start=start, **kw)
        else:
            fit = fit_glm_design(design, make_family("negative_binomial", link, 1.0 / init_theta), start=start, **kw)
    y, w = fit.y, fit.prior_weights
    theta, se = theta_ml(y, fit.mu, w, start=init_theta)
    loglik = negbin_loglik(theta, y, fit.mu, w)
    for it in range(1, maxit + 1):
        fam = make_family("negative_binomial", link, 1.0 / theta)
        prev = np.where(np.isnan(fit.coef), 0.0, fit.coef)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            fit = fit_glm_design(design, fam, start=prev, dispersion=dispersion, **kw)
        new_theta, se = theta_ml(y, fit.mu, w, start=theta)
        new_loglik = negbin_loglik(new_theta, y, fit.mu, w)
        done = abs(new_theta - theta) <= tol * new_theta and abs(new_loglik - loglik) <= tol * (1.0 + abs(new_loglik))
        if done:
            # the fit is at `theta`; theta's own estimate for these means agrees with it to tol
            loglik = negbin_loglik(theta, y, fit.mu, w)
            _, info = _score_info(theta, y[w > 0], fit.mu[w > 0], w[w > 0])
            se = 1.0 / math.sqrt(info) if info > 0 else math.nan
            return replace(fit, theta=ThetaEstimate(theta=theta, se=se, loglik=loglik, alternations=it))
        theta, loglik = new_theta, new_loglik
    raise ConvergenceError(
        f"the negative binomial's theta and coefficients did not settle in {maxit} alternations (last theta "
        f"{theta:.8g}); raise maxit, or fix theta (theta=...)"
    )
