"""Leave-one-out validation of TorchInfluence: multinomial logistic regression with an L2 penalty on the 8x8 digits.

1,000 standardized training images, 200 queries. Every training image is removed in turn and the model refitted by
Newton's method to a gradient norm below 1e-10; the actual change of each query's loss is compared with the
predicted change of every curvature (exact, Gauss-Newton, K-FAC, EK-FAC, identity), with and without the leverage
correction, and with CG on the exact curvature preconditioned by K-FAC and EK-FAC. Reported: the mean over queries
of the Pearson and Spearman correlations across training images, and checks that the exact predictions equal
``g_q' H^-1 g_i / n`` computed independently, that the leverage-corrected exact prediction equals the first Newton
step of the refit, and that the preconditioned CG predictions equal the direct ones.

Not part of the test suite. Set-up (a separate environment; the digits come with scikit-learn)::

    python -m venv /tmp/bench && /tmp/bench/bin/pip install torch==2.13.0
    /tmp/bench/bin/pip install -e . scikit-learn
    /tmp/bench/bin/python benchmarks/bench_torch_loo.py            # writes benchmarks/results_torch_loo.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy import stats
from sklearn.datasets import load_digits
from torch import nn

from regdiag.torch import TorchInfluence

K = 10


def digits(n_train: int = 1000, n_query: int = 200, seed: int = 0):
    X, y = load_digits(return_X_y=True)
    perm = np.random.default_rng(seed).permutation(len(X))
    tr, q = perm[:n_train], perm[n_train : n_train + n_query]
    keep = X[tr].std(axis=0) > 0
    mu, sd = X[tr][:, keep].mean(axis=0), X[tr][:, keep].std(axis=0)
    Z = (X[:, keep] - mu) / sd
    return Z[tr], y[tr], Z[q], y[q]


class Multinomial:
    """``(1/n) sum_{j kept} CE_j + (lam/2)||theta||^2`` in ``theta = [W | b]`` (row-major, the engine's layout)."""

    def __init__(self, X: np.ndarray, y: np.ndarray, lam: float) -> None:
        self.A = torch.tensor(np.column_stack([X, np.ones(len(X))]))
        self.Y = torch.nn.functional.one_hot(torch.tensor(y), K).double()
        self.n, self.d1 = self.A.shape
        self.p = K * self.d1
        self.lam = lam

    def grad_hess(self, theta: torch.Tensor, w: torch.Tensor, hessian: bool = True):
        W = theta.view(K, self.d1)
        P = torch.softmax(self.A @ W.T, dim=1)
        R = (P - self.Y) * w[:, None]
        g = (R.T @ self.A).reshape(-1) / self.n + self.lam * theta
        if not hessian:
            return g, None
        Pw = P * w[:, None]
        H = torch.zeros(K, self.d1, K, self.d1, dtype=torch.float64)
        for c in range(K):
            H[c, :, c, :] = (self.A.T * Pw[:, c]) @ self.A
        B = (P[:, :, None] * self.A[:, None, :]).reshape(self.n, self.p)
        H = H.reshape(self.p, self.p) - (B * w[:, None]).T @ B
        return g, H / self.n + self.lam * torch.eye(self.p, dtype=torch.float64)

    def newton(self, theta: torch.Tensor, w: torch.Tensor, tol: float, max_iter: int = 100):
        first = None
        for it in range(max_iter):
            g, _ = self.grad_hess(theta, w, hessian=False)
            if float(g.norm()) < tol:
                return theta, it, float(g.norm()), first
            _, H = self.grad_hess(theta, w)
            step = torch.linalg.solve(H, g)
            theta = theta - step
            if first is None:
                first = theta.clone()
        raise RuntimeError(f"Newton did not reach gradient norm {tol} ({float(g.norm()):.3g})")


def query_losses(theta: torch.Tensor, Aq: torch.Tensor, yq: torch.Tensor) -> torch.Tensor:
    F = Aq @ theta.view(K, -1).T
    return torch.logsumexp(F, dim=1) - F.gather(1, yq[:, None])[:, 0]


def mean_corr(actual: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    pe = [stats.pearsonr(a, p)[0] for a, p in zip(actual, pred)]
    sp = [stats.spearmanr(a, p)[0] for a, p in zip(actual, pred)]
    return float(np.mean(pe)), float(np.mean(sp))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lam", type=float, default=1e-3)
    ap.add_argument("--out", default=str(Path(__file__).with_name("results_torch_loo.json")))
    ap.add_argument("--cache", default="", help="npz file keeping the refits between runs")
    args = ap.parse_args()
    torch.set_num_threads(2)
    Xtr, ytr, Xq, yq = digits()
    m = Multinomial(Xtr, ytr, args.lam)
    ones = torch.ones(m.n, dtype=torch.float64)
    theta, _, gnorm, _ = m.newton(torch.zeros(m.p, dtype=torch.float64), ones, tol=1e-13)
    Aq = torch.tensor(np.column_stack([Xq, np.ones(len(Xq))]))
    yq_t = torch.tensor(yq)
    base = query_losses(theta, Aq, yq_t)

    cache = Path(args.cache) if args.cache else None
    if cache is not None and cache.exists():
        z = np.load(cache)
        actual, first_steps = z["actual"], torch.tensor(z["first_steps"])
        iters, worst, t_loo = [int(z["max_iter"])], float(z["worst"]), float(z["seconds"])
    else:
        t0 = time.perf_counter()
        actual = np.empty((len(Xq), m.n))
        first_steps = torch.empty(m.n, m.p, dtype=torch.float64)
        iters, worst = [], 0.0
        for i in range(m.n):
            w = ones.clone()
            w[i] = 0.0
            th, it, gn, first = m.newton(theta, w, tol=1e-10)
            actual[:, i] = (query_losses(th, Aq, yq_t) - base).numpy()
            first_steps[i] = first - theta
            iters.append(it)
            worst = max(worst, gn)
        t_loo = time.perf_counter() - t0
        if cache is not None:
            np.savez(cache, actual=actual, first_steps=first_steps.numpy(), max_iter=max(iters), worst=worst,
                     seconds=t_loo)

    net = nn.Linear(Xtr.shape[1], K).double()
    with torch.no_grad():
        W = theta.view(K, -1)
        net.weight.copy_(W[:, :-1])
        net.bias.copy_(W[:, -1])
    train = (torch.tensor(Xtr), torch.tensor(ytr))
    query = (torch.tensor(Xq), yq_t)

    # independent reference: g_q' H^-1 g_i / n from the Newton Hessian and the closed-form gradients
    _, H = m.grad_hess(theta, ones)
    P = torch.softmax(m.A @ W.T, dim=1)
    Gtr = ((P - m.Y)[:, :, None] * m.A[:, None, :]).reshape(m.n, -1)
    Pq = torch.softmax(Aq @ W.T, dim=1)
    Gq = ((Pq - torch.nn.functional.one_hot(yq_t, K).double())[:, :, None] * Aq[:, None, :]).reshape(len(Xq), -1)
    ref = (Gq @ torch.linalg.solve(H, Gtr.T) / m.n).numpy()

    runs = {}
    for curvature in ("exact", "gauss_newton", "kfac", "ekfac", "identity"):
        for correction in ("none", "leverage"):
            t = time.perf_counter()
            ti = TorchInfluence(net, "cross_entropy", train, curvature=curvature, l2=args.lam,
                                correction=correction, batch_size=250).fit()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the leverage warning of K-FAC/EK-FAC: reported below
                S = ti.scores(query)
            pe, sp = mean_corr(actual, S)
            row = {"pearson": pe, "spearman": sp, "seconds": time.perf_counter() - t}
            if curvature == "exact" and correction == "none":
                row["max_rel_diff_vs_independent_formula"] = float(np.abs(S - ref).max() / np.abs(ref).max())
                exact_scores = S
            if curvature == "exact" and correction == "leverage":
                # the corrected exact prediction is the first Newton step of the refit, projected on the query
                gstep = (Gq @ first_steps.T).numpy()
                row["max_rel_diff_vs_first_newton_step"] = float(np.abs(S - gstep).max() / np.abs(gstep).max())
            if correction == "leverage" and curvature != "exact":
                # largest eigenvalue of each example's leverage matrix U_i C^-1 U_i' / n (at most 1 for Gauss-Newton)
                lev = ti.max_leverage()
                row.update(max_leverage=float(lev.max()), examples_with_leverage_above_1=int(np.sum(lev > 1.0)),
                           examples_with_leverage_above_0_9=int(np.sum(lev > 0.9)))
            runs[f"{curvature}/{correction}"] = row
            print(f"{curvature:13s} {correction:9s} pearson {pe:.4f} spearman {sp:.4f}", flush=True)
    for pre in ("kfac", "ekfac"):
        t = time.perf_counter()
        ti = TorchInfluence(net, "cross_entropy", train, curvature="exact", solver="cg", l2=args.lam, batch_size=250,
                            solver_options={"preconditioner": pre, "rtol": 1e-12}).fit()
        S = ti.scores(query)
        pe, sp = mean_corr(actual, S)
        runs[f"cg[{pre}]/none"] = {
            "pearson": pe, "spearman": sp, "seconds": time.perf_counter() - t,
            "iterations": int(ti.engine.solver.info["iterations"]),
            "max_rel_diff_vs_direct": float(np.abs(S - exact_scores).max() / np.abs(exact_scores).max()),
        }
        print(f"cg[{pre}] pearson {pe:.4f} spearman {sp:.4f} iterations {ti.engine.solver.info['iterations']}")
    conf = torch.softmax(torch.tensor(Xtr) @ W[:, :-1].T + W[:, -1], dim=1).max(dim=1).values
    out = {
        "problem": {"data": "sklearn digits 8x8, standardized (constant pixels dropped)", "n_train": m.n,
                    "n_query": len(Xq), "n_params": m.p, "l2": args.lam, "fit_gradient_norm": gnorm,
                    "median_train_max_probability": float(conf.median()),
                    "loo_newton_iterations_max": int(max(iters)), "loo_worst_gradient_norm": worst,
                    "loo_seconds": t_loo,
                    "mean_abs_actual_change": float(np.abs(actual).mean())},
        "results": runs,
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
    }
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out["problem"], indent=2))


if __name__ == "__main__":
    main()
