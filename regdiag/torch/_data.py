"""Training and query data as random-access batches of tensors: a tuple of tensors, a map-style dataset (a Dataset,
a list of examples), or a DataLoader over one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset
from torch.utils.data._utils.collate import default_collate, default_convert

from .._validation import DataError

__all__ = ["Data"]


def _as_tensor(x: Any, what: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    raise DataError(f"{what} must be a torch tensor or a numpy array, got {type(x).__name__}")


def _examples(data: tuple | list) -> bool:
    """Whether a tuple or list holds examples ``(inputs..., target)`` (rather than the columns ``x, y``)."""
    return len(data) > 0 and all(isinstance(e, (tuple, list)) for e in data)


class _Examples:
    """A sequence of examples as a map-style dataset."""

    def __init__(self, items: tuple | list) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Any:
        return self.items[i]


class Data:
    """Rows of ``(inputs..., target)`` examples fetched by slice, moved to ``device``.

    Parameters
    ----------
    data : tuple of tensors, Dataset, sequence of examples or DataLoader
        A tuple ``(x, y)`` or ``(x1, ..., xm, y)`` of tensors with the examples along the first axis (the model is
        called as ``model(x1, ..., xm)``; ``y`` is the target); a map-style dataset (anything with ``__len__`` and
        ``__getitem__``, a ``Dataset`` or a list such as ``list(zip(X, y))``) whose items are tuples
        ``(x1, ..., xm, y)``; or a ``DataLoader`` over one (its dataset and ``collate_fn`` are used, in the
        dataset's order: shuffling and samplers are ignored). A tuple or list whose elements are all tuples or lists
        is a sequence of examples; otherwise its elements are the tensors.
    what : str
        "train" or "query", for messages.
    """

    def __init__(self, data: Any, *, what: str, device: torch.device, dtype: torch.dtype) -> None:
        self.what = what
        self.device = device
        self.dtype = dtype
        self.loader_batch: int | None = None
        #: examples per batch (set by the caller)
        self.batch = 256
        self.collate = default_collate
        self.tensors: tuple[torch.Tensor, ...] | None = None
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
        if isinstance(data, (tuple, list)):
            if not data:
                raise DataError(f"{what} data is empty: pass (x, y) tensors or a sequence of (x, y) examples")
            if any(isinstance(e, (tuple, list)) for e in data):
                raise DataError(f"{what} data mixes examples (tuples) and other elements: pass a tuple of tensors "
                                "(x, y), or a sequence whose every element is an example (x, y)")
            ts = tuple(_as_tensor(t, f"element {j} of the {what} tuple") for j, t in enumerate(data))
            if len(ts) < 2:
                raise DataError(f"{what} data must hold inputs and targets: (x, y) or (x1, ..., xm, y); got a "
                                f"tuple of {len(ts)}")
            lengths = [t.shape[0] if t.ndim else None for t in ts]
            if any(n is None or n != lengths[0] for n in lengths):
                raise DataError(f"the tensors of the {what} tuple must have the same number of rows; got first "
                                f"dimensions {[tuple(t.shape) for t in ts]}")
            self.tensors = ts
            self.n = int(lengths[0])
        elif isinstance(data, Dataset) or (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
            self.dataset = data
            self.n = len(data)
        else:
            raise DataError(f"{what} data must be a tuple of tensors (x, y), a map-style Dataset or a sequence of "
                            f"(x, y) examples, or a DataLoader over one; got {type(data).__name__}")
        if self.n < 1:
            raise DataError(f"{what} data has no examples")
        first = self._raw(slice(0, 1))
        self.n_inputs = len(first) - 1
        self.shapes = tuple(tuple(t.shape[1:]) for t in first)
        self.kinds = tuple(t.dtype for t in first)
        for j, t in enumerate(first[:-1]):
            if t.is_floating_point() and t.dtype != dtype:
                raise DataError(f"{what} input {j} is {t.dtype} but the model's parameters are {dtype}; convert the "
                                f"data (x.to({dtype})) or the model (model.to({dtype}))")

    def _raw(self, rows: slice) -> tuple[torch.Tensor, ...]:
        if self.tensors is not None:
            return tuple(t[rows] for t in self.tensors)
        idx = range(*rows.indices(self.n))
        items = [self.dataset[i] for i in idx]
        if self.collate is not default_collate:
            batch = self.collate(items)
            if isinstance(batch, torch.Tensor) or not isinstance(batch, Sequence) or len(batch) < 2:
                raise DataError(f"{self.what} batches must be tuples (inputs..., target); the DataLoader's collate_fn "
                                f"gave {type(batch).__name__}")
            return tuple(_as_tensor(t, f"a collated {self.what} field") for t in batch)
        for i, item in zip(idx, items):
            if isinstance(item, torch.Tensor) or not isinstance(item, Sequence) or isinstance(item, str) or len(item) < 2:
                got = f"a tuple of {len(item)}" if isinstance(item, Sequence) and not isinstance(item, str) else \
                    type(item).__name__
                raise DataError(f"{self.what} examples must be tuples (inputs..., target); example {i} is {got}")
            if len(item) != len(items[0]):
                raise DataError(f"{self.what} examples must all have the same number of fields; example {i} has "
                                f"{len(item)}, example {idx[0]} has {len(items[0])}")
        try:
            batch = default_collate(items)
        except (RuntimeError, TypeError, ValueError) as e:
            raise DataError(f"{self.what} examples {idx[0]}..{idx[-1]} could not be batched ({e}): every field must "
                            "be a tensor, array or number of the same shape in every example") from None
        if isinstance(batch, torch.Tensor) or not isinstance(batch, Sequence) or len(batch) < 2:
            raise DataError(f"{self.what} examples must be tuples (inputs..., target); the dataset gave "
                            f"{type(items[0]).__name__}")
        return tuple(_as_tensor(t, f"a collated {self.what} field") for t in batch)

    def get(self, rows: slice) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """``(inputs, target)`` of ``rows`` on the device (floating targets in the model's dtype)."""
        fields = self._raw(rows)
        dev = [t.to(self.device, non_blocking=True) for t in fields]
        if dev[-1].is_floating_point():
            dev[-1] = dev[-1].to(self.dtype)
        return tuple(dev[:-1]), dev[-1]

    def check_like(self, other: Data) -> None:
        """Raise a :class:`DataError` when ``other`` (queries) does not look like these examples (training data)."""
        if other.n_inputs != self.n_inputs:
            raise DataError(f"{other.what} examples have {other.n_inputs} input tensors but the training examples "
                            f"have {self.n_inputs}")
        for j, (a, b) in enumerate(zip(other.shapes, self.shapes)):
            name = "target" if j == self.n_inputs else f"input {j}"
            if a != b:
                raise DataError(f"{other.what} {name} has shape {a} per example but the training {name} has {b}: "
                                "pass queries shaped like the training examples (a batch along the first axis)")
