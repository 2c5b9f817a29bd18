"""Transfer encodings, judged by the standard library's independent decoders."""

from __future__ import annotations

import base64
import os
import quopri
import random

import pytest
from hypothesis import given, settings, strategies as st

from smimehelper.core.mime import encoders
from smimehelper.core.mime.encoders import FAST_MIN_BYTES, Base64Stream, LineEncoder, base64_lines, quoted_printable


def test_base64_lines_are_76_columns_with_crlf() -> None:
    data = os.urandom(1000)
    encoded = base64_lines(data)
    lines = encoded.split(b"\r\n")
    assert lines[-1] == b""
    assert all(len(line) == 76 for line in lines[:-2])
    assert base64.b64decode(b"".join(lines)) == data


@given(st.binary(max_size=5000), st.lists(st.integers(min_value=0, max_value=400), max_size=30))
@settings(max_examples=200, deadline=None)
def test_base64_stream_equals_one_shot_for_any_split(data: bytes, cuts: list[int]) -> None:
    stream = Base64Stream()
    pieces: list[bytes] = []
    position = 0
    for cut in cuts:
        pieces.append(stream.update(data[position : position + cut]))
        position += cut
    pieces.append(stream.update(data[position:]))
    pieces.append(stream.finish())
    assert b"".join(pieces) == base64.encodebytes(data).replace(b"\n", b"\r\n")


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=600))
@settings(max_examples=300, deadline=None)
def test_quoted_printable_round_trips_through_stdlib(text: str) -> None:
    encoded = quoted_printable(text)
    assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
    assert all(32 <= b < 127 or b == 9 for b in encoded.replace(b"\r\n", b""))
    decoded = quopri.decodestring(encoded).decode("utf-8").replace("\r\n", "\n")
    assert decoded == text.replace("\r\n", "\n").replace("\r", "\n")


@pytest.mark.parametrize(
    ("line", "forbidden_start"),
    [("From me", b"From "), (".", b".\r\n"), ("trailing ", None)],
)
def test_quoted_printable_protects_lines_servers_alter(line: str, forbidden_start: bytes | None) -> None:
    encoded = quoted_printable(line + "\n")
    assert not encoded.startswith(b"From ")
    assert not encoded.split(b"\r\n")[0].endswith(b" ")
    if forbidden_start:
        assert not encoded.startswith(forbidden_start)


def test_quoted_printable_never_splits_an_escape() -> None:
    text = "ä" * 100 + "\n" + "=" * 100
    encoded = quoted_printable(text)
    for line in encoded.split(b"\r\n"):
        body = line[:-1] if line.endswith(b"=") else line
        assert b"=" not in body[-2:] or body[-3:-2] == b"="
    assert quopri.decodestring(encoded).decode() .replace("\r\n", "\n") == text


def test_random_binary_stream_large_chunks() -> None:
    rng = random.Random(7)
    data = os.urandom(300_000)
    stream = Base64Stream()
    out, pos = [], 0
    while pos < len(data):
        step = rng.randint(1, 70_000)
        out.append(stream.update(memoryview(data)[pos : pos + step]))
        pos += step
    out.append(stream.finish())
    assert base64.b64decode(b"".join(out).replace(b"\r\n", b"")) == data


# --------------------------------------------------------------------------- the fast line encoder


def _stdlib_lines(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


@pytest.mark.parametrize("size", [0, 1, 56, 57, 58, FAST_MIN_BYTES - 1, FAST_MIN_BYTES, FAST_MIN_BYTES + 1, 57 * 5000 + 13])
@pytest.mark.parametrize("numpy_there", [True, False])
def test_base64_lines_equal_the_stdlib_on_both_sides_of_the_fast_path(
    size: int, numpy_there: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encoders, "numpy_loaded", lambda: numpy_there)
    data = os.urandom(size)
    assert base64_lines(data) == _stdlib_lines(data)
    assert base64_lines(memoryview(bytearray(data))) == _stdlib_lines(data)


def test_line_encoder_reuses_its_buffers_in_turn() -> None:
    encoder = LineEncoder(57 * 1000, buffers=2, fast=True)
    a, b = os.urandom(57 * 1000), os.urandom(57 * 10)
    first = encoder.encode(a)
    assert bytes(first) == _stdlib_lines(a)
    second = encoder.encode(b)
    assert bytes(second) == _stdlib_lines(b)
    assert bytes(first) == _stdlib_lines(a)  # two buffers: the first is still intact
    encoder.encode(b)  # the first buffer's turn again
    assert bytes(first[: len(second)]) == bytes(second)


@pytest.mark.parametrize("bad", [56, 58, 57 * 1001])
@pytest.mark.parametrize("fast", [True, False])
def test_line_encoder_refuses_partial_groups_and_oversize_input(bad: int, fast: bool) -> None:
    with pytest.raises(ValueError):
        LineEncoder(57 * 1000, fast=fast).encode(b"x" * bad)


@given(st.lists(st.integers(min_value=0, max_value=200_000), min_size=1, max_size=12), st.booleans())
@settings(max_examples=40, deadline=None)
def test_stream_with_line_encoder_equals_stdlib_for_any_split(cuts: list[int], fast: bool) -> None:
    data = os.urandom(sum(cuts))
    stream = Base64Stream(LineEncoder(100_000, buffers=1, fast=fast))
    out = bytearray()
    position = 0
    for cut in cuts:
        for piece in stream.update_pieces(memoryview(data)[position : position + cut]):
            out += piece  # each piece is taken before the next is made
        position += cut
    out += stream.finish()
    assert bytes(out) == _stdlib_lines(data)
