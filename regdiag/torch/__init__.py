"""Influence for PyTorch networks (the ``regdiag[torch]`` extra): the only part of regdiag that imports torch.

:class:`TorchInfluence` adapts a trained ``nn.Module`` to the second-order influence engine
(:class:`TorchModel` implements :class:`regdiag.engine.Model` with autograd) and registers a torch array backend,
so the engine's curvatures (exact, Gauss-Newton, K-FAC, EK-FAC, diagonal, identity) and solvers run on torch tensors
on the model's device.
"""

from __future__ import annotations

from ._backend import TORCH, TorchBackend
from ._losses import LOSSES
from ._model import KronLayer, TorchModel
from .influence import TorchInfluence

__all__ = ["TorchInfluence", "TorchModel", "KronLayer", "TorchBackend", "TORCH", "LOSSES"]
