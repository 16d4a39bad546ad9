"""TorchInfluence on a tiny GPT-2 trained here on the text of a standard-library source file, against kronfluence 1.0.1
EK-FAC and the identity (gradient dot products) as the floor: linear datamodeling score, time and peak memory.

The model: ``transformers.GPT2LMHeadModel`` built from a config (no download), character-level tokens of
``textwrap.py`` (the file shipped with this Python), sequences of ``--seq`` characters, trained in float32 with Adam to
convergence of ``mean over sequences of the summed next-token loss + (l2/2) ||theta||^2`` (the objective of
``TorchInfluence(model, "lm", ..., l2=l2)``), then polished with L-BFGS.

Linear datamodeling score (LDS): the model is retrained (warm start from the trained weights, the same optimizer
to convergence) on ``--subsets`` random halves of the training sequences; for each held-out query sequence, the
Spearman correlation across halves between its actual loss and the summed scores of the removed half, averaged over
queries, with its standard error across queries.

kronfluence tracks ``nn.Linear`` modules only: GPT-2's ``Conv1D`` layers are rewritten as ``nn.Linear`` for it here
(the same function), so it factors the attention and MLP layers and the (tied) output layer, and ignores the
embeddings and LayerNorms. regdiag is run on all trainable parameters, and restricted to kronfluence's layers.

Not part of the test suite. kronfluence would pull another torch build; install it beside the project without its
dependencies and put it on the path::

    python -m pip install --no-deps --target /tmp/kf kronfluence==1.0.1 einconv einops opt_einsum
    PYTHONPATH=/tmp/kf:. python benchmarks/bench_torch_gpt2.py     # writes benchmarks/results_torch_gpt2.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from measure import measured

from regdiag.torch import TorchInfluence


# ---- data and model ---------------------------------------------------------------------------------------------
def corpus(seq: int, n_train: int, n_query: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Character sequences of textwrap.py, cut into blocks of ``seq`` characters; training and query sequences are
    disjoint random blocks (seeded)."""
    text = Path(textwrap.__file__).read_text()
    chars = sorted(set(text))
    ids = torch.tensor([chars.index(c) for c in text])
    blocks = ids[: (len(ids) // seq) * seq].reshape(-1, seq)
    if len(blocks) < n_train + n_query:
        raise SystemExit(f"textwrap.py has {len(blocks)} sequences of {seq} characters; asked for "
                         f"{n_train + n_query}")
    order = np.random.default_rng(0).permutation(len(blocks))
    return blocks[order[:n_train]], blocks[order[n_train : n_train + n_query]], chars


def gpt2(vocab: int, seq: int, width: int, layers: int, seed: int = 0) -> nn.Module:
    import transformers

    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(vocab_size=vocab, n_positions=seq, n_embd=width, n_layer=layers, n_head=2,
                                  bos_token_id=0, eos_token_id=0, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    return transformers.GPT2LMHeadModel(cfg).eval()


def sequence_losses(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """``(n,)`` summed next-token cross-entropy of each sequence."""
    logits = model(input_ids=ids).logits
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1),
                           reduction="none").reshape(len(ids), -1).sum(1)


def train(model: nn.Module, ids: torch.Tensor, lam: float, adam_steps: int, lbfgs_rounds: int = 1,
          lr: float = 1e-2) -> float:
    """Adam then L-BFGS on ``mean sequence loss + (lam/2)||theta||^2``; returns the final gradient norm."""
    params = [p for p in model.parameters() if p.requires_grad]

    def objective():
        return sequence_losses(model, ids).mean() + 0.5 * lam * sum((p**2).sum() for p in params)

    opt = torch.optim.Adam(params, lr=lr)
    for _ in range(adam_steps):
        opt.zero_grad()
        objective().backward()
        opt.step()
    lb = torch.optim.LBFGS(params, lr=1, max_iter=50, history_size=30, tolerance_grad=1e-7, tolerance_change=0,
                           line_search_fn="strong_wolfe")

    def closure():
        lb.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    for _ in range(lbfgs_rounds):
        lb.step(closure)
    closure()
    return float(torch.sqrt(sum((p.grad**2).sum() for p in params)))


# ---- kronfluence ------------------------------------------------------------------------------------------------
def as_linear(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose transformers ``Conv1D`` layers are ``nn.Linear`` (weight transposed): the same
    function, in the modules kronfluence factors."""
    import copy

    from transformers.pytorch_utils import Conv1D

    out = copy.deepcopy(model)
    for _name, mod in list(out.named_modules()):
        for child_name, child in list(mod.named_children()):
            if isinstance(child, Conv1D):
                lin = nn.Linear(child.nx, child.nf)
                with torch.no_grad():
                    lin.weight.copy_(child.weight.T)
                    lin.bias.copy_(child.bias)
                setattr(mod, child_name, lin)
    return out


def kronfluence_run(model, train_ids, query_ids, damping, batch, outdir, strategy="ekfac"):
    from kronfluence.analyzer import Analyzer, prepare_model
    from kronfluence.arguments import FactorArguments, ScoreArguments
    from kronfluence.task import Task

    class LanguageModelling(Task):
        def compute_train_loss(self, batch, model, sample=False):
            ids = batch["input_ids"]
            logits = model(input_ids=ids).logits[:, :-1]
            logits = logits.reshape(-1, logits.shape[-1])
            if sample:
                with torch.no_grad():
                    target = torch.multinomial(torch.softmax(logits.detach(), dim=-1), 1).flatten()
            else:
                target = ids[:, 1:].reshape(-1)
            return F.cross_entropy(logits, target, reduction="sum")

        def compute_measurement(self, batch, model):
            return sequence_losses(model, batch["input_ids"]).sum()

    class Rows(torch.utils.data.Dataset):
        def __init__(self, ids):
            self.ids = ids

        def __len__(self):
            return len(self.ids)

        def __getitem__(self, i):
            return {"input_ids": self.ids[i]}

    task = LanguageModelling()
    prepared = prepare_model(as_linear(model), task)
    analyzer = Analyzer(analysis_name="gpt2", model=prepared, task=task, cpu=True, disable_tqdm=True,
                        output_dir=outdir, disable_model_save=True)
    train_ds, query_ds = Rows(train_ids), Rows(query_ids)

    def fit():
        analyzer.fit_all_factors(factors_name=strategy, dataset=train_ds, per_device_batch_size=batch,
                                 factor_args=FactorArguments(strategy=strategy), overwrite_output_dir=True)

    def score():
        analyzer.compute_pairwise_scores(scores_name="s", factors_name=strategy, query_dataset=query_ds,
                                         train_dataset=train_ds, per_device_query_batch_size=len(query_ds),
                                         per_device_train_batch_size=batch,
                                         score_args=ScoreArguments(damping_factor=damping), overwrite_output_dir=True)
        return analyzer.load_pairwise_scores("s")["all_modules"].double().numpy()

    def self_scores():
        analyzer.compute_self_scores(scores_name="self", factors_name=strategy, train_dataset=train_ds,
                                     per_device_train_batch_size=batch,
                                     score_args=ScoreArguments(damping_factor=damping), overwrite_output_dir=True)
        return analyzer.load_self_scores("self")["all_modules"].double().numpy()

    return fit, score, self_scores


def regdiag_run(model, train_ids, query_ids, lam, curvature, batch, **kw):
    holder = {}

    def fit():
        holder["ti"] = TorchInfluence(model, "lm", {"input_ids": train_ids}, curvature=curvature, l2=lam,
                                      batch_size=batch, **kw).fit()

    def score():
        return holder["ti"].scores({"input_ids": query_ids})

    def self_scores():
        return holder["ti"].self_influence()

    return fit, score, self_scores


#: name -> (tool, curvature, options)
CASES = {
    "regdiag ekfac": ("regdiag", "ekfac", {}),
    "regdiag ekfac (kronfluence's layers)": ("regdiag", "ekfac", {"exclude": ["transformer.wte.*", "transformer.wpe.*",
                                                                             "*ln_*"]}),
    "regdiag ekfac (16 samples per sequence)": ("regdiag", "ekfac", {"mc_samples": 16}),
    "regdiag kfac": ("regdiag", "kfac", {}),
    "regdiag identity": ("regdiag", "identity", {}),
    "kronfluence ekfac": ("kronfluence", "ekfac", {}),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seq", type=int, default=24)
    ap.add_argument("--n-train", type=int, default=128)
    ap.add_argument("--n-query", type=int, default=32)
    ap.add_argument("--width", type=int, default=24)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--lam", type=float, default=1e-2)
    ap.add_argument("--subsets", type=int, default=30)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--out", default=str(Path(__file__).with_name("results_torch_gpt2.json")))
    args = ap.parse_args()
    torch.set_num_threads(2)
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    train_ids, query_ids, chars = corpus(args.seq, args.n_train, args.n_query)
    model = gpt2(len(chars), args.seq, args.width, args.layers)
    n_params = sum(p.numel() for p in model.parameters())
    t0 = time.perf_counter()
    gnorm = train(model, train_ids, args.lam, args.steps)
    t_train = time.perf_counter() - t0
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        qloss = float(sequence_losses(model, query_ids).mean()) / (args.seq - 1)
        tloss = float(sequence_losses(model, train_ids).mean()) / (args.seq - 1)
    print(f"GPT-2 {n_params} parameters, vocab {len(chars)}; trained in {t_train:.0f} s, gradient norm {gnorm:.1e}, "
          f"token loss train {tloss:.3f} query {qloss:.3f}", flush=True)

    rng = np.random.default_rng(1)
    n = len(train_ids)
    masks = np.zeros((args.subsets, n), dtype=bool)
    actual = np.empty((len(query_ids), args.subsets))
    t0 = time.perf_counter()
    sub_gnorm = 0.0
    for s in range(args.subsets):
        keep = np.sort(rng.permutation(n)[: n // 2])
        masks[s, keep] = True
        sub = gpt2(len(chars), args.seq, args.width, args.layers)
        sub.load_state_dict(state)
        sub_gnorm = max(sub_gnorm, train(sub, train_ids[keep], args.lam, args.steps // 5, lbfgs_rounds=0, lr=3e-3))
        with torch.no_grad():
            actual[:, s] = sequence_losses(sub, query_ids).double().numpy()
    t_retrain = time.perf_counter() - t0
    print(f"retrained {args.subsets} halves in {t_retrain:.0f} s (largest gradient norm {sub_gnorm:.1e})", flush=True)

    def lds(S: np.ndarray) -> tuple[float, float]:
        pred = S @ (~masks).astype(float).T
        rho = np.array([stats.spearmanr(pred[q], actual[q])[0] for q in range(len(query_ids))])
        rho = np.nan_to_num(rho)
        return float(rho.mean()), float(rho.std(ddof=1) / np.sqrt(len(rho)))

    results, scores = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (tool, curvature, opts) in CASES.items():
            model.load_state_dict(state)
            if tool == "regdiag":
                fit, score, own = regdiag_run(model, train_ids, query_ids, args.lam, curvature, args.batch, **opts)
            else:
                fit, score, own = kronfluence_run(model, train_ids, query_ids, args.lam, args.batch, tmp)
            runs = [(measured(fit), measured(score), measured(own)) for _ in range(2)]
            S = runs[0][1][0]
            # time: the lesser of two runs (other work on a shared machine only adds to it); memory: the first
            tf, ts, ti = (min(r[k][1] for r in runs) for k in range(3))
            mf, ms, mi = (runs[0][k][2] for k in range(3))
            scores[name] = S
            mean, se = lds(S)
            results[name] = {"lds": mean, "lds_standard_error": se, "fit_seconds": tf, "fit_peak_mib": mf,
                             "score_seconds": ts, "score_peak_mib": ms, "self_influence_seconds": ti,
                             "self_influence_peak_mib": mi}
            print(f"{name:38s} LDS {mean:.3f} (se {se:.3f})  fit {tf:.2f}s {mf:.0f}MiB  score {ts:.2f}s {ms:.0f}MiB  "
                  f"self-influence {ti:.2f}s {mi:.0f}MiB", flush=True)
    kf = scores.get("kronfluence ekfac")
    if kf is not None:
        for name in results:
            results[name]["score_correlation_with_kronfluence_ekfac"] = float(
                np.corrcoef(scores[name].ravel(), kf.ravel())[0, 1])

    import kronfluence
    import transformers

    out = {
        "problem": {"data": f"textwrap.py of Python {platform.python_version()}, characters, {args.seq} per sequence",
                    "vocab": len(chars), "n_train": n, "n_query": len(query_ids),
                    "model": f"GPT2LMHeadModel n_embd={args.width} n_layer={args.layers} n_head=2, float32, "
                             f"{n_params} parameters (tied token embedding)",
                    "l2": args.lam, "damping": "regdiag: l2 in the curvature, damping 0; kronfluence: damping_factor "
                    "= l2", "sampling": "regdiag: one label drawn per token (default for loss='lm'); kronfluence: "
                    "the same (its Task samples labels)", "train_gradient_norm": gnorm,
                    "train_seconds": t_train, "subsets": args.subsets, "subset_max_gradient_norm": sub_gnorm,
                    "train": f"Adam (lr 1e-2) {args.steps} steps, then L-BFGS (50 iterations)",
                    "retrain": f"warm start from the trained model, Adam (lr 3e-3) {args.steps // 5} steps",
                    "retrain_seconds": t_retrain,
                    "batch_size": args.batch, "threads": 2,
                    "lds_standard_error": "standard deviation of the per-query Spearman correlations / sqrt(n_query)",
                    "time": "lesser of two runs of each stage", "machine_load": os.getloadavg(),
                    "memory": "peak resident set above the start of the stage, first run (one process, stages in "
                              "order)"},
        "results": results,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "kronfluence": kronfluence.__version__, "python": platform.python_version()},
    }
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
