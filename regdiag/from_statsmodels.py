"""A statsmodels results object refitted by regdiag: the one place that maps statsmodels' model classes to
regdiag's fits.

:func:`regdiag.influence` and :func:`regdiag.compare` both take statsmodels results; both find the regdiag fit of
the same model here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._validation import DataError
from .input_kind import statsmodels_model

__all__ = ["GLM_EQUIVALENTS", "SUPPORTED", "fit_from_statsmodels", "glm_of_discrete"]

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


#: statsmodels' discrete models that are GLMs, with the family and link of the GLM
GLM_EQUIVALENTS = {"Logit": ("binomial", "logit"), "Probit": ("binomial", "probit"), "Poisson": ("poisson", "log")}


def glm_of_discrete(results: Any) -> Any:
    """A statsmodels ``Logit``, ``Probit`` or ``Poisson`` results object refitted as the equivalent GLM.

    The model's design, response and row labels, its offset and ``log(exposure)`` as the GLM's offset, started at
    statsmodels' estimate (:func:`regdiag.glm` with the family and link of :data:`GLM_EQUIVALENTS`).

    Parameters
    ----------
    results : statsmodels Logit, Probit or Poisson results

    Returns
    -------
    GLMFit

    Raises
    ------
    DataError
        Results of another model.
    """
    from .linear.glm import glm

    kind = statsmodels_model(results)
    if kind not in GLM_EQUIVALENTS:
        raise DataError(f"{kind or type(results).__name__} results have no GLM equivalent; pass "
                        f"{', '.join(GLM_EQUIVALENTS)} results")
    family, link = GLM_EQUIVALENTS[kind]
    m = results.model
    labels = getattr(m.data, "row_labels", None)
    index = pd.RangeIndex(len(m.endog)) if labels is None else pd.Index(labels)
    X = pd.DataFrame(np.asarray(m.exog, dtype=float), index=index, columns=list(m.exog_names))
    offset = np.zeros(len(index))
    for extra in ("offset", "exposure"):  # statsmodels keeps log(exposure) in model.exposure
        v = getattr(m, extra, None)
        if v is not None:
            offset = offset + np.asarray(v, dtype=float)
    y = pd.Series(np.asarray(m.endog, dtype=float), index=index, name=m.endog_names)
    return glm(y, X, family=family, link=link, offset=offset if np.any(offset) else None,
               start=np.asarray(results.params, dtype=float))
