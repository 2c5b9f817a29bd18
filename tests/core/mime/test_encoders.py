"""Transfer encodings, judged by the standard library's independent decoders."""

from __future__ import annotations

import base64
import os
import quopri
import random

import pytest
from hypothesis import given, settings, strategies as st

from smimehelper.core.mime.encoders import Base64Stream, base64_lines, quoted_printable


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
