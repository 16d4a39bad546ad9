"""Sphinx extension: ``.. runcode::`` runs Python code while the documentation is built and shows its output.

Every block of a page runs in one namespace (a fresh one per page, in page order), so a page reads like a session.
The source is shown as a Python block, followed by what the code printed (stdout, stderr and any warning it raised,
as ``WarningClass: message``; deprecation warnings only when the page's own code triggers them, as Python does).
Figures left open by matplotlib are saved and shown as images, then closed.

A block that raises is reported as an error at its page and line, with the traceback; the build runs with warnings
as errors (``make docs``), so a page cannot show code that does not run. Options:

``:hide-code:``
    Show only the output (used for tables and figures computed by the page).
``:hide-output:``
    Run the code but show no output (setup code; figures are still shown).
``:output: rst``
    The code prints reStructuredText (a table, a list), which is parsed into the page instead of shown verbatim.
``:raises: ExceptionName``
    The block must raise this exception (by class name); its message is shown. Not raising it fails the build.
``:file: path``
    Run a Python file (relative to the documentation source folder) as ``__main__`` in a namespace of its own,
    and show its source.
"""

from __future__ import annotations

import contextlib
import io
import traceback
import warnings
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

#: one namespace and one figure counter per page, reset whenever the page is read
_PAGES: dict[str, dict[str, Any]] = {}

#: figures go beside the build output (ignored by git), referenced from the source folder
FIGURE_DIR = "_build/runcode-figures"


def _reset_page(app: Sphinx, docname: str, source: list[str]) -> None:
    _PAGES[docname] = {"namespace": {"__name__": "__main__"}, "figures": 0}


def _output_choice(argument: str) -> str:
    return directives.choice(argument, ("text", "rst"))


class RunCode(SphinxDirective):
    """Execute the directive's content (or a file) and show source and output."""

    has_content = True
    option_spec: ClassVar[dict[str, Any]] = {
        "hide-code": directives.flag,
        "hide-output": directives.flag,
        "output": _output_choice,
        "raises": directives.unchanged_required,
        "file": directives.path,
    }

    def run(self) -> list[nodes.Node]:
        docname = self.env.docname
        page = _PAGES.setdefault(docname, {"namespace": {"__name__": "__main__"}, "figures": 0})
        where = f"{self.env.doc2path(docname)}:{self.lineno}"
        if "file" in self.options:
            path = Path(self.env.srcdir) / self.options["file"]
            if not path.is_file():
                raise ExtensionError(f"{where}: runcode file not found: {path}")
            self.env.note_dependency(str(path))
            code = path.read_text(encoding="utf-8")
            namespace: dict[str, Any] = {"__name__": "__main__", "__file__": str(path)}
            label = str(path)
        else:
            code = "\n".join(self.content)
            namespace = page["namespace"]
            label = f"<{where}>"
        if not code.strip():
            raise ExtensionError(f"{where}: empty runcode block")

        text, raised = _execute(code, label, namespace)
        expected = self.options.get("raises")
        if raised is not None and (expected is None or type(raised).__name__ != expected):
            tb = "".join(traceback.format_exception(raised))
            return [self._fail(f"a code example failed:\n{tb}")]
        if expected is not None:
            if raised is None:
                return [self._fail(f"the example should raise {expected} but did not")]
            text += f"{type(raised).__name__}: {raised}\n"

        out: list[nodes.Node] = []
        if "hide-code" not in self.options:
            src = nodes.literal_block(code, code, language="python", classes=["runcode-source"])
            self.set_source_info(src)
            out.append(src)
        if "hide-output" not in self.options and text.strip():
            if self.options.get("output") == "rst":
                holder = nodes.container(classes=["runcode-rst"])
                lines = StringList(text.splitlines(), source=label)
                self.state.nested_parse(lines, self.content_offset, holder)
                out.extend(holder.children)
            else:
                block = nodes.literal_block(text, text.rstrip("\n"), language="none", classes=["runcode-output"])
                self.set_source_info(block)
                out.append(block)
        out.extend(self._figures(page, docname))
        return out

    def _fail(self, message: str) -> nodes.Node:
        """Report a failed example as an error at its page and line (``-W`` makes the build fail) and show it."""
        logger.error(message, location=(self.env.docname, self.lineno), type="runcode")
        return nodes.literal_block(message, message, classes=["runcode-error"])

    def _figures(self, page: dict[str, Any], docname: str) -> list[nodes.Node]:
        import sys

        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None:
            return []
        made = []
        folder = Path(self.env.srcdir) / FIGURE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        for num in plt.get_fignums():
            fig = plt.figure(num)
            page["figures"] += 1
            name = f"{docname.replace('/', '-')}-{page['figures']}.png"
            fig.savefig(folder / name, dpi=96, bbox_inches="tight")
            made.append(nodes.image(uri=f"/{FIGURE_DIR}/{name}", alt=f"figure {page['figures']} of {docname}"))
        plt.close("all")
        return made


def _execute(code: str, label: str, namespace: dict[str, Any]) -> tuple[str, BaseException | None]:
    """Run ``code``; return everything it printed (warnings included) and the exception it raised, if any."""
    buffer = io.StringIO()
    raised: BaseException | None = None
    compiled = compile(code, label, "exec")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # deprecations inside libraries are the libraries' business (Python hides them too); the page's own show
        for category in (DeprecationWarning, PendingDeprecationWarning):
            warnings.filterwarnings("ignore", category=category)
            warnings.filterwarnings("always", category=category, module="__main__")
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            try:
                exec(compiled, namespace)
            except Exception as exc:  # reported by the caller, with the page and line
                raised = exc
    text = buffer.getvalue()
    for w in caught:
        if text and not text.endswith("\n"):
            text += "\n"
        text += f"{w.category.__name__}: {w.message}\n"
    return text, raised


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("runcode", RunCode)
    app.connect("source-read", _reset_page)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
