"""The file the reader reads while the fetch fills it: reads wait for missing bytes, a failed fetch
fails every read, nothing past the announced size is ever seen, and it is private (0600)."""

from __future__ import annotations

import io
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from smimehelper.core.errors import MessageFormatError
from smimehelper.core.growing_file import GrowingFile
from smimehelper.core.reader import open_message, open_source
from tests.core.helpers import compose
from tests.pki.make_pki import Pki


def test_reads_wait_for_the_bytes(tmp_path: Path) -> None:
    growing = GrowingFile(tmp_path, 10)
    assert stat.S_IMODE(os.stat(growing.path).st_mode) == 0o600
    assert growing.seek(0, io.SEEK_END) == 10
    growing.seek(0)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(growing.read(8)))
    reader.start()
    growing.append(b"abc")
    time.sleep(0.1)
    assert reader.is_alive() and not got  # 8 bytes asked, 3 there: still waiting
    growing.append(b"defgh")
    reader.join(2)
    assert got == [b"abcdefgh"]
    growing.append(b"ij")
    growing.finish()
    assert growing.read() == b"ij" and growing.read(5) == b""
    growing.close()


def test_a_failed_fetch_fails_the_waiting_read(tmp_path: Path) -> None:
    growing = GrowingFile(tmp_path, 100)
    growing.append(b"x" * 10)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            growing.read(50)
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    problem = MessageFormatError("the connection broke")
    growing.fail(problem)
    reader.join(2)
    assert errors == [problem]
    growing.seek(0)
    with pytest.raises(MessageFormatError):
        growing.read(5)  # the error stays, even for bytes that had arrived
    growing.close()


def test_never_more_than_announced(tmp_path: Path) -> None:
    growing = GrowingFile(tmp_path, 4)
    with pytest.raises(ValueError):
        growing.append(b"12345")
    growing.append(b"1234")
    growing.finish()
    assert growing.read(100) == b"1234"
    growing.close()


def test_reader_opens_a_message_while_it_arrives(pki: Pki, tmp_path: Path) -> None:
    """The streaming reader on a GrowingFile fed in small slices by another thread gives exactly
    the result it gives on the finished file."""
    from smimehelper.core.identity import load_pkcs12
    from smimehelper.core.certs import load_certificate

    attachment = tmp_path / "scan.bin"
    attachment.write_bytes(os.urandom(3_000_000))
    message = tmp_path / "m.eml"
    compose(pki, message, attachments=(attachment,))
    data = message.read_bytes()
    bob = load_pkcs12(pki.entity("bob").p12, pki.p12_password.encode())
    root = load_certificate(pki.root.cert_pem)
    expected = open_message(message, identities=[bob], anchors=[root], now=pki.now)

    growing = GrowingFile(tmp_path, len(data))

    def feed() -> None:
        for start in range(0, len(data), 70_001):
            growing.append(data[start:start + 70_001])
            time.sleep(0.001)
        growing.finish()

    feeder = threading.Thread(target=feed)
    feeder.start()
    got = open_source(growing, identities=[bob], anchors=[root], now=pki.now)
    feeder.join()
    growing.close()
    assert got == expected and got.decrypted and got.all_good
