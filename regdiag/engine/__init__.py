"""The generic second-order influence engine: ``theta_(-i) - theta ~ C^{-1} grad l_i / n``.

One code path for every model: a :class:`Model` (regdiag's OLS/GLM fits through adapters, PyTorch networks through
``regdiag.torch``) gives per-observation gradients and curvature pieces; a curvature (exact, Gauss-Newton, K-FAC,
EK-FAC, diagonal, identity) is an operator; a solver (direct, CG, LiSSA, low-rank) inverts it; :func:`influence`
returns parameter influence, self-influence and a generalized Cook's distance as plain data (scores of queries from
:func:`query_gradients`). :func:`cross_check` compares it with the closed form.
"""

from __future__ import annotations

from .._validation import ConvergenceError, ModelError
from .crosscheck import cross_check
from .curvature import CURVATURES, Curvature, make_curvature
from .influence import Damping, EngineInfluence, InfluenceEngine, influence, query_gradients
from .model import Block, Model, ModelView, OLSModel, SingleIndexModel, as_model
from .solvers import SOLVERS, make_solver

__all__ = [
    "influence",
    "query_gradients",
    "cross_check",
    "Damping",
    "EngineInfluence",
    "InfluenceEngine",
    "Model",
    "ModelView",
    "Block",
    "SingleIndexModel",
    "OLSModel",
    "as_model",
    "Curvature",
    "make_curvature",
    "make_solver",
    "CURVATURES",
    "SOLVERS",
    "ConvergenceError",
    "ModelError",
]
