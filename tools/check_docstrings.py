"""Validate the docstrings of the public API with numpydoc.

The public API is what a user is told about: ``regdiag.__all__``; the ``__all__`` of the subpackages ``regdiag.plots``,
``regdiag.engine``, ``regdiag.torch``, ``regdiag.dask`` and ``regdiag.survival``; and every object the API pages under
``docs/api/`` name (``autofunction``, ``autoclass``, ``automodule`` with ``:members:``). Of each public class, the
public methods and properties defined in regdiag are checked too.

The checks and the names left out are read from ``[tool.numpydoc_validation]`` in ``pyproject.toml`` (``checks``: the
codes of :data:`numpydoc.validate.ERROR_MSGS` that are enforced; ``exclude``: regular expressions on the dotted name).
A class's constructor parameters count as documented when its docstring lists them under ``Parameters`` or, for the
result dataclasses, under ``Attributes``.

Usage::

    python tools/check_docstrings.py            # one line per finding, then the count; exit status 1 if any
    python tools/check_docstrings.py --summary  # counts per file
    python tools/check_docstrings.py regdiag/linalg.py regdiag/cli.py   # only objects defined in these files
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import inspect
import re
import sys
from collections import Counter
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("regdiag", "regdiag.plots", "regdiag.engine", "regdiag.torch", "regdiag.dask", "regdiag.survival")
_DIRECTIVE = re.compile(r"^\.\. (automodule|autofunction|autoclass)::\s*(\S+)\s*$")
_MEMBERS = re.compile(r"^\s+:members:\s*(.*)$")


@dataclasses.dataclass(frozen=True)
class Finding:
    """One failed check of one object's docstring."""

    name: str
    code: str
    message: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.code} {self.name}: {self.message}"


def load_config(path: Path = ROOT / "pyproject.toml") -> tuple[set[str], list[re.Pattern[str]]]:
    """The enforced check codes and the excluded-name patterns of ``[tool.numpydoc_validation]``.

    Parameters
    ----------
    path : Path
        The ``pyproject.toml`` to read.

    Returns
    -------
    checks : set of str
        Codes such as ``"GL08"``.
    exclude : list of re.Pattern
        Patterns matched (``re.search``) against the dotted names of the objects to leave out.
    """
    with open(path, "rb") as fh:
        table = tomllib.load(fh)["tool"]["numpydoc_validation"]
    return set(table["checks"]), [re.compile(p) for p in table.get("exclude", [])]


def _public_names(module: Any) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [n for n, v in vars(module).items()
            if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__]


def doc_page_names(api_dir: Path = ROOT / "docs" / "api") -> list[str]:
    """The dotted names the API pages document.

    Parameters
    ----------
    api_dir : Path
        The folder of the API pages (reStructuredText).

    Returns
    -------
    list of str
        One dotted name per documented object, in page order (an ``automodule`` with ``:members:`` gives its listed
        members, or all its public names when none are listed).
    """
    names: list[str] = []
    for page in sorted(api_dir.glob("*.rst")):
        lines = page.read_text().splitlines()
        for i, line in enumerate(lines):
            m = _DIRECTIVE.match(line)
            if not m:
                continue
            kind, target = m.groups()
            if kind != "automodule":
                names.append(target)
                continue
            for option in lines[i + 1 : i + 6]:
                if not option.strip():
                    break
                members = _MEMBERS.match(option)
                if members:
                    listed = [s.strip() for s in members.group(1).split(",") if s.strip()]
                    module = importlib.import_module(target)
                    names += [f"{target}.{n}" for n in (listed or _public_names(module))]
    return names


def _resolve(dotted: str) -> Any:
    """The object a dotted name refers to, importing the longest prefix that is a module.

    Parameters
    ----------
    dotted : str
        A name such as ``regdiag.linear.ols.OLSFit``, or autodoc's explicit form ``module::object.path`` (needed
        where a package attribute shadows a submodule of the same name).

    Returns
    -------
    object
        The module, class, function or other attribute named.
    """
    if "::" in dotted:
        module_name, _, path = dotted.partition("::")
        obj = importlib.import_module(module_name)
        for attr in path.split("."):
            obj = getattr(obj, attr)
        return obj
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for attr in parts[k:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _own_path(obj: Any) -> str | None:
    """``module.qualname`` where ``obj`` is defined, or None for what is not a regdiag function or class."""
    if not (inspect.isfunction(obj) or inspect.isclass(obj)):
        return None
    module = getattr(obj, "__module__", "") or ""
    if not module.startswith("regdiag"):
        return None
    return f"{module}.{obj.__qualname__}"


def _members(cls: type) -> Iterator[str]:
    """Dotted names of the public methods and properties a regdiag class defines or inherits from regdiag."""
    seen: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("regdiag") or issubclass(klass, BaseException):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if not (inspect.isfunction(value) or isinstance(value, (property, cached_property))):
                continue
            func = value.fget if isinstance(value, property) else getattr(value, "func", value)
            if not func.__doc__ and any(name in vars(base) for base in klass.__mro__[1:]):
                continue  # an override without a docstring of its own shows the one it overrides, checked there
            if inspect.isfunction(func) and func.__module__.startswith("regdiag"):
                seen.add(name)
                # where the function is written: a method shared by several classes is checked once (a function
                # attached under another name is named by the attribute)
                if func.__qualname__.rsplit(".", 1)[-1] == name:
                    yield f"{func.__module__}.{func.__qualname__}"
                else:
                    yield f"{klass.__module__}.{klass.__qualname__}.{name}"


def public_api() -> list[str]:
    """Dotted names (where each is defined) of every public function, class, method and property.

    Returns
    -------
    list of str
        Sorted, without repeats.
    """
    listed = [f"{pkg}.{n}" for pkg in PACKAGES for n in _public_names(importlib.import_module(pkg))]
    listed += doc_page_names()
    out: set[str] = set()
    for dotted in listed:
        obj = _resolve(dotted)
        if inspect.ismodule(obj):
            listed += [f"{obj.__name__}.{n}" for n in _public_names(obj)]
            continue
        path = _own_path(obj)
        if path is None:
            continue
        out.add(path)
        if inspect.isclass(obj):
            out.update(_members(obj))
    return sorted(out)


def _section_names(doc: Any, section: str) -> set[str]:
    names: set[str] = set()
    for item in doc[section]:
        for name in item.name.split(","):
            names.add(name.strip().lstrip("*"))
    return names


def _documented_names(cls: type) -> set[str]:
    """The names a class's own docstring lists under Parameters, Other Parameters or Attributes."""
    from numpydoc.docscrape import NumpyDocString

    doc = NumpyDocString(inspect.cleandoc(cls.__doc__) if cls.__doc__ else "")
    return set().union(*(_section_names(doc, s) for s in ("Parameters", "Other Parameters", "Attributes")))


def _class_params_documented(obj: type) -> bool:
    """Whether every constructor parameter is listed under Parameters, Other Parameters or Attributes.

    A dataclass field inherited from a base dataclass counts as documented when that base class's docstring lists
    it (the subclass's page links to the base class rather than repeating its fields).
    """
    try:
        params = [p for p in inspect.signature(obj).parameters.values()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    except (TypeError, ValueError):
        return True
    documented = _documented_names(obj)
    for base in obj.__mro__[1:]:
        if dataclasses.is_dataclass(base):
            fields = {f.name for f in dataclasses.fields(base)}
            documented |= fields & _documented_names(base)
    return all(p.name in documented for p in params)


def _unknown_class_params(obj: type) -> bool:
    """Whether the class docstring's Parameters name a parameter its constructor does not have."""
    from numpydoc.docscrape import NumpyDocString

    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return False
    doc = NumpyDocString(inspect.getdoc(obj) or "")
    return bool(_section_names(doc, "Parameters") - set(sig.parameters))


def validate(name: str, checks: set[str]) -> list[Finding]:
    """Run numpydoc's validation on one object and keep the enforced checks.

    Parameters
    ----------
    name : str
        Dotted name of the object where it is defined.
    checks : set of str
        The enforced codes.

    Returns
    -------
    list of Finding
        The failed checks, empty when the docstring passes.
    """
    from numpydoc.validate import validate as numpydoc_validate

    result = numpydoc_validate(name)
    obj = _resolve(name)
    file = result.get("file") or "?"
    with contextlib.suppress(ValueError):  # a file outside the repository keeps its full path
        file = str(Path(file).resolve().relative_to(ROOT))
    findings = []
    for code, message in result["errors"]:
        if code not in checks:
            continue
        if inspect.isclass(obj) and code == "PR01" and _class_params_documented(obj):
            continue
        if inspect.isclass(obj) and code == "PR02" and not _unknown_class_params(obj):
            continue
        findings.append(Finding(name, code, message, file, int(result.get("file_line") or 0)))
    return findings


def main(argv: list[str] | None = None) -> int:
    """Check the public API; print the findings.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 when every docstring passes the enforced checks, 1 otherwise.
    """
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", help="only objects defined in these files (paths from the repository root)")
    ap.add_argument("--summary", action="store_true", help="counts per file and check instead of one line each")
    args = ap.parse_args(argv)
    if str(ROOT) not in sys.path:  # check this tree's package, whatever is installed
        sys.path.insert(0, str(ROOT))
    checks, exclude = load_config()
    names = [n for n in public_api() if not any(p.search(n) for p in exclude)]
    findings = [f for n in names for f in validate(n, checks)]
    if args.files:
        wanted = {str(Path(f)) for f in args.files}
        findings = [f for f in findings if f.file in wanted]
    if args.summary:
        for (file, code), count in sorted(Counter((f.file, f.code) for f in findings).items()):
            print(f"{count:5d}  {code}  {file}")
    else:
        for f in findings:
            print(f)
    print(f"{len(findings)} finding(s) in {len(names)} public objects (checks: {', '.join(sorted(checks))})")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
