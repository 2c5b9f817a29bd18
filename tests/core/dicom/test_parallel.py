"""core.dicom.parallel: results in order, errors as raised, cancellation, and the fork server
when called from a thread (as the desktop app does)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from smimehelper.core.dicom import parallel
from smimehelper.core.errors import InputFileError, UserError


def square_in_process(value: int, fail_at: int) -> tuple[int, int]:
    if value == fail_at:
        raise InputFileError(f"file {value} is not DICOM")
    time.sleep(0.002)
    return value * value, os.getpid()


def test_results_in_order_from_several_processes() -> None:
    seen: list[tuple[int, int]] = []
    results = parallel.run_all(square_in_process, [(n, -1) for n in range(64)], workers=2,
                               progress=lambda done, total: seen.append((done, total)))
    assert [r for r, _ in results] == [n * n for n in range(64)]
    if parallel.usable_cores() > 1:  # this process and a forked helper, or two pool workers
        assert len({pid for _, pid in results}) == 2
    assert seen[-1] == (64, 64) and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_few_files_stay_in_this_process() -> None:
    results = parallel.run_all(square_in_process, [(n, -1) for n in range(5)])
    assert {pid for _, pid in results} == {os.getpid()}


def test_an_error_in_a_worker_arrives_as_raised() -> None:
    with pytest.raises(InputFileError, match="file 37 is not DICOM"):
        parallel.run_all(square_in_process, [(n, 37) for n in range(64)], workers=2)


class Stopped(UserError):
    pass


def test_cancelled_from_a_worker_thread_uses_the_fork_server() -> None:
    outcome: dict[str, object] = {}
    progress: list[int] = []

    def work() -> None:
        try:
            parallel.run_all(square_in_process, [(n, -1) for n in range(400)], workers=2,
                             progress=lambda done, _total: progress.append(done),
                             cancelled=lambda: len(progress) >= 3, on_cancel=Stopped)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(120)
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), Stopped)
    assert progress and progress[-1] < 400


# -- forked helpers (a single-threaded process, as the CLI) ----------------------------------------

PARENT = os.getpid()


def fail_in(where: str, value: int) -> int:
    note_helper()
    here = "parent" if os.getpid() == PARENT else "helper"
    time.sleep(0.003)
    if here == where and value >= 16:
        raise InputFileError(f"file {value} failed in the {here}")
    return os.getpid()


def helper_pids() -> set[int]:
    """The helpers that ran jobs (they write their pid into HELPER_FILE)."""
    return {int(line) for line in HELPER_FILE.read_text().split()} if HELPER_FILE.exists() else set()


def note_helper() -> None:
    if os.getpid() != PARENT:
        with open(HELPER_FILE, "a") as handle:
            handle.write(f"{os.getpid()}\n")


def gone(pids: set[int]) -> bool:
    """Every one of ``pids`` has exited and was reaped (no zombie left)."""
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        return False
    return True


HELPER_FILE = Path(os.environ.get("TMPDIR", "/tmp")) / f"smimehelper-test-helpers-{PARENT}"


@pytest.fixture
def single_threaded() -> object:
    if not parallel._can_fork():
        pytest.skip("the test process has other threads: the fork server is used instead")
    HELPER_FILE.unlink(missing_ok=True)
    yield
    HELPER_FILE.unlink(missing_ok=True)


@pytest.mark.parametrize("where", ["parent", "helper"])
def test_an_error_on_either_side_arrives_as_raised(where: str, single_threaded: None) -> None:
    with pytest.raises(InputFileError, match=f"failed in the {where}"):
        parallel.run_all(fail_in, [(where, n) for n in range(200)], workers=2, batch=4)
    assert helper_pids() and gone(helper_pids())


def die_in_helper(value: int) -> int:
    note_helper()
    if os.getpid() != PARENT and value > 8:
        os._exit(9)  # killed, out of memory...
    time.sleep(0.002)
    return value


def test_a_helper_that_dies_is_reported(single_threaded: None) -> None:
    from smimehelper.core.dicom.forked import HelperLost

    with pytest.raises(HelperLost):
        parallel.run_all(die_in_helper, [(n,) for n in range(100)], workers=2, batch=4)
    assert helper_pids() and gone(helper_pids())


INTERRUPTED: list[int] = []


def interrupt_midway(value: int) -> int:
    note_helper()
    if os.getpid() == PARENT and value >= 40 and not INTERRUPTED:
        INTERRUPTED.append(value)
        os.kill(PARENT, signal.SIGINT)  # Ctrl-C while the work runs
    time.sleep(0.002)
    return value


def test_ctrl_c_waits_for_the_helpers_then_interrupts(single_threaded: None) -> None:
    started = time.monotonic()
    INTERRUPTED.clear()
    with pytest.raises(KeyboardInterrupt):
        parallel.run_all(interrupt_midway, [(n,) for n in range(2000)], workers=2, batch=4)
    assert helper_pids() and gone(helper_pids())
    assert time.monotonic() - started < 3  # stopped, not run to the end (2000 x 2 ms / 2)


ORPHAN_SCRIPT = """
import os, sys, time
from pathlib import Path
from smimehelper.core.dicom import parallel
marks = Path(sys.argv[1])
def slow(n):
    (marks / f"{os.getpid()}-{n}").touch()
    time.sleep(0.02)
    return n
parallel.run_all(slow, [(n,) for n in range(3000)], workers=2, batch=2)
"""


def test_helpers_stop_when_this_process_is_killed(tmp_path: Path) -> None:
    import subprocess
    import sys

    marks = tmp_path / "marks"
    marks.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", ORPHAN_SCRIPT, str(marks)], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len({p.name.split("-")[0] for p in marks.iterdir()}) < 2:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.01)
        proc.kill()  # kill -9: no clean-up in the parent
        proc.wait()
        deadline = time.monotonic() + 10
        while True:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break  # the helper noticed before its next batch and stopped
            assert time.monotonic() < deadline, "a helper kept working for a dead parent"
            time.sleep(0.05)
        assert len(list(marks.iterdir())) < 3000
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


_FORK_CHILD = "SMIMEHELPER_TEST_FORK_CHILD"
_FORKED_TESTS = ("test_an_error_on_either_side_arrives_as_raised", "test_a_helper_that_dies_is_reported",
                 "test_ctrl_c_waits_for_the_helpers_then_interrupts")


def test_the_forked_path_runs_in_a_single_threaded_process() -> None:
    """In the whole suite earlier tests leave threads behind (servers, Qt), so the tests above
    skip there; the command line's process is single-threaded and takes that path, so they run
    here in a fresh pytest process that must pass all of them, none skipped."""
    import subprocess
    import sys

    if os.environ.get(_FORK_CHILD) or parallel._can_fork():
        pytest.skip("this process is single-threaded: the tests above ran in it")
    root = Path(__file__).resolve().parents[3]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
         *(f"{Path(__file__).relative_to(root)}::{name}" for name in _FORKED_TESTS)],
        cwd=root, env={**os.environ, _FORK_CHILD: "1"}, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0 and "4 passed" in proc.stdout and "skipped" not in proc.stdout, proc.stdout[-3000:]
