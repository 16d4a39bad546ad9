"""Influence measures as pure functions of residuals, leverage, scale and rank.

Notation: ``e`` weighted residuals ``sqrt(w_i) (y_i - x_i' beta)``, ``h`` leverage, ``s`` the residual standard error,
``s_(i)`` its leave-one-out value, ``p`` the numerical rank, ``n`` the number of observations with positive weight.
Every function returns NaN (never a large finite number) where the measure is undefined: ``h = 1``, ``s = 0``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import _distributions as dist

__all__ = [
    "select_criteria",
    "sigma_loo",
    "standard_resid",
    "student_resid",
    "cooks_distance",
    "cooks_pvalue",
    "dffits",
    "cov_ratio",
    "Criterion",
    "CRITERIA",
    "RULES",
]


def _undefined(h: np.ndarray) -> np.ndarray:
    return ~(h < 1.0)


def sigma_loo(e: np.ndarray, h: np.ndarray, rss: float, df_resid: float) -> np.ndarray:
    """Residual standard error with observation i deleted.

    Parameters
    ----------
    e : ndarray of shape (n_obs,)
        Residuals (weighted: ``sqrt(w) (y - X b)``).
    h : ndarray of shape (n_obs,)
        Leverages (NaN is returned where ``h = 1``).
    rss : float
        Residual sum of squares.
    df_resid : float
        Residual degrees of freedom ``n - p``.

    Returns
    -------
    ndarray of shape (n_obs,)
        ``s_(i)``.

    Notes
    -----
    ``s_(i)^2 = (RSS - e_i^2 / (1 - h_i)) / (n - p - 1)``, from ``RSS_(i) = RSS - e_i^2/(1 - h_i)``. When one
    observation carries all of the RSS the difference cancels to rounding level; a numerator below
    ``64 eps RSS`` is set to exactly 0 (deleting that row leaves a perfect fit), never left as noise.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        num = rss - e**2 / (1.0 - h)
        num[num <= 64.0 * np.finfo(float).eps * rss] = 0.0
        out = np.sqrt(np.maximum(num, 0.0) / (df_resid - 1.0)) if df_resid > 1 else np.full_like(e, np.nan)
    out[_undefined(h)] = np.nan
    return out


def standard_resid(e: np.ndarray, h: np.ndarray, s: float) -> np.ndarray:
    """Internally studentized residual ``e_i / (s sqrt(1 - h_i))`` (R's ``rstandard``).

    Parameters
    ----------
    e : ndarray of shape (n_obs,)
        Residuals (weighted: ``sqrt(w) (y - X b)``).
    h : ndarray of shape (n_obs,)
        Leverages (NaN is returned where ``h = 1``).
    s : float
        Residual standard error.

    Returns
    -------
    ndarray of shape (n_obs,)
        The standardized residuals.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        out = e / (s * np.sqrt(1.0 - h))
    out[_undefined(h) | (s == 0)] = np.nan
    return out


def student_resid(e: np.ndarray, h: np.ndarray, s_loo: np.ndarray) -> np.ndarray:
    """Externally studentized residual ``e_i / (s_(i) sqrt(1 - h_i))`` (R's ``rstudent``).

    Parameters
    ----------
    e : ndarray of shape (n_obs,)
        Residuals (weighted: ``sqrt(w) (y - X b)``).
    h : ndarray of shape (n_obs,)
        Leverages (NaN is returned where ``h = 1``).
    s_loo : ndarray of shape (n_obs,)
        Residual standard errors with each observation deleted (:func:`sigma_loo`).

    Returns
    -------
    ndarray of shape (n_obs,)
        The studentized residuals.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        out = e / (s_loo * np.sqrt(1.0 - h))
    out[~np.isfinite(out)] = np.nan
    return out


def cooks_distance(r_std: np.ndarray, h: np.ndarray, p: int) -> np.ndarray:
    """Cook's distance ``r_i^2 h_i / (p (1 - h_i))`` with ``r_i`` the standardized residual.

    Equals ``(b - b_(i))' X'WX (b - b_(i)) / (p s^2)``: the squared norm of the coefficient change in the metric of
    the coefficient covariance.

    Parameters
    ----------
    r_std : ndarray of shape (n_obs,)
        Standardized residuals (:func:`standard_resid`).
    h : ndarray of shape (n_obs,)
        Leverages (NaN is returned where ``h = 1``).
    p : int
        Numerical rank of the design.

    Returns
    -------
    ndarray of shape (n_obs,)
        Cook's distances.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        out = r_std**2 * h / (p * (1.0 - h))
    out[_undefined(h)] = np.nan
    return out


def cooks_pvalue(d: np.ndarray, p: int, df_resid: float) -> np.ndarray:
    """Upper tail ``P(F_{p, n-p} > D_i)``, as statsmodels' second ``cooks_distance`` output.

    ``1 - cooks_pvalue`` is the F percentile that R's ``influence.measures`` compares with 0.5.

    Parameters
    ----------
    d : ndarray of shape (n_obs,)
        Cook's distances.
    p : int
        Numerical rank of the design.
    df_resid : float
        Residual degrees of freedom.

    Returns
    -------
    ndarray of shape (n_obs,)
        The upper-tail probabilities.
    """
    return dist.f_sf(d, p, df_resid)


def dffits(t: np.ndarray, h: np.ndarray) -> np.ndarray:
    """DFFITS ``t_i sqrt(h_i / (1 - h_i))`` from the studentized residual ``t_i``.

    With the internally standardized residual instead, this is statsmodels' ``dffits_internal``.

    Parameters
    ----------
    t : ndarray of shape (n_obs,)
        Studentized residuals (:func:`student_resid`).
    h : ndarray of shape (n_obs,)
        Leverages (NaN is returned where ``h = 1``).

    Returns
    -------
    ndarray of shape (n_obs,)
        DFFITS.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        out = t * np.sqrt(h / (1.0 - h))
    out[_undefined(h)] = np.nan
    return out


def cov_ratio(s_loo: np.ndarray, s: float, h: np.ndarray, p: int) -> np.ndarray:
    """COVRATIO ``(s_(i) / s)^(2p) / (1 - h_i)``: ratio of the generalized variances of beta without and with i.

    Parameters
    ----------
    s_loo : ndarray of shape (n_obs,)
        Residual standard errors with each observation deleted.
    s : float
        Residual standard error.
    h : ndarray of shape (n_obs,)
        Leverages (NaN is returned where ``h = 1``).
    p : int
        Numerical rank of the design.

    Returns
    -------
    ndarray of shape (n_obs,)
        COVRATIO.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = (s_loo / s) ** (2 * p) / (1.0 - h)
    out[~np.isfinite(out)] = np.nan
    return out


# ---------------------------------------------------------------------------------------------------------------
# flagging rules


@dataclass(frozen=True)
class Criterion:
    """One flagging criterion: a measure, a cut-off as a function of (p, n), and a description.

    Parameters
    ----------
    name : str
        The criterion's name (a column of ``flags()``).
    measure : str
        The attribute of the influence object it tests.
    cutoff : callable
        ``cutoff(p, n) -> float``.
    text : str
        The rule in words, such as ``"|DFFITS| > 3 sqrt(p/(n-p))"``.
    test : {"abs_gt", "gt", "abs_dev1_gt", "fpct_gt"}
        ``|m| > c``, ``m > c``, ``|1 - m| > c``, or the ``F(p, n-p)`` percentile of ``m`` above ``c``.
    """

    name: str
    measure: str  # attribute of the influence object
    cutoff: Callable[[int, int], float]
    text: str
    test: str = "abs_gt"  # abs_gt: |m| > c ; gt: m > c ; abs_dev1_gt: |1 - m| > c ; fpct_gt: F_{p,n-p}(m) > c

    def apply(self, values: np.ndarray, p: int, n: int) -> np.ndarray:
        """Which observations the criterion flags.

        Parameters
        ----------
        values : ndarray of shape (n_obs,) or (n_obs, n_params)
            The measure's values (NaN is never flagged).
        p : int
            Numerical rank.
        n : int
            Number of observations.

        Returns
        -------
        ndarray of bool
            Of ``values``' shape.
        """
        c = self.cutoff(p, n)
        with np.errstate(invalid="ignore"):
            if self.test == "abs_gt":
                out = np.abs(values) > c
            elif self.test == "gt":
                out = values > c
            elif self.test == "abs_dev1_gt":
                out = np.abs(1.0 - values) > c
            elif self.test == "fpct_gt":
                out = dist.f_cdf(values, p, n - p) > c
            else:  # pragma: no cover - fixed table below
                raise ValueError(self.test)
        return np.asarray(out, dtype=bool)


CRITERIA: dict[str, Criterion] = {
    c.name: c
    for c in [
        Criterion("dfbetas_1", "dfbetas", lambda p, n: 1.0, "|DFBETAS| > 1"),
        Criterion("dfbetas_2sqrtn", "dfbetas", lambda p, n: 2.0 / np.sqrt(n), "|DFBETAS| > 2/sqrt(n)"),
        Criterion("dffits_R", "dffits", lambda p, n: 3.0 * np.sqrt(p / (n - p)), "|DFFITS| > 3 sqrt(p/(n-p))"),
        Criterion("dffits_2sqrtpn", "dffits", lambda p, n: 2.0 * np.sqrt(p / n), "|DFFITS| > 2 sqrt(p/n)"),
        Criterion("cov_ratio_R", "cov_ratio", lambda p, n: 3.0 * p / (n - p), "|1 - COVRATIO| > 3p/(n-p)",
                  "abs_dev1_gt"),
        Criterion("cov_ratio_3pn", "cov_ratio", lambda p, n: 3.0 * p / n, "|1 - COVRATIO| > 3p/n", "abs_dev1_gt"),
        Criterion("cooks_F50", "cooks_distance", lambda p, n: 0.5, "F(p, n-p) percentile of Cook's D > 50%", "fpct_gt"),
        Criterion("cooks_4n", "cooks_distance", lambda p, n: 4.0 / n, "Cook's D > 4/n", "gt"),
        Criterion("cooks_1", "cooks_distance", lambda p, n: 1.0, "Cook's D > 1", "gt"),
        Criterion("leverage_2p", "leverage", lambda p, n: 2.0 * p / n, "leverage > 2p/n", "gt"),
        Criterion("leverage_3p", "leverage", lambda p, n: 3.0 * p / n, "leverage > 3p/n", "gt"),
        Criterion("student_2", "student_resid", lambda p, n: 2.0, "|studentized residual| > 2"),
        Criterion("student_3", "student_resid", lambda p, n: 3.0, "|studentized residual| > 3"),
    ]
}

#: Named sets of criteria. "R" is R's ``influence.measures()$is.inf``; "BKW" Belsley, Kuh & Welsch (1980).
RULES: dict[str, tuple[str, ...]] = {
    "R": ("dfbetas_1", "dffits_R", "cov_ratio_R", "cooks_F50", "leverage_3p"),
    "BKW": ("dfbetas_2sqrtn", "dffits_2sqrtpn", "cov_ratio_3pn", "leverage_2p"),
    "common": ("cooks_4n", "leverage_2p", "student_2"),
}


def select_criteria(rule: str | Sequence[str]) -> list[Criterion]:
    """The criteria of a named rule (:data:`RULES`) or of criterion names (:data:`CRITERIA`), in order."""
    names = [rule] if isinstance(rule, str) else list(rule)
    out: list[Criterion] = []
    for nm in names:
        if nm in RULES:
            out.extend(CRITERIA[c] for c in RULES[nm])
        elif nm in CRITERIA:
            out.append(CRITERIA[nm])
        else:
            choices = ", ".join(list(RULES) + list(CRITERIA))
            raise ValueError(f"unknown flagging rule {nm!r}; choose from {choices}")
    return out
