"""The curvature operator base: shapes, blocks, the l2 term, and eigen-structured blocks with a cheap inverse.

A curvature ``C`` approximates the Hessian of the mean objective ``(1/n) sum_i l_i + (l2/2)||theta||^2``; the
``l2`` term is exact in every curvature. Vectors are the rows of a ``(k, n_params)`` array (one vector per row),
so ``mv(V)`` returns ``V C`` (``C`` is symmetric). ``solve(B, shift)`` returns ``B (C + shift I)^{-1}`` where
that is cheap (curvatures with an eigenstructure); ``dense()`` the matrix where it is small.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..._validation import DesignError, ModelError
from ..backend import Backend
from ..model import Block, ModelView, batches
from ..progress import Progress, ProgressArg

__all__ = ["Curvature", "EigenCurvature", "KronEigen", "DenseEigen", "DiagEigen", "RowRandom", "check_spectrum", "EPS"]

EPS = float(np.finfo(np.float64).eps)
#: largest number of parameters for which a curvature without structure is formed as a dense matrix
DENSE_LIMIT = 8192


class Curvature:
    """A curvature as a linear operator on parameter vectors.

    Subclasses set ``name`` and implement ``_mv`` (the loss part, without ``l2``) and ``trace``; they may provide
    ``dense`` and, with an eigenstructure, ``solve``.

    Parameters
    ----------
    view : ModelView
        The model, validated.
    batch_size : int, optional
        Rows per pass over the data (default: :meth:`ModelView.default_batch`).
    progress : bool or callable, optional
        Progress report (see :mod:`regdiag.engine.progress`).
    """

    name = "curvature"
    #: True when ``solve`` is cheap (an eigenstructure)
    has_solve = False

    def __init__(self, view: ModelView, *, batch_size: int | None = None, progress: ProgressArg = None) -> None:
        self.view = view
        self.bk: Backend = view.backend
        self.p = view.p
        self.n = view.n
        self.l2 = view.l2
        self.blocks: tuple[Block, ...] = view.blocks
        self.batch_size = batch_size
        self.progress = progress

    # ---- iteration over the data ------------------------------------------------------------------------------------
    def row_batches(self, per_row: int = 1) -> list[slice]:
        """Batches of the rows this process visits: all ``n``, or the model's ``local_rows`` (a ``slice``) when
        several processes share the data and sum their statistics with the model's ``all_reduce``.

        Parameters
        ----------
        per_row : int
            Vectors of length ``n_params`` held per row (for the default batch size).

        Returns
        -------
        list of slice
            Consecutive row slices.
        """
        size = self.batch_size or self.view.default_batch(per_row)
        local = getattr(self.view.model, "local_rows", None)
        if local is None:
            return batches(self.n, size)
        return [slice(local.start + s.start, local.start + s.stop) for s in batches(local.stop - local.start, size)]

    def reduce(self, x: Any) -> Any:
        """``x`` summed over the processes sharing the data (the model's ``all_reduce``); ``x`` in one process.

        Parameters
        ----------
        x : array
            A statistic of this process's rows.

        Returns
        -------
        array
            The sum over the processes.
        """
        f = getattr(self.view.model, "all_reduce", None)
        return x if f is None else f(x)

    def each_batch(self, stage: str, per_row: int = 1) -> Iterator[slice]:
        """Yield row slices, reporting progress under ``stage``.

        Parameters
        ----------
        stage : str
            The name progress is reported under.
        per_row : int
            Vectors of length ``n_params`` held per row.

        Yields
        ------
        slice
            The rows of one batch.
        """
        bl = self.row_batches(per_row)
        pr = Progress(self.progress, f"{self.name}: {stage}", len(bl))
        for rows in bl:
            yield rows
            pr.advance()

    # ---- the operator ----------------------------------------------------------------------------------------------
    def _mv(self, V: Any) -> Any:
        raise NotImplementedError

    def mv(self, V: Any) -> Any:
        """``V C`` for ``V`` of shape ``(k, n_params)`` (or ``(n_params,)``).

        Parameters
        ----------
        V : array of shape (k, n_params) or (n_params,)
            Vectors, one per row.

        Returns
        -------
        array
            Of ``V``'s shape.
        """
        one = V.ndim == 1
        W = V[None, :] if one else V
        out = self._mv(W)
        if self.l2:
            out = out + self.l2 * W
        return out[0] if one else out

    def trace(self) -> float:
        """Trace of ``C`` (with the ``l2`` term)."""
        raise NotImplementedError

    def mean_eigenvalue(self) -> float:
        """``trace(C) / n_params``, the scale of a relative damping.

        Returns
        -------
        float
            The mean eigenvalue.
        """
        return self.trace() / self.p

    def dense(self) -> Any | None:
        """``C`` as a ``(P, P)`` matrix, or ``None`` when ``P`` exceeds the dense limit.

        Returns
        -------
        array of shape (n_params, n_params) or None
            The matrix.
        """
        if self.p > DENSE_LIMIT:
            return None
        return self.mv(self.bk.eye(self.p, like=self.view.like))

    def solve(self, B: Any, shift: float) -> Any:
        """``B (C + shift I)^{-1}``; only curvatures with ``has_solve``.

        Parameters
        ----------
        B : array of shape (k, n_params) or (n_params,)
            Right-hand sides, one per row.
        shift : float
            ``lambda``.

        Returns
        -------
        array
            Of ``B``'s shape.
        """
        raise NotImplementedError(f"the {self.name} curvature has no cheap inverse; use a solver")

    def check_shift(self, shift: float) -> None:
        """Raise a clear error when ``C + shift I`` is singular (only curvatures with ``has_solve``).

        Parameters
        ----------
        shift : float
            ``lambda``.
        """

    # ---- per-example terms (for the leverage correction) ----------------------------------------------------------
    def example_factors(self, rows: slice) -> tuple[Any, Any]:
        """``U (b, r, P), s (b, r)``: observation i's term of the curvature is ``U_i' diag(s_i) U_i / n``.

        Approximate curvatures use the observation's Gauss-Newton term.

        Parameters
        ----------
        rows : slice
            The observations.

        Returns
        -------
        U : array of shape (b, r, n_params)
            The factors.
        s : array of shape (b, r)
            Their weights.
        """
        U = self.view.gn_factors(rows)
        s = self.bk.zeros((U.shape[0], U.shape[1]), like=U) + 1.0
        return U, s


# ---------------------------------------------------------------------------------------------------------------
# Eigen-structured blocks: C restricted to a block is Q diag(e) Q'


def check_spectrum(emin: float, emax: float, shift: float, name: str, p: int) -> None:
    """Raise a :class:`DesignError` when ``C + shift I`` with eigenvalues in ``[emin, emax]`` is singular."""
    lo, hi = emin + shift, emax + shift
    if not np.isfinite(lo) or not np.isfinite(hi):
        raise ModelError(f"the {name} curvature has non-finite eigenvalues")
    tol = 10.0 * p * EPS * abs(hi)
    if hi <= 0 or lo <= tol:
        # a negative eigenvalue at rounding level is a singular positive semi-definite matrix, not an indefinite one
        indefinite = lo < -tol or hi <= 0
        psd = name in ("gauss_newton", "kfac", "ekfac", "diagonal", "identity")
        if indefinite and emin < 0:
            advice = (f"Pass damping above {-emin:.3g} (the curvature's own eigenvalues run from {emin:.3g} to "
                      f"{emax:.3g}; damping {shift:.3g} now)")
        else:
            advice = ("Pass damping > 0 (an absolute value, or Damping.relative(1e-3) for a fraction of the mean "
                      "eigenvalue)")
        raise DesignError(
            f"the {name} curvature plus damping is {'indefinite' if indefinite else 'singular'}: its eigenvalues run "
            f"from {lo:.3g} to {hi:.3g}. " + advice
            + (", or use the Gauss-Newton curvature, which is positive semi-definite" if indefinite and not psd else "")
            + ("" if indefinite else "; a singular curvature often means an aliased parameter (a column that is a "
               "combination of others) or a parameter no observation informs")
        )


def _equilibrated_nonsingular(M: np.ndarray) -> bool:
    """``D M D`` (``D = diag(M)^(-1/2)``) has its smallest eigenvalue above rounding: ``M`` is nonsingular to
    the accuracy of a column-scaled factorization. A vector ``M`` is a diagonal matrix (``D M D = I``)."""
    if M.ndim == 1:
        return bool(np.all(M > 0) and np.all(np.isfinite(M)))
    d = np.diag(M).copy()
    if not np.all(d > 0) or not np.all(np.isfinite(M)):
        return False
    s = 1.0 / np.sqrt(d)
    ev = np.linalg.eigvalsh((M + M.T) * 0.5 * s[:, None] * s[None, :])
    return bool(ev[0] > 10.0 * M.shape[0] * EPS * ev[-1])


class KronEigen:
    """A Kronecker block ``(Q_G (x) Q_A) diag(vec E) (Q_G (x) Q_A)'`` of a ``(d_out, d_in)`` weight, row-major.

    With ``factors=(G, A)`` (K-FAC: ``E = g a'``) products use ``G V A`` directly, which lets ``solve`` refine the
    eigen-solution against the factors themselves (their eigendecomposition is accurate only to ``eps ||A||``).

    ``QA=None`` is a diagonal input side (one-hot inputs, e.g. an embedding's tokens): ``Q_A`` is the identity, never
    formed, and the input factor ``A`` is stored as its diagonal, a vector of length ``d_in``.
    """

    def __init__(self, bk: Backend, block: Block, QG: Any, QA: Any, E: Any, factors: tuple[Any, Any] | None = None):
        self.bk, self.block, self.QG, self.QA, self.E = bk, block, QG, QA, E
        self.factors = factors
        #: the Kronecker factors (G, A), kept for the singularity check after EK-FAC drops ``factors``
        self.scale_factors = factors
        #: EK-FAC's K-FAC eigenvalues ``g a'`` (set by EK-FAC), the scale its singularity check measures ``E`` against
        self.E_kfac: Any = None

    def _rotate(self, V: Any) -> Any:
        """``Q_G' M Q_A`` for each row ``M`` of ``V`` seen as a ``(d_out, d_in)`` matrix."""
        d_out, d_in = self.block.shape  # type: ignore[misc]
        M = V.reshape(V.shape[0], d_out, d_in)
        if self.QA is not None:
            M = M @ self.QA
        return self.bk.swap(self.QG) @ M if d_out > 1 else M * self.QG[0, 0]

    def _back(self, M: Any) -> Any:
        if self.QA is not None:
            M = M @ self.bk.swap(self.QA)
        out = self.QG @ M if M.shape[1] > 1 else M * self.QG[0, 0]
        return out.reshape(out.shape[0], self.block.size)

    def mv(self, V: Any) -> Any:
        if self.factors is not None:
            G, A = self.factors
            d_out, d_in = self.block.shape  # type: ignore[misc]
            M = V.reshape(V.shape[0], d_out, d_in)
            MA = M * A[None, None, :] if A.ndim == 1 else M @ A
            out = G @ MA if d_out > 1 else MA * G[0, 0]
            return out.reshape(V.shape[0], self.block.size)
        return self._back(self._rotate(V) * self.E[None])

    def solve(self, B: Any, shift: float) -> Any:
        return _refined(self, B, shift, lambda R: self._back(self._rotate(R) / (self.E[None] + shift)))

    def eigenvalues(self) -> Any:
        return self.E.reshape(-1)


class DenseEigen:
    """A dense block ``M = Q diag(e) Q'`` (products use ``M``; solves are refined against it)."""

    def __init__(self, bk: Backend, block: Block, M: Any) -> None:
        self.bk, self.block, self.M = bk, block, M
        e, self.Q = bk.eigh((M + bk.swap(M)) * 0.5)
        self.e = bk.where(e > 0, e, 0.0)
        self.factors = True

    def mv(self, V: Any) -> Any:
        return V @ self.M

    def solve(self, B: Any, shift: float) -> Any:
        return _refined(self, B, shift, lambda R: ((R @ self.Q) / (self.e[None] + shift)) @ self.bk.swap(self.Q))

    def eigenvalues(self) -> Any:
        return self.e


def _refined(part: Any, B: Any, shift: float, inverse: Any) -> Any:
    """``inverse(B)`` plus one step of iterative refinement against ``part.mv`` when the part has exact products."""
    X = inverse(B)
    if part.factors is None:
        return X
    R = B - part.mv(X) - shift * X
    return X + inverse(R)


class DiagEigen:
    """A diagonal block ``diag(e)``."""

    def __init__(self, bk: Backend, block: Block, e: Any) -> None:
        self.bk, self.block, self.e = bk, block, e

    def mv(self, V: Any) -> Any:
        return V * self.e[None]

    def solve(self, B: Any, shift: float) -> Any:
        return B / (self.e[None] + shift)

    def eigenvalues(self) -> Any:
        return self.e


class EigenCurvature(Curvature):
    """A block-diagonal curvature whose blocks carry their eigendecomposition: ``solve`` is exact and cheap.

    Parameters
    ----------
    view : ModelView
        The model, validated.
    **kw
        ``batch_size`` and ``progress`` (see :class:`~regdiag.engine.curvature.base.Curvature`).
    """

    has_solve = True

    def __init__(self, view: ModelView, **kw: Any) -> None:
        super().__init__(view, **kw)
        self.parts: list[Any] = []

    def _apply(self, V: Any, op: str, shift: float = 0.0) -> Any:
        outs = []
        for part in self.parts:
            sub = V[:, part.block.slice]
            outs.append(part.mv(sub) if op == "mv" else part.solve(sub, shift))
        return outs[0] if len(outs) == 1 else self.bk.concat(outs, axis=1)

    def _mv(self, V: Any) -> Any:
        return self._apply(V, "mv")

    def solve(self, B: Any, shift: float) -> Any:
        one = B.ndim == 1
        W = B[None, :] if one else B
        out = self._apply(W, "solve", shift + self.l2)
        return out[0] if one else out

    def eigenvalues(self) -> Any:
        """All eigenvalues of the loss part (without ``l2``), block by block.

        Returns
        -------
        array of shape (n_params,)
            The eigenvalues.
        """
        return self.bk.concat([part.eigenvalues() for part in self.parts])

    def trace(self) -> float:
        return float(self.bk.sum(self.eigenvalues())) + self.l2 * self.p

    def extreme_eigenvalues(self) -> tuple[float, float]:
        """Smallest and largest eigenvalue of ``C`` (with ``l2``).

        Returns
        -------
        smallest : float
            The smallest eigenvalue.
        largest : float
            The largest eigenvalue.
        """
        e = self.eigenvalues()
        return self.bk.min(e) + self.l2, self.bk.max(e) + self.l2

    def check_shift(self, shift: float) -> None:
        """Raise when ``C + shift I`` is singular. Eigenvalues far below the largest are not by themselves
        singular: a Kronecker factor of a badly scaled layer input (columns of very different size) has them, and
        its eigenpairs are computed accurately relative to its column-scaled conditioning. So a Kronecker block
        counts as singular only when one of its factors is singular after equilibration, or (EK-FAC) when a
        corrected eigenvalue vanishes against K-FAC's in the same direction.

        Parameters
        ----------
        shift : float
            ``lambda``.
        """
        lo, hi = self.extreme_eigenvalues()
        try:
            check_spectrum(lo, hi, shift, self.name, self.p)
        except DesignError:
            if not all(self._part_nonsingular(part, shift + self.l2) for part in self.parts):
                raise

    def _part_nonsingular(self, part: Any, shift: float) -> bool:
        if not isinstance(part, KronEigen):
            e = self.bk.to_numpy(part.eigenvalues())
            return bool(e.size == 0 or e.min() + shift > 10.0 * part.block.size * EPS * (e.max() + shift))
        G, A = part.scale_factors  # type: ignore[misc]  # every K-FAC / EK-FAC part is made with its factors
        for M in (G, A):
            if not _equilibrated_nonsingular(self.bk.to_numpy(M)):
                return False
        E_kfac = getattr(part, "E_kfac", None)
        if E_kfac is None:  # K-FAC: its eigenvalues are products of the factors' (nonsingular) ones
            return True
        E, ref = self.bk.to_numpy(part.E), self.bk.to_numpy(E_kfac)
        tol = 10.0 * part.block.size * EPS
        return bool(np.all(E + shift > tol * (ref + shift)))


class RowRandom:
    """Random numbers drawn row by row: row ``i``'s from its own generator seeded with ``(seed, i)``.

    ``rows`` are global row indices (a ``slice``), so the draws of an observation depend only on the seed and its
    position in the data: not on the batch size, nor on how the rows are shared among processes. Each method draws
    an array whose first axis runs over ``rows``, like ``numpy.random.Generator``'s methods of the same names.
    """

    def __init__(self, seed: int, rows: slice) -> None:
        self.seed = int(seed)
        self.rows = range(rows.start or 0, rows.stop)
        self._gens = [np.random.default_rng([self.seed, i]) for i in self.rows]

    def _draw(self, method: str, size: Any, **kw: Any) -> np.ndarray:
        shape = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
        if not shape or shape[0] != len(self._gens):
            raise ValueError(f"draws of rows {self.rows.start}..{self.rows.stop - 1} need a first axis of "
                             f"{len(self._gens)}, got shape {shape}")
        out = np.empty(shape)
        for g, o in zip(self._gens, out):
            o[...] = getattr(g, method)(size=shape[1:], **kw)
        return out

    def standard_normal(self, size: Any) -> np.ndarray:
        return self._draw("standard_normal", size)

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None) -> np.ndarray:
        return self._draw("uniform", size, low=low, high=high)


def output_vectors(view: ModelView, rows: slice, mc_samples: int | None, rng: Any) -> Any:
    """``(b, C, k)`` output vectors whose outer products sum to the output Hessians.

    Exact: the columns of a square root (``C = k``). Monte Carlo with ``S`` samples: ``R_i z_s / sqrt(S)`` with
    ``z_s`` standard normal (``E[R z z' R'] = R R'``), or the model's own ``sample_output_vectors(rows, S, rng)``.
    ``rng``: an integer seed, for draws of each row from its own generator (:class:`RowRandom`: the same for any
    batch size or number of processes), or a ``RowRandom``, or a ``numpy.random.Generator`` (draws of the batch).
    """
    bk = view.backend
    if mc_samples is None:
        return bk.swap(view.output_sqrt(rows))
    if isinstance(rng, (int, np.integer)):
        rng = RowRandom(int(rng), rows)
    if view.has("sample_output_vectors"):
        return view.model.sample_output_vectors(rows, mc_samples, rng)
    R = view.output_sqrt(rows)
    Z = bk.randn((R.shape[0], R.shape[2], mc_samples), like=R, rng=rng)
    return bk.swap(R @ Z) * (1.0 / np.sqrt(mc_samples))


def check_mc(mc_samples: int | None) -> int | None:
    if mc_samples is None:
        return None
    if int(mc_samples) != mc_samples or mc_samples < 1:
        raise ValueError(f"mc_samples must be a positive integer or None (exact), got {mc_samples!r}")
    return int(mc_samples)
