"""Brute-force influence for small networks that take keyword inputs (Hugging Face style), with autograd alone: the
Jacobian of every output by its own backward pass, one example at a time, the loss Hessian in the outputs by
``torch.func.hessian`` of the loss as torch computes it. No code of regdiag.torch, and no vmap over the model."""

from __future__ import annotations

import torch


def jacobian(model, kwargs: dict, params: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs ``f (k,)`` of one example (a batch of one) and their Jacobian ``(k, P)`` in ``params``."""
    out = model(**kwargs)
    f = (out.logits if hasattr(out, "logits") else out).reshape(-1)
    rows = []
    for o in range(f.numel()):
        gs = torch.autograd.grad(f[o], params, retain_graph=True, allow_unused=True)
        rows.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(gs, params)]))
    return f.detach(), torch.stack(rows)


def ggn_and_gradients(model, examples, loss_fn, params=None):
    """``GGN (P, P)`` of the mean loss and per-example gradients ``(n, P)``; ``examples`` is a list of
    ``(kwargs, target)`` of one example each, ``loss_fn(f_flat, target)`` the example's loss."""
    params = params if params is not None else [p for p in model.parameters() if p.requires_grad]
    n = len(examples)
    P = sum(p.numel() for p in params)
    G = torch.zeros(P, P, dtype=torch.float64)
    grads = []
    for kwargs, y in examples:
        f, J = jacobian(model, kwargs, params)
        H = torch.func.hessian(lambda z, y=y: loss_fn(z, y))(f)
        g = torch.func.grad(lambda z, y=y: loss_fn(z, y))(f)
        G += J.T @ H @ J / n
        grads.append(J.T @ g)
    return G, torch.stack(grads), params


def scores(model, train, query, loss_fn, damping, params=None):
    """``g_q' (GGN + damping I)^{-1} g_i / n``, shape ``(n_query, n_train)``."""
    G, g_train, params = ggn_and_gradients(model, train, loss_fn, params)
    _, g_query, _ = ggn_and_gradients(model, query, loss_fn, params)
    X = torch.linalg.solve(G + damping * torch.eye(G.shape[0], dtype=G.dtype), g_query.T).T
    return (X @ g_train.T / len(train)).numpy(), G
