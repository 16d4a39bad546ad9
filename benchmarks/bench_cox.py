"""Cox model exact leave-one-out: regdiag against refitting with statsmodels' PHReg and R's coxph.

Usage: python benchmarks/bench_cox.py [--n 10000] [--p 10] [--sm-refits 10] [--r-refits 100] [--reps 2]
                                      [--ties efron] [--no-r] [--out benchmarks/results_cox.json]

Simulated data: ``X`` standard normal (n x p), true coefficients N(0, 0.3^2), exponential event times with rate
``exp(x'beta)``, exponential censoring (about a third censored), times rounded to 3 significant digits so that
Efron's tie handling has work to do. Measured, side by side on the same data:

* regdiag: ``coxph_arrays(...)`` and ``fit.influence()`` (exact deletion of every one of the n observations);
  wall clock and CPU time (best of ``reps``), peak memory of the influence step (tracemalloc, which sees numpy's
  buffers), iterations taken, largest reported error estimate.
* statsmodels: ``PHReg(time[-i], X[-i], status[-i], ties=...).fit()`` for ``sm-refits`` rows (its default start,
  and warm-started from the full fit), extrapolated linearly to n refits (each refit is the same size); the refits'
  coefficients against regdiag's exact deletion of the same rows, in standard errors.
* R: ``coxph(Surv(time, status) ~ ., ties = ...)`` refitted without each of ``r-refits`` rows in one Rscript run
  (the data read from a CSV once; the loop timed inside R), extrapolated to n; its coefficients against regdiag's.

The load average at start and end is recorded (the machine is shared; wall clock counts other processes' load).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import statsmodels
from statsmodels.duration.hazard_regression import PHReg

import regdiag
from regdiag.survival import coxph_arrays

HERE = Path(__file__).resolve().parent


def simulate(n: int, p: int, seed: int = 20261207):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    beta = rng.normal(0.0, 0.3, p)
    t = rng.exponential(np.exp(-X @ beta))
    c = rng.exponential(2.0 * np.median(t), n)
    time_ = np.minimum(t, c)
    time_ = np.array([float(f"{v:.3g}") for v in time_])
    return time_, (t <= c).astype(float), X


def timed(fn, reps: int):
    best_wall, best_cpu, out = np.inf, np.inf, None
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return out, best_wall, best_cpu


R_SCRIPT = r"""
suppressPackageStartupMessages(library(survival))
args <- commandArgs(TRUE)
d <- read.csv(args[1])
rows <- as.integer(strsplit(args[2], ",")[[1]])
ties <- args[3]
fit <- coxph(Surv(time, status) ~ ., data = d, ties = ties)
t0 <- proc.time()
loo <- t(vapply(rows, function(i) coef(coxph(Surv(time, status) ~ ., data = d[-i, ], ties = ties)),
                numeric(ncol(d) - 2)))
el <- proc.time() - t0
cat(sprintf("%.6f %.6f\n", el[["elapsed"]], el[["user.self"]] + el[["sys.self"]]))
write.table(loo, args[4], sep = ",", row.names = FALSE, col.names = FALSE)
cat(paste(sprintf("%.17g", coef(fit)), collapse = ","), "\n")
cat(R.version.string, "| survival", as.character(packageVersion("survival")), "\n")
"""


def run_r(time_, status, X, rows, ties):
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "d.csv"
        header = "time,status," + ",".join(f"x{j + 1}" for j in range(X.shape[1]))
        np.savetxt(data, np.column_stack([time_, status, X]), delimiter=",", header=header, comments="",
                   fmt="%.17g")
        script = Path(tmp) / "loo.R"
        script.write_text(R_SCRIPT)
        out = Path(tmp) / "loo.csv"
        res = subprocess.run(["Rscript", str(script), str(data), ",".join(str(i + 1) for i in rows), ties, str(out)],
                             capture_output=True, text=True, check=True)
        lines = res.stdout.strip().splitlines()
        wall, cpu = map(float, lines[0].split())
        coef = np.array([float(v) for v in lines[1].split(",")])
        return {"wall": wall, "cpu": cpu, "loo": np.loadtxt(out, delimiter=",", ndmin=2), "coef": coef,
                "version": lines[2].strip()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--p", type=int, default=10)
    ap.add_argument("--sm-refits", type=int, default=10)
    ap.add_argument("--r-refits", type=int, default=100)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--ties", default="efron")
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--out", default=str(HERE / "results_cox.json"))
    a = ap.parse_args()
    load0 = os.getloadavg()
    time_, status, X = simulate(a.n, a.p)
    n = a.n
    res: dict = {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                             "cores": os.cpu_count(), "numpy": np.__version__, "statsmodels": statsmodels.__version__,
                             "regdiag": regdiag.__version__, "load_average_at_start": list(load0),
                             "date": time.strftime("%Y-%m-%d %H:%M:%S"), "args": vars(a)},
                 "data": {"n": n, "p": a.p, "events": int(status.sum()),
                          "tied_event_times": int(n - len(np.unique(time_)))}}

    fit, fit_wall, fit_cpu = timed(lambda: coxph_arrays(time_, status, X, ties=a.ties), a.reps)

    def loo():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fit.influence()

    infl, loo_wall, loo_cpu = timed(loo, a.reps)
    tracemalloc.start()
    loo()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    res["regdiag"] = {"fit_wall_s": fit_wall, "fit_cpu_s": fit_cpu, "loo_wall_s": loo_wall, "loo_cpu_s": loo_cpu,
                      "loo_peak_memory_mb": peak / 2**20, "peak_memory_in_design_sizes": peak / X.nbytes,
                      "iterations": np.bincount(infl.loo_iterations).tolist(),
                      "max_error_estimate_se": float(np.nanmax(infl.loo_error)),
                      "one_step_max_error_se": float(np.nanmax(infl.one_step_error))}
    print(f"regdiag: fit {fit_wall:.3f} s, exact LOO of {n} rows {loo_wall:.2f} s wall / {loo_cpu:.2f} s CPU, "
          f"peak {peak / 2**20:.0f} MiB")

    rng = np.random.default_rng(7)
    rows = np.sort(rng.choice(n, size=a.sm_refits, replace=False))
    sm_cold, sm_warm, errs = [], [], []
    full = PHReg(time_, X, status=status, ties=a.ties).fit()
    for i in rows:
        m = np.ones(n, dtype=bool)
        m[i] = False
        w0, c0 = time.perf_counter(), time.process_time()
        r = PHReg(time_[m], X[m], status=status[m], ties=a.ties).fit()
        sm_cold.append((time.perf_counter() - w0, time.process_time() - c0))
        w0, c0 = time.perf_counter(), time.process_time()
        PHReg(time_[m], X[m], status=status[m], ties=a.ties).fit(start_params=full.params)
        sm_warm.append((time.perf_counter() - w0, time.process_time() - c0))
        errs.append(np.max(np.abs((fit.coef - r.params) - infl.dfbeta_exact[i]) / fit.bse))
    cold = np.mean(sm_cold, axis=0) * n
    warm = np.mean(sm_warm, axis=0) * n
    res["statsmodels"] = {"refits_timed": int(a.sm_refits), "refit_mean_wall_s": float(np.mean(sm_cold, axis=0)[0]),
                          "all_refits_wall_s_extrapolated": float(cold[0]),
                          "all_refits_cpu_s_extrapolated": float(cold[1]),
                          "warm_all_refits_wall_s_extrapolated": float(warm[0]),
                          "warm_all_refits_cpu_s_extrapolated": float(warm[1]),
                          "speedup_wall": float(cold[0] / loo_wall), "speedup_cpu": float(cold[1] / loo_cpu),
                          "speedup_wall_vs_warm": float(warm[0] / loo_wall),
                          "max_diff_from_regdiag_exact_se": float(np.max(errs))}
    print(f"statsmodels: {np.mean(sm_cold, axis=0)[0]:.3f} s per refit -> {cold[0]:.0f} s for {n} "
          f"({cold[0] / loo_wall:.0f}x regdiag; warm start {warm[0] / loo_wall:.0f}x); max diff {np.max(errs):.1e} SE")

    if not a.no_r:
        rows_r = np.sort(rng.choice(n, size=a.r_refits, replace=False))
        r = run_r(time_, status, X, rows_r, a.ties)
        if r is not None:
            diff = np.max(np.abs((r["coef"] - r["loo"]) - infl.dfbeta_exact[rows_r]) / fit.bse)
            tot_w, tot_c = r["wall"] / a.r_refits * n, r["cpu"] / a.r_refits * n
            res["R"] = {"version": r["version"], "refits_timed": int(a.r_refits),
                        "refit_mean_wall_s": r["wall"] / a.r_refits, "all_refits_wall_s_extrapolated": tot_w,
                        "all_refits_cpu_s_extrapolated": tot_c, "speedup_wall": tot_w / loo_wall,
                        "speedup_cpu": tot_c / loo_cpu, "coef_max_rel_diff": float(
                            np.max(np.abs(r["coef"] - fit.coef) / np.abs(fit.coef))),
                        "max_diff_from_regdiag_exact_se_default_control": float(diff)}
            print(f"R: {r['wall'] / a.r_refits:.4f} s per refit -> {tot_w:.0f} s for {n} ({tot_w / loo_wall:.1f}x "
                  f"regdiag); max diff {diff:.1e} SE (R's default eps = 1e-9)")
    res["machine"]["load_average_at_end"] = list(os.getloadavg())
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    print(f"load average {load0} -> {os.getloadavg()}; written {a.out}")


if __name__ == "__main__":
    main()
