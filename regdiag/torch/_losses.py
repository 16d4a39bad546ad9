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

Token losses take outputs ``(batch, tokens, vocab)`` (logits of a language model or a token classifier) and
integer targets ``(batch, tokens)``, ``-100`` marking tokens without a loss (padding, prompts), and sum the
token cross-entropies of each sequence: ``l_i = sum_t [logsumexp(f_it) - f_it,y_it]`` over its scored tokens
(``"token_cross_entropy"``: token ``t``'s logits predict target ``t``; ``"lm"``: causal language modelling, the
logits at ``t`` predict target ``t + 1``, as Hugging Face's ``labels`` are shifted inside its models). The training
objective is then the mean over sequences of their summed token losses: Hugging Face's mean token loss times the
mean number of scored tokens per sequence. The output Hessian is block diagonal over tokens, each block
``diag(p_t) - p_t p_t'``; it is never formed: its square root has the closed form ``sqrt(p_tc) (e_c - p_t)``
(column ``c`` of token ``t``) and Fisher samples draw one label per token from ``p_t``, all tokens of a sequence in
one backward pass.

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

LOSSES = ("mse", "cross_entropy", "bce_with_logits", "token_cross_entropy", "lm")
#: targets of token losses that carry no loss
IGNORE_INDEX = -100


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


class TokenCrossEntropy(Loss):
    """Summed token cross-entropy of a sequence; ``shift``: causal language modelling (logits at ``t`` predict
    target ``t + 1``). ``f`` is ``(b, T * vocab)``; ``vocab`` is set from the model's outputs."""

    name = "token_cross_entropy"
    #: token losses: outputs (batch, tokens, vocab) of any number of tokens
    per_token = True

    def __init__(self, shift: bool) -> None:
        self.shift = bool(shift)
        self.name = "lm" if shift else "token_cross_entropy"
        self.vocab: int | None = None

    def _split(self, f: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits ``(b, T, V)``, the target of each position ``(b, T)`` (``-100`` where none) and its validity."""
        V = int(self.vocab) if self.vocab else f.shape[1]
        L = f.reshape(f.shape[0], -1, V)
        t = y.reshape(y.shape[0], -1).long()
        if self.shift:
            t = torch.cat([t[:, 1:], t.new_full((t.shape[0], 1), IGNORE_INDEX)], dim=1)
        valid = t != IGNORE_INDEX
        return L, torch.where(valid, t, 0), valid

    def check(self, f, y):
        V = int(self.vocab) if self.vocab else f.shape[1]
        if y.is_floating_point():
            raise DataError(f"{self.name} needs integer token targets (batch, tokens); got {y.dtype}")
        T = f.shape[1] // V
        if y.reshape(y.shape[0], -1).shape[1] != T:
            raise DataError(f"{self.name} needs one target per token: the outputs have {T} tokens of {V} logits, "
                            f"the targets have shape {tuple(y.shape)}")
        bad = (y != IGNORE_INDEX) & ((y < 0) | (y >= V))
        if bool(bad.any()):
            raise DataError(f"{self.name} targets must be token ids in 0..{V - 1} or {IGNORE_INDEX} (ignored); got "
                            f"{sorted(set(y[bad].tolist()))[:5]}")

    def token_values(self, f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``(b, T)`` loss of each position's prediction (0 where ignored)."""
        L, t, valid = self._split(f, y)
        nll = torch.logsumexp(L, dim=2) - torch.gather(L, 2, t[:, :, None])[:, :, 0]
        return torch.where(valid, nll, 0.0)

    def values(self, f, y):
        return self.token_values(f, y).sum(dim=1)

    def _token_grads(self, f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        L, t, valid = self._split(f, y)
        onehot = (t[:, :, None] == torch.arange(L.shape[2], device=f.device)).to(f.dtype)
        return (torch.softmax(L, dim=2) - onehot) * valid[:, :, None].to(f.dtype)

    def grad(self, f, y):
        return self._token_grads(f, y).reshape(f.shape)

    def token_grads(self, f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``(b, T, k)``: the output gradient of each position's loss alone (zero rows where ignored)."""
        G = self._token_grads(f, y)
        b, T, V = G.shape
        out = G.new_zeros(b, T, T, V)
        idx = torch.arange(T, device=f.device)
        out[:, idx, idx, :] = G
        return out.reshape(b, T, T * V)

    def output_sqrt(self, f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``(b, k, C)``: ``R_i`` with ``R_i R_i' =`` the output Hessian, column ``(t, c)`` equal to
        ``sqrt(p_tc) (e_c - p_t)`` at token ``t``; columns of positions ignored in the whole batch are left out."""
        L, _, valid = self._split(f, y)
        p = torch.softmax(L, dim=2) * valid[:, :, None].to(f.dtype)
        b, T, V = p.shape
        keep = torch.nonzero(valid.any(dim=0))[:, 0]
        eye = torch.eye(V, dtype=f.dtype, device=f.device)
        pk = p[:, keep]  # (b, Tk, V)
        blocks = (eye[None, None] - pk[:, :, :, None]) * pk.sqrt()[:, :, None, :]  # (b, Tk, V out, V col)
        R = f.new_zeros(b, T, V, keep.numel(), V)
        R[:, keep, :, torch.arange(keep.numel(), device=f.device), :] = blocks.permute(1, 0, 2, 3)
        return R.reshape(b, T * V, keep.numel() * V)

    def hessian(self, f, y):
        R = self.output_sqrt(f, y)
        return R @ R.mT

    def sample(self, f, y, s, rng):
        L, _, valid = self._split(f, y)
        p = torch.softmax(L, dim=2)
        b, T, V = p.shape
        u = torch.as_tensor(rng.uniform(size=(b, s, T)), dtype=f.dtype, device=f.device)
        draw = (torch.cumsum(p, dim=2)[:, None, :, :] < u[:, :, :, None]).sum(dim=3).clamp(max=V - 1)
        v = p[:, None] - (draw[:, :, :, None] == torch.arange(V, device=f.device)).to(f.dtype)
        v = v * valid[:, None, :, None].to(f.dtype)
        return v.reshape(b, s, T * V) * (1.0 / math.sqrt(s))


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
        key = loss.lower()
        if key not in table and key not in ("token_cross_entropy", "lm"):
            raise ValueError(f"loss={loss!r} is not one of {', '.join(map(repr, LOSSES))} or a callable")
        if reduction not in (None, "mean"):
            raise ValueError(f"the built-in loss {loss!r} is normalized like torch's reduction='mean'; "
                             f"reduction={reduction!r} applies to a callable loss only")
        if key in ("token_cross_entropy", "lm"):
            return TokenCrossEntropy(shift=key == "lm")
        return table[key]()
    if callable(loss):
        if reduction is None:
            raise ValueError("a callable loss needs its reduction stated: reduction='mean', 'sum' or 'none' (how "
                             "its value on a batch relates to the per-example losses)")
        return CallableLoss(loss, reduction, out_shape)
    raise TypeError(f"loss must be one of {', '.join(map(repr, LOSSES))} or a callable, not {type(loss).__name__}")
