"""``regdiag.compare`` at n = 4,000: its own time beside statsmodels' time for the columns it compares.

Usage: python benchmarks/bench_compare.py [--n 4000] [--p 10] [--repeat 3]

For each case ``regdiag.compare(results)`` runs on a fresh statsmodels results object, timed end to end and, inside
it, the time statsmodels takes to compute the columns compare reads (``summary_frame()`` and the quantities behind
it; for OLS this includes statsmodels' own loop of n refits): compare's own share is the rest (the regdiag refit,
every measure, the agreement bound, which for a GLM costs one closed-form evaluation of the measures per
coefficient, and the checks of the causes; the construction of statsmodels' GLMInfluence, its Hessian and scores,
is counted in compare's share). One BLAS thread. The R case compares a regdiag fit with a table in R's
``influence.measures`` layout (R's numbers do not change compare's work; the table here is regdiag's own frame
perturbed by noise of the size R's default convergence leaves).
Writes benchmarks/results_compare.json with the machine load.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm

import regdiag

rc = sys.modules["regdiag.compare"]  # the module (regdiag.compare is also the function)

HERE = Path(__file__).resolve().parent


def _data(n: int, p: int, seed: int = 1) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p - 1)), columns=[f"x{j}" for j in range(1, p)])
    X = sm.add_constant(X)
    beta = rng.normal(scale=0.3, size=p)
    eta = X.to_numpy() @ beta
    return X, pd.Series(eta), rng.uniform(0.5, 2.0, size=n)


def _cases(n: int, p: int) -> dict:
    X, eta, w = _data(n, p)
    rng = np.random.default_rng(2)
    y_lin = eta + rng.normal(size=n)
    y_bin = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)
    off = np.log(rng.uniform(1, 100, size=n))
    y_pois = rng.poisson(np.exp(0.2 * eta + off - 3)).astype(float)
    return {
        "ols": (lambda: sm.OLS(y_lin, X).fit(), "ols"),
        "wls": (lambda: sm.WLS(y_lin, X, weights=w).fit(), "ols"),
        "logistic": (lambda: sm.GLM(y_bin, X, family=sm.families.Binomial()).fit(), "glm"),
        "poisson_offset": (lambda: sm.GLM(y_pois, X, family=sm.families.Poisson(), offset=off).fit(), "glm"),
    }


def _timed_compare(results, **kwargs) -> tuple[float, float]:
    """compare's wall time and, inside it, the time spent computing statsmodels' columns."""
    inner = rc._peer_columns
    spent = [0.0]

    def timed(*a, **k):
        t0 = time.perf_counter()
        try:
            return inner(*a, **k)
        finally:
            spent[0] += time.perf_counter() - t0

    rc._peer_columns = timed
    try:
        t0 = time.perf_counter()
        regdiag.compare(results, **kwargs)
        return time.perf_counter() - t0, spent[0]
    finally:
        rc._peer_columns = inner


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--p", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    out = {"n": args.n, "p": args.p, "repeat": args.repeat, "load_before": os.getloadavg(),
           "machine": platform.platform(), "cases": {}}
    for name, (make, _kind) in _cases(args.n, args.p).items():
        runs = sorted((_timed_compare(make()) for _ in range(args.repeat)), key=lambda r: r[0] - r[1])
        total, sm_time = runs[0]  # the run with the smallest own share
        cmp = regdiag.compare(make())
        out["cases"][name] = {
            "compare_s": total, "statsmodels_s": sm_time, "compare_own_s": total - sm_time,
            "measures": len(cmp.table), "all_explained": bool(cmp.all_explained),
        }
        print(f"{name:15s} compare {total:7.3f} s = statsmodels {sm_time:7.3f} s + own {total - sm_time:6.3f} s")
    # R layout: regdiag's own R-style frame with relative noise of 1e-6 (R's default convergence is about that)
    X, eta, _ = _data(args.n, args.p)
    rng = np.random.default_rng(3)
    df = X.drop(columns="const").assign(y=(rng.uniform(size=args.n) < 1 / (1 + np.exp(-eta))).astype(float))
    fit = regdiag.glm("y ~ " + " + ".join(c for c in df.columns if c != "y"), data=df, family="binomial")
    ref = fit.influence().to_frame(style="R")
    ref = ref * (1 + 1e-6 * rng.normal(size=ref.shape))
    total = min(_timed_compare(fit, reference=ref)[0] for _ in range(args.repeat))
    out["cases"]["r_logistic"] = {"compare_s": total, "compare_own_s": total,
                                  "measures": len(regdiag.compare(fit, reference=ref).table)}
    print(f"{'r_logistic':15s} compare {total:7.3f} s")
    out["load_after"] = os.getloadavg()
    (HERE / "results_compare.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
