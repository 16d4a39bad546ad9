"""The ``regdiag`` command: parses arguments, calls the public API, prints. Nothing else.

Examples::

    regdiag report                                  # the bundled default data set
    regdiag report data.csv --formula "y ~ x1 + x2"
    regdiag report counts.csv --formula "n ~ dose" --family poisson --link log --open
    regdiag report --dataset Duncan --rule BKW --labels 5 --compare-statsmodels
    regdiag report "claims/part-*.parquet" --formula "cost ~ age + region" --family gamma --link log   # streamed
    regdiag report small.parquet --formula "y ~ x" --in-memory     # a parquet file read into memory, with plots
    regdiag report lung.csv --model coxph --formula "Surv(time, status) ~ age + sex + strata(inst)"
    regdiag report --dataset stackloss --model rlm --psi bisquare   # robust regression, with its weights plot
    regdiag report --dataset birthwt --formula "low ~ age + lwt + smoke" --model probit
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from regdiag.dask import StreamReport
    from regdiag.report import HTMLReport, ModelInput


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative; give 0 or more")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (what is wrong, and where the help is) instead of a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"regdiag: error: {message} (see: {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="regdiag", description="Regression influence diagnostics.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r = sub.add_parser(
        "report",
        help="fit a model and write an HTML report of its influential observations",
        description="Fit a linear model or GLM and write a self-contained HTML report (plots embedded) with CSV "
        "and JSON exports of every measure. With no data file: the bundled LifeCycleSavings data.",
    )
    r.add_argument("data", nargs="?", help="CSV file, parquet file, glob of parquet files or directory of them "
                   "(parquet is streamed, see --stream; --in-memory reads a parquet file into memory); default: the "
                   "bundled LifeCycleSavings data")
    r.add_argument("--formula", help='model formula, e.g. "y ~ x1 + x2" (needed with a data file)')
    r.add_argument("--dataset", help="a bundled data set by name (see regdiag.datasets.names())")
    r.add_argument("--family", help="GLM family: binomial, poisson, gamma, inverse_gaussian, negative_binomial, "
                   "gaussian (default: a linear model fitted by least squares)")
    r.add_argument("--link", help="GLM link (default: the family's canonical link)")
    r.add_argument("--theta", type=float, help="negative binomial: fix theta (Var = mu + mu^2/theta); default: "
                   "estimated by maximum likelihood as MASS::glm.nb")
    r.add_argument("--alpha", type=float, help="negative binomial: fix alpha = 1/theta instead")
    r.add_argument("--missing", choices=["omit", "drop", "raise"], default="omit",
                   help="rows with missing values: omit (R's na.omit: dropped and listed; an infinite value or one a "
                   "transform makes non-finite is an error), drop (those too, with a warning) or raise")
    r.add_argument("--model", help="the model: ols, glm (the default with --family), rlm (robust M-estimation, "
                   "MASS::rlm), coxph (Cox proportional hazards, formula \"Surv(time, status) ~ x1 + strata(g)\"), or "
                   "a statsmodels discrete model: logit, probit, poisson, negbin (NB2), genpoisson, mnlogit")
    r.add_argument("--psi", default="huber", help="--model rlm: huber (default), bisquare or hampel")
    r.add_argument("--ties", choices=["efron", "breslow"], default="efron",
                   help="coxph: handling of tied event times (default efron, as R)")
    r.add_argument("--weights", help="column of weights (analytic weights; binomial: numbers of trials; coxph: case "
                   "weights)")
    r.add_argument("--index-col", help="column holding the row labels (default: a CSV's first column if it is unnamed, "
                   "or holds a different text on every row and is not in the formula; else the row numbers 0, 1, ...)")
    r.add_argument("--rule", default="R", help="flagging rule: R, BKW, common, or a criterion name (default R)")
    r.add_argument("--labels", type=_non_negative_int, default=3, metavar="N",
                   help="label the N most extreme points of each plot with their row labels (default 3)")
    r.add_argument("--output", "-o", default="regdiag-report", help="output folder (default ./regdiag-report)")
    r.add_argument("--open", action="store_true", help="open the report in a web browser")
    r.add_argument("--compare-statsmodels", action="store_true",
                   help="add a side-by-side comparison with statsmodels' influence measures")
    r.add_argument("--no-cross-check", action="store_true", help="skip the engine cross-check (faster on big data)")
    r.add_argument("--no-engine-plots", action="store_true", help="skip the engine plots")
    r.add_argument("--nsim", type=_non_negative_int, default=199, help="simulations for the Q-Q envelope (default 199)")
    r.add_argument("--quiet", "-q", action="store_true",
                   help="no progress lines (without it, progress is shown only once the report takes over a second)")
    r.add_argument("--exports", choices=("auto", "csv", "parquet"), default="auto",
                   help="format of the exported measures: auto (default) writes CSV and JSON up to 50000 "
                   "observations and parquet above; csv or parquet always")
    how = r.add_mutually_exclusive_group()
    how.add_argument("--stream", action="store_true",
                     help="stream the data through Dask (needs regdiag[dask]) instead of reading it into memory: "
                     "every measure goes to measures.parquet, the report lists flag counts and the --top rows (no "
                     "plots). The default for parquet data: a .parquet/.pq/.parq file, a glob or a directory. "
                     "Without --index-col (or an index stored by pandas), rows are labelled by their number in "
                     "their file: 0, 1, ... for one file, \"<file>:<row>\" for several")
    how.add_argument("--in-memory", action="store_true",
                     help="read a parquet file into memory instead of streaming it: the full report, with plots "
                     "and CSV exports (for data that fit in memory)")
    r.add_argument("--top", type=_non_negative_int, default=20, metavar="N",
                   help="streamed reports: list the N most influential rows (default 20)")
    return p


#: file name endings of parquet files (as regdiag.dask.report.PARQUET_SUFFIXES; dask is not imported to decide)
_PARQUET = (".parquet", ".pq", ".parq")


def _streamed(args: argparse.Namespace) -> bool:
    """Stream the data through Dask: asked for (--stream), or parquet data (a parquet file, a glob or a directory)
    unless --in-memory asks for the in-memory report of a parquet file."""
    from pathlib import Path

    if args.data is None or args.in_memory:
        return False
    text = args.data
    return (
        args.stream or any(c in text for c in "*?[") or Path(text).is_dir() or Path(text).suffix.lower() in _PARQUET
    )


#: a data file up to this size (bytes) is small enough for the report's drawing processes to start before it is read
#: (about 20,000 rows of ten numbers; see regdiag.report.html.EARLY_DRAWING_MAX_N)
EARLY_DRAWING_MAX_BYTES = 2_000_000


def _small(data: str | None) -> bool:
    """Whether the data is a bundled set or a text file small enough for an early start of the drawing."""
    import os

    if data is None:
        return True
    try:
        return os.path.isfile(data) and os.path.getsize(data) <= EARLY_DRAWING_MAX_BYTES
    except OSError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``regdiag`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success, 2 for bad data or a bad model (one line on standard error naming it), 130
        when interrupted.

    Raises
    ------
    SystemExit
        For a bad argument (status 2, one line naming it) and after ``--help`` (status 0).
    """
    args = _parser().parse_args(argv)
    from regdiag._validation import RegdiagError

    if args.model != "coxph" and not _streamed(args) and _small(args.data):
        from regdiag.report.drawing import start_early

        start_early()  # the drawing processes import matplotlib while this one reads, fits and computes
    from regdiag.report import error_line, fit_model, model_input, write_html_report

    if args.model == "coxph":
        return _cox(args)
    if _streamed(args):
        return _stream(args)
    try:
        spec = model_input(
            args.data, formula=args.formula, dataset=args.dataset, family=args.family, link=args.link,
            weights=args.weights, index_col=args.index_col, theta=args.theta, alpha=args.alpha,
            missing=args.missing,
        )
        if args.model is not None:
            import dataclasses

            spec = dataclasses.replace(spec, model=args.model, psi=args.psi)
        fit = _fit_with_progress(spec, fit_model, quiet=args.quiet)
        report = write_html_report(
            fit, args.output, rule=args.rule, n_labels=args.labels, title=f"regdiag report: {spec.label}",
            label=spec.label, cross_check=not args.no_cross_check, engine_plots=not args.no_engine_plots,
            compare_statsmodels=args.compare_statsmodels, nsim=max(args.nsim, 2), progress=not args.quiet,
            exports=args.exports,
        )
    except (RegdiagError, ValueError, KeyError, OSError) as exc:
        print(f"regdiag: error: {error_line(exc, data=args.data, output=args.output)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("regdiag: interrupted", file=sys.stderr)
        return 130
    return _show(report, args)


def run() -> int:
    """The ``regdiag`` program: :func:`main`, then the interpreter exits.

    Before it exits, the objects still alive are frozen out of the garbage collector: its last collection would
    scan every one of them (a tenth of a second after a small report) only to free nothing.

    Returns
    -------
    int
        The exit status (see :func:`main`).
    """
    import gc

    try:
        status = main()
    except KeyboardInterrupt:  # before main's own handling (while importing)
        print("regdiag: interrupted", file=sys.stderr)
        return 130
    gc.freeze()
    return status


def _cox(args: argparse.Namespace) -> int:
    from regdiag import datasets
    from regdiag._validation import DataError, RegdiagError
    from regdiag.report import error_line, load_data
    from regdiag.report.cox import write_cox_report
    from regdiag.survival import coxph

    if not args.formula:
        print('regdiag: error: a Cox model needs --formula "Surv(time, status) ~ x1 + x2"', file=sys.stderr)
        return 2
    try:
        if args.dataset:
            df, label = datasets.load(args.dataset), args.dataset
        elif args.data:
            df, label = load_data(args.data, args.index_col), args.data
        else:
            raise DataError("a Cox model needs data: give a data file or --dataset")
        if not args.quiet:
            print(f"fitting {args.formula} (Cox, ties={args.ties}) to {label}", file=sys.stderr)
        # R's na.omit is coxph's "drop" (the rows are listed in the report)
        fit = coxph(args.formula, df, ties=args.ties, weights=args.weights,
                    missing="raise" if args.missing == "raise" else "drop")
        report = write_cox_report(fit, args.output, n_labels=args.labels, title=f"regdiag report: {label}",
                                  label=label, cross_check=not args.no_cross_check,
                                  compare_statsmodels=args.compare_statsmodels, progress=not args.quiet)
    except (RegdiagError, ValueError, KeyError, OSError) as exc:
        print(f"regdiag: error: {error_line(exc, data=args.data, output=args.output)}", file=sys.stderr)
        return 2
    return _show(report, args)


def _fit_with_progress(spec: ModelInput, fit_model: Callable[[ModelInput], Any], quiet: bool) -> Any:
    """Fit the model; unless ``quiet``, say so on standard error if it takes longer than the report's progress
    threshold (about a second: a quick fit prints nothing)."""
    import threading

    from regdiag.report import bundle

    line = f"fitting {spec.formula} to {spec.label}"
    if quiet:
        return fit_model(spec)
    if bundle.PROGRESS_AFTER_S <= 0:
        print(line, file=sys.stderr)
        return fit_model(spec)
    timer = threading.Timer(bundle.PROGRESS_AFTER_S, lambda: print(line, file=sys.stderr, flush=True))
    timer.daemon = True
    timer.start()
    try:
        return fit_model(spec)
    finally:
        timer.cancel()


def _stream(args: argparse.Namespace) -> int:
    from regdiag._validation import RegdiagError
    from regdiag.report import error_line

    if not args.formula:
        print('regdiag: error: streamed data need a model: add --formula "y ~ x1 + x2"', file=sys.stderr)
        return 2
    if args.exports == "csv":
        print("regdiag: error: --exports csv: a streamed report writes its measures as parquet, one file per "
              "partition (a CSV of data that may not fit in memory is not written); leave --exports out, or read "
              "a single file into memory with --in-memory", file=sys.stderr)
        return 2
    try:
        from regdiag.report.inputs import check_family

        check_family(args.family, args.link)  # a typo gets the same "did you mean" as in memory
        from regdiag.dask import stream_report

        report = stream_report(
            args.data, args.output, formula=args.formula, family=args.family, link=args.link, weights=args.weights,
            index_col=args.index_col, rule=args.rule, top=max(args.top, 1), missing=args.missing,
            theta=args.theta, alpha=args.alpha,
        )
    except ImportError as exc:
        print(f"regdiag: error: streaming needs Dask: pip install 'regdiag[dask]' ({exc})", file=sys.stderr)
        return 2
    except (RegdiagError, ValueError, KeyError, OSError) as exc:
        print(f"regdiag: error: {error_line(exc, data=args.data, output=args.output)}", file=sys.stderr)
        return 2
    return _show(report, args)


def _show(report: HTMLReport | StreamReport, args: argparse.Namespace) -> int:
    """Print a report's summary and open it in a browser if asked."""
    print(report.text)
    if args.open:
        import webbrowser

        if not webbrowser.open(report.path.resolve().as_uri()):
            print(f"regdiag: no web browser could be started here; open {report.path} yourself", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
