"""Training and query data as random-access batches of tensors: a tuple of tensors, a dict of tensors (a tokenizer's
``BatchEncoding``), a map-style dataset (a Dataset, a list of examples, tuples or dicts), or a DataLoader over one.

Dict batches are Hugging Face style: the model is called with the entries as keyword arguments, except ``labels``
(or ``label``), which is the target; a language-model loss without ``labels`` takes ``input_ids`` as the target. Where
the batch has an ``attention_mask`` of the targets' shape, masked positions get the ignored target ``-100``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset
from torch.utils.data._utils.collate import default_collate, default_convert

from .._validation import DataError

__all__ = ["Data", "call", "map_inputs"]

#: keys of a dict batch that hold the target (the first present is used)
LABEL_KEYS = ("labels", "label")
#: the ignored target of token losses (torch's and Hugging Face's ``ignore_index``)
IGNORE_INDEX = -100


def call(module: Any, inputs: Any) -> Any:
    """``module(**inputs)`` for a dict of inputs, ``module(*inputs)`` for a tuple."""
    return module(**inputs) if isinstance(inputs, Mapping) else module(*inputs)


def map_inputs(fn: Any, inputs: Any) -> Any:
    """``fn`` applied to every tensor of a tuple or dict of inputs (same container)."""
    if isinstance(inputs, Mapping):
        return {k: fn(v) for k, v in inputs.items()}
    return tuple(fn(v) for v in inputs)


def input_tensors(inputs: Any) -> list[tuple[str, torch.Tensor]]:
    """``(name, tensor)`` of a tuple (``"input j"``) or dict (``"input 'key'"``) of inputs."""
    if isinstance(inputs, Mapping):
        return [(f"input {k!r}", v) for k, v in inputs.items()]
    return [(f"input {j}", v) for j, v in enumerate(inputs)]


def _as_tensor(x: Any, what: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    raise DataError(f"{what} must be a torch tensor or a numpy array, got {type(x).__name__}")


def _examples(data: tuple | list) -> bool:
    """Whether a tuple or list holds examples ``(inputs..., target)`` or dicts (rather than the columns ``x, y``)."""
    return len(data) > 0 and all(isinstance(e, (tuple, list, Mapping)) for e in data)


class _Examples:
    """A sequence of examples as a map-style dataset."""

    def __init__(self, items: tuple | list) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Any:
        return self.items[i]


class Data:
    """Rows of examples fetched by slice, moved to ``device``: ``(inputs, target)`` with ``inputs`` a tuple (the model
    is called as ``model(*inputs)``) or a dict (``model(**inputs)``).

    Parameters
    ----------
    data : tuple of tensors, dict of tensors, Dataset, sequence of examples or DataLoader
        A tuple ``(x, y)`` or ``(x1, ..., xm, y)`` of tensors with the examples along the first axis (the model is
        called as ``model(x1, ..., xm)``; ``y`` is the target); a dict of such tensors (Hugging Face style: keyword
        arguments of the model, ``labels`` the target); a map-style dataset (anything with ``__len__`` and
        ``__getitem__``, a ``Dataset`` or a list such as ``list(zip(X, y))``) whose items are tuples
        ``(x1, ..., xm, y)`` or dicts; or a ``DataLoader`` over one (its dataset and ``collate_fn`` are used, in the
        dataset's order: shuffling and samplers are ignored; a collate function may pad each batch to its own
        length). A tuple or list whose elements are all tuples, lists or dicts is a sequence of examples; otherwise
        its elements are the tensors.
    what : str
        "train" or "query", for messages.
    targets_from_inputs : bool
        A dict batch without ``labels`` takes ``input_ids`` as its target (language modelling).
    """

    def __init__(self, data: Any, *, what: str, device: torch.device, dtype: torch.dtype,
                 targets_from_inputs: bool = False) -> None:
        self.what = what
        self.device = device
        self.dtype = dtype
        self.targets_from_inputs = targets_from_inputs
        self.loader_batch: int | None = None
        #: examples per batch (set by the caller)
        self.batch = 256
        self.collate = default_collate
        self.tensors: tuple[torch.Tensor, ...] | dict[str, torch.Tensor] | None = None
        self.dataset: Any = None
        loader = isinstance(data, DataLoader)
        if loader:
            self.loader_batch = data.batch_size
            if data.collate_fn is not None and data.collate_fn is not default_convert:  # not batch_size=None's
                self.collate = data.collate_fn
            data = data.dataset
        if isinstance(data, IterableDataset):
            raise DataError(f"{what} data is an IterableDataset: influence needs random access to every example; "
                            "pass a map-style Dataset or a tuple of tensors")
        if isinstance(data, TensorDataset):
            data = tuple(data.tensors)
        elif isinstance(data, (tuple, list)) and (loader or _examples(data)):
            data = _Examples(data)  # a DataLoader's dataset, or a list of (inputs..., target) examples
        if isinstance(data, Mapping):
            if not data:
                raise DataError(f"{what} data is an empty dict: pass tensors such as input_ids, attention_mask, labels")
            cols = {str(k): _as_tensor(v, f"entry {k!r} of the {what} dict") for k, v in data.items()}
            rows_of = {k: (t.shape[0] if t.ndim else None) for k, t in cols.items()}
            first = next(iter(rows_of.values()))
            if first is None or any(n != first for n in rows_of.values()):
                raise DataError(f"the tensors of the {what} dict must have the same number of rows; got "
                                f"{ {k: tuple(t.shape) for k, t in cols.items()} }")
            self.tensors = cols
            self.n = int(first)
        elif isinstance(data, (tuple, list)):
            if not data:
                raise DataError(f"{what} data is empty: pass (x, y) tensors or a sequence of (x, y) examples")
            if any(isinstance(e, (tuple, list, Mapping)) for e in data):
                raise DataError(f"{what} data mixes examples (tuples) and other elements: pass a tuple of tensors "
                                "(x, y), or a sequence whose every element is an example (x, y)")
            ts = tuple(_as_tensor(t, f"element {j} of the {what} tuple") for j, t in enumerate(data))
            if len(ts) < 2:
                raise DataError(f"{what} data must hold inputs and targets: (x, y) or (x1, ..., xm, y); got a "
                                f"tuple of {len(ts)}")
            lengths = [t.shape[0] if t.ndim else None for t in ts]
            n_first = lengths[0]
            if n_first is None or any(n != n_first for n in lengths):
                raise DataError(f"the tensors of the {what} tuple must have the same number of rows; got first "
                                f"dimensions {[tuple(t.shape) for t in ts]}")
            self.tensors = ts
            self.n = int(n_first)
        elif isinstance(data, Dataset) or (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
            self.dataset = data
            self.n = len(data)
        else:
            raise DataError(f"{what} data must be a tuple of tensors (x, y), a dict of tensors, a map-style Dataset or "
                            f"a sequence of (x, y) examples, or a DataLoader over one; got {type(data).__name__}")
        if self.n < 1:
            raise DataError(f"{what} data has no examples")
        first_inputs, first_y = self.get(slice(0, 1), move=False)
        self.is_dict = isinstance(first_inputs, Mapping)
        self.keys = tuple(first_inputs) if self.is_dict else ()
        self.n_inputs = len(first_inputs)
        named = input_tensors(first_inputs)
        self.shapes = tuple(tuple(t.shape[1:]) for _, t in named) + (tuple(first_y.shape[1:]),)
        for name, t in named:
            if t.is_floating_point() and t.dtype != dtype:
                raise DataError(f"{what} {name} is {t.dtype} but the model's parameters are {dtype}; convert the "
                                f"data (x.to({dtype})) or the model (model.to({dtype}))")

    def _raw(self, rows: slice) -> tuple[torch.Tensor, ...] | dict[str, torch.Tensor]:
        if isinstance(self.tensors, dict):
            return {k: t[rows] for k, t in self.tensors.items()}
        if self.tensors is not None:
            return tuple(t[rows] for t in self.tensors)
        idx = range(*rows.indices(self.n))
        items = [self.dataset[i] for i in idx]
        if self.collate is not default_collate:
            return self._fields(self.collate(items), "the DataLoader's collate_fn gave")
        for i, item in zip(idx, items):
            if isinstance(item, Mapping):
                if not isinstance(items[0], Mapping) or set(item) != set(items[0]):
                    raise DataError(f"{self.what} examples must all have the same fields; example {i} has "
                                    f"{_describe(item)}, example {idx[0]} has {_describe(items[0])}")
                continue
            if (isinstance(item, torch.Tensor) or not isinstance(item, Sequence) or isinstance(item, str)
                    or len(item) < 2):
                got = f"a tuple of {len(item)}" if isinstance(item, Sequence) and not isinstance(item, str) else \
                    type(item).__name__
                raise DataError(f"{self.what} examples must be tuples (inputs..., target); example {i} is {got} (or "
                                "dicts of named inputs with labels)")
            if isinstance(items[0], Mapping) or len(item) != len(items[0]):
                raise DataError(f"{self.what} examples must all have the same number of fields; example {i} has "
                                f"{_describe(item)}, example {idx[0]} has {_describe(items[0])}")
        try:
            batch = default_collate(items)
        except (RuntimeError, TypeError, ValueError) as e:
            raise DataError(f"{self.what} examples {idx[0]}..{idx[-1]} could not be batched ({e}): every field must "
                            "be a tensor, array or number of the same shape in every example (sequences of "
                            "different lengths need a DataLoader whose collate_fn pads them)") from None
        return self._fields(batch, "the dataset gave")

    def _fields(self, batch: Any, source: str) -> tuple[torch.Tensor, ...] | dict[str, torch.Tensor]:
        if isinstance(batch, Mapping):
            return {str(k): _as_tensor(v, f"entry {k!r} of a collated {self.what} batch") for k, v in batch.items()}
        if isinstance(batch, torch.Tensor) or not isinstance(batch, Sequence) or len(batch) < 2:
            raise DataError(f"{self.what} batches must be tuples (inputs..., target) or dicts; {source} "
                            f"{type(batch).__name__}")
        return tuple(_as_tensor(t, f"a collated {self.what} field") for t in batch)

    def get(self, rows: slice, move: bool = True) -> tuple[Any, torch.Tensor]:
        """``(inputs, target)`` of ``rows`` on the device (floating targets in the model's dtype); ``inputs`` a tuple
        or a dict of tensors."""
        fields = self._raw(rows)
        inputs: tuple[torch.Tensor, ...] | dict[str, torch.Tensor]
        if isinstance(fields, dict):
            inputs, y = self._split_dict(fields)
        else:
            inputs, y = tuple(fields[:-1]), fields[-1]
        if move:
            inputs = map_inputs(lambda t: t.to(self.device, non_blocking=True), inputs)
            y = y.to(self.device, non_blocking=True)
            if y.is_floating_point():
                y = y.to(self.dtype)
        return inputs, y

    def _split_dict(self, fields: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        inputs = dict(fields)
        key = next((k for k in LABEL_KEYS if k in inputs), None)
        if key is not None:
            y = inputs.pop(key)
        elif self.targets_from_inputs and "input_ids" in inputs:
            y = inputs["input_ids"]
        else:
            need = "labels (or input_ids, for loss='lm')" if self.targets_from_inputs else "labels"
            raise DataError(f"{self.what} batches are dicts with entries {sorted(fields)} but no target: add {need}")
        mask = inputs.get("attention_mask")
        if mask is not None and y.shape == mask.shape and not y.is_floating_point():
            y = y.masked_fill(mask == 0, IGNORE_INDEX)
        return inputs, y

    def check_like(self, other: Data) -> None:
        """Raise a :class:`DataError` when ``other`` (queries) does not look like these examples (training data)."""
        if other.is_dict != self.is_dict:
            form = {True: "dicts", False: "tuples"}
            raise DataError(f"{other.what} examples are {form[other.is_dict]} but the training examples are "
                            f"{form[self.is_dict]}")
        if self.is_dict:
            if set(other.keys) != set(self.keys):
                raise DataError(f"{other.what} batches have inputs {sorted(other.keys)} but the training batches have "
                                f"{sorted(self.keys)}")
            return  # token sequences may differ in length
        if other.n_inputs != self.n_inputs:
            raise DataError(f"{other.what} examples have {other.n_inputs} input tensors but the training examples "
                            f"have {self.n_inputs}")
        for j, (a, b) in enumerate(zip(other.shapes, self.shapes)):
            name = "target" if j == self.n_inputs else f"input {j}"
            if a != b:
                raise DataError(f"{other.what} {name} has shape {a} per example but the training {name} has {b}: "
                                "pass queries shaped like the training examples (a batch along the first axis)")


def _describe(item: Any) -> str:
    if isinstance(item, Mapping):
        return f"fields {sorted(item)}"
    return str(len(item)) if isinstance(item, Sequence) else type(item).__name__
