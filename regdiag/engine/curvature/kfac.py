"""K-FAC: per layer, the Gauss-Newton block approximated by a Kronecker product of two small factors."""

from __future__ import annotations

from typing import Any

from ..._validation import ModelError
from ..model import Block, ModelView
from .base import DenseEigen, EigenCurvature, KronEigen, check_mc, output_vectors

__all__ = ["KFACCurvature"]


class KFACCurvature(EigenCurvature):
    """K-FAC: per layer, the Gauss-Newton block approximated by a Kronecker product of two small factors.

    Block-diagonal curvature; a Kronecker block of weight ``W (d_out, d_in)`` gets ``G (x) A`` with

    ``A = sum_i w_i sum_t a_it a_it' / (T sum_i w_i)`` (inputs; case weights ``w_i``, default 1) and
    ``G = (1/n) sum_i sum_c sum_t d_ict d_ict'`` (output vectors back-propagated to the layer's outputs),

    so that for one position (``T = 1``) and output gradients the same for every observation,
    ``G (x) A = (1/n) sum_i sum_c (d_ic d_ic') (x) (a_i a_i')``, the exact Gauss-Newton block: K-FAC is exact for a
    single linear layer with squared loss, for any output dimension. Blocks without Kronecker structure get their
    dense Gauss-Newton block. The eigendecompositions ``G = Q_G diag(g) Q_G'``, ``A = Q_A diag(a) Q_A'`` give the
    inverse: the eigenvalues of ``G (x) A + lambda I`` are ``g_o a_j + lambda``.

    A block the model names in its optional ``diagonal_inputs`` (block names whose inputs ``a`` are one-hot, e.g. an
    ``nn.Embedding``'s tokens) has a diagonal ``A`` (the weighted token frequencies): it is stored as a vector of
    length ``d_in`` and its eigenvectors are the identity, never formed, so a vocabulary of ``10^5`` tokens costs
    ``10^5`` numbers, not ``10^10``.

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

    name = "kfac"

    def __init__(self, view: ModelView, *, mc_samples: int | None = None, seed: int = 0, **kw: Any) -> None:
        super().__init__(view, **kw)
        self.mc_samples = check_mc(mc_samples)
        self.seed = seed
        kron = [b for b in self.blocks if b.kron]
        plain = [b for b in self.blocks if not b.kron]
        view.require("output_hessians", f"the {self.name} curvature")
        if kron:
            view.require("kron_factors", f"the {self.name} curvature (Kronecker blocks)")
        if plain:
            view.require("output_vjp", f"the {self.name} curvature (blocks without Kronecker structure)")
        A: dict[str, Any] = {}
        G: dict[str, Any] = {}
        D: dict[str, Any] = {}
        wsum = 0.0
        positions: dict[str, int] = {}
        #: blocks whose input factor is diagonal (stored as a vector; identity eigenvectors)
        self.diagonal_inputs = frozenset(getattr(view.model, "diagonal_inputs", ())) & {b.name for b in kron}
        for rows in self.each_batch("factors", per_row=self._per_row()):
            V = self.vectors(rows)
            if kron:
                F = view.kron_factors(rows, V)
                w = view.example_weights(rows)
                wsum += float(self.bk.sum(w)) if w is not None else float(V.shape[0])
                for b in kron:
                    a, d = F[b.name]
                    diag = b.name in self.diagonal_inputs
                    if a.ndim == 2:
                        aw = a if w is None else a * w[:, None]
                        Ab = self.bk.sum(aw * a, axis=0) if diag else self.bk.swap(aw) @ a
                        Gb = self.bk.einsum("bco,bcp->op", d, d)
                    else:
                        positions[b.name] = a.shape[1]
                        aw = a if w is None else a * w[:, None, None]
                        Ab = self.bk.sum(aw * a, axis=(0, 1)) if diag else self.bk.einsum("bti,btj->ij", aw, a)
                        Gb = self.bk.einsum("bcto,bctp->op", d, d)
                    A[b.name] = Ab if b.name not in A else A[b.name] + Ab
                    G[b.name] = Gb if b.name not in G else G[b.name] + Gb
            if plain:
                U = view.output_vjp(rows, V)
                for b in plain:
                    Ub = U[:, :, b.slice].reshape(U.shape[0] * U.shape[1], b.size)
                    Db = self.bk.swap(Ub) @ Ub
                    D[b.name] = Db if b.name not in D else D[b.name] + Db
        A, G, D = ({k: self.reduce(v) for k, v in S.items()} for S in (A, G, D))
        wsum = float(self.reduce(wsum))
        self.factors: dict[str, tuple[Any, Any]] = {}
        for b in self.blocks:
            if b.kron:
                Ab = A[b.name] * (1.0 / (max(wsum, 1e-300) * positions.get(b.name, 1)))
                Gb = G[b.name] * (1.0 / self.n)
                for which, M in (("output-gradient", Gb), ("input", Ab)):
                    if not self.bk.all_finite(M):
                        raise ModelError(
                            f"the {which} factor of the {self.name} block {b.name!r} has NaN or infinite entries: the "
                            "layer's inputs or back-propagated gradients overflow (a float16/bfloat16 model, or "
                            "diverged training); compute influence in float32 or float64"
                        )
                self.factors[b.name] = (Gb, Ab)
                g, QG = self._eigh(Gb)
                if b.name in self.diagonal_inputs:  # A = diag(a): the identity's eigenvectors, in token order
                    a, QA = self.bk.where(Ab > 0, Ab, 0.0), None
                else:
                    a, QA = self._eigh(Ab)
                self.parts.append(KronEigen(self.bk, b, QG, QA, g[:, None] * a[None, :], factors=(Gb, Ab)))
            else:
                self.parts.append(DenseEigen(self.bk, b, D[b.name] * (1.0 / self.n)))

    def _per_row(self) -> int:
        return self.mc_samples or int(self.view.n_outputs or 1)

    def _eigh(self, M: Any) -> tuple[Any, Any]:
        # accurate relative to the factor's column-scaled conditioning: EK-FAC solves with these eigenvectors
        return self.bk.psd_eigh((M + self.bk.swap(M)) * 0.5)

    def vectors(self, rows: slice) -> Any:
        """The output vectors of ``rows`` (exact square roots, or the Monte Carlo draws of each row, seeded with
        ``(seed, row)``: the same for any batch size or number of processes, and in every pass over the data).

        Parameters
        ----------
        rows : slice
            The observations.

        Returns
        -------
        array of shape (b, C, k)
            ``C`` output vectors per observation.
        """
        return output_vectors(self.view, rows, self.mc_samples, None if self.mc_samples is None else self.seed)

    def kron_parts(self) -> list[tuple[Block, KronEigen]]:
        """The Kronecker blocks and their eigendecompositions.

        Returns
        -------
        list of (Block, KronEigen)
            In parameter order.
        """
        return [(p.block, p) for p in self.parts if isinstance(p, KronEigen)]
