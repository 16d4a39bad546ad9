"""The report's drawing processes: every task's result comes back once, the tasks of a lost worker are run in the
parent, and no process outlives the report (not even when the parent exits without closing them)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest

from regdiag.report import drawing
from regdiag.report.drawing import Drawing

pytestmark = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")


def _square(k: int) -> tuple[int, int]:
    return k * k, os.getpid()


def _die_in_worker(parent: int) -> str:
    """Kills the worker that runs it; run in the parent, returns where it ran."""
    if os.getpid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    return "parent"


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return any(line.split()[:2] == ["State:", "Z"] for line in fh)  # a zombie has exited
    except FileNotFoundError:
        return True
    except OSError:  # no /proc: ask the process table
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False


def _wait_gone(pids: set[int], seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if all(_gone(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def test_every_result_comes_back_once_from_the_workers():
    d = Drawing(2, warm=False)
    try:
        ids = {d.submit(_square, (k,)): k for k in range(12)}
        got = dict(d.results())
    finally:
        d.close()
    assert sorted(got) == sorted(ids)
    assert all(got[t][0] == ids[t] ** 2 for t in ids)
    workers = {pid for _, pid in got.values()}
    assert os.getpid() not in workers and 1 <= len(workers) <= 2
    assert _wait_gone(workers)
    assert not multiprocessing.active_children()


def test_tasks_of_a_lost_worker_run_in_the_parent():
    d = Drawing(2, warm=False)
    try:
        first = [d.submit(_square, (k,)) for k in range(3)]
        doomed = d.submit(_die_in_worker, (os.getpid(),))
        after = [d.submit(_square, (k,)) for k in range(3, 6)]
        got = dict(d.results())
    finally:
        d.close()
    assert got[doomed] == "parent"  # it killed a worker, and then ran here
    assert [got[t][0] for t in first + after] == [k * k for k in range(6)]
    assert not multiprocessing.active_children()


def _read_in_parent(path: str, parent: int) -> str:
    """Kills the worker that runs it; run in the parent, reads ``path``."""
    if os.getpid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    with open(path) as fh:
        return fh.read()


def test_a_lost_workers_task_still_reads_its_input_from_the_scratch_folder():
    """The report hands its bundle over in the scratch folder: it stays until the parent has run what was lost."""
    d = Drawing(2, warm=False)
    try:
        path = os.path.join(d.scratch, "input.txt")
        with open(path, "w") as fh:
            fh.write("the bundle")
        tid = d.submit(_read_in_parent, (path, os.getpid()))
        got = dict(d.results())
    finally:
        d.close()
    assert got == {tid: "the bundle"}
    assert not os.path.exists(d.scratch)


def test_workers_exit_when_the_parent_exits_without_closing_them():
    code = (
        "import os\n"
        "from regdiag.report.drawing import Drawing\n"
        "d = Drawing(2, warm=False)\n"
        "for _ in range(6): d.submit(os.getpid, ())\n"
        "print(' '.join(str(pid) for _, pid in d.results()), flush=True)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    pids = {int(p) for p in out.stdout.split()}
    assert pids and _wait_gone(pids)


def test_early_workers_are_taken_once(monkeypatch):
    monkeypatch.setattr(drawing, "EARLY_DRAWING_MAX_LOAD", float("inf"))
    monkeypatch.setattr(drawing, "worker_count", lambda n: 2)
    drawing.start_early()
    try:
        early = drawing.take_early()
        assert isinstance(early, Drawing)
        assert drawing.take_early() is None
        tid = early.submit(_square, (7,))
        assert dict(early.results())[tid][0] == 49
    finally:
        if early is not None:
            early.close()
    assert not multiprocessing.active_children()


def test_one_core_or_one_task_draws_in_the_parent(monkeypatch):
    assert drawing.worker_count(1) == 0
    monkeypatch.setattr(drawing, "_cpus", lambda: 1)
    assert drawing.worker_count(10) == 0 and Drawing.start(10) is None


def _hang_in_worker(parent: int) -> str:
    """Hangs in a worker; run in the parent, returns at once."""
    if os.getpid() != parent:
        time.sleep(60)
    return "parent"


def test_silent_workers_are_given_up_on(monkeypatch):
    """Where a dead worker could not be told from a live one, the parent stops waiting after SILENCE_S and draws
    the rest itself; closing stops the hung worker."""
    monkeypatch.setattr(drawing, "SILENCE_S", 1.0)
    d = Drawing(2, warm=False)
    t = time.monotonic()
    try:
        hung = d.submit(_hang_in_worker, (os.getpid(),))
        got = dict(d.results())
    finally:
        d.close()
    assert got == {hung: "parent"}
    assert time.monotonic() - t < 20
    assert not multiprocessing.active_children()


@pytest.mark.parametrize(
    "running, average, idle",
    [(1, 5.0, True), (2, 5.0, True), (3, 5.0, False), (3, 0.5, True), (None, 0.5, True), (None, 5.0, False)],
)
def test_a_core_to_spare_now_or_on_average(tmp_path, monkeypatch, running, average, idle):
    """Two cores: idle when another process at most is running now (this one left out), or else when the load
    average is below two; the average alone lags behind."""
    path = tmp_path / "loadavg"
    if running is not None:
        path.write_text(f"{average} {average} {average} {running}/300 12345\n")
    monkeypatch.setattr(drawing, "LOADAVG", str(path))
    monkeypatch.setattr(drawing, "_cpus", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (average, average, average))
    assert drawing.machine_idle() is idle


def test_a_lock_left_held_by_a_killed_worker_does_not_hold_up_the_others_once_the_parent_is_gone():
    """A worker killed in the middle of a send never releases the lock: the others wait for it only while the
    parent lives."""
    lock = multiprocessing.get_context("fork").Lock()
    lock.acquire()  # held for good, as by a killed worker
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    t = time.monotonic()
    assert drawing._acquire(lock, int(gone.stdout)) is False
    assert time.monotonic() - t < 5
    assert drawing._acquire(multiprocessing.get_context("fork").Lock(), os.getpid()) is True
