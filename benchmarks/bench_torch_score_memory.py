"""Scoring memory and passes over the training data against the number of queries: a 784-256-256-10 MLP (269,322
parameters, float32), EK-FAC, ``scores(query)`` for 100 to 2,000 queries. Per stage: peak resident memory above the
start of the stage (``fit``, then each ``scores`` call in a fresh state of the fitted object), wall time, and the
number of training batches read (the model's forward passes over training rows that were not cached), with the
factored training gradients kept across query chunks (the default) and without (``TRAIN_CACHE = 0``: one pass per
chunk).

Not part of the test suite::

    PYTHONPATH=. python benchmarks/bench_torch_score_memory.py   # writes benchmarks/results_torch_score_memory.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from measure import measured

import regdiag.torch.influence as influence_module
from regdiag.torch import TorchInfluence


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--queries", type=int, nargs="+", default=[100, 400, 1600])
    ap.add_argument("--reread-up-to", type=int, default=400, help="largest number of queries also run without the "
                    "training cache (one pass over the training data per query chunk)")
    ap.add_argument("--out", default=str(Path(__file__).with_name("results_torch_score_memory.json")))
    args = ap.parse_args()
    torch.set_num_threads(2)
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    g = torch.Generator().manual_seed(0)
    X = torch.randn(args.n + max(args.queries), 784, generator=g)
    y = torch.randint(0, 10, (len(X),), generator=g)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(784, 256), nn.Tanh(), nn.Linear(256, 256), nn.Tanh(), nn.Linear(256, 10))
    train = (X[: args.n], y[: args.n])
    ti, t_fit, m_fit = measured(lambda: TorchInfluence(net, "cross_entropy", train, damping=1e-3,
                                                       batch_size=args.batch, check_optimum=False).fit())
    reads: list[slice] = []
    data = ti.model.data
    get = data.get
    data.get = lambda rows: reads.append(rows) or get(rows)  # type: ignore[method-assign]
    n_batches = -(-args.n // args.batch)
    rows = []
    for nq in args.queries:
        query = (X[args.n : args.n + nq], y[args.n : args.n + nq])
        per_chunk = max(1, influence_module.QUERY_CHUNK // ti.model.n_params)
        for cache in (influence_module.TRAIN_CACHE, 0) if nq <= args.reread_up_to else (influence_module.TRAIN_CACHE,):
            saved = influence_module.TRAIN_CACHE
            influence_module.TRAIN_CACHE = cache
            reads.clear()
            try:
                S, sec, mib = measured(lambda q=query: ti.scores(q))
            finally:
                influence_module.TRAIN_CACHE = saved
            rows.append({"queries": nq, "query_chunks": -(-nq // per_chunk), "train_cache_numbers": cache,
                         "train_batches_read": len(reads), "train_batches": n_batches, "seconds": sec,
                         "peak_mib": mib, "finite": bool(np.isfinite(S).all())})
            print(json.dumps(rows[-1]), flush=True)
    out = {
        "problem": {"model": "Linear(784,256)-tanh-Linear(256,256)-tanh-Linear(256,10), float32, 269,322 parameters",
                    "n_train": args.n, "batch_size": args.batch, "curvature": "ekfac", "damping": 1e-3,
                    "data": "standard normal inputs, random labels (memory and time only)", "threads": 2,
                    "query_chunk_numbers": influence_module.QUERY_CHUNK,
                    "machine_load": os.getloadavg(),
                    "memory": "peak resident set above the start of the stage (Linux VmHWM)"},
        "fit": {"seconds": t_fit, "peak_mib": m_fit},
        "scores": rows,
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
    }
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
