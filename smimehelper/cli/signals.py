"""SIGTERM (logout, shutdown, ``kill``) unwinds like Ctrl-C for long commands: every temporary
file and half-made output is removed by the same code that handles an error, and the command
exits 130 ("Interrupted. Nothing was written.")."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    try:
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread (an embedding program): leave its handler alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
