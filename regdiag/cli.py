"""The ``regdiag`` command: parses arguments, calls the public API, prints. Nothing else.

Examples::

    regdiag report                                  # the bundled default data set
    regdiag report data.csv --formula "y ~ x1 + x2"
    regdiag report --dataset Duncan --rule BKW
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

DEFAULT_DATASET = "LifeCycleSavings"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="regdiag", description="Regression influence diagnostics.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("report", help="fit a model and report its influential observations")
    r.add_argument("data", nargs="?", help="CSV file (default: the bundled LifeCycleSavings data)")
    r.add_argument("--formula", help='model formula, e.g. "y ~ x1 + x2" (needed with a data file)')
    r.add_argument("--dataset", help="a bundled data set by name (see regdiag.datasets.names())")
    r.add_argument("--weights", help="column of analytic weights")
    r.add_argument("--index-col", help="column holding the row labels (default: the first column if unnamed)")
    r.add_argument("--rule", default="R", help="flagging rule: R, BKW, common, or a criterion name (default R)")
    r.add_argument("--output", "-o", default="regdiag-report", help="output folder (default ./regdiag-report)")
    return p


class _UserError(Exception):
    pass


def _load(args: argparse.Namespace):
    import pandas as pd

    import regdiag

    if args.data and args.dataset:
        raise _UserError("give either a data file or --dataset, not both")
    if args.data:
        path = Path(args.data)
        if not path.is_file():
            raise _UserError(f"no such file: {path}")
        if not args.formula:
            raise _UserError('a data file needs a model: add --formula "y ~ x1 + x2"')
        try:
            df = pd.read_csv(path)
        except Exception as exc:  # pandas' parser errors vary
            raise _UserError(f"cannot read {path} as CSV: {exc}") from exc
        if args.index_col:
            if args.index_col not in df.columns:
                raise _UserError(f"--index-col {args.index_col!r} is not a column of {path}")
            df = df.set_index(args.index_col)
        elif len(df.columns) and str(df.columns[0]).startswith("Unnamed"):
            df = df.set_index(df.columns[0]).rename_axis(None)
        return df, args.formula, args.weights, path.name
    name = args.dataset or DEFAULT_DATASET
    try:
        info = regdiag.datasets.info(name)
    except KeyError as exc:
        raise _UserError(str(exc.args[0])) from exc
    df = regdiag.datasets.load(name)
    return df, args.formula or info["formula"], args.weights or info.get("weights"), f"{name} (bundled)"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import regdiag
    from regdiag.report import write_report

    try:
        df, formula, weights, label = _load(args)
        fit = regdiag.ols(formula, data=df, weights=weights)
        result = write_report(fit, args.output, rule=args.rule, title=f"regdiag report: {label}")
    except _UserError as exc:
        print(f"regdiag: error: {exc}", file=sys.stderr)
        return 2
    except (regdiag.RegdiagError, ValueError, KeyError) as exc:
        print(f"regdiag: error: {exc}", file=sys.stderr)
        return 2
    print(result.text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
