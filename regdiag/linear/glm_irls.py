"""Iteratively reweighted least squares (Fisher scoring) for GLMs, finishing on a QR of the weighted design.

Every iteration solves the weighted least-squares problem of Fisher scoring,

    minimize || W^(1/2) (z - X d) ||,   W_i = w_i mu'(eta_i)^2 / V(mu_i),   z_i = (y_i - mu_i) / mu'(eta_i),

for the step ``d`` (the first iteration, which starts from R's starting means rather than from coefficients, solves
for the coefficients themselves with ``z_i + eta_i - offset_i``).

Cholesky or QR
    While the step is large, the normal equations ``X'WX d = X'W z`` are solved by Cholesky factorization of the
    column-equilibrated (power-of-two scaled) ``X'WX``: one pass over the data, a third of the work of a QR. A
    Cholesky step is taken only if the factorization succeeds and its reciprocal condition number exceeds
    ``CHOL_RCOND`` (1e-12, i.e. a design condition number below 1e6). Once a Cholesky step passes the convergence
    test below (or stops shrinking), or as soon as the Cholesky test fails, the iteration continues with the
    pivoted QR of ``W^(1/2) X`` (:func:`regdiag.linalg.qr_factor`, which also decides the rank and the aliased
    columns as R does). Convergence is only ever declared on a QR step, and the diagnostics use that QR. The
    Cholesky phase changes the path, not the fixed point: the last steps are QR steps from wherever Cholesky left.

Step halving
    A step that makes the deviance non-finite, leaves the family's or link's domain (R's ``validmu``,
    ``valideta``), or increases the deviance by more than ``1e-9 (|D| + 0.1)`` is halved, up to
    ``MAX_HALVINGS`` (30) times.

Convergence rule
    With ``se_j = sqrt(phi [(X'WX)^{-1}]_jj)`` (``phi`` = 1 for binomial and Poisson, else the current Pearson
    estimate), the full step's size is ``c_k = max_j |d_j| / (|beta_j| + se_j)``. Fisher scoring converges
    linearly for non-canonical links, so the remaining error is estimated from the contraction ratio
    ``rho = c_k / c_(k-1)``: the fit has converged when ``c_k * max(1, rho / (1 - rho)) <= tol`` (default
    1e-12), or when ``c_k`` is at the rounding level ``64 eps kappa`` of the QR (``kappa`` its condition number).
    The coefficients are then within about ``tol * (|beta_j| + se_j)`` of the maximum-likelihood estimate, far
    below the ``1e-8`` relative agreement with R's ``glm(..., epsilon = 1e-15)`` (whose deviance rule can stop
    1e-7 away for non-canonical links; see ``tests/reference/README.md``).

Infinite estimates
    A binomial model whose fitted probabilities approach 0 or 1 is checked for separation (:func:`detect_separation`,
    a linear program); a separated fit stops there and is flagged. A Poisson or negative binomial model with log
    link whose zero counts get fitted means below ``1e-10`` is checked for a maximum-likelihood estimate on the
    boundary (:func:`detect_boundary`: a factor level or cell whose counts are all 0); such a fit is finished as the
    limit along the boundary direction (the fit without those rows, those rows' means at the log link's floor
    ``eps``) and flagged, and with the identity or sqrt link it is an error naming the rows. Otherwise their means
    would sit at the link's clamp while every step kept the same size and the deviance stood still: a stall, which
    the non-convergence error names as such.

The working weights, the factorization and the leverage are those of the last iteration's start (as in R); the
coefficients, fitted values and residuals those after its (negligible) step.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import linalg as sla
from scipy.linalg import lapack, solve_triangular

from .._validation import ConvergenceError, DesignError, format_labels
from .._warnings import user_stacklevel, warn
from ..linalg import EPS, QRFactor, power_of_two_scale, qr_factor
from .families import Family

__all__ = [
    "IRLSResult",
    "Separation",
    "irls",
    "irls_loop",
    "IRLSLoop",
    "IRLSStep",
    "IRLSEvaluation",
    "IRLSSteps",
    "detect_separation",
    "detect_boundary",
    "user_stacklevel",
    "working_weights",
    "step_criterion",
    "step_dispersion",
    "step_accepted",
    "check_halving",
    "qr_converged",
    "DEFAULT_TOL",
    "DEFAULT_MAXIT",
]

DEFAULT_TOL = 1e-12
DEFAULT_MAXIT = 100
#: smallest reciprocal condition number of the equilibrated X'WX for a Cholesky step
CHOL_RCOND = 1e-12
MAX_HALVINGS = 30
#: relative deviance increase that triggers step halving
INCREASE_TOL = 1e-9
_CHUNK = 1 << 15
#: fitted probabilities this close to 0 or 1 make the binomial fit look for separation
SEPARATION_MU = 1e-10


@dataclass(frozen=True)
class Separation:
    """A model whose maximum-likelihood estimate is infinite: complete or quasi-complete separation in a binomial
    model, or a Poisson / negative binomial model (log link) whose MLE is on the boundary (``kind="boundary"``).

    Attributes
    ----------
    direction : ndarray of shape (n_params,)
        A direction ``b`` with ``x_i'b >= 0`` for every success and ``<= 0`` for every failure (binomial), or
        ``x_i'b <= 0`` for every zero count and ``= 0`` for every positive count (boundary); largest entry 1 in
        absolute value, 0 for aliased columns. Moving the coefficients along it never lowers the likelihood.
    rows : ndarray of int
        Positions of the observations separated by it (``x_i'b != 0``): their fitted probabilities tend to 0 or 1
        (binomial) or their fitted means to 0 (boundary).
    complete : bool
        Every observation with positive weight is separated.
    kind : {"separation", "boundary"}
    """

    direction: np.ndarray
    rows: np.ndarray
    complete: bool
    kind: str = "separation"

    def describe(self, names: tuple[str, ...], index: pd.Index) -> str:
        """A sentence for messages and summaries: the kind, the direction and the rows it drives.

        Parameters
        ----------
        names : tuple of str
            Names of the coefficients, length n_params.
        index : pandas.Index
            Row labels of the observations.

        Returns
        -------
        str
            The description, without a final period.
        """
        terms = [f"{v:+.4g}*{n}" for v, n in zip(self.direction, names) if abs(v) > 1e-12]
        if self.kind == "boundary":
            return (
                "the maximum-likelihood estimate is on the boundary (fitted means 0, coefficients infinite): the "
                f"likelihood keeps increasing along the direction {' '.join(terms)}, which drives the fitted means "
                f"of rows {format_labels(index[self.rows])} (all zero counts"
                + (", every observation" if self.complete else "")
                + ") to 0 and leaves the other rows' fit unchanged"
            )
        kind = "complete" if self.complete else "quasi-complete"
        return (
            f"{kind} separation: the maximum-likelihood estimate does not exist; the likelihood keeps increasing "
            f"along the direction {' '.join(terms)}, which separates the successes from the failures at rows "
            f"{format_labels(index[self.rows])}"
        )


@dataclass(frozen=True, eq=False)
class IRLSResult:
    """What the IRLS loop returns (internal; :class:`regdiag.linear.glm.GLMFit` presents it).

    Attributes
    ----------
    coef : ndarray of shape (n_params,)
        Coefficients, NaN for aliased columns.
    eta, mu : ndarray of shape (n_obs,)
        Linear predictor and means at ``coef``.
    factor : QRFactor
        QR of ``sqrt(W) X`` at the last iteration's start.
    weights : ndarray of shape (n_obs,)
        Working weights ``W`` of that factorization.
    deviance : float
        Deviance at ``coef``.
    iterations : int
        Accepted iterations.
    converged : bool
        Whether the convergence rule was met.
    deviance_trace : tuple of float
        Deviance at the start and after every accepted iteration.
    criterion : float
        The last computed step criterion (NaN if none).
    qr_iterations : int
        Iterations solved by QR (the others by Cholesky).
    separation : Separation or None
        The direction of separation (binomial) or of a boundary estimate (count models) found, if any.
    """

    coef: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    factor: QRFactor
    weights: np.ndarray
    deviance: float
    iterations: int
    converged: bool
    deviance_trace: tuple[float, ...]
    criterion: float
    qr_iterations: int
    separation: Separation | None


def working_weights(
    family: Family,
    y: np.ndarray,
    prior_weights: np.ndarray,
    eta: np.ndarray,
    mu: np.ndarray,
    *,
    it: int = 0,
    index: pd.Index | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IRLS working weights ``W = w mu'(eta)^2 / V(mu)`` and working residuals ``z = (y - mu) / mu'(eta)``.

    Returns ``(W, z, ok)``: both are 0 where ``ok`` is False (zero prior weight or ``mu'(eta) = 0``). Raises a
    :class:`DesignError` naming the rows (labels from ``index``) where the variance is 0 or a derivative is NaN.
    """
    good = prior_weights > 0
    me = family.link.mu_eta(eta)
    var = family.variance(mu)
    if np.any(np.isnan(var[good])) or np.any(np.isnan(me[good])):
        raise DesignError(f"the {family} produced NaN variances or derivatives at iteration {it}")
    if np.any(var[good] == 0):
        index = pd.RangeIndex(len(y)) if index is None else index
        rows = index[good & (var == 0)]
        raise DesignError(
            f"the variance V(mu) is 0 at iteration {it} at rows {format_labels(rows, 5)}: fitted means reached "
            "the boundary of the family's support"
        )
    ok = good & (me != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        W = np.where(ok, prior_weights * me**2 / var, 0.0)
        z = np.where(ok, (y - mu) / me, 0.0)
    return W, z, ok


def step_criterion(
    d: np.ndarray, beta_new: np.ndarray, diag_inv: np.ndarray, phi: float, crit_prev: float
) -> tuple[float, float]:
    """Size of an IRLS step and the estimated remaining error (see the module docstring's convergence rule).

    Returns ``(c_k, err)``: ``c_k = max_j |d_j| / (|beta_j| + se_j)`` with ``se_j = sqrt(phi diag_inv_j)``, and
    ``err = c_k max(1, rho / (1 - rho))`` with ``rho = c_k / c_(k-1)`` (``c_k`` when ``rho`` is not in [0, 1)).
    """
    se = np.sqrt(np.maximum(phi, EPS) * diag_inv)
    scale = np.abs(beta_new) + se
    m = np.isfinite(scale) & (scale > 0)
    crit = float(np.max(np.abs(d[m]) / scale[m])) if m.any() else 0.0
    rho = crit / crit_prev if crit_prev > 0 else math.nan
    err_est = crit * max(1.0, rho / (1.0 - rho)) if 0 <= rho < 1 else crit
    return crit, err_est


def step_accepted(dev_new: float, valid: bool, dev: float, full: bool) -> bool:
    """A step is kept when its deviance is finite, its means valid, and (after the first) the deviance did not rise
    by more than ``INCREASE_TOL (|D| + 0.1)``; otherwise it is halved."""
    return math.isfinite(dev_new) and valid and (full or dev_new <= dev + INCREASE_TOL * (abs(dev) + 0.1))


def check_halving(halvings: int, full: bool, it: int, trace: list[float]) -> None:
    """Raise when a rejected step cannot be halved: the first step (from starting means) or ``MAX_HALVINGS`` done."""
    if full:
        raise DesignError(
            "no valid set of coefficients has been found from R's starting values: the first step leaves "
            "the family's or link's domain; pass start= (coefficients)"
        )
    if halvings > MAX_HALVINGS:
        err = ConvergenceError(
            f"step halving failed at iteration {it}: {MAX_HALVINGS} halvings did not give a valid fit with "
            f"a lower deviance; deviance trace: {format_trace(trace)}"
        )
        err.deviance_trace = tuple(trace)  # type: ignore[attr-defined]
        raise err


def step_dispersion(family: Family, sum_wzz: float, n_informative: int, n_cols: int) -> float:
    """Dispersion used by the convergence test: 1 for binomial and Poisson, else ``sum W z^2 / max(n - k, 1)``."""
    if family.fixed_dispersion:
        return 1.0
    return sum_wzz / max(n_informative - n_cols, 1)


def qr_converged(crit: float, err_est: float, tol: float, cond: float) -> bool:
    """Convergence on a QR step: estimated error below ``tol``, or the step at the QR's rounding level.

    The rounding level of a step is ``64 eps kappa``.
    """
    return err_est <= tol or crit <= 64.0 * EPS * cond


def _normal_equations(X: np.ndarray, W: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``X'WX`` and ``X'W target``, a block of rows at a time."""
    k = X.shape[1]
    G = np.zeros((k, k))
    b = np.zeros(k)
    sw = np.sqrt(W)
    for s in range(0, X.shape[0], _CHUNK):
        A = X[s : s + _CHUNK] * sw[s : s + _CHUNK, None]
        G += A.T @ A
        b += np.einsum("ij,i->j", A, sw[s : s + _CHUNK] * target[s : s + _CHUNK])  # faster than OpenBLAS's gemv
    return G, b


def _cholesky_step(X: np.ndarray, W: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Step and ``diag((X'WX)^{-1})`` by Cholesky, or None when X'WX is not safely positive definite."""
    G, b = _normal_equations(X, W, target)
    d = np.diag(G)
    if not np.all(np.isfinite(G)) or np.any(d <= 0):
        return None
    s = power_of_two_scale(np.sqrt(d))
    Gs = G * s[:, None] * s[None, :]
    c, info = lapack.dpotrf(Gs, lower=0, clean=1)
    if info != 0:
        return None
    rcond, info = lapack.dpocon(c, float(np.max(np.sum(np.abs(Gs), axis=0))))
    if info != 0 or not rcond > CHOL_RCOND:
        return None
    step = sla.cho_solve((c, False), b * s, check_finite=False) * s
    cinv = solve_triangular(c, np.eye(len(s)), lower=False, check_finite=False)
    diag_inv = np.einsum("ij,ij->i", cinv, cinv) * s**2
    return step, diag_inv


def _qr_step(
    X: np.ndarray, W: np.ndarray, target: np.ndarray, rank_tol: float | None
) -> tuple[np.ndarray, np.ndarray, QRFactor]:
    """Step (0 for aliased columns), ``diag((X'WX)^{-1})`` and the factorization."""
    sw = np.sqrt(W)
    f = qr_factor(X, sw, rank_tol)
    if f.rank == 0:
        raise DesignError("the weighted design has rank 0: no coefficient can be estimated")
    qtb = f.q.T @ (sw * target)
    x = solve_triangular(f.r, qtb, lower=False, check_finite=False)
    return f.to_original(x, fill=0.0), f.cov_unscaled_diag(), f


def fold_aliased(X: np.ndarray, beta: np.ndarray, sw: np.ndarray, factor: QRFactor) -> np.ndarray:
    """Move the aliased columns' share of ``X @ beta`` onto the kept columns.

    The Fisher-scoring steps are 0 on aliased columns, so coefficients on them (from ``start``, for example
    statsmodels' minimum-norm coefficients of a rank-deficient model) would otherwise stay in the linear predictor
    while the reported coefficients are NaN there. The share ``X_a beta_a`` is projected on the kept columns in the
    weighted least-squares sense of ``factor``: exact up to the rank tolerance for the rows of positive weight.

    Parameters
    ----------
    X : ndarray of shape (n_obs, n_params)
    beta : ndarray of shape (n_params,)
    sw : ndarray of shape (n_obs,)
        Square roots of the working weights ``factor`` was computed with.
    factor : QRFactor

    Returns
    -------
    ndarray of shape (n_params,)
        Coefficients with 0 on the aliased columns.
    """
    aliased = factor.aliased
    if aliased.size == 0 or not np.any(beta[aliased]):
        return beta
    share = X[:, aliased] @ beta[aliased]
    moved = solve_triangular(factor.r, factor.q.T @ (sw * share), lower=False, check_finite=False)
    out = beta + factor.to_original(moved, fill=0.0)
    out[aliased] = 0.0
    return out


def _eval(family: Family, X: np.ndarray, beta: np.ndarray, offset: np.ndarray, y: np.ndarray, w: np.ndarray):
    eta = X @ beta
    eta += offset
    mu = family.link.inverse(eta)
    dev = family.deviance(y, mu, w)
    return eta, mu, dev


def _valid(family: Family, eta: np.ndarray, mu: np.ndarray) -> bool:
    return family.link.valid_eta(eta) and family.valid_mu(mu)


@dataclass(frozen=True)
class IRLSStep:
    """One Fisher-scoring step, as a step strategy's ``solve`` returns it (see :func:`irls_loop`).

    Attributes
    ----------
    d : ndarray of shape (n_params,)
        The step (the coefficients themselves on the first iteration from starting means); 0 on aliased columns.
    diag_inv : ndarray of shape (n_params,)
        ``diag((X'WX)^{-1})``, the unscaled variances the convergence test measures the step against.
    phi : float
        Dispersion of the convergence test (:func:`step_dispersion`).
    cond : float or None
        Condition number of the QR the step was solved with; None for a preliminary step (Cholesky), on which
        convergence is never declared.
    beta : ndarray of shape (n_params,) or None
        The coefficients the step starts from, as the strategy re-expressed them (:func:`fold_aliased`); None on
        the first iteration from starting means.
    """

    d: np.ndarray
    diag_inv: np.ndarray
    phi: float
    cond: float | None
    beta: np.ndarray | None


@dataclass(frozen=True)
class IRLSEvaluation:
    """The model at trial coefficients: its deviance, whether its means are valid, and the strategy's own state.

    Attributes
    ----------
    deviance : float
        Deviance at the trial coefficients.
    valid : bool
        Whether the linear predictor and means are in the link's and family's domain.
    state : object
        What the backend keeps to make this evaluation the current one (:meth:`IRLSSteps.accept`).
    """

    deviance: float
    valid: bool
    state: object = None


class IRLSSteps(Protocol):
    """What :func:`irls_loop` needs from a backend: the weighted least-squares step and the model's evaluation.

    The in-memory fit (:func:`irls`) and the Dask fit (:mod:`regdiag.dask.glm`) each implement it; the loop,
    step halving and the convergence rule are :func:`irls_loop`'s.
    """

    def solve(self, beta: np.ndarray | None, it: int) -> IRLSStep:
        """The step at the current (last accepted) evaluation.

        Parameters
        ----------
        beta : ndarray of shape (n_params,) or None
            The current coefficients; None on the first step from starting means.
        it : int
            Iteration number, from 1.

        Returns
        -------
        IRLSStep
            The weighted least-squares step and what the convergence test needs.
        """
        ...

    def evaluate(self, beta: np.ndarray, it: int) -> IRLSEvaluation:
        """Deviance and validity of the means at trial coefficients.

        Parameters
        ----------
        beta : ndarray of shape (n_params,)
            Trial coefficients.
        it : int
            Iteration number, from 1.

        Returns
        -------
        IRLSEvaluation
            The deviance, the validity of the means and the backend's state at ``beta``.
        """
        ...

    def accept(self, evaluation: IRLSEvaluation) -> None:
        """Make an accepted evaluation the current one.

        Parameters
        ----------
        evaluation : IRLSEvaluation
            An evaluation returned by :meth:`evaluate`.
        """
        ...

    def preliminary_done(self) -> None:
        """A preliminary (Cholesky) step passed the convergence test: solve the next steps by QR."""
        ...

    def halving_failed(self, error: Exception) -> bool:
        """A rejected step cannot be halved.

        Parameters
        ----------
        error : Exception
            Why the step cannot be halved.

        Returns
        -------
        bool
            True stops the loop, False re-raises ``error``.
        """
        ...

    def stop_after(self, it: int, converged: bool) -> bool:
        """After an accepted iteration: whether to stop the loop (a separated fit, for example).

        Parameters
        ----------
        it : int
            The iteration just accepted, from 1.
        converged : bool
            Whether it met the convergence rule.

        Returns
        -------
        bool
            True stops the loop.
        """
        ...


@dataclass(frozen=True, eq=False)
class IRLSLoop:
    """What :func:`irls_loop` returns.

    Attributes
    ----------
    beta : ndarray of shape (n_params,) or None
        Coefficients after the last accepted step (None if no step was accepted).
    deviance : float
    iterations : int
    converged : bool
    trace : list of float
        Deviance at the start and after every accepted iteration.
    criteria : list of float
        Step criterion of every iteration (NaN where not computed).
    criterion : float
        The last computed step criterion (NaN if none).
    halving_failed : bool
        The loop stopped because a step could not be halved and the strategy chose to stop.
    """

    beta: np.ndarray | None
    deviance: float
    iterations: int
    converged: bool
    trace: list[float]
    criteria: list[float]
    criterion: float
    halving_failed: bool


def irls_loop(
    steps: IRLSSteps, beta: np.ndarray | None, deviance: float, *, tol: float = DEFAULT_TOL,
    maxit: int = DEFAULT_MAXIT,
) -> IRLSLoop:
    """The Fisher-scoring iteration shared by the in-memory and the Dask fits.

    Each iteration asks ``steps`` for a step, halves it while the deviance is non-finite, the means invalid or the
    deviance rose (:func:`step_accepted`, :func:`check_halving`), and tests convergence on full steps by the module's
    rule, relative to the problem (:func:`step_criterion`: the step against ``|beta_j| + se_j``; :func:`qr_converged`).

    Parameters
    ----------
    steps : IRLSSteps
        The backend's step and evaluation.
    beta : ndarray of shape (n_params,) or None
        Starting coefficients; None to start from the strategy's starting means.
    deviance : float
        Deviance at the start.
    tol : float
        Convergence tolerance.
    maxit : int
        Largest number of iterations.

    Returns
    -------
    IRLSLoop
        Not converged is not an error here: the caller words the error (or finishes a separated fit).

    Raises
    ------
    ConvergenceError
        A step with non-finite coefficients, or step halving that failed (unless ``steps.halving_failed`` stops).
    DesignError
        The first step from starting means leaves the domain.
    """
    dev = deviance
    trace = [dev]
    crit_prev = math.nan
    crit = math.nan
    crits: list[float] = []
    converged = False
    failed = False
    it = 0
    for it in range(1, maxit + 1):
        step = steps.solve(beta, it)
        beta, d = step.beta, step.d
        if not np.all(np.isfinite(d)):
            raise ConvergenceError(f"non-finite coefficients at iteration {it}; deviance trace: {format_trace(trace)}")
        full = beta is None
        beta_new = d if full else beta + d
        ev = steps.evaluate(beta_new, it + 1)
        halvings = 0
        while not step_accepted(ev.deviance, ev.valid, dev, full):
            halvings += 1
            try:
                check_halving(halvings, full, it, trace)
            except (DesignError, ConvergenceError) as exc:
                if not steps.halving_failed(exc):
                    raise
                failed = True
                break
            d = d * 0.5
            beta_new = beta + d  # type: ignore[operator]
            ev = steps.evaluate(beta_new, it + 1)
        if failed:
            break
        if not full and halvings == 0:
            crit, err_est = step_criterion(d, beta_new, step.diag_inv, step.phi, crit_prev)
            rho = crit / crit_prev if crit_prev > 0 else math.nan
            if step.cond is None:
                if err_est <= tol or (crit < 1e-6 and not rho < 0.5):
                    steps.preliminary_done()  # confirm (and finish) with QR steps
            else:
                converged = qr_converged(crit, err_est, tol, step.cond)
            crit_prev = crit
            crits.append(crit)
        else:
            crit_prev = math.nan
            crits.append(math.nan)
        steps.accept(ev)
        beta, dev = beta_new, ev.deviance
        trace.append(dev)
        if steps.stop_after(it, converged) or converged:
            break
    return IRLSLoop(
        beta=beta, deviance=dev, iterations=it, converged=converged, trace=trace, criteria=crits, criterion=crit,
        halving_failed=failed,
    )


class _InMemorySteps:
    """The in-memory backend of :func:`irls_loop`: Cholesky steps while the step is large, then QR steps, and the
    checks for separation (binomial) and a maximum-likelihood estimate on the boundary (count models)."""

    def __init__(
        self, X: np.ndarray, y: np.ndarray, w: np.ndarray, offset: np.ndarray, family: Family,
        eta: np.ndarray, mu: np.ndarray, *, rank_tol: float | None, index: pd.Index,
        names: tuple[str, ...] | None,
    ) -> None:
        self.X, self.y, self.w, self.offset, self.family = X, y, w, offset, family
        self.rank_tol, self.index, self.names = rank_tol, index, names
        self.good = w > 0
        self.count = family.name in COUNT_FAMILIES
        self.count_log = self.count and family.link.name == "log"
        self.eta, self.mu = eta, mu
        self.use_chol = True
        self.factor: QRFactor | None = None
        self.fac_weights: np.ndarray | None = None
        self.W: np.ndarray | None = None  # working weights of the last step
        self.qr_its = 0
        self.separation: Separation | None = None
        self.looked_for_separation = False

    def solve(self, beta: np.ndarray | None, it: int) -> IRLSStep:
        X, family = self.X, self.family
        W, z, ok = working_weights(family, self.y, self.w, self.eta, self.mu, it=it, index=self.index)
        if not ok.any():
            raise DesignError(f"no observation carries information at iteration {it} (all working weights are 0)")
        target = z if beta is not None else np.where(ok, self.eta - self.offset + z, 0.0)
        solved = _cholesky_step(X, W, target) if self.use_chol else None
        if solved is None:
            self.use_chol = False
            d, diag_inv, self.factor = _qr_step(X, W, target, self.rank_tol)
            self.fac_weights = W
            self.qr_its += 1
            if beta is not None:
                beta = fold_aliased(X, beta, np.sqrt(W), self.factor)
        else:
            d, diag_inv = solved
        self.W = W
        phi = step_dispersion(family, float(np.sum(W * z * z)), int(np.count_nonzero(ok)), X.shape[1])
        cond = None if solved is not None else self.factor.cond  # type: ignore[union-attr]
        return IRLSStep(d=d, diag_inv=diag_inv, phi=phi, cond=cond, beta=beta)

    def evaluate(self, beta: np.ndarray, it: int) -> IRLSEvaluation:
        eta, mu, dev = _eval(self.family, self.X, beta, self.offset, self.y, self.w)
        return IRLSEvaluation(deviance=dev, valid=_valid(self.family, eta, mu), state=(eta, mu))

    def accept(self, evaluation: IRLSEvaluation) -> None:
        self.eta, self.mu = evaluation.state  # type: ignore[misc]

    def preliminary_done(self) -> None:
        self.use_chol = False

    def halving_failed(self, error: Exception) -> bool:
        if not self.count:
            return False
        # a count model may have its maximum-likelihood estimate on the boundary: say so, or fit that
        if not self.looked_for_separation:
            self.separation = detect_boundary(self.X, self.y, self.w)
        self.looked_for_separation = True
        if self.separation is None:
            return False
        if not self.count_log:
            raise boundary_error(self.separation, self.family, self.names, self.index) from None
        return True

    def stop_after(self, it: int, converged: bool) -> bool:
        if self.looked_for_separation or not (converged or it >= 5):
            return False
        mu, good = self.mu, self.good
        if self.family.name == "binomial":
            if np.any(good & ((mu < SEPARATION_MU) | (mu > 1.0 - SEPARATION_MU))):
                self.looked_for_separation = True
                self.separation = detect_separation(self.X, self.y, self.w)
        elif self.count_log and np.any(good & (self.y == 0) & (mu < SEPARATION_MU)):
            # zero counts whose fitted means keep falling: is the maximum-likelihood estimate on the boundary?
            self.looked_for_separation = True
            self.separation = detect_boundary(self.X, self.y, self.w)
        return self.separation is not None


def _starting_point(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, offset: np.ndarray, family: Family, mustart: np.ndarray,
    start: np.ndarray | None,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, float]:
    """``(beta, eta, mu, deviance)`` at ``start`` (NaN read as 0) or, without one, at R's starting means."""
    if start is not None:
        beta: np.ndarray | None = np.where(np.isnan(start), 0.0, np.asarray(start, dtype=float))
        eta, mu, dev = _eval(family, X, beta, offset, y, w)  # type: ignore[arg-type]
    else:
        beta = None
        eta = family.link.link(mustart)
        mu = family.link.inverse(eta)
        dev = family.deviance(y, mu, w)
    if not (_valid(family, eta, mu) and math.isfinite(dev)):
        raise DesignError(
            "cannot find valid starting values for the "
            f"{family}: the starting linear predictor or means are outside the link's or family's domain; pass "
            "start= (coefficients)"
        )
    return beta, eta, mu, dev


def irls(
    X: np.ndarray,
    y: np.ndarray,
    prior_weights: np.ndarray,
    offset: np.ndarray,
    family: Family,
    mustart: np.ndarray,
    *,
    start: np.ndarray | None = None,
    tol: float = DEFAULT_TOL,
    maxit: int = DEFAULT_MAXIT,
    rank_tol: float | None = None,
    index: pd.Index | None = None,
    names: tuple[str, ...] | None = None,
) -> IRLSResult:
    """Fit a GLM by Fisher scoring; see the module docstring for the algorithm and its convergence rule.

    Parameters
    ----------
    X : ndarray of shape (n_obs, n_params)
    y : ndarray of shape (n_obs,)
        Response on the model's scale (proportions for binomial).
    prior_weights : ndarray of shape (n_obs,)
    offset : ndarray of shape (n_obs,)
    family : Family
    mustart : ndarray of shape (n_obs,)
        Starting means (R's ``initialize``), used when ``start`` is None.
    start : ndarray of shape (n_params,), optional
        Starting coefficients.
    tol : float
        Convergence tolerance (see the module docstring).
    maxit : int
        Largest number of iterations.
    rank_tol : float, optional
        Rank tolerance of the QR.
    index : pandas.Index, optional
        Row labels, for messages.
    names : tuple of str, optional
        Column names, for messages.

    Returns
    -------
    IRLSResult
        For a Poisson or negative binomial model with log link whose maximum-likelihood estimate is on the boundary
        (zero counts whose fitted means tend to 0, see :func:`detect_boundary`): the fit without the separated rows,
        moved along the direction until their fitted means are at the log link's floor ``eps`` (R's
        ``pmax(exp(eta), .Machine$double.eps)``, where R's ``glm`` at ``epsilon = 1e-15`` stops too), with
        ``separation`` describing it (``kind="boundary"``) and ``converged`` that of the fit without those rows.

    Raises
    ------
    ConvergenceError
        The iteration did not converge in ``maxit`` iterations (and the model is not a separated binomial one or a
        count model on the boundary); the error's ``deviance_trace`` attribute holds the deviance after every
        iteration. A stall (the deviance constant while the steps stay the same size) is reported as such.
    DesignError
        No valid starting values; or a Poisson / negative binomial model with identity or sqrt link whose
        maximum-likelihood estimate has fitted means 0 (the edge of the link's domain), naming the rows.
    """
    n = X.shape[0]
    index = pd.RangeIndex(n) if index is None else index
    w = prior_weights
    beta, eta, mu, dev = _starting_point(X, y, w, offset, family, mustart, start)
    steps = _InMemorySteps(X, y, w, offset, family, eta, mu, rank_tol=rank_tol, index=index, names=names)
    loop = irls_loop(steps, beta, dev, tol=tol, maxit=maxit)
    separation = steps.separation
    if not loop.converged and separation is None and not steps.looked_for_separation:
        if family.name == "binomial":
            separation = detect_separation(X, y, w)
        elif steps.count:
            separation = detect_boundary(X, y, w)
    if separation is not None and separation.kind == "boundary":
        if not steps.count_log:
            raise boundary_error(separation, family, names, index)
        return _boundary_fit(
            X, y, w, offset, family, mustart, loop.beta, separation, tol=tol, maxit=maxit, rank_tol=rank_tol,
            index=index, iterations=loop.iterations, trace=loop.trace, qr_iterations=steps.qr_its,
        )
    if not loop.converged and separation is None:
        err = _not_converged(
            maxit, tol, loop.criterion, loop.trace, loop.criteria, family, steps.eta, steps.good, index
        )
        err.deviance_trace = tuple(loop.trace)  # type: ignore[attr-defined]
        raise err
    return _separated_or_converged(steps, loop, separation)


def _separated_or_converged(steps: _InMemorySteps, loop: IRLSLoop, separation: Separation | None) -> IRLSResult:
    """The result of a converged (or separated binomial) fit, with the factorization its diagnostics use."""
    X, y, w, offset, family = steps.X, steps.y, steps.w, steps.offset, steps.family
    eta, mu, dev, beta = steps.eta, steps.mu, loop.deviance, loop.beta
    factor, fac_weights = steps.factor, steps.fac_weights
    if factor is None or fac_weights is None or (separation is not None and fac_weights is not steps.W):
        # separated before any QR step (the factor and its weights are set together): factor the current weights for
        # the (unreliable) diagnostics
        me = family.link.mu_eta(eta)
        with np.errstate(divide="ignore", invalid="ignore"):
            weights_now: np.ndarray = np.where(steps.good & (me != 0), w * me**2 / family.variance(mu), 0.0)
        fac_weights = weights_now
        factor = qr_factor(X, np.sqrt(weights_now), steps.rank_tol)
    if beta is not None and np.any(beta[factor.aliased]):
        # stopped before a QR step folded a start's aliased coefficients (a separated fit)
        beta = fold_aliased(X, beta, np.sqrt(fac_weights), factor)
        eta, mu, dev = _eval(family, X, beta, offset, y, w)
    coef = np.array(beta, dtype=float)
    coef[factor.aliased] = np.nan
    if separation is not None:
        k = X.shape[1]
        separation = Separation(
            direction=np.where(np.isin(np.arange(k), factor.aliased), 0.0, separation.direction),
            rows=separation.rows,
            complete=separation.complete,
        )
    return IRLSResult(
        coef=coef,
        eta=eta,
        mu=mu,
        factor=factor,
        weights=fac_weights,
        deviance=float(dev),
        iterations=loop.iterations,
        converged=loop.converged,
        deviance_trace=tuple(loop.trace),
        criterion=loop.criterion,
        qr_iterations=steps.qr_its,
        separation=separation,
    )


#: families whose maximum-likelihood estimate can lie on the boundary (fitted means 0 for zero counts)
COUNT_FAMILIES = ("poisson", "negative_binomial")
#: iterations over which a stall (constant deviance, steps of constant size) is recognised
STALL_ITERATIONS = 5


def _not_converged(
    maxit: int, tol: float, crit: float, trace: list[float], crits: list[float], family: Family, eta: np.ndarray,
    good: np.ndarray, index: pd.Index,
) -> ConvergenceError:
    """The error for an iteration that did not converge, with advice that fits how it failed.

    A *stall*: the deviance has not changed (to rounding) over the last ``STALL_ITERATIONS`` iterations while the
    steps keep the same size, typically because fitted means sit at a link's clamp (R's ``eps``) where the
    likelihood is flat: more iterations cannot help. Steps still shrinking: more iterations can.
    """
    k = STALL_ITERATIONS
    tail = trace[-(k + 1):]
    recent = crits[-k:]
    flat = len(tail) == k + 1 and all(abs(b - a) <= 4.0 * EPS * (abs(b) + 0.1) for a, b in pairwise(tail))
    steady = (len(recent) == k and all(math.isfinite(c) and c > 0 for c in recent)
              and min(recent) > 0.5 * max(recent))
    head = (f"IRLS did not converge in {maxit} iterations (last step {crit:.3g} of |coefficient| + standard error, "
            f"tolerance {tol:g}); deviance trace: {format_trace(trace)}.")
    if flat and steady:
        with np.errstate(over="ignore", invalid="ignore"):
            clamped = good & ~(np.abs(family.link.mu_eta(eta)) > EPS)
        where = (
            f" The fitted means of rows {format_labels(index[clamped], 5)} sit at the link's clamp (R's eps), where "
            "the likelihood is flat." if clamped.any() else ""
        )
        return ConvergenceError(
            f"{head} IRLS stalled: over the last {k} iterations the deviance did not change while every step stayed "
            f"about {crit:.3g}.{where} More iterations cannot help: a coefficient's maximum-likelihood estimate is "
            f"probably infinite; remove the rows that drive it, or pass tol above {crit:.2g} to accept these "
            "coefficients"
        )
    finite = [c for c in recent if math.isfinite(c) and c > 0]
    rates = [b / a for a, b in pairwise(finite)]
    if rates and max(rates) < 0.9:
        return ConvergenceError(
            f"{head} The steps were still shrinking (by a factor of about {rates[-1]:.2g} per iteration): raise "
            "maxit, or pass start= (coefficients) closer to the estimate"
        )
    return ConvergenceError(
        f"{head} The steps are not shrinking steadily: pass start= (coefficients) closer to the estimate, or loosen "
        "tol"
    )


def detect_boundary(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> Separation | None:
    """Look for a Poisson / negative binomial maximum-likelihood estimate on the boundary (infinite coefficients).

    A direction ``b`` with ``x_i'b <= 0`` for every zero count, ``x_i'b = 0`` for every positive count and
    ``x_i'b < 0`` for some zero count raises the likelihood without bound (the zero counts' fitted means fall to 0,
    the others' do not move): typically a factor level, or a cell of an interaction, whose counts are all 0. It is
    the linear program of :func:`detect_separation` with the zero counts as "failures" and the positive counts held
    on ``x_i'b = 0``; the result has ``kind="boundary"``.
    """
    sep = detect_separation(X, np.where(np.asarray(y) > 0, 0.5, 0.0), w)
    return None if sep is None else dataclasses.replace(sep, kind="boundary")


def boundary_error(sep: Separation, family: Family, names: tuple[str, ...] | None, index: pd.Index) -> DesignError:
    """A count model with identity or sqrt link whose maximum-likelihood estimate has fitted means 0."""
    nm = names if names is not None else tuple(f"x{j}" for j in range(len(sep.direction)))
    return DesignError(
        f"{sep.describe(nm, index)}. With the {family.link.name} link those fitted means would have to reach 0, the "
        f"edge of the link's domain, where IRLS cannot go (R's glm fails here too): fit the {family.name} model with "
        "the log link (regdiag then fits the limit and warns), or leave those rows out"
    )


def _on_kept_columns(X: np.ndarray, v: np.ndarray, aliased: np.ndarray) -> np.ndarray:
    """``v`` re-expressed on the non-aliased columns: the vector with 0 for aliased columns and the same ``X v``."""
    if len(aliased) == 0:
        return v
    kept = np.setdiff1d(np.arange(X.shape[1]), aliased)
    out = np.zeros_like(v)
    out[kept] = np.linalg.lstsq(X[:, kept], X @ v, rcond=None)[0]
    return out


def _boundary_fit(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, offset: np.ndarray, family: Family, mustart: np.ndarray,
    beta: np.ndarray | None, sep: Separation, *, tol: float, maxit: int, rank_tol: float | None, index: pd.Index,
    iterations: int, trace: list[float], qr_iterations: int,
) -> IRLSResult:
    """The limit of the likelihood along the boundary direction (see :func:`irls`'s Returns).

    The rows the direction separates carry no information on the other coefficients in the limit: the fit without
    them (prior weight 0, so that the direction is aliased there) gives the finite part ``b0``; the coefficients are
    ``b0 + t d`` with the smallest ``t`` that puts every separated row's linear predictor at ``log(eps)``.
    """
    k = X.shape[1]
    rows = sep.rows
    beta0 = np.zeros(k)
    its, conv, crit, qr_its = iterations, True, 0.0, qr_iterations
    more: list[float] = []
    if not sep.complete:
        sub_w = np.array(w, dtype=float)
        sub_w[rows] = 0.0
        # from the usual starting means, not from the diverged coefficients: the direction's columns are aliased
        # without the separated rows, and a start value on an aliased column would stay in the linear predictor
        sub = irls(X, y, sub_w, offset, family, mustart, start=None, tol=tol, maxit=maxit, rank_tol=rank_tol,
                   index=index)
        beta0 = np.where(np.isnan(sub.coef), 0.0, sub.coef)
        its += sub.iterations
        conv, crit, qr_its = sub.converged, sub.criterion, qr_its + sub.qr_iterations
        more = list(sub.deviance_trace[1:])
    d = np.asarray(sep.direction, dtype=float)
    u = X[rows] @ d  # < 0 on every separated row
    e0 = X[rows] @ beta0 + offset[rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        need = (e0 - math.log(EPS)) / -u
    t = max(0.0, float(np.max(need[np.isfinite(need)]))) if np.isfinite(need).any() else 0.0
    coef = beta0 + t * d
    eta, mu, dev = _eval(family, X, coef, offset, y, w)
    W, _, _ = working_weights(family, y, w, eta, mu, it=its, index=index)
    factor = qr_factor(X, np.sqrt(W), rank_tol)
    coef = _on_kept_columns(X, coef, factor.aliased)
    coef[factor.aliased] = np.nan
    direction = _on_kept_columns(X, d, factor.aliased)
    direction = direction / np.max(np.abs(direction))
    out_trace = list(trace) + more
    out_trace[-1] = dev
    return IRLSResult(
        coef=coef,
        eta=eta,
        mu=mu,
        factor=factor,
        weights=W,
        deviance=float(dev),
        iterations=its,
        converged=conv,
        deviance_trace=tuple(out_trace),
        criterion=crit,
        qr_iterations=qr_its,
        separation=Separation(direction=direction, rows=rows, complete=sep.complete, kind="boundary"),
    )


def format_trace(trace: list[float], limit: int = 8) -> str:
    """A deviance trace for a message: every value up to ``limit`` of them, else the first three and the last few."""
    shown = trace if len(trace) <= limit else trace[:3] + [math.nan] + trace[-(limit - 4) :]
    return ", ".join("..." if math.isnan(v) else f"{v:.10g}" for v in shown)


def detect_separation(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> Separation | None:
    """Look for complete or quasi-complete separation of a binomial response by linear programming.

    Parameters
    ----------
    X : ndarray of shape (n_obs, n_params)
    y : ndarray of shape (n_obs,)
        Proportions of successes.
    w : ndarray of shape (n_obs,)
        Prior weights (rows with weight 0 are ignored).

    Returns
    -------
    Separation or None

    Notes
    -----
    Konis's linear program (as in R's ``detectseparation``/``safeBinaryRegression``): with ``s_i = +1`` for rows
    with only successes, ``-1`` for rows with only failures and ``x_i'b = 0`` imposed on rows with both, maximize
    ``sum_i s_i x_i'b`` subject to ``s_i x_i'b >= 0`` and ``-1 <= b_j <= 1`` (columns scaled by powers of two to
    a largest absolute value near 1). A positive optimum is a direction along which the likelihood increases without
    bound. The LP's answer is verified in floating point: every constraint must hold to ``1e-7`` of the largest
    ``|x_i'b|`` before separation is reported. The LP is solved again with the objective on the rows not yet
    separated until no new row is found, so that the reported rows are all the rows some direction separates.
    """
    from scipy.optimize import linprog

    pos = w > 0
    Xp = np.asarray(X, dtype=float)[pos]
    yp = np.asarray(y, dtype=float)[pos]
    if Xp.shape[0] == 0:
        return None
    scale = power_of_two_scale(np.max(np.abs(Xp), axis=0))
    Xs = Xp * scale
    s = np.where(yp >= 1.0, 1.0, np.where(yp <= 0.0, -1.0, 0.0))
    ineq = s != 0
    A_ub = -(s[ineq, None] * Xs[ineq])
    eq = ~ineq
    kw: dict[str, Any] = dict(  # linprog's keyword arguments, of several types
        A_ub=A_ub if A_ub.size else None,
        b_ub=np.zeros(A_ub.shape[0]) if A_ub.size else None,
        A_eq=Xs[eq] if eq.any() else None,
        b_eq=np.zeros(int(eq.sum())) if eq.any() else None,
        bounds=[(-1.0, 1.0)] * Xs.shape[1],
        method="highs",
    )
    # the directions with s_i x_i'b >= 0 form a convex cone, so the sum of the LP solutions separates the union of
    # the rows each one separates: repeat with the objective on the rows not separated yet
    total = np.zeros(Xs.shape[1])
    found = np.zeros(Xs.shape[0], dtype=bool)
    for _ in range(Xs.shape[1] + 1):
        todo = ineq & ~found
        if not todo.any():
            break
        res = linprog(-(s[todo] @ Xs[todo]), **kw)
        if res.status != 0 or res.x is None or res.fun is None or not (-res.fun > 1e-6):
            break
        b = res.x / np.max(np.abs(res.x))
        t = Xs @ b
        thr = 1e-7 * float(np.max(np.abs(t)))
        new = np.abs(t) > thr
        if not (new & ~found).any():
            break
        found |= new
        total += b
    if not found.any():
        return None
    t = Xs @ total
    big = float(np.max(np.abs(t)))
    thr = 1e-7 * big
    if big <= 0 or np.any(s[ineq] * t[ineq] < -thr) or (eq.any() and np.any(np.abs(t[eq]) > thr)):
        return None  # the LP's answer does not hold in floating point
    sep_rows_pos = np.flatnonzero(np.abs(t) > thr)
    direction = total * scale
    direction = direction / np.max(np.abs(direction))
    rows = np.flatnonzero(pos)[sep_rows_pos]
    return Separation(direction=direction, rows=rows, complete=bool(len(sep_rows_pos) == Xp.shape[0]))


def warn_separation(sep: Separation, names: tuple[str, ...], index: pd.Index) -> None:
    """One warning describing the separation or boundary (used by the fit)."""
    extra = ""
    if sep.kind == "boundary":
        extra = (
            ". The fitted values of the other rows, and the coefficients they identify, are those of the fit without "
            "these rows; along the direction the coefficients are where these rows' fitted means reach the log "
            "link's floor eps (numerically 0; where R's glm stops at epsilon = 1e-15)"
        )
    warn(
        sep.describe(names, index) + extra + ". Influence measures of this fit are unreliable and are reported as "
        "NaN."
    )
