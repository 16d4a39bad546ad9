"""Names of a package loaded on first use (PEP 562): the package's ``__getattr__`` and ``__dir__`` from a table of
name -> module, so that importing the package costs only what is used."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from importlib import import_module
from typing import Any


def lazy_names(
    package: str, names: Mapping[str, str], namespace: dict[str, Any], subpackages: Sequence[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``.

    Parameters
    ----------
    package : str
        The package's name (its ``__name__``).
    names : mapping of str to str
        Each name and the module (relative to the package) that defines it; a name is imported on first use and
        kept in ``namespace``.
    namespace : dict
        The package's globals.
    subpackages : sequence of str
        Subpackages imported on first use as attributes (``regdiag.engine``).

    Returns
    -------
    getattr, dir : callable
    """

    def __getattr__(name: str) -> Any:
        if name in subpackages:
            return import_module(f".{name}", package)  # the import binds it as an attribute of the package
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names) | set(subpackages))

    return __getattr__, __dir__
