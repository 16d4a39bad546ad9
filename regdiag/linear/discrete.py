"""statsmodels' discrete models (Logit, Probit, Poisson, NegativeBinomial NB2, GeneralizedPoisson, MNLogit): the
maximum-likelihood fit, its influence measures and exact case deletion.

Every model here has observations whose negative log-likelihood ``l_i`` depends on the parameters ``theta``
(``P`` of them) through ``k`` outputs that are linear in ``theta``: ``o_i = J_i theta`` (+ offset) -- the linear
predictor (``k = 1``), the linear predictor and an ancillary parameter (NB2's and the generalized Poisson's alpha,
``k = 2``), or one linear predictor per non-baseline category (MNLogit, ``k = J - 1``, ``J_i = I_k (x) x_i'``).
With ``g_i = dl_i/do`` (``k``), ``A_i = d^2 l_i/do do'`` (``k x k``, the observed information in the outputs) and
``H = sum_i J_i' A_i J_i`` (the observed information):

* the generalized hat matrix ``J H^{-1} J' A`` has diagonal blocks ``A_i L_i`` with ``L_i = J_i H^{-1} J_i'``;
  the leverage of observation i is its trace ``tr(A_i L_i)`` (summing to ``P``) -- for one linear predictor the
  usual ``a_i x_i' H^{-1} x_i``, for MNLogit the sum over the equations of the block's diagonal;
* removing observation i gives the information ``H_(i) = H - J_i' A_i J_i``, and the push-through identity
  ``H_(i)^{-1} J_i' = H^{-1} J_i' (I_k - A_i L_i)^{-1}`` makes the Newton step from ``theta`` without i a
  ``k x k`` solve: ``theta - theta_(i) ~ -H^{-1} J_i' (I - A_i L_i)^{-1} g_i`` (the one-step deletion, exact for
  the quadratic model of the log-likelihood); for ``k = 1`` it is ``-H^{-1} x_i g_i / (1 - h_i)``;
* Cook's distance over all parameters (all equations of MNLogit) is ``D_i = d_i' H d_i / P`` with
  ``d_i = theta - theta_(i)`` (the change in the Wald metric of the full fit), for the one-step change
  ``g_i' (I - L_i A_i)^{-1} L_i (I - A_i L_i)^{-1} g_i / P``; COVRATIO is
  ``det(H_(i)^{-1}) / det(H^{-1}) = 1 / det(I - A_i L_i)``;
* exact deletion re-solves the likelihood equations without i by Newton steps with ``H_(i)`` held at ``theta``
  (the ``k x k`` identity again), batched over deletions and warm-started at the one-step estimate
  (:func:`exact_deletion`).

Studentized residuals are Williams' likelihood residuals ``sign(y - mu) sqrt(r_D^2 + h r_P^2 / (1 - h))`` (deviance
and Pearson residuals, R's ``rstudent`` for a binomial or Poisson GLM) for logit, probit and Poisson; the models
with an ancillary parameter or several equations have no deviance residual of one linear predictor, and get NaN
with a warning.

Standard errors are ``sqrt(diag(H^{-1}))`` (statsmodels' default ``cov_params()`` for these models).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import special, stats

from .._validation import ConvergenceError, DataError, DesignError, InfluenceWarning, format_labels
from .._warnings import warn_not_converged
from ..protocols import ModelKind
from ..results import GroupInfluence, MLEInfluence
from .glm_exact import BLAS_MAC, blocked_matmul  # products small enough for OpenBLAS to run on the calling thread

__all__ = ["DISCRETE_MODELS", "MLEFit", "brute_force_loo", "discrete_from_statsmodels", "exact_deletion",
           "group_deletion"]

#: statsmodels model class name -> regdiag's model name
DISCRETE_MODELS = {
    "Logit": "logit",
    "Probit": "probit",
    "Poisson": "poisson",
    "NegativeBinomial": "negbin2",
    "GeneralizedPoisson": "genpoisson",
    "MNLogit": "mnlogit",
}
LOO_TOL = 1e-10
LOO_MAXIT = 30
BATCH = 256
#: Newton steps of a deleted fit refitted from the full fit before it counts as not converging (a negative binomial
#: whose alpha is near 0 can need a few hundred: its likelihood is flat in alpha there)
REFIT_MAXIT = 1000


# ---------------------------------------------------------------------------------------------------------------
# per-observation losses in the outputs


_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _mills(t: np.ndarray) -> np.ndarray:
    """``phi(t) / Phi(t)``: the ratio directly (scipy's ndtr keeps its relative accuracy in the lower tail), through
    logarithms where ``Phi`` underflows (``t < -37``)."""
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        out = np.exp(-0.5 * t * t - _LOG_SQRT_2PI) / special.ndtr(t)
    far = ~np.isfinite(out)
    if far.any():
        out[far] = np.exp(-0.5 * t[far] ** 2 - _LOG_SQRT_2PI - special.log_ndtr(t[far]))
    return out


def _probit_parts(eta: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``dl/deta`` and ``d^2 l/deta^2`` of ``l = -(y log Phi(eta) + (1 - y) log Phi(-eta))``."""
    if np.all((y == 0.0) | (y == 1.0)):  # one Mills ratio per element: lambda(q eta), q = 2y - 1
        q = 2.0 * y - 1.0
        qe = q * eta
        lam = _mills(qe)
        return -q * lam, lam * (qe + lam)
    lam1 = _mills(eta)
    lam0 = _mills(-eta)
    g = -(y * lam1 - (1.0 - y) * lam0)
    a = y * lam1 * (eta + lam1) + (1.0 - y) * lam0 * (lam0 - eta)
    return g, a


def _loss(kind: str, O: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Negative log-likelihood of each observation, ``O`` of shape (n, k) (or (n, k, B))."""
    if kind == "logit":
        eta = O[:, 0]
        return np.logaddexp(0.0, eta) - _bc(y, eta) * eta
    if kind == "probit":
        eta = O[:, 0]
        yy = _bc(y, eta)
        return -(yy * special.log_ndtr(eta) + (1.0 - yy) * special.log_ndtr(-eta))
    if kind == "poisson":
        eta = O[:, 0]
        yy = _bc(y, eta)
        return np.exp(eta) - yy * eta + special.gammaln(yy + 1.0)
    if kind == "negbin2":
        eta, al = O[:, 0], O[:, 1]
        yy = _bc(y, eta)
        mu = np.exp(eta)
        a = 1.0 / al
        return -(special.gammaln(yy + a) - special.gammaln(a) - special.gammaln(yy + 1.0) + yy * np.log(al * mu)
                 - (yy + a) * np.log1p(al * mu))
    if kind == "genpoisson":
        eta, al = O[:, 0], O[:, 1]
        yy = _bc(y, eta)
        mu = np.exp(eta)
        a2 = mu + al * yy
        return -(eta + (yy - 1.0) * np.log(a2) - yy * np.log1p(al) - special.gammaln(yy + 1.0) - a2 / (1.0 + al))
    # mnlogit: y is the (n, J) indicator matrix
    Z = np.concatenate([np.zeros_like(O[:, :1]), O], axis=1)
    lse = special.logsumexp(Z, axis=1)
    return lse - np.sum(_bc(y, Z) * Z, axis=1)


def _bc(y: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``y`` broadcast against ``like``'s trailing batch axis."""
    return y if y.ndim == like.ndim else y.reshape(y.shape + (1,) * (like.ndim - y.ndim))


def _grad(kind: str, O: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``dl_i/do`` of shape like ``O`` ((n, k) or (n, k, B))."""
    if kind == "logit":
        return (special.expit(O[:, 0]) - _bc(y, O[:, 0]))[:, None]
    if kind == "probit":
        eta = O[:, 0]
        yy = _bc(y, eta)
        if np.all((y == 0.0) | (y == 1.0)):  # the gradient alone, one Mills ratio per element
            q = 2.0 * yy - 1.0
            return (-q * _mills(q * eta))[:, None]
        return _probit_parts(eta, yy)[0][:, None]
    if kind == "poisson":
        return (np.exp(O[:, 0]) - _bc(y, O[:, 0]))[:, None]
    if kind == "negbin2":
        eta, al = O[:, 0], O[:, 1]
        yy = _bc(y, eta)
        mu = np.exp(eta)
        a = 1.0 / al
        q = _digamma_diff(y, a) - np.log1p(al * mu)
        out = np.empty(O.shape)
        t = 1.0 + al * mu
        r = yy - mu
        r /= t  # (y - mu) / (1 + alpha mu)
        np.negative(r, out=out[:, 0])
        q /= al * al
        q -= r / al
        out[:, 1] = q
        return out
    if kind == "genpoisson":
        eta, al = O[:, 0], O[:, 1]
        yy = _bc(y, eta)
        mu = np.exp(eta)
        a2 = mu + al * yy
        g_eta = -(1.0 + (yy - 1.0) * mu / a2 - mu / (1.0 + al))
        g_al = -((yy - 1.0) * yy / a2 - yy / (1.0 + al) - (yy - mu) / (1.0 + al) ** 2)
        return np.stack([g_eta, g_al], axis=1)
    Z = np.concatenate([np.zeros_like(O[:, :1]), O], axis=1)
    Z -= Z.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)
    return (Z - _bc(y, Z))[:, 1:]


def _digamma_diff(y: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``digamma(y + a) - digamma(a)``, shape of ``a`` ((n,) or (n, B)). In a batch of deletions ``a = 1/alpha`` is
    one number per column and the counts take few distinct values: evaluated once per (count, column)."""
    if a.ndim == 2 and a.shape[0] > 1 and np.all(a == a[:1]) and np.all(y == np.round(y)):
        uy, inv = np.unique(y, return_inverse=True)
        col = a[0]
        table = special.digamma(uy[:, None] + col[None, :]) - special.digamma(col)[None, :]
        return table[inv.ravel()]
    return special.digamma(_bc(y, a) + a) - special.digamma(a)


def _hess(kind: str, O: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``d^2 l_i/do do'`` of shape (n, k, k)."""
    n = O.shape[0]
    if kind == "logit":
        m = special.expit(O[:, 0])
        return (m * (1.0 - m))[:, None, None]
    if kind == "probit":
        return _probit_parts(O[:, 0], y)[1][:, None, None]
    if kind == "poisson":
        return np.exp(O[:, 0])[:, None, None]
    out = np.empty((n, O.shape[1], O.shape[1]))
    if kind == "negbin2":
        eta, al = O[:, 0], O[:, 1]
        mu = np.exp(eta)
        a = 1.0 / al
        t = 1.0 + al * mu
        q = special.digamma(y + a) - special.digamma(a) - np.log1p(al * mu)
        dq = -(special.polygamma(1, y + a) - special.polygamma(1, a)) / al**2 - mu / t
        ll_aa = 2.0 * q / al**3 - dq / al**2 - (y - mu) * (1.0 + 2.0 * al * mu) / (al + al**2 * mu) ** 2
        out[:, 0, 0] = mu * (1.0 + al * y) / t**2
        out[:, 0, 1] = out[:, 1, 0] = (y - mu) * mu / t**2
        out[:, 1, 1] = -ll_aa
        return out
    if kind == "genpoisson":
        eta, al = O[:, 0], O[:, 1]
        mu = np.exp(eta)
        a2 = mu + al * y
        out[:, 0, 0] = -((y - 1.0) * mu * al * y / a2**2 - mu / (1.0 + al))
        out[:, 0, 1] = out[:, 1, 0] = -(-(y - 1.0) * y * mu / a2**2 + mu / (1.0 + al) ** 2)
        out[:, 1, 1] = -(-(y - 1.0) * y**2 / a2**2 + y / (1.0 + al) ** 2 + 2.0 * (y - mu) / (1.0 + al) ** 3)
        return out
    Z = np.concatenate([np.zeros((n, 1)), O], axis=1)
    P = np.exp(Z - special.logsumexp(Z, axis=1, keepdims=True))[:, 1:]
    out = -P[:, :, None] * P[:, None, :]
    idx = np.arange(P.shape[1])
    out[:, idx, idx] += P
    return out


# ---------------------------------------------------------------------------------------------------------------
# the fit


@dataclass(frozen=True, eq=False)
class MLEFit:
    """A maximum-likelihood fit of a discrete model, refitted to convergence from a statsmodels results object.

    Attributes
    ----------
    kind : str
        "logit", "probit", "poisson", "negbin2", "genpoisson" or "mnlogit".
    X : ndarray of shape (n_obs, n_exog)
        Design matrix of the linear predictor(s).
    y : ndarray of shape (n_obs,) or (n_obs, J)
        Response (the indicator matrix for MNLogit).
    offset : ndarray of shape (n_obs,)
        Offset of the linear predictor(s) (log exposure included).
    params : ndarray of shape (n_params,)
        ``theta`` (MNLogit: equation by equation; NB2/GP: alpha last).
    index : pandas.Index
        Row labels of the data.
    param_names : tuple of str
        Names of the parameters, one per entry of ``params``.
    exog_names : tuple of str
        Names of the columns of ``X``.
    iterations : int
        Newton steps of the refit.
    source_design : Design or None
        The design the statsmodels model was built from, where known (formula, response name, dropped rows).
    """

    model_kind: ClassVar[ModelKind] = ModelKind.MLE

    kind: str
    X: np.ndarray
    y: np.ndarray
    offset: np.ndarray
    params: np.ndarray
    index: pd.Index
    param_names: tuple[str, ...]
    exog_names: tuple[str, ...]
    iterations: int = 0
    source_design: Any = None
    _cache: dict = field(default_factory=dict, init=False, repr=False)

    @property
    def design(self) -> Any:
        """The :class:`~regdiag.design.Design` the model was built from (formula, response name, dropped rows), or
        one made from the arrays (the response as the category number for MNLogit)."""
        if self.source_design is not None:
            return self.source_design
        from ..design import Design

        y = self.y if self.y.ndim == 1 else np.argmax(self.y, axis=1).astype(float)
        return Design(X=self.X, y=y, weights=None, offset=None if not np.any(self.offset) else self.offset,
                      index=self.index, param_names=self.exog_names, response_name="y")

    def coef_table(self) -> pd.DataFrame:
        """Parameters, standard errors, Wald statistics and two-sided normal p-values.

        Returns
        -------
        pandas.DataFrame of shape (n_params, 4)
            Columns ``estimate``, ``se``, ``z`` and ``p``, indexed by ``param_names``.
        """
        se = self.bse
        z = pd.Series(self.params, index=list(self.param_names)) / se
        return pd.DataFrame({"estimate": self.params, "se": se.to_numpy(), "z": z.to_numpy(),
                             "p": 2 * stats.norm.sf(np.abs(z.to_numpy()))}, index=list(self.param_names))

    def summary(self) -> str:
        """A text summary: the model, n, the log-likelihood and the coefficient table.

        Returns
        -------
        str
            Several lines.
        """
        lines = [
            f"{self.kind} maximum-likelihood fit (refitted from statsmodels to convergence, {self.iterations} Newton "
            "steps)",
            f"n = {self.n_obs}, parameters = {self.n_params}, log-likelihood = {self.loglike():.6f}",
        ]
        dropped = getattr(getattr(self, "design", None), "dropped", ())
        if len(dropped):
            lines.append(f"dropped for missing values: {len(dropped)} row(s) ({format_labels(dropped)})")
        return "\n".join([*lines, self.coef_table().to_string()])

    @property
    def df_resid(self) -> int:
        """``n_obs - n_params``."""
        return self.n_obs - self.n_params

    # ---- structure ---------------------------------------------------------------------------------------------
    @property
    def n_obs(self) -> int:
        """Number of observations."""
        return int(self.X.shape[0])

    nobs = n_obs

    @property
    def n_params(self) -> int:
        """Number of parameters (MNLogit: all equations'; NB2/GP: alpha included)."""
        return len(self.params)

    @property
    def rank(self) -> int:
        """Number of parameters (the refit needs a nonsingular information)."""
        return self.n_params

    @property
    def n_outputs(self) -> int:
        """Outputs per observation ``k``: 1 (logit, probit, Poisson), 2 (NB2, GP: the mean's linear predictor
        and alpha) or ``J - 1`` (MNLogit: one linear predictor per non-base category)."""
        if self.kind == "mnlogit":
            return self.y.shape[1] - 1
        return 2 if self.kind in ("negbin2", "genpoisson") else 1

    @property
    def aliased(self) -> tuple[str, ...]:
        """Names of aliased parameters: none."""
        return ()

    def jacobian(self) -> np.ndarray:
        """``J_i``: the outputs' derivative in the parameters (constant: the outputs are linear in them).

        Returns
        -------
        ndarray of shape (n_obs, k, n_params)
            Read-only; ``k`` is :attr:`n_outputs`.
        """
        if "J" not in self._cache:
            n, p = self.X.shape
            k, P = self.n_outputs, self.n_params
            J = np.zeros((n, k, P))
            if self.kind == "mnlogit":
                for c in range(k):
                    J[:, c, c * p:(c + 1) * p] = self.X
            else:
                J[:, 0, :p] = self.X
                if k == 2:
                    J[:, 1, p] = 1.0
            J.flags.writeable = False
            self._cache["J"] = J
        return self._cache["J"]

    def outputs(self, theta: np.ndarray | None = None) -> np.ndarray:
        """``o_i = J_i theta`` plus the offset on the linear predictors.

        Parameters
        ----------
        theta : ndarray of shape (n_params,), optional
            Parameters (default: the fit's).

        Returns
        -------
        ndarray of shape (n_obs, k)
            The outputs of every observation.
        """
        theta = self.params if theta is None else theta
        O = self.jacobian() @ theta
        O[:, : (self.n_outputs if self.kind == "mnlogit" else 1)] += self.offset[:, None]
        return O

    def loglike(self, theta: np.ndarray | None = None) -> float:
        """The log-likelihood.

        Parameters
        ----------
        theta : ndarray of shape (n_params,), optional
            Parameters (default: the fit's).

        Returns
        -------
        float
            The sum over observations.
        """
        return -float(np.sum(_loss(self.kind, self.outputs(theta), self.y)))

    def grad_outputs(self) -> np.ndarray:
        """Gradient of each observation's negative log-likelihood in its outputs, at the fit.

        Returns
        -------
        ndarray of shape (n_obs, k)
        """
        return _grad(self.kind, self.outputs(), self.y)

    def hess_outputs(self) -> np.ndarray:
        """Hessian ``A_i`` of each observation's negative log-likelihood in its outputs, at the fit.

        Returns
        -------
        ndarray of shape (n_obs, k, k)
        """
        return _hess(self.kind, self.outputs(), self.y)

    def information(self) -> np.ndarray:
        """Observed information ``H = sum_i J_i' A_i J_i``.

        Returns
        -------
        ndarray of shape (n_params, n_params)
            Cached: the same array on each call.
        """
        if "H" not in self._cache:
            J = self.jacobian()
            A = self.hess_outputs()
            self._cache["H"] = np.einsum("nkp,nkl,nlq->pq", J, A, J)
        return self._cache["H"]

    def cov_params(self) -> pd.DataFrame:
        """The inverse of the observed information.

        Returns
        -------
        pandas.DataFrame of shape (n_params, n_params)
            Rows and columns labelled by ``param_names``.
        """
        names = list(self.param_names)
        return pd.DataFrame(np.linalg.inv(self.information()), index=names, columns=names)

    @property
    def bse(self) -> pd.Series:
        """Standard errors from the observed information, indexed by ``param_names``."""
        return pd.Series(np.sqrt(np.diag(np.linalg.inv(self.information()))), index=list(self.param_names),
                         name="bse")

    @property
    def mean(self) -> np.ndarray:
        """Fitted mean of the response (class probabilities, shape (n, J), for MNLogit)."""
        O = self.outputs()
        if self.kind == "logit":
            return special.expit(O[:, 0])
        if self.kind == "probit":
            return special.ndtr(O[:, 0])
        if self.kind == "mnlogit":
            Z = np.concatenate([np.zeros((self.n_obs, 1)), O], axis=1)
            return np.exp(Z - special.logsumexp(Z, axis=1, keepdims=True))
        return np.exp(O[:, 0])

    def variance(self) -> np.ndarray | None:
        """Variance of the response at the fit.

        Returns
        -------
        ndarray of shape (n_obs,) or None
            None for MNLogit (a multivariate response).
        """
        mu = self.mean
        if self.kind in ("logit", "probit"):
            return mu * (1.0 - mu)
        if self.kind == "poisson":
            return mu
        al = self.params[-1]
        if self.kind == "negbin2":
            return mu + al * mu * mu
        if self.kind == "genpoisson":
            return mu * (1.0 + al) ** 2
        return None

    def __repr__(self) -> str:
        return f"<MLEFit {self.kind} n={self.n_obs} P={self.n_params}>"

    # ---- influence ---------------------------------------------------------------------------------------------
    def influence(self, loo: str = "exact", *, tol: float = LOO_TOL, maxit: int = LOO_MAXIT) -> MLEInfluence:
        """Influence measures of every observation (see the module docstring).

        Parameters
        ----------
        loo : {"exact", "one-step"}
            ``dfbeta`` from the re-solved likelihood equations (default) or from the one-step Newton estimate.
        tol, maxit : float, int
            Exact deletion: bound on the error left (standard errors), Newton steps before a refit.

        Returns
        -------
        MLEInfluence
        """
        if loo not in ("exact", "one-step"):
            raise ValueError(f"loo={loo!r} is not one of 'exact', 'one-step'")
        parts = self._one_step_parts()
        H, one_step, lev, k = parts["H"], parts["one_step"], parts["lev"], parts["k"]
        n, P = self.n_obs, self.n_params
        cook_one = np.einsum("np,pq,nq->n", one_step, H, one_step) / P
        iters = err = None
        if loo == "exact" and self.kind in ("logit", "poisson"):
            dfbeta, iters, err = self._glm_exact(tol, maxit)
        elif loo == "exact":
            ex = exact_deletion(self, one_step, tol=tol, maxit=maxit)
            dfbeta, iters, err = ex.dfbeta, ex.iterations, ex.error_bound
        else:
            dfbeta = one_step
        cook = np.einsum("np,pq,nq->n", dfbeta, H, dfbeta) / P
        with np.errstate(all="ignore"):
            covr = 1.0 / np.linalg.det(parts["IAL"])
        covr[parts["bad"]] = np.nan
        resid, rp, std, press, dffits = self._residual_measures(lev)
        AL, Hinv = parts["AL"], parts["Hinv"]
        return MLEInfluence(
            leverage=lev,
            resid=resid,
            standard_resid=std,
            student_resid=self._likelihood_resid(lev, rp),
            press_resid=press,
            sigma_loo=np.ones(n),
            cooks_distance=cook,
            cooks_pvalue=stats.chi2.sf(cook * P, P),
            dffits=dffits,
            cov_ratio=covr,
            dfbeta_data=dfbeta,
            params=np.array(self.params),
            cov_unscaled_diag=np.diag(Hinv).copy(),
            sigma=1.0,
            rank=P,
            df_resid=float(n - P),
            n_obs=n,
            weights=None,
            index=self.index,
            param_names=self.param_names,
            method=f"{self.kind}-exact" if loo == "exact" else f"{self.kind}-one-step",
            fit=self,
            model=self.kind,
            resid_pearson=rp,
            leverage_block=AL if k > 1 else None,
            dfbeta_one_step=one_step,
            cooks_distance_one_step=cook_one,
            loo_iterations=iters,
            loo_error_bound=err,
        )

    def _one_step_parts(self) -> dict[str, Any]:
        """The pieces of the one-step deletion (module docstring): ``H``, ``H^{-1}``, ``A_i L_i`` (n, k, k),
        ``I - A_i L_i``, the leverages, the one-step ``theta - theta_(i)`` (NaN where ``I - A_i L_i`` is
        singular) and that mask ``bad``."""
        J = self.jacobian()
        A = self.hess_outputs()
        g = self.grad_outputs()
        H = self.information()
        Hinv = np.linalg.inv(H)
        k = J.shape[1]
        HJ = np.einsum("pq,nkq->nkp", Hinv, J)  # H^{-1} J_i' as (n, k, P)
        L = np.einsum("nkp,nlp->nkl", J, HJ)
        AL = A @ L
        IAL = np.eye(k)[None] - AL
        with np.errstate(all="ignore"):
            v = np.linalg.solve(IAL, g[:, :, None])[:, :, 0]  # (I - A L)^{-1} g
        one_step = -np.einsum("nkp,nk->np", HJ, v)
        bad = ~np.all(np.isfinite(one_step), axis=1) | ~(np.abs(np.linalg.det(IAL)) > 1e-12)
        one_step[bad] = np.nan
        return {"H": H, "Hinv": Hinv, "AL": AL, "IAL": IAL, "lev": np.trace(AL, axis1=1, axis2=2),
                "one_step": one_step, "bad": bad, "k": k}

    def _residual_measures(self, lev: np.ndarray) -> tuple[np.ndarray, ...]:
        """Response and Pearson residuals, standardized and PRESS residuals, DFFITS (NaN without a variance
        function, i.e. for several equations)."""
        var = self.variance()
        nan = np.full(self.n_obs, np.nan)
        if var is None:
            return nan, nan, nan, nan, nan
        resid = (self.y if self.y.ndim == 1 else nan) - self.mean
        with np.errstate(all="ignore"):
            rp = resid / np.sqrt(var)
            std = rp / np.sqrt(1.0 - lev)
            press = resid / (1.0 - lev)
            dffits = std * np.sqrt(lev / (1.0 - lev))
        return resid, rp, std, press, dffits

    def group_deletion(self, groups: Any, *, tol: float = LOO_TOL, maxit: int = LOO_MAXIT) -> GroupInfluence:
        """Exact deletion of whole groups of rows; see :func:`regdiag.linear.discrete.group_deletion`.

        Parameters
        ----------
        groups : array_like, mapping or sequence of sequences
            One group label per row, ``{group: [row labels]}``, or a list of lists of row labels.
        tol : float
            Bound on the error left, in standard errors.
        maxit : int
            Newton steps per group before a refit.

        Returns
        -------
        GroupInfluence
            One row per group.
        """
        return group_deletion(self, groups, tol=tol, maxit=maxit)

    def _likelihood_resid(self, lev: np.ndarray, rp: np.ndarray) -> np.ndarray:
        """Studentized residuals: Williams' likelihood residuals ``sign(y - mu) sqrt(r_D^2 + h r_P^2 / (1 - h))``
        (R's ``rstudent`` of a binomial or Poisson GLM), for the models whose deviance residual ``r_D`` needs no
        ancillary parameter (logit, probit, Poisson); NaN for the others, with a warning."""
        n = self.n_obs
        if self.kind not in ("logit", "probit", "poisson"):
            warnings.warn(
                f"studentized residuals of a {self.kind} model are NaN: its leverage is over several outputs (the "
                "ancillary parameter or the equations), and it has no deviance residual of the linear predictor "
                "alone", InfluenceWarning, stacklevel=3)
            return np.full(n, np.nan)
        y, mu = self.y, self.mean
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.kind == "poisson":
                dev = 2.0 * (special.xlogy(y, y / mu) - (y - mu))
            else:
                dev = 2.0 * (special.xlogy(y, y / mu) + special.xlogy(1.0 - y, (1.0 - y) / (1.0 - mu)))
            r = np.sign(y - mu) * np.sqrt(np.maximum(dev, 0.0) + lev * rp * rp / (1.0 - lev))
        r[~np.isfinite(r)] = np.nan
        return r

    def _glm_exact(self, tol: float, maxit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact deletion of a logit or Poisson model: the same likelihood as the binomial / Poisson GLM with its
        canonical link, whose exact deletion (:mod:`regdiag.linear.glm_exact`: second-order predictor, chord steps
        with a proven contraction bound) is used. Returns ``dfbeta``, steps, and the bound (``tol``) per row."""

        from .glm import glm

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = glm(self.y, self.X, family="binomial" if self.kind == "logit" else "poisson",
                    offset=self.offset if np.any(self.offset) else None, start=self.params)
            gi = g.influence(loo="exact", loo_tol=tol, loo_maxit=maxit)
        # the GLM's estimate and this one are both converged maxima of the same likelihood: b_(i) is shared
        dfbeta = self.params[None, :] - (np.asarray(g.coef)[None, :] - np.asarray(gi.dfbeta))
        n = self.n_obs
        iters = np.asarray(gi.loo_iterations) if gi.loo_iterations is not None else np.ones(n, dtype=np.intp)
        err = np.where(np.all(np.isfinite(dfbeta), axis=1), float(gi.loo_tol or tol), np.nan)
        return dfbeta, iters, err


# ---------------------------------------------------------------------------------------------------------------
# fitting


def _newton(kind: str, J: np.ndarray, y: np.ndarray, offset: np.ndarray, theta: np.ndarray, n_lin: int, *,
            tol: float = 1e-13, maxit: int = 100) -> tuple[np.ndarray, int, bool]:
    """Newton's method with step halving on the negative log-likelihood, from ``theta``."""

    def outs(t: np.ndarray) -> np.ndarray:
        O = J @ t
        O[:, :n_lin] += offset[:, None]
        return O

    def total(t: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            v = float(np.sum(_loss(kind, outs(t), y)))
        return v if np.isfinite(v) else math.inf

    f = total(theta)
    if not np.isfinite(f):
        raise ConvergenceError("the log-likelihood is not finite at the start values")
    for it in range(1, maxit + 1):
        O = outs(theta)
        g = np.einsum("nkp,nk->p", J, _grad(kind, O, y))
        H = np.einsum("nkp,nkl,nlq->pq", J, _hess(kind, O, y), J)
        try:
            np.linalg.cholesky(H)
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            # away from the maximum the Hessian need not be positive definite (a negative binomial's alpha): the
            # step with its eigenvalues' absolute values, a descent direction (the Newton step where it is)
            lam, V = np.linalg.eigh(H)
            if not np.all(np.isfinite(lam)) or np.max(np.abs(lam)) == 0.0:
                raise ConvergenceError("the information matrix is singular") from None
            lam = np.maximum(np.abs(lam), 1e-10 * np.max(np.abs(lam)))
            step = V @ ((V.T @ g) / lam)
        if not np.all(np.isfinite(step)):
            raise ConvergenceError("the Newton step is not finite")
        t = 1.0
        while True:
            cand = theta - t * step
            fc = total(cand)
            if fc <= f + 1e-12 * abs(f) or t < 1e-10:
                break
            t *= 0.5
        se = np.sqrt(np.abs(np.diag(np.linalg.inv(H))))
        theta, f = cand, fc
        if np.max(np.abs(t * step) / se) < tol:
            return theta, it, True
    return theta, maxit, False


def discrete_from_statsmodels(results: Any) -> MLEFit:
    """A fitted statsmodels Logit, Probit, Poisson, NegativeBinomial (NB2), GeneralizedPoisson (parameterization
    p = 1) or MNLogit as an :class:`MLEFit`, refitted by Newton's method from statsmodels' estimate (or, where that is
    not finite, as happens for NegativeBinomial, from a Poisson fit) to full convergence.

    Parameters
    ----------
    results : statsmodels results
        A fitted statsmodels model of one of the classes of :data:`DISCRETE_MODELS`.

    Returns
    -------
    MLEFit
        The refitted model.

    Raises
    ------
    DataError
        For a model class or parameterization that is not supported.
    """
    model = results.model
    cls = type(model).__name__
    if cls not in DISCRETE_MODELS:
        raise DataError(f"statsmodels {cls} is not one of {', '.join(DISCRETE_MODELS)}")
    kind = DISCRETE_MODELS[cls]
    if kind == "negbin2" and getattr(model, "loglike_method", "nb2") != "nb2":
        raise DataError(f"NegativeBinomial(loglike_method={model.loglike_method!r}) is not supported; use 'nb2'")
    if kind == "genpoisson" and getattr(model, "parameterization", 0) != 0:
        raise DataError("GeneralizedPoisson is supported with its default parameterization p = 1 only")
    if kind in ("negbin2", "genpoisson") and getattr(model, "k_extra", 1) != 1:
        raise DataError(f"{cls} with {model.k_extra} extra parameters is not supported")
    X = np.asarray(model.exog, dtype=float)
    n = X.shape[0]
    labels = getattr(getattr(model, "data", None), "row_labels", None)
    index = pd.Index(labels) if labels is not None else pd.RangeIndex(n)
    exog_names = tuple(str(c) for c in model.exog_names[: X.shape[1]])  # NB and GP append "alpha"
    off = np.zeros(n)
    if getattr(model, "offset", None) is not None:
        off = off + np.asarray(model.offset, dtype=float)
    if getattr(model, "exposure", None) is not None:
        off = off + np.asarray(model.exposure, dtype=float)  # statsmodels stores log(exposure)
    params = np.asarray(results.params, dtype=float)
    if kind == "mnlogit":
        y = np.asarray(model.wendog, dtype=float)
        eqs = list(results.params.columns) if isinstance(results.params, pd.DataFrame) else \
            [str(j) for j in range(1, y.shape[1])]
        names = tuple(f"{eq}:{nm}" for eq in eqs for nm in exog_names)
        theta0 = params.ravel(order="F")
    else:
        y = np.asarray(model.endog, dtype=float)
        names = exog_names + (("alpha",) if kind in ("negbin2", "genpoisson") else ())
        theta0 = params.ravel()
    if not np.all(np.isfinite(X)) or not np.all(np.isfinite(y)):
        raise DataError(f"the statsmodels {cls} model has missing or non-finite data (fit it with missing='drop')")
    if kind in ("logit", "probit") and np.any((y < 0) | (y > 1)):
        raise DataError(f"{cls}: the response must lie in [0, 1]")
    if kind in ("poisson", "negbin2", "genpoisson") and np.any(y < 0):
        bad = index[y < 0]
        raise DataError(f"{cls}: negative counts at rows {format_labels(bad, 5)}")
    base = MLEFit(kind=kind, X=X, y=y, offset=off, params=theta0, index=index, param_names=names,
                  exog_names=exog_names)
    J = base.jacobian()
    n_lin = base.n_outputs if kind == "mnlogit" else 1
    starts = [theta0] if np.all(np.isfinite(theta0)) and (kind not in ("negbin2", "genpoisson")
                                                            or theta0[-1] > (0 if kind == "negbin2" else -1)) else []
    if kind in ("negbin2", "genpoisson"):  # a fallback start: Poisson coefficients and a small alpha
        Jp = J[:, :1, :-1]
        bp, _, _ = _newton("poisson", Jp, y, off, np.zeros(X.shape[1]), 1)
        starts.append(np.append(bp, 0.1))
    last_exc: Exception | None = None
    for start in starts:
        try:
            theta, it, ok = _newton(kind, J, y, off, np.asarray(start, dtype=float), n_lin)
        except ConvergenceError as exc:
            last_exc = exc
            continue
        if ok:
            break
    else:
        raise ConvergenceError(f"{cls}: the maximum-likelihood refit did not converge ({last_exc})")
    fit = MLEFit(kind=kind, X=X, y=y, offset=off, params=theta, index=index, param_names=names,
                 exog_names=exog_names, iterations=it)
    if kind == "negbin2" and not theta[-1] > 0:
        raise DataError("NegativeBinomial: alpha is not positive at the maximum (no overdispersion): use Poisson")
    if kind == "genpoisson":
        O = fit.outputs()
        a2 = np.exp(O[:, 0]) + theta[-1] * y
        if theta[-1] <= -1 or np.any(a2 <= 0):
            rows = index[a2 <= 0]
            raise DataError("GeneralizedPoisson: the log-likelihood is not differentiable at the estimate "
                            f"(mu + alpha y <= 0 at rows {format_labels(rows, 5)})")
    ev = np.linalg.eigvalsh(fit.information())
    if not ev[0] > 0:
        raise DesignError(f"{cls}: the observed information is not positive definite at the estimate "
                          "(collinear design or a boundary estimate)")
    return fit


# ---------------------------------------------------------------------------------------------------------------
# exact deletion


@dataclass(frozen=True, eq=False)
class ExactMLEDeletion:
    """``dfbeta`` (n, P), ``iterations`` (n,), ``error_bound`` (n,) in standard errors (NaN where refitted),
    ``refitted`` (n,)."""

    dfbeta: np.ndarray
    iterations: np.ndarray
    error_bound: np.ndarray
    refitted: np.ndarray


def exact_deletion(fit: MLEFit, first: np.ndarray, *, tol: float = LOO_TOL, maxit: int = LOO_MAXIT) -> ExactMLEDeletion:
    """Exact ``theta - theta_(i)`` for every row by batched Newton steps from the one-step estimate ``first``.

    For a batch of ``B`` deletions the outputs of all rows at each iterate are one product with the Jacobians
    (``O + J D'``, outputs being linear in ``theta``), the score without row i one more; each step solves with
    ``H_(i) = H - J_i' A_i J_i`` at the full fit through the push-through identity (``k x k`` systems). A step's
    correction ``c`` (largest change over the standard errors) contracts by a factor ``rho`` estimated from
    successive corrections (the one-step estimate counting as the first, from ``theta``) and doubled for safety; a
    deletion has converged when the error left, at most ``c rho / (1 - rho)``, is below ``tol`` with
    ``rho <= 1/2`` (the likelihoods are smooth, so the ratio of corrections estimates the contraction). Deletions
    that do not are refitted by Newton's method from the full fit.

    Parameters
    ----------
    fit : MLEFit
        The full fit.
    first : ndarray of shape (n_obs, n_params)
        The one-step estimates the iteration starts from (rows that are not finite are refitted).
    tol : float
        Bound on the error left, in standard errors.
    maxit : int
        Most steps per deletion before it is refitted.

    Returns
    -------
    ExactMLEDeletion
        ``dfbeta`` (n_obs, n_params), iterations, error bounds and which rows were refitted.
    """
    ctx = _ChordSetup.at(fit, second_order=maxit > 1)
    n = ctx.J.shape[0]
    dfbeta = np.array(first, dtype=float)
    iterations = np.ones(n, dtype=np.intp)
    err = np.full(n, np.inf)
    pending = np.flatnonzero(np.all(np.isfinite(dfbeta), axis=1))
    slow = list(np.setdiff1d(np.arange(n), pending))
    for start in range(0, pending.size, BATCH):
        rows = pending[start:start + BATCH]
        slow.extend(_chord_batch(ctx, fit, rows, dfbeta, iterations, err, tol=tol, maxit=maxit))
    refitted = np.zeros(n, dtype=bool)
    n_lin = fit.n_outputs if fit.kind == "mnlogit" else 1
    failed: list[int] = []
    for i in sorted({int(s) for s in slow}):
        keep = np.arange(n) != i
        try:
            theta, it_i, ok = _newton(fit.kind, ctx.J[keep], fit.y[keep], fit.offset[keep], fit.params.copy(), n_lin,
                                      maxit=REFIT_MAXIT)
        except ConvergenceError:
            ok = False
        if not ok:
            dfbeta[i] = np.nan
            err[i] = np.nan
            failed.append(i)
            continue
        dfbeta[i] = fit.params - theta
        iterations[i] += it_i
        err[i] = np.nan
        refitted[i] = True
    if failed:
        warn_not_converged(f"{fit.kind}: Newton's method without the row", REFIT_MAXIT, "steps",
                           ": their exact deletion measures are NaN", rows=fit.index[failed])
    return ExactMLEDeletion(dfbeta=dfbeta, iterations=iterations, error_bound=err, refitted=refitted)


@dataclass(frozen=True, eq=False)
class _ChordSetup:
    """What the batches of exact deletions share: ``J``, ``A``, ``H^{-1}``, ``H^{-1} J_i'``, ``I - A_i L_i``, the
    standard errors, the outputs at the fit, and (second-order predictor) the third derivatives ``tau`` and
    their sum ``G3`` over the rows (``P x P x P``)."""

    J: np.ndarray
    A: np.ndarray
    Hinv: np.ndarray
    HJ: np.ndarray
    IAL: np.ndarray
    se: np.ndarray
    O0: np.ndarray
    n_lin: int
    G3: np.ndarray | None
    tau: np.ndarray | None

    @classmethod
    def at(cls, fit: MLEFit, second_order: bool) -> _ChordSetup:
        J = fit.jacobian()
        n, k, P = J.shape
        Hinv = np.linalg.inv(fit.information())
        A = fit.hess_outputs()
        HJ = np.einsum("pq,nkq->nkp", Hinv, J)
        L = np.einsum("nkp,nlp->nkl", J, HJ)
        O0 = fit.outputs()
        G3 = tau = None
        if second_order:
            tau = _third_outputs(fit.kind, O0, fit.y)  # (n, k, k, k)
            # sum_i of J_i' tau_i[J_i ., J_i .] as a P x P x P tensor, through two contractions and one product
            W = np.einsum("nklm,nmr->nklr", tau, J)
            V = np.einsum("nlq,nklr->nkqr", J, W)
            G3 = blocked_matmul(J.reshape(n * k, P).T, V.reshape(n * k, P * P)).reshape(P, P, P)
            if not np.all(np.isfinite(G3)):
                G3 = None
        return cls(J=J, A=A, Hinv=Hinv, HJ=HJ, IAL=np.eye(k)[None] - A @ L, se=np.sqrt(np.diag(Hinv)), O0=O0,
                   n_lin=fit.n_outputs if fit.kind == "mnlogit" else 1, G3=G3, tau=tau)


def _chord_batch(ctx: _ChordSetup, fit: MLEFit, rows: np.ndarray, dfbeta: np.ndarray, iterations: np.ndarray,
                 err: np.ndarray, *, tol: float, maxit: int) -> list[int]:
    """Chord steps (with the second-order predictor first) for the deletions ``rows``, from ``dfbeta[rows]``;
    updates ``dfbeta``, ``iterations`` and ``err`` in place and returns the rows to refit."""
    J, A, Hinv, HJ, IAL, se = ctx.J, ctx.A, ctx.Hinv, ctx.HJ, ctx.IAL, ctx.se
    y, kind = fit.y, fit.kind
    B = rows.size
    D = -dfbeta[rows]  # theta_(i) - theta
    prev = np.max(np.abs(D) / se[None, :], axis=1)  # the one-step estimate: the first correction, from theta
    if ctx.G3 is not None and ctx.tau is not None:  # second-order predictor: S0 + H_(i) d + T_(i)[d, d] / 2 = 0
        U = np.einsum("bkp,bp->bk", J[rows], D)
        Td = (np.einsum("pqr,bq,br->bp", ctx.G3, D, D)
              - np.einsum("bkp,bklm,bl,bm->bp", J[rows], ctx.tau[rows], U, U))
        corr = -0.5 * _solve_reduced(Hinv, HJ[rows], A[rows], J[rows], IAL[rows], Td)
        ok2 = np.all(np.isfinite(corr), axis=1)
        D = D + np.where(ok2[:, None], corr, 0.0)
        prev = np.where(ok2, np.max(np.abs(corr) / se[None, :], axis=1), prev)
    active = np.ones(B, dtype=bool)
    slow: list[int] = []
    for it in range(maxit):
        a = np.flatnonzero(active)
        if a.size == 0:
            break
        Da = D[a]
        O = _batch_outputs(fit.X, ctx.O0, Da, ctx.n_lin)
        with np.errstate(all="ignore"):
            G = _grad(kind, O, y if y.ndim == 1 else y[:, :, None])  # (n, k, |a|)
        G[rows[a], :, np.arange(a.size)] = 0.0
        S = _batch_score(fit.X, G, ctx.n_lin)  # score without row i, (|a|, P)
        ri = rows[a]
        step = -_solve_reduced(Hinv, HJ[ri], A[ri], J[ri], IAL[ri], S)
        D[a] = Da + step
        iterations[ri] += 1
        crit = np.max(np.abs(step) / se[None, :], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            # the contraction estimate from successive corrections, with a factor 2 for its own error
            rho = np.where(np.isfinite(prev[a]), crit / prev[a], 1.0)
            rate = 2.0 * rho
            bound = np.where(rate < 1.0, crit * rate / (1.0 - rate), np.inf)
        done = (crit == 0.0) | ((rate <= 0.5) & (bound <= tol))
        err[ri] = np.where(crit == 0.0, 0.0, bound)
        stalled = ~np.isfinite(crit) | ((it >= 2) & (rho > 0.5))
        prev[a] = crit
        active[a[done | stalled]] = False
        slow.extend(ri[stalled & ~done].tolist())
    dfbeta[rows] = -D
    slow.extend(rows[active].tolist())
    return slow


def group_deletion(fit: MLEFit, groups: Any, *, tol: float = LOO_TOL, maxit: int = LOO_MAXIT) -> GroupInfluence:
    """Exact deletion of whole groups of rows: the likelihood equations re-solved without each group.

    Batched chord iterations, ``BATCH`` groups at a time, from the full fit: for each group the information
    without it, ``H_(G) = H - sum_{i in G} J_i' A_i J_i`` (``P x P``, inverted once), and at each iterate the score
    without the group (the outputs of all rows in one product, as :func:`exact_deletion`); the first step is the
    one-step estimate ``-H_(G)^{-1} sum_{i in G} J_i' g_i``. A group has converged when its correction ``c`` (in
    standard errors) contracts by ``rho <= 1/2`` and the error left, ``c rho / (1 - rho)`` with ``rho`` doubled, is
    at most ``tol``; the rest are refitted by Newton's method.

    Parameters
    ----------
    fit : MLEFit
    groups : array_like, mapping or sequence of sequences
        One group label per row (a Series is aligned on the row labels), ``{group: [row labels]}``, or a list of
        lists of row labels.
    tol : float
        Error allowed, in standard errors.
    maxit : int
        Chord steps before a group is refitted.

    Returns
    -------
    GroupInfluence
        ``dfbeta = theta - theta_(G)``, ``dfbetas`` over the standard errors, ``cooks_distance``
        ``dfbeta' H dfbeta / P``, ``leverage`` the sum of the group's leverages; ``sigma_loo`` 1.
    """
    from .deletion import resolve_groups

    labels, members = resolve_groups(fit.index, groups)
    J = fit.jacobian()
    n, _, P = J.shape
    y, kind = fit.y, fit.kind
    H = fit.information()
    se = np.sqrt(np.diag(np.linalg.inv(H)))
    A = fit.hess_outputs()
    O0 = fit.outputs()
    n_lin = fit.n_outputs if kind == "mnlogit" else 1
    m = len(members)
    D_all = np.zeros((m, P))
    done_all = np.zeros(m, dtype=bool)
    for start in range(0, m, BATCH):
        gs = np.arange(start, min(start + BATCH, m))
        Hg_inv = _group_information_inverses(H, J, A, [members[g] for g in gs])
        D = np.zeros((gs.size, P))
        prev = np.full(gs.size, np.nan)
        active = np.ones(gs.size, dtype=bool)
        for it in range(maxit):
            a = np.flatnonzero(active)
            if a.size == 0:
                break
            O = _batch_outputs(fit.X, O0, D[a], n_lin)
            with np.errstate(all="ignore"):
                G = _grad(kind, O, y if y.ndim == 1 else y[:, :, None])  # (n, k, |a|)
            for col, g in enumerate(gs[a]):
                G[members[g], :, col] = 0.0
            step = -np.einsum("bpq,bq->bp", Hg_inv[a], _batch_score(fit.X, G, n_lin))
            D[a] += step
            crit = np.max(np.abs(step) / se[None, :], axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                rate = 2.0 * crit / prev[a]
                bound = np.where(rate < 1.0, crit * rate / (1.0 - rate), np.inf)
            ok = (crit == 0.0) | ((it >= 1) & (rate <= 0.5) & (bound <= tol))
            done_all[gs[a[ok]]] = True
            prev[a] = crit
            active[a[ok | ~np.isfinite(crit)]] = False
        D_all[gs] = D
    failed: list[Any] = []
    for g in np.flatnonzero(~done_all):  # refit by Newton's method from the full fit
        keep = np.ones(n, dtype=bool)
        keep[members[g]] = False
        try:
            theta, _, ok = _newton(kind, J[keep], y[keep], fit.offset[keep], fit.params.copy(), n_lin,
                                   maxit=REFIT_MAXIT)
        except ConvergenceError:
            ok = False
        D_all[g] = theta - fit.params if ok else np.nan
        if not ok:
            failed.append(labels[int(g)])
    if failed:
        warn_not_converged(f"{kind}: Newton's method without the group", REFIT_MAXIT, "steps",
                           ": their exact deletion measures are NaN", rows=failed, noun="groups")
    dfbeta = -D_all
    lev = _leverage(fit, J, A, H)
    return GroupInfluence(
        groups=labels, size=np.array([len(r) for r in members], dtype=float), loo_params=fit.params - dfbeta,
        dfbeta=dfbeta, dfbetas=dfbeta / se, cooks_distance=np.einsum("gp,pq,gq->g", dfbeta, H, dfbeta) / P,
        sigma_loo=np.ones(m), leverage=np.array([lev[r].sum() for r in members]), param_names=fit.param_names,
        method=f"{kind}-exact",
    )


def _group_information_inverses(H: np.ndarray, J: np.ndarray, A: np.ndarray, members: list[np.ndarray]) -> np.ndarray:
    """``(H - sum_{i in G} J_i' A_i J_i)^{-1}`` for each group, shape (n_groups, P, P) (NaN where singular)."""
    P = H.shape[0]
    out = np.full((len(members), P, P), np.nan)
    for b, rows in enumerate(members):
        Jg = J[rows]
        Hg = H - np.einsum("ikp,ikl,ilq->pq", Jg, A[rows], Jg)
        if np.all(np.isfinite(Hg)):
            with contextlib.suppress(np.linalg.LinAlgError):
                out[b] = np.linalg.inv(Hg)
    return out


def _leverage(fit: MLEFit, J: np.ndarray, A: np.ndarray, H: np.ndarray) -> np.ndarray:
    """``tr(A_i J_i H^{-1} J_i')`` for every row, shape (n,)."""
    HJ = np.einsum("pq,nkq->nkp", np.linalg.inv(H), J)
    return np.trace(A @ np.einsum("nkp,nlp->nkl", J, HJ), axis1=1, axis2=2)


def _batch_outputs(X: np.ndarray, O0: np.ndarray, D: np.ndarray, n_lin: int) -> np.ndarray:
    """Outputs of every row at ``theta + d_b`` for each row ``d_b`` of ``D`` (B, P): shape (n, k, B). The linear
    predictors are one product with ``X`` (equation-major parameters), an ancillary parameter (last) is shifted."""
    n, p = X.shape
    B = D.shape[0]
    k = O0.shape[1]
    M = D[:, : n_lin * p].reshape(B, n_lin, p).transpose(2, 1, 0).reshape(p, n_lin * B)
    out = np.empty((n, k, B))
    out[:, :n_lin] = O0[:, :n_lin, None] + blocked_matmul(X, M).reshape(n, n_lin, B)
    if k > n_lin:
        out[:, n_lin] = O0[:, n_lin, None] + D[None, :, -1]
    return out


def _batch_score(X: np.ndarray, G: np.ndarray, n_lin: int) -> np.ndarray:
    """``sum_j J_j' g_j`` for each column of ``G`` (n, k, B): shape (B, P)."""
    n, p = X.shape
    k, B = G.shape[1], G.shape[2]
    G2 = G[:, :n_lin, :].reshape(n, n_lin * B)
    # X' G2 accumulated over blocks of rows, each product small enough for OpenBLAS's calling thread
    step = max(1, BLAS_MAC // max(1, p * n_lin * B))
    lin = np.zeros((p, n_lin * B))
    for r in range(0, n, step):
        lin += X[r : r + step].T @ G2[r : r + step]
    S = lin.reshape(p, n_lin, B).transpose(2, 1, 0).reshape(B, n_lin * p)
    if k > n_lin:
        S = np.concatenate([S, G[:, n_lin, :].sum(axis=0)[:, None]], axis=1)
    return S


def _solve_reduced(Hinv: np.ndarray, HJ: np.ndarray, A: np.ndarray, J: np.ndarray, IAL: np.ndarray,
                   S: np.ndarray) -> np.ndarray:
    """``H_(i)^{-1} s_b`` for each row ``s_b`` of ``S`` (B, P), ``H_(i) = H - J_i' A_i J_i`` by the push-through
    identity: ``H^{-1} s + H^{-1} J_i' (I - A_i L_i)^{-1} A_i J_i H^{-1} s``."""
    HS = S @ Hinv
    JHS = np.einsum("bkp,bp->bk", J, HS)
    with np.errstate(all="ignore"):
        w = np.linalg.solve(IAL, np.einsum("bkl,bl->bk", A, JHS)[:, :, None])[:, :, 0]
    return HS + np.einsum("bkp,bk->bp", HJ, w)


def _third_outputs(kind: str, O: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Third derivatives of each ``l_i`` in its outputs, (n, k, k, k), by central differences of the analytic
    second derivatives (relative accuracy about 1e-8: enough for the second-order predictor, which the exact
    iterations then correct)."""
    n, k = O.shape
    out = np.empty((n, k, k, k))
    h = 1e-4 * np.maximum(1.0, np.abs(O))
    for c in range(k):
        Op, Om = O.copy(), O.copy()
        Op[:, c] += h[:, c]
        Om[:, c] -= h[:, c]
        with np.errstate(all="ignore"):
            out[:, :, :, c] = (_hess(kind, Op, y) - _hess(kind, Om, y)) / (2.0 * h[:, c])[:, None, None]
    out[~np.isfinite(out)] = 0.0
    return out


def brute_force_loo(fit: MLEFit, rows: Any = None) -> np.ndarray:
    """``theta - theta_(i)`` by Newton refits from the full fit without each row (the oracle).

    Parameters
    ----------
    fit : MLEFit
        The full fit.
    rows : array_like of int, optional
        Positions of the rows to delete (default: all).

    Returns
    -------
    ndarray of shape (len(rows), n_params)
        NaN where the refit does not converge.
    """
    J = fit.jacobian()
    n = J.shape[0]
    rows = np.arange(n) if rows is None else np.asarray(rows)
    n_lin = fit.n_outputs if fit.kind == "mnlogit" else 1
    out = np.empty((len(rows), fit.n_params))
    for r, i in enumerate(rows):
        keep = np.arange(n) != i
        theta, _, ok = _newton(fit.kind, J[keep], fit.y[keep], fit.offset[keep], fit.params.copy(), n_lin,
                               tol=1e-12, maxit=200)
        out[r] = fit.params - theta if ok else np.nan
    return out

