"""Exact leave-one-out for robust regression and statsmodels' discrete models against statsmodels refits.

Usage: python benchmarks/bench_rlm_discrete.py [--n 10000] [--p 10] [--refits 20] [--models rlm,logit,...]

For each model, at n x p (default 10^4 x 10, a constant and p - 1 standard normal columns, seed 0):

* regdiag: the fit (``regdiag.rlm``, or ``discrete_from_statsmodels`` of a statsmodels fit) and ``influence()``
  (exact leave-one-out of all n rows), timed together, wall clock and CPU;
* statsmodels: ``refits`` fits without one row each (RLM: ``sm.RLM(y[-i], X[-i]).fit()``, its defaults; discrete
  models: ``Model(y[-i], X[-i]).fit(start_params=full estimate, disp=0)``, its default Newton), timed, and the time
  extrapolated linearly to n refits (every refit is the same size);
* agreement: regdiag's exact ``b_(i)`` against those refits, in standard errors (statsmodels stops at its own
  tolerance, so this is its convergence error) and against regdiag's own tight refits of the same rows.

Results go to benchmarks/results_rlm_discrete.json (a model run again replaces its entry), each with the load average
at the start and the end of its run (the machine is shared: wall-clock ratios move with the load; CPU times are the
process's own).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import statsmodels
import statsmodels.api as sm

import regdiag
from regdiag.linear.discrete import brute_force_loo, discrete_from_statsmodels
from regdiag.linear.rlm import _irls


def _data(model: str, n: int, p: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))])
    beta = rng.normal(scale=0.3, size=p)
    eta = X @ beta
    if model == "rlm":
        return X, eta + rng.standard_t(3, size=n)
    if model in ("logit", "probit"):
        return X, (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    if model == "mnlogit":
        B = np.column_stack([np.zeros(p), rng.normal(scale=0.3, size=(p, 2))])
        E = X @ B
        P = np.exp(E - E.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        return X, (rng.random(n)[:, None] > np.cumsum(P, 1)).sum(1)
    mu = np.exp(0.5 + 0.5 * eta)
    return X, rng.negative_binomial(2, 2 / (2 + mu)).astype(float)


SM = {"logit": sm.Logit, "probit": sm.Probit, "poisson": sm.Poisson, "negbin": sm.NegativeBinomial,
      "mnlogit": sm.MNLogit}


def _clock() -> tuple[float, float]:
    t = os.times()
    return time.perf_counter(), t.user + t.system


def run(model: str, n: int, p: int, refits: int) -> dict:
    X, y = _data(model, n, p)
    rows = np.random.default_rng(1).choice(n, refits, replace=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w0, c0 = _clock()
        if model == "rlm":
            fit = regdiag.rlm(y, X)
        else:
            fit = discrete_from_statsmodels(SM[model](y, X).fit(disp=0, maxiter=300))
        infl = fit.influence()
        w1, c1 = _clock()
        params = fit.coef if model == "rlm" else fit.params
        se = fit.bse.to_numpy()
        sm_b = np.empty((refits, len(params)))
        w2, c2 = _clock()
        for r, i in enumerate(rows):
            keep = np.arange(n) != i
            if model == "rlm":
                sm_b[r] = sm.RLM(y[keep], X[keep]).fit().params
            else:
                sm_b[r] = np.asarray(SM[model](y[keep], X[keep]).fit(start_params=params, disp=0).params).ravel(
                    order="F")
        w3, c3 = _clock()
        if model == "rlm":
            tight = np.array([_irls(X[np.arange(n) != i], y[np.arange(n) != i], fit.psi, fit.scale_spec,
                                    fit.coef.copy(), fit.scale, acc=1e-13, maxit=3000)[0] for i in rows])
        else:
            tight = params - brute_force_loo(fit, rows)
    ours = params - infl.dfbeta[rows]
    sm_total = (w3 - w2) / refits * n
    sm_cpu = (c3 - c2) / refits * n
    return {
        "model": model, "n": n, "p": p, "n_params": len(params),
        "regdiag_fit_and_exact_loo_s": w1 - w0, "regdiag_cpu_s": c1 - c0,
        "statsmodels_refits_timed": refits, "statsmodels_per_refit_s": (w3 - w2) / refits,
        "statsmodels_all_refits_extrapolated_s": sm_total, "statsmodels_cpu_extrapolated_s": sm_cpu,
        "speedup_wall": sm_total / (w1 - w0), "speedup_cpu": sm_cpu / (c1 - c0),
        "max_newton_steps": int(np.nanmax(infl.loo_iterations)),
        "max_error_bound_se": float(np.nanmax(infl.loo_error_bound)),
        "vs_statsmodels_refits_max_se": float(np.max(np.abs(ours - sm_b) / se)),
        "vs_tight_refits_max_se": float(np.max(np.abs(ours - tight) / se)),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--p", type=int, default=10)
    ap.add_argument("--refits", type=int, default=20)
    ap.add_argument("--models", default="rlm,logit,probit,poisson,negbin,mnlogit")
    a = ap.parse_args()
    load0 = os.getloadavg()
    results = []
    for m in a.models.split(","):
        r = run(m, a.n, a.p, a.refits)
        print(json.dumps(r), flush=True)
        results.append(r)
    path = Path(__file__).with_name("results_rlm_discrete.json")
    # models run now replace their earlier entries; the others are kept (each entry records its own load)
    for r in results:
        r["load_average_start"], r["load_average_end"] = load0, os.getloadavg()
    old = json.loads(path.read_text())["results"] if path.exists() else []
    done = {r["model"] for r in results}
    out = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "versions": {"numpy": np.__version__, "statsmodels": statsmodels.__version__},
        "results": [r for r in old if r["model"] not in done] + results,
    }
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"written {path}")


if __name__ == "__main__":
    main()
