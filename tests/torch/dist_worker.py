"""A process of the two-process gloo test (imported by torch.multiprocessing's spawn)."""

from __future__ import annotations

import datetime
import os

import numpy as np
import torch
import torch.distributed as dist
from torch import nn


def problem():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(8, 3)).double()
    X = torch.randn(37, 1, 4, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (37,))
    return net, X, y


def results(distributed: bool | None) -> dict[str, np.ndarray]:
    from regdiag.torch import TorchInfluence

    net, X, y = problem()
    out = {}
    for curvature in ("ekfac", "gauss_newton", "exact"):
        ti = TorchInfluence(net, "cross_entropy", (X, y), curvature=curvature, damping=1.0, batch_size=5,
                            check_optimum=False, distributed=distributed).fit()
        out[f"{curvature}_scores"] = ti.scores((X[:6], y[:6]))
        out[f"{curvature}_self"] = ti.self_influence()
        if curvature in ("ekfac", "gauss_newton"):
            out[f"{curvature}_dense"] = ti.engine.curvature.dense().numpy()
    lev = TorchInfluence(net, "cross_entropy", (X, y), curvature="ekfac", correction="leverage", damping=0.05,
                         batch_size=5, check_optimum=False, distributed=distributed).fit()
    out["leverage_scores"] = lev.scores((X[:6], y[:6]))
    out["rows"] = np.array([getattr(lev.model, "local_rows", slice(0, 37)).start,
                            getattr(lev.model, "local_rows", slice(0, 37)).stop])
    return out


def worker(rank: int, world: int, rendezvous: str, outdir: str) -> None:
    # a shared file as the rendezvous: no TCP port to pick, so no race with other processes for a free one
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=120))
    try:
        res = results(None)
        np.savez(os.path.join(outdir, f"rank{rank}.npz"), **res)
        dist.barrier()
    finally:
        dist.destroy_process_group()
