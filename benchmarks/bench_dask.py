"""Out-of-core OLS influence on Dask against the in-memory path: rows per second and peak memory, in one run.

Usage: python benchmarks/bench_dask.py [--n 100000000] [--p 10] [--chunk 1000000] [--n-memory 10000000]
       [--scale-n 16000000] [--scale-chunks 250000,1000000] [--reuse-large]

Data: an intercept and p - 1 standard normal regressors, ``y = X beta + N(0, 1)``, made block by block from a
seeded generator (block b of ``chunk`` rows from ``default_rng([seed, b])``), so the Dask path generates every
block on the fly in every pass (nothing is stored) and the in-memory path holds exactly the same numbers.

Each measurement runs in its own process (so that its peak resident memory is its own):
* memory: ``regdiag.ols(y, X)`` on numpy arrays of ``n_memory`` rows, ``.influence()``, and the summary a user
  reads (rule "R" flags counted per criterion, the 10 rows with the largest Cook's distance);
* dask at ``n_memory`` rows (same data): ``regdiag.ols`` on Dask arrays (one pass), ``influence().summary("R")``
  (one pass), and the numbers compared with the in-memory run's;
* dask at ``n`` rows (default 10^8): the same two passes, plus one pass that only generates the data (what making
  the data costs per pass, which the in-memory timing does not include).
* memory scaling: the large run's process (generation pass, fit, summary) at ``scale_n`` rows with two chunk sizes
  (16 and 64 blocks by default: enough for the steady state of 2 workers); the peak resident set size of the whole
  process (``ru_maxrss``: imports, data generation and the passes) is fitted as ``baseline + k * chunk_bytes``
  (``chunk_bytes = chunk * (p + 1) * 8``, the bytes of one block of ``[X y]``). How many blocks are in flight at
  once varies from run to run with the scheduler's timing (repeated runs at one chunk size differ by a few per
  cent), so the stated bound allows 10% more for the block-dependent part: ``baseline + 1.1 * k * chunk_bytes``,
  independent of ``n``; the large run's own ``ru_maxrss`` is checked against it.
Peak memory is the largest resident set size sampled every 20 ms (psutil) and ``ru_maxrss``; the Dask runs use the
threaded scheduler with 2 workers and single-threaded BLAS per worker, the in-memory run multithreaded BLAS.

Writes benchmarks/results_dask.json. ``--reuse-large`` takes the large run for ``--n`` from that file instead of
running it again (it takes minutes); the record says so. The large run is stored under ``dask_large`` by its number
of rows: a run at another ``--n`` is added next to the earlier ones (each with the machine, load and time it was
measured at), so a smaller check run does not replace the figures at 10^8 rows; the other sections are those of the
latest run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20240601


def make_block(b: int, m: int, p: int):
    import numpy as np

    rng = np.random.default_rng([SEED, b])
    X = np.empty((m, p))
    X[:, 0] = 1.0
    X[:, 1:] = rng.standard_normal((m, p - 1))
    beta = np.linspace(1.0, -1.0, p)
    y = X @ beta + rng.standard_normal(m)
    return y, X


class PeakRSS:
    """Largest resident set size of this process, sampled in a thread."""

    def __init__(self, every: float = 0.02) -> None:
        import psutil

        self.proc = psutil.Process()
        self.every = every
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.every)

    def __enter__(self) -> PeakRSS:
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def _gib(b: float) -> float:
    return round(b / 2**30, 3)


def _machine() -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "load_average_1_5_15_min": os.getloadavg(), "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def run_memory(n: int, p: int, chunk: int) -> dict:
    import numpy as np

    import regdiag

    blocks = [make_block(b, min(chunk, n - s), p) for b, s in enumerate(range(0, n, chunk))]
    y = np.concatenate([bl[0] for bl in blocks])
    X = np.concatenate([bl[1] for bl in blocks])
    del blocks
    base = PeakRSS().proc.memory_info().rss
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        fit = regdiag.ols(y, X)
        t1 = time.perf_counter()
        infl = fit.influence()
        flags = infl.flags("R")
        counts = flags.fillna(False).astype(bool).sum()
        n_flagged = int(flags.fillna(False).astype(bool).any(axis=1).sum())
        top = np.argsort(-np.nan_to_num(infl.cooks_distance, nan=-1.0))[:10]
        t2 = time.perf_counter()
    return {
        "n": n,
        "p": p,
        "fit_s": t1 - t0,
        "influence_summary_s": t2 - t1,
        "total_s": t2 - t0,
        "rows_per_s": n / (t2 - t0),
        "data_gib": _gib(X.nbytes + y.nbytes),
        "peak_rss_gib": _gib(mem.peak),
        "peak_rss_above_data_gib": _gib(mem.peak - base),
        "coef": fit.coef.tolist(),
        "sigma": fit.sigma,
        "flag_counts": {k: int(v) for k, v in counts.items()},
        "n_flagged": n_flagged,
        "top_rows": [int(i) for i in top],
    }


def dask_data(n: int, p: int, chunk: int):
    import dask
    import dask.array as da
    import numpy as np

    ys, Xs = [], []
    for b, s in enumerate(range(0, n, chunk)):
        m = min(chunk, n - s)
        blk = dask.delayed(make_block, pure=True)(b, m, p)
        ys.append(da.from_delayed(blk[0], shape=(m,), dtype=np.float64))
        Xs.append(da.from_delayed(blk[1], shape=(m, p), dtype=np.float64))
    return da.concatenate(ys), da.concatenate(Xs)


def run_dask(n: int, p: int, chunk: int, workers: int, generate_only: bool) -> dict:
    import dask

    import regdiag

    y, X = dask_data(n, p, chunk)
    out: dict = {"n": n, "p": p, "chunk_rows": chunk, "chunk_bytes": chunk * (p + 1) * 8,
                 "chunk_mib": round(chunk * (p + 1) * 8 / 2**20, 1), "workers": workers, "blocks": len(y.chunks[0])}
    with dask.config.set(scheduler="threads", num_workers=workers), PeakRSS() as mem:
        if generate_only:
            t = time.perf_counter()
            (_s,) = dask.compute(y.sum() + X[:, 1].sum())
            out["generate_pass_s"] = time.perf_counter() - t
        t0 = time.perf_counter()
        fit = regdiag.ols(y, X)
        t1 = time.perf_counter()
        summary = fit.influence().summary("R", top=10)
        t2 = time.perf_counter()
    out.update(
        fit_s=t1 - t0,
        influence_summary_s=t2 - t1,
        total_s=t2 - t0,
        rows_per_s=n / (t2 - t0),
        data_gib=_gib(n * (p + 1) * 8),
        peak_rss_gib=_gib(mem.peak),
        ru_maxrss_gib=_gib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024),
        ru_maxrss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        coef=fit.coef.tolist(),
        sigma=fit.sigma,
        est_error=fit.est_error,
        refine_steps=fit.refine_steps,
        flag_counts={k: int(v) for k, v in summary.flag_counts.items()},
        n_flagged=summary.n_flagged,
        top_rows=[int(i) for i in summary.top.index],
    )
    return out


def child(args: argparse.Namespace) -> None:
    if args.role == "memory":
        res = run_memory(args.n, args.p, args.chunk)
    else:
        res = run_dask(args.n, args.p, args.chunk, args.workers, args.generate_only)
    print("RESULT " + json.dumps(res))


def spawn(role: str, n: int, p: int, chunk: int, workers: int, extra: list[str], env: dict) -> dict:
    cmd = [sys.executable, __file__, "--role", role, "--n", str(n), "--p", str(p), "--chunk", str(chunk),
           "--workers", str(workers), *extra]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env})
    if proc.returncode != 0:
        raise RuntimeError(f"{role} run failed:\n{proc.stderr[-4000:]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    res = json.loads(line[len("RESULT "):])
    res["process_wall_s"] = time.perf_counter() - t
    print(f"{role} n={n}: {json.dumps({k: v for k, v in res.items() if k not in ('coef', 'flag_counts')})}",
          flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000_000)
    ap.add_argument("--p", type=int, default=10)
    ap.add_argument("--chunk", type=int, default=1_000_000)
    ap.add_argument("--n-memory", type=int, default=10_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scale-n", type=int, default=16_000_000)
    ap.add_argument("--scale-chunks", default="250000,1000000", help="two chunk sizes (rows) for the memory scaling")
    ap.add_argument("--reuse-large", action="store_true",
                    help="take the large run for --n from results_dask.json instead of running it again")
    ap.add_argument("--role", choices=["memory", "dask"])
    ap.add_argument("--generate-only", action="store_true")
    args = ap.parse_args()
    if args.role:
        child(args)
        return
    single = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    start = _machine()
    mem = spawn("memory", args.n_memory, args.p, args.chunk, args.workers, [], {})
    small = spawn("dask", args.n_memory, args.p, args.chunk, args.workers, [], single)
    chunks = [int(c) for c in args.scale_chunks.split(",")]
    if len(chunks) != 2 or chunks[0] == chunks[1]:
        raise SystemExit("--scale-chunks takes two different chunk sizes")
    scaling = [spawn("dask", args.scale_n, args.p, c, args.workers, ["--generate-only"], single) for c in chunks]
    out = HERE / "results_dask.json"
    earlier = _earlier_large_runs(out)
    if args.reuse_large:
        if str(args.n) not in earlier:
            raise SystemExit(f"--reuse-large: no large run with n = {args.n} in {out}")
        big = dict(earlier[str(args.n)])
        big.setdefault("reused", "measured earlier (see machine.time_utc), kept by --reuse-large")
        if (big["p"], big["chunk_rows"], big["workers"]) != (args.p, args.chunk, args.workers):
            raise SystemExit("--reuse-large: the stored large run has another p, chunk or number of workers")
    else:
        big = spawn("dask", args.n, args.p, args.chunk, args.workers, ["--generate-only"], single)
        big["machine"] = _machine()

    import numpy as np

    agree = {
        "coef_max_rel": float(np.max(np.abs(np.subtract(small["coef"], mem["coef"])) / np.abs(mem["coef"]))),
        "sigma_rel": abs(small["sigma"] / mem["sigma"] - 1.0),
        "flag_counts_equal": small["flag_counts"] == mem["flag_counts"],
        "n_flagged_equal": small["n_flagged"] == mem["n_flagged"],
        "top_rows_equal": small["top_rows"] == mem["top_rows"],
    }
    bound = memory_bound(scaling, big, args.p)
    gen = big.get("generate_pass_s", 0.0)
    large = {k: v for k, v in earlier.items() if k != str(big["n"]) and isinstance(v, dict) and "n" in v}
    large[str(big["n"])] = big
    results = {
        "machine": {**start, "load_average_1_5_15_min_at_end": os.getloadavg()},
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "memory": mem,
        "dask_same_n": small,
        "memory_scaling": {"n": args.scale_n, "runs": scaling},
        "memory_bound": bound,
        "dask_large": dict(sorted(large.items(), key=lambda kv: int(kv[0]))),
        "agreement_same_data": agree,
        "ratios": {
            "memory_over_dask_rows_per_s_same_n": mem["rows_per_s"] / small["rows_per_s"],
            f"memory_over_dask_rows_per_s_n_{big['n']}": mem["rows_per_s"] / big["rows_per_s"],
            f"memory_over_dask_n_{big['n']}_without_generation": mem["rows_per_s"]
            / (big["n"] / max(big["total_s"] - 2 * gen, 1e-9)),
        },
    }
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({"agreement": agree, "memory_bound": bound, "ratios": results["ratios"]}, indent=2))


def _earlier_large_runs(path: Path) -> dict:
    """The large runs already in ``path``, by number of rows (the earlier layout, one run, is converted)."""
    if not path.exists():
        return {}
    old = json.loads(path.read_text())
    large = old.get("dask_large", {})
    if "n" in large:  # the earlier layout: a single large run, the machine at the top level
        large = {str(large["n"]): {**large, "machine": old.get("machine"),
                                   "note": "measured with regdiag and bench_dask.py of commit f44c6b0, before results "
                                           "were kept by number of rows and before the Dask path refined "
                                           "coefficients (not triggered by this data: est_error 5e-16); rerun "
                                           "with this --n to replace"}}
    return large


#: allowance on the block-dependent part of the peak for the run-to-run variation of the blocks in flight
ALLOWANCE = 0.10


def memory_bound(scaling: list[dict], big: dict, p: int) -> dict:
    """Peak RSS (``ru_maxrss``) of the two scaling runs fitted as ``baseline + k * chunk_bytes``; the stated bound
    ``baseline + (1 + ALLOWANCE) k chunk_bytes`` at the large run's chunk size against the large run's own peak."""
    (a, b) = sorted(scaling, key=lambda r: r["chunk_rows"])
    ca, cb = (r["chunk_rows"] * (p + 1) * 8 for r in (a, b))
    pa, pb = (r["ru_maxrss_bytes"] for r in (a, b))
    k = (pb - pa) / (cb - ca)
    base = pa - k * ca
    chunk_bytes = big["chunk_rows"] * (p + 1) * 8
    line = base + k * chunk_bytes
    stated = base + (1 + ALLOWANCE) * k * chunk_bytes
    return {
        "statement": (
            f"peak RSS <= {base / 2**30:.3f} GiB + {1 + ALLOWANCE:.1f} x {k:.2f} x chunk bytes (chunk bytes = chunk "
            f"rows x (p + 1) x 8; k = {k:.2f} measured, 10% allowed for the scheduler's timing), whatever n. At "
            f"{big['chunk_rows']} rows x {p} columns ({chunk_bytes / 2**20:.1f} MiB per block): "
            f"{stated / 2**30:.3f} GiB"
        ),
        "baseline_gib": _gib(base),
        "k": round(k, 3),
        "allowance": ALLOWANCE,
        "fitted_from": [{"n": r["n"], "chunk_rows": r["chunk_rows"], "chunk_bytes": r["chunk_rows"] * (p + 1) * 8,
                         "blocks": r["blocks"], "ru_maxrss_gib": r["ru_maxrss_gib"]} for r in (a, b)],
        "chunk_rows": big["chunk_rows"],
        "chunk_bytes": chunk_bytes,
        "fitted_line_gib": _gib(line),
        "stated_bound_gib": _gib(stated),
        "large_run_n": big["n"],
        "large_run_ru_maxrss_gib": big["ru_maxrss_gib"],
        "large_run_peak_rss_sampled_gib": big["peak_rss_gib"],
        "large_run_over_fitted_line": round(big["ru_maxrss_bytes"] / line, 3),
        "large_run_over_bound": round(big["ru_maxrss_bytes"] / stated, 3),
        "large_run_within_bound": bool(big["ru_maxrss_bytes"] <= stated),
    }


if __name__ == "__main__":
    main()
