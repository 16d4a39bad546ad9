"""The diagonal of the Gauss-Newton matrix (or of the exact Hessian)."""

from __future__ import annotations

from typing import Any

from ..model import Block, ModelView
from .base import DiagEigen, EigenCurvature

__all__ = ["DiagonalCurvature"]


class DiagonalCurvature(EigenCurvature):
    """``diag(C_jj)`` of the Gauss-Newton matrix (``of="gauss_newton"``, the default when the model gives output
    Jacobians: ``(1/n) sum_i sum_c u_icj^2``) or of the exact Hessian (``of="exact"``).

    Parameters
    ----------
    view : ModelView
        The model, validated.
    of : {"gauss_newton", "exact"}, optional
        The matrix whose diagonal is taken (default: Gauss-Newton when the model gives output Jacobians).
    **kw
        ``batch_size`` and ``progress`` (see :class:`~regdiag.engine.curvature.base.Curvature`).
    """

    name = "diagonal"

    def __init__(self, view: ModelView, *, of: str | None = None, **kw: Any) -> None:
        super().__init__(view, **kw)
        if of is None:
            of = "gauss_newton" if view.has("output_vjp") and view.has("output_hessians") else "exact"
        if of == "gauss_newton":
            d = None
            for rows in self.each_batch("Gauss-Newton diagonal", per_row=int(view.n_outputs or 1)):
                U = view.gn_factors(rows)
                s = self.bk.sum(U * U, axis=(0, 1))
                d = s if d is None else d + s
            d = self.reduce(d) * (1.0 / self.n)
        elif of == "exact":
            from .exact import ExactCurvature

            ex = ExactCurvature(view, batch_size=self.batch_size, progress=self.progress)
            if ex.H is None:
                raise ValueError("the diagonal of the exact Hessian needs hessian() or a model small enough to form it")
            d = self.bk.diagonal(ex.H)
        else:
            raise ValueError(f"of={of!r} is not one of 'gauss_newton', 'exact'")
        self.of = of
        self.parts.append(DiagEigen(self.bk, Block("params", 0, self.p), d))
