"""The identity: gradient dot products (no curvature)."""

from __future__ import annotations

from typing import Any

from ..model import Block, ModelView
from .base import DiagEigen, EigenCurvature

__all__ = ["IdentityCurvature"]


class IdentityCurvature(EigenCurvature):
    """``C = I`` (plus ``l2 I``): parameter influence ``grad l_i / n`` and scores are gradient dot products. Its scale
    is arbitrary, so only rankings and correlations are meaningful.

    Parameters
    ----------
    view : ModelView
        The model, validated.
    **kw
        ``batch_size`` and ``progress`` (see :class:`~regdiag.engine.curvature.base.Curvature`).
    """

    name = "identity"

    def __init__(self, view: ModelView, **kw: Any) -> None:
        super().__init__(view, **kw)
        ones = self.bk.zeros((self.p,), like=view.like) + 1.0
        self.parts.append(DiagEigen(self.bk, Block("params", 0, self.p), ones))
