"""The influence result of a Cox model: R's one-step measures, residuals, and the exact leave-one-out change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import Style
from ..results import check_convention

__all__ = ["CoxInfluence"]


@dataclass(frozen=True, eq=False, kw_only=True, slots=True)
class CoxInfluence:
    """Influence of each observation on a Cox model's coefficients. Arrays are read-only, rows in data order.

    Attributes
    ----------
    dfbeta_one_step : ndarray of shape (n_obs, n_params)
        R's ``residuals(fit, type = "dfbeta")``: ``U_i I^{-1}``, the one-step approximation of ``beta - beta_(-i)``.
    dfbetas_one_step : ndarray of shape (n_obs, n_params)
        R's ``"dfbetas"``: the above divided by the standard errors.
    score_residuals : ndarray of shape (n_obs, n_params)
    martingale, deviance : ndarray of shape (n_obs,)
    dfbeta_exact : ndarray of shape (n_obs, n_params) or None
        ``beta - beta_(-i)`` from refitting without observation ``i`` (NaN where the refit has no maximum).
    loo_converged : ndarray of bool, shape (n_obs,) or None
    loo_error : ndarray of shape (n_obs,) or None
        Bound on the error left in each exact deletion, in standard errors.
    loo_iterations : ndarray of int, shape (n_obs,) or None
    bse : ndarray of shape (n_params,)
    information : ndarray of shape (n_params, n_params)
    index : pandas.Index
    param_names : tuple of str
    method : str
        ``"coxph-exact"`` or ``"coxph-one-step"``.
    ties : str

    Notes
    -----
    ``dfbeta`` (property) is ``dfbeta_exact`` when computed, else ``dfbeta_one_step``; ``dfbetas`` divides it by
    the full fit's standard errors.
    """

    dfbeta_one_step: np.ndarray
    dfbetas_one_step: np.ndarray
    score_residuals: np.ndarray
    martingale: np.ndarray
    deviance: np.ndarray
    dfbeta_exact: np.ndarray | None
    loo_converged: np.ndarray | None
    loo_error: np.ndarray | None
    loo_iterations: np.ndarray | None
    bse: np.ndarray
    information: np.ndarray
    index: pd.Index
    param_names: tuple[str, ...]
    method: str
    ties: str

    def __post_init__(self) -> None:
        for name in ("dfbeta_one_step", "dfbetas_one_step", "score_residuals", "martingale", "deviance",
                     "dfbeta_exact", "loo_converged", "loo_error", "loo_iterations", "bse", "information"):
            arr = getattr(self, name)
            if isinstance(arr, np.ndarray):
                arr.flags.writeable = False

    @property
    def dfbeta(self) -> np.ndarray:
        """The exact ``beta - beta_(-i)`` when computed, else R's one-step value; shape (n_obs, n_params)."""
        return self.dfbeta_one_step if self.dfbeta_exact is None else self.dfbeta_exact

    @property
    def dfbetas(self) -> np.ndarray:
        """:attr:`dfbeta` in standard errors of the full fit."""
        return self.dfbeta / self.bse

    def dfbeta_as(self, convention: str = "regdiag") -> np.ndarray:
        """``beta - beta_(-i)`` as ``convention`` defines it, shape (n_obs, n_params).

        Parameters
        ----------
        convention : {"regdiag", "R"}
            "regdiag": :attr:`dfbeta` (exact when computed). "R": R's ``residuals(fit, type = "dfbeta")``, the
            one-step ``U_i I^{-1}``.

        Returns
        -------
        ndarray of shape (n_obs, n_params)
        """
        st = check_convention(convention, "a Cox model's dfbeta", allowed=(Style.REGDIAG, Style.R))
        return self.dfbeta_one_step if st is Style.R else self.dfbeta

    def dfbetas_as(self, convention: str = "regdiag") -> np.ndarray:
        """DFBETAS as ``convention`` defines it, shape (n_obs, n_params).

        Parameters
        ----------
        convention : {"regdiag", "R"}
            "regdiag": :attr:`dfbetas`. "R": R's ``residuals(fit, type = "dfbetas")``, the one-step change over the
            standard errors.

        Returns
        -------
        ndarray of shape (n_obs, n_params)
        """
        st = check_convention(convention, "a Cox model's dfbetas", allowed=(Style.REGDIAG, Style.R))
        return self.dfbetas_one_step if st is Style.R else self.dfbetas

    @property
    def loo_params_change(self) -> np.ndarray:
        """``beta_(-i) - beta`` (the engine's removal convention), shape (n_obs, n_params)."""
        return -self.dfbeta

    @property
    def likelihood_displacement(self) -> np.ndarray:
        """``dfbeta_i' I dfbeta_i``: the quadratic approximation of twice the drop in the log partial likelihood
        when the coefficients move to ``beta_(-i)``, shape (n_obs,)."""
        d = self.dfbeta
        return np.einsum("ij,jk,ik->i", d, self.information, d)

    @property
    def one_step_error(self) -> np.ndarray | None:
        """``max_j |one-step - exact| / se_j`` per observation (None without the exact deletion)."""
        if self.dfbeta_exact is None:
            return None
        return np.max(np.abs(self.dfbeta_one_step - self.dfbeta_exact) / self.bse, axis=1)

    def to_frame(self, style: str = "regdiag") -> pd.DataFrame:
        """A table with one row per observation.

        Parameters
        ----------
        style : {"regdiag", "R"}
            ``"R"``: R's ``residuals(fit, type = "dfbeta")`` columns (coefficient names, one-step values).
            ``"regdiag"``: ``dfb_<name>`` (exact where computed), ``dfbs_<name>``, ``martingale``, ``deviance``,
            ``likelihood_displacement`` and, with the exact deletion, ``dfb1_<name>`` (one-step) and ``loo_error``.

        Returns
        -------
        pandas.DataFrame
            One row per observation, indexed like the data.
        """
        names = list(self.param_names)
        if style == "R":
            return pd.DataFrame(self.dfbeta_one_step, index=self.index, columns=names)
        if style != "regdiag":
            raise ValueError(f"style={style!r} is not one of 'regdiag', 'R'")
        cols: dict[str, Any] = {}
        for j, nm in enumerate(names):
            cols[f"dfb_{nm}"] = self.dfbeta[:, j]
        for j, nm in enumerate(names):
            cols[f"dfbs_{nm}"] = self.dfbetas[:, j]
        if self.dfbeta_exact is not None:
            for j, nm in enumerate(names):
                cols[f"dfb1_{nm}"] = self.dfbeta_one_step[:, j]
            cols["loo_error"] = self.loo_error
        cols["martingale"] = self.martingale
        cols["deviance"] = self.deviance
        cols["likelihood_displacement"] = self.likelihood_displacement
        return pd.DataFrame(cols, index=self.index)

    def __repr__(self) -> str:
        return (f"CoxInfluence(n_obs={len(self.index)}, n_params={len(self.param_names)}, method={self.method!r}, "
                f"ties={self.ties!r})")
