"""Progress of long computations: an optional callback, or a one-line text bar on standard error.

``progress`` arguments across the engine accept ``None``/``False`` (silent), ``True`` (a text bar on stderr) or a
callable ``progress(stage: str, done: int, total: int)`` called as work advances.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

__all__ = ["ProgressArg", "Progress", "text_bar"]

ProgressArg = None | bool | Callable[[str, int, int], None]


_open_stage: list[str] = []  # the stage whose bar is on the current, unfinished line of stderr


def text_bar(stage: str, done: int, total: int) -> None:
    """Write ``stage [#####.....] done/total`` on one line of stderr (a newline when done). A stage that starts
    while another's bar is unfinished (a nested step) begins a line of its own.

    Parameters
    ----------
    stage : str
        What is being done.
    done : int
        Steps done.
    total : int
        Steps in all.
    """
    global _open_stage
    if _open_stage and _open_stage[0] != stage:
        sys.stderr.write("\n")
    _open_stage = [] if done >= total else [stage]
    width = 30
    frac = 1.0 if total <= 0 else min(done / total, 1.0)
    fill = round(width * frac)
    end = "\n" if done >= total else ""
    sys.stderr.write(f"\r{stage} [{'#' * fill}{'.' * (width - fill)}] {done}/{total}{end}")
    sys.stderr.flush()


class Progress:
    """Reports ``stage`` advancing from 0 to ``total`` through the user's callback, at most every ``every`` seconds.

    Parameters
    ----------
    progress : None, bool or callable
        ``True``: :func:`text_bar`; None or False: no report; a callable ``(stage, done, total)``.
    stage : str
        What is being done.
    total : int
        Steps in all.
    every : float
        Least seconds between two reports (the last step is always reported).
    """

    def __init__(self, progress: ProgressArg, stage: str, total: int, every: float = 0.2) -> None:
        if progress is True:
            self._cb: Callable[[str, int, int], None] | None = text_bar
        elif progress is None or progress is False:
            self._cb = None
        elif callable(progress):
            self._cb = progress
        else:
            raise TypeError(f"progress must be None, a bool or a callable(stage, done, total), not {progress!r}")
        self.stage = stage
        self.total = int(total)
        self.done = 0
        self._every = every
        self._last = -1.0
        if self._cb is not None:
            self._cb(stage, 0, self.total)
            self._last = time.monotonic()

    def advance(self, k: int = 1) -> None:
        """Count ``k`` more steps done, reporting when ``every`` seconds have passed or the work is complete.

        Parameters
        ----------
        k : int
            Steps done since the last call.
        """
        self.done += k
        if self._cb is None:
            return
        now = time.monotonic()
        if self.done >= self.total or now - self._last >= self._every:
            self._cb(self.stage, min(self.done, self.total), self.total)
            self._last = now

    def close(self) -> None:
        """Report completion (once) if the work ended early, e.g. an iterative solver that converged."""
        if self._cb is not None and self.done < self.total:
            self.done = self.total
            self._cb(self.stage, self.total, self.total)
