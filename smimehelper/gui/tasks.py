"""Run use cases off the GUI thread, with progress, cancel, and results back on the GUI thread.

Like Anki's ``CollectionOp``: ``runner.run(work, on_done=..., on_error=...)``. ``work`` receives a
:class:`TaskControl` to report progress and to see whether the user pressed Cancel; the window
never freezes, whatever the size of the study being encrypted.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ..core.errors import SmimeHelperError


class TaskControl:
    def __init__(self, emit_progress: Callable[[int, int], None]) -> None:
        self._cancel = threading.Event()
        self._emit = emit_progress

    def progress(self, done: int, total: int) -> None:
        self._emit(done, total)

    def cancel(self) -> None:
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()


class _Signals(QObject):
    progress = Signal(int, int)
    done = Signal(object)
    failed = Signal(str, bool)  # message, is_user_error


class _Job(QRunnable):
    """The worker thread must never hold the last reference to anything Qt: a QObject (or a widget
    a closure holds) freed on a worker thread crashes the app. So the job lets go of the work
    before it reports, the runner keeps the work until the report arrived on the GUI thread, and
    the signals object belongs to the runner and lives as long as it (never deleted under a job)."""

    def __init__(self, work: Callable[[TaskControl], Any], signals: _Signals, control: TaskControl) -> None:
        super().__init__()
        self.work: Callable[[TaskControl], Any] | None = work
        self.signals, self.control = signals, control

    def run(self) -> None:  # on a pool thread
        work, self.work = self.work, None
        assert work is not None
        try:
            result = work(self.control)
        except SmimeHelperError as exc:
            del work
            self.signals.failed.emit(str(exc), True)
        except Exception as exc:  # a bug: say so plainly; details to stderr for a report
            del work
            traceback.print_exc()
            self.signals.failed.emit(
                f"Something went wrong inside smimehelper ({type(exc).__name__}). Nothing was sent.", False
            )
        else:
            del work
            self.signals.done.emit(result)


class TaskRunner(QObject):
    """Starts jobs on Qt's thread pool and delivers their outcome as signals on the GUI thread."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool.globalInstance()
        self._alive: list[tuple[_Signals, Callable[[TaskControl], Any]]] = []  # jobs not yet reported

    def run(
        self,
        work: Callable[[TaskControl], Any],
        *,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> TaskControl:
        signals = _Signals(self)  # the runner's child: freed with it, on the GUI thread, never by the worker
        entry = (signals, work)
        self._alive.append(entry)  # the work (and what it holds) is let go here, on the GUI thread
        control = TaskControl(signals.progress.emit)
        if on_progress:
            signals.progress.connect(on_progress)

        def reported() -> None:
            self._alive.remove(entry)
            # Let go of the callbacks (and the views they hold) here, on the GUI thread. The small
            # signals object itself stays, a child of the runner, until the runner goes: the worker
            # may still be dropping its own reference to it. (While these objects were deleted after
            # their report, one suite run in ten crashed on the GUI thread; the cause is not proven.)
            for signal in (signals.done, signals.failed, *([signals.progress] if on_progress else [])):
                signal.disconnect()

        def finished(result: Any) -> None:
            reported()
            if on_done:
                on_done(result)

        def failed(message: str, _user: bool) -> None:
            reported()
            if on_error:
                on_error(message)

        signals.done.connect(finished)
        signals.failed.connect(failed)
        self.pool.start(_Job(work, signals, control))
        return control

    def wait(self, msecs: int = 30000) -> bool:
        return self.pool.waitForDone(msecs)
