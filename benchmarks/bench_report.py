"""``regdiag report`` against R by hand, same machine, same run: the main job from 50 rows to 10^6.

Usage: python benchmarks/bench_report.py [--big 100000 1000000] [--skip-r-above N] [--repeat 2] [--profile]

For each case both sides run as their own process from a cold start (interpreter or Rscript start, reading the
data file included), timed by wall clock with peak resident memory (GNU time's %M):

* regdiag: ``regdiag report <data> --formula ... [--family ...] -o <tmp> --quiet``, the program ``make report`` runs
  (``python -m regdiag.cli`` where it is not installed next to this interpreter) (fit, every
  measure, flags, outlier test, engine cross-check up to 200 000 rows, envelopes, 14 to 15 embedded plots, exports:
  CSV + JSON up to 50 000 rows, parquet above); the big cases also without the engine and from parquet
  (``--in-memory``, the same report).
* R by hand: ``read.csv``, ``lm`` / ``glm`` / ``MASS::glm.nb``, ``influence.measures``, ``write.csv`` of the
  measures, ``plot(fit, which = 1:6)`` to six PNG files and ``car::influencePlot`` to a seventh.

Cases: LifeCycleSavings (bundled, n = 50, OLS), carData Prestige (n = 102, OLS), carData Mroz (n = 753,
logistic), carData Ornstein (n = 248, negative binomial; both estimate theta by maximum likelihood),
synthetic n = 10^5 and 10^6 with p = 11 (CSV). ``--profile`` adds a cProfile summary of the largest case (the top
cumulative entries of regdiag's own functions, with the figures drawn in the profiled process). The machine's load
(``os.getloadavg``) is recorded beside each case: other work on the machine slows both sides. Writes
benchmarks/results_report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

R_BY_HAND = r"""
suppressPackageStartupMessages({library(car); library(MASS)})
args <- commandArgs(trailingOnly = TRUE)
data <- args[1]; out <- args[2]; kind <- args[3]; formula <- as.formula(args[4])
d <- read.csv(data, row.names = if (args[5] == "1") 1 else NULL, stringsAsFactors = TRUE)
fit <- switch(kind, lm = lm(formula, data = d), binomial = glm(formula, family = binomial, data = d),
              nb = glm.nb(formula, data = d))
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
"""

R_EXPORT = r"""
suppressPackageStartupMessages(library(carData))
args <- commandArgs(trailingOnly = TRUE)
write.csv(Prestige, file.path(args[1], "prestige.csv"))
m <- Mroz; m$lfp <- as.integer(m$lfp == "yes"); write.csv(m, file.path(args[1], "mroz.csv"))
write.csv(Ornstein, file.path(args[1], "ornstein.csv"), row.names = FALSE)
"""


def _run(cmd: list[str], env: dict | None = None) -> tuple[float, float, float]:
    """Wall time (s), peak resident memory (MiB) and CPU time (user + system, s, the process and the children it
    waited for: on a shared machine the CPU time depends far less on the others' load than the wall time) of a
    child process."""
    gnu_time = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as mem:
        full = [gnu_time, "-f", "%M %U %S", "-o", mem.name, *cmd] if gnu_time else cmd
        t = time.perf_counter()
        res = subprocess.run(full, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t
        if res.returncode != 0:
            raise RuntimeError(f"{cmd[:4]} failed: {res.stderr[-2000:]}")
        text = mem.read().strip().splitlines()
        if gnu_time and text:
            kb, user, system = text[-1].split()
            peak, cpu = float(kb) / 1024.0, float(user) + float(system)
        else:
            peak = cpu = float("nan")
    return wall, peak, cpu


def _best(cmd: list[str], repeat: int, env: dict | None = None) -> tuple[float, float, float]:
    runs = [_run(cmd, env) for _ in range(repeat)]
    return min(r[0] for r in runs), max(r[1] for r in runs), min(r[2] for r in runs)


def _synthetic(n: int, p: int, folder: Path) -> Path:
    rng = np.random.default_rng(2)
    X = rng.standard_normal((n, p - 1))
    y = X @ rng.standard_normal(p - 1) + rng.standard_normal(n)
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(1, p)]).assign(y=y)
    path = folder / f"synthetic_{n}.csv"
    df.to_csv(path, index=False)
    df.to_parquet(folder / f"synthetic_{n}.parquet", index=False)
    return path


NOTES = [
    "Each side is one process from a cold start, timed by wall clock and by CPU time (user + system, children "
    "included); the machine has 2 cores shared with other work (load average recorded per case before and after), "
    "so wall times vary with the others' load; CPU times vary much less.",
    "regdiag's report draws 14 to 15 figures (R by hand: 7) in 2 worker processes. Up to 20 000 rows, and while "
    "the load average is below the number of cores, the first worker starts before the data is read, loads "
    "matplotlib while the parent reads, fits and computes, then forks the second; both draw the main figures while "
    "the parent runs the engine cross-check. Figures are SVG up to 200 rows, PNG above. Above 200 000 rows the "
    "report leaves out the engine cross-check and engine plots (regdiag.cross_check(fit) runs them), above 50 000 "
    "rows it exports parquet instead of CSV + JSON.",
    "regdiag's byte-code is compiled before the runs (as pip does when it installs a package), so no run pays for "
    "compiling the package's sources.",
    "Ornstein: both sides estimate the negative binomial's theta by maximum likelihood (regdiag as MASS::glm.nb "
    "does).",
    "profile_largest: cProfile of the largest case with the figures drawn in the profiled process (no worker "
    "processes), so the figures' own cost shows; cProfile adds overhead.",
]

#: a cProfile of the report with the figures drawn in the same process (PARALLEL_FIGURES set above any count)
PROFILE = (
    "import cProfile, sys\n"
    "from regdiag.report import html\n"
    "html.PARALLEL_FIGURES = 10**9\n"
    "from regdiag import cli\n"
    "out = sys.argv.pop(1)\n"
    "cProfile.run('cli.main(sys.argv[1:])', out)\n"
)


def _commit() -> str:
    if os.environ.get("BENCH_COMMIT"):  # a copy of the tree outside git: the commit it was taken from
        return os.environ["BENCH_COMMIT"]
    res = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "regdiag", "benchmarks"],
                           capture_output=True, text=True).stdout.strip()
    return (res.stdout.strip() or "unknown") + (" (with uncommitted changes)" if dirty else "")


def _profile(big: dict, tmp: Path, env: dict) -> dict:
    """The top entries (cumulative time) of regdiag's own functions in a cProfile of the largest case."""
    import pstats

    prof = tmp / "report.prof"
    cmd = [sys.executable, "-c", PROFILE, str(prof), "report", big["data"], "--formula", big["formula"], "-o",
           str(tmp / "out_prof"), "--quiet"]
    load = os.getloadavg()[0]
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    st = pstats.Stats(str(prof))
    entries = []
    for (file, _line, fn), (_cc, nc, _tt, ct, _callers) in st.stats.items():
        if "/regdiag/" in file or fn in ("read_csv", "savefig", "lowess"):
            entries.append({"function": f"{Path(file).parent.name}/{Path(file).name}:{fn}",
                            "cumulative_s": round(ct, 3), "calls": nc})
    entries.sort(key=lambda e: -e["cumulative_s"])
    return {"case": big["name"], "load_before": load, "total_s": round(st.total_tt, 3), "top": entries[:40]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", type=int, nargs="*", default=[100_000, 1_000_000])
    ap.add_argument("--skip-r-above", type=int, default=10**7)
    ap.add_argument("--repeat", type=int, default=2, help="runs of each small case (the best is kept)")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "regdiag")], check=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench_report_"))
    (tmp / "export.R").write_text(R_EXPORT)
    subprocess.run(["Rscript", str(tmp / "export.R"), str(tmp)], check=True, capture_output=True)
    script = tmp / "by_hand.R"
    script.write_text(R_BY_HAND)
    p = 11
    syn_formula = "y ~ " + " + ".join(f"x{j}" for j in range(1, p))
    cases = [
        dict(name="LifeCycleSavings (bundled)", n=50, data=str(ROOT / "datasets" / "LifeCycleSavings.csv"),
             formula="sr ~ pop15 + pop75 + dpi + ddpi", r_formula="sr ~ pop15 + pop75 + dpi + ddpi", kind="lm",
             regdiag=[], rownames="1"),
        dict(name="carData Prestige, OLS", n=102, data=str(tmp / "prestige.csv"),
             formula="prestige ~ income + education + women", r_formula="prestige ~ income + education + women",
             kind="lm", regdiag=[], rownames="1"),
        dict(name="carData Mroz, logistic", n=753, data=str(tmp / "mroz.csv"),
             formula="lfp ~ k5 + k618 + age + wc + hc + lwg + inc", r_formula="lfp ~ k5 + k618 + age + wc + hc + "
             "lwg + inc", kind="binomial", regdiag=["--family", "binomial"], rownames="1"),
        dict(name="carData Ornstein, negative binomial", n=248, data=str(tmp / "ornstein.csv"),
             formula="interlocks ~ np.log2(assets) + nation + sector",
             r_formula="interlocks ~ log2(assets) + nation + sector", kind="nb",
             regdiag=["--family", "negative_binomial"], rownames="0"),
    ]
    for n in args.big:
        path = _synthetic(n, p, tmp)
        cases.append(dict(name=f"synthetic n = {n}, p = {p} (CSV of {path.stat().st_size / 2**20:.0f} MiB)", n=n,
                          data=str(path), formula=syn_formula, r_formula=syn_formula, kind="lm", regdiag=[],
                          rownames="0", parquet=str(path.with_suffix(".parquet"))))
    rows = []
    code = _commit()
    # the program make report runs (the package's entry point, next to this interpreter), else the module
    entry = Path(sys.executable).parent / "regdiag"
    program = [str(entry)] if entry.exists() else [sys.executable, "-m", "regdiag.cli"]
    for c in cases:
        repeat = args.repeat if c["n"] <= 1000 else 1
        out = tmp / f"out_{len(rows)}"  # a fresh folder per case: its file list is this case's alone
        exe = [*program, "report", c["data"], "--formula", c["formula"], *c["regdiag"],
               "-o", str(out), "--quiet"]
        row = {"case": c["name"], "n": c["n"], "code": code, "load_before": os.getloadavg()[0]}
        row["regdiag_s"], row["regdiag_peak_mib"], row["regdiag_cpu_s"] = _best(exe, repeat, env)
        row["regdiag_files"] = sorted(f.name for f in out.iterdir())
        row["report_html_mib"] = (out / "report.html").stat().st_size / 2**20
        if c["n"] > 1000:
            row["regdiag_no_engine_s"], _, row["regdiag_no_engine_cpu_s"] = _best(
                exe + ["--no-cross-check", "--no-engine-plots"], 1, env)
        if "parquet" in c:
            pq = [*program, "report", c["parquet"], "--in-memory", "--formula",
                  c["formula"], "-o", str(tmp / "out_pq"), "--quiet"]
            row["regdiag_parquet_s"], row["regdiag_parquet_peak_mib"], row["regdiag_parquet_cpu_s"] = _best(pq, 1, env)
        if c["n"] <= args.skip_r_above and shutil.which("Rscript"):
            rdir = tmp / "r"
            rdir.mkdir(exist_ok=True)
            r_cmd = ["Rscript", str(script), c["data"], str(rdir), c["kind"], c["r_formula"], c["rownames"]]
            row["r_by_hand_s"], row["r_peak_mib"], row["r_cpu_s"] = _best(r_cmd, repeat)
            row["r_over_regdiag"] = row["r_by_hand_s"] / row["regdiag_s"]
            row["r_over_regdiag_cpu"] = row["r_cpu_s"] / row["regdiag_cpu_s"]
            if "regdiag_parquet_s" in row:
                row["r_over_regdiag_parquet"] = row["r_by_hand_s"] / row["regdiag_parquet_s"]
        row["load_after"] = os.getloadavg()[0]
        print(json.dumps(row), flush=True)
        rows.append(row)
        partial = {"report": rows, "note": "partial: the run has not finished"}
        (HERE / "results_report.partial.json").write_text(json.dumps(partial, indent=1) + "\n")
    result = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                    "numpy": np.__version__, "code": code,
                    "note": "shared machine: load average (1 min) recorded per case"},
        "report": rows,
        "notes": NOTES,
    }
    if args.profile and args.big:
        result["profile_largest"] = _profile(cases[-1], tmp, env)
    (HERE / "results_report.json").write_text(json.dumps(result, indent=1) + "\n")
    (HERE / "results_report.partial.json").unlink(missing_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
