"""Distribution functions used on every fit and report, from :mod:`scipy.special` alone.

``scipy.stats`` costs about half a second to import (it builds hundreds of distribution objects and their
docstrings); the handful of functions a fit, its measures and its report need are one :mod:`scipy.special` call
each, the same calls ``scipy.stats`` makes internally (``stats.t.sf(x, df)`` is ``special.stdtr(df, -x)``,
``stats.f.sf(x, a, b)`` is ``special.fdtrc(a, b, x)``, ...), so the numbers are the same to the last bit.
"""

from __future__ import annotations

import math
from typing import Any, overload

import numpy as np
from scipy import special

__all__ = [
    "binom_logpmf",
    "f_cdf",
    "f_ppf",
    "f_sf",
    "gamma_logpdf",
    "norm_cdf",
    "norm_pdf",
    "norm_ppf",
    "norm_sf",
    "poisson_logpmf",
    "t_ppf",
    "t_sf",
]

_SQRT_2PI = math.sqrt(2.0 * math.pi)


def norm_pdf(x: np.ndarray | float) -> np.ndarray:
    """Standard normal density, elementwise: ``exp(-x²/2) / sqrt(2π)``."""
    x = np.asarray(x, dtype=float)
    return np.exp(-(x**2) / 2.0) / _SQRT_2PI


@overload
def norm_cdf(x: float) -> np.floating[Any]: ...
@overload
def norm_cdf(x: np.ndarray) -> np.ndarray: ...
def norm_cdf(x: np.ndarray | float) -> np.ndarray | np.floating[Any]:
    """Standard normal distribution function ``Φ(x)``."""
    return special.ndtr(x)


def norm_sf(x: np.ndarray | float) -> np.ndarray:
    """Standard normal upper tail ``1 - Φ(x)``, accurate far in the tail (``Φ(-x)``)."""
    return special.ndtr(-np.asarray(x, dtype=float))


@overload
def norm_ppf(q: float) -> np.floating[Any]: ...
@overload
def norm_ppf(q: np.ndarray) -> np.ndarray: ...
def norm_ppf(q: np.ndarray | float) -> np.ndarray | np.floating[Any]:
    """Standard normal quantile ``Φ⁻¹(q)``."""
    return special.ndtri(q)


def t_sf(x: np.ndarray | float, df: np.ndarray | float) -> np.ndarray:
    """Upper tail of Student's t with ``df`` degrees of freedom."""
    return special.stdtr(df, -np.asarray(x, dtype=float))


@overload
def t_ppf(q: float, df: np.ndarray | float) -> np.floating[Any]: ...
@overload
def t_ppf(q: np.ndarray, df: np.ndarray | float) -> np.ndarray: ...
def t_ppf(q: np.ndarray | float, df: np.ndarray | float) -> np.ndarray | np.floating[Any]:
    """Quantile of Student's t with ``df`` degrees of freedom."""
    return special.stdtrit(df, q)


def f_cdf(x: np.ndarray | float, dfn: float, dfd: float) -> np.ndarray:
    """Distribution function of F(``dfn``, ``dfd``); 0 for ``x <= 0``."""
    x = np.asarray(x, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(x > 0, special.fdtr(dfn, dfd, np.maximum(x, 0.0)), np.where(np.isnan(x), np.nan, 0.0))


def f_sf(x: np.ndarray | float, dfn: float, dfd: float) -> np.ndarray:
    """Upper tail of F(``dfn``, ``dfd``); 1 for ``x <= 0``."""
    x = np.asarray(x, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(x > 0, special.fdtrc(dfn, dfd, np.maximum(x, 0.0)), np.where(np.isnan(x), np.nan, 1.0))


@overload
def f_ppf(q: float, dfn: float, dfd: float) -> np.floating[Any]: ...
@overload
def f_ppf(q: np.ndarray, dfn: float, dfd: float) -> np.ndarray: ...
def f_ppf(q: np.ndarray | float, dfn: float, dfd: float) -> np.ndarray | np.floating[Any]:
    """Quantile of F(``dfn``, ``dfd``)."""
    return special.fdtri(dfn, dfd, q)


def binom_logpmf(k: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Log probability of ``k`` successes in ``n`` trials with success probability ``p`` (as ``scipy.stats.binom``)."""
    k, n, p = (np.asarray(a, dtype=float) for a in (k, n, p))
    comb = special.gammaln(n + 1) - (special.gammaln(k + 1) + special.gammaln(n - k + 1))
    return comb + special.xlogy(k, p) + special.xlog1py(n - k, -p)


def poisson_logpmf(k: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Log probability of ``k`` under a Poisson distribution of mean ``mu`` (as ``scipy.stats.poisson``)."""
    k, mu = np.asarray(k, dtype=float), np.asarray(mu, dtype=float)
    return special.xlogy(k, mu) - special.gammaln(k + 1) - mu


def gamma_logpdf(x: np.ndarray, a: float, scale: np.ndarray) -> np.ndarray:
    """Log density of a gamma distribution of shape ``a`` and scale ``scale`` (as ``scipy.stats.gamma``)."""
    x, scale = np.asarray(x, dtype=float), np.asarray(scale, dtype=float)
    z = x / scale
    return special.xlogy(a - 1.0, z) - z - special.gammaln(a) - np.log(scale)
