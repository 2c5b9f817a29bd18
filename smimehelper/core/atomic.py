"""Atomic, private file writes, alone or several together.

A message, an identity or a contact list is either completely written or not there at all: a
crash, a full disk or an error half-way leaves the previous file (or nothing) in place, never a
truncated one that a mail program would show as "damaged".

- The bytes go to a temporary ``.NAME.smimehelper-XXXXXXXX.part`` beside the target, fsynced,
  then renamed over it. While it is written the temporary file is locked (``flock``); one left
  behind by a hard crash (kill -9, power loss) is unlocked, so the next write into that folder
  recognises it as ours and stale, and removes it. Nothing else is ever removed: the name
  pattern, the owner and the free lock must all match.
- The target must be a regular file or not exist: a device node, FIFO, socket or folder is
  refused (as root, renaming over ``/dev/full`` would replace the device). A symbolic link to a
  regular file is written through: the link stays and its target is replaced atomically.
- :class:`AtomicBatch` writes several files that appear together or not at all (a message and
  its Bcc copies; an identity's key, record and settings): everything is written aside first,
  then renamed; if a rename fails, the ones done are undone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import InputFileError
from .files import kind_of

try:  # POSIX; elsewhere temporary files are neither locked nor cleaned up
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

PRIVATE_MODE = 0o600
TEMP_MARK = ".smimehelper-"
_STALE = re.compile(r"^\..*\.smimehelper-[a-z0-9_]{8}\.part$")
_MAX_PREFIX_NAME = 100  # keep the temporary name within NAME_MAX whatever the target's length


def problem_text(exc: OSError) -> str:
    """Why a write failed, in words (for the messages of the callers)."""
    code = exc.errno
    if code == errno.ENOSPC:
        return "the disk is full"
    if code == getattr(errno, "EDQUOT", -1):
        return "your disk quota is used up"
    if code == errno.EROFS:
        return "the folder is read-only"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if code == errno.ENOENT:
        return "the folder does not exist"
    return (exc.strerror or str(exc)).rstrip(".").lower()


def resolve_target(target: Path) -> Path:
    """The file a write to ``target`` really replaces: symbolic links followed; refused when it
    exists and is not a regular file (a device, FIFO, socket or folder)."""
    target = Path(target)
    real = Path(os.path.realpath(target)) if target.is_symlink() else target
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        return real
    except OSError:
        return real  # let the write itself report it
    if not stat.S_ISREG(mode):
        kind = kind_of(mode)
        raise InputFileError(
            f"Cannot write {target}: it is {kind}, not a file, and smimehelper writes only "
            "ordinary files. Choose a file name (for example in your Documents folder)."
        )
    return real


def remove_stale_parts(directory: Path) -> list[Path]:
    """Remove our temporary files that no writer holds any more (left by a hard crash)."""
    removed: list[Path] = []
    if fcntl is None:
        return removed
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    uid = os.getuid() if hasattr(os, "getuid") else None
    for entry in entries:
        if not _STALE.match(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode) or (uid is not None and info.st_uid != uid):
                continue
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(entry.path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass  # locked: a live writer (this or another process) is using it
        finally:
            os.close(fd)
    return removed


def _locked_temp(directory: Path, name: str) -> tuple[int, Path]:
    """A new temporary file beside the target, locked for as long as its descriptor is open."""
    for _ in range(100):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name[:_MAX_PREFIX_NAME]}{TEMP_MARK}", suffix=".part", dir=directory)
        if fcntl is None:
            return fd, Path(tmp_name)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(tmp_name).st_ino == os.fstat(fd).st_ino:
                return fd, Path(tmp_name)
        except OSError:
            pass  # taken for stale by another process in the instant before the lock
        os.close(fd)
    raise OSError(errno.EAGAIN, "no temporary file could be created")


class _Pending:
    def __init__(self, fd: int, tmp: Path, target: Path) -> None:
        self.fd = fd
        self.tmp = tmp
        self.target = target


class AtomicBatch:
    """Files that appear together or not at all. Use as a context manager: on a normal exit
    everything written with :meth:`writer` / :meth:`write` (and every :meth:`remove`) takes
    effect; on an exception nothing does."""

    def __init__(self) -> None:
        self._pending: list[_Pending] = []
        self._removals: list[Path] = []
        self._created_dirs: list[Path] = []
        self._backup_fds: list[int] = []

    def __enter__(self) -> AtomicBatch:
        return self

    def __exit__(self, kind: object, error: object, tb: object) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()

    def make_dirs(self, folder: Path, mode: int = 0o700) -> None:
        """``mkdir -p`` whose new folders are removed again if the batch is discarded."""
        missing = []
        current = Path(folder)
        while not current.exists():
            missing.append(current)
            if current.parent == current:
                break
            current = current.parent
        for path in reversed(missing):
            os.mkdir(path, mode)
            self._created_dirs.append(path)

    @contextlib.contextmanager
    def writer(self, target: Path, mode: int = PRIVATE_MODE) -> Iterator[BinaryIO]:
        """Yield a file beside ``target``; on a normal exit it is fsynced and kept aside until
        :meth:`commit`. On an exception it is removed at once."""
        real = resolve_target(Path(target))
        directory = real.parent if str(real.parent) else Path(".")
        remove_stale_parts(directory)
        fd, tmp = _locked_temp(directory, real.name)
        try:
            os.fchmod(fd, mode)
            raw = os.fdopen(fd, "wb", buffering=0, closefd=False)
            with raw:
                yield raw  # type: ignore[misc]
                raw.flush()
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.close(fd)
            raise
        self._pending.append(_Pending(fd, tmp, real))

    def write(self, target: Path, data: bytes, mode: int = PRIVATE_MODE) -> None:
        with self.writer(target, mode) as out:
            out.write(data)

    def remove(self, target: Path) -> None:
        """Remove ``target`` (if it exists) when the batch commits."""
        self._removals.append(Path(target))

    def commit(self) -> None:
        """Rename everything into place; if one step fails, undo the steps done and raise."""
        undo: list[tuple[str, Path, Path | None]] = []  # (kind, path, backup)
        backups: list[Path | None] = []
        single = len(self._pending) == 1 and not self._removals
        try:
            for item in self._pending:
                backup = None
                existed = os.path.lexists(item.target)
                if not single and existed:
                    backup = self._backup(item.target)
                    backups.append(backup)
                os.replace(item.tmp, item.target)
                undo.append(("replaced" if existed else "new", item.target, backup))
            for path in self._removals:
                if not os.path.lexists(path):
                    continue
                backup = self._backup(path)
                backups.append(backup)
                os.unlink(path)
                undo.append(("removed", path, backup))
        except BaseException:
            for kind, path, backup in reversed(undo):
                with contextlib.suppress(OSError):
                    if backup is not None:
                        os.replace(backup, path)
                    elif kind == "new":
                        os.unlink(path)
            self.discard()
            raise
        finally:
            for backup in backups:
                if backup is not None:
                    with contextlib.suppress(OSError):
                        backup.unlink()
            for fd in self._backup_fds:
                os.close(fd)
            self._backup_fds.clear()
        for directory in {item.target.parent for item in self._pending} | {p.parent for p in self._removals}:
            _fsync_directory(directory)
        for item in self._pending:
            os.close(item.fd)
        self._pending.clear()
        self._removals.clear()
        self._created_dirs.clear()

    def discard(self) -> None:
        """Remove everything written aside; the targets stay as they were."""
        for item in self._pending:
            with contextlib.suppress(OSError):
                item.tmp.unlink()
            with contextlib.suppress(OSError):
                os.close(item.fd)
        self._pending.clear()
        self._removals.clear()
        for folder in reversed(self._created_dirs):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if still empty
        self._created_dirs.clear()

    def _backup(self, path: Path) -> Path | None:
        """A second name for the current ``path`` (a hard link: no copy, no space needed),
        locked like a temporary file so that no cleanup takes it while the batch runs. None
        where the file system has no hard links (that step then cannot be undone)."""
        backup = path.with_name(f".{path.name[:_MAX_PREFIX_NAME]}{TEMP_MARK}{os.urandom(4).hex()}.part")
        try:
            os.link(path, backup)
        except OSError as exc:
            if exc.errno in (errno.EPERM, errno.EXDEV, getattr(errno, "ENOTSUP", -1), getattr(errno, "EOPNOTSUPP", -1), errno.EMLINK):
                return None
            raise
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fd = os.open(backup, os.O_RDONLY | os.O_CLOEXEC)
                self._backup_fds.append(fd)
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return backup


@contextlib.contextmanager
def atomic_writer(target: Path, mode: int = PRIVATE_MODE) -> Iterator[BinaryIO]:
    """Yield a binary file beside ``target``; on normal exit it is fsynced and renamed over it.

    The temporary file lives in the target's directory so that ``os.replace`` is a same-file-system
    rename. On any exception the temporary file is removed and the target is untouched.
    """
    with AtomicBatch() as batch:
        with batch.writer(target, mode) as raw:
            yield raw


def write_atomic(target: Path, data: bytes, mode: int = PRIVATE_MODE) -> None:
    """Write ``data`` to ``target`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(target, mode) as out:
        out.write(data)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; not all platforms allow opening a directory."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
