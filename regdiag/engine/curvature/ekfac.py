"""EK-FAC: K-FAC's Kronecker eigenbasis with eigenvalues refitted to the per-observation Gauss-Newton terms."""

from __future__ import annotations

from typing import Any

from ..model import ModelView
from .kfac import KFACCurvature

__all__ = ["EKFACCurvature"]


class EKFACCurvature(KFACCurvature):
    """K-FAC's Kronecker eigenbasis with eigenvalues refitted to the per-observation Gauss-Newton terms.

    In K-FAC's eigenbasis ``Q = Q_G (x) Q_A`` of a Kronecker block, the eigenvalues are replaced by

    ``E_oj = (1/n) sum_i sum_c ([Q_G' (sum_t d_ict a_it') Q_A]_oj)^2``,

    the diagonal of ``Q' GN Q`` for the block's Gauss-Newton matrix ``GN``: the closest matrix to ``GN`` in Frobenius
    norm among those with eigenvectors ``Q``, so EK-FAC is never further from the Gauss-Newton matrix than K-FAC
    (George et al., 2018). One more pass over the data than K-FAC.

    Parameters
    ----------
    view : ModelView
        The model, validated.
    **kw
        ``batch_size`` and ``progress`` (see :class:`~regdiag.engine.curvature.base.Curvature`).
    """

    name = "ekfac"

    def __init__(self, view: ModelView, **kw: Any) -> None:
        super().__init__(view, **kw)
        parts = self.kron_parts()
        if not parts:
            return
        corrected = {b.name: None for b, _ in parts}
        for rows in self.each_batch("eigenvalue correction", per_row=self._per_row()):
            F = view.kron_factors(rows, self.vectors(rows))
            for b, part in parts:
                a, d = F[b.name]
                if a.ndim == 2:  # (Q_G'd)_o (Q_A'a)_j squared is a product of squares
                    dt = d @ part.QG
                    at = a if part.QA is None else a @ part.QA
                    Eb = self.bk.einsum("bco,bj->oj", dt * dt, at * at)
                else:
                    if part.QA is None:  # a diagonal input factor: the identity's eigenvectors (two products, in
                        # this order: never a (b, T, d_in, d_out) intermediate)
                        proj = self.bk.einsum("bctg,btj->bcgj", self.bk.einsum("bcto,og->bctg", d, part.QG), a)
                    else:
                        proj = self.bk.einsum("bcto,og,btj,ja->bcga", d, part.QG, a, part.QA)
                    Eb = self.bk.sum(proj * proj, axis=(0, 1))
                corrected[b.name] = Eb if corrected[b.name] is None else corrected[b.name] + Eb
        for b, part in parts:
            part.E_kfac = part.E  # K-FAC's eigenvalues g a': the scale the singularity check measures E against
            part.E = self.reduce(corrected[b.name]) * (1.0 / self.n)
            part.factors = None  # the operator is its eigendecomposition
