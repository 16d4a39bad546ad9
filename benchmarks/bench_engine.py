"""Speed and memory of the influence engine against the closed form and statsmodels, in one run.

    python benchmarks/bench_engine.py [n] [p]

For a linear model and a logistic regression with n observations and p coefficients (default 20000 x 20), times
(best of 3) and peak traced memory of: regdiag's closed form (``fit.influence()``), the engine with each curvature
(direct solver, leverage correction) and each solver (exact curvature). Reported as ratios to the closed form (which
benchmarks/bench_ols.py compares with R and statsmodels; statsmodels' DFBETA refits once per observation, so it
is left out here).
"""

from __future__ import annotations

import contextlib
import sys
import time
import tracemalloc
import warnings

import numpy as np

import regdiag
from regdiag import engine


def measure(f, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    tracemalloc.start()
    f()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak


def main(n: int = 20_000, p: int = 20) -> None:
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1))])
    beta = rng.standard_normal(p) / np.sqrt(p)
    y_lin = X @ beta + rng.standard_normal(n)
    y_bin = (rng.uniform(size=n) < 1 / (1 + np.exp(-X @ beta))).astype(float)
    ols = regdiag.ols(y_lin, X)
    logit = regdiag.glm(y_bin, X, family="binomial")
    print(f"n = {n}, p = {p}; time (best of 3) and peak traced memory; ratios to the closed form")
    for title, fit in (("OLS", ols), ("logistic", logit)):
        t0, m0 = measure(fit.influence)
        print(f"\n{title}: closed form {t0 * 1e3:.1f} ms, {m0 / 2**20:.1f} MiB")
        runs = [(c, "direct") for c in ("exact", "gauss_newton", "kfac", "ekfac", "diagonal", "identity")]
        runs += [("exact", s) for s in ("cg", "lissa", "lowrank")]
        for cur, sol in runs:
            def go(cur=cur, sol=sol, fit=fit):
                with warnings.catch_warnings(), contextlib.suppress(engine.ConvergenceError):
                    warnings.simplefilter("ignore")
                    engine.influence(fit, cur, sol, correction="leverage",
                                     damping=engine.Damping.relative(1e-2) if sol == "lissa" else 0.0)
            t, m = measure(go)
            print(f"  engine {cur:>12s}/{sol:<8s} {t * 1e3:9.1f} ms ({t / t0:5.2f}x)  "
                  f"{m / 2**20:7.1f} MiB ({m / m0:5.2f}x)")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
