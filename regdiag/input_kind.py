"""What kind of object a user passed: a Dask collection, a statsmodels results object, or anything else.

The entry layer (:mod:`regdiag.api`) and the comparison with statsmodels (:mod:`regdiag.compare`) tell inputs apart
with these functions only. Each looks at the type's module, so neither dask nor statsmodels is imported here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_dask", "is_statsmodels", "statsmodels_model"]


def _top_module(obj: Any) -> str:
    return type(obj).__module__.split(".")[0]


def is_dask(*objs: Any) -> bool:
    """Whether any of ``objs`` is a Dask collection (array, Series, DataFrame); ``None`` entries are skipped.

    Parameters
    ----------
    *objs : object
        The arguments a fit function was given (response or formula, design, data, weights, offset).

    Returns
    -------
    bool
    """
    return any(_top_module(o) == "dask" for o in objs if o is not None)


def is_statsmodels(obj: Any) -> bool:
    """Whether ``obj`` is a statsmodels object: a results object (its ``model`` a statsmodels model) or a model.

    Parameters
    ----------
    obj : object

    Returns
    -------
    bool
    """
    return _top_module(obj) == "statsmodels" or _top_module(getattr(obj, "model", None)) == "statsmodels"


def statsmodels_model(obj: Any) -> str | None:
    """The class name of a statsmodels results object's model (``"OLS"``, ``"GLM"``, ``"Logit"``, ``"PHReg"``,
    ...), or ``None`` when ``obj`` has no statsmodels ``model``.

    Parameters
    ----------
    obj : object

    Returns
    -------
    str or None
    """
    model = getattr(obj, "model", None)
    if model is None or _top_module(model) != "statsmodels":
        return None
    return type(model).__name__
