"""An ``nn.Embedding`` of a real vocabulary as one Kronecker block: K-FAC and EK-FAC with the input factor (one-hot
tokens: diagonal, the token frequencies) stored as a vector. A bag-of-tokens classifier (embedding, mean over the
tokens, a linear layer); per configuration: wall time and peak resident memory above the start of each stage
(``fit``, ``scores`` of 4 queries, ``self_influence``), the stored input factor's shape, and the memory a dense
``vocab x vocab`` input factor would need for comparison.

Not part of the test suite::

    PYTHONPATH=. python benchmarks/bench_torch_embedding.py   # writes benchmarks/results_torch_embedding.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from measure import measured

from regdiag.torch import TorchInfluence


class BagOfTokens(nn.Module):
    def __init__(self, vocab: int, dim: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.out = nn.Linear(dim, 3)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.out(self.emb(idx).mean(dim=1))


def run(vocab: int, dim: int, n: int, tokens: int, curvature: str, dtype: torch.dtype, batch: int | None) -> dict:
    torch.manual_seed(0)
    net = BagOfTokens(vocab, dim).to(dtype)
    g = torch.Generator().manual_seed(1)
    idx, y = torch.randint(0, vocab, (n, tokens), generator=g), torch.randint(0, 3, (n,), generator=g)
    ti, fit_s, fit_mib = measured(lambda: TorchInfluence(net, "cross_entropy", (idx, y), curvature=curvature,
                                                         damping=1e-2, check_optimum=False, batch_size=batch).fit())
    S, score_s, score_mib = measured(lambda: ti.scores((idx[:4], y[:4])))
    own, self_s, self_mib = measured(ti.self_influence)
    part = ti.engine.curvature.parts[0]
    A = part.scale_factors[1]
    itemsize = torch.finfo(dtype).bits // 8
    return dict(vocab=vocab, dim=dim, n=n, tokens=tokens, batch_size=batch, curvature=curvature,
                dtype=str(dtype).split(".")[-1],
                n_params=ti.model.n_params, input_factor_shape=list(A.shape), QA=None if part.QA is None else "dense",
                dense_input_factor_mib=vocab * vocab * itemsize / 2**20,
                fit_s=round(fit_s, 2), fit_peak_mib=round(fit_mib, 1), scores_s=round(score_s, 2),
                scores_peak_mib=round(score_mib, 1), self_influence_s=round(self_s, 2),
                self_influence_peak_mib=round(self_mib, 1),
                self_equals_score_diagonal=float(np.max(np.abs(own[:4] - np.diag(S[:, :4])) / np.abs(own[:4]))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).with_name("results_torch_embedding.json")))
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = []
    # the batch bounds the memory of the passes over the data (per-example gradients, EK-FAC's projections: batch x
    # n_params numbers each, 154 MB per example for the 50,257 x 768 embedding)
    for cfg in [(60_000, 16, 64, 8, c, torch.float64, None) for c in ("kfac", "ekfac")] + [
            (50_257, 768, 16, 8, c, torch.float32, 2) for c in ("kfac", "ekfac")]:
        rows.append(run(*cfg))
        print(json.dumps(rows[-1]), flush=True)
    meta = dict(python=platform.python_version(), torch=torch.__version__, threads=1, load=os.getloadavg())
    Path(args.out).write_text(json.dumps(dict(meta=meta, rows=rows), indent=1) + "\n")


if __name__ == "__main__":
    main()
