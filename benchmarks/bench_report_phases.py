"""Where the time of a small report goes, and the least wall time that work allows on this machine's cores.

Usage: python benchmarks/bench_report_phases.py [--repeat 9]   (writes benchmarks/results_report_phases.json)

In one run, on the bundled data (n = 50, OLS; the report's 14 figures):

1. **Phases** (``--phases``, a fresh interpreter): the CPU time of each step of the report done one after the other
   in one process: importing numpy, pandas and scipy; formulaic; regdiag's report modules; reading and fitting; the
   numbers the figures need (:func:`regdiag.report.bundle.diagnose` up to its ``ready`` call); the rest of the
   bundle (the engine cross-check and engine runs); the exports; importing matplotlib and the plot modules; each
   figure (drawn as the report draws it: SVG at this size, in a process whose garbage collector is frozen and off,
   as the report's drawing processes are); the page. The interpreter's own start is timed as a process of its own.
2. **The report** (``regdiag report``, the program ``make report`` runs) and **R by hand** (``lm``,
   ``influence.measures``, ``write.csv``, ``plot(fit, 1:6)``, ``car::influencePlot``; see bench_report.py), each
   ``--repeat`` times from a cold start, interleaved, wall and CPU time (children included).
3. **The bound.** However the work is split between processes, the wall time is at least
   ``max(total CPU / cores, serial + after / cores)``: ``serial`` is what must precede the first figure (the
   interpreter, the imports, reading, fitting and the figures' numbers; a drawing process loads matplotlib
   meanwhile, on the other core), ``after`` what can run in parallel once those numbers exist (the figures, the
   engine, the exports, the page's text, which the report writes while its workers draw). It assumes nothing is
   imported twice, the cores perfectly shared and no time to put the figures into the page, so a real run is
   slower.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
P = time.process_time


def phases() -> dict:
    """The CPU time of each phase, in this (fresh) process."""
    c0 = P()
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import scipy.linalg
    import scipy.special  # noqa: F401

    c1 = P()
    import formulaic  # noqa: F401

    c2 = P()
    from regdiag.report import bundle, fit_model, html, model_input

    c3 = P()
    spec = model_input(None, missing="omit")
    fit = fit_model(spec)
    c4 = P()
    marks: dict[str, float] = {}
    b = bundle.diagnose(fit, rule="R", nsim=199, cross_check=True, engine=True,
                        ready=lambda _: marks.setdefault("ready", P()))
    c5 = P()
    with tempfile.TemporaryDirectory() as tmp:
        written = html.write_exports(b, Path(tmp))
        c6 = P()
        import gc
        import warnings

        from regdiag import plots

        plots.warm_up()
        c7 = P()
        gc.freeze()
        gc.disable()
        figures = {}
        specs = html._plot_specs(b, 3, True)
        vector = html._vector(b.influence.n_obs)
        drawn = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for key, title, caption, make in specs:
                t = P()
                src, error = html._draw(make, vector)
                figures[key] = round(P() - t, 4)
                if error:
                    raise RuntimeError(f"{key}: {error}")
                drawn.append(html._Plot(key, title, caption, src))
        gc.enable()
        c8 = P()
        from regdiag.report.page import page

        page("report", html._sections(b, drawn, written, "LifeCycleSavings", False), html._meta(b.influence))
        c9 = P()
    return {
        "cpu_s": {
            "numpy, pandas, scipy": c1 - c0, "formulaic": c2 - c1, "regdiag report modules": c3 - c2,
            "read and fit": c4 - c3, "numbers the figures need": marks["ready"] - c4,
            "engine cross-check and runs": c5 - marks["ready"], "exports": c6 - c5,
            "matplotlib and plot modules": c7 - c6, "figures": c8 - c7, "page": c9 - c8,
        },
        "figures_cpu_s": figures,
    }


def _timed(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """Wall and CPU time (user + system of the process and the children it waited for) of a child process."""
    before = os.times()
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - t
    after = os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--phases", action="store_true", help="print the phases of this process (internal)")
    args = ap.parse_args()
    if args.phases:
        print(json.dumps(phases()))
        return
    sys.path.insert(0, str(HERE))
    from bench_report import R_BY_HAND, _commit

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "regdiag")], check=True)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        runs = [json.loads(subprocess.run([sys.executable, __file__, "--phases"], check=True, capture_output=True,
                                          text=True, env=env).stdout) for _ in range(3)]
        start = [_timed([sys.executable, "-c", "pass"], env) for _ in range(5)]
        r_script = Path(tmp) / "by_hand.R"
        r_script.write_text(R_BY_HAND)
        data = str(ROOT / "datasets" / "LifeCycleSavings.csv")
        formula = "sr ~ pop15 + pop75 + dpi + ddpi"
        # the program make report runs (its entry point), else the module
        program = Path(sys.executable).parent / "regdiag"
        head = [str(program)] if program.exists() else [sys.executable, "-m", "regdiag.cli"]
        report_cmd = [*head, "report", "-o", str(Path(tmp) / "out"), "--quiet"]
        r_cmd = ["Rscript", str(r_script), data, tmp, "lm", formula, "1"]
        report, r = [], []
        for _ in range(args.repeat):  # interleaved: both sides see the same load
            report.append(_timed(report_cmd, env))
            r.append(_timed(r_cmd))
    # each phase: its least CPU time over the runs (other work only ever adds to it)
    cpu = {k: min(run["cpu_s"][k] for run in runs) for k in runs[0]["cpu_s"]}
    cpu = {"interpreter start": min(c for _, c in start), **cpu}
    serial_keys = ["interpreter start", "numpy, pandas, scipy", "formulaic", "regdiag report modules",
                   "read and fit", "numbers the figures need"]
    after_keys = ["engine cross-check and runs", "exports", "figures", "page"]
    serial = sum(cpu[k] for k in serial_keys)
    after = sum(cpu[k] for k in after_keys)
    total = sum(cpu.values())
    bound = max(total / cores, serial + after / cores)
    walls = [w for w, _ in report]
    r_walls = [w for w, _ in r]
    result = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cores": cores,
                    "code": _commit(), "load_before": load_before, "load_after": os.getloadavg()[0]},
        "phases_cpu_s": {k: round(v, 3) for k, v in cpu.items()},
        "figures_cpu_s": {k: min(run["figures_cpu_s"][k] for run in runs) for k in runs[0]["figures_cpu_s"]},
        "total_cpu_s": round(total, 3),
        "serial_before_first_figure_cpu_s": round(serial, 3),
        "parallel_after_numbers_cpu_s": round(after, 3),
        "least_wall_s_on_these_cores": round(bound, 3),
        "regdiag_report": {"wall_median_s": round(statistics.median(walls), 3), "wall_min_s": round(min(walls), 3),
                           "cpu_median_s": round(statistics.median(c for _, c in report), 3), "runs": args.repeat},
        "r_by_hand": {"wall_median_s": round(statistics.median(r_walls), 3), "wall_min_s": round(min(r_walls), 3),
                      "cpu_median_s": round(statistics.median(c for _, c in r), 3)},
        "notes": [
            "phases: the least CPU time of 3 fresh processes each; the report's figures drawn one after the other "
            "in one process, as SVG (the report's format up to 200 rows).",
            "least_wall_s_on_these_cores = max(total / cores, serial + parallel / cores): a bound for any split of "
            "this work between processes on these cores, with nothing imported twice.",
            "regdiag_report and r_by_hand: cold starts, interleaved; CPU time includes child processes.",
        ],
    }
    (HERE / "results_report_phases.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
