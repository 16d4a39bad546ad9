"""Exact curvature matrices of small networks built with torch.func alone (no code of regdiag.torch).

The parameter vector follows the engine's convention, written out here independently: per ``nn.Linear`` /
``nn.Conv2d`` the matrix ``[W.reshape(d_out, -1) | b]`` in row-major order; other parameters flattened as they are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def layout(net: nn.Module):
    """``[(kind, names, shapes)]`` in the engine's order, and the total size."""
    parts, seen = [], set()
    mods = dict(net.named_modules())
    for name, _p in net.named_parameters():
        if name in seen:
            continue
        owner = name.rsplit(".", 1)[0] if "." in name else ""
        m = mods.get(owner)
        if isinstance(m, (nn.Linear, nn.Conv2d)) and getattr(m, "groups", 1) == 1:
            pre = f"{owner}." if owner else ""
            names = [f"{pre}weight"] + ([f"{pre}bias"] if m.bias is not None else [])
            seen.update(names)
            parts.append(("kron", names, m.weight.shape[0]))
        else:
            seen.add(name)
            parts.append(("plain", [name], None))
    return parts


def flatten(net: nn.Module, tensors: dict) -> torch.Tensor:
    """Parameter-shaped tensors (trailing dimensions) to the engine's order along the last axis."""
    out = []
    for kind, names, d_out in layout(net):
        if kind == "kron":
            W = tensors[names[0]]
            lead = W.shape[: W.ndim - net.get_parameter(names[0]).ndim]
            cols = [W.reshape(*lead, d_out, -1)]
            if len(names) == 2:
                cols.append(tensors[names[1]].reshape(*lead, d_out, 1))
            out.append(torch.cat(cols, dim=-1).reshape(*lead, -1))
        else:
            T = tensors[names[0]]
            lead = T.shape[: T.ndim - net.get_parameter(names[0]).ndim]
            out.append(T.reshape(*lead, -1))
    return torch.cat(out, dim=-1)


def unflatten(net: nn.Module, theta: torch.Tensor) -> dict:
    out, pos = {}, 0
    for kind, names, d_out in layout(net):
        if kind == "kron":
            W = net.get_parameter(names[0])
            cols = W[0].numel() + (len(names) == 2)
            M = theta[pos : pos + d_out * cols].reshape(d_out, cols)
            out[names[0]] = M[:, : W[0].numel()].reshape(W.shape)
            if len(names) == 2:
                out[names[1]] = M[:, -1]
            pos += d_out * cols
        else:
            p = net.get_parameter(names[0])
            out[names[0]] = theta[pos : pos + p.numel()].reshape(p.shape)
            pos += p.numel()
    return out


def example_loss(name: str):
    if name == "mse":
        return lambda f, y: F.mse_loss(f, y)
    if name == "cross_entropy":
        return lambda f, y: F.cross_entropy(f, y)
    return lambda f, y: F.binary_cross_entropy_with_logits(f, y)


def jacobians(net: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """``(n, k, P)`` output Jacobians."""
    params = {n: p.detach() for n, p in net.named_parameters()}

    def f(p, x):
        return torch.func.functional_call(net, p, (x[None],)).reshape(-1)

    J = torch.func.vmap(torch.func.jacrev(f), in_dims=(None, 0))(params, X)
    return flatten(net, J)


def gauss_newton(net: nn.Module, loss: str, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """``(1/n) sum_i J_i' Lambda_i J_i`` with ``Lambda_i`` the Hessian of the loss in the outputs."""
    J = jacobians(net, X)
    with torch.no_grad():
        out = net(X)
    shape = out.shape[1:]
    lf = example_loss(loss)

    def one(f, y):
        return lf(f.reshape((1,) + shape), y[None])

    Lam = torch.func.vmap(torch.func.hessian(one))(out.reshape(len(X), -1), Y)
    return torch.einsum("ikp,ikl,ilq->pq", J, Lam, J) / len(X)


def hessian(net: nn.Module, loss: str, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    theta = flatten(net, {n: p.detach() for n, p in net.named_parameters()})
    lf = example_loss(loss)

    def total(t):
        out = torch.func.functional_call(net, unflatten(net, t), (X,))
        return torch.func.vmap(lambda f, y: lf(f[None], y[None]))(out, Y).mean()

    return torch.func.hessian(total)(theta)
