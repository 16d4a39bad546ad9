"""What a model must give the influence engine (the :class:`Model` protocol), and adapters for regdiag's fits.

The engine sees a model through per-example quantities at the fitted parameters ``theta`` (``P = n_params``) of
the objective

    L(theta) = (1/n) sum_i l_i(theta) + (l2/2) ||theta||^2,

where ``l_i`` is observation i's loss (with its case weight folded in). Only :meth:`Model.loss_gradients` is
required; each curvature asks for the capabilities it needs and names the missing one otherwise.

================================  ===================================================================  ==============
capability                        returns                                                              needed by
================================  ===================================================================  ==============
``loss_gradients(rows)``          ``(b, P)`` gradients ``grad l_i``                                    every curvature
``hessian()``                     ``(P, P)`` Hessian of ``(1/n) sum_i l_i`` (no ``l2`` term)           "exact"
``hvp(V)``                        ``(k, P)``: ``V`` times that Hessian (instead of ``hessian()``)      "exact"
``hessian_factors(rows)``         ``U (b, r, P), s (b, r)`` with ``hess l_i = U_i' diag(s_i) U_i``     exact + leverage
``output_hessians(rows)``         ``(b, k, k)``: Hessian of ``l_i`` in the model outputs ``f_i``       GN, K-FAC, ...
``output_vjp(rows, V)``           ``(b, C, P)``: ``J_i' v_ic`` for ``V (b, C, k)``, ``J_i = df_i/dθ``  GN, diagonal
``kron_factors(rows, V)``         ``{block: (a, d)}``: layer inputs and back-propagated ``V``          K-FAC, EK-FAC
``example_weights(rows)``         ``(b,)`` case weights (default 1), weighting K-FAC's input factor    K-FAC, EK-FAC
``query_gradients(query, m)``     ``(m, P)`` gradients of a measurement of each query                  ``scores``
``all_reduce(x)``                 ``x`` summed over processes (each has its ``local_rows``, a slice)   distributed
================================  ===================================================================  ==============

With ``local_rows`` and ``all_reduce`` (set by a model whose data are split across processes), each process
accumulates the curvature statistics of its own rows and the sums are reduced before any eigendecomposition.

``rows`` is always a Python ``slice``. Attributes: ``n_obs``, ``n_params``, ``param_names`` (required);
``index`` (row labels), ``params`` (``theta``), ``l2``, ``dispersion`` (scale of the loss: ``sigma^2`` for least
squares; Cook's distance divides by it), ``rank``, ``blocks`` (a partition of the parameters into :class:`Block`),
``n_outputs`` (optional).

Kronecker blocks
    A :class:`Block` with ``shape=(d_out, d_in)`` holds the weight matrix ``W`` of a linear map ``s = W a``, its
    parameters in row-major order (``theta[start + o * d_in + j] = W[o, j]``; a bias is a last input column of ones).
    ``kron_factors`` returns per block the inputs ``a`` of shape ``(b, d_in)`` (or ``(b, T, d_in)`` for ``T``
    positions sharing the weights: convolution patches, sequence steps) and the output vectors ``V`` back-propagated
    to ``s``: ``d`` of shape ``(b, C, d_out)`` (or ``(b, C, T, d_out)``).

The arrays may be of any library with a registered :mod:`~regdiag.engine.backend` (numpy built in).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from .._validation import ModelError, format_labels
from ..protocols import ModelKind, model_kind
from .backend import Backend, get_backend

if TYPE_CHECKING:  # pragma: no cover
    from ..linear.discrete import MLEFit
    from ..linear.glm import GLMFit
    from ..linear.ols import OLSFit
    from ..linear.rlm import RLMFit
    from ..survival.cox import CoxFit

__all__ = [
    "Block", "Model", "ModelView", "SingleIndexModel", "OutputJacobianModel", "OLSModel", "GLMModel", "CoxModel",
    "RLMModel", "mle_model", "as_model", "batches",
]


@dataclass(frozen=True)
class Block:
    """A contiguous group of parameters ``theta[start:stop]``; Kronecker-factored when ``shape`` is given.

    Attributes
    ----------
    name : str
    start, stop : int
    shape : tuple of (int, int) or None
        ``(d_out, d_in)`` of the weight matrix of a linear map (parameters in row-major order).
    """

    name: str
    start: int
    stop: int
    shape: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if not (0 <= self.start < self.stop):
            raise ModelError(f"block {self.name!r}: need 0 <= start < stop, got start={self.start}, stop={self.stop}")
        if self.shape is not None and self.shape[0] * self.shape[1] != self.size:
            raise ModelError(
                f"block {self.name!r}: shape {self.shape} has {self.shape[0] * self.shape[1]} entries but the block "
                f"holds {self.size} parameters"
            )

    @property
    def size(self) -> int:
        """Number of parameters in the block."""
        return self.stop - self.start

    @property
    def kron(self) -> bool:
        """Whether the block is Kronecker-factored (has a ``shape``)."""
        return self.shape is not None

    @property
    def slice(self) -> slice:
        """The block's parameters as a slice of ``theta``."""
        return slice(self.start, self.stop)


@runtime_checkable
class Model(Protocol):
    """The least a model gives the engine. See the module docstring for the optional capabilities."""

    n_obs: int
    n_params: int
    param_names: Sequence[str]

    def loss_gradients(self, rows: slice) -> Any:
        """Gradients ``grad l_i(theta)`` of the observations in ``rows``.

        Parameters
        ----------
        rows : slice
            The observations.

        Returns
        -------
        array of shape (b, n_params)
            One row per observation (an array of any registered backend).
        """
        ...


def batches(n: int, size: int, start: int = 0) -> list[slice]:
    """``slice`` objects covering ``range(start, start + n)`` in steps of ``size`` (at least 1).

    Parameters
    ----------
    n : int
        Number of rows.
    size : int
        Rows per slice (at least 1 is used).
    start : int
        First row.

    Returns
    -------
    list of slice
        Consecutive, the last one possibly shorter.
    """
    size = max(int(size), 1)
    return [slice(start + s, start + min(s + size, n)) for s in range(0, n, size)]


class ModelView:
    """A validated view of a :class:`Model`: defaults for optional attributes, shape and finiteness checks.

    Every array a model returns passes through here, so a protocol violation is reported once, naming the method,
    the expected and actual shapes, and the rows (by label) with non-finite values.

    Parameters
    ----------
    model : object
        An object following :class:`Model`.
    """

    def __init__(self, model: Any) -> None:
        for attr in ("n_obs", "n_params", "param_names", "loss_gradients"):
            if not hasattr(model, attr):
                raise ModelError(
                    f"{type(model).__name__} is not an influence-engine model: it has no {attr!r}. A model needs "
                    "n_obs, n_params, param_names and loss_gradients(rows); see regdiag.engine.model."
                )
        self.model = model
        self.n = _positive_int(model.n_obs, "n_obs")
        self.p = _positive_int(model.n_params, "n_params")
        self.param_names = tuple(str(s) for s in model.param_names)
        if len(self.param_names) != self.p:
            raise ModelError(f"param_names has {len(self.param_names)} names but n_params = {self.p}")
        index = getattr(model, "index", None)
        self.index = pd.RangeIndex(self.n) if index is None else pd.Index(index)
        if len(self.index) != self.n:
            raise ModelError(f"index has {len(self.index)} labels but n_obs = {self.n}")
        self.l2 = _nonneg_float(getattr(model, "l2", 0.0), "l2")
        self.dispersion = _nonneg_float(getattr(model, "dispersion", 1.0), "dispersion")
        self.rank = _positive_int(getattr(model, "rank", self.p), "rank")
        self.blocks = self._check_blocks(getattr(model, "blocks", None))
        self.n_outputs = getattr(model, "n_outputs", None)
        probe = model.loss_gradients(slice(0, min(self.n, 1)))
        self.backend: Backend = get_backend(probe)
        self.like = probe

    # ---- attributes ---------------------------------------------------------------------------------------------
    def _check_blocks(self, blocks: Any) -> tuple[Block, ...]:
        if blocks is None:
            return (Block("params", 0, self.p),)
        blocks = tuple(blocks)
        pos = 0
        for b in blocks:
            if not isinstance(b, Block):
                raise ModelError(f"blocks must be regdiag.engine.Block objects, got {type(b).__name__}")
            if b.start != pos:
                raise ModelError(
                    f"blocks must partition the parameters in order: block {b.name!r} starts at {b.start}, "
                    f"expected {pos}"
                )
            pos = b.stop
        if pos != self.p:
            raise ModelError(f"blocks cover {pos} parameters but n_params = {self.p}")
        return blocks

    def has(self, capability: str) -> bool:
        """Whether the model provides the method ``capability``.

        Parameters
        ----------
        capability : str
            A method name of the protocol, such as ``"hessian"``.

        Returns
        -------
        bool
            True when the model has it.
        """
        return callable(getattr(self.model, capability, None))

    def require(self, capability: str, what: str) -> None:
        """Raise a :class:`ModelError` naming ``what`` when the model lacks ``capability``.

        Parameters
        ----------
        capability : str
            A method name of the protocol.
        what : str
            What needs it (for the message), such as ``"the Gauss-Newton curvature"``.
        """
        if not self.has(capability):
            raise ModelError(
                f"{what} needs the model's {capability}(), which {type(self.model).__name__} does not provide; "
                "choose another curvature or add the method (see regdiag.engine.model)"
            )

    def labels(self, rows: slice, bad: np.ndarray) -> str:
        """Labels of the flagged rows among ``rows``, for a message (the first five).

        Parameters
        ----------
        rows : slice
            The observations.
        bad : ndarray of bool of shape (b,)
            Which of them to name.

        Returns
        -------
        str
            The labels.
        """
        return format_labels(self.index[rows][np.asarray(bad, dtype=bool)], 5)

    # ---- checked calls ------------------------------------------------------------------------------------------
    def _check(self, arr: Any, shape: tuple[int | None, ...], method: str, rows: slice | None) -> Any:
        got = tuple(getattr(arr, "shape", ()))
        if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            raise ModelError(f"{type(self.model).__name__}.{method} returned shape {got}; expected {want}")
        fin = self.backend.all_finite(arr, axis=0 if rows is not None else None)
        if rows is not None:
            if not np.all(fin):
                raise ModelError(
                    f"{type(self.model).__name__}.{method} returned NaN or infinite values for rows "
                    f"{self.labels(rows, ~np.asarray(fin))}"
                )
        elif not fin:
            raise ModelError(f"{type(self.model).__name__}.{method} returned NaN or infinite values")
        return arr

    def loss_gradients(self, rows: slice) -> Any:
        """The model's gradients ``grad l_i(theta)`` of the observations in ``rows``.

        Parameters
        ----------
        rows : slice
            The observations.

        Returns
        -------
        ndarray of shape (b, n_params)
            One row per observation.
        """
        b = _len(rows, self.n)
        return self._check(self.model.loss_gradients(rows), (b, self.p), "loss_gradients", rows)

    def hessian(self) -> Any:
        """The model's Hessian of the mean loss ``(1/n) sum_i l_i`` (without the ``l2`` term).

        Returns
        -------
        ndarray of shape (n_params, n_params)
            Symmetric.
        """
        H = self._check(self.model.hessian(), (self.p, self.p), "hessian", None)
        self._check_symmetric(H, "hessian")
        return H

    def _check_symmetric(self, H: Any, method: str) -> None:
        """A curvature matrix must be symmetric; an asymmetric one is a bug in the model, not something to average."""
        bk = self.backend
        asym = bk.max(bk.abs(H - bk.swap(H)))
        top = bk.max(bk.abs(H)) if H.shape[-1] else 0.0
        # rounding of a computed symmetric matrix grows with its dtype's epsilon and its size; an asymmetry of a bug
        # is of the size of the entries
        tol = max(1e-8, 64.0 * bk.eps(H) * max(H.shape[-1], 1))
        if asym > tol * max(top, 1e-300):
            raise ModelError(
                f"{type(self.model).__name__}.{method} returned a matrix that is not symmetric (largest |H - H'| "
                f"{asym:.3g}, relative to its largest entry {asym / max(top, 1e-300):.3g})"
            )

    def hvp(self, V: Any) -> Any:
        """The model's products of rows of ``V`` with the Hessian of the mean loss.

        Parameters
        ----------
        V : ndarray of shape (k, n_params)
            The vectors, one per row.

        Returns
        -------
        ndarray of shape (k, n_params)
            ``V H``.
        """
        return self._check(self.model.hvp(V), tuple(V.shape), "hvp", None)

    def hessian_factors(self, rows: slice) -> tuple[Any, Any]:
        """The model's factors ``U_i, s_i`` of each observation's loss Hessian, ``hess l_i = U_i' diag(s_i) U_i``.

        Parameters
        ----------
        rows : slice
            The observations.

        Returns
        -------
        U : ndarray of shape (b, r, n_params)
            The factors.
        s : ndarray of shape (b, r)
            Their weights.
        """
        b = _len(rows, self.n)
        U, s = self.model.hessian_factors(rows)
        self._check(U, (b, None, self.p), "hessian_factors (U)", rows)
        self._check(s, (b, U.shape[1]), "hessian_factors (s)", rows)
        return U, s

    def output_hessians(self, rows: slice) -> Any:
        """The model's Hessian of each observation's loss in the model outputs.

        Parameters
        ----------
        rows : slice
            The observations.

        Returns
        -------
        ndarray of shape (b, k, k)
            Symmetric, one per observation.
        """
        b = _len(rows, self.n)
        H = self._check(self.model.output_hessians(rows), (b, None, None), "output_hessians", rows)
        if H.shape[1] != H.shape[2]:
            raise ModelError(f"output_hessians must return (b, k, k) matrices; got shape {tuple(H.shape)}")
        if self.n_outputs is not None and H.shape[1] != int(self.n_outputs):
            raise ModelError(
                f"{type(self.model).__name__}.output_hessians returned {H.shape[1]} x {H.shape[2]} matrices, but the "
                f"model has n_outputs = {self.n_outputs}"
            )
        self._check_symmetric(H, "output_hessians")
        return H

    def output_vjp(self, rows: slice, V: Any) -> Any:
        """The model's vector-Jacobian products ``J_i' v_ic`` with the Jacobians ``J_i`` of the outputs in ``theta``.

        Parameters
        ----------
        rows : slice
            The observations.
        V : ndarray of shape (b, C, k)
            ``C`` output vectors per observation.

        Returns
        -------
        ndarray of shape (b, C, n_params)
            The products.
        """
        b, c = V.shape[0], V.shape[1]
        return self._check(self.model.output_vjp(rows, V), (b, c, self.p), "output_vjp", rows)

    def kron_factors(self, rows: slice, V: Any) -> Mapping[str, tuple[Any, Any]]:
        """The model's layer inputs and back-propagated output vectors ``V`` per Kronecker block, checked.

        Parameters
        ----------
        rows : slice
            The observations.
        V : ndarray of shape (b, C, k)
            ``C`` output vectors per observation.

        Returns
        -------
        dict of str to (ndarray, ndarray)
            ``{block name: (a, d)}``, ``a`` of shape ``(b, d_in)`` and ``d`` of shape ``(b, C, d_out)``.
        """
        b, c = V.shape[0], V.shape[1]
        out = self.model.kron_factors(rows, V)
        for blk in self.blocks:
            if not blk.kron:
                continue
            if blk.name not in out:
                raise ModelError(f"kron_factors returned no factors for Kronecker block {blk.name!r}")
            a, d = out[blk.name]
            d_out, d_in = blk.shape  # type: ignore[misc]
            if a.ndim == 2:
                self._check(a, (b, d_in), f"kron_factors[{blk.name!r}] (inputs)", rows)
                self._check(d, (b, c, d_out), f"kron_factors[{blk.name!r}] (output gradients)", rows)
            else:
                self._check(a, (b, None, d_in), f"kron_factors[{blk.name!r}] (inputs)", rows)
                self._check(d, (b, c, a.shape[1], d_out), f"kron_factors[{blk.name!r}] (output gradients)", rows)
        return out

    def example_weights(self, rows: slice) -> Any | None:
        """The model's case weights of the observations, checked, or None when it has none (weight 1).

        Parameters
        ----------
        rows : slice
            The observations.

        Returns
        -------
        ndarray of shape (b,) or None
            Non-negative weights.
        """
        if not self.has("example_weights"):
            return None
        w = self._check(self.model.example_weights(rows), (_len(rows, self.n),), "example_weights", rows)
        if self.backend.min(w) < 0:
            raise ModelError("example_weights must be non-negative")
        return w

    def query_gradients(self, query: Any, measurement: str) -> Any:
        """The model's gradients of a measurement of each query, checked.

        Parameters
        ----------
        query : object
            The queries, in the form the model takes.
        measurement : str
            What is measured (``"loss"``, ``"prediction"``, ...).

        Returns
        -------
        ndarray of shape (m, n_params)
            One row per query.
        """
        self.require("query_gradients", "scores(query)")
        G = self.model.query_gradients(query, measurement)
        return self._check(G, (None, self.p), "query_gradients", None)

    def output_sqrt(self, rows: slice) -> Any:
        """Square roots ``R_i`` of the output Hessians (``R_i R_i' = Lambda_i``).

        The symmetric square roots ``(b, k, k)``, or the model's own ``output_sqrt(rows)``: ``(b, k, C)`` factors
        with ``R_i R_i' = Lambda_i`` (a loss with a known structure, such as a softmax over many outputs, gives them in
        closed form).

        Parameters
        ----------
        rows : slice
            The observations.

        Returns
        -------
        ndarray of shape (b, k, C)
            The factors (``C = k`` for the symmetric roots).
        """
        if self.has("output_sqrt"):
            b = _len(rows, self.n)
            R = self._check(self.model.output_sqrt(rows), (b, None, None), "output_sqrt", rows)
            if self.n_outputs is not None and R.shape[1] != int(self.n_outputs):
                raise ModelError(f"{type(self.model).__name__}.output_sqrt returned {R.shape[1]} rows per example, "
                                 f"but the model has n_outputs = {self.n_outputs}")
            return R
        self.require("output_hessians", "the Gauss-Newton curvature")
        H = self.output_hessians(rows)
        bk = self.backend
        if H.shape[1] == 1:
            h = H[:, 0, 0]
            if bk.min(h) < 0:
                bad = bk.to_numpy(h) < 0
                raise ModelError(
                    "output_hessians has negative values at rows "
                    f"{self.labels(rows, bad)}: the Gauss-Newton matrix needs a loss convex in the outputs"
                )
            return bk.sqrt(H)
        lam, Q = bk.eigh(H)
        top = bk.max(bk.abs(lam)) if lam.shape[0] else 0.0
        eps = bk.eps(H)
        if bk.min(lam) < -max(1e-10, 1e3 * eps) * max(top, 1e-300):
            raise ModelError("output_hessians are not positive semi-definite: the Gauss-Newton matrix needs a loss "
                             "convex in the outputs")
        # eigenvalues at rounding level are zero (their square roots would be noise of size sqrt(eps))
        lam = bk.where(lam > 64.0 * eps * lam[:, -1:], lam, 0.0)
        # the symmetric square root: unique, so Monte Carlo draws R z do not depend on eigenvector signs
        return (Q * bk.sqrt(lam)[:, None, :]) @ bk.swap(Q)

    def gn_factors(self, rows: slice) -> Any:
        """Rows ``u_ic`` with ``sum_c u_ic u_ic' = J_i' Lambda_i J_i`` (observation i's Gauss-Newton term).

        Parameters
        ----------
        rows : slice
            The observations.

        Returns
        -------
        ndarray of shape (b, C, n_params)
            The rows.
        """
        self.require("output_vjp", "the Gauss-Newton curvature")
        return self.output_vjp(rows, self.backend.swap(self.output_sqrt(rows)))

    def default_batch(self, per_row: int = 1) -> int:
        """Rows per batch keeping ``batch x per_row x n_params`` near 2**22 numbers.

        Parameters
        ----------
        per_row : int
            Vectors of length ``n_params`` held per row.

        Returns
        -------
        int
            At least 1, at most ``n_obs``.
        """
        return int(max(1, min(self.n, (1 << 22) // max(1, per_row * self.p))))


def _len(rows: slice, n: int) -> int:
    return len(range(*rows.indices(n)))


def _positive_int(v: Any, what: str) -> int:
    try:
        iv = int(v)
    except (TypeError, ValueError):
        raise ModelError(f"{what} must be a positive integer, got {v!r}") from None
    if iv != v or iv <= 0:
        raise ModelError(f"{what} must be a positive integer, got {v!r}")
    return iv


def _nonneg_float(v: Any, what: str) -> float:
    fv = float(v)
    if not np.isfinite(fv) or fv < 0:
        raise ModelError(f"{what} must be a finite non-negative number, got {v!r}")
    return fv


# ---------------------------------------------------------------------------------------------------------------
# Closed-form adapters: models whose parameters enter through one linear predictor eta_i = x_i' theta


class SingleIndexModel:
    """A model whose observation losses depend on ``theta`` through ``eta_i = x_i' theta`` only.

    Every capability of the protocol follows in closed form from ``X`` and three per-observation numbers:
    ``dl_i/d eta``, ``d^2 l_i/d eta^2`` (observed) and the expected (Fisher) second derivative ``f_i``.
    The model output is ``eta``; its output Hessian is ``f_i``, so the Gauss-Newton matrix is the Fisher
    information ``(1/n) X' diag(f) X`` (for a GLM the same as the Gauss-Newton matrix of the natural parameter with
    the negative log-likelihood). Kronecker block: one linear layer ``(1, n_params)`` with inputs ``x_i`` and case
    weights ``w_i`` (so that K-FAC's factors are the weighted means of the data with weights as replication counts).

    Parameters
    ----------
    X : ndarray of shape (n_obs, n_params)
    params : ndarray of shape (n_params,)
    d1, d2, fisher : ndarray of shape (n_obs,)
        ``dl_i/d eta``, ``d^2 l_i/d eta^2`` and its expectation at the fit.
    case_weights : ndarray of shape (n_obs,)
    param_names : sequence of str
        Names of the parameters.
    index : pandas.Index
        Row labels.
    dispersion : float
        Scale of the loss (``sigma^2`` for least squares, the GLM dispersion).
    rank : int
        Numerical rank of the design.
    design : Design, optional
        The fit's design, to take queries of raw variables through its formula.
    columns : ndarray of int, optional
        The design columns the parameters are (aliased columns left out).
    query_loss : callable
        ``query_loss(eta, y)``: ``dl/d eta`` of a query's loss (unit case weight).
    aliased : tuple of str
        Names of the aliased columns left out.
    observed_is_expected : bool
        ``d2 == fisher`` in theory (least squares; a GLM with its canonical link): exact Hessian = Gauss-Newton.
    unit_curvature_constant : bool
        ``fisher / case_weights`` is the same for every observation in theory (least squares): K-FAC is exact.
    """

    n_outputs = 1

    def __init__(
        self,
        X: np.ndarray,
        params: np.ndarray,
        d1: np.ndarray,
        d2: np.ndarray,
        fisher: np.ndarray,
        case_weights: np.ndarray,
        *,
        param_names: Sequence[str],
        index: pd.Index,
        dispersion: float,
        rank: int,
        design: Any = None,
        columns: np.ndarray | None = None,
        query_loss: Any = None,
        aliased: tuple[str, ...] = (),
        observed_is_expected: bool = False,
        unit_curvature_constant: bool = False,
    ) -> None:
        self.X = np.ascontiguousarray(X, dtype=float)
        self.params = np.asarray(params, dtype=float)
        self.d1, self.d2, self.fisher = (np.asarray(v, dtype=float) for v in (d1, d2, fisher))
        self.case_weights = np.asarray(case_weights, dtype=float)
        self.n_obs, self.n_params = self.X.shape
        self.param_names = tuple(param_names)
        self.index = index
        self.dispersion = float(dispersion)
        self.rank = int(rank)
        self.blocks = (Block("linear_predictor", 0, self.n_params, shape=(1, self.n_params)),)
        self.aliased = aliased
        self._design = design
        self._columns = columns
        self._query_loss = query_loss
        self.observed_is_expected = observed_is_expected
        self.unit_curvature_constant = unit_curvature_constant

    # ---- gradients and curvature -----------------------------------------------------------------------------------
    def loss_gradients(self, rows: slice) -> np.ndarray:
        """Gradients ``grad l_i(theta)`` of the observations in ``rows``.

        Parameters
        ----------
        rows : slice
            The observations.

        Returns
        -------
        ndarray of shape (b, n_params)
            One row per observation.
        """
        return self.d1[rows, None] * self.X[rows]

    def hessian(self) -> np.ndarray:
        """Hessian of the mean loss ``(1/n) sum_i l_i`` (without the ``l2`` term).

        Returns
        -------
        ndarray of shape (n_params, n_params)
            Symmetric.
        """
        return (self.X.T * self.d2) @ self.X / self.n_obs

    def hessian_factors(self, rows: slice) -> tuple[np.ndarray, np.ndarray]:
        """Factors ``U_i, s_i`` of each observation's loss Hessian, ``hess l_i = U_i' diag(s_i) U_i``.

        Parameters
        ----------
        rows : slice
            The observations.

        Returns
        -------
        U : ndarray of shape (b, r, n_params)
            The factors.
        s : ndarray of shape (b, r)
            Their weights.
        """
        return self.X[rows, None, :], self.d2[rows, None]

    def output_hessians(self, rows: slice) -> np.ndarray:
        """Hessian of each observation's loss in the model outputs.

        Parameters
        ----------
        rows : slice
            The observations.

        Returns
        -------
        ndarray of shape (b, k, k)
            Symmetric, one per observation.
        """
        return self.fisher[rows, None, None]

    def output_vjp(self, rows: slice, V: np.ndarray) -> np.ndarray:
        """Vector-Jacobian products ``J_i' v_ic`` with the Jacobians ``J_i`` of the outputs in ``theta``.

        Parameters
        ----------
        rows : slice
            The observations.
        V : ndarray of shape (b, C, k)
            ``C`` output vectors per observation.

        Returns
        -------
        ndarray of shape (b, C, n_params)
            The products.
        """
        return V[:, :, 0:1] * self.X[rows, None, :]

    def kron_factors(self, rows: slice, V: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per Kronecker block, the layer inputs and the output vectors ``V`` back-propagated to its outputs.

        Parameters
        ----------
        rows : slice
            The observations.
        V : ndarray of shape (b, C, k)
            ``C`` output vectors per observation.

        Returns
        -------
        dict of str to (ndarray, ndarray)
            ``{block name: (a, d)}``, ``a`` of shape ``(b, d_in)`` and ``d`` of shape ``(b, C, d_out)``.
        """
        return {"linear_predictor": (self.X[rows], V)}

    def example_weights(self, rows: slice) -> np.ndarray:
        """Case weights of the observations (weighting K-FAC's input factor).

        Parameters
        ----------
        rows : slice
            The observations.

        Returns
        -------
        ndarray of shape (b,)
            Non-negative.
        """
        return self.case_weights[rows]

    # ---- queries ---------------------------------------------------------------------------------------------------
    def query_design(self, Xq: Any) -> np.ndarray:
        """Design rows of new data: a DataFrame of raw variables goes through the fit's formula.

        Parameters
        ----------
        Xq : pandas.DataFrame or array_like of shape (m, n_params)
            Raw variables (with a formula fit), design columns by name, or design rows.

        Returns
        -------
        ndarray of shape (m, n_params)
            The design rows.
        """
        if (isinstance(Xq, pd.DataFrame) and self._design is not None and self._design.model_spec is not None
                and not set(self.param_names) <= set(map(str, Xq.columns))):
            Xq = self._design.design_for(Xq)
        if isinstance(Xq, pd.DataFrame) and set(self.param_names) <= set(map(str, Xq.columns)):
            return Xq[list(self.param_names)].to_numpy(dtype=float)
        arr = np.asarray(Xq, dtype=float)
        if arr.ndim == 1:
            arr = arr[None, :]
        if self._columns is not None and self.aliased and arr.shape[1] == len(self._columns) + len(self.aliased):
            arr = arr[:, self._columns]  # full design rows: leave out the aliased columns
        if arr.ndim != 2 or arr.shape[1] != self.n_params:
            raise ModelError(
                f"query design has shape {arr.shape}; expected (n_query, {self.n_params}) with columns "
                f"{list(self.param_names)}"
            )
        return arr

    def query_gradients(self, query: Any, measurement: str = "loss") -> np.ndarray:
        """Gradients of each query's measurement.

        ``"loss"`` needs ``(X_query, y_query[, offset])``; for ``"prediction"`` (the linear predictor) ``query`` may be
        the design alone.

        Parameters
        ----------
        query : tuple or array_like
            ``(X_query, y_query[, offset])``, or the query design for ``"prediction"``.
        measurement : {"loss", "prediction"}
            What is measured.

        Returns
        -------
        ndarray of shape (m, n_params)
            One row per query.
        """
        if measurement == "prediction":
            Xq = query[0] if isinstance(query, tuple) else query
            return self.query_design(Xq)
        if measurement != "loss":
            raise ValueError(f"measurement={measurement!r} is not one of 'loss', 'prediction'")
        if not isinstance(query, tuple) or len(query) not in (2, 3):
            raise ModelError("a loss query is a tuple (X_query, y_query) or (X_query, y_query, offset)")
        Xq = self.query_design(query[0])
        yq = np.asarray(query[1], dtype=float)
        off = np.zeros(len(Xq)) if len(query) == 2 else np.asarray(query[2], dtype=float).reshape(-1)
        if yq.shape[0] != Xq.shape[0] or off.shape[0] != Xq.shape[0]:
            raise ModelError(
                f"query has {Xq.shape[0]} design rows but {yq.shape[0]} responses and {off.shape[0]} offsets"
            )
        eta = Xq @ self.params + off
        return self._query_loss(eta, yq)[:, None] * Xq


class OLSModel(SingleIndexModel):
    """A fitted OLS/WLS model (:class:`regdiag.OLSFit`) as an engine model.

    ``l_i = w_i (y_i - x_i' b)^2 / 2`` (without the ``1/sigma^2``, which is the ``dispersion``), so
    ``grad l_i = -w_i e_i x_i``, the Hessian of the mean loss is ``X' W X / n`` and every curvature but the
    diagonal and the identity equals it (K-FAC's factors are weighted means, which makes it exact for WLS).
    Aliased columns are left out (their coefficients are not estimable). Rows with zero weight have zero gradient:
    removing them changes nothing.

    Parameters
    ----------
    fit : OLSFit
        The fit.
    """

    def __init__(self, fit: OLSFit) -> None:
        d = fit.design
        f = fit.factor
        cols = np.sort(np.asarray(f.cols))
        w = np.ones(d.n_obs) if d.weights is None else np.asarray(d.weights, dtype=float)
        resid = np.asarray(fit.resid, dtype=float)
        super().__init__(
            np.asarray(d.X, dtype=float)[:, cols],
            np.asarray(fit.coef, dtype=float)[cols],
            d1=-w * resid,
            d2=w,
            fisher=w,
            case_weights=w,
            param_names=[d.param_names[j] for j in cols],
            index=d.index,
            dispersion=fit.sigma**2,
            rank=fit.rank,
            design=d,
            columns=cols,
            query_loss=lambda eta, y: -(y - eta),
            aliased=tuple(fit.aliased),
            observed_is_expected=True,
            unit_curvature_constant=True,
        )
        self.fit = fit


class GLMModel(SingleIndexModel):
    """A fitted GLM (:class:`regdiag.GLMFit`, any family and link) as an engine model.

    ``l_i = w_i d(y_i, mu_i) / 2`` (prior weight times half the unit deviance: the negative log-likelihood up to
    terms free of ``theta``, without the dispersion ``phi``). With ``mu' = dmu/deta`` and the variance function ``V``:

    - gradient ``-w_i (y_i - mu_i) mu'_i / V_i x_i``;
    - exact Hessian: the observed information ``w mu'^2 / V - w (y - mu)(mu'' V - mu'^2 V') / V^2`` per observation;
    - Gauss-Newton (and K-FAC, EK-FAC, the diagonal): the expected (Fisher) information ``w mu'^2 / V``, the IRLS
      working weight -- the Gauss-Newton matrix of the natural parameter, in which the loss is convex.

    For a canonical link the two coincide (``mu' = V``). For a non-canonical link the closed-form one-step measures
    (R's, statsmodels' default) use the expected information, so ``curvature="gauss_newton"`` with the leverage
    correction reproduces them, while ``curvature="exact"`` gives the Newton step with the observed information
    (statsmodels' ``observed=True``).

    Parameters
    ----------
    fit : GLMFit
        The fit.
    """

    def __init__(self, fit: GLMFit) -> None:
        d = fit.design
        fam = fit.family
        cols = np.sort(np.asarray(fit.factor.cols))
        link = fam.link
        w = np.asarray(fit.prior_weights, dtype=float)
        y = np.asarray(fit.y, dtype=float)
        mu = np.asarray(fit.mu, dtype=float)
        me = link.mu_eta(np.asarray(fit.eta, dtype=float))
        V = fam.variance(mu)
        fisher = w * me**2 / V
        # mu'' = -g''(mu) / g'(mu)^3
        me2 = -link.deriv2(mu) * me**3
        observed = fisher - w * (y - mu) * (me2 * V - me**2 * fam.variance_deriv(mu)) / V**2

        def query_loss(eta: np.ndarray, yq: np.ndarray) -> np.ndarray:
            m = link.inverse(eta)
            return -(yq - m) * link.mu_eta(eta) / fam.variance(m)

        super().__init__(
            np.asarray(d.X, dtype=float)[:, cols],
            np.asarray(fit.coef, dtype=float)[cols],
            d1=-w * (y - mu) * me / V,
            d2=fisher if fam.canonical else observed,
            fisher=fisher,
            case_weights=w,
            param_names=[d.param_names[j] for j in cols],
            index=d.index,
            dispersion=fit.dispersion,
            rank=fit.rank,
            design=d,
            columns=cols,
            query_loss=query_loss,
            aliased=tuple(fit.aliased),
            observed_is_expected=bool(fam.canonical),
            unit_curvature_constant=(fam.name, link.name) in (("gaussian", "identity"), ("poisson", "sqrt")),
        )
        self.fit = fit


class RLMModel(SingleIndexModel):
    """A robust fit (:class:`regdiag.linear.rlm.RLMFit`) as an engine model: ``l_i = s^2 rho(r_i / s)`` with the
    scale ``s`` held fixed, so ``grad l_i = -s psi(u_i) x_i`` and the curvature ``psi'(u_i) x_i x_i'`` (``u_i =
    r_i / s``). Cook's distance is measured in the robust covariance ``tau^2 (X'X)^{-1}``, which the engine's
    curvature is not (``cooks_comparable`` is False).

    Parameters
    ----------
    fit : RLMFit
        The robust fit, from :func:`regdiag.rlm`.
    """

    def __init__(self, fit: RLMFit) -> None:
        X = np.asarray(fit.X_fitted, dtype=float)  # the rows as fitted (scaled by sqrt(w) for inverse-variance weights)
        u = fit.u
        psi = fit.psi
        s = fit.scale
        d2 = psi.deriv(u)

        def query_loss(eta: np.ndarray, yq: np.ndarray) -> np.ndarray:
            return -s * psi.psi((yq - eta) / s)

        super().__init__(
            X, fit.coef, d1=-s * psi.psi(u), d2=d2, fisher=d2, case_weights=np.ones(len(u)),
            param_names=fit.param_names, index=fit.index, dispersion=fit.stddev**2, rank=fit.rank,
            design=fit.design, columns=np.arange(X.shape[1]), query_loss=query_loss,
            observed_is_expected=True, unit_curvature_constant=False,
        )
        self.fit = fit
        self.closed_form_observed = True
        self.cooks_comparable = False


def mle_model(fit: MLEFit) -> OutputJacobianModel:
    """A maximum-likelihood fit of :mod:`regdiag.linear.discrete` (:class:`~regdiag.linear.discrete.MLEFit`) as an
    engine model: ``l_i`` the negative log-likelihood of observation i, through the Jacobian of its outputs and the
    gradient and Hessian of ``l_i`` in them.

    Parameters
    ----------
    fit : MLEFit
        The fit, from :func:`regdiag.linear.discrete.discrete_from_statsmodels`.

    Returns
    -------
    OutputJacobianModel
        The engine model, with the fit's coefficient names and row labels.
    """
    return OutputJacobianModel(fit.jacobian(), fit.grad_outputs(), fit.hess_outputs(), fit.params,
                               param_names=fit.param_names, index=fit.index)


class CoxModel:
    """A fitted Cox proportional hazards model (:class:`regdiag.CoxFit`) as an engine model.

    The partial likelihood is not a sum of independent per-observation terms: every observation enters the
    denominators of all events of its stratum up to its time. The per-observation quantities the engine sees are
    defined through the objective ``L(theta) = -l(theta) / n`` (``l`` the log partial likelihood):

    - gradient: ``grad l_i = -U_i``, the negative *score residual* of observation ``i`` (R's
      ``residuals(fit, "score")``): its event term minus its share of every risk-set mean it enters,
      ``U_i = delta_i (x_i - xbar(t_i)) - w_i sum_{t_e <= t_i} (x_i - xbar(t_e)) dLambda(t_e)``. The ``U_i`` sum to
      the score, 0 at the fit, and ``U_i`` is the first-order change of the score when ``i`` is deleted (with its
      weight ``w_i`` taken out of the risk sets);
    - curvature: ``hessian() = I / n``, the observed information of the partial likelihood over ``n``. It has no
      per-observation decomposition the deletion respects (deleting ``i`` changes every risk set it was in), so the
      model has no ``hessian_factors``: ``correction="leverage"`` and the Gauss-Newton family of curvatures are not
      available; ``curvature="exact"`` and ``"identity"`` are.

    With case weights ``w_i`` the gradient is ``-w_i U_i`` (R's residuals are per unit weight). With these, the
    engine's ``delta_i = H^{-1} grad l_i / n = -I^{-1} U_i`` is exactly R's one-step ``dfbeta``
    (``U_i I^{-1}``, with the sign of the removal convention), and its Cook's distance
    ``n delta' H delta / p = dfbeta_i' I dfbeta_i / p`` is the one-step likelihood displacement over ``p``.
    :func:`regdiag.cross_check` shows both to about 1e-13; the exact deletion
    (:func:`regdiag.survival.cox_exact.exact_loo`) differs from them by the one-step approximation's error.

    Parameters
    ----------
    fit : CoxFit
        The fit.
    """

    def __init__(self, fit: CoxFit) -> None:
        self.fit = fit
        self.n_obs = int(fit.n_obs)
        self.n_params = len(fit.coef)
        self.param_names = tuple(fit.param_names)
        self.index = fit.index
        self.params = np.asarray(fit.coef, dtype=float)
        self.dispersion = 1.0
        self.rank = self.n_params
        U = np.asarray(fit.resid_score, dtype=float)
        if fit.design.weights is not None:  # case weights: observation i's share of the score is w_i U_i
            U = U * fit.design.weights[:, None]
        self._grad = -np.ascontiguousarray(U)
        self._info = np.asarray(fit.information, dtype=float)

    def loss_gradients(self, rows: slice) -> np.ndarray:
        """Gradients ``grad l_i(theta)`` of the observations in ``rows``.

        Parameters
        ----------
        rows : slice
            The observations.

        Returns
        -------
        ndarray of shape (b, n_params)
            One row per observation.
        """
        return self._grad[rows]

    def hessian(self) -> np.ndarray:
        """Hessian of the mean loss ``(1/n) sum_i l_i`` (without the ``l2`` term).

        Returns
        -------
        ndarray of shape (n_params, n_params)
            Symmetric.
        """
        return self._info / self.n_obs

    def hvp(self, V: np.ndarray) -> np.ndarray:
        """Products of rows of ``V`` with the Hessian of the mean loss.

        Parameters
        ----------
        V : ndarray of shape (k, n_params)
            The vectors, one per row.

        Returns
        -------
        ndarray of shape (k, n_params)
            ``V H``.
        """
        return V @ self._info / self.n_obs


class OutputJacobianModel:
    """A model whose observation losses depend on ``theta`` through ``k`` outputs linear in it, ``o_i = J_i theta``
    (several linear predictors, or a linear predictor and an ancillary parameter): statsmodels' discrete models.

    Every capability follows from the per-observation Jacobians ``J_i`` (``k x P``), output gradients ``g_i``
    (``k``) and output Hessians ``A_i`` (``k x k``, observed): ``grad l_i = J_i' g_i``, ``hess l_i = J_i' A_i J_i``
    (factored through the eigendecomposition of ``A_i``), the Gauss-Newton matrix ``sum J_i' A_i J_i / n`` (which
    needs every ``A_i`` positive semi-definite: true for the canonical models, logit, Poisson and MNLogit).

    Parameters
    ----------
    J : ndarray of shape (n_obs, k, n_params)
    g : ndarray of shape (n_obs, k)
    A : ndarray of shape (n_obs, k, k)
    params : ndarray of shape (n_params,)
    param_names : sequence of str
    index : pandas.Index
    """

    observed_is_expected = True
    unit_curvature_constant = False
    closed_form_observed = True

    def __init__(self, J: np.ndarray, g: np.ndarray, A: np.ndarray, params: np.ndarray, *,
                 param_names: Sequence[str], index: pd.Index) -> None:
        self.J = np.asarray(J, dtype=float)
        self.g = np.asarray(g, dtype=float)
        self.A = np.asarray(A, dtype=float)
        self.n_obs, self.n_outputs, self.n_params = self.J.shape
        self.params = np.asarray(params, dtype=float)
        self.param_names = tuple(param_names)
        self.index = index
        self.dispersion = 1.0
        self.rank = self.n_params
        lam, V = np.linalg.eigh(self.A)
        self._lam = lam
        self._U = np.einsum("nkr,nkp->nrp", V, self.J)  # V_i' J_i

    def loss_gradients(self, rows: slice) -> np.ndarray:
        """Gradients ``grad l_i(theta)`` of the observations in ``rows``.

        Parameters
        ----------
        rows : slice
            The observations.

        Returns
        -------
        ndarray of shape (b, n_params)
            One row per observation.
        """
        return np.einsum("nkp,nk->np", self.J[rows], self.g[rows])

    def hessian(self) -> np.ndarray:
        """Hessian of the mean loss ``(1/n) sum_i l_i`` (without the ``l2`` term).

        Returns
        -------
        ndarray of shape (n_params, n_params)
            Symmetric.
        """
        return np.einsum("nkp,nkl,nlq->pq", self.J, self.A, self.J) / self.n_obs

    def hessian_factors(self, rows: slice) -> tuple[np.ndarray, np.ndarray]:
        """Factors ``U_i, s_i`` of each observation's loss Hessian, ``hess l_i = U_i' diag(s_i) U_i``.

        Parameters
        ----------
        rows : slice
            The observations.

        Returns
        -------
        U : ndarray of shape (b, r, n_params)
            The factors.
        s : ndarray of shape (b, r)
            Their weights.
        """
        return self._U[rows], self._lam[rows]

    def output_hessians(self, rows: slice) -> np.ndarray:
        """Hessian of each observation's loss in the model outputs.

        Parameters
        ----------
        rows : slice
            The observations.

        Returns
        -------
        ndarray of shape (b, k, k)
            Symmetric, one per observation.
        """
        return self.A[rows]

    def output_vjp(self, rows: slice, V: np.ndarray) -> np.ndarray:
        """Vector-Jacobian products ``J_i' v_ic`` with the Jacobians ``J_i`` of the outputs in ``theta``.

        Parameters
        ----------
        rows : slice
            The observations.
        V : ndarray of shape (b, C, k)
            ``C`` output vectors per observation.

        Returns
        -------
        ndarray of shape (b, C, n_params)
            The products.
        """
        return np.einsum("bck,bkp->bcp", V, self.J[rows])


def as_model(obj: Any) -> Any:
    """A regdiag fit as an engine model.

    OLS/WLS, GLM, Cox, robust regression and the discrete models; any
    other object is returned as is (it must follow :class:`Model`).

    Parameters
    ----------
    obj : object
        A fit or a model.

    Returns
    -------
    object
        An object following :class:`Model`.
    """
    from ..linear.glm import GLMFit
    from ..linear.ols import OLSFit
    from ..survival.cox import CoxFit

    if isinstance(obj, OLSFit):
        return OLSModel(obj)
    if isinstance(obj, GLMFit):
        return GLMModel(obj)
    if isinstance(obj, CoxFit):
        return CoxModel(obj)
    kind = model_kind(obj)
    if kind is ModelKind.RLM:
        return RLMModel(obj)
    if kind is ModelKind.MLE:
        return mle_model(obj)
    return obj
