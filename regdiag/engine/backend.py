"""The handful of array operations the engine needs, behind one small interface.

Every curvature and solver does its arithmetic through a :class:`Backend`, so arrays of another library (torch
tensors, on the CPU or a GPU) flow through the same code. :data:`NUMPY` is built in; another library registers its
own with :func:`register_backend` (``regdiag.torch`` registers torch's). Which backend serves an array is decided
by the array's type (:func:`get_backend`).

Besides what a backend provides, the engine uses only what numpy arrays and torch tensors share: ``+ - * /`` and
``@``, ``x.shape``, ``x.reshape(...)``, ``x[...]`` with slices and integers, and ``x.T`` on 2-d arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import linalg as sla

from ..linalg import psd_eigh

__all__ = ["Backend", "NumpyBackend", "NUMPY", "register_backend", "unregister_backend", "get_backend"]

Array = Any


class Backend:
    """The array operations of the engine. Subclass and implement every method for a new array library.

    Shapes follow numpy's conventions; ``axis`` arguments are integers; ``like`` gives dtype and device.
    """

    name = "abstract"

    # ---- creation and conversion ------------------------------------------------------------------------------
    def asarray(self, x: Any, like: Array | None = None) -> Array:
        """``x`` (array, nested sequence or scalar) as this backend's array with ``like``'s dtype and device.

        Parameters
        ----------
        x : array_like
            The values.
        like : array, optional
            An array of this backend whose dtype and device the result takes (default: float64 on the host).

        Returns
        -------
        array
            Of ``x``'s shape.
        """
        raise NotImplementedError

    def to_numpy(self, x: Array) -> np.ndarray:
        """A numpy copy (on the host).

        Parameters
        ----------
        x : array
            An array of this backend.

        Returns
        -------
        ndarray
            float64, of ``x``'s shape.
        """
        raise NotImplementedError

    def zeros(self, shape: tuple[int, ...], like: Array) -> Array:
        """An array of zeros.

        Parameters
        ----------
        shape : tuple of int
            Its shape.
        like : array
            Gives dtype and device.

        Returns
        -------
        array
            Of shape ``shape``.
        """
        raise NotImplementedError

    def eye(self, n: int, like: Array) -> Array:
        """The identity matrix.

        Parameters
        ----------
        n : int
            Its order.
        like : array
            Gives dtype and device.

        Returns
        -------
        array of shape (n, n)
            The identity.
        """
        raise NotImplementedError

    def randn(self, shape: tuple[int, ...], like: Array, rng: np.random.Generator) -> Array:
        """Standard normal draws; the numbers come from ``rng`` (numpy) so every backend draws the same ones.

        Parameters
        ----------
        shape : tuple of int
            Shape of the draws.
        like : array
            Gives dtype and device.
        rng : numpy.random.Generator
            The source of the numbers.

        Returns
        -------
        array
            Of shape ``shape``.
        """
        return self.asarray(rng.standard_normal(shape), like=like)

    def copy(self, x: Array) -> Array:
        """A copy that does not share memory with ``x``.

        Parameters
        ----------
        x : array
            The array to copy.

        Returns
        -------
        array
            Of ``x``'s shape, dtype and device.
        """
        raise NotImplementedError

    def eps(self, x: Array) -> float:
        """Machine epsilon of ``x``'s floating-point type (float64's unless a backend knows better).

        Parameters
        ----------
        x : array
            An array of this backend.

        Returns
        -------
        float
            The spacing of floating-point numbers at 1.
        """
        return float(np.finfo(np.float64).eps)

    # ---- elementwise and reductions ----------------------------------------------------------------------------
    def sqrt(self, x: Array) -> Array:
        """Elementwise square root.

        Parameters
        ----------
        x : array
            Non-negative values.

        Returns
        -------
        array
            Of ``x``'s shape.
        """
        raise NotImplementedError

    def abs(self, x: Array) -> Array:
        """Elementwise absolute value.

        Parameters
        ----------
        x : array
            The values.

        Returns
        -------
        array
            Of ``x``'s shape.
        """
        raise NotImplementedError

    def sum(self, x: Array, axis: int | tuple[int, ...] | None = None) -> Array:
        """Sum over ``axis`` (all axes by default).

        Parameters
        ----------
        x : array
            The values.
        axis : int or tuple of int, optional
            Axes summed over.

        Returns
        -------
        array
            ``x``'s shape without the summed axes (0-d for a full sum).
        """
        raise NotImplementedError

    def max(self, x: Array) -> float:
        """Largest element, as a Python float.

        Parameters
        ----------
        x : array
            The values (at least one).

        Returns
        -------
        float
            The largest.
        """
        raise NotImplementedError

    def min(self, x: Array) -> float:
        """Smallest element, as a Python float.

        Parameters
        ----------
        x : array
            The values (at least one).

        Returns
        -------
        float
            The smallest.
        """
        raise NotImplementedError

    def all_finite(self, x: Array, axis: int | None = None) -> Any:
        """``True`` when every element is finite; with ``axis``, a numpy boolean array reduced over all other axes.

        Parameters
        ----------
        x : array
            The values.
        axis : int, optional
            The axis kept.

        Returns
        -------
        bool or ndarray of bool
            A Python bool without ``axis``; an array of length ``x.shape[axis]`` with it.
        """
        raise NotImplementedError

    def where(self, cond: Array, x: Array, y: Array | float) -> Array:
        """Elementwise choice: ``x`` where ``cond`` holds, ``y`` elsewhere.

        Parameters
        ----------
        cond : array of bool
            The condition.
        x : array
            Values where ``cond`` holds.
        y : array or float
            Values elsewhere.

        Returns
        -------
        array
            Of the broadcast shape.
        """
        raise NotImplementedError

    def norm(self, x: Array, axis: int = -1) -> Array:
        """Euclidean norm along ``axis``.

        Parameters
        ----------
        x : array
            The values.
        axis : int
            The axis reduced.

        Returns
        -------
        array
            ``x``'s shape without ``axis``.
        """
        return self.sqrt(self.sum(x * x, axis=axis))

    # ---- shapes -------------------------------------------------------------------------------------------------
    def swap(self, x: Array) -> Array:
        """Swap the last two axes.

        Parameters
        ----------
        x : array
            At least 2-d.

        Returns
        -------
        array
            ``x`` with its last two axes exchanged.
        """
        raise NotImplementedError

    def concat(self, xs: list[Array], axis: int = 0) -> Array:
        """Join arrays along an existing axis.

        Parameters
        ----------
        xs : list of array
            Arrays of equal shape except along ``axis``.
        axis : int
            The axis joined along.

        Returns
        -------
        array
            The joined array.
        """
        raise NotImplementedError

    def diagonal(self, x: Array) -> Array:
        """Diagonal of the last two axes.

        Parameters
        ----------
        x : array of shape (..., n, n)
            Square in its last two axes.

        Returns
        -------
        array of shape (..., n)
            The diagonals.
        """
        raise NotImplementedError

    # ---- linear algebra -------------------------------------------------------------------------------------------
    def einsum(self, spec: str, *operands: Array) -> Array:
        """Einstein summation, as :func:`numpy.einsum`.

        Parameters
        ----------
        spec : str
            The subscripts, such as ``"bi,bj->ij"``.
        *operands : array
            The arrays.

        Returns
        -------
        array
            The contraction.
        """
        raise NotImplementedError

    def eigh(self, a: Array) -> tuple[Array, Array]:
        """Eigenvalues (ascending) and eigenvectors (columns) of symmetric ``a`` (batched over leading axes).

        Parameters
        ----------
        a : array of shape (..., n, n)
            Symmetric matrices.

        Returns
        -------
        eigenvalues : array of shape (..., n)
            Ascending.
        eigenvectors : array of shape (..., n, n)
            One per column.
        """
        raise NotImplementedError

    def psd_eigh(self, a: Array) -> tuple[Array, Array]:
        """Eigendecomposition of a symmetric positive semi-definite matrix, eigenvalues ascending and >= 0.

        Used for the Kronecker factors, where the eigenvectors must be accurate relative to the matrix's
        column-scaled conditioning (see :func:`regdiag.linalg.psd_eigh`). Default: :meth:`eigh`, clipped at 0.

        Parameters
        ----------
        a : array of shape (n, n)
            Symmetric positive semi-definite.

        Returns
        -------
        eigenvalues : array of shape (n,)
            Ascending, >= 0.
        eigenvectors : array of shape (n, n)
            One per column.
        """
        e, Q = self.eigh(a)
        return self.where(e > 0, e, 0.0), Q

    def eigvalsh(self, a: Array) -> Array:
        """Eigenvalues (ascending) of symmetric ``a`` (batched over leading axes).

        Parameters
        ----------
        a : array of shape (..., n, n)
            Symmetric matrices.

        Returns
        -------
        array of shape (..., n)
            Ascending eigenvalues.
        """
        raise NotImplementedError

    def cholesky(self, a: Array) -> Array | None:
        """Lower Cholesky factor of symmetric positive definite ``a``, or ``None`` when ``a`` is not.

        Parameters
        ----------
        a : array of shape (n, n)
            Symmetric.

        Returns
        -------
        array of shape (n, n) or None
            Lower triangular ``L`` with ``L L' = a``; None when the factorization fails.
        """
        raise NotImplementedError

    def solve_triangular(self, a: Array, b: Array, *, lower: bool, transpose: bool = False) -> Array:
        """``a^{-1} b`` (or ``a^{-T} b``) for triangular 2-d ``a`` and 2-d ``b``.

        Parameters
        ----------
        a : array of shape (n, n)
            Triangular.
        b : array of shape (n, k)
            Right-hand sides.
        lower : bool
            Whether ``a`` is lower (else upper) triangular.
        transpose : bool
            Solve with ``a'`` instead.

        Returns
        -------
        array of shape (n, k)
            The solutions.
        """
        raise NotImplementedError


class NumpyBackend(Backend):
    """numpy and scipy (LAPACK)."""

    name = "numpy"

    def asarray(self, x: Any, like: Array | None = None) -> np.ndarray:
        dtype = like.dtype if isinstance(like, np.ndarray) else np.float64
        return np.asarray(x, dtype=dtype)

    def to_numpy(self, x: Array) -> np.ndarray:
        return np.array(x, dtype=np.float64)

    def zeros(self, shape: tuple[int, ...], like: Array) -> np.ndarray:
        return np.zeros(shape, dtype=like.dtype)

    def eye(self, n: int, like: Array) -> np.ndarray:
        return np.eye(n, dtype=like.dtype)

    def copy(self, x: Array) -> np.ndarray:
        return np.array(x)

    def eps(self, x: Array) -> float:
        dt = np.asarray(x).dtype
        return float(np.finfo(dt).eps) if np.issubdtype(dt, np.floating) else float(np.finfo(np.float64).eps)

    def sqrt(self, x: Array) -> np.ndarray:
        return np.sqrt(x)

    def abs(self, x: Array) -> np.ndarray:
        return np.abs(x)

    def sum(self, x: Array, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
        return np.sum(x, axis=axis)

    def max(self, x: Array) -> float:
        return float(np.max(x))

    def min(self, x: Array) -> float:
        return float(np.min(x))

    def all_finite(self, x: Array, axis: int | None = None) -> Any:
        fin = np.isfinite(x)
        if axis is None:
            return bool(fin.all())
        other = tuple(a for a in range(fin.ndim) if a != axis % fin.ndim)
        return fin.all(axis=other) if other else fin

    def where(self, cond: Array, x: Array, y: Array | float) -> np.ndarray:
        return np.where(cond, x, y)

    def swap(self, x: Array) -> np.ndarray:
        return np.swapaxes(x, -1, -2)

    def concat(self, xs: list[Array], axis: int = 0) -> np.ndarray:
        return np.concatenate(xs, axis=axis)

    def diagonal(self, x: Array) -> np.ndarray:
        return np.diagonal(x, axis1=-2, axis2=-1).copy()

    def einsum(self, spec: str, *operands: Array) -> np.ndarray:
        return np.einsum(spec, *operands, optimize=len(operands) > 2)

    def eigh(self, a: Array) -> tuple[np.ndarray, np.ndarray]:
        return np.linalg.eigh(a)

    def psd_eigh(self, a: Array) -> tuple[np.ndarray, np.ndarray]:
        return psd_eigh(a)

    def eigvalsh(self, a: Array) -> np.ndarray:
        return np.linalg.eigvalsh(a)

    def cholesky(self, a: Array) -> np.ndarray | None:
        try:
            return np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            return None

    def solve_triangular(self, a: Array, b: Array, *, lower: bool, transpose: bool = False) -> np.ndarray:
        return sla.solve_triangular(a, b, lower=lower, trans=1 if transpose else 0, check_finite=False)



NUMPY = NumpyBackend()

_REGISTRY: list[tuple[Callable[[Any], bool], Backend]] = []


def register_backend(claims: Callable[[Any], bool], backend: Backend) -> None:
    """Serve the arrays for which ``claims(array)`` is true with ``backend`` (later registrations win).

    Parameters
    ----------
    claims : callable
        ``claims(array) -> bool``: whether ``backend`` serves this array.
    backend : Backend
        The backend.

    Raises
    ------
    TypeError
        When ``backend`` is not a :class:`Backend`.
    """
    if not isinstance(backend, Backend):
        raise TypeError(f"backend must be a regdiag.engine.backend.Backend, not {type(backend).__name__}")
    _REGISTRY.insert(0, (claims, backend))


def unregister_backend(backend: Backend) -> None:
    """Stop serving arrays with ``backend``.

    Parameters
    ----------
    backend : Backend
        A backend given to :func:`register_backend` (nothing happens for another).
    """
    _REGISTRY[:] = [(c, b) for c, b in _REGISTRY if b is not backend]


def get_backend(x: Any) -> Backend:
    """The backend that serves arrays like ``x`` (numpy for numpy arrays and anything unclaimed).

    Parameters
    ----------
    x : array
        An array (its type decides).

    Returns
    -------
    Backend
        The latest registered backend that claims ``x``, else :data:`NUMPY`.
    """
    for claims, backend in _REGISTRY:
        if claims(x):
            return backend
    return NUMPY
