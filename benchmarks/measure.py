"""Wall time and peak resident memory of a stage (Linux: ``VmHWM`` reset through ``/proc/self/clear_refs``)."""

from __future__ import annotations

import time
from pathlib import Path


def reset_peak() -> int:
    """Reset the peak resident set size; return the current one (KiB)."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status("VmRSS")


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def measured(fn):
    """``(result, seconds, peak MiB above the resident size at the start)``."""
    base = reset_peak()
    t = time.perf_counter()
    out = fn()
    sec = time.perf_counter() - t
    return out, sec, (_status("VmHWM") - base) / 1024
