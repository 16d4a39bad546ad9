"""Where the CPU time of a small report goes: ``regdiag report`` on the bundled data (n = 50) split into phases,
in one process, the figures drawn one after the other.

Usage: python benchmarks/bench_report_phases.py  (prints one JSON line: CPU seconds per phase and per figure)

The phases: importing numpy, pandas and scipy's linear algebra and special functions; formulaic; regdiag's report
modules; reading the data and fitting; the bundle of every number (:func:`regdiag.report.bundle.diagnose`);
importing matplotlib and loading its font; each figure drawn and encoded as PNG. The report itself draws the
figures in two processes, so its wall time on two idle cores is roughly the sum of the phases with the figures
halved. CPU time (``time.process_time``) depends less on the machine's other load than wall time, not at all on it.
"""

from __future__ import annotations

import json
import os
import time

P = time.process_time
c0 = P()
import numpy  # noqa: E402, F401
import pandas  # noqa: E402, F401
import scipy.linalg  # noqa: E402
import scipy.special  # noqa: E402, F401

c1 = P()
import formulaic  # noqa: E402, F401

c2 = P()
from regdiag.report import bundle, fit_model, html, model_input  # noqa: E402

c3 = P()


def main() -> None:
    spec = model_input(None, formula=None, dataset=None, family=None, link=None, weights=None, index_col=None,
                       theta=None, alpha=None, missing="omit")
    fit = fit_model(spec)
    c4 = P()
    b = bundle.diagnose(fit, rule="R", nsim=199, cross_check=True, engine=True, steps=bundle.Steps(None, 0))
    c5 = P()
    from regdiag.plots._base import warm_up

    warm_up()
    c6 = P()
    figures = {}
    for key, _title, _caption, make in html._plot_specs(b, 3, True):
        t = P()
        html._draw(make)
        figures[key] = round(P() - t, 3)
    c7 = P()
    print(json.dumps({
        "load_before": os.getloadavg()[0],
        "cpu_s": {"numpy, pandas, scipy.linalg, scipy.special": round(c1 - c0, 3), "formulaic": round(c2 - c1, 3),
                  "regdiag report modules": round(c3 - c2, 3), "read and fit": round(c4 - c3, 3),
                  "diagnose": round(c5 - c4, 3), "matplotlib import and font": round(c6 - c5, 3),
                  "figures, one after the other": round(c7 - c6, 3)},
        "figures_cpu_s": figures,
    }))


if __name__ == "__main__":
    main()
