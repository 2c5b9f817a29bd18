"""Garbage is freed on the GUI thread only (smimehelper/gui/collector.py, gui/tasks.py).

CI once crashed with a segmentation fault: Python's cycle collector ran inside a worker thread
(the first-run assistant importing a certificate file) and freed widgets of an earlier window
there. These tests make a worker allocate enough to trigger a collection while a cycle waits, and
check on which thread the cycle was freed; without the GUI-thread collector it is the worker.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QObject
from PySide6.QtTest import QTest

from smimehelper.gui import collector
from smimehelper.gui.collector import GuiThreadCollector, request_full_collection
from smimehelper.gui.tasks import TaskControl, TaskRunner


class Freed:
    """Part of a reference cycle; records whether it was freed on the GUI (main) thread."""

    def __init__(self, log: list[bool]) -> None:
        self.log = log
        self.me = self  # a cycle: only the cycle collector frees it

    def __del__(self) -> None:
        self.log.append(threading.current_thread() is threading.main_thread())


@pytest.fixture
def runner(qapp) -> Iterator[TaskRunner]:  # noqa: ANN001
    tasks = TaskRunner()
    yield tasks
    tasks.wait(30_000)
    qapp.processEvents()


def allocate_in_worker(runner: TaskRunner, extra: object = None) -> threading.Event:
    """A task that allocates far beyond the young generation's threshold, as encrypting does."""
    finished = threading.Event()

    def work(_control: TaskControl) -> int:
        keep = [[n] for n in range(50 * gc.get_threshold()[0])]
        finished.set()
        return len(keep)

    runner.run(work)
    return finished


def test_the_suite_runs_gui_tests_with_the_collector(qapp) -> None:  # noqa: ANN001
    assert not gc.isenabled(), "tests with a QApplication run with automatic collection off"
    assert qapp.findChild(GuiThreadCollector) is not None


def test_a_cycle_is_freed_on_the_gui_thread_although_a_worker_allocates(qapp, runner: TaskRunner) -> None:  # noqa: ANN001
    gc.collect()
    log: list[bool] = []
    count = 2 * gc.get_threshold()[0]
    closed_window = [Freed(log) for _ in range(count)]
    del closed_window  # garbage now, as a closed window's widgets, freed at the next collection
    finished = allocate_in_worker(runner)
    assert finished.wait(30)  # the GUI thread allocates nothing meanwhile: only the worker could collect
    assert log == [], "the worker thread ran the cycle collector"
    QTest.qWait(3 * collector.TICK_MS)  # the GUI thread's collector ticks
    runner.wait()
    assert log == [True] * count


def test_a_worker_asks_for_a_full_collection_and_it_runs_on_the_gui_thread(qapp, runner: TaskRunner) -> None:  # noqa: ANN001
    gc.collect()
    log: list[bool] = []
    asked = threading.Event()

    def work(_control: TaskControl) -> None:
        Freed(log)
        request_full_collection()  # e.g. after pydicom's FileSet made its staging folder
        asked.set()

    runner.run(work)
    assert asked.wait(30)
    assert log == []
    QTest.qWait(3 * collector.TICK_MS)
    assert log == [True]


def test_without_the_app_a_full_collection_runs_at_once(qapp) -> None:  # noqa: ANN001
    installed = qapp.findChild(GuiThreadCollector)
    installed.stop()
    try:
        assert gc.isenabled()  # stop() gives automatic collection back
        log: list[bool] = []
        Freed(log)
        request_full_collection()
        assert log == [True]
    finally:
        gc.disable()
        installed._timer.start(collector.TICK_MS)


def test_install_gives_one_collector_per_app() -> None:
    app = QObject()
    try:
        first = collector.install(app)
        assert collector.install(app) is first and not gc.isenabled()
    finally:
        first.stop()
        first.setParent(None)
        gc.disable()  # the suite's own collector is still installed


class Work:
    """A task's work whose last reference must go on the GUI thread (a closure over widgets)."""

    def __init__(self, log: list[bool]) -> None:
        self.log = log

    def __call__(self, _control: TaskControl) -> str:
        return "done"

    def __del__(self) -> None:
        self.log.append(threading.current_thread() is threading.main_thread())


def test_the_task_runner_lets_go_of_the_work_on_the_gui_thread(qapp, runner: TaskRunner) -> None:  # noqa: ANN001
    log: list[bool] = []
    results: list[str] = []
    runner.run(Work(log), on_done=results.append)
    runner.wait()
    QTest.qWait(100)  # the report arrives on the GUI thread
    assert results == ["done"] and not runner._alive
    assert log == [True], "the worker thread freed the work (and what it holds)"


def test_the_callbacks_are_let_go_on_the_gui_thread_and_the_signals_object_outlives_the_job(
        qapp, runner: TaskRunner) -> None:  # noqa: ANN001
    log: list[bool] = []
    on_done = Work(log)  # a callback holding a view, say
    runner.run(lambda _control: "done", on_done=on_done)
    (signals,) = [entry[0] for entry in runner._alive]
    del on_done
    runner.wait()
    QTest.qWait(100)
    assert log == [True], "the callback was not let go on the GUI thread"
    assert signals in runner.findChildren(QObject)  # not deleted while the worker may still hold it
