"""Exponential families and link functions for generalized linear models, numerically as R's ``stats`` package.

A :class:`Family` knows its variance function, deviance residuals, starting values, response support and which
links it accepts; a :class:`Link` knows ``g``, ``g^{-1}``, ``dmu/deta`` and the first two derivatives of ``g``. Every
function follows R's definition, including R's guards against overflow (``logit``'s linear predictor clamped at
+-30, ``probit``'s at ``-qnorm(eps)``, ``cloglog``'s and ``log``'s means kept at least ``eps`` away from the
boundary), so that fits agree with ``glm`` to rounding.

=====================  ===========================================  ===================
family                 variance ``V(mu)``                           links (first: canonical)
=====================  ===========================================  ===================
``gaussian``           1                                            identity, log, inverse
``binomial``           ``mu (1 - mu)``                              logit, probit, cloglog, log
``poisson``            ``mu``                                       log, identity, sqrt
``gamma``              ``mu^2``                                     inverse, identity, log
``inverse_gaussian``   ``mu^3``                                     inverse_squared, inverse, identity, log
``negative_binomial``  ``mu + alpha mu^2`` (alpha fixed)            log, identity, sqrt
=====================  ===========================================  ===================

The negative binomial's canonical link depends on alpha; ``log`` is its default, as in R's ``MASS`` and statsmodels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from .. import _distributions as dist
from .._validation import DataError, DataWarning, DesignError, UnknownNameError, format_labels
from .._warnings import warn

__all__ = ["Link", "Family", "LINKS", "FAMILIES", "make_family"]

EPS = float(np.finfo(np.float64).eps)
_LOGIT_THRESH = 30.0
_INVEPS = 1.0 / EPS
_PROBIT_THRESH = -float(special.ndtri(EPS))  # R: -qnorm(.Machine$double.eps) = 8.125890664701906


# ---------------------------------------------------------------------------------------------------------------
# links


@dataclass(frozen=True)
class Link:
    """A link function ``eta = g(mu)``.

    Attributes
    ----------
    name : str
        regdiag's name (``"inverse_squared"`` is R's ``"1/mu^2"``).
    r_name : str
        R's name.
    """

    name: str
    r_name: str

    def link(self, mu: np.ndarray) -> np.ndarray:
        """``g(mu)``.

        Parameters
        ----------
        mu : ndarray
            Means. Any shape.

        Returns
        -------
        ndarray
            The linear predictor ``g(mu)``, elementwise, the shape of ``mu``.
        """
        return _elementwise(_LINKFUN, self.name, mu)

    def inverse(self, eta: np.ndarray) -> np.ndarray:
        """``g^{-1}(eta)`` with R's guards.

        Parameters
        ----------
        eta : ndarray
            Linear predictor. Any shape.

        Returns
        -------
        ndarray
            The means ``g^{-1}(eta)``, elementwise, the shape of ``eta``.
        """
        return _elementwise(_LINKINV, self.name, eta, quiet_overflow=True)

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        """``dmu/deta`` at ``eta`` with R's guards.

        Parameters
        ----------
        eta : ndarray
            Linear predictor. Any shape.

        Returns
        -------
        ndarray
            ``dmu/deta``, elementwise, the shape of ``eta``.
        """
        return _elementwise(_MU_ETA, self.name, eta, quiet_overflow=True)

    def mu_eta2(self, eta: np.ndarray) -> np.ndarray:
        """``d^2 mu / deta^2`` at ``eta`` (no guards; used by the second-order leave-one-out predictor).

        Parameters
        ----------
        eta : ndarray
            Linear predictor. Any shape.

        Returns
        -------
        ndarray
            ``d^2 mu / deta^2``, elementwise, the shape of ``eta``.
        """
        return _elementwise(_MU_ETA2, self.name, eta, quiet_overflow=True)

    def deriv(self, mu: np.ndarray) -> np.ndarray:
        """``g'(mu)``.

        Parameters
        ----------
        mu : ndarray
            Means. Any shape.

        Returns
        -------
        ndarray
            ``g'(mu)``, elementwise, the shape of ``mu``.
        """
        return _elementwise(_DERIV, self.name, mu)

    def deriv2(self, mu: np.ndarray) -> np.ndarray:
        """``g''(mu)``.

        Parameters
        ----------
        mu : ndarray
            Means. Any shape.

        Returns
        -------
        ndarray
            ``g''(mu)``, elementwise, the shape of ``mu``.
        """
        return _elementwise(_DERIV2, self.name, mu)

    def valid_eta(self, eta: np.ndarray) -> bool:
        """R's ``valideta``: the linear predictor is in the link's domain.

        Parameters
        ----------
        eta : ndarray of shape (n_obs,)
            Linear predictor.

        Returns
        -------
        bool
            True when every value is in the domain (finite and non-zero for ``inverse``, finite and positive for
            ``inverse_squared`` and ``sqrt``; any value for the other links).
        """
        if self.name in ("inverse",):
            return bool(np.all(np.isfinite(eta)) and np.all(eta != 0))
        if self.name in ("inverse_squared", "sqrt"):
            return bool(np.all(np.isfinite(eta)) and np.all(eta > 0))
        return True


def _elementwise(table: Mapping[str, _Elementwise], name: str, x: Any,
                 quiet_overflow: bool = False) -> np.ndarray:
    """``table[name]`` applied to ``x`` as floats, with division by zero and invalid values (and overflow, when
    ``quiet_overflow``) kept quiet: the links' guards and the callers handle them.

    Parameters
    ----------
    table : mapping of str to callable
        One function of a link per link name.
    name : str
        The link's name.
    x : array_like
        Means or linear predictor. Any shape.
    quiet_overflow : bool
        Also keep overflow quiet (the inverse link and its derivatives of ``eta``).

    Returns
    -------
    ndarray
        The function's values, the shape of ``x``.
    """
    over: dict[str, Any] = {"over": "ignore"} if quiet_overflow else {}
    with np.errstate(divide="ignore", invalid="ignore", **over):
        return table[name](np.asarray(x, dtype=float))


def _logit_inv(eta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    lo, hi = (float(eta.min()), float(eta.max())) if eta.size else (0.0, 0.0)
    low = eta < -_LOGIT_THRESH if lo < -_LOGIT_THRESH else None
    high = eta > _LOGIT_THRESH if hi > _LOGIT_THRESH else None
    res = special.expit(eta, out=out) if out is not None else special.expit(eta)
    if low is not None:
        res[low] = EPS / (1.0 + EPS)
    if high is not None:
        res[high] = _INVEPS / (1.0 + _INVEPS)
    return res


def _logit_inv_fast(eta: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``1 / (1 + exp(-eta))`` (vectorized exp, in place when ``out`` is ``eta``), with R's clamps at ``|eta| > 30``."""
    low = eta < -_LOGIT_THRESH if eta.size and float(eta.min()) < -_LOGIT_THRESH else None
    high = eta > _LOGIT_THRESH if eta.size and float(eta.max()) > _LOGIT_THRESH else None
    mu = np.negative(eta, out=out)
    np.exp(mu, out=mu)
    mu += 1.0
    np.reciprocal(mu, out=mu)
    if low is not None:
        mu[low] = EPS / (1.0 + EPS)
    if high is not None:
        mu[high] = _INVEPS / (1.0 + _INVEPS)
    return mu


def _logit_mu_eta(eta: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(eta))  # exp(eta)/(1+exp(eta))^2, symmetric in eta
    out = e / (1.0 + e) ** 2
    out[np.abs(eta) > _LOGIT_THRESH] = EPS
    return out


def _cloglog_inv(eta: np.ndarray) -> np.ndarray:
    return np.clip(-np.expm1(-np.exp(eta)), EPS, 1.0 - EPS)


def _cloglog_mu_eta(eta: np.ndarray) -> np.ndarray:
    e = np.minimum(eta, 700.0)
    return np.maximum(np.exp(e) * np.exp(-np.exp(e)), EPS)


def _cloglog_deriv2(mu: np.ndarray) -> np.ndarray:
    L = -np.log1p(-mu)
    return (L - 1.0) / ((1.0 - mu) ** 2 * L**2)


def _probit_deriv(mu: np.ndarray) -> np.ndarray:
    return 1.0 / dist.norm_pdf(special.ndtri(mu))


def _probit_deriv2(mu: np.ndarray) -> np.ndarray:
    q = special.ndtri(mu)
    return q / dist.norm_pdf(q) ** 2


_Elementwise = Callable[[np.ndarray], np.ndarray]  # an elementwise function of the link, by name

_LINKFUN: dict[str, _Elementwise] = {
    "identity": lambda mu: mu.copy(),
    "log": np.log,
    "logit": lambda mu: np.log(mu / (1.0 - mu)),
    "probit": special.ndtri,
    "cloglog": lambda mu: np.log(-np.log1p(-mu)),
    "inverse": lambda mu: 1.0 / mu,
    "inverse_squared": lambda mu: 1.0 / mu**2,
    "sqrt": np.sqrt,
}
_LINKINV: dict[str, _Elementwise] = {
    "identity": lambda eta: eta.copy(),
    "log": lambda eta: np.maximum(np.exp(eta), EPS),
    "logit": _logit_inv,
    "probit": lambda eta: special.ndtr(np.clip(eta, -_PROBIT_THRESH, _PROBIT_THRESH)),
    "cloglog": _cloglog_inv,
    "inverse": lambda eta: 1.0 / eta,
    "inverse_squared": lambda eta: 1.0 / np.sqrt(eta),
    "sqrt": lambda eta: eta**2,
}
_MU_ETA: dict[str, _Elementwise] = {
    "identity": lambda eta: np.ones_like(eta),
    "log": lambda eta: np.maximum(np.exp(eta), EPS),
    "logit": _logit_mu_eta,
    "probit": lambda eta: np.maximum(dist.norm_pdf(eta), EPS),
    "cloglog": _cloglog_mu_eta,
    "inverse": lambda eta: -1.0 / eta**2,
    "inverse_squared": lambda eta: -1.0 / (2.0 * eta**1.5),
    "sqrt": lambda eta: 2.0 * eta,
}
def _logit_mu_eta2(eta: np.ndarray) -> np.ndarray:
    mu = special.expit(eta)
    return mu * (1.0 - mu) * (1.0 - 2.0 * mu)


def _cloglog_mu_eta2(eta: np.ndarray) -> np.ndarray:
    e = np.exp(eta)
    return e * np.exp(-e) * (1.0 - e)


_MU_ETA2: dict[str, _Elementwise] = {
    "identity": lambda eta: np.zeros_like(eta),
    "log": np.exp,
    "logit": _logit_mu_eta2,
    "probit": lambda eta: -eta * dist.norm_pdf(eta),
    "cloglog": _cloglog_mu_eta2,
    "inverse": lambda eta: 2.0 / eta**3,
    "inverse_squared": lambda eta: 0.75 / eta**2.5,
    "sqrt": lambda eta: np.full_like(eta, 2.0),
}
_DERIV: dict[str, _Elementwise] = {
    "identity": lambda mu: np.ones_like(mu),
    "log": lambda mu: 1.0 / mu,
    "logit": lambda mu: 1.0 / (mu * (1.0 - mu)),
    "probit": _probit_deriv,
    "cloglog": lambda mu: 1.0 / ((mu - 1.0) * np.log1p(-mu)),
    "inverse": lambda mu: -1.0 / mu**2,
    "inverse_squared": lambda mu: -2.0 / mu**3,
    "sqrt": lambda mu: 0.5 / np.sqrt(mu),
}
_DERIV2: dict[str, _Elementwise] = {
    "identity": lambda mu: np.zeros_like(mu),
    "log": lambda mu: -1.0 / mu**2,
    "logit": lambda mu: (2.0 * mu - 1.0) / (mu * (1.0 - mu)) ** 2,
    "probit": _probit_deriv2,
    "cloglog": _cloglog_deriv2,
    "inverse": lambda mu: 2.0 / mu**3,
    "inverse_squared": lambda mu: 6.0 / mu**4,
    "sqrt": lambda mu: -0.25 / mu**1.5,
}

#: every link by regdiag name; R's names are accepted as aliases (see :func:`make_family`)
LINKS: dict[str, Link] = {
    n: Link(n, r)
    for n, r in [
        ("identity", "identity"),
        ("log", "log"),
        ("logit", "logit"),
        ("probit", "probit"),
        ("cloglog", "cloglog"),
        ("inverse", "inverse"),
        ("inverse_squared", "1/mu^2"),
        ("sqrt", "sqrt"),
    ]
}
_LINK_ALIASES = {"1/mu^2": "inverse_squared", "inverse_power": "inverse", "inversesquared": "inverse_squared"}


# ---------------------------------------------------------------------------------------------------------------
# families


@dataclass(frozen=True)
class Family:
    """An exponential family with its link.

    Attributes
    ----------
    name : str
        ``"gaussian"``, ``"binomial"``, ``"poisson"``, ``"gamma"``, ``"inverse_gaussian"`` or
        ``"negative_binomial"``.
    link : Link
    alpha : float or None
        Negative binomial only: the fixed ancillary parameter, ``V(mu) = mu + alpha mu^2`` (R's ``theta`` is
        ``1 / alpha``).
    _canonical : str
        Name of the family's canonical link (set by :func:`make_family`; ``""`` when not given).
    """

    name: str
    link: Link
    alpha: float | None = None
    _canonical: str = field(default="", repr=False)

    # ---- description -------------------------------------------------------------------------------------------
    @property
    def canonical(self) -> bool:
        """Whether the link is the canonical one (observed and expected information then coincide)."""
        return self.link.name == self._canonical

    @property
    def _nb_alpha(self) -> float:
        """The negative binomial's ``alpha`` (a clear error where a family was built without it)."""
        if self.alpha is None:
            raise DesignError("the negative binomial family needs alpha, its fixed ancillary parameter")
        return self.alpha

    @property
    def fixed_dispersion(self) -> bool:
        """Dispersion fixed at 1 (binomial and Poisson, R's convention); otherwise estimated by Pearson's chi2."""
        return self.name in ("binomial", "poisson")

    @property
    def r_name(self) -> str:
        """R's ``family(fit)$family``."""
        if self.name == "negative_binomial":
            return f"Negative Binomial({_r_num(1.0 / self._nb_alpha)})"
        return {"gamma": "Gamma", "inverse_gaussian": "inverse.gaussian"}.get(self.name, self.name)

    def __str__(self) -> str:
        extra = f", alpha={self.alpha:g}" if self.alpha is not None else ""
        return f"{self.name}(link={self.link.name}{extra})"

    # ---- variance and deviance ------------------------------------------------------------------------------------
    def variance(self, mu: np.ndarray) -> np.ndarray:
        """``V(mu)``.

        Parameters
        ----------
        mu : ndarray
            Means. Any shape.

        Returns
        -------
        ndarray
            The variance function at ``mu``, the shape of ``mu``.
        """
        mu = np.asarray(mu, dtype=float)
        n = self.name
        if n == "gaussian":
            return np.ones_like(mu)
        if n == "binomial":
            return mu * (1.0 - mu)
        if n == "poisson":
            return mu.copy()
        if n == "gamma":
            return mu**2
        if n == "inverse_gaussian":
            return mu**3
        return mu + self._nb_alpha * mu**2

    def variance_deriv(self, mu: np.ndarray) -> np.ndarray:
        """``V'(mu)``.

        Parameters
        ----------
        mu : ndarray
            Means. Any shape.

        Returns
        -------
        ndarray
            The derivative of the variance function at ``mu``, the shape of ``mu``.
        """
        mu = np.asarray(mu, dtype=float)
        n = self.name
        if n == "gaussian":
            return np.zeros_like(mu)
        if n == "binomial":
            return 1.0 - 2.0 * mu
        if n == "poisson":
            return np.ones_like(mu)
        if n == "gamma":
            return 2.0 * mu
        if n == "inverse_gaussian":
            return 3.0 * mu**2
        return 1.0 + 2.0 * self._nb_alpha * mu

    def dev_resids(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
        """Unit deviances times prior weights (R's ``dev.resids``); their sum is the deviance.

        Parameters
        ----------
        y : ndarray of shape (n_obs,)
            Response as the family fits it (binomial: proportions, see :meth:`prepare`).
        mu : ndarray of shape (n_obs,)
            Means.
        wt : ndarray of shape (n_obs,)
            Prior weights (binomial: times the trials).

        Returns
        -------
        ndarray of shape (n_obs,)
            Each row's weighted unit deviance.
        """
        y = np.asarray(y, dtype=float)
        mu = np.asarray(mu, dtype=float)
        n = self.name
        with np.errstate(divide="ignore", invalid="ignore"):
            if n == "gaussian":
                return wt * (y - mu) ** 2
            if n == "binomial":
                if np.all((y == 0.0) | (y == 1.0)):  # 0/1 outcomes: one logarithm per row
                    return -2.0 * wt * np.log(np.where(y == 1.0, mu, 1.0 - mu))
                return 2.0 * wt * (_ylogy(y, mu) + _ylogy(1.0 - y, 1.0 - mu))
            if n == "poisson":
                r = mu * wt
                pos = y > 0
                r = np.where(pos, wt * (y * np.log(np.where(pos, y, 1.0) / mu) - (y - mu)), r)
                return 2.0 * r
            if n == "gamma":
                return -2.0 * wt * (np.log(np.where(y == 0, 1.0, y / mu)) - (y - mu) / mu)
            if n == "inverse_gaussian":
                return wt * ((y - mu) ** 2) / (y * mu**2)
            theta = 1.0 / self._nb_alpha
            return 2.0 * wt * (y * np.log(np.maximum(1.0, y) / mu) - (y + theta) * np.log((y + theta) / (mu + theta)))

    def deviance(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> float:
        """The deviance: the sum of :meth:`dev_resids`.

        Parameters
        ----------
        y : ndarray of shape (n_obs,)
            Response as the family fits it (binomial: proportions).
        mu : ndarray of shape (n_obs,)
            Means.
        wt : ndarray of shape (n_obs,)
            Prior weights (binomial: times the trials).

        Returns
        -------
        float
            ``sum(dev_resids(y, mu, wt))``.
        """
        return float(np.sum(self.dev_resids(y, mu, wt)))

    def valid_mu(self, mu: np.ndarray) -> bool:
        """R's ``validmu``: the means are in the family's domain.

        Parameters
        ----------
        mu : ndarray of shape (n_obs,)
            Means.

        Returns
        -------
        bool
            True when every mean is valid (binomial: finite, in (0, 1); Poisson, gamma: finite, positive; negative
            binomial: positive; any value otherwise).
        """
        n = self.name
        if n == "binomial":
            return bool(np.all(np.isfinite(mu)) and np.all((mu > 0) & (mu < 1)))
        if n in ("poisson", "gamma"):
            return bool(np.all(np.isfinite(mu)) and np.all(mu > 0))
        if n == "negative_binomial":
            return bool(np.all(mu > 0))
        return True

    def score_eta(self, y: np.ndarray, eta: np.ndarray, wt: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Score of the log-likelihood with respect to ``eta`` (unit dispersion): ``wt (y - mu) mu'(eta) / V(mu)``.

        Works on arrays of any shape (``y`` and ``wt`` broadcast along trailing axes). For a canonical link
        ``mu'/V`` is a constant and the score is computed without the variance.

        Parameters
        ----------
        y : ndarray of shape (n_obs,) or broadcastable to ``eta``
            Response as the family fits it.
        eta : ndarray of shape (n_obs, ...)
            Linear predictor.
        wt : ndarray of shape (n_obs,) or broadcastable to ``eta``
            Prior weights.
        out : ndarray of the shape of ``eta``, optional
            Where to write the result (used in place by the logit link's fast path).

        Returns
        -------
        ndarray of the shape of ``eta``
            The score of each element.
        """
        if self.link.name == "logit":  # in place: the leave-one-out sweeps call this on large blocks
            mu = _logit_inv_fast(np.asarray(eta, dtype=float), out)
        else:
            mu = self.link.inverse(eta)
        if self.canonical:  # mu'(eta) / V(mu) is a constant: 1, or -1 (gamma), -1/2 (inverse Gaussian)
            np.subtract(y, mu, out=mu)
            c = _CANONICAL_FACTOR.get(self.name, 1.0)
            if c != 1.0:
                mu *= c
        else:
            me = self.link.mu_eta(eta)
            v = self.variance(mu)
            np.subtract(y, mu, out=mu)
            mu *= me
            mu /= v
        mu *= wt
        return mu

    @property
    def canonical_factor(self) -> float:
        """``mu'(eta) / V(mu)`` under the canonical link: 1, -1 (gamma) or -1/2 (inverse Gaussian)."""
        return _CANONICAL_FACTOR.get(self.name, 1.0)

    def observed_ratio(self, y: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """Observed over expected information weight: ``1 + (y - mu) (V g'' + V' g') / (V g')``; 1 for canonical links.

        The observed-information weight of observation i is ``w_i = W_i * ratio_i`` (``W_i`` the IRLS weight), as in
        statsmodels' ``hessian_factor(observed=True)``.

        Parameters
        ----------
        y : ndarray of shape (n_obs,)
            Response as the family fits it.
        mu : ndarray of shape (n_obs,)
            Means.

        Returns
        -------
        ndarray of shape (n_obs,)
            The ratio for each row.
        """
        if self.canonical:
            return np.ones_like(np.asarray(mu, dtype=float))
        lk = self.link
        v = self.variance(mu)
        d1 = lk.deriv(mu)
        with np.errstate(divide="ignore", invalid="ignore"):
            tmp = (v * lk.deriv2(mu) + self.variance_deriv(mu) * d1) / (v * d1)
        return 1.0 + (y - mu) * tmp

    # ---- data -----------------------------------------------------------------------------------------------------
    def prepare(
        self, y: np.ndarray, weights: np.ndarray | None, index: pd.Index, response: str = "y"
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Check the response against the family's support and set up R's ``initialize``.

        Parameters
        ----------
        y : ndarray of shape (n_obs,) or (n_obs, 2)
            Response; two columns (successes, failures) for binomial only.
        weights : ndarray of shape (n_obs,) or None
            Prior weights.
        index : pandas.Index
            Row labels, for messages.
        response : str
            Response name, for messages.

        Returns
        -------
        y : ndarray of shape (n_obs,)
            Response on the model's scale (proportions for a binomial successes/failures response).
        prior_weights : ndarray of shape (n_obs,)
            Prior weights (times the number of trials for a two-column binomial response).
        n_trials : ndarray of shape (n_obs,)
            Numbers of trials (binomial, two-column response), else ones; used by the AIC only.
        mustart : ndarray of shape (n_obs,)
            R's starting means.
        """
        y = np.asarray(y, dtype=float)
        n = y.shape[0]
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
        trials = np.ones(n)
        if y.ndim == 2:
            if self.name != "binomial" or y.shape[1] != 2:
                raise DataError(
                    f"a two-column response ({response}) is only for the binomial family (successes, failures); "
                    f"the {self.name} family needs one response column. For binomial GLMs use "
                    "family='binomial'"
                )
            return _binomial_pair(y, w, index)
        if y.ndim != 1:
            raise DataError(f"the response must be one column; got shape {y.shape}")
        nm = self.name
        if nm == "binomial":
            y = _binomial_proportion(y, w, index, response)
            return y, w, trials, (w * y + 0.5) / (w + 1.0)
        if nm in ("poisson", "negative_binomial"):
            _check_counts(nm, y, w, index, response)
            return y, w, trials, (y + 0.1) if nm == "poisson" else y + (y == 0) / 6.0
        if nm in ("gamma", "inverse_gaussian"):
            bad = y <= 0
            if bad.any():
                raise DataError(
                    f"the {nm} family needs a positive response: {response!r} is <= 0 at rows "
                    f"{format_labels(index[bad], 5)} (values {_fmt_vals(y[bad])})"
                )
            return y, w, trials, y.copy()
        # gaussian
        if (self.link.name == "inverse" and np.any(y == 0)) or (self.link.name == "log" and np.any(y <= 0)):
            bad = (y == 0) if self.link.name == "inverse" else (y <= 0)
            raise DataError(
                f"cannot find valid starting values for the gaussian family with the {self.link.name} link: "
                f"{response!r} is {'0' if self.link.name == 'inverse' else '<= 0'} at rows "
                f"{format_labels(index[bad], 5)}; pass start= (coefficients) to start elsewhere"
            )
        return y, w, trials, y.copy()

    # ---- likelihood -------------------------------------------------------------------------------------------------
    def aic(self, y: np.ndarray, trials: np.ndarray, mu: np.ndarray, wt: np.ndarray, dev: float, rank: int) -> float:
        """R's AIC of the fit: ``-2 loglik + 2 (rank + [1 if the dispersion is estimated])``, as ``glm`` reports it.

        Parameters
        ----------
        y : ndarray of shape (n_obs,)
            Response as the family fits it (binomial: proportions).
        trials : ndarray of shape (n_obs,)
            Binomial trials per row (see :meth:`prepare`; unused by the other families).
        mu : ndarray of shape (n_obs,)
            Fitted means.
        wt : ndarray of shape (n_obs,)
            Prior weights (binomial: times the trials).
        dev : float
            The fit's deviance.
        rank : int
            Number of estimated coefficients.

        Returns
        -------
        float
            The AIC (negative binomial: with ``alpha`` counted as known).
        """
        n = self.name
        with np.errstate(divide="ignore", invalid="ignore"):
            if n == "gaussian":
                nobs = y.shape[0]
                val = nobs * (math.log(dev / nobs * 2 * math.pi) + 1) + 2 - float(np.sum(np.log(wt)))
            elif n == "binomial":
                m = trials if np.any(trials > 1) else wt
                ll = dist.binom_logpmf(np.round(m * y), np.round(m), mu)
                val = -2.0 * float(np.sum(np.where(m > 0, wt / np.where(m > 0, m, 1.0), 0.0) * ll))
            elif n == "poisson":
                val = -2.0 * float(np.sum(dist.poisson_logpmf(y, mu) * wt))
            elif n == "gamma":
                sw = float(np.sum(wt))
                disp = dev / sw
                val = -2.0 * float(np.sum(dist.gamma_logpdf(y, 1.0 / disp, mu * disp) * wt)) + 2
            elif n == "inverse_gaussian":
                sw = float(np.sum(wt))
                val = sw * (1 + math.log(dev / sw * 2 * math.pi)) + 3 * float(np.sum(np.log(y) * wt)) + 2
            else:
                th = 1.0 / self._nb_alpha
                term = (
                    (y + th) * np.log(mu + th)
                    - y * np.log(mu)
                    + special.gammaln(y + 1)
                    - th * math.log(th)
                    + special.gammaln(th)
                    - special.gammaln(th + y)
                )
                val = 2.0 * float(np.sum(term * wt))
        return val + 2.0 * rank


def _ylogy(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``y log(y / mu)``, 0 where ``y == 0`` (R's ``y_log_y``)."""
    return np.where(y != 0, y * np.log(np.where(y != 0, y, 1.0) / mu), 0.0)


def _fmt_vals(v: np.ndarray, limit: int = 5) -> str:
    s = ", ".join(f"{x:g}" for x in v[:limit])
    return s + (", ..." if v.size > limit else "")


def _r_num(x: float) -> str:
    return f"{x:.5g}"


def _binomial_pair(
    y: np.ndarray, w: np.ndarray, index: pd.Index
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A (successes, failures) response, shape (n_obs, 2): proportions, prior weights times trials, trials and R's
    starting means (see :meth:`Family.prepare`)."""
    neg = np.any(y < 0, axis=1)
    if neg.any():
        raise DataError(
            f"binomial successes/failures must be non-negative counts; negative at rows {format_labels(index[neg], 5)}"
        )
    nonint = (np.abs(y - np.round(y)) > 1e-3).any(axis=1)
    if nonint.any():
        _warn(f"non-integer counts in a binomial response at rows {format_labels(index[nonint], 5)}")
    trials = y[:, 0] + y[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        prop = np.where(trials > 0, y[:, 0] / np.where(trials > 0, trials, 1.0), 0.0)
    mustart = (trials * prop + 0.5) / (trials + 1.0)
    return prop, w * trials, trials, mustart


def _binomial_proportion(y: np.ndarray, w: np.ndarray, index: pd.Index, response: str) -> np.ndarray:
    """A one-column binomial response checked to lie in [0, 1] (0 where the weight is 0); warns where weights times
    proportions are not whole numbers of successes."""
    y = np.where(w == 0, 0.0, y)
    bad = (y < 0) | (y > 1)
    if bad.any():
        raise DataError(
            f"binomial response {response!r} must lie in [0, 1] (0/1 outcomes, or proportions with the "
            f"numbers of trials as weights); outside at rows {format_labels(index[bad], 5)} "
            f"(values {_fmt_vals(y[bad])}). For counts pass successes and failures as two columns, e.g. "
            "'cbind(successes, failures) ~ x'."
        )
    m = w * y
    nonint = np.abs(m - np.round(m)) > 1e-3
    if nonint.any():
        _warn(
            f"non-integer number of successes (weights x {response}) at rows "
            f"{format_labels(index[nonint], 5)}: weights of a binomial proportion are numbers of trials"
        )
    return y


def _check_counts(family: str, y: np.ndarray, w: np.ndarray, index: pd.Index, response: str) -> None:
    """A count response: an error where negative, a warning where not a whole number (R's ``non-integer x``)."""
    bad = y < 0
    if bad.any():
        raise DataError(
            f"the {family} family models counts: response {response!r} is negative at rows "
            f"{format_labels(index[bad], 5)} (values {_fmt_vals(y[bad])})"
        )
    # R's dpois / dnbinom: 'non-integer x' beyond 1e-7 relative
    nonint = (np.abs(y - np.round(y)) > 1e-7 * np.maximum(1.0, np.abs(y))) & (w > 0)
    if nonint.any():
        _warn(
            f"non-integer counts in the {family} response {response!r} at rows {format_labels(index[nonint], 5)} "
            f"(values {_fmt_vals(y[nonint])}): the likelihood (AIC) is that of the rounded counts, the fit "
            "is quasi-likelihood (as R warns: 'non-integer x')"
        )


def _warn(msg: str) -> None:
    warn(msg, DataWarning)


#: mu'(eta) / V(mu) under the canonical link (1 unless listed)
_CANONICAL_FACTOR = {"gamma": -1.0, "inverse_gaussian": -0.5}

#: family -> (links it accepts, canonical link); the first link is the default
FAMILIES: dict[str, tuple[tuple[str, ...], str]] = {
    "gaussian": (("identity", "log", "inverse"), "identity"),
    "binomial": (("logit", "probit", "cloglog", "log"), "logit"),
    "poisson": (("log", "identity", "sqrt"), "log"),
    "gamma": (("inverse", "identity", "log"), "inverse"),
    "inverse_gaussian": (("inverse_squared", "inverse", "identity", "log"), "inverse_squared"),
    "negative_binomial": (("log", "identity", "sqrt"), ""),
}
_FAMILY_ALIASES = {
    "normal": "gaussian",
    "logistic": "binomial",
    "inverse.gaussian": "inverse_gaussian",
    "inversegaussian": "inverse_gaussian",
    "negative.binomial": "negative_binomial",
    "negativebinomial": "negative_binomial",
    "negbin": "negative_binomial",
    "nb": "negative_binomial",
}


def make_family(family: Any = "gaussian", link: Any = None, alpha: float | None = None) -> Family:
    """A :class:`Family` from names (R's or regdiag's), with a message listing the choices for a bad pair.

    Parameters
    ----------
    family : str or Family
        Family name (case-insensitive; R's ``Gamma``, ``inverse.gaussian``, ``negative.binomial`` are accepted).
    link : str, optional
        Link name; the family's default (canonical) link when omitted. R's ``"1/mu^2"`` means
        ``"inverse_squared"``.
    alpha : float, optional
        Negative binomial only: fixed ``alpha`` in ``V(mu) = mu + alpha mu^2`` (default 1; R's theta = 1/alpha).

    Returns
    -------
    Family

    Examples
    --------
    >>> str(make_family("binomial", "probit"))
    'binomial(link=probit)'
    """
    if isinstance(family, Family):
        if link is not None or alpha is not None:
            raise DesignError("pass either a Family object or family/link/alpha names, not both")
        return family
    if not isinstance(family, str):
        raise DesignError(f"family must be a name such as 'binomial', not {type(family).__name__}")
    key = family.strip().lower()
    key = _FAMILY_ALIASES.get(key, key)
    if key not in FAMILIES:
        raise UnknownNameError(f"unknown family {family!r}; choose from {', '.join(map(repr, FAMILIES))}",
                               what="family", value=family, choices=list(FAMILIES))
    allowed, canonical = FAMILIES[key]
    if link is None:
        lk = allowed[0]
    elif isinstance(link, Link):
        lk = link.name
    elif isinstance(link, str):
        lk = link.strip()
        lk = _LINK_ALIASES.get(lk.lower(), lk.lower())
        if lk not in LINKS:
            raise UnknownNameError(f"unknown link {link!r}; choose from {', '.join(map(repr, LINKS))}",
                                   what="link", value=link, choices=list(LINKS))
    else:
        raise DesignError(f"link must be a name such as 'logit', not {type(link).__name__}")
    if lk not in allowed:
        raise DesignError(
            f"the {key} family does not take the {lk!r} link; its links are {', '.join(map(repr, allowed))}"
        )
    if key == "negative_binomial":
        a = 1.0 if alpha is None else float(alpha)
        if not (math.isfinite(a) and a > 0):
            raise DesignError(f"negative binomial alpha must be a positive number; got {alpha!r}")
        return Family(key, LINKS[lk], a, _canonical=canonical)
    if alpha is not None:
        raise DesignError(f"alpha is the negative binomial's parameter; the {key} family has none")
    return Family(key, LINKS[lk], None, _canonical=canonical)
