"""A statsmodels results object refitted by regdiag: the one place that maps statsmodels' model classes to
regdiag's fits.

:func:`regdiag.influence` and :func:`regdiag.compare` both take statsmodels results; both find the regdiag fit of
the same model here.
"""

from __future__ import annotations

from typing import Any

from ._validation import DataError
from .input_kind import statsmodels_model

__all__ = ["SUPPORTED", "fit_from_statsmodels"]

#: the statsmodels model classes regdiag refits, in the order an error message lists them
SUPPORTED = ("OLS", "WLS", "GLM", "PHReg", "RLM", "Logit", "Probit", "Poisson", "NegativeBinomial",
             "GeneralizedPoisson", "MNLogit")


def fit_from_statsmodels(results: Any) -> Any:
    """The regdiag fit of a statsmodels results object's model (design, response, weights, offset, row labels).

    ``OLS`` / ``WLS``: :func:`regdiag.linear.ols.fit_design` of the model's design; ``GLM``:
    :func:`regdiag.linear.glm.glm_from_statsmodels` (family, link, weights, offset); ``PHReg``:
    :func:`regdiag.survival.coxph_from_statsmodels`; ``RLM``: :func:`regdiag.linear.rlm.rlm_from_statsmodels` (norm
    and scale estimate); ``Logit``, ``Probit``, ``Poisson``, ``NegativeBinomial`` (NB2), ``GeneralizedPoisson`` and
    ``MNLogit``: :func:`regdiag.linear.discrete.discrete_from_statsmodels` (maximum likelihood).

    Parameters
    ----------
    results : statsmodels results
        A fitted statsmodels results object.

    Returns
    -------
    OLSFit, GLMFit, CoxFit, RLMFit or MLEFit

    Raises
    ------
    DataError
        A statsmodels model class regdiag does not refit, or an object that is not statsmodels results.
    """
    kind = statsmodels_model(results)
    if kind in ("OLS", "WLS"):
        from .design import design_from_statsmodels
        from .linear.ols import fit_design

        return fit_design(design_from_statsmodels(results))
    if kind == "GLM":
        from .linear.glm import glm_from_statsmodels

        return glm_from_statsmodels(results)
    if kind == "PHReg":
        from .survival import coxph_from_statsmodels

        return coxph_from_statsmodels(results)
    if kind == "RLM":
        from .linear.rlm import rlm_from_statsmodels

        return rlm_from_statsmodels(results)
    from .linear.discrete import DISCRETE_MODELS, discrete_from_statsmodels

    if kind in DISCRETE_MODELS:
        return discrete_from_statsmodels(results)
    what = f"statsmodels {kind} results are" if kind is not None else f"a {type(results).__name__} is"
    raise DataError(f"{what} not supported here; pass {', '.join(SUPPORTED[:-1])} or {SUPPORTED[-1]} results")
