"""Python's cycle collector runs on the GUI thread only, while the desktop app runs.

Python frees reference cycles in whichever thread happens to allocate when a threshold is
crossed. In the app that is often a worker thread (encrypting a study, importing a certificate
file), and a cycle it frees may hold a Qt widget that was closed a moment ago: a widget destroyed
outside the GUI thread crashes the whole app (seen on CI: a segmentation fault inside the
certificate import of the first-run assistant, "Garbage-collecting" on the worker's stack).

So automatic collection is switched off and a timer on the GUI thread collects with Python's own
generational thresholds, as calibre does. A worker that needs a full collection (pydicom's FileSet
frees its staging folder only through the cycle collector) asks for one with
:func:`request_full_collection`; it runs on the GUI thread at the next tick.
"""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, QTimer

TICK_MS = 500
_full_wanted = threading.Event()


def request_full_collection() -> None:
    """Thread-safe: a full collection at the collector's next tick (at once if none runs)."""
    if gc.isenabled():  # no collector installed (the CLI, a test without the app): as before
        gc.collect()
    else:
        _full_wanted.set()


class GuiThreadCollector(QObject):
    """Installed once per QApplication; :meth:`stop` gives automatic collection back."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = TICK_MS) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.tick)
        self._timer.start(interval_ms)

    def tick(self) -> None:
        if _full_wanted.is_set():
            _full_wanted.clear()
            gc.collect()
            return
        threshold0, threshold1, threshold2 = gc.get_threshold()
        count0, count1, count2 = gc.get_count()
        if count0 <= threshold0:
            return
        generation = 0
        if count1 > threshold1:
            generation = 2 if count2 > threshold2 else 1
        gc.collect(generation)

    def stop(self) -> None:
        """Collect what is left on this (the GUI) thread, then let Python collect as usual."""
        self._timer.stop()
        _full_wanted.clear()
        gc.collect()
        if self._was_enabled:
            gc.enable()


def install(app: QObject) -> GuiThreadCollector:
    """The app's collector, a child of ``app`` so it lives exactly as long as the app."""
    existing = app.findChild(GuiThreadCollector)
    return existing if existing is not None else GuiThreadCollector(app)
