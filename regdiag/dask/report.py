"""A report of data that do not fit in memory: parquet files streamed through Dask.

:func:`stream_report` reads a parquet file, a glob of them or a directory lazily, fits the model (one pass, or one per
IRLS iteration), and in one more pass writes every per-row measure to ``measures.parquet`` (one file per partition)
while counting the flags and finding the most influential rows. It writes ``report.html`` (a self-contained page:
fit, flag counts per criterion, the most influential rows with the criteria that flag them, notes), ``report.txt``
and ``summary.json`` next to it. Plots, which need every point in memory, are left to the in-memory report.

Only regdiag's own warnings (:class:`~regdiag.InfluenceWarning`, :class:`~regdiag.ConditioningWarning`) become the
report's notes; warnings of other libraries are passed on as warnings.
"""

from __future__ import annotations

import glob
import json
import math
import os
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._validation import ConditioningWarning, DataError, InfluenceWarning, format_labels

if TYPE_CHECKING:
    from .glm import DaskGLMFit
    from .ols import DaskOLSFit

__all__ = ["StreamReport", "read_parquet", "stream_report", "is_parquet_collection"]

#: regdiag's own warnings: they become the report's notes (any other library's warnings are passed on as warnings)
OWN_WARNINGS = (InfluenceWarning, ConditioningWarning)


@dataclass(frozen=True)
class StreamReport:
    """What :func:`stream_report` wrote.

    Attributes
    ----------
    path : pathlib.Path
        ``report.html`` in the output folder.
    text : str
        The terminal summary (ends with the report's path).
    exports : dict of str to Path
        ``measures.parquet`` (a folder of parquet files, one per partition with rows), ``summary.json``, ``report.txt``.
    fit : DaskOLSFit or DaskGLMFit
    summary : InfluenceSummary
    warnings : tuple of str
    """

    path: Path
    text: str
    exports: dict[str, Path]
    fit: Any
    summary: Any
    warnings: tuple[str, ...] = field(default_factory=tuple)


#: file name endings read as parquet in a directory or a glob
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
#: uncompressed bytes of whole row groups gathered into one partition (a small file is one partition)
BLOCKSIZE = 1 << 27


def is_parquet_collection(path: str | Path) -> bool:
    """A directory, a glob pattern, or a parquet file: what :func:`read_parquet` streams."""
    text = str(path)
    if any(ch in text for ch in "*?["):
        return True
    p = Path(text)
    return p.is_dir() or p.suffix.lower() in PARQUET_SUFFIXES


@dataclass(frozen=True)
class _Piece:
    """Consecutive row groups of one file: one partition."""

    path: str
    row_groups: tuple[int, ...]
    first_row: int  # row number in the file of the piece's first row
    n_rows: int
    file_label: str | None  # "<file>" of the "<file>:<row>" labels; None: labels are row numbers (one file)
    keys: tuple[tuple[str, Any], ...] = ()  # hive partition values (directory input): column, value


@dataclass(frozen=True)
class _Options:
    index_col: str | None
    columns: tuple[str, ...]  # every column of the frame (file columns, then hive keys)
    keys: tuple[str, ...]  # hive key columns
    numeric: tuple[str, ...] = ()  # columns that hold numbers in the first file


def _list_files(text: str) -> tuple[list[Path], Path | None]:
    """The parquet files of a path, a glob or a directory (sorted), and the directory of a directory input."""
    if any(ch in text for ch in "*?["):
        files = sorted(Path(f) for f in glob.glob(text) if Path(f).is_file())
        if not files:
            raise DataError(f"no file matches {text!r}; give a parquet file, a glob of them, or a directory")
        return files, None
    p = Path(text)
    if not p.exists():
        raise DataError(f"no such file or directory: {text}; give a parquet file, a glob of them, or a directory")
    if p.is_file():
        return [p], None
    files = sorted(
        f for f in p.rglob("*")
        if f.is_file() and f.suffix.lower() in PARQUET_SUFFIXES
        and not any(part.startswith(("_", ".")) for part in f.relative_to(p).parts)
    )
    if not files:
        raise DataError(f"the directory {text} holds no .parquet files")
    return files, p


def _file_labels(files: list[Path], folder: Path | None) -> list[str]:
    """``<file>`` of the row labels: the path relative to the directory (or to the files' common folder) without the
    suffix, with ``/`` separators."""
    if folder is None:
        folder = Path(os.path.commonpath([str(f.resolve().parent) for f in files]))
        files = [f.resolve() for f in files]
    return [f.relative_to(folder).with_suffix("").as_posix() for f in files]


#: the folder name of a missing hive key (pandas, pyarrow and Dask read it as missing)
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def _hive_keys(files: list[Path], folder: Path | None) -> list[dict[str, Any]]:
    """``key=value`` folders of a directory input (hive partitioning), as columns: numbers where every value is one;
    values URI-decoded as pyarrow writes them, and :data:`HIVE_NULL` missing."""
    from urllib.parse import unquote

    raw = [
        dict(part.split("=", 1) for part in f.relative_to(folder).parts[:-1] if "=" in part) if folder else {}
        for f in files
    ]
    names = sorted({k for r in raw for k in r})
    out: list[dict[str, Any]] = [{} for _ in files]
    for name in names:
        values = pd.Series([None if r.get(name) in (None, HIVE_NULL) else unquote(r[name]) for r in raw],
                           dtype=object)
        num = pd.to_numeric(values, errors="coerce")
        use = num if (num.notna() | values.isna()).all() else values
        for i, v in enumerate(use.tolist()):
            out[i][name] = v
    return out


def _read_piece(piece: _Piece, columns: Any = None, *, opts: _Options) -> pd.DataFrame:
    """One partition: its row groups read with pyarrow, labelled (see :func:`read_parquet`)."""
    import pyarrow.parquet as pq

    want = list(opts.columns) if columns is None else [columns] if isinstance(columns, str) else list(columns)
    read = [c for c in want if c not in opts.keys]
    if opts.index_col and opts.index_col not in read:
        read.append(opts.index_col)
    table = pq.ParquetFile(piece.path).read_row_groups(list(piece.row_groups), columns=read, use_pandas_metadata=True)
    df = table.to_pandas()
    if opts.index_col:
        if opts.index_col in df.columns:
            df = df.set_index(opts.index_col)
    elif isinstance(df.index, pd.RangeIndex):  # no stored labels: the row's number in its file
        rows = pd.RangeIndex(piece.first_row, piece.first_row + len(df))
        df.index = rows if piece.file_label is None else (piece.file_label + ":") + rows.astype(str)
    for key, value in piece.keys:
        if key in want:
            df[key] = value
    lacking = [c for c in want if c not in df.columns]
    if lacking:
        raise DataError(f"{piece.path} has no column {', '.join(map(repr, lacking))}: every file must have the "
                        "columns the model uses")
    for col in opts.numeric:
        if col in want and not pd.api.types.is_numeric_dtype(df[col].dtype):
            values = pd.to_numeric(df[col], errors="coerce")
            bad = values.isna() & df[col].notna()
            if bad.any():
                shown = format_labels(list(df[col][bad].unique()), 3)
                raise DataError(f"{piece.path}: column {col!r} holds text ({shown}) where the first file has "
                                "numbers; every file must store it as numbers")
            df[col] = values
    return df[want]


def _pieces(files: list[Path], labels: list[str] | None, keys: list[dict[str, Any]], blocksize: int) -> list[_Piece]:
    import pyarrow.parquet as pq

    out: list[_Piece] = []
    for i, f in enumerate(files):
        try:
            md = pq.ParquetFile(f).metadata
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
            raise DataError(f"cannot read {f} as parquet: {str(exc).splitlines()[0]}") from exc
        label = None if labels is None else labels[i]
        kv = tuple(keys[i].items())
        group: list[int] = []
        first = row = size = 0
        for rg in range(md.num_row_groups):
            meta = md.row_group(rg)
            group.append(rg)
            row += meta.num_rows
            size += meta.total_byte_size
            if size >= blocksize:
                out.append(_Piece(str(f), tuple(group), first, row - first, label, kv))
                group, first, size = [], row, 0
        if group or md.num_row_groups == 0:
            out.append(_Piece(str(f), tuple(group), first, row - first, label, kv))
    return out


def read_parquet(path: str | Path, index_col: str | None = None, *, blocksize: int = BLOCKSIZE) -> Any:
    """A parquet file, a glob of them (``"data/part-*.parquet"``) or a directory, as a lazy Dask DataFrame.

    Files are taken in sorted order (a directory: every ``.parquet``, ``.pq`` or ``.parq`` file below it, skipping
    names that start with ``_`` or ``.``); each partition is whole row groups of one file, about ``blocksize`` bytes
    of uncompressed data (a smaller file is one partition). Only the columns a computation uses are read. A
    directory's ``key=value`` folders (hive partitioning) become columns.

    Row labels:

    * ``index_col`` names the column of row labels (read as each partition's index; no shuffle);
    * otherwise an index that pandas stored in the files (``DataFrame.to_parquet`` of a frame with labels) is
      restored, as ``pandas.read_parquet`` does;
    * otherwise a row is labelled by its position in its file, counted from 0 as ``pandas.read_parquet`` numbers
      it: the number itself for a single file, ``"<file>:<row>"`` for several files, ``<file>`` being the file's
      path relative to the directory (for a glob, to the files' common folder) without its suffix, e.g.
      ``"part-2:1041"`` or ``"year=2020/part-0:7"``. These labels are unique and name the file and row to look at.

    Parameters
    ----------
    path : str or Path
        A parquet file, a glob pattern of parquet files or a directory.
    index_col : str, optional
        The column of row labels.
    blocksize : int
        About how many bytes of uncompressed data a partition holds.

    Returns
    -------
    dask.dataframe.DataFrame
        The lazy table, one partition per group of row groups, indexed by the row labels.

    Raises
    ------
    DataError
        Nothing matches, a file cannot be read as parquet, or ``index_col`` is not a column.
    """
    import dask.dataframe as dd
    import pyarrow.parquet as pq

    text = str(path)
    files, folder = _list_files(text)
    labels = _file_labels(files, folder) if len(files) > 1 else None
    keys = _hive_keys(files, folder)
    pieces = _pieces(files, labels, keys, max(int(blocksize), 1))
    try:
        schema = pq.ParquetFile(files[0]).schema_arrow
    except Exception as exc:  # pragma: no cover - _pieces read the same footer
        raise DataError(f"cannot read {files[0]} as parquet: {str(exc).splitlines()[0]}") from exc
    pandas_md = schema.pandas_metadata or {}
    stored = {c for c in pandas_md.get("index_columns", []) if isinstance(c, str)}
    names = [n for n in schema.names if n not in stored]
    if index_col is not None:
        if index_col not in schema.names:
            raise DataError(
                f"--index-col {index_col!r} is not a column of {files[0].name}; columns are {', '.join(names)}"
            )
        names = [n for n in names if n != index_col]
    key_names = tuple(k for k in keys[0] if k not in names)
    opts = _Options(index_col=index_col, columns=tuple(names) + key_names, keys=key_names)
    empty = _Piece(str(files[0]), (), 0, 0, None if labels is None else labels[0], pieces[0].keys)
    try:
        meta = _read_piece(empty, opts=opts)
    except Exception as exc:
        raise DataError(f"cannot read {files[0]} as parquet: {str(exc).splitlines()[0]}") from exc
    numbers = tuple(str(c) for c in meta.columns if pd.api.types.is_numeric_dtype(meta[c].dtype)
                    and not pd.api.types.is_bool_dtype(meta[c].dtype))
    opts = replace(opts, numeric=numbers)
    return dd.from_map(_read_piece, pieces, meta=meta, opts=opts, label="read-parquet", enforce_metadata=False)


def _html(title: str, fit: Any, summary: Any, notes: list[str], label: str) -> str:
    """The streamed report's page, by the report's one page writer (:func:`regdiag.report.page.page`)."""
    from ..report.page import escape, page, table

    crit = pd.DataFrame(
        {"criterion": [summary.criteria.get(c, "") for c in summary.flag_counts.index],
         "flagged rows": summary.flag_counts.to_numpy(), "undefined": summary.undefined_counts.to_numpy()},
        index=summary.flag_counts.index,
    )
    intro = (
        f"<p>{escape(label)}: {fit.nobs} observations with positive weight, {len(fit.block_lengths)} partitions, "
        "streamed through Dask (every measure of every row is in <code>measures.parquet</code>; plots need the "
        "rows in memory: the in-memory report draws them).</p>"
    )
    sections = [
        ("fit", "Fit", intro + f"<pre>{escape(fit.summary())}</pre>"),
        ("flagged", f"Flags (rule {summary.rule})",
         f"<p>{summary.n_flagged} observation(s) flagged by at least one criterion.</p>"
         + table(crit, text_cols=("criterion",))),
        ("top", f"The {len(summary.top)} most influential rows by {summary.by}", table(summary.top)),
    ]
    if notes:
        sections.append(("notes", "Notes", "<ul>" + "".join(f'<li class="warn">{escape(n)}</li>' for n in notes)
                         + "</ul>"))
    exports = {
        "measures.parquet": "every measure of every row: a folder of parquet files, one per partition with rows "
                            "(pandas.read_parquet or dask.dataframe.read_parquet reads it whole)",
        "summary.json": "the model, the flag counts and the most influential rows",
        "report.txt": "the text summary printed on the terminal",
    }
    sections.append(("exports", "Exports", '<p class="note">Written next to this report (same folder):</p><ul>'
                     + "".join(f'<li><a href="{escape(name)}">{escape(name)}</a> — {escape(what)}</li>'
                               for name, what in exports.items()) + "</ul>"))
    return page(title, sections, f"regdiag streamed report · {escape(fit.method)}, n = {fit.nobs}")


def _json_value(v: Any) -> Any:
    if isinstance(v, (np.generic,)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _write_part(frame: pd.DataFrame, path: str) -> int:
    """One block's measures as a parquet file; none for a block left without rows (its empty frame has no row
    labels' name, and a reader that takes the schema from the first file would lose every label)."""
    if len(frame):
        frame.to_parquet(path, index=True)
    return len(frame)


def _measure_writes(infl: Any, folder: Path) -> list[Any]:
    """Lazy writes of every block's measures to ``folder/part.<block>.parquet`` (block numbers zero-padded, so the
    files sort in row order); an earlier ``folder`` is replaced."""
    import shutil

    import dask

    from .influence import _frame

    if folder.is_dir():
        shutil.rmtree(folder)
    elif folder.exists():
        folder.unlink()
    folder.mkdir(parents=True)
    width = len(str(max(len(infl.blocks) - 1, 0)))
    return [
        dask.delayed(_write_part, pure=False)(
            dask.delayed(_frame, pure=True)(task, "to_frame", "regdiag"), str(folder / f"part.{i:0{width}d}.parquet")
        )
        for i, task in enumerate(infl.blocks)
    ]


@dataclass(frozen=True, eq=False)
class _StreamDiagnostics:
    """What the streamed report shows: the fit, the flag counts and most influential rows (one pass over the data,
    which also writes every measure to ``measures``), and the warnings of regdiag's own kinds."""

    fit: Any
    summary: Any
    measures: Path
    warnings: tuple[str, ...]


def _stream_diagnose(ddf: Any, measures: Path, *, formula: str, family: str | None, link: str | None,
                     weights: str | None, rule: str, top: int, missing: str, theta: float | None,
                     alpha: float | None) -> _StreamDiagnostics:
    """Fit, then one pass over the data for the measures (written to ``measures``), the flags and the top rows."""
    from ..linear.glm import negbin_alpha
    from .glm import glm
    from .ols import ols

    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit: DaskOLSFit | DaskGLMFit
        if family is None:
            fit = ols(formula, data=ddf, weights=weights, missing=missing)
        else:
            alpha, _ = negbin_alpha(family, link, alpha, theta, estimable=False)
            fit = glm(formula, data=ddf, family=family, link=link, weights=weights, missing=missing, alpha=alpha)
        infl = fit.influence()
        writes = _measure_writes(infl, measures)
        summary, _ = infl.summarize([writes], rule=rule, top=top)
    own = [w for w in rec if issubclass(w.category, OWN_WARNINGS)]
    for w in rec:  # other libraries' warnings are theirs to show, not the report's notes
        if not issubclass(w.category, OWN_WARNINGS):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    return _StreamDiagnostics(fit=fit, summary=summary, measures=measures,
                              warnings=tuple(f"{w.category.__name__}: {w.message}" for w in own))


def _summary_payload(b: _StreamDiagnostics, *, data: str | Path, formula: str, family: str | None,
                     link: str | None, rule: str) -> dict[str, Any]:
    """``summary.json``: the model, the flag counts and the most influential rows."""
    fit, summary = b.fit, b.summary
    return {
        "format": "regdiag streamed report summary",
        "data": str(data),
        "formula": formula,
        "family": family,
        "link": link,
        "method": fit.method,
        "n_obs": int(fit.nobs),
        "rank": int(fit.rank),
        "df_resid": float(fit.df_resid),
        "params": {n: _json_value(float(v)) for n, v in zip(fit.param_names, fit.coef)},
        "rule": rule,
        "n_flagged": summary.n_flagged,
        "flag_counts": {k: int(v) for k, v in summary.flag_counts.items()},
        "top": {
            "by": summary.by,
            "rows": [_json_value(x) for x in summary.top.index],
            "cooks_distance": [_json_value(float(x)) for x in summary.top["cooks_distance"]],
        },
        "warnings": list(b.warnings),
    }


def stream_report(
    data: str | Path,
    out_dir: str | Path,
    *,
    formula: str,
    family: str | None = None,
    link: str | None = None,
    weights: str | None = None,
    index_col: str | None = None,
    rule: str = "R",
    top: int = 20,
    title: str | None = None,
    missing: str = "omit",
    theta: float | None = None,
    alpha: float | None = None,
) -> StreamReport:
    """Fit a model to parquet data streamed through Dask and write a report of its influential rows.

    Parameters
    ----------
    data : str or Path
        A parquet file, a glob of them, or a directory.
    out_dir : str or Path
        Output folder (created if needed).
    formula : str
        Model formula (categorical levels are made global, see :mod:`regdiag.dask`).
    family, link : str, optional
        A GLM family and link; a linear model fitted by least squares without a family.
    weights : str, optional
        Column of weights.
    index_col : str, optional
        Column of row labels. Without it, labels stored by pandas in the files are kept, and otherwise a row is
        labelled by its position in its file: the row number for a single file, ``"<file>:<row>"`` for several
        (see :func:`read_parquet`), so that every row of ``measures.parquet`` and of the report has its own label.
    rule : str
        Flagging rule (see :meth:`regdiag.Influence.flags`).
    top : int
        Rows in the table of the most influential rows (by Cook's distance).
    title : str, optional
    missing : {"omit", "drop", "raise"}
        Rows with missing or non-finite values (see :func:`regdiag.ols`).
    theta, alpha : float, optional
        Negative binomial: the fixed theta (or alpha = 1/theta); streamed data cannot estimate it.

    Returns
    -------
    StreamReport
    """
    ddf = read_parquet(data, index_col)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    label = Path(str(data)).name or str(data)
    title = title or f"regdiag report: {label}"
    b = _stream_diagnose(ddf, out / "measures.parquet", formula=formula, family=family, link=link, weights=weights,
                         rule=rule, top=top, missing=missing, theta=theta, alpha=alpha)
    fit, summary, caught, measures_dir = b.fit, b.summary, b.warnings, b.measures
    notes = list(dict.fromkeys(caught))
    (out / "report.html").write_text(_html(title, fit, summary, notes, label), encoding="utf-8")
    payload = _summary_payload(b, data=data, formula=formula, family=family, link=link, rule=rule)
    (out / "summary.json").write_text(json.dumps(payload, indent=1, allow_nan=False), encoding="utf-8")
    text = "\n".join(
        [fit.summary(), "", str(summary), "", *notes, f"report: {out / 'report.html'}",
         f"every measure of every row: {measures_dir}"]
    )
    (out / "report.txt").write_text(text + "\n", encoding="utf-8")
    return StreamReport(
        path=out / "report.html",
        text=text,
        exports={"measures.parquet": measures_dir, "summary.json": out / "summary.json",
                 "report.txt": out / "report.txt"},
        fit=fit,
        summary=summary,
        warnings=caught,
    )
