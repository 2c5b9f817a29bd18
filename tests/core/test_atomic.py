from __future__ import annotations

from pathlib import Path

import pytest

from smimehelper.core.atomic import atomic_writer, write_atomic


def test_write_is_private_and_complete(tmp_path: Path) -> None:
    target = tmp_path / "out.eml"
    write_atomic(target, b"data")
    assert target.read_bytes() == b"data"
    assert target.stat().st_mode & 0o777 == 0o600
    assert list(tmp_path.iterdir()) == [target]


def test_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.eml"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_writer(target) as handle:
            handle.write(b"half")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


# --------------------------------------------------------------------------- targets that are no file

import os  # noqa: E402
import socket  # noqa: E402
import stat  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from smimehelper.core.atomic import AtomicBatch, TEMP_MARK, remove_stale_parts, resolve_target  # noqa: E402
from smimehelper.core.errors import InputFileError  # noqa: E402

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.mark.skipif(not IS_ROOT or not os.path.exists("/dev/full"), reason="replacing /dev/full needs root (the attack of the issue)")
def test_a_device_is_never_replaced() -> None:
    before = os.stat("/dev/full")
    with pytest.raises(InputFileError, match="is a device"):
        write_atomic(Path("/dev/full"), b"data")
    after = os.stat("/dev/full")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert not [p for p in os.listdir("/dev") if TEMP_MARK in p]


def test_fifo_socket_and_folder_targets_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    folder = tmp_path / "folder"
    folder.mkdir()
    try:
        for target, kind in ((fifo, "named pipe"), (sock_path, "socket"), (folder, "folder")):
            with pytest.raises(InputFileError, match=kind):
                write_atomic(target, b"data")
        assert stat.S_ISFIFO(os.stat(fifo).st_mode) and stat.S_ISSOCK(os.stat(sock_path).st_mode)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "pipe", "sock"]
    finally:
        server.close()


def test_symlink_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = real_dir / "message.eml"
    target.write_bytes(b"old")
    old_inode = target.stat().st_ino
    link = tmp_path / "link.eml"
    link.symlink_to(target)
    write_atomic(link, b"new content")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == b"new content" and link.read_bytes() == b"new content"
    assert target.stat().st_ino != old_inode  # replaced by a rename, not rewritten in place
    assert sorted(p.name for p in real_dir.iterdir()) == ["message.eml"]
    dangling = tmp_path / "dangling.eml"
    dangling.symlink_to(real_dir / "later.eml")
    write_atomic(dangling, b"x")
    assert dangling.is_symlink() and (real_dir / "later.eml").read_bytes() == b"x"


def test_symlink_to_a_device_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "null.eml"
    link.symlink_to("/dev/null")
    with pytest.raises(InputFileError, match="device"):
        resolve_target(link)


# --------------------------------------------------------------------------- stale temporary files

_HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)
"""


def test_only_our_unlocked_temporary_files_are_removed(tmp_path: Path) -> None:
    stale = tmp_path / f".OUT.eml{TEMP_MARK}abcd1234.part"  # a crashed writer's
    stale.write_bytes(b"half")
    busy = tmp_path / f".OTHER.eml{TEMP_MARK}efgh5678.part"  # a live writer's (another process)
    busy.write_bytes(b"being written")
    users = [tmp_path / ".notes.part", tmp_path / "draft.part", tmp_path / ".x.abcdefgh.part",
             tmp_path / f"visible{TEMP_MARK}abcd1234.part"]
    for path in users:
        path.write_bytes(b"mine")
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(busy)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        write_atomic(tmp_path / "new.eml", b"data")  # any write into the folder cleans up
        assert not stale.exists()
        assert busy.exists() and all(p.exists() for p in users)
    finally:
        holder.kill()
        holder.wait()
    assert remove_stale_parts(tmp_path) == [busy]  # its writer is gone now


# --------------------------------------------------------------------------- several files at once


def test_batch_appears_together_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, gone = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    first.write_bytes(b"old a")
    gone.write_bytes(b"old c")
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):  # type: ignore[no-untyped-def]
        calls.append(dst)
        if Path(dst) == second:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        with AtomicBatch() as batch:
            batch.write(first, b"new a")
            batch.write(second, b"new b")
            batch.remove(gone)
    monkeypatch.setattr(os, "replace", real_replace)
    assert first.read_bytes() == b"old a" and not second.exists() and gone.read_bytes() == b"old c"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "c.json"]
    with AtomicBatch() as batch:
        batch.write(first, b"new a")
        batch.write(second, b"new b")
        batch.remove(gone)
    assert first.read_bytes() == b"new a" and second.read_bytes() == b"new b" and not gone.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]


def test_discarded_batch_removes_the_folders_it_made(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with AtomicBatch() as batch:
            batch.make_dirs(tmp_path / "home" / "identities")
            batch.write(tmp_path / "home" / "identities" / "k.key", b"key")
            raise RuntimeError("later step failed")
    assert list(tmp_path.iterdir()) == []
