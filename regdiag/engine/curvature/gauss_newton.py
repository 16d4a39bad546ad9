"""The Gauss-Newton matrix ``(1/n) sum_i J_i' Lambda_i J_i``, exact or Monte Carlo."""

from __future__ import annotations

from typing import Any

from ..model import ModelView
from .base import DENSE_LIMIT, Curvature, check_mc, output_vectors

__all__ = ["GaussNewtonCurvature"]


class GaussNewtonCurvature(Curvature):
    """``G = (1/n) sum_i J_i' Lambda_i J_i + l2 I`` with ``J_i`` the output Jacobian and ``Lambda_i`` the Hessian of
    ``l_i`` in the outputs.

    Exact (``mc_samples=None``): ``Lambda_i = R_i R_i'`` with ``R_i`` a square root, one vector-Jacobian product per
    output. Monte Carlo: ``S`` vectors ``R_i z / sqrt(S)`` per observation (unbiased). Formed as a dense matrix up to
    ``DENSE_LIMIT`` parameters, an operator (one pass over the data per product) beyond.

    Parameters
    ----------
    view : ModelView
        The model, validated.
    mc_samples : int, optional
        Monte Carlo output vectors per observation (default: the exact square roots of the output Hessians).
    seed : int
        Seed of the Monte Carlo draws (row ``i`` draws from ``(seed, i)``).
    **kw
        ``batch_size`` and ``progress`` (see :class:`~regdiag.engine.curvature.base.Curvature`).
    """

    name = "gauss_newton"

    def __init__(self, view: ModelView, *, mc_samples: int | None = None, seed: int = 0, **kw: Any) -> None:
        super().__init__(view, **kw)
        view.require("output_hessians", "the Gauss-Newton curvature")
        view.require("output_vjp", "the Gauss-Newton curvature")
        self.mc_samples = check_mc(mc_samples)
        self.seed = seed
        self.G: Any = None
        if self.p <= DENSE_LIMIT:
            G = None
            for rows in self.each_batch("Gauss-Newton matrix", per_row=self._per_row()):
                U = self._factors(rows)
                U2 = U.reshape(U.shape[0] * U.shape[1], self.p)
                G = self.bk.swap(U2) @ U2 if G is None else G + self.bk.swap(U2) @ U2
            self.G = self.reduce(G) * (1.0 / self.n)

    def _per_row(self) -> int:
        return self.mc_samples or int(self.view.n_outputs or 1)

    def _factors(self, rows: slice) -> Any:
        # each row's draws seeded with (seed, row): the same for any batch size or number of processes
        seed = None if self.mc_samples is None else self.seed
        return self.view.output_vjp(rows, output_vectors(self.view, rows, self.mc_samples, seed))

    def _mv(self, V: Any) -> Any:
        if self.G is not None:
            return V @ self.G
        out = None
        for rows in self.row_batches(self._per_row()):
            U = self._factors(rows)
            U2 = U.reshape(U.shape[0] * U.shape[1], self.p)
            t = (V @ self.bk.swap(U2)) @ U2
            out = t if out is None else out + t
        return self.reduce(out) * (1.0 / self.n)

    def dense(self) -> Any | None:
        if self.G is None:
            return None
        return self.G + self.l2 * self.bk.eye(self.p, like=self.G) if self.l2 else self.G

    def trace(self) -> float:
        if self.G is not None:
            return float(self.bk.sum(self.bk.diagonal(self.G))) + self.l2 * self.p
        tr = 0.0
        for rows in self.row_batches(self._per_row()):
            tr += float(self.bk.sum(self._factors(rows) ** 2))
        return float(self.reduce(tr)) / self.n + self.l2 * self.p
