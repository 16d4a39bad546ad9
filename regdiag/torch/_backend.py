"""torch tensors (CPU or CUDA) as arrays of the influence engine (:mod:`regdiag.engine.backend`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..engine.backend import Backend, register_backend
from ..linalg import psd_eigh

__all__ = ["TorchBackend", "TORCH"]

#: largest float64 Kronecker factor decomposed on the host by the accurate route of :func:`regdiag.linalg.psd_eigh`
ACCURATE_EIGH_LIMIT = 2048


class TorchBackend(Backend):
    """The engine's array operations on torch tensors; results stay on the device and in the dtype of the inputs."""

    name = "torch"

    def asarray(self, x: Any, like: Any = None) -> torch.Tensor:
        dt = like.dtype if isinstance(like, torch.Tensor) else torch.float64
        dev = like.device if isinstance(like, torch.Tensor) else None
        if isinstance(x, torch.Tensor):
            return x.to(dtype=dt, device=dev)
        return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dt, device=dev)

    def to_numpy(self, x: Any) -> np.ndarray:
        return x.detach().to("cpu", torch.float64).numpy()

    def zeros(self, shape: tuple[int, ...], like: Any) -> torch.Tensor:
        return torch.zeros(shape, dtype=like.dtype, device=like.device)

    def eye(self, n: int, like: Any) -> torch.Tensor:
        return torch.eye(n, dtype=like.dtype, device=like.device)

    def copy(self, x: Any) -> torch.Tensor:
        return x.clone()

    def eps(self, x: Any) -> float:
        return float(torch.finfo(x.dtype).eps) if x.is_floating_point() else float(torch.finfo(torch.float64).eps)

    def sqrt(self, x: Any) -> torch.Tensor:
        return torch.sqrt(x)

    def abs(self, x: Any) -> torch.Tensor:
        return torch.abs(x)

    def sum(self, x: Any, axis: int | tuple[int, ...] | None = None) -> torch.Tensor:
        return torch.sum(x) if axis is None else torch.sum(x, dim=axis)

    def max(self, x: Any) -> float:
        return float(x.max())

    def min(self, x: Any) -> float:
        return float(x.min())

    def all_finite(self, x: Any, axis: int | None = None) -> Any:
        fin = torch.isfinite(x)
        if axis is None:
            return bool(fin.all())
        other = tuple(a for a in range(fin.ndim) if a != axis % fin.ndim)
        return (fin.all(dim=other) if other else fin).cpu().numpy()

    def where(self, cond: Any, x: Any, y: Any) -> torch.Tensor:
        return torch.where(cond, x, y)

    def swap(self, x: Any) -> torch.Tensor:
        return x.transpose(-1, -2)

    def concat(self, xs: list[Any], axis: int = 0) -> torch.Tensor:
        return torch.cat(xs, dim=axis)

    def diagonal(self, x: Any) -> torch.Tensor:
        return torch.diagonal(x, dim1=-2, dim2=-1).clone()

    def einsum(self, spec: str, *operands: Any) -> torch.Tensor:
        return torch.einsum(spec, *operands)

    def eigh(self, a: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.linalg.eigh(a)

    def psd_eigh(self, a: Any) -> tuple[torch.Tensor, torch.Tensor]:
        # float64 factors of moderate size take the accurate host route (pivoted Cholesky + Jacobi SVD); float32 or
        # large factors stay on their device with eigh
        if a.dtype == torch.float64 and a.shape[-1] <= ACCURATE_EIGH_LIMIT and a.ndim == 2:
            e, Q = psd_eigh(a.detach().cpu().numpy())
            return torch.from_numpy(e).to(a.device), torch.from_numpy(Q).to(a.device)
        e, Q = torch.linalg.eigh(a)
        return torch.where(e > 0, e, 0.0), Q

    def eigvalsh(self, a: Any) -> torch.Tensor:
        return torch.linalg.eigvalsh(a)

    def cholesky(self, a: Any) -> torch.Tensor | None:
        L, info = torch.linalg.cholesky_ex(a)
        return None if bool(info.any()) else L

    def solve_triangular(self, a: Any, b: Any, *, lower: bool, transpose: bool = False) -> torch.Tensor:
        if transpose:
            return torch.linalg.solve_triangular(a.mT, b, upper=lower)
        return torch.linalg.solve_triangular(a, b, upper=not lower)


TORCH = TorchBackend()
register_backend(lambda x: isinstance(x, torch.Tensor), TORCH)
