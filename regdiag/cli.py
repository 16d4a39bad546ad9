"""The ``regdiag`` command: parses arguments, calls the public API, prints. Nothing else.

Examples::

    regdiag report                                  # the bundled default data set
    regdiag report data.csv --formula "y ~ x1 + x2"
    regdiag report counts.csv --formula "n ~ dose" --family poisson --link log --open
    regdiag report --dataset Duncan --rule BKW --labels 5 --compare-statsmodels
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


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

    def error(self, message: str) -> None:  # type: ignore[override]
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
    r.add_argument("data", nargs="?", help="CSV or parquet file (default: the bundled LifeCycleSavings data)")
    r.add_argument("--formula", help='model formula, e.g. "y ~ x1 + x2" (needed with a data file)')
    r.add_argument("--dataset", help="a bundled data set by name (see regdiag.datasets.names())")
    r.add_argument("--family", help="GLM family: binomial, poisson, gamma, inverse_gaussian, negative_binomial, "
                   "gaussian (default: a linear model fitted by least squares)")
    r.add_argument("--link", help="GLM link (default: the family's canonical link)")
    r.add_argument("--weights", help="column of weights (analytic weights; binomial: numbers of trials)")
    r.add_argument("--index-col", help="column holding the row labels (default: the first column if unnamed)")
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
    r.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import regdiag
    from regdiag.report import fit_model, model_input, one_line, write_html_report

    try:
        spec = model_input(
            args.data, formula=args.formula, dataset=args.dataset, family=args.family, link=args.link,
            weights=args.weights, index_col=args.index_col,
        )
        if not args.quiet:
            print(f"fitting {spec.formula} to {spec.label}", file=sys.stderr)
        fit = fit_model(spec)
        report = write_html_report(
            fit, args.output, rule=args.rule, n_labels=args.labels, title=f"regdiag report: {spec.label}",
            label=spec.label, cross_check=not args.no_cross_check, engine_plots=not args.no_engine_plots,
            compare_statsmodels=args.compare_statsmodels, nsim=max(args.nsim, 2), progress=not args.quiet,
        )
    except (regdiag.RegdiagError, ValueError, KeyError, OSError) as exc:
        print(f"regdiag: error: {one_line(exc.args[0] if exc.args else exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("regdiag: interrupted", file=sys.stderr)
        return 130
    print(report.text)
    if args.open:
        import webbrowser

        webbrowser.open(report.path.resolve().as_uri())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
