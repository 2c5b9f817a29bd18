from __future__ import annotations

import random
import threading
import time

import pytest

from smimehelper.core.pipeline import AlignedBlocks, BufferRing, in_background, ring_size


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


def test_buffer_ring_hands_out_its_buffers_in_turn() -> None:
    ring = BufferRing(8, 3)
    first = [ring.next() for _ in range(3)]
    again = [ring.next() for _ in range(3)]
    assert all(a.obj is b.obj for a, b in zip(first, again))
    assert len({id(b.obj) for b in first}) == 3


@pytest.mark.parametrize("align", [1, 16, 57])
def test_aligned_blocks_through_a_thread_arrive_intact(align: int) -> None:
    """Random pieces written into a ring of ring_size(depth) buffers, consumed slowly on the
    other side of in_background: every block is a multiple of ``align`` but the last, and what
    arrives is exactly what was put in (no buffer reused before its consumer moved on)."""
    rng = random.Random(align)
    data = bytes(rng.randrange(256) for _ in range(300_000))
    depth = 2
    ring = BufferRing(4096, ring_size(depth))

    def produce():  # type: ignore[no-untyped-def]
        blocks = AlignedBlocks(ring, align)
        position = 0
        while position < len(data):
            step = rng.randint(1, 9000)
            yield from blocks.put(data[position : position + step])
            position += step
            if blocks.full_enough:
                yield blocks.take()
        yield blocks.take(last=True)

    got = bytearray()
    sizes = []
    for block in in_background(produce(), depth):
        time.sleep(0.0005)  # the producer runs ahead and wraps the ring while we hold a block
        sizes.append(len(block))
        got += block
    assert bytes(got) == data
    assert all(size % align == 0 for size in sizes[:-1])


def test_aligned_blocks_need_room_for_two_units() -> None:
    with pytest.raises(ValueError):
        AlignedBlocks(BufferRing(100, 2), 57)
