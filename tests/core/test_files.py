"""core/files.py: only ordinary files are read, small ones with a cap; never a hang.

Every kind of non-file a user can name is tried for real: /dev/zero (never ends), a FIFO with no
writer (open() would block for ever), a folder, a listening Unix socket. Each read runs on a
thread with a deadline so that a regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smimehelper.core.certs import read_small_file
from smimehelper.core.errors import InputFileError
from smimehelper.core.files import open_regular, read_regular_file, regular_size

DEADLINE = 10.0


def within_deadline(call: Callable[[], object]) -> object:
    """Run ``call`` on a thread; fail (not hang) when it does not return in time."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed back to the test
            outcome["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(DEADLINE)
    assert not worker.is_alive(), "reading did not return: it hangs"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome.get("value")


@pytest.fixture
def specials(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """/dev/zero, a FIFO without writer, a folder and a listening socket."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    sock_path = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_path))
    server.listen(1)
    try:
        yield {"/dev/zero": Path("/dev/zero"), "fifo": fifo, "folder": folder, "socket": sock_path}
    finally:
        server.close()


KINDS = {"/dev/zero": "a device", "fifo": "a named pipe (FIFO)", "folder": "is a folder", "socket": "socket"}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_read_refuses_what_is_not_a_regular_file(specials: dict[str, Path], kind: str) -> None:
    path = specials[kind]
    with pytest.raises(InputFileError) as caught:
        within_deadline(lambda: read_regular_file(path, "certificate file", 1024))
    text = str(caught.value)
    assert str(path) in text and "certificate file" in text
    assert KINDS[kind] in text


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_open_and_size_refuse_them_too(specials: dict[str, Path], kind: str) -> None:
    for call in (lambda: open_regular(specials[kind], "attachment").close(), lambda: regular_size(specials[kind], "attachment")):
        with pytest.raises(InputFileError, match="attachment"):
            within_deadline(call)


def test_the_old_name_reads_through_the_same_helper(specials: dict[str, Path]) -> None:
    with pytest.raises(InputFileError, match="named pipe"):
        within_deadline(lambda: read_small_file(specials["fifo"], what="key file"))


def test_cap_counts_what_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.pem"
    path.write_bytes(b"x" * 2049)
    with pytest.raises(InputFileError, match="too large to be a certificate file"):
        read_regular_file(path, "certificate file", 2048)
    assert read_regular_file(path, "certificate file", 2049) == b"x" * 2049


def test_symlink_to_a_regular_file_is_read_and_to_a_fifo_refused(tmp_path: Path, specials: dict[str, Path]) -> None:
    target = tmp_path / "real.txt"
    target.write_bytes(b"hello")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    assert read_regular_file(link, "message text file", 100) == b"hello"
    bad = tmp_path / "to-fifo"
    bad.symlink_to(specials["fifo"])
    with pytest.raises(InputFileError, match="named pipe"):
        within_deadline(lambda: read_regular_file(bad, "message text file", 100))


def test_missing_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        read_regular_file(tmp_path / "nope.p12", "certificate file", 10)
