"""The engine's coefficient changes beside exact deletion, in standard errors: the numbers the engine plots draw.

:func:`compare_with_exact` reads two results (an engine estimate and the closed form's exact deletion) and returns
plain arrays; :func:`exact_reference` is the closed-form result an engine run on a regdiag fit is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..protocols import is_glm

__all__ = ["EngineComparison", "compare_with_exact", "exact_reference"]


@dataclass(frozen=True, eq=False)
class EngineComparison:
    """An engine run's coefficient changes and exact deletion's, both in standard errors of the coefficients.

    Attributes
    ----------
    exact : ndarray of shape (n_obs, n_coef)
        ``(theta_(-i) - theta)_j / se_j`` from exact deletion (minus the closed form's DFBETA).
    estimate : ndarray of shape (n_obs, n_coef)
        The engine's estimate of the same change, same units.
    names : tuple of str
        The coefficients (those both results have), in the estimate's order.
    index : pandas.Index
        Row labels, length n_obs.
    method : str
        The engine run's method (``"engine:exact"``, ...).
    damping : float
    correction : str
        The engine run's leverage correction ("none" or "leverage").
    """

    exact: np.ndarray
    estimate: np.ndarray
    names: tuple[str, ...]
    index: pd.Index
    method: str = "engine"
    damping: float = 0.0
    correction: str = ""

    def __post_init__(self) -> None:
        for a in (self.exact, self.estimate):
            a.setflags(write=False)


def exact_reference(fit: Any) -> Any:
    """The exact deletion result an engine run on ``fit`` is compared with: ``fit.influence(loo="exact")`` for a GLM
    (Newton steps to convergence from the one-step change, O(n^2 p)), ``fit.influence()`` for a linear model (whose
    deletion formulas are exact)."""
    if is_glm(fit):
        return fit.influence(loo="exact")
    return fit.influence()


def compare_with_exact(estimate: Any, exact: Any) -> EngineComparison:
    """The coefficient changes of an engine result and of an exact deletion result, in standard errors.

    Parameters
    ----------
    estimate : EngineInfluence
        From :func:`regdiag.engine.influence`: ``param_influence`` of shape (n_obs, n_params).
    exact : Influence or GLMInfluence
        Exact deletion (``dfbeta``, ``cov_unscaled_diag`` and ``sigma`` or ``dispersion``).

    Returns
    -------
    EngineComparison
    """
    names = [nm for nm in estimate.param_names if nm in exact.param_names]
    if not names:
        raise ValueError("the engine result and the exact result share no coefficient name")
    je = [list(estimate.param_names).index(nm) for nm in names]
    jx = [list(exact.param_names).index(nm) for nm in names]
    scale = np.sqrt(float(getattr(exact, "dispersion", exact.sigma**2)) * np.asarray(exact.cov_unscaled_diag)[jx])
    x = -np.asarray(exact.dfbeta, dtype=float)[:, jx] / scale
    y = np.asarray(estimate.param_influence, dtype=float)[:, je] / scale
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"the engine result has {y.shape[0]} observations and the exact result {x.shape[0]}")
    return EngineComparison(
        exact=x, estimate=y, names=tuple(names), index=pd.Index(estimate.index),
        method=str(getattr(estimate, "method", "engine")), damping=float(getattr(estimate, "damping", 0.0) or 0.0),
        correction=str(getattr(estimate, "correction", "")),
    )
