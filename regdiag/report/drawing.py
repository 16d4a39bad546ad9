"""The processes that draw the report's figures.

Drawing is most of a small report's time (matplotlib lays out and renders every tick label and point), and it is
independent per figure, so the figures are drawn by worker processes while the parent computes the rest. The
workers are forked (on platforms that have ``fork``): the first one imports what drawing needs (matplotlib, its
font, the plot modules) and then forks the others, so the import is paid once; started early, that import overlaps
the parent's own imports and numbers.

A task is a module-level function and its arguments (pickled through a queue). Results come back as the workers
finish them. When a worker is lost (killed, out of memory) the tasks it had not finished are run in the parent, so
a report never hangs on a dead worker and never lacks a figure one could draw.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Drawing", "start_early", "take_early", "worker_count", "EARLY_DRAWING_MAX_LOAD"]

#: the workers start before the numbers are computed only while the machine's load average is below this many
#: times its number of cores: on a saturated machine their import competes with the parent's work instead of
#: overlapping it
EARLY_DRAWING_MAX_LOAD = 1.0
#: at most this many drawing processes
MAX_WORKERS = 4
#: where Linux says how many processes are running now (the fourth field, "running/total")
LOADAVG = "/proc/loadavg"
#: seconds between checks that the workers holding unfinished tasks are still alive
LIVENESS_POLL_S = 0.5
#: the workers are given up on (and the rest drawn in the parent) when none has said anything for this long: a
#: figure takes well under a second, and where a dead worker cannot be told from a live one (no /proc) this bounds
#: the wait
SILENCE_S = 120.0

Task = tuple[Callable[..., Any], tuple[Any, ...]]


def worker_count(n_tasks: int) -> int:
    """How many drawing processes ``n_tasks`` figures get on this machine: one per available core (at most
    :data:`MAX_WORKERS`); 0 (the parent draws) with one core, a single task, or no ``fork``.

    Parameters
    ----------
    n_tasks : int

    Returns
    -------
    int
    """
    import multiprocessing

    if n_tasks < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    workers = min(_cpus(), MAX_WORKERS, n_tasks)
    return workers if workers >= 2 else 0


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without affinity
        return os.cpu_count() or 1


def machine_idle() -> bool:
    """Whether the machine has a core to spare: fewer processes are running right now than the cores this process
    may use (Linux's ``/proc/loadavg``, this process left out), or else the load average is below
    :data:`EARLY_DRAWING_MAX_LOAD` times those cores. The average lags a minute behind: right after other work
    has stopped it still says busy.

    Returns
    -------
    bool
        True also where neither can be read.
    """
    cpus = _cpus()
    try:
        with open(LOADAVG) as fh:
            running = int(fh.read().split()[3].split("/")[0]) - 1
        if running < cpus:
            return True
    except (OSError, ValueError, IndexError):
        pass
    return not hasattr(os, "getloadavg") or os.getloadavg()[0] < EARLY_DRAWING_MAX_LOAD * cpus


def _warm_up() -> None:
    """What every figure needs, imported once in the first worker (the others are forked from it): matplotlib and
    its font, the plot modules, and the modules the bundle handed to the workers is made of (the report's, and the
    formula parser's that a fit's design holds)."""
    from .. import plots
    from . import html, inputs  # noqa: F401

    plots.warm_up()


class Drawing:
    """Worker processes drawing tasks, forked now.

    Parameters
    ----------
    workers : int
        Number of processes (at least 1).
    warm : bool
        The first process imports matplotlib and the plot modules before it forks the others (for processes started
        before the parent has imported them).
    collect : bool
        Leave the garbage collector on in the workers. Off, each figure's objects stay in memory until the worker
        exits, and no collection scans them while drawing the next (about a sixth of the drawing time): for small
        data, whose figures are small.
    """

    def __init__(self, workers: int, warm: bool = True, collect: bool = True) -> None:
        import multiprocessing
        import tempfile

        ctx = multiprocessing.get_context("fork")
        self.workers = workers
        #: a folder for the tasks' inputs and results (removed by close)
        self.scratch = tempfile.mkdtemp(prefix="regdiag-drawing-")
        tasks_r, self._tasks = ctx.Pipe(duplex=False)
        self._results, results_w = ctx.Pipe(duplex=False)
        locks = (ctx.Lock(), ctx.Lock())  # one reader of the tasks, one writer of the results at a time
        self._submitted: dict[int, Task] = {}
        self._done: set[int] = set()
        self._taken: dict[int, int] = {}  # task -> pid of the worker drawing it
        self._pids: set[int] = set()
        self._closed = False
        # daemonic: a parent that exits without close() does not wait for it; the workers it forks see the end of
        # the tasks pipe once the parent is gone (they hold no writing end of it) and exit
        self._first = ctx.Process(target=_serve, args=(tasks_r, results_w, locks, (self._tasks, self._results),
                                                       workers, warm, collect, self.scratch, os.getpid()),
                                  daemon=True, name="regdiag-drawing")
        self._first.start()
        tasks_r.close()
        results_w.close()

    @classmethod
    def start(cls, n_tasks: int, warm: bool = True, collect: bool = True) -> Drawing | None:
        """Workers for ``n_tasks`` figures, or None where the parent should draw (see :func:`worker_count`) or no
        process could be started.

        Parameters
        ----------
        n_tasks : int
        warm, collect : bool
            See :class:`Drawing`.

        Returns
        -------
        Drawing or None
        """
        n = worker_count(n_tasks)
        if n == 0:
            return None
        try:
            return cls(n, warm=warm, collect=collect)
        except OSError:  # no process could be started (limits): the parent draws
            return None

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> int:
        """Queue ``fn(*args)`` (a module-level function and picklable arguments); returns the task's number.

        Parameters
        ----------
        fn : callable
        args : tuple

        Returns
        -------
        int
        """
        tid = len(self._submitted)
        self._submitted[tid] = (fn, args)
        self._tasks.send((tid, fn, args))
        return tid

    def results(self) -> Iterator[tuple[int, Any]]:
        """``(task, result)`` of every submitted task as each finishes; the tasks of a lost worker are run here.

        Yields
        ------
        tuple of (int, object)
        """
        heard = time.monotonic()
        while len(self._done) < len(self._submitted):
            if self._results.poll(LIVENESS_POLL_S):
                heard = time.monotonic()
                try:
                    msg = self._results.recv()
                except (EOFError, OSError):  # every worker is gone: the rest is drawn here
                    yield from self._run_here()
                    return
                kind, tid, value = msg
                if kind == "took":
                    self._taken[tid] = value
                elif kind == "pid":
                    self._pids.add(value)
                elif tid not in self._done:
                    self._done.add(tid)
                    yield tid, _read_result(value)
            elif self._lost() or time.monotonic() - heard > SILENCE_S:
                yield from self._run_here()
                return

    def _lost(self) -> bool:
        """Whether a worker has died (none exits before :meth:`close`; one killed while reading the tasks would
        leave the others waiting), or the first one died before it started the others."""
        if any(not self._worker_alive(pid) for pid in self._pids):
            return True
        return not self._pids and not self._first.is_alive()

    def _worker_alive(self, pid: int) -> bool:
        if pid == self._first.pid:
            return self._first.is_alive()  # reaps it if it has exited
        return _alive(pid)

    def _run_here(self) -> Iterator[tuple[int, Any]]:
        self._stop()  # the scratch folder stays: the tasks read their inputs from it
        for tid, (fn, args) in self._submitted.items():
            if tid not in self._done:
                self._done.add(tid)
                yield tid, fn(*args)

    def close(self) -> None:
        """Stop the workers (those still drawing are terminated) and remove the scratch folder."""
        self._stop()
        import shutil

        shutil.rmtree(self.scratch, ignore_errors=True)

    def _stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError, ValueError):
            for _ in range(self.workers):
                self._tasks.send(None)
        self._tasks.close()
        with contextlib.suppress(EOFError, OSError):  # the workers not heard of yet (stopped before any result)
            while self._results.poll(0):
                kind, _, value = self._results.recv()
                if kind == "pid":
                    self._pids.add(value)
        self._first.join(timeout=0.2)
        for pid in self._pids:
            with contextlib.suppress(OSError):
                if pid != self._first.pid and _alive(pid):
                    os.kill(pid, signal.SIGTERM)
        if self._first.is_alive():
            self._first.terminate()
            self._first.join(timeout=1.0)
        self._results.close()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` is running (a zombie, exited but not yet reaped, is not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: the process table
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True


def _read_result(path: str) -> Any:
    with open(path, "rb") as fh:
        value = pickle.load(fh)
    os.unlink(path)
    return value


def _serve(tasks: Any, results: Any, locks: tuple[Any, Any], parent_ends: tuple[Any, Any], workers: int,
           warm: bool, collect: bool, scratch: str, parent: int) -> None:
    """The first worker: import what drawing needs, fork the others (which share those imports), then draw."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the workers
    for conn in parent_ends:  # the parent's ends: held here, the tasks pipe would never end
        conn.close()
    if warm:
        _warm_up()
    gc.freeze()  # what the imports made is never garbage: no collection needs to scan it again
    if not collect:
        gc.disable()
    children = []
    for _ in range(workers - 1):
        pid = os.fork()
        if pid == 0:
            try:
                _work(tasks, results, locks, scratch, parent)
            finally:
                os._exit(0)
        children.append(pid)
    _work(tasks, results, locks, scratch, parent)
    for pid in children:  # reaped here, so that their CPU time counts as the report's (a parent's children's)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _acquire(lock: Any, parent: int) -> bool:
    """Take ``lock``, or give up (False) once the parent is gone: a worker killed while holding a lock never
    releases it, and no worker may then wait for it forever."""
    while not lock.acquire(timeout=LIVENESS_POLL_S):
        if not _alive(parent):
            return False
    return True


def _send(results: Any, lock: Any, parent: int, msg: tuple[str, int, Any]) -> bool:
    """Send ``msg`` to the parent; False when the parent is gone."""
    if not _acquire(lock, parent):
        return False
    try:
        results.send(msg)
    except OSError:  # the parent has closed its end
        return False
    finally:
        lock.release()
    return True


def _work(tasks: Any, results: Any, locks: tuple[Any, Any], scratch: str, parent: int) -> None:
    """Draw tasks until the sentinel or the end of the tasks pipe. A result is written to a file and only its name
    is sent, so that a worker never waits for the parent to read (the parent computes while the workers draw)."""
    read_lock, write_lock = locks
    pid = os.getpid()
    if not _send(results, write_lock, parent, ("pid", -1, pid)):
        return
    while True:
        if not _acquire(read_lock, parent):
            return
        try:
            item = tasks.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        finally:
            read_lock.release()
        if item is None:
            return
        tid, fn, args = item
        if not _send(results, write_lock, parent, ("took", tid, pid)):
            return
        path = os.path.join(scratch, f"{tid}.pickle")
        with open(path + ".part", "wb") as fh:
            pickle.dump(fn(*args), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(path + ".part", path)
        if not _send(results, write_lock, parent, ("done", tid, path)):
            return


#: workers started before the numbers (see start_early), waiting to be taken by the report
_EARLY: Drawing | None = None


def start_early(expected_tasks: int = 16) -> None:
    """Start the drawing workers now, before the parent imports and computes, on an idle machine; the next report
    takes them (:func:`take_early`). Does nothing where the parent would draw.

    Parameters
    ----------
    expected_tasks : int
        The figures a report is expected to draw.
    """
    global _EARLY
    if _EARLY is None and machine_idle():
        drawing = Drawing.start(expected_tasks, collect=False)  # small data only
        if drawing is not None:
            import atexit

            _EARLY = drawing
            atexit.register(_close_untaken)


def take_early() -> Drawing | None:
    """The workers :func:`start_early` started (once), or None.

    Returns
    -------
    Drawing or None
    """
    global _EARLY
    early, _EARLY = _EARLY, None
    return early


def _close_untaken() -> None:
    early = take_early()
    if early is not None:
        early.close()
