"""Plots, report and compare: regdiag against what users run today (R's car and base graphics, statsmodels), on the
same data in one run.

Usage: python benchmarks/bench_report.py [--sizes 1000 10000 100000] [--p 8] [--no-r]

Measures
* Q-Q envelope (199 simulated data sets, 95% band), n in --sizes[:2], p = 5: regdiag's projection of simulated
  errors with the fit's own Q (``regdiag.plots._simulate.envelope``) against the same envelope by refitting every
  simulated response (``regdiag.ols(y_sim, X, weights=w).influence()``, which is what car's ``qqPlot(simulate =
  TRUE)`` does) and against car::qqPlot itself (R, drawing to a null device). The two regdiag envelopes are checked
  to be equal (same draws).
* ``regdiag report`` end to end (fit, every measure, CSV + JSON exports, 8 to 10 embedded plots, HTML), with and
  without the engine cross-check, for each n in --sizes: wall time and peak resident memory of the process (the
  command run as a subprocess); against R doing the usual by hand: lm, influence.measures, write.csv, and
  plot(fit, which = 1:6) plus car::influencePlot to PNG files.
* ``regdiag.compare(results)`` on a statsmodels OLS fit (n = 2000): its time against statsmodels'
  ``OLSInfluence(res).summary_frame()`` alone (which refits n times, and which compare runs too).
Writes benchmarks/results_report.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import regdiag

HERE = Path(__file__).resolve().parent

R_QQ = r"""
suppressPackageStartupMessages(library(car))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
fit <- lm(y ~ ., data = d[, setdiff(names(d), "w")], weights = d$w)
pdf(NULL)
t <- system.time(qqPlot(fit, simulate = TRUE, reps = 199, envelope = 0.95, id = FALSE))[["elapsed"]]
invisible(dev.off())
cat(t, "\n")
"""

R_REPORT = r"""
suppressPackageStartupMessages(library(car))
args <- commandArgs(trailingOnly = TRUE)
out <- args[2]
t <- system.time({
  d <- read.csv(args[1])
  fit <- lm(y ~ ., data = d)
  im <- influence.measures(fit)
  write.csv(im$infmat, file.path(out, "influence_measures.csv"))
  for (k in 1:6) {
    png(file.path(out, sprintf("plot%d.png", k)), width = 700, height = 500)
    plot(fit, which = k)
    invisible(dev.off())
  }
  png(file.path(out, "influence.png"), width = 700, height = 500)
  invisible(influencePlot(fit))
  invisible(dev.off())
})[["elapsed"]]
cat(t, "\n")
"""


def _design(n: int, p: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1))])
    y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    w = rng.uniform(0.5, 2.0, n)
    return X, y, w


def _best(fn, repeat: int = 3) -> float:
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_envelope(n: int, use_r: bool) -> dict:
    from regdiag.plots._simulate import envelope, linear_student_from_draws

    p = 5
    X, y, w = _design(n, p)
    fit = regdiag.ols(y, X, weights=w)
    infl = fit.influence()
    m = int(np.isfinite(infl.student_resid).sum())
    t_proj = _best(lambda: envelope(infl, m, nsim=199, rng=1), repeat=2)

    def refits() -> np.ndarray:
        rng = np.random.default_rng(1)
        Z = rng.standard_normal((n, 199))
        mean = X @ fit.coef
        out = np.empty((n, 199))
        for k in range(199):
            y_sim = mean + infl.sigma * Z[:, k] / np.sqrt(w)
            out[:, k] = np.sort(regdiag.ols(y_sim, X, weights=w).influence().student_resid)
        return out

    t_refit = _best(refits, repeat=1)
    # the same draws give the same sorted residuals: the shortcut is exact
    Z = np.random.default_rng(1).standard_normal((n, 3))
    T = np.sort(linear_student_from_draws(np.asarray(fit.factor.q), infl.leverage, infl.df_resid, Z), axis=0)
    mean = X @ fit.coef
    ref = np.column_stack(
        [np.sort(regdiag.ols(mean + infl.sigma * Z[:, k] / np.sqrt(w), X, weights=w).influence().student_resid)
         for k in range(3)]
    )
    row = {
        "n": n, "p": p, "nsim": 199,
        "regdiag_projection_s": t_proj,
        "regdiag_refits_s": t_refit,
        "refits_over_projection": t_refit / t_proj,
        "max_abs_diff_projection_vs_refit": float(np.max(np.abs(T - ref))),
    }
    if use_r:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "d.csv"
            df = pd.DataFrame(X[:, 1:], columns=[f"x{j}" for j in range(1, p)]).assign(y=y, w=w)
            df.to_csv(path, index=False)
            script = Path(tmp) / "qq.R"
            script.write_text(R_QQ)
            res = subprocess.run(["Rscript", str(script), str(path)], capture_output=True, text=True, check=True)
            row["r_car_qqplot_s"] = float(res.stdout.split()[0])
            row["r_car_over_projection"] = row["r_car_qqplot_s"] / t_proj
    return row


def _run_measured(cmd: list[str]) -> tuple[float, float, str]:
    """Wall time and peak resident memory (MiB, from GNU time's %M; NaN without it) of a child process."""
    gnu_time = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as mem:
        full = [gnu_time, "-f", "%M", "-o", mem.name, *cmd] if gnu_time else cmd
        t = time.perf_counter()
        res = subprocess.run(full, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if res.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {res.stderr[-2000:]}")
        text = mem.read().strip().splitlines()
        peak = float(text[-1]) / 1024.0 if gnu_time and text else float("nan")
    return wall, peak, res.stdout


def bench_report(n: int, p: int, use_r: bool) -> dict:
    X, y, _ = _design(n, p, seed=2)
    row: dict = {"n": n, "p": p}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.csv"
        pd.DataFrame(X[:, 1:], columns=[f"x{j}" for j in range(1, p)]).assign(y=y).to_csv(path, index=False)
        formula = "y ~ " + " + ".join(f"x{j}" for j in range(1, p))
        exe = [sys.executable, "-m", "regdiag.cli", "report", str(path), "--formula", formula, "--quiet"]
        row["regdiag_report_s"], row["regdiag_report_peak_mib"], _ = _run_measured(exe + ["-o", f"{tmp}/a"])
        row["regdiag_report_no_cross_check_s"], _, _ = _run_measured(
            exe + ["-o", f"{tmp}/b", "--no-cross-check", "--no-engine-plots"]
        )
        row["report_html_mib"] = (Path(tmp) / "a" / "report.html").stat().st_size / 2**20
        if use_r:
            script = Path(tmp) / "report.R"
            script.write_text(R_REPORT)
            (Path(tmp) / "r").mkdir()
            _, _, out = _run_measured(["Rscript", str(script), str(path), f"{tmp}/r"])
            row["r_by_hand_s"] = float(out.split()[0])
            row["regdiag_no_cross_check_over_r"] = row["regdiag_report_no_cross_check_s"] / row["r_by_hand_s"]
    return row


def bench_compare(n: int = 2000) -> dict:
    import statsmodels.api as sm
    from statsmodels.stats.outliers_influence import OLSInfluence

    X, y, _ = _design(n, 6, seed=3)
    res = sm.OLS(y, X).fit()
    t_sm = _best(lambda: OLSInfluence(res).summary_frame(), repeat=1)
    t_cmp = _best(lambda: regdiag.compare(res), repeat=1)
    return {"n": n, "p": 6, "statsmodels_summary_frame_s": t_sm, "regdiag_compare_s": t_cmp,
            "compare_over_statsmodels": t_cmp / t_sm}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--p", type=int, default=8)
    ap.add_argument("--no-r", action="store_true")
    args = ap.parse_args()
    use_r = not args.no_r and shutil.which("Rscript") is not None
    results = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "numpy": np.__version__, "regdiag": regdiag.__version__},
        "envelope": [bench_envelope(n, use_r) for n in args.sizes[:2]],
        "report": [bench_report(n, args.p, use_r) for n in args.sizes],
        "compare": bench_compare(),
    }
    print(json.dumps(results, indent=1))
    (HERE / "results_report.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
