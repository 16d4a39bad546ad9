"""The layers of the package, lowest first: the one table that ``tests/test_architecture.py`` enforces on every
import (imports inside functions included, ``if TYPE_CHECKING:`` blocks exempt) and that the design page shows.

A module belongs to the entry naming it or the longest entry naming a package above it. A module may import a module
of its own layer or of a layer listed before its own, never one listed after it, never the package root
``regdiag/__init__.py``, and no two units (a subpackage or a top-level module) may import each other, directly or
round a cycle. An adapter may import only the layers named in its ``uses`` (public names only), and only the
entry layer imports an adapter. No module imports a name that begins with an underscore, or a module whose name
does, from another unit (the top-level private modules such as ``regdiag._validation`` are shared by all).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LAYERS", "PACKAGE", "RULES", "Import", "Layer", "describe", "imports", "is_module", "layer_imports", "unit",
           "violations"]


@dataclass(frozen=True)
class Layer:
    """One layer: its name, the modules and packages in it, and what it does.

    Attributes
    ----------
    name : str
        The layer's name, e.g. "models".
    members : tuple of str
        Dotted names of the modules and packages in it, e.g. ``("regdiag.linear", "regdiag.survival")``.
    role : str
        What it does, in words (shown on the design page).
    uses : tuple of str or None
        Set for an adapter only: the names of the layers it may import (public names only), whatever their place.
    """

    name: str
    members: tuple[str, ...]
    role: str
    uses: tuple[str, ...] | None = None


LAYERS: tuple[Layer, ...] = (
    Layer(
        "base",
        (
            "regdiag._validation", "regdiag._layers", "regdiag._version", "regdiag.input_kind", "regdiag.linalg",
            "regdiag.design", "regdiag.rformula", "regdiag.datasets", "regdiag.results", "regdiag.protocols",
            "regdiag.testing", "regdiag.measures", "regdiag._warnings", "regdiag._distributions", "regdiag._lazy",
        ),
        "input checks and their messages, the kind of input a user passed, the one LAPACK wrapper, formulas and "
        "designs, bundled data, the result types, the fit protocols, pure measure functions of (residuals, "
        "leverage, scale, rank), brute-force oracles",
    ),
    Layer(
        "models",
        ("regdiag.linear", "regdiag.survival"),
        "closed-form fits, influence and exact deletion: OLS/WLS, GLMs, negative binomial, robust, discrete, Cox; "
        "a new model class goes here",
    ),
    Layer(
        "engine",
        ("regdiag.engine",),
        "the generic second-order influence engine, framework-free, with its model adapters and cross-checks for "
        "the fits of the models layer",
    ),
    Layer(
        "compare",
        ("regdiag.compare", "regdiag.comparison", "regdiag.compare_models", "regdiag.compare_cox",
         "regdiag.from_statsmodels"),
        "peers' numbers beside regdiag's (statsmodels, R), and statsmodels results refitted by regdiag",
    ),
    Layer("plots", ("regdiag.plots",), "draws what it is given; matplotlib is imported here only"),
    Layer("report", ("regdiag.report",), "the HTML report: one diagnostics bundle computed, then rendered"),
    Layer(
        "dask adapter",
        ("regdiag.dask",),
        "fits and influence of Dask collections block by block, from the public names of the models layer, and "
        "the streamed report",
        uses=("base", "models", "report"),
    ),
    Layer(
        "torch adapter",
        ("regdiag.torch",),
        "PyTorch networks through the engine's model protocol; torch is imported here only",
        uses=("base", "engine"),
    ),
    Layer(
        "entry",
        ("regdiag.api", "regdiag.cli", "regdiag"),
        "takes what users pass and dispatches once: the public functions, the package root's lazy re-exports, "
        "the command line",
    ),
)


@dataclass(frozen=True)
class Import:
    """One import statement's import of one module (and name) of the package.

    Attributes
    ----------
    file : str
        Path of the importing file relative to the package's parent, e.g. "regdiag/linear/ols.py".
    line : int
        Line number of the statement.
    source : str
        The importing module, e.g. "regdiag.linear.ols".
    target : str
        The imported module, e.g. "regdiag.linalg".
    name : str or None
        The name taken from it (``from target import name``), None for ``import target``.
    text : str
        The statement as written.
    """

    file: str  # path relative to the package's parent, e.g. "regdiag/linear/ols.py"
    line: int
    source: str  # the importing module, e.g. "regdiag.linear.ols"
    target: str  # the imported module, e.g. "regdiag.linalg"
    name: str | None  # the name taken from it (``from target import name``), None for ``import target``
    text: str  # the statement as written

    @property
    def key(self) -> tuple[str, str, str | None]:
        """(file, imported module, name): how a known violation is listed."""
        return (self.file, self.target, self.name)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(dotted: str, root: Path) -> bool:
    """Whether the dotted name is a module or package of the package at ``root``.

    Parameters
    ----------
    dotted : str
        A dotted name whose first part is the package, e.g. "regdiag.linear.ols".
    root : Path
        The package's folder.

    Returns
    -------
    bool
        True when ``<root>/<rest>.py`` or ``<root>/<rest>/__init__.py`` exists.
    """
    rel = Path(*dotted.split(".")[1:]) if "." in dotted else Path()
    base = root / rel
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            for inner in node.body:
                skip.update(id(n) for n in ast.walk(inner))
    return skip


def imports(root: Path) -> list[Import]:
    """Every import of the package at ``root`` into itself, read with ``ast``.

    Imports inside functions count; those in an ``if TYPE_CHECKING:`` block do not. ``from pkg import sub`` of a
    submodule ``sub`` is an import of ``pkg.sub``.

    Parameters
    ----------
    root : Path
        The package's folder (``root.name`` is the package's name).

    Returns
    -------
    list of Import
        One per imported module (and name), files in sorted order.
    """
    pkg_name = root.name
    found: list[Import] = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        skip = _type_checking_nodes(tree)
        file = path.relative_to(root.parent).as_posix()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                found.extend(
                    Import(file, node.lineno, module, alias.name, None, ast.unparse(node))
                    for alias in node.names
                    if alias.name == pkg_name or alias.name.startswith(pkg_name + ".")
                )
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                if base != pkg_name and not base.startswith(pkg_name + "."):
                    continue
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    if is_module(sub, root):  # ``from pkg import submodule`` imports the submodule
                        found.append(Import(file, node.lineno, module, sub, None, ast.unparse(node)))
                    else:
                        found.append(Import(file, node.lineno, module, base, alias.name, ast.unparse(node)))
    return found


#: the rules :func:`violations` checks, each with what it asks
RULES: dict[str, str] = {
    "unmapped": "modules in no layer of regdiag._layers.LAYERS (add them to the table)",
    "upward": "imports of a higher layer (move the code to the right layer, or pass in what it needs)",
    "root": "imports of the package root (import the module that defines the name)",
    "adapter": "adapter imports of a layer outside its `uses`",
    "private": "underscore names (or private modules) imported from another unit (make the name public)",
    "cycle": "imports that close a cycle between units",
}

#: the package's own folder
PACKAGE = Path(__file__).resolve().parent


def _entries(layers: tuple[Layer, ...]) -> dict[str, int]:
    return {member: i for i, layer in enumerate(layers) for member in layer.members}


def unit(module: str, layers: tuple[Layer, ...] = LAYERS) -> str | None:
    """The entry of ``layers`` a module belongs to.

    Parameters
    ----------
    module : str
        A dotted module name, e.g. "regdiag.linear.ols".
    layers : tuple of Layer
        The layers, lowest first.

    Returns
    -------
    str or None
        The longest member of a layer naming the module or a package above it (an entry for the package root
        counts for the root only), or None when there is none.
    """
    entries = _entries(layers)
    parts = module.split(".")
    for k in range(len(parts), 0, -1):
        candidate = ".".join(parts[:k])
        if candidate in entries and (k > 1 or module == candidate):
            return candidate
    return None


def _private(imp: Import) -> bool:
    """An underscore name, or a name from a private module of another unit (not the package's top-level internals)."""
    dunder = imp.name is not None and imp.name.startswith("__") and imp.name.endswith("__")
    if imp.name is not None and imp.name.startswith("_") and not dunder:
        return True
    parts = imp.target.split(".")
    # a private module below a subpackage (``regdiag.survival._core``) is private to that subpackage
    return any(
        parts[k].startswith("_") and not imp.source.startswith(".".join(parts[:k]) + ".") for k in range(2, len(parts))
    )


def violations(
    root: Path = PACKAGE,
    layers: tuple[Layer, ...] = LAYERS,
    known: frozenset[tuple[str, str, str | None]] = frozenset(),
) -> dict[str, list[Import]]:
    """The imports breaking each rule of :data:`RULES`, by rule.

    Parameters
    ----------
    root : Path
        The package's folder (its name is the package's name).
    layers : tuple of Layer
        The layer table.
    known : frozenset of (str, str, str or None)
        Imports, as :attr:`Import.key`, left out of the graph searched for cycles (they are reported by the
        other rules).

    Returns
    -------
    dict
        For each rule, the imports that break it (for ``"cycle"``, every import between the units of a cycle).
    """
    pkg_name = root.name
    entries = _entries(layers)
    out: dict[str, list[Import]] = {rule: [] for rule in RULES}
    found = imports(root)
    modules = {_module_name(p, root) for p in root.rglob("*.py")}
    for m in sorted(modules):
        if unit(m, layers) is None:
            out["unmapped"].append(Import(m.replace(".", "/") + ".py", 1, m, m, None, "(a module in no layer)"))
    edges: dict[str, dict[str, Import]] = {}
    for imp in found:
        su, tu = unit(imp.source, layers), unit(imp.target, layers)
        if su is None or tu is None:
            continue
        if imp.target == pkg_name and imp.source != pkg_name:
            out["root"].append(imp)
            continue
        s_layer, t_layer = layers[entries[su]], layers[entries[tu]]
        if su != tu:
            if imp.key not in known:
                edges.setdefault(su, {}).setdefault(tu, imp)
            if s_layer.uses is not None and t_layer.name != s_layer.name:
                if t_layer.name not in s_layer.uses:
                    out["adapter"].append(imp)
            elif entries[tu] > entries[su] and t_layer.name != s_layer.name:
                out["upward"].append(imp)
            if _private(imp):
                out["private"].append(imp)
    # cycles between units: strongly connected components of the unit graph (Tarjan)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    for comp in comps:
        members = set(comp)
        out["cycle"].extend(imp for u in sorted(comp) for w, imp in edges[u].items() if w in members)
    return out


def describe(rule: str, found: list[Import]) -> str:
    """A rule's violations as a message.

    Parameters
    ----------
    rule : str
        A key of :data:`RULES`.
    found : list of Import
        The imports that break it.

    Returns
    -------
    str
        The count and what the rule asks, then one ``file:line: statement`` line per import.
    """
    return f"{len(found)} {RULES[rule]}:\n" + "\n".join(f"  {imp}" for imp in found)


def layer_imports(root: Path = PACKAGE, layers: tuple[Layer, ...] = LAYERS) -> dict[str, dict[str, int]]:
    """How many imports each layer makes of each layer (its own included), as the source is now.

    Parameters
    ----------
    root : Path
        The package's folder.
    layers : tuple of Layer
        The layers, lowest first.

    Returns
    -------
    dict
        ``counts[importing layer][imported layer]``, layers by name.
    """
    entries = _entries(layers)
    counts: dict[str, dict[str, int]] = {layer.name: {} for layer in layers}
    for imp in imports(root):
        su, tu = unit(imp.source, layers), unit(imp.target, layers)
        if su is None or tu is None or su == tu:
            continue
        s_name, t_name = layers[entries[su]].name, layers[entries[tu]].name
        counts[s_name][t_name] = counts[s_name].get(t_name, 0) + 1
    return counts
