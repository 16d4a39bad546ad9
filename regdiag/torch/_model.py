"""A PyTorch network as an influence-engine model (:class:`regdiag.engine.Model`), with autograd.

Parameters ``theta`` are the trainable tensors of the network in ``named_parameters()`` order, grouped into engine
blocks: every ``nn.Linear`` and ``nn.Conv2d`` (``groups=1``) called through its module is a Kronecker block whose
weight matrix is ``[W | b]`` (``W`` flattened to ``(d_out, d_in)``, the bias as a last input column of ones,
row-major), every other trainable tensor a plain block of its own. A Linear or Conv2d whose parameters are used
without calling the module (``nn.MultiheadAttention``'s ``out_proj``, ``F.linear(x, layer.weight, layer.bias)``) or
also outside its call has plain blocks too: probed on the first training examples (:func:`_probe_layers`). A weight
shared by several such layers (tied embeddings) is one Kronecker block of its own (:class:`TiedWeight`).
Per-example quantities use the Kronecker trick for Kronecker blocks (layer inputs recorded by forward hooks, output
vectors back-propagated to the layer outputs: one backward pass per output vector) and ``torch.func`` (``vmap`` of
``vjp``) for plain blocks. The exact Hessian uses ``torch.func`` (Hessian-vector products, per-example Hessians for
the leverage correction).
"""

from __future__ import annotations

import contextlib
import fnmatch
import math
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .._validation import DataError, ModelError, format_labels
from .._warnings import warn
from ..engine.curvature.base import RowRandom
from ..engine.model import Block, batches
from ..engine.progress import Progress, ProgressArg
from ._data import Data, call, input_tensors, map_inputs
from ._losses import Loss

__all__ = ["TorchModel", "KronLayer", "TiedWeight"]

#: largest per-example Hessian (parameters) for the leverage correction with the exact curvature
EXACT_FACTORS_LIMIT = 2048
#: Hessian-vector products per vectorized pass
HVP_CHUNK = 64


#: network dtypes whose per-example quantities the engine receives in float32 (16-bit floats)
HALF_DTYPES = (torch.bfloat16, torch.float16)


def engine_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the engine computes in for a network of ``dtype``: float32 for 16-bit floats, else its own."""
    return torch.float32 if dtype in HALF_DTYPES else dtype


def rel_tol(dtype: torch.dtype) -> float:
    """Relative agreement expected between two sums of the same gradients computed in ``dtype`` in different
    orders (per-example sums against autograd's batch gradient): about 1,000 units of rounding for float32 and
    float64, 5% for 16-bit floats (8 bits of bfloat16 mantissa)."""
    return 1e-9 if dtype == torch.float64 else 1e-4 if dtype == torch.float32 else 5e-2


def _is_conv1d(m: nn.Module) -> bool:
    """transformers' ``Conv1D`` (GPT-2's transposed linear layer: ``x @ W + b`` with ``W`` of shape (d_in, d_out))."""
    t = type(m)
    return t.__name__ == "Conv1D" and t.__module__.startswith("transformers") and hasattr(m, "nf")


def _tensor(module: nn.Module, name: str) -> torch.Tensor:
    """The parameter ``name`` of ``module`` (``weight``, ``bias``) as a tensor: attribute access on an ``nn.Module``
    is typed ``Tensor | Module``, and transformers' ``Conv1D`` declares no types."""
    t = getattr(module, name)
    assert isinstance(t, torch.Tensor), f"{type(module).__name__}.{name} is not a tensor"
    return t


class KronLayer:
    """A layer whose weight (and bias) form one Kronecker block ``(d_out, d_in [+1])``.

    The layer is an ``nn.Linear``, an ``nn.Conv2d``, transformers' ``Conv1D`` (its weight transposed) or an
    ``nn.Embedding`` (the weight transposed, ``(dim, vocab)``, with one-hot token inputs: its input factor is
    diagonal, the token frequencies, which K-FAC and EK-FAC store as a vector: any vocabulary size).

    Parameters
    ----------
    name : str
        The block's name (the module's name in the network).
    module : nn.Module
        The layer.
    bias : bool
        Whether the layer's bias is part of the block (a last input column of ones).
    """

    def __init__(self, name: str, module: nn.Module, bias: bool) -> None:
        self.name, self.module, self.bias = name, module, bias
        w = _tensor(module, "weight")
        self.kind = ("conv2d" if isinstance(module, nn.Conv2d) else "embedding" if isinstance(module, nn.Embedding)
                     else "conv1d" if _is_conv1d(module) else "linear")
        #: the weight is stored transposed relative to the block's (d_out, d_in) matrix
        self.transposed = self.kind in ("conv1d", "embedding")
        self.d_out = int(w.shape[1] if self.transposed else w.shape[0])
        self.d_w = int(w.shape[0] if self.transposed else w[0].numel())
        self.shape = (self.d_out, self.d_w + int(bias))
        self.conv = self.kind == "conv2d"

    def matrix(self, w: torch.Tensor) -> torch.Tensor:
        """A weight-shaped tensor as the block's matrix.

        Parameters
        ----------
        w : torch.Tensor
            Shaped like the layer's weight (e.g. its gradient).

        Returns
        -------
        torch.Tensor of shape (d_out, d_w)
            A view where possible (transposed or reshaped).
        """
        return w.T if self.transposed else w.reshape(self.d_out, -1)

    def weight(self, M: torch.Tensor) -> torch.Tensor:
        """The block's matrix as a weight-shaped tensor (the inverse of :meth:`matrix`).

        Parameters
        ----------
        M : torch.Tensor of shape (d_out, d_w)
            The weight part of the block (without the bias column).

        Returns
        -------
        torch.Tensor
            Shaped like the layer's weight.
        """
        return M.T if self.transposed else M.reshape(_tensor(self.module, "weight").shape)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Layer inputs as the rows of the block's input side.

        Parameters
        ----------
        x : torch.Tensor
            The layer's input as the forward hook records it: ``(b, ..., d_in)`` for a linear layer, ``(b, c, h, w)``
            for a convolution, token ids ``(b, ...)`` for an embedding.

        Returns
        -------
        torch.Tensor of shape (b, T, d_w [+1])
            One row per position ``T`` (unfolded patches for a convolution, one-hot tokens for an embedding), with a
            last column of ones when the bias is part of the block.
        """
        if self.kind == "embedding":
            emb = self.module
            assert isinstance(emb, nn.Embedding)
            idx = x.reshape(x.shape[0], -1)
            a = (idx[:, :, None] == torch.arange(self.d_w, device=x.device)).to(emb.weight.dtype)
            pad_row = emb.padding_idx
            if pad_row is not None:  # the padding row gets no gradient
                a[:, :, pad_row] = 0
        elif self.conv:
            m = self.module
            assert isinstance(m, nn.Conv2d)
            pad = m.padding
            if m.padding_mode != "zeros":
                x = F.pad(x, m._reversed_padding_repeated_twice, mode=m.padding_mode)
                pad = (0, 0)
            elif isinstance(pad, str):
                if pad == "valid":
                    pad = (0, 0)
                else:  # "same": pad (possibly one more on the right/bottom) as torch does
                    total = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
                    x = F.pad(x, (total[1] // 2, total[1] - total[1] // 2, total[0] // 2, total[0] - total[0] // 2))
                    pad = (0, 0)
            a = F.unfold(x, m.kernel_size, dilation=m.dilation, padding=pad, stride=m.stride).transpose(1, 2)
        else:
            a = x.reshape(x.shape[0], -1, x.shape[-1])
        if self.bias:
            a = torch.cat([a, a.new_ones(a.shape[:-1] + (1,))], dim=-1)
        return a

    def positions(self, g: torch.Tensor) -> torch.Tensor:
        """A tensor shaped like the layer output (e.g. its gradient) as rows of the block's output side.

        Parameters
        ----------
        g : torch.Tensor
            Shaped like the layer's output: ``(b, ..., d_out)``, or ``(b, d_out, h, w)`` for a convolution.

        Returns
        -------
        torch.Tensor of shape (b, T, d_out)
            One row per position, in the order of :meth:`inputs`.
        """
        if self.conv:
            return g.reshape(g.shape[0], g.shape[1], -1).transpose(1, 2)
        return g.reshape(g.shape[0], -1, g.shape[-1])

    def params(self) -> list[torch.Tensor]:
        """The parameter tensors of the block.

        Returns
        -------
        list of torch.Tensor
            The weight, then the bias when it is part of the block.
        """
        return [_tensor(self.module, "weight")] + ([_tensor(self.module, "bias")] if self.bias else [])


#: largest side of a tied weight factored as one shared Kronecker block (its factors are side x side: on the
#: vocabulary side the embedding's one-hot tokens are summed with the output layer's back-propagated vectors, which
#: are dense over the vocabulary, so that factor is not diagonal)
TIED_KRON_LIMIT = 4096


class TiedWeight(KronLayer):
    """A weight shared by several layers (a language model's token embedding tied to its output layer) as one
    Kronecker block: the weight as stored, ``(rows, cols)``, whose per-example gradient is the sum of its uses'.

    The rule: each use is a set of positions of the block, so that K-FAC's factors sum the uses' statistics (the
    weight-sharing rule of K-FAC, "expand": the output-side factor sums every use's back-propagated vectors, the
    input-side factor averages every use's inputs over all positions). A use whose gradient is ``d a'`` in the
    stored orientation (``nn.Linear``: output gradients ``d`` on the rows, inputs ``a`` on the columns) enters as
    it is; a use whose gradient is ``a d'`` (``nn.Embedding``: one-hot tokens on the rows, output gradients on the
    columns; transformers' ``Conv1D``) enters with its two sides exchanged, the positions of each output vector
    apart (a back-propagated vector is then on the input side, which the factors do not index by output vector).
    EK-FAC refits the eigenvalues to the exact per-example gradients (the sums of the uses) in that eigenbasis.
    """

    def __init__(self, name: str, uses: list[KronLayer]) -> None:
        self.name, self.uses = name, uses
        self.module = uses[0].module
        self.bias, self.kind, self.transposed, self.conv = False, "tied", False, False
        w = _tensor(self.module, "weight")
        self.d_out, self.d_w = int(w.shape[0]), int(w[0].numel())
        self.shape = (self.d_out, self.d_w)

    def combine(self, parts: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        """The uses' ``(a (b, T_u, in_u), d (b, C, T_u, out_u))`` (each in its layer's orientation) as the
        block's ``(a (b, P, cols), d (b, C, P, rows))``: ``sum_p d_cp a_p'`` is the gradient of output vector
        ``c``."""
        As, Ds = [], []
        for u, (a, d) in zip(self.uses, parts):
            if not u.transposed:
                As.append(a)
                Ds.append(d)
                continue
            b, C, T, o = d.shape
            if C == 1:
                As.append(d[:, 0])
                Ds.append(a[:, None])
            else:  # position (t, c'): input d_c't, output vector c: a_t where c = c', else 0
                As.append(d.transpose(1, 2).reshape(b, T * C, o))
                eye = torch.eye(C, dtype=a.dtype, device=a.device)
                Ds.append(torch.einsum("bti,cd->bctdi", a, eye).reshape(b, C, T * C, a.shape[-1]))
        return torch.cat(As, dim=1), torch.cat(Ds, dim=2)


class NormLayer:
    """An ``nn.LayerNorm`` with an elementwise affine map: per-example gradients from forward hooks (no ``vmap``),
    ``sum_t d_t * xhat_t`` for the weight and ``sum_t d_t`` for the bias (``xhat`` the normalized input)."""

    def __init__(self, name: str, module: nn.LayerNorm, weight: str | None, bias: str | None) -> None:
        self.name, self.module, self.weight_name, self.bias_name = name, module, weight, bias

    def grads(self, x: torch.Tensor, d: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per example and output vector: ``d (b, C, *out)`` back-propagated to the output, ``x`` the input."""
        m = self.module
        k = len(m.normalized_shape)
        x = x.to(d.dtype)
        out: dict[str, torch.Tensor] = {}
        sum_dims = tuple(range(2, d.ndim - k))
        if self.weight_name is not None:
            xhat = F.layer_norm(x, m.normalized_shape, None, None, m.eps)
            out[self.weight_name] = (d * xhat[:, None]).sum(dim=sum_dims) if sum_dims else d * xhat[:, None]
        if self.bias_name is not None:
            out[self.bias_name] = d.sum(dim=sum_dims) if sum_dims else d
        return out


def _kron_candidate(m: nn.Module) -> bool:
    if type(m).forward is nn.Linear.forward and isinstance(m, nn.Linear):
        return True
    if _is_conv1d(m):
        return True
    if isinstance(m, nn.Embedding) and type(m).forward is nn.Embedding.forward:
        return m.max_norm is None and not m.scale_grad_by_freq
    return isinstance(m, nn.Conv2d) and type(m).forward is nn.Conv2d.forward and m.groups == 1


def model_output(out: Any) -> torch.Tensor:
    """The outputs a loss is computed from: a tensor as it is; the ``logits`` of a Hugging Face ``ModelOutput`` (or
    of a dict); the first element of a tuple."""
    if isinstance(out, torch.Tensor):
        return out
    logits = out.get("logits") if isinstance(out, dict) else getattr(out, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    fields = f" with fields {sorted(out)}" if isinstance(out, dict) else ""
    raise ModelError(f"the model must return a tensor of outputs, an object with logits (a Hugging Face ModelOutput) "
                     f"or a tuple whose first element is the outputs; it returned {type(out).__name__}{fields}")


#: training examples run through the network to sort its nn.Linear / nn.Conv2d layers (Kronecker or plain blocks)
PROBE_EXAMPLES = 8


def _batch_of(inputs: Any) -> int:
    return int(input_tensors(inputs)[0][1].shape[0])


def _recorder(record: dict[str, list[tuple[torch.Tensor, torch.Tensor]]], name: str, batch: int) -> Any:
    """A forward hook recording a layer's input and output. A layer called on a batch of one while the model runs
    on ``batch`` examples (position embeddings of positions shared by the batch) has its output expanded to the
    batch (the same values, broadcast as the model would), so that each example's output gradient is its own."""
    def hook(mod: nn.Module, args: Any, out: torch.Tensor) -> Any:
        x = args[0].detach()
        if batch > 1 and out.shape[0] == 1 and x.shape[0] == 1:
            out = out.expand((batch,) + tuple(out.shape[1:]))
            record.setdefault(name, []).append((x.expand((batch,) + tuple(x.shape[1:])), out))
            return out
        record.setdefault(name, []).append((x, out))
        return None

    return hook


def _probe_layers(module: nn.Module, candidates: list[KronLayer],
                  data: Data) -> tuple[list[KronLayer], tuple[str, ...], tuple[str, ...]]:
    """The candidate layers that are Kronecker blocks, and the names of those that are not.

    A layer is a Kronecker block when, on the first training examples, it is called through its module and its calls
    account for the whole gradient of its parameters (checked against autograd for a random output vector). Its
    parameters are plain blocks (dense Gauss-Newton / exact, ``torch.func``) when the module is never called although
    its parameters receive a gradient (``uncalled``: ``nn.MultiheadAttention``'s ``out_proj``,
    ``F.linear(x, layer.weight, layer.bias)``), or when they are also used outside its calls (``shared``: tied
    weights, a weight reused elsewhere, an in-place operation on the layer's output). A layer that is not called and
    whose parameters get no gradient is refused: they have no influence.
    """
    if not candidates:
        return [], (), ()
    inputs, _ = data.get(slice(0, min(data.n, PROBE_EXAMPLES)))
    record: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {}
    handles = [layer.module.register_forward_hook(_recorder(record, layer.name, _batch_of(inputs)))
               for layer in candidates]
    try:
        with torch.enable_grad():
            out = model_output(call(module, inputs))
    finally:
        for h in handles:
            h.remove()
    params = [p for layer in candidates for p in layer.params()]
    outs = [o for layer in candidates for _, o in record.get(layer.name, [])]
    grads: Sequence[torch.Tensor | None] = [None] * (len(params) + len(outs))
    if out.is_floating_point() and out.requires_grad:
        gen = torch.Generator().manual_seed(0)
        v = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(out.device, out.dtype)
        grads = torch.autograd.grad(out, params + outs, grad_outputs=v, allow_unused=True)
    kron: list[KronLayer] = []
    uncalled: list[str] = []
    shared: list[str] = []
    ip, io = 0, len(params)
    for layer in candidates:
        gp = grads[ip : ip + len(layer.params())]
        ip += len(layer.params())
        calls = record.get(layer.name, [])
        go = grads[io : io + len(calls)]
        io += len(calls)
        used = any(g is not None for g in gp)
        if not calls:
            if not used:
                raise ModelError(
                    f"layer {layer.name!r} was not called in the forward pass and no gradient reaches its parameters, "
                    "so they have no influence: freeze them (requires_grad_(False)) or pass exclude=[...]"
                )
            uncalled.append(layer.name)
            continue
        if any(o.shape[0] != out.shape[0] for _, o in calls):  # called on a batch of its own (broadcast positions)
            shared.append(layer.name)
            continue
        with torch.no_grad():
            a = torch.cat([layer.inputs(x) for x, _ in calls], dim=1)
            d = torch.cat([layer.positions(g if g is not None else torch.zeros_like(o))
                           for (_, o), g in zip(calls, go)], dim=1)
            from_calls = torch.einsum("bto,bti->oi", d, a)
            size = torch.einsum("bto,bti->oi", d.abs(), a.abs())
            full = [g if g is not None else torch.zeros_like(p) for p, g in zip(layer.params(), gp)]
            whole = layer.matrix(full[0])
            if layer.bias:
                whole = torch.cat([whole, full[1][:, None]], dim=1)
            tol = rel_tol(a.dtype) * float(torch.maximum(size, whole.abs()).max())
            agree = bool(((from_calls - whole).abs() <= tol).all())
        if agree:
            kron.append(layer)
        else:
            shared.append(layer.name)
    return kron, tuple(uncalled), tuple(shared)


def _probe_norms(module: nn.Module, trainable: set[str], data: Data) -> list[NormLayer]:
    """The ``nn.LayerNorm`` layers with trainable affine parameters that are called through their modules, once per
    forward pass, on the first training examples (their per-example gradients come from hooks)."""
    found: list[NormLayer] = []
    for mname, m in module.named_modules():
        if type(m) is nn.LayerNorm and m.elementwise_affine:
            wn, bn = f"{mname}.weight", f"{mname}.bias"
            w = wn if m.weight is not None and wn in trainable else None
            b = bn if m.bias is not None and bn in trainable else None
            if w or b:
                found.append(NormLayer(mname, m, w, b))
    if not found:
        return []
    calls: dict[str, int] = {}
    handles = [n.module.register_forward_hook(
                   lambda mod, a, o, n=n: calls.__setitem__(n.name, calls.get(n.name, 0) + 1))
               for n in found]
    try:
        with torch.no_grad():
            inputs, _ = data.get(slice(0, min(data.n, PROBE_EXAMPLES)))
            call(module, inputs)
    finally:
        for h in handles:
            h.remove()
    return [n for n in found if calls.get(n.name) == 1]


def _probe_tied(module: nn.Module, shared: list[tuple[str, torch.Tensor]], data: Data
                ) -> dict[str, list[KronLayer]]:
    """Weights (not Kronecker blocks) used by several layers, e.g. a language model's token embedding tied to its
    output layer, whose uses account for their whole gradient on the first training examples (checked against
    autograd for a random output vector): by parameter name, the uses (``nn.Linear``, ``nn.Embedding``, ``Conv1D``
    called through their modules, biases apart)."""
    uses: dict[str, list[KronLayer]] = {}
    for nm, p in shared:
        found = [KronLayer(mname, m, False) for mname, m in module.named_modules()
                 if getattr(m, "weight", None) is p and (_kron_candidate(m) or isinstance(m, nn.Embedding))
                 and not isinstance(m, nn.Conv2d)]
        if found:
            uses[nm] = found
    if not uses:
        return {}
    inputs, _ = data.get(slice(0, min(data.n, PROBE_EXAMPLES)))
    record: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {}
    every = [u for us in uses.values() for u in us]
    handles = [u.module.register_forward_hook(_recorder(record, u.name, _batch_of(inputs))) for u in every]
    try:
        with torch.enable_grad():
            out = model_output(call(module, inputs))
    finally:
        for h in handles:
            h.remove()
    params = dict(shared)
    outs = [o for u in every for _, o in record.get(u.name, [])]
    if not out.requires_grad or not outs:
        return {}
    gen = torch.Generator().manual_seed(0)
    v = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(out.device, out.dtype)
    grads = torch.autograd.grad(out, [params[nm] for nm in uses] + outs, grad_outputs=v, allow_unused=True)
    whole = dict(zip(uses, grads[: len(uses)]))
    go = iter(grads[len(uses) :])
    found_ok: dict[str, list[KronLayer]] = {}
    sums = {nm: torch.zeros_like(params[nm]) for nm in uses}
    size = {nm: torch.zeros_like(params[nm]) for nm in uses}
    called = dict.fromkeys(uses, True)
    for nm, us in uses.items():
        for u in us:
            calls = record.get(u.name, [])
            called[nm] &= bool(calls)
            for x, _ in calls:
                g = next(go)
                if g is None:
                    continue
                with torch.no_grad():
                    a, d = u.inputs(x), u.positions(g)
                    sums[nm] += u.weight(torch.einsum("bto,bti->oi", d, a))
                    size[nm] += u.weight(torch.einsum("bto,bti->oi", d.abs(), a.abs()))
    for nm, us in uses.items():
        w = whole[nm]
        if not called[nm] or w is None:
            continue
        tol = rel_tol(w.dtype) * float(torch.maximum(size[nm], w.abs()).max())
        if bool(((sums[nm] - w).abs() <= tol).all()):
            found_ok[nm] = us
    return found_ok


def _index_strings(shape: tuple[int, ...]) -> list[str]:
    """``"i,j,..."`` for every index of ``shape`` in row-major order."""
    if not shape:
        return [""]
    grids = np.indices(shape).reshape(len(shape), -1).T
    return [",".join(map(str, row)) for row in grids.tolist()]


def _param_names(parts: list[tuple[int, Any]]) -> list[str]:
    """Names of the entries of ``theta``: ``layer.weight[o,j]``, ``layer.bias[o]``, ``name[i,...]``."""
    names: list[str] = []
    for _, p in parts:
        if isinstance(p, TiedWeight):
            names.extend(f"{p.name}[{t}]" for t in _index_strings(tuple(_tensor(p.module, "weight").shape)))
            continue
        if isinstance(p, KronLayer):
            pre = f"{p.name}.weight["
            if p.transposed:  # weight (d_in, d_out): block entry (o, j) is weight[j, o]
                for o in range(p.d_out):
                    names.extend(f"{pre}{j},{o}]" for j in range(p.d_w))
                    if p.bias:
                        names.append(f"{p.name}.bias[{o}]")
                continue
            tail = _index_strings(tuple(_tensor(p.module, "weight").shape[1:]))
            for o in range(p.d_out):
                names.extend(f"{pre}{o},{t}]" for t in tail)
                if p.bias:
                    names.append(f"{p.name}.bias[{o}]")
        else:
            name, shape = p
            names.extend([name] if not shape else [f"{name}[{t}]" for t in _index_strings(shape)])
    return names


class TorchModel:
    """The engine's :class:`~regdiag.engine.Model` for an ``nn.Module`` evaluated on a data set.

    Parameters
    ----------
    module : nn.Module
        Evaluated as is (put it in eval mode first: dropout and batch statistics would make examples interact).
    loss : Loss
    data : Data
        The training examples.
    l2 : float
        The L2 penalty of the training objective ``mean loss + (l2/2) ||theta||^2``.
    exclude : sequence of str
        ``fnmatch`` patterns of parameter names held fixed (not part of ``theta``).
    sampling : {"exact", "mc", "empirical_fisher"}
        Output vectors of the Gauss-Newton-type curvatures when the engine asks for samples (``mc_samples``):
        draws from the model's predictive distribution ("mc"), or the observed loss gradients
        ("empirical_fisher": the empirical Fisher, an outer product of gradients, not a curvature).
    seed : int
        Seed of the Monte Carlo draws: example ``i``'s come from a generator seeded with ``(seed, i)``
        (:class:`regdiag.engine.curvature.base.RowRandom`), ``i`` its position in the training data, so they do not
        depend on the batch size or the number of processes (a curvature's own seed is used when it passes one).
    index : pandas.Index, optional
        Row labels of the training examples.
    local_rows : slice, optional
        With several processes (``torch.distributed``): the contiguous training rows this process handles; sums
        over the training data are then all-reduced across ``group``. None: one process, every row.
    group : torch.distributed.ProcessGroup, optional
        The process group of the all-reductions (None: the default group).
    """

    def __init__(
        self,
        module: nn.Module,
        loss: Loss,
        data: Data,
        *,
        l2: float = 0.0,
        exclude: Sequence[str] = (),
        sampling: str = "exact",
        seed: int = 0,
        index: Any = None,
        local_rows: slice | None = None,
        group: Any = None,
    ) -> None:
        self.module, self.loss, self.data = module, loss, data
        self.l2 = float(l2)
        self.n_obs = data.n
        self.index = pd.RangeIndex(self.n_obs) if index is None else pd.Index(index)
        if len(self.index) != self.n_obs:
            raise DataError(f"index has {len(self.index)} labels but there are {self.n_obs} training examples")
        self.named = self._trainable(exclude)
        self._lay_out_blocks(self._sort_layers())
        p0 = self.named[0][1]
        #: the network's dtype; ``dtype``: the engine's, in which every per-example quantity is returned (float32
        #: for a 16-bit network; :class:`TorchInfluence` sets float64 while it accumulates factors)
        self.param_dtype, self.device = p0.dtype, p0.device
        self.dtype = engine_dtype(p0.dtype)
        self.params = self.flat_params()
        self.local_rows = local_rows
        self._group = group
        if local_rows is None:
            del self.local_rows
        else:
            self.all_reduce = self._all_reduce
        self._cache: dict[str, Any] = {}
        self._kron_cache: Any = None
        #: why torch.func.vmap could not run the model (plain blocks then take one backward pass per example)
        self._vmap_fails: str | None = None
        self._check_outputs()
        if sampling not in ("exact", "mc", "empirical_fisher"):
            raise ValueError(f"sampling={sampling!r} is not one of 'exact', 'mc', 'empirical_fisher'")
        self.sampling = sampling
        self.seed = int(seed)
        #: progress of query gradients (set by TorchInfluence)
        self.progress: ProgressArg = None
        if sampling in ("mc", "empirical_fisher"):
            self.sample_output_vectors = self._sample_output_vectors
        if callable(getattr(loss, "output_sqrt", None)):
            self.output_sqrt = self._output_sqrt

    def _trainable(self, exclude: Sequence[str]) -> list[tuple[str, torch.Tensor]]:
        """The trainable parameters not matched by an ``exclude`` pattern (``self.excluded``: those matched)."""
        named = [(nm, p) for nm, p in self.module.named_parameters() if p.requires_grad]
        self.excluded = tuple(nm for nm, _ in named if any(fnmatch.fnmatchcase(nm, pat) for pat in exclude))
        for pat in exclude:
            if not any(fnmatch.fnmatchcase(nm, pat) for nm, _ in named):
                raise ModelError(f"exclude pattern {pat!r} matches no trainable parameter; the trainable parameters "
                                 f"are {format_labels([nm for nm, _ in named], 8)}")
        kept: list[tuple[str, torch.Tensor]] = [(nm, p) for nm, p in named if nm not in self.excluded]
        if not kept:
            raise ModelError("the model has no trainable parameters (all are frozen or excluded)")
        return kept

    def _sort_layers(self) -> dict[str, KronLayer]:
        """Probe the network on the first training examples: by parameter name, the Kronecker block it belongs to
        (layers called through their modules, tied weights); sets ``norms`` (LayerNorms with hooks), ``tied``
        (shared weights and their uses), ``uncalled`` and ``shared`` (layers whose parameters are plain blocks)."""
        module, data = self.module, self.data
        trainable = {nm for nm, _ in self.named}
        candidates: list[KronLayer] = []
        for mname, m in module.named_modules():
            w = f"{mname}.weight" if mname else "weight"
            b = f"{mname}.bias" if mname else "bias"
            if _kron_candidate(m) and w in trainable:
                has_b = getattr(m, "bias", None) is not None and b in trainable
                candidates.append(KronLayer(mname or type(m).__name__, m, has_b))
        kron, self.uncalled, self.shared = _probe_layers(module, candidates, data)
        layer_of: dict[str, KronLayer] = {}
        names_of = {id(p): nm for nm, p in self.named}
        for layer in kron:
            for p in layer.params():
                layer_of[names_of[id(p)]] = layer
        #: LayerNorms called through their modules: per-example gradients from hooks
        self.norms = _probe_norms(module, trainable, data)
        #: weights shared by several layers (tied embeddings): per-example gradients summed over the uses, from hooks
        norm_params = {n.weight_name for n in self.norms} | {n.bias_name for n in self.norms}
        shared = [(nm, p) for nm, p in self.named if nm not in layer_of and nm not in norm_params and p.ndim == 2]
        self.tied = _probe_tied(module, shared, data)
        self.tied_uses = [use for uses in self.tied.values() for use in uses]
        #: tied weights factored as one shared Kronecker block each (the others: dense blocks)
        self.tied_blocks = [TiedWeight(nm, uses) for nm, uses in self.tied.items()
                            if len(uses) > 1 and max(_tensor(uses[0].module, "weight").shape) <= TIED_KRON_LIMIT]
        for tw in self.tied_blocks:
            layer_of[tw.name] = tw
        return layer_of

    def _lay_out_blocks(self, layer_of: dict[str, KronLayer]) -> None:
        """``theta``'s blocks in ``named_parameters()`` order: a Kronecker block per layer (at its first parameter),
        a plain block per other tensor; sets ``layers``, ``plain``, ``blocks``, ``n_params``, ``param_names``."""
        self.layers: list[KronLayer] = []
        self.plain: list[tuple[str, torch.Tensor]] = []
        blocks: list[Block] = []
        parts: list[tuple[int, Any]] = []
        pos = 0
        for nm, p in self.named:
            layer = layer_of.get(nm)
            if layer is not None:
                if layer in self.layers:
                    continue
                if not isinstance(layer, TiedWeight):  # the uses' modules are hooked
                    self.layers.append(layer)
                size = layer.shape[0] * layer.shape[1]
                blocks.append(Block(layer.name, pos, pos + size, shape=layer.shape))
                parts.append((pos, layer))
            else:
                self.plain.append((nm, p))
                size = p.numel()
                blocks.append(Block(nm, pos, pos + size))
                parts.append((pos, (nm, tuple(p.shape))))
            pos += size
        self.blocks = tuple(blocks)
        #: Kronecker blocks with one-hot inputs (nn.Embedding): K-FAC stores their diagonal input factor as a vector
        self.diagonal_inputs = frozenset(la.name for la in self.layers if la.kind == "embedding" and not la.bias)
        self.n_params = pos
        self.param_names = _param_names(parts)
        self._parts = parts

    def _check_outputs(self) -> None:
        """The model's outputs on one example against the loss; sets ``out_shape``, ``per_token`` and
        ``n_outputs``."""
        loss = self.loss
        inputs, _ = self.data.get(slice(0, 1))
        with torch.no_grad():
            out = model_output(call(self.module, inputs))
        self.out_shape = tuple(out.shape[1:])
        #: token losses: outputs (batch, tokens, vocab), any number of tokens per batch
        self.per_token = bool(getattr(loss, "per_token", False))
        self.n_outputs: int | None = int(np.prod(self.out_shape)) if self.out_shape else 1
        if self.per_token:
            if len(self.out_shape) != 2:
                raise ModelError(f"the {loss.name} loss needs outputs of shape (batch, tokens, vocab); the model "
                                 f"returns {(None,) + self.out_shape}")
            # a token loss (per_token, duck-typed: Loss declares no vocab)
            loss.vocab = int(self.out_shape[1])  # type: ignore[attr-defined]
            self.n_outputs = None  # varies with the number of tokens
        if loss.name == "cross_entropy" and len(self.out_shape) != 1:
            hint = (" (token logits: use loss='lm' for causal language modelling or 'token_cross_entropy')"
                    if len(self.out_shape) == 2 else "")
            raise ModelError(f"cross_entropy needs outputs of shape (n, n_classes); the model returns "
                             f"{(None,) + self.out_shape}{hint}")

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"], state["_kron_cache"] = {}, None  # tensors in an autograd graph
        return state

    # ---- parameters ---------------------------------------------------------------------------------------------
    def flat_params(self, tensors: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """``theta`` in the engine's order, or tensors shaped like the parameters flattened the same way.

        Parameters
        ----------
        tensors : dict of str to torch.Tensor, optional
            By parameter name, each shaped like its parameter (e.g. gradients). Default: the parameters.

        Returns
        -------
        torch.Tensor of shape (n_params,)
            Kronecker blocks as their ``[W | b]`` matrices row by row, other tensors flattened.
        """
        src = {nm: p.detach() for nm, p in self.named} if tensors is None else tensors
        names = {id(p): nm for nm, p in self.named}
        out = []
        for _, part in self._parts:
            if isinstance(part, KronLayer):
                W = part.matrix(src[names[id(_tensor(part.module, "weight"))]])
                if part.bias:
                    W = torch.cat([W, src[names[id(_tensor(part.module, "bias"))]][:, None]], dim=1)
                out.append(W.reshape(-1))
            else:
                out.append(src[part[0]].reshape(-1))
        return torch.cat(out)

    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Parameter tensors from a vector in the engine's order (the inverse of :meth:`flat_params`).

        Parameters
        ----------
        theta : torch.Tensor of shape (n_params,)
            Parameter values.

        Returns
        -------
        dict of str to torch.Tensor
            By parameter name, each shaped like its parameter; differentiable in ``theta``.
        """
        out: dict[str, torch.Tensor] = {}
        names = {id(p): nm for nm, p in self.named}
        for start, part in self._parts:
            if isinstance(part, KronLayer):
                size = part.shape[0] * part.shape[1]
                M = theta[start : start + size].reshape(part.shape)
                w = _tensor(part.module, "weight")
                out[names[id(w)]] = part.weight(M[:, : part.d_w])
                if part.bias:
                    out[names[id(_tensor(part.module, "bias"))]] = M[:, part.d_w]
            else:
                nm, shape = part
                size = int(np.prod(shape)) if shape else 1
                out[nm] = theta[start : start + size].reshape(shape)
        return out

    def _functional(self, params: dict[str, torch.Tensor], inputs: Any) -> torch.Tensor:
        if isinstance(inputs, dict):
            return model_output(torch.func.functional_call(self.module, params, (), inputs))
        return model_output(torch.func.functional_call(self.module, params, inputs))

    # ---- forward with hooks ---------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _hooks(self, record: dict[str, list[tuple[torch.Tensor, torch.Tensor]]], batch: int) -> Iterator[None]:
        hooked: list[KronLayer | NormLayer] = [*self.layers, *self.norms, *self.tied_uses]
        handles = [layer.module.register_forward_hook(_recorder(record, layer.name, batch)) for layer in hooked]
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    def forward(self, rows: slice, data: Data | None = None) -> dict[str, Any]:
        """Forward pass over ``rows``, cached for the last batch.

        Parameters
        ----------
        rows : slice
            The examples.
        data : Data, optional
            Whose examples (default: the training data).

        Returns
        -------
        dict of str to Any
            ``"f"``: the outputs ``(b, k)`` in the autograd graph; ``"y"``: the targets; ``"inputs"``; ``"record"``:
            per hooked layer, its ``(input, output)`` of each call; ``"values"``: the losses ``(b,)`` in the
            engine's dtype; ``"mask"``: the ``attention_mask`` or None; ``"key"`` and ``"data"`` identify the batch.
        """
        data = data or self.data
        key = (rows.start, rows.stop)
        if self._cache.get("key") == key and self._cache.get("data") is data:
            return self._cache
        self._cache = {}
        self._kron_cache = None
        inputs, y = data.get(rows)
        record: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {}
        with torch.enable_grad(), self._hooks(record, _batch_of(inputs)), _batching_notes():
            out = model_output(call(self.module, inputs))
            b = out.shape[0]
            f = out.reshape(b, -1)  # in the graph even when the caller runs under torch.no_grad()
        shape_ok = (out.ndim == 3 and out.shape[2] == self.out_shape[1]) if self.per_token else \
            tuple(out.shape[1:]) == self.out_shape
        if not shape_ok:
            want = f"({b}, tokens, {self.out_shape[1]})" if self.per_token else str((b,) + self.out_shape)
            raise ModelError(f"the model returned outputs of shape {tuple(out.shape)}; expected {want}")
        self.loss.check(f, y)
        vals = self.loss.values(f.detach().to(self.dtype), y)
        bad = ~torch.isfinite(vals)
        for _, x in input_tensors(inputs):
            if x.is_floating_point():
                bad |= ~torch.isfinite(x.reshape(b, -1)).all(dim=1)
        if bool(bad.any()):
            labels = self.index if data is self.data else pd.RangeIndex(data.n)
            rr = np.arange(*rows.indices(data.n))[bad.cpu().numpy()]
            raise ModelError(f"the loss is NaN or infinite, or the inputs are, for {data.what} rows "
                             f"{format_labels(labels[rr], 5)}: check the data and the model's outputs there")
        every: list[KronLayer | NormLayer] = [*self.layers, *self.norms]
        missing = [layer.name for layer in every if layer.name not in record]
        if missing:
            labels = self.index if data is self.data else pd.RangeIndex(data.n)
            raise ModelError(
                f"layer(s) {format_labels(missing, 5)} were called through their modules on the first training "
                f"examples but not in the forward pass over {data.what} rows "
                f"{format_labels(labels[np.arange(*rows.indices(data.n))], 5)}: a Kronecker-factored layer must be "
                "called for every example. Freeze or exclude its parameters (exclude=[...]) if they are unused there"
            )
        mask = inputs.get("attention_mask") if isinstance(inputs, dict) else None
        self._cache = {"key": key, "data": data, "f": f, "y": y, "inputs": inputs, "record": record, "values": vals,
                       "mask": mask}
        return self._cache

    def _outputs(self, st: dict[str, Any]) -> torch.Tensor:
        """The outputs of a forward pass, out of the graph, in the engine's dtype."""
        return st["f"].detach().to(self.dtype)

    def _backprop(self, rows: slice, V: torch.Tensor, data: Data | None = None) -> dict[str, tuple[Any, Any]]:
        """Per Kronecker layer: inputs ``(b, T, d_in)`` and the output vectors ``V (b, C, k)`` back-propagated to
        the layer's outputs, ``(b, C, T, d_out)``; several calls of one layer are positions of one call. Per
        LayerNorm (by its name): ``(input, (b, C, *out))``. Inputs at positions an ``attention_mask`` masks are
        zero (their outputs get no gradient; so they count in no factor)."""
        st = self.forward(rows, data)
        if self._kron_cache is not None and self._kron_cache[0] is st and self._kron_cache[1] is V:
            return self._kron_cache[2]
        hooked: list[KronLayer | NormLayer] = [*self.layers, *self.norms, *self.tied_uses]
        if not hooked:
            return {}
        outs = [o for layer in hooked for _, o in st["record"][layer.name]]
        C = V.shape[1]
        with torch.enable_grad():
            grads: list[tuple[torch.Tensor, ...]] = [
                torch.autograd.grad(st["f"], outs, grad_outputs=V[:, c, :].to(st["f"].dtype), retain_graph=True,
                                    allow_unused=True)
                for c in range(C)
            ]
        res: dict[str, tuple[Any, Any]] = {}
        mask = st["mask"]
        j = 0
        for layer in hooked:
            calls = st["record"][layer.name]
            if isinstance(layer, NormLayer):
                (x, o), = calls
                per_c = [g[j] if g[j] is not None else torch.zeros_like(o) for g in grads]
                j += 1
                res[layer.name] = (x, torch.stack(per_c, dim=1).detach().to(self.dtype))
                continue
            parts = []
            for x, _ in calls:
                a = layer.inputs(x)
                if mask is not None and not layer.conv and a.shape[1] == mask.shape[1]:
                    a = a * mask[:, :, None].to(a.dtype)
                parts.append(a)
            ds = []
            for k, (_, o) in enumerate(calls):
                per_c = [g[j + k] if g[j + k] is not None else torch.zeros_like(o) for g in grads]
                ds.append(torch.stack([layer.positions(g) for g in per_c], dim=1))
            j += len(calls)
            res[layer.name] = (torch.cat(parts, dim=1).detach().to(self.dtype),
                               torch.cat(ds, dim=2).detach().to(self.dtype))
        for tw in self.tied_blocks:
            res[tw.name] = tw.combine([res[u.name] for u in tw.uses])
        self._kron_cache = (st, V, res)  # holds V: the same tensor, not a new one at a reused address
        return res

    def _plain_vjp(self, rows: slice, V: torch.Tensor, data: Data | None = None) -> list[torch.Tensor]:
        """Per plain block: ``(b, C, size)`` per-example vector-Jacobian products: from hooks for LayerNorms, by
        ``torch.func`` (``vmap``) for the others, or by one backward pass per example where ``vmap`` cannot run the
        model (data-dependent control flow, ``.item()``)."""
        if not self.plain:
            return []
        st = self.forward(rows, data)
        got: dict[str, torch.Tensor] = {}
        if self.norms or self.tied:
            hooked = self._backprop(rows, V, data)
            for norm in self.norms:
                x, d = hooked[norm.name]
                got.update(norm.grads(x, d))
            for nm, uses in self.tied.items():
                if nm not in dict(self.plain):
                    continue
                terms = []
                for u in uses:
                    a, d = hooked[u.name]
                    M = torch.einsum("bcto,bti->bcoi", d, a)
                    terms.append(M.transpose(-1, -2) if u.transposed
                                 else M.reshape(M.shape[:2] + _tensor(u.module, "weight").shape))
                total = terms[0]
                for term in terms[1:]:
                    total = total + term
                got[nm] = total
        rest = {nm: p.detach() for nm, p in self.plain if nm not in got}
        if rest:
            if not self._vmap_fails:
                try:
                    got.update(self._plain_vmap(rest, st["inputs"], V))
                except RuntimeError as e:
                    self._vmap_fails = f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
            if self._vmap_fails:
                got.update(self._plain_loop(rest, st, V))
        return [got[nm].reshape(V.shape[0], V.shape[1], -1) for nm, _ in self.plain]

    def _plain_vmap(self, plain: dict[str, torch.Tensor], inputs: Any, V: torch.Tensor) -> dict[str, torch.Tensor]:
        fixed = {nm: p.detach() for nm, p in self.module.named_parameters()}
        fixed.update(dict(self.module.named_buffers()))

        def one(pp: dict[str, torch.Tensor], xs: Any, v: torch.Tensor) -> Any:
            def fwd(q: dict[str, torch.Tensor]) -> torch.Tensor:
                return self._functional({**fixed, **q}, map_inputs(lambda x: x[None], xs)).reshape(-1)

            vjp = torch.func.vjp(fwd, pp)[1]
            return torch.func.vmap(vjp)(v)[0]

        with _batching_notes():
            got = torch.func.vmap(one, in_dims=(None, 0, 0))(plain, inputs, V.to(self.param_dtype))
        return {nm: g.to(self.dtype) for nm, g in got.items()}

    def _plain_loop(self, plain: dict[str, torch.Tensor], st: dict[str, Any], V: torch.Tensor
                    ) -> dict[str, torch.Tensor]:
        """Per-example vector-Jacobian products by one forward and ``C`` backward passes per example."""
        params = {nm: p for nm, p in self.named if nm in plain}
        out = {nm: V.new_zeros((V.shape[0], V.shape[1]) + tuple(p.shape)) for nm, p in params.items()}
        inputs = st["inputs"]
        for i in range(V.shape[0]):
            xi = map_inputs(lambda x, i=i: x[i : i + 1], inputs)
            with torch.enable_grad():
                fi = model_output(call(self.module, xi)).reshape(-1)
                for c in range(V.shape[1]):
                    gs = torch.autograd.grad(fi, list(params.values()), grad_outputs=V[i, c].to(fi.dtype),
                                             retain_graph=True, allow_unused=True)
                    for nm, g in zip(params, gs):
                        if g is not None:
                            out[nm][i, c] = g
        return out

    # ---- the engine's protocol ---------------------------------------------------------------------------------------
    def output_hessians(self, rows: slice) -> torch.Tensor:
        """Hessians of each example's loss in the model outputs (an optional capability of an engine model).

        Parameters
        ----------
        rows : slice
            The training examples.

        Returns
        -------
        torch.Tensor of shape (b, k, k)
            In the engine's dtype, one per example.
        """
        st = self.forward(rows)
        return self.loss.hessian(self._outputs(st), st["y"]).detach()

    def _output_sqrt(self, rows: slice) -> torch.Tensor:
        """``(b, k, C)`` square roots of the output Hessians in the loss's closed form (token losses)."""
        st = self.forward(rows)
        # set as self.output_sqrt only when the loss has one (checked in __init__); Loss declares none
        return self.loss.output_sqrt(self._outputs(st), st["y"]).detach()  # type: ignore[attr-defined]

    def one_shape(self) -> tuple[int, ...]:
        """The shape of one example's outputs as a batch of one.

        Returns
        -------
        tuple of int
            ``(1, *out_shape)``; ``(1, -1, vocab)`` for token losses (any number of tokens).
        """
        return (1, -1, self.out_shape[1]) if self.per_token else (1,) + self.out_shape

    def kron_factors(self, rows: slice, V: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Layer inputs and output vectors back-propagated to the layer outputs, per Kronecker block.

        Parameters
        ----------
        rows : slice
            The training examples.
        V : torch.Tensor of shape (b, C, k)
            ``C`` output vectors per example.

        Returns
        -------
        dict of str to (torch.Tensor, torch.Tensor)
            By block name, ``(a, d)``: ``a`` of shape ``(b, d_in)`` and ``d`` of shape ``(b, C, d_out)`` for a layer
            with one position per example, else ``(b, T, d_in)`` and ``(b, C, T, d_out)`` over its ``T``
            positions (the per-example gradient for vector ``c`` is ``sum_t d_ct a_t'``).
        """
        out = {}
        for name, (a, d) in self._backprop(rows, V).items():
            out[name] = (a[:, 0], d[:, :, 0]) if a.shape[1] == 1 else (a, d)
        return out

    def output_vjp(self, rows: slice, V: torch.Tensor, data: Data | None = None) -> torch.Tensor:
        """Vector-Jacobian products ``J_i' v_ic`` with the Jacobians of the outputs in ``theta``.

        Parameters
        ----------
        rows : slice
            The examples.
        V : torch.Tensor of shape (b, C, k)
            ``C`` output vectors per example.
        data : Data, optional
            Whose examples (default: the training data).

        Returns
        -------
        torch.Tensor of shape (b, C, n_params)
            In the engine's dtype.
        """
        kron = self._backprop(rows, V, data)
        plain = iter(self._plain_vjp(rows, V, data))
        out = torch.empty(V.shape[0], V.shape[1], self.n_params, dtype=self.dtype, device=self.device)
        for blk, (_, part) in zip(self.blocks, self._parts):
            if isinstance(part, KronLayer):
                a, d = kron[part.name]
                view = out[:, :, blk.slice].unflatten(2, blk.shape)
                if a.shape[1] == 1:
                    torch.mul(d[:, :, 0, :, None], a[:, None, 0, None, :], out=view)
                else:
                    view.copy_(torch.einsum("bcto,bti->bcoi", d, a))
            else:
                out[:, :, blk.slice] = next(plain)
        return out

    def loss_gradients(self, rows: slice) -> torch.Tensor:
        """Gradients ``grad l_i(theta)`` of each example's loss.

        Parameters
        ----------
        rows : slice
            The training examples.

        Returns
        -------
        torch.Tensor of shape (b, n_params)
            In the engine's dtype.
        """
        st = self.forward(rows)
        V = self.loss.grad(self._outputs(st), st["y"])[:, None, :]
        return self.output_vjp(rows, V)[:, 0, :]

    def _sample_output_vectors(self, rows: slice, s: int, rng: Any) -> torch.Tensor:
        """``(b, s, k)`` Monte Carlo output vectors (or the observed gradients for the empirical Fisher). Each
        example's draws come from its own generator (``rng`` when it is a :class:`RowRandom`, else one seeded with
        ``(self.seed, row)``): the same for any batch size and number of processes."""
        st = self.forward(rows)
        f = self._outputs(st)
        if self.sampling == "empirical_fisher":
            return self.loss.grad(f, st["y"])[:, None, :].expand(-1, s, -1) / float(np.sqrt(s))
        if not isinstance(rng, RowRandom):
            rng = RowRandom(self.seed, rows)
        V = self.loss.sample(f, st["y"], s, rng)
        if V is not None:
            return V
        # no sampler of the loss's predictive distribution: R z / sqrt(s) with R the symmetric square root of the
        # output Hessian (as the engine draws them) and z standard normal
        H = self.loss.hessian(f, st["y"]).detach()
        lam, Q = torch.linalg.eigh((H + H.mT) / 2)
        top = float(lam.abs().max()) if lam.numel() else 0.0
        if lam.numel() and float(lam.min()) < -max(1e-10, 1e3 * torch.finfo(lam.dtype).eps) * max(top, 1e-300):
            raise ModelError(f"the Hessian of the loss {self.loss.name} in the outputs is not positive semi-definite: "
                             "the Gauss-Newton matrix needs a loss convex in the outputs")
        lam = torch.where(lam > 64 * torch.finfo(lam.dtype).eps * lam[:, -1:], lam, 0.0)
        R = (Q * lam.sqrt()[:, None, :]) @ Q.mT
        Z = torch.as_tensor(rng.standard_normal((f.shape[0], f.shape[1], s)), dtype=f.dtype, device=f.device)
        return (R @ Z).mT * (1.0 / math.sqrt(s))

    def query_gradients(self, query: Data, measurement: Any = "loss", rows: slice | None = None,
                        per_token: bool = False) -> torch.Tensor:
        """Gradients of each query's loss, or of a measurement, in ``theta``.

        Progress is reported through ``self.progress``.

        Parameters
        ----------
        query : Data
            The query examples.
        measurement : "loss" or callable
            ``measurement(output, target)``: one number per example, a function of the model's output.
        rows : slice, optional
            The queries (default all).
        per_token : bool
            Token losses: the gradient of each position's token loss instead of the sequence's.

        Returns
        -------
        torch.Tensor of shape (n_query, n_params)
            In the engine's dtype; with ``per_token``, ``(n_query, T, n_params)``.
        """
        if measurement != "loss" and not callable(measurement):
            raise ValueError(f"measurement must be 'loss' or a callable(output, target), not {measurement!r}")
        if per_token and (measurement != "loss" or not self.per_token):
            raise ValueError("per_token=True needs a token loss ('lm' or 'token_cross_entropy') and "
                             "measurement='loss'")
        rows = rows or slice(0, query.n)
        lo, hi, _ = rows.indices(query.n)
        out: torch.Tensor | None = None
        bl = batches(hi - lo, query.batch, lo)
        pr = Progress(self.progress, "scores: query gradients", len(bl))
        for sub in bl:
            st = self.forward(sub, query)
            f = self._outputs(st)
            at = slice(sub.start - lo, sub.stop - lo)
            if per_token:
                # checked above: a token loss (per_token), which Loss does not declare
                V = self.loss.token_grads(f, st["y"])  # type: ignore[attr-defined]
                if out is None:
                    out = torch.empty(hi - lo, V.shape[1], self.n_params, dtype=self.dtype, device=self.device)
                elif V.shape[1] != out.shape[1]:
                    raise DataError(f"per-token scores need query sequences of one length; query rows {sub.start}.."
                                    f"{sub.stop - 1} have {V.shape[1]} tokens, the first have {out.shape[1]}")
                out[at] = self.output_vjp(sub, V, query)
                pr.advance()
                continue
            if out is None:
                out = torch.empty(hi - lo, self.n_params, dtype=self.dtype, device=self.device)
            if measurement == "loss":
                V = self.loss.grad(f, st["y"])
            else:
                if sub.start == lo:
                    self._check_measurement(measurement, f[:1], st["y"][:1])

                def m(fi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
                    val = measurement(fi.reshape(self.one_shape()), yi[None])
                    if not isinstance(val, torch.Tensor) or val.numel() != 1:
                        raise ModelError(_measurement_message(val, self.out_shape))
                    return val.reshape(())

                V = torch.func.vmap(torch.func.grad(m))(f, st["y"])
            out[at] = self.output_vjp(sub, V[:, None, :], query)[:, 0, :]
            pr.advance()
        self._cache = {}
        assert out is not None
        return out

    def _check_measurement(self, measurement: Any, f: torch.Tensor, y: torch.Tensor) -> None:
        """A clear error unless ``measurement`` returns one floating-point number for one example."""
        with torch.no_grad():
            val = measurement(f.reshape(self.one_shape()), y)
        if not isinstance(val, torch.Tensor) or val.numel() != 1:
            raise ModelError(_measurement_message(val, self.out_shape))
        if not val.is_floating_point():
            raise ModelError(f"measurement(output, target) must return floating-point numbers (it is differentiated "
                             f"in the outputs); it returned {val.dtype}")

    # ---- exact curvature --------------------------------------------------------------------------------------------
    def _example_loss(self, theta: torch.Tensor, xs: tuple[torch.Tensor, ...], y: torch.Tensor) -> torch.Tensor:
        fixed = dict(self.module.named_buffers())
        fixed.update({nm: p.detach() for nm, p in self.module.named_parameters()})
        out = self._functional({**fixed, **self.unflatten(theta)}, map_inputs(lambda x: x[None], xs))
        return self.loss.values(out.reshape(1, -1), y[None])[0]

    def hvp(self, V: torch.Tensor) -> torch.Tensor:
        """Products with the Hessian of the mean loss (forward-over-reverse ``torch.func``).

        Parameters
        ----------
        V : torch.Tensor of shape (k, n_params)
            The vectors, one per row.

        Returns
        -------
        torch.Tensor of shape (k, n_params)
            ``V H``, ``H`` the Hessian of the mean loss over the training examples (without the ``l2`` term).
        """
        theta = self.params
        out = torch.zeros_like(V)
        rows_all = _local_batches(self)
        for rows in rows_all:
            xs, y = self.data.get(rows)

            def total(t: torch.Tensor, xs: Any = xs, y: torch.Tensor = y) -> torch.Tensor:
                return torch.func.vmap(self._example_loss, in_dims=(None, 0, 0))(t, xs, y).sum()

            g = torch.func.grad(total)
            for c in range(0, V.shape[0], HVP_CHUNK):
                Vc = V[c : c + HVP_CHUNK]
                with _exact_needs_torch_func():
                    out[c : c + HVP_CHUNK] += torch.func.vmap(lambda v, g=g: torch.func.jvp(g, (theta,), (v,))[1])(Vc)
        out = self._all_reduce(out) if hasattr(self, "local_rows") else out
        return out / self.n_obs

    def hessian_factors(self, rows: slice) -> tuple[torch.Tensor, torch.Tensor]:
        """Factors of each example's loss Hessian, ``hess l_i = U_i' diag(s_i) U_i``, for the leverage correction.

        From the eigendecompositions of the per-example Hessians (numerically zero eigenvalues dropped); at most
        ``EXACT_FACTORS_LIMIT`` parameters.

        Parameters
        ----------
        rows : slice
            The training examples.

        Returns
        -------
        U : torch.Tensor of shape (b, r, n_params)
            Eigenvectors, ``r`` the largest number of nonzero eigenvalues in the batch.
        s : torch.Tensor of shape (b, r)
            Their eigenvalues (0 where an example has fewer).
        """
        if self.n_params > EXACT_FACTORS_LIMIT:
            raise ModelError(f"the leverage correction with the exact curvature needs per-example Hessians of "
                             f"{self.n_params} parameters (at most {EXACT_FACTORS_LIMIT}); use the Gauss-Newton "
                             "curvature (its per-example terms are low rank) or correction='none'")
        xs, y = self.data.get(rows)
        with _exact_needs_torch_func():
            H = torch.func.vmap(torch.func.hessian(self._example_loss), in_dims=(None, 0, 0))(self.params, xs, y)
        e, Q = torch.linalg.eigh((H + H.mT) / 2)
        top = e.abs().amax(dim=1, keepdim=True)
        keep = e.abs() > 64 * torch.finfo(e.dtype).eps * self.n_params * top
        r = max(int(keep.sum(dim=1).max()), 1)
        order = torch.argsort(-e.abs(), dim=1, stable=True)[:, :r]
        s = torch.gather(torch.where(keep, e, 0.0), 1, order)
        U = torch.gather(Q.mT, 1, order[:, :, None].expand(-1, -1, self.n_params))
        return U, s

    # ---- several processes -----------------------------------------------------------------------------------------
    def _all_reduce(self, x: Any) -> Any:
        import torch.distributed as dist

        if isinstance(x, torch.Tensor):
            x = x.clone()
            dist.all_reduce(x, op=dist.ReduceOp.SUM, group=self._group)
            return x
        t = torch.tensor([float(x)], dtype=torch.float64, device=self._comm_device())
        dist.all_reduce(t, op=dist.ReduceOp.SUM, group=self._group)
        return float(t.item())

    def _comm_device(self) -> torch.device:
        import torch.distributed as dist

        return torch.device("cpu") if dist.get_backend(self._group) == "gloo" else self.device


@contextlib.contextmanager
def _exact_needs_torch_func() -> Iterator[None]:
    """The exact curvature differentiates the model twice with ``torch.func`` (``vmap`` over examples, forward mode
    over reverse mode). A model that these do not support (data-dependent control flow under ``vmap``, an attention
    kernel without forward-mode derivatives) is a :class:`~regdiag.ModelError` naming the cause and what works."""
    try:
        yield
    except (RuntimeError, NotImplementedError) as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ModelError(
            f"the exact curvature differentiates the model twice with torch.func (vmap over examples, forward mode "
            f"over reverse mode), which this model does not support ({type(exc).__name__}: {first}). Use "
            "curvature='gauss_newton', 'ekfac' or 'kfac', which loop over examples where vmap fails; for a Hugging "
            "Face model built with scaled-dot-product attention, attn_implementation='eager' may let the exact "
            "curvature run"
        ) from exc


@contextlib.contextmanager
def _batching_notes() -> Iterator[None]:
    """PyTorch's warnings that ``vmap`` falls back to a slow path for an operator, collected into one
    :class:`~regdiag.InfluenceWarning` per operator set (not one per call)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    slow = set()
    for w in caught:
        msg = str(w.message)
        if "performance drop" in msg and "batching rule" in msg:
            slow.add(msg.split("for ")[-1].split(".")[0][:80] if "for " in msg else "an operator")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    new = slow - _SLOW_NOTED
    if new:
        _SLOW_NOTED.update(new)
        warn(f"torch.func.vmap has no batching rule for {', '.join(sorted(new))}: per-example gradients of "
             "the blocks without Kronecker structure take PyTorch's slower fallback there (correct, slower)")


_SLOW_NOTED: set[str] = set()


def _measurement_message(val: Any, out_shape: tuple[int, ...]) -> str:
    got = f"shape {tuple(val.shape)}" if isinstance(val, torch.Tensor) else type(val).__name__
    return (f"measurement(output, target) must return one number per example, shape (batch,): given the output of one "
            f"example, shape {(1,) + tuple(out_shape)}, it returned {got}. Reduce over the outputs, e.g. "
            "output[:, c] for class c's logit or output.logsumexp(1)")


def _local_batches(model: TorchModel) -> list[slice]:
    local = getattr(model, "local_rows", None) or slice(0, model.n_obs)
    size = model.data.batch
    return batches(local.stop - local.start, size, local.start)
