"""Curvatures of the influence engine, each an operator in one short file (see :mod:`.base`)."""

from __future__ import annotations

from typing import Any

from ..._validation import CurvatureKind, as_enum
from ..model import ModelView
from .base import Curvature, EigenCurvature
from .diagonal import DiagonalCurvature
from .ekfac import EKFACCurvature
from .exact import ExactCurvature
from .gauss_newton import GaussNewtonCurvature
from .identity import IdentityCurvature
from .kfac import KFACCurvature

__all__ = [
    "Curvature",
    "EigenCurvature",
    "ExactCurvature",
    "GaussNewtonCurvature",
    "KFACCurvature",
    "EKFACCurvature",
    "DiagonalCurvature",
    "IdentityCurvature",
    "CURVATURES",
    "make_curvature",
]

CURVATURES: dict[CurvatureKind, type[Curvature]] = {
    CurvatureKind.EXACT: ExactCurvature,
    CurvatureKind.GAUSS_NEWTON: GaussNewtonCurvature,
    CurvatureKind.KFAC: KFACCurvature,
    CurvatureKind.EKFAC: EKFACCurvature,
    CurvatureKind.DIAGONAL: DiagonalCurvature,
    CurvatureKind.IDENTITY: IdentityCurvature,
}


def make_curvature(name: str | CurvatureKind | Curvature, view: ModelView, **options: Any) -> Curvature:
    """The curvature called ``name`` fitted to the model; a :class:`Curvature` instance is returned as is.

    ``options`` go to the curvature's constructor: ``batch_size``, ``progress``; ``mc_samples`` and ``seed``
    (Gauss-Newton, K-FAC, EK-FAC); ``of`` (diagonal).

    Parameters
    ----------
    name : {"exact", "gauss_newton", "kfac", "ekfac", "diagonal", "identity"} or Curvature
        The curvature.
    view : ModelView
        The model, validated.
    **options
        Keyword arguments of the curvature's class.

    Returns
    -------
    Curvature
        The curvature, fitted.
    """
    if isinstance(name, Curvature):
        return name
    kind = as_enum(CurvatureKind, name, "curvature")
    return CURVATURES[kind](view, **options)
