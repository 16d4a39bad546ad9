"""OLS influence: regdiag against one QR, against statsmodels and against R, on the same data in one run.

Usage: python benchmarks/bench_ols.py [--n 1000000] [--p 20] [--small-n 4000] [--no-r]

Measures
* n x p (default 10^6 x 20), standard normal predictors (no refinement needed) and predictors centred at 50
  (one extended-precision refinement step): regdiag fit + every measure (leverage, residuals, Cook's D and p-value,
  DFFITS, COVRATIO, DFBETA, DFBETAS, exact leave-one-out coefficients) against one scipy.linalg.qr(X, mode="economic");
  peak memory allocated beyond the input (tracemalloc, which sees numpy's buffers) as a multiple of X's size:
  once reading every measure (the fit keeps Q, the influence object one n x p array, DFBETAS and leave-one-out
  coefficients are derived on access) and once holding DFBETA, DFBETAS and the leave-one-out coefficients at the
  same time; R's lm + influence.measures on the same matrix (read from a binary file) when Rscript is on PATH.
* small n (default 4,000): statsmodels OLSInfluence.summary_frame() (which refits n times) against regdiag.
Writes benchmarks/results_ols.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy.linalg

import regdiag

HERE = Path(__file__).resolve().parent

R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
n <- as.integer(args[2]); p <- as.integer(args[3])
con <- file(args[1], "rb"); v <- readBin(con, "double", n * (p + 1)); close(con)
X <- matrix(v[seq_len(n * p)], n, p); y <- v[n * p + seq_len(n)]
t_fit <- system.time(fit <- lm(y ~ X - 1))[["elapsed"]]
t_inf <- system.time(im <- influence.measures(fit))[["elapsed"]]
cat(sprintf("%.6f %.6f %.17g\n", t_fit, t_inf, max(im$infmat[, "cook.d"])))
"""


def best_of(fn, reps):
    times = []
    out = None
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def everything(y, X):
    fit = regdiag.ols(y, X)
    infl = fit.influence()
    return fit, infl, infl.dfbetas, infl.loo_params


def make_data(n, p, seed=0, center=0.0):
    """Intercept plus standard normal predictors shifted by ``center``; unit noise. With ``center=50`` (predictors
    far from zero, as most real ones are) the fit is good relative to the size of y and the residuals call for one
    step of extended-precision refinement; with ``center=0`` none is needed."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), center + rng.standard_normal((n, p - 1))])
    y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    return X, y


def run_r(X, y):
    if shutil.which("Rscript") is None:
        return None
    n, p = X.shape
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "xy.bin"
        np.concatenate([X.ravel(order="F"), y]).astype("<f8").tofile(data)
        script = Path(tmp) / "bench.R"
        script.write_text(R_SCRIPT)
        proc = subprocess.run(["Rscript", str(script), str(data), str(n), str(p)], capture_output=True, text=True)
    if proc.returncode != 0:
        print("R failed:", proc.stderr[-500:])
        return None
    t_fit, t_inf, max_cook = map(float, proc.stdout.split())
    return {"lm": t_fit, "influence.measures": t_inf, "max_cook": max_cook}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--p", type=int, default=20)
    ap.add_argument("--small-n", type=int, default=4000)
    ap.add_argument("--no-r", action="store_true")
    args = ap.parse_args()

    # predictors far from zero: one step of extended-precision refinement (timed, then freed)
    Xc, yc = make_data(args.n, args.p, seed=2, center=50.0)
    t_qr_c, _ = best_of(lambda X=Xc: scipy.linalg.qr(X, mode="economic"), 3)
    t_all_c, (fit_c, _, _, _) = best_of(lambda y=yc, X=Xc: everything(y, X), 3)
    centered = {"scipy_qr_economic_s": t_qr_c, "regdiag_fit_and_all_measures_s": t_all_c,
                "ratio_to_one_qr": t_all_c / t_qr_c, "refine_steps": fit_c.refine_steps}
    del Xc, yc, fit_c, _

    X, y = make_data(args.n, args.p)
    t_qr, _ = best_of(lambda: scipy.linalg.qr(X, mode="economic"), 3)
    t_all, (fit, infl, _, _) = best_of(lambda: everything(y, X), 3)
    del _
    def peak_of(fn):
        tracemalloc.start()
        res = fn()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del res
        return peak / X.nbytes

    def fit_and_influence():
        fit = regdiag.ols(y, X)
        infl = fit.influence()
        # read every measure; dfbetas and loo_params are derived on access from the one n x p array dfbeta
        checksum = 0.0
        for name in ("dfbetas", "loo_params", "cooks_distance"):
            a = getattr(infl, name)
            checksum += float(np.sum(a, where=np.isfinite(a)))  # no copy of the n x p array (nansum makes one)
            del a
        return fit, infl, checksum

    peak_one = peak_of(fit_and_influence)
    peak_all = peak_of(lambda: everything(y, X))
    out = {
        "machine": {"python": platform.python_version(), "numpy": np.__version__,
                    "cpu_count": __import__("os").cpu_count()},
        "large": {
            "n": args.n,
            "p": args.p,
            "scipy_qr_economic_s": t_qr,
            "regdiag_fit_and_all_measures_s": t_all,
            "ratio_to_one_qr": t_all / t_qr,
            "peak_allocated_over_size_of_X": peak_one,
            "peak_including_X_over_size_of_X": peak_one + 1.0,
            "peak_allocated_over_size_of_X_holding_dfbeta_dfbetas_loo_params_at_once": peak_all,
            "refine_steps": fit.refine_steps,
            "predictors_centered_at_50": centered,
        },
    }
    if not args.no_r:
        r = run_r(X, y)
        if r is not None:
            out["large"]["R_lm_s"] = r["lm"]
            out["large"]["R_influence_measures_s"] = r["influence.measures"]
            out["large"]["speedup_vs_R_lm_plus_influence_measures"] = (r["lm"] + r["influence.measures"]) / t_all
            out["large"]["max_cook_rel_diff_vs_R"] = abs(np.nanmax(infl.cooks_distance) - r["max_cook"]) / r["max_cook"]

    import statsmodels.api as sm

    Xs, ys = make_data(args.small_n, args.p, seed=1)
    t_sm, frame_sm = best_of(lambda: sm.OLS(ys, Xs).fit().get_influence().summary_frame(), 1)
    t_rd, frame_rd = best_of(lambda: regdiag.ols(ys, Xs).influence().to_frame("statsmodels"), 5)
    out["small"] = {
        "n": args.small_n,
        "p": args.p,
        "statsmodels_summary_frame_s": t_sm,
        "regdiag_s": t_rd,
        "speedup_vs_statsmodels": t_sm / t_rd,
        "max_abs_diff_vs_statsmodels": float(np.max(np.abs(frame_sm.to_numpy() - frame_rd.to_numpy()))),
    }
    print(json.dumps(out, indent=2))
    (HERE / "results_ols.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
