from __future__ import annotations

import threading
import time

import pytest

from smimehelper.core.pipeline import in_background


def test_yields_everything_in_order() -> None:
    assert list(in_background(iter(range(1000)), depth=3)) == list(range(1000))


def test_producer_error_reaches_the_consumer() -> None:
    def produce():
        yield 1
        raise ValueError("disk gone")

    got = []
    with pytest.raises(ValueError, match="disk gone"):
        for item in in_background(produce()):
            got.append(item)
    assert got == [1]


def test_consumer_stopping_early_stops_and_joins_the_producer() -> None:
    produced = []

    def produce():
        for i in range(10_000):
            produced.append(i)
            yield i

    before = threading.active_count()
    stream = in_background(produce(), depth=2)
    assert next(stream) == 0
    stream.close()
    time.sleep(0.05)
    assert threading.active_count() == before
    assert len(produced) < 10  # bounded read-ahead, not the whole input
