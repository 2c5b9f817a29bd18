"""core.dicom.parallel: results in order, errors as raised, cancellation, and the fork server
when called from a thread (as the desktop app does)."""

from __future__ import annotations

import os
import threading
import time

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
    if parallel.usable_cores() > 1:
        assert len({pid for _, pid in results} - {os.getpid()}) == 2
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
