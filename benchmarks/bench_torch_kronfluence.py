"""TorchInfluence against kronfluence 1.0.1 on a small MLP: linear datamodeling score, wall time and peak memory.

(b) Linear datamodeling score (LDS): a tanh MLP (61-64-10) trained with an L2 penalty on 1,000 standardized 8x8
digits is retrained on random halves of the training set (warm-started L-BFGS to convergence); for each of 200
queries, the Spearman correlation across halves between the actual query loss and the sum of the scores of the
removed half, averaged over queries. regdiag's EK-FAC (``l2`` = the penalty, no extra damping) and kronfluence's
EK-FAC (``damping_factor`` = the same penalty) are compared in the same run, with other curvatures for reference.

(c) Wall time and peak resident memory (``VmHWM`` after a reset through ``/proc/self/clear_refs``) of fitting the
factors and of scoring, for the same model and data, least of three runs in a fresh process per case (memory: the
first run), and on a larger synthetic problem.

Not part of the test suite. kronfluence would pull another torch build; install it without dependencies::

    python -m venv /tmp/bench && /tmp/bench/bin/pip install torch==2.13.0
    /tmp/bench/bin/pip install -e . scikit-learn
    /tmp/bench/bin/pip install --no-deps kronfluence==1.0.1
    /tmp/bench/bin/pip install 'accelerate>=0.31' 'einops>=0.8' 'einconv>=0.1' 'opt-einsum>=3.3' \
        'safetensors>=0.4.2' 'tqdm>=4.66.4'
    /tmp/bench/bin/python benchmarks/bench_torch_kronfluence.py    # writes benchmarks/results_torch_kronfluence.json
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn
from torch.utils.data import TensorDataset

sys.path.insert(0, str(Path(__file__).parent))
from bench_torch_loo import digits
from measure import measured

from regdiag.torch import TorchInfluence


# ---- model ------------------------------------------------------------------------------------------------------
def mlp(d: int, h: int, k: int, seed: int = 0, dtype=torch.float32) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, h), nn.Tanh(), nn.Linear(h, k)).to(dtype)


def train(net: nn.Module, X: torch.Tensor, y: torch.Tensor, lam: float, rounds: int = 30, tol: float = 2e-6) -> float:
    """Full-batch L-BFGS on ``mean CE + (lam/2)||theta||^2`` until the gradient norm is below ``tol`` (float32)."""
    opt = torch.optim.LBFGS(net.parameters(), lr=1, max_iter=200, history_size=50, tolerance_grad=tol / 10,
                            tolerance_change=0, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(net(X), y) + 0.5 * lam * sum((p**2).sum() for p in net.parameters())
        loss.backward()
        return loss

    for _ in range(rounds):
        opt.step(closure)
        closure()
        gnorm = float(torch.sqrt(sum((p.grad**2).sum() for p in net.parameters())))
        if gnorm < tol:
            break
    return gnorm


def query_losses(net: nn.Module, Xq: torch.Tensor, yq: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return F.cross_entropy(net(Xq), yq, reduction="none").double().numpy()


# ---- kronfluence ------------------------------------------------------------------------------------------------
def kronfluence_scores(net, train_ds, query_ds, damping, strategy, batch, outdir):
    from kronfluence.analyzer import Analyzer, prepare_model
    from kronfluence.arguments import FactorArguments, ScoreArguments
    from kronfluence.task import Task

    class Classification(Task):
        def compute_train_loss(self, batch, model, sample=False):
            x, y = batch
            logits = model(x)
            if sample:
                with torch.no_grad():
                    y = torch.multinomial(torch.softmax(logits.detach(), dim=-1), 1).flatten()
            return F.cross_entropy(logits, y, reduction="sum")

        def compute_measurement(self, batch, model):
            x, y = batch
            return F.cross_entropy(model(x), y, reduction="sum")

    task = Classification()
    model = prepare_model(net, task)
    analyzer = Analyzer(analysis_name="bench", model=model, task=task, cpu=True, disable_tqdm=True,
                        output_dir=outdir, disable_model_save=True)
    fargs = FactorArguments(strategy=strategy)
    sargs = ScoreArguments(damping_factor=damping)

    def fit():
        analyzer.fit_all_factors(factors_name=strategy, dataset=train_ds, per_device_batch_size=batch,
                                 factor_args=fargs, overwrite_output_dir=True)

    def score():
        analyzer.compute_pairwise_scores(scores_name="s", factors_name=strategy, query_dataset=query_ds,
                                         train_dataset=train_ds, per_device_query_batch_size=len(query_ds),
                                         per_device_train_batch_size=batch, score_args=sargs,
                                         overwrite_output_dir=True)
        return analyzer.load_pairwise_scores("s")["all_modules"].double().numpy()

    return fit, score


def regdiag_scores(net, train, query, lam, curvature, batch, **kw):
    holder = {}

    def fit():
        holder["ti"] = TorchInfluence(net, "cross_entropy", train, curvature=curvature, l2=lam, batch_size=batch,
                                      **kw).fit()

    def score():
        return holder["ti"].scores(query)

    return fit, score


#: name -> (tool, curvature, options)
CASES = {
    "regdiag ekfac (exact GN)": ("regdiag", "ekfac", {}),
    "regdiag ekfac (1 MC sample)": ("regdiag", "ekfac", {"sampling": "mc", "mc_samples": 1}),
    "regdiag kfac (exact GN)": ("regdiag", "kfac", {}),
    "regdiag gauss_newton (direct)": ("regdiag", "gauss_newton", {}),
    "regdiag identity": ("regdiag", "identity", {}),
    "kronfluence ekfac": ("kronfluence", "ekfac", {}),
    "kronfluence kfac": ("kronfluence", "kfac", {}),
}
LARGE_CASES = ("regdiag ekfac (1 MC sample)", "regdiag ekfac (exact GN)", "kronfluence ekfac")


def large_problem(n: int):
    g = torch.Generator().manual_seed(0)
    d, h, nq = 128, 256, 500
    X = torch.randn(n, d, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(d, h), nn.Tanh(), nn.Linear(h, h), nn.Tanh(), nn.Linear(h, 10))
    return net, (X, y), (X[:nq] + 0.1, y[:nq]), 1000


def worker(name: str, folder: Path, repeats: int, large_n: int, lam: float) -> None:
    """Fit and score one case in this fresh process: time (median of ``repeats``) and peak memory (first run)."""
    torch.set_num_threads(2)
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    if large_n:
        net, train_t, query_t, batch = large_problem(large_n)
    else:
        Xtr, ytr, Xq, yq = digits()
        train_t = (torch.tensor(Xtr, dtype=torch.float32), torch.tensor(ytr))
        query_t = (torch.tensor(Xq, dtype=torch.float32), torch.tensor(yq))
        net = mlp(Xtr.shape[1], 64, 10)
        net.load_state_dict(torch.load(folder / "model.pt"))
        batch = 250
    tool, curvature, opts = CASES[name]
    if tool == "regdiag":
        fit, score = regdiag_scores(net, train_t, query_t, lam, curvature, batch, **opts)
    else:
        fit, score = kronfluence_scores(net, TensorDataset(*train_t), TensorDataset(*query_t), lam, curvature, batch,
                                        str(folder / "kf"))
    rows = []
    for _ in range(repeats):
        _, tf, mf = measured(fit)
        S, ts, ms = measured(score)
        rows.append((tf, mf, ts, ms))
    # the least time of the repeats: other work on a shared machine only ever adds to it
    stats_ = {"fit_seconds": float(min(r[0] for r in rows)), "fit_peak_mib": float(rows[0][1]),
              "score_seconds": float(min(r[2] for r in rows)), "score_peak_mib": float(rows[0][3]),
              "fit_seconds_median": float(np.median([r[0] for r in rows])),
              "score_seconds_median": float(np.median([r[2] for r in rows]))}
    tag = ("large " if large_n else "") + name
    np.save(folder / f"{tag}.npy", S)
    (folder / f"{tag}.json").write_text(json.dumps(stats_))


def run_case(name: str, folder: Path, repeats: int, large_n: int, lam: float) -> tuple[np.ndarray, dict]:
    subprocess.run([sys.executable, __file__, "--worker", name, "--dir", str(folder), "--repeats", str(repeats),
                    "--large-n", str(large_n), "--lam", str(lam)], check=True)
    tag = ("large " if large_n else "") + name
    return np.load(folder / f"{tag}.npy"), json.loads((folder / f"{tag}.json").read_text())


def add_ratios(results: dict, scores: dict | None = None) -> None:
    """Time and memory ratios of regdiag's EK-FAC runs to kronfluence's EK-FAC (below 1: regdiag is faster)."""
    kf = results["kronfluence ekfac"]
    for name in ("regdiag ekfac (exact GN)", "regdiag ekfac (1 MC sample)"):
        r = results[name]
        for key in ("fit_seconds", "score_seconds", "fit_peak_mib", "score_peak_mib"):
            r[f"{key}_ratio_vs_kronfluence_ekfac"] = r[key] / max(kf[key], 1e-9)
        if scores is not None:
            r["score_correlation_with_kronfluence"] = float(
                np.corrcoef(scores[name].ravel(), scores["kronfluence ekfac"].ravel())[0, 1])


# ---- main -------------------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lam", type=float, default=1e-3)
    ap.add_argument("--subsets", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--large-n", type=int, default=20000)
    ap.add_argument("--worker", default="")
    ap.add_argument("--dir", default="")
    ap.add_argument("--out", default=str(Path(__file__).with_name("results_torch_kronfluence.json")))
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker, Path(args.dir), args.repeats, args.large_n, args.lam)
    torch.set_num_threads(2)
    Xtr, ytr, Xq, yq = digits()
    X, y = torch.tensor(Xtr, dtype=torch.float32), torch.tensor(ytr)
    Xqt, yqt = torch.tensor(Xq, dtype=torch.float32), torch.tensor(yq)
    net = mlp(X.shape[1], 64, 10)
    gnorm = train(net, X, y, args.lam, rounds=50)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    print(f"trained: gradient norm {gnorm:.2e}", flush=True)

    # (b) actual query losses of models retrained on random halves
    rng = np.random.default_rng(1)
    n = len(X)
    masks = np.zeros((args.subsets, n), dtype=bool)
    actual = np.empty((len(Xq), args.subsets))
    sub_gnorm = 0.0
    t0 = time.perf_counter()
    for s in range(args.subsets):
        keep = rng.permutation(n)[: n // 2]
        masks[s, keep] = True
        sub = mlp(X.shape[1], 64, 10)
        sub.load_state_dict(state)
        sub_gnorm = max(sub_gnorm, train(sub, X[keep], y[keep], args.lam, tol=2e-5))
        actual[:, s] = query_losses(sub, Xqt, yqt)
    t_retrain = time.perf_counter() - t0
    print(f"retrained {args.subsets} halves in {t_retrain:.0f} s (largest gradient norm {sub_gnorm:.1e})", flush=True)

    def lds(S: np.ndarray) -> float:
        removed = (~masks).astype(float)  # (subsets, n)
        pred = S @ removed.T  # predicted change of each query's loss when the other half is removed
        return float(np.mean([stats.spearmanr(pred[q], actual[q])[0] for q in range(len(Xq))]))

    results, big_results, big_scores = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        torch.save(state, folder / "model.pt")
        for name in CASES:
            S, row = run_case(name, folder, args.repeats, 0, args.lam)
            row["lds"] = lds(S)
            results[name] = row
            print(f"{name:32s} LDS {row['lds']:.4f}  fit {row['fit_seconds']:.3f}s {row['fit_peak_mib']:.1f}MiB  "
                  f"score {row['score_seconds']:.3f}s {row['score_peak_mib']:.1f}MiB", flush=True)
        add_ratios(results)
        # (c) a larger synthetic problem: timing and memory only
        for name in LARGE_CASES:
            big_scores[name], big_results[name] = run_case(name, folder, args.repeats, args.large_n, 1e-3)
            row = big_results[name]
            print(f"[large] {name:28s} fit {row['fit_seconds']:.2f}s {row['fit_peak_mib']:.0f}MiB  "
                  f"score {row['score_seconds']:.2f}s {row['score_peak_mib']:.0f}MiB", flush=True)
        add_ratios(big_results, big_scores)

    import kronfluence

    out = {
        "problem": {"data": "sklearn digits 8x8, standardized", "n_train": n, "n_query": len(Xq),
                    "model": "Linear(61, 64) - tanh - Linear(64, 10), float32", "l2": args.lam,
                    "damping": "regdiag: l2 in the curvature, damping 0; kronfluence: damping_factor = l2",
                    "fit_gradient_norm": gnorm, "subsets": args.subsets, "subset_max_gradient_norm": sub_gnorm,
                    "retrain_seconds": t_retrain, "batch_size": 250, "threads": 2, "repeats": args.repeats,
                    "time": "least of the repeats (each case in a fresh process); the median is kept beside it",
                    "memory": "peak resident set above the start of the stage, fresh process per case, first run"},
        "lds_and_timing": results,
        "large": {"problem": {"n_train": args.large_n, "n_query": 500, "model": "128-256-256-10 tanh MLP, float32",
                              "batch_size": 1000, "l2": 1e-3, "repeats": args.repeats},
                  "results": big_results},
        "versions": {"torch": torch.__version__, "kronfluence": kronfluence.__version__,
                     "python": platform.python_version()},
    }
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
