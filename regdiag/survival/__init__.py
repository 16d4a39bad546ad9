"""Survival models: Cox proportional hazards (R's ``survival::coxph``) with its residuals and influence."""

from .cox import CoxFit, coxph, coxph_arrays, coxph_from_statsmodels
from .results import CoxInfluence

__all__ = ["CoxFit", "CoxInfluence", "coxph", "coxph_arrays", "coxph_from_statsmodels"]
