"""The exact Hessian of the mean objective: from the model's ``hessian()``, or its Hessian-vector products."""

from __future__ import annotations

from typing import Any

from ..._validation import ModelError
from ..model import ModelView
from ..progress import Progress
from .base import DENSE_LIMIT, Curvature

__all__ = ["ExactCurvature"]

#: unit vectors per Hessian-vector product call when the exact Hessian is built from them
HVP_ROWS = 256


class ExactCurvature(Curvature):
    """``H = (1/n) sum_i hess l_i + l2 I``.

    Formed once as a dense matrix from ``hessian()`` (or from ``P`` Hessian-vector products); with only ``hvp`` and
    more than ``DENSE_LIMIT`` parameters it stays an operator (solve it with CG, LiSSA or the low-rank solver). At the
    fitted parameters of a non-convex loss it may be indefinite; the direct solver says so. Its per-observation term
    (for the leverage correction) is ``hess l_i`` from the model's ``hessian_factors``.

    Parameters
    ----------
    view : ModelView
        The model, validated.
    **kw
        ``batch_size`` and ``progress`` (see :class:`~regdiag.engine.curvature.base.Curvature`).
    """

    name = "exact"

    def __init__(self, view: ModelView, **kw: Any) -> None:
        super().__init__(view, **kw)
        if not (view.has("hessian") or view.has("hvp")):
            raise ModelError(
                f"the exact curvature needs the model's hessian() or hvp(V), which {type(view.model).__name__} does "
                "not provide; use curvature='gauss_newton', 'kfac' or 'ekfac'"
            )
        self.H: Any = None
        if view.has("hessian"):
            H = view.hessian()
            self.H = (H + self.bk.swap(H)) * 0.5
        elif self.p <= DENSE_LIMIT:
            E = self.bk.eye(self.p, like=view.like)
            step = HVP_ROWS
            starts = range(0, self.p, step)
            pr = Progress(self.progress, "exact: Hessian-vector products", len(starts))
            parts = []
            for c in starts:
                parts.append(view.hvp(E[c : c + step]))
                pr.advance()
            H = parts[0] if len(parts) == 1 else self.bk.concat(parts, axis=0)
            self.H = (H + self.bk.swap(H)) * 0.5

    def _mv(self, V: Any) -> Any:
        return V @ self.H if self.H is not None else self.view.hvp(V)

    def dense(self) -> Any | None:
        if self.H is None:
            return None
        return self.H + self.l2 * self.bk.eye(self.p, like=self.H) if self.l2 else self.H

    def trace(self) -> float:
        if self.H is None:
            raise ModelError("relative damping needs the trace of the exact curvature, which is too large to form; "
                             "pass an absolute damping")
        return float(self.bk.sum(self.bk.diagonal(self.H))) + self.l2 * self.p

    def example_factors(self, rows: slice) -> tuple[Any, Any]:
        self.view.require("hessian_factors", "the leverage correction with the exact curvature")
        return self.view.hessian_factors(rows)
