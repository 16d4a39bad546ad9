"""GLM influence: accuracy against R, and speed against statsmodels and R, measured in one run.

Usage: python benchmarks/bench_glm.py [--n-large 1000000] [--p-large 20] [--n-loo 10000] [--p-loo 10]
                                      [--sm-n N] [--sm-refits 20] [--reps 3] [--no-r] [--quick] [--threads N]

Sections (all written to benchmarks/results_glm.json with the machine, library versions and load average):

accuracy
    Every R reference case (tests/reference/glm, R's glm with epsilon = 1e-15, polished): the largest relative error
    of regdiag's coefficients, deviance, leverage, rstandard (both types), rstudent, Cook's distance, dfbeta (R's
    deviance convention) and infmat, per family/link; entries below 1e-6 of their column's largest value (dfbeta of
    a dummy the row is not in: ~1e-17 in both programs) count by their error relative to that largest value. Exact
    leave-one-out against R's refits (four cases), as the largest error relative to each coefficient's largest
    change.
exact leave-one-out (n-loo x p-loo logistic, default 10^4 x 10)
    regdiag ``influence(loo="exact")`` for all n observations, against n statsmodels refits
    (``sm.GLM(y[-i], X[-i], Binomial()).fit()``, its defaults): ``sm-refits`` refits are timed and the time is
    extrapolated linearly to n (each refit is the same size). Also the ratio to one regdiag fit, the Newton steps
    taken, the agreement with tightly converged Newton refits of a subset (relative to each coefficient's largest
    change, and in standard errors), and regdiag's time again in a child process with one BLAS thread
    (``OPENBLAS_NUM_THREADS=1``), to show that the sweeps' speed does not depend on the thread setting.
large n (n-large x p-large logistic, default 10^6 x 20)
    regdiag ``glm(formula, data)`` + ``influence()`` + ``to_frame("R")`` (R's infmat), and the array interface;
    R's ``glm(y ~ ., family = binomial)`` and ``influence.measures`` on the same data (read from a binary file) in
    the same run when Rscript is on PATH; statsmodels' ``GLM.fit()`` + ``GLMInfluence.summary_frame()`` at
    ``sm-n`` rows (default: all n-large rows, measured directly; a smaller ``sm-n`` is extrapolated linearly in n,
    both being O(n p^2)); peak memory of regdiag's fit + measures (tracemalloc, which sees numpy's buffers) as a
    multiple of the design's size.
Times are the best of ``reps`` runs, wall clock and CPU (user + system, the process's own work: on a shared machine
the wall clock also counts other processes' load, for R as for Python). BLAS runs with its default number of threads
unless ``--threads N`` pins it (set before numpy loads); R uses its reference BLAS (one thread). The load average at
the start and end is recorded.
"""

from __future__ import annotations

import os
import sys


def _threads_from_argv() -> str | None:
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return None


# must be set before numpy loads OpenBLAS; by default BLAS keeps its own thread count
if _threads_from_argv() is not None:
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = _threads_from_argv()  # type: ignore[assignment]

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy  # noqa: E402
import statsmodels  # noqa: E402
import statsmodels.api as sm  # noqa: E402

import regdiag  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
n <- as.integer(args[2]); k <- as.integer(args[3]); reps <- as.integer(args[4])
con <- file(args[1], "rb"); v <- readBin(con, "double", n * (k + 1)); close(con)
d <- as.data.frame(matrix(v[seq_len(n * k)], n, k)); d$y <- v[n * k + seq_len(n)]
tf <- numeric(reps); ti <- numeric(reps); cf <- numeric(reps); ci <- numeric(reps)
cpu <- function(st) st[["user.self"]] + st[["sys.self"]]
for (r in seq_len(reps)) {
  invisible(gc())
  st <- system.time(fit <- glm(y ~ ., family = binomial, data = d)); tf[r] <- st[["elapsed"]]; cf[r] <- cpu(st)
  invisible(gc())
  st <- system.time(im <- influence.measures(fit)); ti[r] <- st[["elapsed"]]; ci[r] <- cpu(st)
}
cat(sprintf("%.6f %.6f %.6f %.6f %d %.17g\n", min(tf), min(ti), min(cf), min(ci), fit$iter,
            max(im$infmat[, "cook.d"])))
"""


def best_of(fn, reps):
    """Best wall-clock time of ``reps`` runs; the CPU time (user + system) of that run is in ``best_of.cpu``."""
    times, cpus, out = [], [], None
    for _ in range(reps):
        c = time.process_time()
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    best_of.cpu = cpus[int(np.argmin(times))]
    return min(times), out


def logistic_data(n, p, seed):
    """Intercept + (p - 1) N(0, 1) columns, coefficients as in benchmarks/r/bench_influence.R."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1))])
    beta = np.r_[-0.5, np.resize([0.4, -0.3, 0.2, -0.1], p - 1)]
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ beta))).astype(float)
    return X, y


# ---------------------------------------------------------------------------------------------------------------


def accuracy():
    from tests.linear.test_glm_vs_r import fit_case
    from tests.reference_cases import case_names, load_case

    def err(actual, expected):
        """Largest relative error over entries above 1e-6 of their column's largest value, or the error relative to
        that largest value (entries that are rounding noise in both programs, ~1e-17, have no relative error)."""
        e = np.asarray(expected, dtype=float)
        e = e.reshape(e.shape[0], -1) if e.ndim else e.reshape(1, 1)
        a = np.asarray(actual, dtype=float).reshape(e.shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            scale = np.nanmax(np.abs(e), axis=0)
            diff = np.abs(a - e)
            big = np.abs(e) >= 1e-6 * scale
            rel = np.where(big, diff / np.abs(e), diff / scale)
        return float(np.nanmax(rel)) if np.isfinite(rel).any() else 0.0

    rows = []
    for name in case_names("glm"):
        case = load_case(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_case(case)
            infl = fit.influence()
            infl_d = fit.influence(residual="deviance")
        pos = infl.index.get_indexer(case.ref("hatvalues").index)
        coef = case.ref("coefficients").iloc[:, 0]
        e = {
            "coefficients": err(fit.params.loc[coef.index], coef),
            "deviance": err(fit.deviance, case.scalars()["deviance"]),
            "hatvalues": err(infl.leverage[pos], case.ref("hatvalues").iloc[:, 0]),
            "rstandard_deviance": err(infl.standard_resid[pos], case.ref("rstandard_deviance").iloc[:, 0]),
            "rstandard_pearson": err(infl.standard_resid_pearson[pos], case.ref("rstandard_pearson").iloc[:, 0]),
            "rstudent": err(infl.student_resid[pos], case.ref("rstudent").iloc[:, 0]),
            "cooks_distance": err(infl.cooks_distance[pos], case.ref("cooks_distance").iloc[:, 0]),
            "dfbeta": err(infl_d.dfbeta[pos], case.ref("dfbeta").to_numpy()),
            "infmat": err(infl.to_frame("R").to_numpy()[pos], case.ref("infmat").to_numpy()),
        }
        row = {"case": name, "family": case.spec["family"], "link": case.spec["link"], **e,
               "max": max(e.values())}
        if "loo_coefficients" in case.spec["files"]:
            ex = fit.influence(loo="exact")
            ref = case.ref("loo_coefficients")
            cols = [list(fit.param_names).index(t) for t in ref.columns]
            change = fit.coef[cols][None, :] - ref.to_numpy(dtype=float)
            row["exact_loo_vs_r_refits"] = float(
                np.max(np.abs(ex.dfbeta[np.ix_(infl.index.get_indexer(ref.index), cols)] - change)
                       / np.max(np.abs(change), axis=0))
            )
        rows.append(row)
        print(f"  {name:42s} max rel. error {row['max']:.2e}"
              + (f"   exact LOO vs R refits {row['exact_loo_vs_r_refits']:.2e}" if "exact_loo_vs_r_refits" in row
                 else ""))
    by = pd.DataFrame(rows).groupby(["family", "link"])["max"].max()
    return {"cases": rows, "max_rel_error_by_family_link": {f"{f}/{lk}": v for (f, lk), v in by.items()}}


# ---------------------------------------------------------------------------------------------------------------


def exact_loo(n, p, refits, reps, seed=20240517):
    X, y = logistic_data(n, p, seed)
    t_fit, fit = best_of(lambda: regdiag.glm(y, X, family="binomial"), reps)
    c_fit = best_of.cpu
    t_exact, ex = best_of(lambda: fit.influence(loo="exact"), 1)
    c_exact = best_of.cpu
    t_one, _ = best_of(lambda: fit.influence(), reps)
    rows = np.linspace(0, n - 1, refits).round().astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c0 = time.process_time()
        t0 = time.perf_counter()
        sm_params = []
        for i in rows:
            keep = np.arange(n) != i
            sm_params.append(sm.GLM(y[keep], X[keep], family=sm.families.Binomial()).fit().params)
        t_sm = (time.perf_counter() - t0) / len(rows)
        c_sm = (time.process_time() - c0) / len(rows)
        # tightly converged refits of the same rows (dense Newton on statsmodels' score and Hessian)
        from tests.linear.test_glm_exact import logistic_newton_refit

        tight = [logistic_newton_refit(X, y, i, fit.coef) for i in rows[:5]]
    change = fit.coef[None, :] - np.array(tight)
    agree = float(np.max(np.abs(ex.dfbeta[rows[:5]] - change) / np.max(np.abs(change), axis=0)))
    agree_se = float(np.max(np.abs(ex.dfbeta[rows[:5]] - change) / fit.bse.to_numpy()[None, :]))
    one_thread = _exact_loo_one_thread(n, p, seed, reps)
    sm_default = float(np.max(np.abs((fit.coef[None, :] - np.array(sm_params)) - ex.dfbeta[rows])
                              / np.max(np.abs(ex.dfbeta[rows]), axis=0)))
    steps = np.bincount(ex.loo_iterations).tolist()
    out = {
        "n": n,
        "p": p,
        "regdiag_fit_s": t_fit,
        "regdiag_one_step_s": t_one,
        "regdiag_exact_loo_s": t_exact,
        "statsmodels_refit_s_each": t_sm,
        "statsmodels_refits_timed": len(rows),
        "statsmodels_n_refits_s_extrapolated": t_sm * n,
        "speedup_vs_statsmodels_refits": t_sm * n / t_exact,
        "speedup_vs_statsmodels_refits_cpu": c_sm * n / c_exact,
        "exact_over_one_fit": t_exact / t_fit,
        "exact_over_one_fit_cpu": c_exact / c_fit,
        "newton_steps_histogram": steps,
        "loo_tol_standard_errors": ex.loo_tol,
        "max_error_vs_tight_refits_rel_to_largest_change": agree,
        "max_error_vs_tight_refits_standard_errors": agree_se,
        "regdiag_exact_loo_one_blas_thread_s": one_thread["exact_s"],
        "regdiag_exact_loo_one_blas_thread_cpu_s": one_thread["exact_cpu_s"],
        "regdiag_exact_loo_s_best_of_reps_default_threads": one_thread["default_best_s"],
        "exact_loo_default_over_one_thread": one_thread["default_best_s"] / one_thread["exact_s"],
        "max_diff_vs_statsmodels_default_refits_rel": sm_default,
    }
    print(f"  exact LOO n={n} p={p}: regdiag {t_exact:.2f} s (one fit {t_fit:.3f} s, one-step {t_one:.3f} s); "
          f"statsmodels {t_sm:.3f} s per refit x {n} = {t_sm * n:.0f} s; speed-up {t_sm * n / t_exact:.0f}x; "
          f"exact/fit {t_exact / t_fit:.0f}; steps {steps}; vs tight refits {agree:.1e} ({agree_se:.1e} SE)")
    print(f"  regdiag exact LOO best of {reps}: default BLAS threads {one_thread['default_best_s']:.2f} s, one thread "
          f"(child process) {one_thread['exact_s']:.2f} s")
    return out


def _exact_loo_timing(n, p, seed, reps):
    """Best-of-``reps`` wall and CPU time of regdiag's exact leave-one-out (this process's BLAS threads)."""
    X, y = logistic_data(n, p, seed)
    fit = regdiag.glm(y, X, family="binomial")
    t, _ = best_of(lambda: fit.influence(loo="exact"), reps)
    return {"exact_s": t, "exact_cpu_s": best_of.cpu}


def _exact_loo_one_thread(n, p, seed, reps):
    """The exact leave-one-out timing with one BLAS thread (a child process, since BLAS reads its thread count when
    numpy loads), next to the same timing here with the default threads."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    res = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--loo-timing", f"{n},{p},{seed},{reps}", "--threads", "1"],
        capture_output=True, text=True, check=True, env=env, cwd=str(ROOT),
    )
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["default_best_s"] = _exact_loo_timing(n, p, seed, reps)["exact_s"]
    return out


# ---------------------------------------------------------------------------------------------------------------


def run_r(X, y, reps):
    if shutil.which("Rscript") is None:
        return None
    n, k = X.shape[0], X.shape[1] - 1
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "xy.bin"
        np.concatenate([X[:, 1:].ravel(order="F"), y]).astype("<f8").tofile(data)
        script = Path(tmp) / "glm.R"
        script.write_text(R_SCRIPT)
        res = subprocess.run(["Rscript", str(script), str(data), str(n), str(k), str(reps)],
                             capture_output=True, text=True, check=True)
    t_fit, t_inf, c_fit, c_inf, it, cook = res.stdout.split()
    return {"glm_s": float(t_fit), "influence_measures_s": float(t_inf), "glm_cpu_s": float(c_fit),
            "influence_measures_cpu_s": float(c_inf), "iter": int(it), "max_cook_d": float(cook)}


def large_n(n, p, sm_n, reps, use_r, seed=20240517):
    X, y = logistic_data(n, p, seed)
    df = pd.DataFrame(X[:, 1:], columns=[f"V{j}" for j in range(1, p)])
    df["y"] = y
    formula = "y ~ " + " + ".join(df.columns[:-1])

    def formula_path():
        fit = regdiag.glm(formula, data=df, family="binomial")
        infl = fit.influence()
        return fit, infl, infl.to_frame("R")

    def array_path():
        fit = regdiag.glm(y, X, family="binomial")
        infl = fit.influence()
        return fit, infl, infl.to_frame("R")

    t_formula, (fit, _infl, frame) = best_of(formula_path, reps)
    c_formula = best_of.cpu
    t_array, _ = best_of(array_path, reps)
    c_array = best_of.cpu
    t_fit_only, _ = best_of(lambda: regdiag.glm(formula, data=df, family="binomial"), reps)
    c_fit_only = best_of.cpu
    # peak memory (separate, untimed run)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    _ = array_path()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del _
    out = {
        "n": n,
        "p": p,
        "regdiag_iterations": fit.iterations,
        "regdiag_formula_fit_s": t_fit_only,
        "regdiag_formula_fit_cpu_s": c_fit_only,
        "regdiag_formula_fit_influence_frame_s": t_formula,
        "regdiag_formula_fit_influence_frame_cpu_s": c_formula,
        "regdiag_array_fit_influence_frame_s": t_array,
        "regdiag_array_fit_influence_frame_cpu_s": c_array,
        "regdiag_peak_memory_over_X": peak / X.nbytes,
        "regdiag_max_cook_d": float(np.nanmax(frame["cook.d"])),
    }
    print(f"  n={n} p={p}: regdiag formula fit {t_fit_only:.2f} s (CPU {c_fit_only:.2f}); fit + influence + infmat "
          f"{t_formula:.2f} s (CPU {c_formula:.2f}; arrays {t_array:.2f} s); {fit.iterations} IRLS iterations; "
          f"peak memory {peak / X.nbytes:.1f} x X")
    if use_r:
        r = run_r(X, y, 1 if n > 10**5 else reps)
        if r is not None:
            out["r"] = r
            out["ratio_r_glm_over_regdiag_all"] = r["glm_s"] / t_formula
            out["ratio_r_glm_over_regdiag_all_cpu"] = r["glm_cpu_s"] / c_formula
            out["ratio_r_glm_plus_influence_over_regdiag_all"] = (r["glm_s"] + r["influence_measures_s"]) / t_formula
            out["max_cook_d_rel_diff_vs_r"] = abs(r["max_cook_d"] - out["regdiag_max_cook_d"]) / r["max_cook_d"]
            print(f"  R (same data, same run): glm {r['glm_s']:.2f} s (CPU {r['glm_cpu_s']:.2f}; {r['iter']} "
                  f"iterations), influence.measures {r['influence_measures_s']:.2f} s; R glm alone / regdiag "
                  f"everything = {out['ratio_r_glm_over_regdiag_all']:.2f} (CPU "
                  f"{out['ratio_r_glm_over_regdiag_all_cpu']:.2f})")
    Xs, ys = X[:sm_n], y[:sm_n]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c0 = time.process_time()
        t0 = time.perf_counter()
        res = sm.GLM(ys, Xs, family=sm.families.Binomial()).fit()
        t1 = time.perf_counter()
        res.get_influence(observed=False).summary_frame()
        t2 = time.perf_counter()
        c2 = time.process_time()
    scale = n / sm_n
    out["statsmodels"] = {
        "n_timed": sm_n,
        "measured_at_n": sm_n == n,
        "fit_s": t1 - t0,
        "summary_frame_s": t2 - t1,
        "cpu_s": c2 - c0,
        "fit_s_at_n": (t1 - t0) * scale,
        "summary_frame_s_at_n": (t2 - t1) * scale,
    }
    out["ratio_statsmodels_all_over_regdiag_all"] = (t2 - t0) * scale / t_formula
    out["ratio_statsmodels_all_over_regdiag_all_cpu"] = (c2 - c0) * scale / c_formula
    how = "measured" if sm_n == n else f"x{scale:g} (extrapolated) ->"
    print(f"  statsmodels at n={sm_n}: fit {t1 - t0:.2f} s + summary_frame {t2 - t1:.2f} s; {how} "
          f"{(t2 - t0) * scale:.1f} s; ratio to regdiag {out['ratio_statsmodels_all_over_regdiag_all']:.1f}")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-large", type=int, default=10**6)
    ap.add_argument("--p-large", type=int, default=20)
    ap.add_argument("--n-loo", type=int, default=10**4)
    ap.add_argument("--p-loo", type=int, default=10)
    ap.add_argument("--sm-n", type=int, default=None,
                    help="rows for statsmodels at large n (default: n-large, measured directly)")
    ap.add_argument("--sm-refits", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--quick", action="store_true", help="small sizes, to check that the script runs")
    ap.add_argument("--threads", default=None, help="pin BLAS threads (set before numpy loads); default: BLAS's own")
    ap.add_argument("--loo-timing", default=None, help=argparse.SUPPRESS)  # child process: n,p,seed,reps
    ap.add_argument("--out", type=Path, default=HERE / "results_glm.json")
    a = ap.parse_args(argv)
    if a.loo_timing:
        n, p, seed, reps = (int(v) for v in a.loo_timing.split(","))
        print(json.dumps(_exact_loo_timing(n, p, seed, reps)))
        return
    if a.quick:
        a.n_large, a.n_loo, a.sm_n, a.sm_refits, a.reps = 20_000, 1_000, 5_000, 5, 1
    if a.sm_n is None:
        a.sm_n = a.n_large
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "statsmodels": statsmodels.__version__,
        "regdiag": regdiag.__version__,
        "load_average_at_start": os.getloadavg(),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS") or "default (not pinned)",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()},
    }
    print("accuracy against R")
    acc = accuracy()
    print("exact leave-one-out")
    loo = exact_loo(a.n_loo, a.p_loo, a.sm_refits, a.reps)
    print("large n")
    big = large_n(a.n_large, a.p_large, a.sm_n, a.reps, not a.no_r)
    info["load_average_at_end"] = os.getloadavg()
    result = {"machine": info, "accuracy_vs_r": acc, "exact_loo": loo, "large_n": big}
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
