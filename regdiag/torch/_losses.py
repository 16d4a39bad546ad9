"""Per-example losses of a network's outputs: value, gradient and Hessian in the outputs, and Fisher samples.

Each loss ``l(f, y)`` is a function of example i's output ``f_i`` (flattened to ``k`` numbers) and target ``y_i``,
normalized as torch's ``reduction="mean"`` does, so that the mean over the training set of ``l_i`` is the training
loss as torch computes it:

=====================  ==============================================  ========================================
name                   ``l_i``                                          Hessian in ``f_i``
=====================  ==============================================  ========================================
``"mse"``              ``mean_o (f_io - y_io)^2``                        ``(2/k) I``
``"cross_entropy"``    ``logsumexp(f_i) - f_iy`` (class index ``y``)    ``diag(p) - p p'``, ``p = softmax(f_i)``
``"bce_with_logits"``  ``mean_o softplus(f_io) - y_io f_io``            ``diag(s (1 - s)) / k``, ``s = sigmoid(f)``
=====================  ==============================================  ========================================

A callable ``loss(output, target)`` is accepted with its ``reduction``: "mean" or "sum" (its value on a batch is the
mean or the sum of the per-example losses) or "none" (it returns one loss per example); its output gradients and
Hessians come from ``torch.func``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import DataError, ModelError

__all__ = ["Loss", "make_loss", "LOSSES"]

LOSSES = ("mse", "cross_entropy", "bce_with_logits")


class Loss:
    """Base: ``f`` is ``(b, k)`` (outputs flattened per example), ``y`` the targets as given."""

    name = "loss"

    def check(self, f: torch.Tensor, y: torch.Tensor) -> None:
        """Raise a clear error when ``y`` cannot be a target for outputs ``f``."""

    def values(self, f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def grad(self, f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def hessian(self, f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def sample(self, f: torch.Tensor, y: torch.Tensor, s: int, rng: np.random.Generator) -> torch.Tensor | None:
        """``(b, s, k)`` vectors ``v`` with ``E[sum_s v v'] =`` the output Hessian (Fisher samples), or ``None``."""
        return None


class MSE(Loss):
    name = "mse"

    def check(self, f: torch.Tensor, y: torch.Tensor) -> None:
        if y.shape[0] != f.shape[0] or y.reshape(y.shape[0], -1).shape[1] != f.shape[1]:
            raise DataError(f"mse needs targets shaped like the outputs: {f.shape[1]} numbers per example; got "
                            f"targets of shape {tuple(y.shape)}")

    def values(self, f, y):
        return ((f - y.reshape(f.shape)) ** 2).mean(dim=1)

    def grad(self, f, y):
        return (f - y.reshape(f.shape)) * (2.0 / f.shape[1])

    def hessian(self, f, y):
        k = f.shape[1]
        return torch.eye(k, dtype=f.dtype, device=f.device).expand(f.shape[0], k, k) * (2.0 / k)

    def sample(self, f, y, s, rng):
        z = torch.as_tensor(rng.standard_normal((f.shape[0], s, f.shape[1])), dtype=f.dtype, device=f.device)
        return z * math.sqrt(2.0 / f.shape[1] / s)


class CrossEntropy(Loss):
    name = "cross_entropy"

    def check(self, f, y):
        if y.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
            if y.shape != (f.shape[0],):
                raise DataError(f"cross_entropy with class indices needs targets of shape (n,); got {tuple(y.shape)}")
            bad = (y < 0) | (y >= f.shape[1])
            if bool(bad.any()):
                raise DataError(f"cross_entropy targets must be class indices in 0..{f.shape[1] - 1}; got "
                                f"{sorted(set(y[bad].tolist()))[:5]}")
        elif y.shape != f.shape:
            raise DataError(f"cross_entropy needs class indices (n,) or class probabilities shaped like the "
                            f"outputs {tuple(f.shape)}; got targets of shape {tuple(y.shape)}")

    def _probs(self, f, y):
        if y.is_floating_point():
            return y
        # a comparison, not F.one_hot: it works under torch.func transforms (vmap of hessian)
        return (y.long()[:, None] == torch.arange(f.shape[1], device=f.device)).to(f.dtype)

    def values(self, f, y):
        return -(self._probs(f, y) * torch.log_softmax(f, dim=1)).sum(dim=1)

    def grad(self, f, y):
        t = self._probs(f, y)
        return torch.softmax(f, dim=1) * t.sum(dim=1, keepdim=True) - t

    def hessian(self, f, y):
        p = torch.softmax(f, dim=1)
        w = self._probs(f, y).sum(dim=1)[:, None, None]
        return (torch.diag_embed(p) - p[:, :, None] * p[:, None, :]) * w

    def sample(self, f, y, s, rng):
        p = torch.softmax(f, dim=1)
        u = torch.as_tensor(rng.uniform(size=(f.shape[0], s, 1)), dtype=f.dtype, device=f.device)
        draw = (torch.cumsum(p, dim=1)[:, None, :] < u).sum(dim=2).clamp(max=f.shape[1] - 1)
        v = p[:, None, :] - (draw[:, :, None] == torch.arange(f.shape[1], device=f.device)).to(f.dtype)
        w = self._probs(f, y).sum(dim=1)[:, None, None]
        return v * torch.sqrt(w / s)


class BCEWithLogits(Loss):
    name = "bce_with_logits"

    def check(self, f, y):
        if y.shape[0] != f.shape[0] or y.reshape(y.shape[0], -1).shape[1] != f.shape[1]:
            raise DataError(f"bce_with_logits needs targets shaped like the outputs: {f.shape[1]} numbers per "
                            f"example; got targets of shape {tuple(y.shape)}")

    def values(self, f, y):
        return (F.softplus(f) - y.reshape(f.shape).to(f.dtype) * f).mean(dim=1)

    def grad(self, f, y):
        return (torch.sigmoid(f) - y.reshape(f.shape).to(f.dtype)) / f.shape[1]

    def hessian(self, f, y):
        s = torch.sigmoid(f)
        return torch.diag_embed(s * (1 - s)) / f.shape[1]

    def sample(self, f, y, s, rng):
        sig = torch.sigmoid(f)
        u = torch.as_tensor(rng.uniform(size=(f.shape[0], s, f.shape[1])), dtype=f.dtype, device=f.device)
        return (sig[:, None, :] - (u < sig[:, None, :]).to(f.dtype)) / math.sqrt(f.shape[1] * s)


class CallableLoss(Loss):
    """A user's ``loss(output, target)``; derivatives in the outputs by ``torch.func``."""

    def __init__(self, fn: Callable[..., torch.Tensor], reduction: str, out_shape: tuple[int, ...]) -> None:
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction={reduction!r} is not one of 'mean', 'sum', 'none'")
        self.fn, self.reduction, self.out_shape = fn, reduction, tuple(out_shape)
        self.name = getattr(fn, "__name__", type(fn).__name__)

    def _one(self, fi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        val = self.fn(fi.reshape((1,) + self.out_shape), yi[None])
        if val.numel() != 1:
            raise ModelError(f"the loss {self.name} returned {val.numel()} numbers for one example; with "
                             f"reduction={self.reduction!r} it must return one")
        return val.reshape(())

    def values(self, f, y):
        return torch.func.vmap(self._one)(f, y)

    def grad(self, f, y):
        return torch.func.vmap(torch.func.grad(self._one))(f, y)

    def hessian(self, f, y):
        return torch.func.vmap(torch.func.hessian(self._one))(f, y)


def make_loss(loss: Any, reduction: str | None, out_shape: tuple[int, ...]) -> Loss:
    """The :class:`Loss` for a name in :data:`LOSSES` or a callable with its ``reduction``."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        table = {"mse": MSE, "cross_entropy": CrossEntropy, "bce_with_logits": BCEWithLogits}
        if loss.lower() not in table:
            raise ValueError(f"loss={loss!r} is not one of {', '.join(map(repr, LOSSES))} or a callable")
        if reduction not in (None, "mean"):
            raise ValueError(f"the built-in loss {loss!r} is normalized like torch's reduction='mean'; "
                             f"reduction={reduction!r} applies to a callable loss only")
        return table[loss.lower()]()
    if callable(loss):
        if reduction is None:
            raise ValueError("a callable loss needs its reduction stated: reduction='mean', 'sum' or 'none' (how "
                             "its value on a batch relates to the per-example losses)")
        return CallableLoss(loss, reduction, out_shape)
    raise TypeError(f"loss must be one of {', '.join(map(repr, LOSSES))} or a callable, not {type(loss).__name__}")
