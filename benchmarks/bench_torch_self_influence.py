"""Self-influence of every training example on a 784-256-256-10 MLP (269,322 parameters): regdiag's blockwise route
(layer factors rotated into each Kronecker block's eigenbasis, one pass of per-example gradients), the engine's
general route (full per-example gradients through the solver, what ``self_influence()`` did before), and kronfluence
1.0.1's ``compute_self_scores``, all EK-FAC on the same model, data and damping, in one process; time and peak memory.

Not part of the test suite. kronfluence beside the project, without its dependencies (see bench_torch_gpt2.py)::

    PYTHONPATH=/tmp/kf:. python benchmarks/bench_torch_self_influence.py   # writes results_torch_self_influence.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

sys.path.insert(0, str(Path(__file__).parent))
from measure import measured

from regdiag.torch import TorchInfluence


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--damping", type=float, default=1e-3)
    ap.add_argument("--out", default=str(Path(__file__).with_name("results_torch_self_influence.json")))
    args = ap.parse_args()
    torch.set_num_threads(2)
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    g = torch.Generator().manual_seed(0)
    X = torch.randn(args.n, 784, generator=g)
    y = torch.randint(0, 10, (args.n,), generator=g)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(784, 256), nn.Tanh(), nn.Linear(256, 256), nn.Tanh(), nn.Linear(256, 10))
    ti = TorchInfluence(net, "cross_entropy", (X, y), damping=args.damping, batch_size=args.batch,
                        check_optimum=False).fit()
    blockwise, t_block, m_block = measured(ti.self_influence)
    eng = ti.engine

    def general():
        with torch.no_grad():
            return torch.cat([(lambda D, G: (G * D).sum(1))(*eng.delta(slice(s, min(s + args.batch, args.n)))[:2])
                              for s in range(0, args.n, args.batch)]).numpy()

    general_route, t_gen, m_gen = measured(general)

    from kronfluence.analyzer import Analyzer, prepare_model
    from kronfluence.arguments import FactorArguments, ScoreArguments
    from kronfluence.task import Task

    class Classification(Task):
        def compute_train_loss(self, batch, model, sample=False):
            x, t = batch
            logits = model(x)
            if sample:
                with torch.no_grad():
                    t = torch.multinomial(torch.softmax(logits.detach(), dim=-1), 1).flatten()
            return F.cross_entropy(logits, t, reduction="sum")

        def compute_measurement(self, batch, model):
            x, t = batch
            return F.cross_entropy(model(x), t, reduction="sum")

    task = Classification()
    with tempfile.TemporaryDirectory() as tmp:
        analyzer = Analyzer(analysis_name="self", model=prepare_model(net, task), task=task, cpu=True,
                            disable_tqdm=True, output_dir=tmp, disable_model_save=True)
        ds = TensorDataset(X, y)
        analyzer.fit_all_factors(factors_name="ekfac", dataset=ds, per_device_batch_size=args.batch,
                                 factor_args=FactorArguments(strategy="ekfac"), overwrite_output_dir=True)

        def kf_self():
            analyzer.compute_self_scores(scores_name="self", factors_name="ekfac", train_dataset=ds,
                                         per_device_train_batch_size=args.batch,
                                         score_args=ScoreArguments(damping_factor=args.damping),
                                         overwrite_output_dir=True)
            return analyzer.load_self_scores("self")["all_modules"].double().numpy()

        kf, t_kf, m_kf = measured(kf_self)
    import kronfluence

    out = {
        "problem": {"model": "Linear(784,256)-tanh-Linear(256,256)-tanh-Linear(256,10), float32, 269,322 parameters",
                    "n_train": args.n, "batch_size": args.batch, "damping": args.damping, "curvature": "ekfac",
                    "data": "standard normal inputs, random labels (timing only)", "threads": 2,
                    "machine_load": os.getloadavg(),
                    "memory": "peak resident set above the start of the stage"},
        "regdiag_blockwise": {"seconds": t_block, "peak_mib": m_block},
        "regdiag_general_route": {"seconds": t_gen, "peak_mib": m_gen,
                                  "max_relative_difference": float(np.abs(blockwise - general_route).max()
                                                                   / np.abs(blockwise).max())},
        "kronfluence_ekfac": {"seconds": t_kf, "peak_mib": m_kf,
                              "spearman_with_regdiag": float(np.corrcoef(np.argsort(np.argsort(kf)),
                                                                         np.argsort(np.argsort(blockwise)))[0, 1])},
        "versions": {"torch": torch.__version__, "kronfluence": kronfluence.__version__,
                     "python": platform.python_version()},
    }
    print(json.dumps(out, indent=2))
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
