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

from typing import TYPE_CHECKING

from . import datasets
from ._lazy import lazy_names
from ._validation import ConditioningWarning, DataError, DataWarning, DesignError, InfluenceWarning, RegdiagError
from ._version import __version__ as __version__  # re-exported
from .compare import compare

if TYPE_CHECKING:  # pragma: no cover - for type checkers; at run time they are loaded on first use
    from .api import glm, influence, ols
    from .engine.crosscheck import cross_check
    from .linear.glm import GLMFit
    from .linear.ols import OLSFit
    from .linear.rlm import RLMFit, rlm
    from .results import GLMInfluence, GroupInfluence, Influence
    from .survival import CoxFit, CoxInfluence, coxph

#: public names loaded on first use (PEP 562): ``import regdiag`` costs numpy and pandas, and the fitting code,
#: scipy and the engine are imported when a name that needs them is first used. The functions come from the entry
#: layer :mod:`regdiag.api` where they take several kinds of input (in memory, Dask, statsmodels results).
_LAZY = {
    "cross_check": ".engine.crosscheck",
    "glm": ".api",
    "GLMFit": ".linear.glm",
    "influence": ".api",
    "ols": ".api",
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


#: subpackages loaded on first use, so that ``import regdiag`` then ``regdiag.engine.influence(...)`` works
_SUBPACKAGES = ("dask", "engine", "linear", "plots", "report", "survival", "testing", "torch")

__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals(), _SUBPACKAGES)

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

