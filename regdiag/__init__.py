"""regdiag: regression influence diagnostics you can trust.

Closed-form influence measures (leverage, studentized residuals, Cook's distance, DFFITS, DFBETA(S), COVRATIO,
exact case and group deletion) for OLS, WLS and GLMs from one pivoted QR, cross-checked against a generic
second-order influence engine.

Examples
--------
>>> import regdiag
>>> df = regdiag.datasets.load("LifeCycleSavings")
>>> infl = regdiag.ols("sr ~ pop15 + pop75 + dpi + ddpi", data=df).influence()
>>> int(infl.flags("R").any(axis=1).sum())
4
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from . import datasets
from ._validation import ConditioningWarning, DataError, DataWarning, DesignError, InfluenceWarning, RegdiagError
from .compare import compare

if TYPE_CHECKING:  # pragma: no cover - for type checkers; at run time they are loaded on first use
    from .engine.crosscheck import cross_check
    from .linear.glm import GLMFit, glm
    from .linear.ols import OLSFit, ols
    from .linear.rlm import RLMFit, rlm
    from .results import GLMInfluence, GroupInfluence, Influence
    from .survival import CoxFit, CoxInfluence, coxph

#: public names loaded on first use (PEP 562): ``import regdiag`` costs numpy and pandas, and the fitting code,
#: scipy and the engine are imported when a name that needs them is first used
_LAZY = {
    "cross_check": ".engine.crosscheck",
    "glm": ".linear.glm",
    "GLMFit": ".linear.glm",
    "ols": ".linear.ols",
    "OLSFit": ".linear.ols",
    "Influence": ".results",
    "GLMInfluence": ".results",
    "GroupInfluence": ".results",
    "rlm": ".linear.rlm",
    "RLMFit": ".linear.rlm",
    "coxph": ".survival",
    "CoxFit": ".survival",
    "CoxInfluence": ".survival",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'regdiag' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "ols",
    "glm",
    "coxph",
    "rlm",
    "influence",
    "cross_check",
    "compare",
    "datasets",
    "OLSFit",
    "GLMFit",
    "CoxFit",
    "CoxInfluence",
    "RLMFit",
    "Influence",
    "GLMInfluence",
    "GroupInfluence",
    "RegdiagError",
    "DataError",
    "DesignError",
    "InfluenceWarning",
    "ConditioningWarning",
    "DataWarning",
]

__version__ = "0.1.0"


def influence(results: Any, **kwargs: Any) -> Influence:
    """Influence measures of a fitted model: a regdiag fit, or a statsmodels OLS / WLS / GLM / RLM / discrete-model
    results object.

    For a statsmodels results object the model's own design, response, weights and row labels are refitted with
    regdiag's factorization (the coefficients agree with statsmodels'), and regdiag's closed-form measures are
    returned: right for WLS and rank-deficient designs, where statsmodels' ``OLSInfluence`` is not. A statsmodels
    ``GLM`` is refitted with its family, link, weights and offset (:func:`regdiag.glm`) and gives a
    :class:`GLMInfluence`; a ``PHReg`` (Cox model) is refitted with :func:`regdiag.coxph` and gives a
    :class:`CoxInfluence`.
    A statsmodels ``RLM`` is refitted with its norm and scale estimate to the fixed point
    (:func:`regdiag.linear.rlm.rlm_from_statsmodels`, exact leave-one-out by default); ``Logit``, ``Probit``,
    ``Poisson``, ``NegativeBinomial`` (NB2), ``GeneralizedPoisson`` and ``MNLogit`` by maximum likelihood
    (:func:`regdiag.linear.discrete.discrete_from_statsmodels`).

    Parameters
    ----------
    results : OLSFit or statsmodels results
    **kwargs
        Passed to the fit's ``influence()``.

    Returns
    -------
    Influence
    """
    if hasattr(results, "influence") and callable(results.influence) and not _is_statsmodels(results):
        return results.influence(**kwargs)
    if _is_statsmodels(results):
        from .design import design_from_statsmodels
        from .linear.ols import fit_design

        kind = type(results.model).__name__
        if kind in ("OLS", "WLS"):
            return fit_design(design_from_statsmodels(results)).influence(**kwargs)
        if kind == "GLM":
            from .linear.glm import glm_from_statsmodels

            return glm_from_statsmodels(results).influence(**kwargs)
        if kind == "PHReg":
            from .survival import coxph_from_statsmodels

            return coxph_from_statsmodels(results).influence(**kwargs)
        if kind == "RLM":
            from .linear.rlm import rlm_from_statsmodels

            return rlm_from_statsmodels(results).influence(**kwargs)
        from .linear.discrete import DISCRETE_MODELS, discrete_from_statsmodels

        if kind in DISCRETE_MODELS:
            return discrete_from_statsmodels(results).influence(**kwargs)
        raise DataError(
            f"statsmodels {kind} results are not supported here; pass OLS, WLS, GLM, PHReg, RLM, Logit, Probit, Poisson, "
            "NegativeBinomial, GeneralizedPoisson or MNLogit results"
        )
    raise TypeError(f"cannot compute influence for a {type(results).__name__}; pass a regdiag fit or statsmodels results")


def _is_statsmodels(obj: Any) -> bool:
    return type(obj).__module__.startswith("statsmodels") or type(getattr(obj, "model", None)).__module__.startswith(
        "statsmodels"
    )
