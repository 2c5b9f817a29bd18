"""``smimehelper dicom deidentify IN... -o DIR``: de-identified copies in a folder, all or nothing.

Here in core/dicom (not in services/dicom.py, which composes messages) so that the command's
process imports only what it uses: services.dicom pulls in the MIME writer and the disclosure
model (the email package), 40 ms of a run that gdcmanon finishes in about 0.25 s.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputFileError
from .annex_e import DeidOptions
from .files import dicom_files_in, os_reason, private_folder

STAGING_PREFIX = ".smimehelper-deidentify-"


@dataclass(frozen=True)
class DeidentifiedFile:
    source: Path
    output: Path


def is_dicom(path: Path) -> bool:
    """A regular file with "DICM" at offset 128 (a pipe or device is never opened)."""
    if not Path(path).is_file():
        return False
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def deidentify_to_folder(inputs: Sequence[Path], out_dir: Path, options: DeidOptions,
                         progress: Callable[[int, int], None] | None = None,
                         cancelled: Callable[[], bool] | None = None) -> list[DeidentifiedFile]:
    """De-identify every DICOM file given (folders: every DICOM file inside) into ``out_dir``.

    All or nothing: the copies are made in a hidden folder inside ``out_dir`` (on every core)
    and moved to their names only when all are done, each without ever replacing a file (a
    second run into the same folder at the same time gets an error, not a mix); a failure or
    an interruption removes every copy this run made. The copies are on disk when it returns."""
    from . import deidentify, fastdeid  # noqa: F401  (imported before the workers fork: they inherit them)
    from .decisions import DeidSession
    from .parallel import run_all

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputFileError(f"{out_dir} is a file; give a folder for the de-identified copies.")
    sources: list[Path] = []
    for path in map(Path, inputs):
        if path.is_dir():
            sources.extend(dicom_files_in(path))
        elif not path.exists():
            raise InputFileError(f"{path} does not exist.")
        elif not path.is_file():
            raise InputFileError(f"{path} is not a regular file (a device or a pipe); give DICOM files or folders.")
        elif not is_dicom(path):
            raise InputFileError(f"{path.name} is not a DICOM file.")
        else:
            sources.append(path)
    if not sources:
        raise InputFileError("There are no DICOM files to de-identify.")
    if out_dir.resolve() in _folders_of(sources):
        raise InputFileError(f"{out_dir} holds the originals; choose another folder for the de-identified copies.")
    targets = [out_dir / f"IMG{number:05d}.dcm" for number in range(1, len(sources) + 1)]
    present = set(os.listdir(out_dir)) if out_dir.is_dir() else set()
    clash = next((t for t in targets if t.name in present), None)
    if clash is not None:
        raise InputFileError(f"{clash} already exists; choose an empty folder.")
    created = not out_dir.exists()
    session = DeidSession(options)
    session.actions  # noqa: B018  (built before the workers fork: they inherit it)
    moved: list[Path] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with private_folder(out_dir, STAGING_PREFIX) as staging:  # a stale one (kill -9) is removed first
            run_all(deidentify_kept, [(s, staging / t.name, session) for s, t in zip(sources, targets)],
                    progress=progress, cancelled=cancelled)
            for target in targets:
                _move_new(staging / target.name, target)
                moved.append(target)
        os.sync()  # the copies are kept: on disk once (their writing started as each was done)
    except BaseException as exc:
        for target in moved:  # all or nothing: never a half de-identified study
            target.unlink(missing_ok=True)
        if created:
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        if isinstance(exc, OSError):
            raise InputFileError(f"Cannot write into {out_dir}: {os_reason(exc)}. No copy was kept.") from None
        raise
    return [DeidentifiedFile(s, t) for s, t in zip(sources, targets)]


def deidentify_kept(source: Path, target: Path, session: object) -> None:
    """One copy that is kept (a worker job: a module-level function; nothing to send back)."""
    from .deidentify import deidentify_file

    deidentify_file(source, target, session, write_back=True, staged=True)  # type: ignore[arg-type]


def _folders_of(sources: Sequence[Path]) -> set[Path]:
    """The real folders that hold ``sources`` (a symlinked file: where its target is)."""
    folders: dict[Path, Path] = {}
    found = set()
    for path in sources:
        if path.is_symlink():
            found.add(path.resolve().parent)
            continue
        parent = path.parent
        if parent not in folders:
            folders[parent] = parent.resolve()
        found.add(folders[parent])
    return found


def _move_new(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target`` but never over an existing file (a hard link fails if the
    name is taken; file systems without hard links, e.g. FAT on a USB stick, check first)."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise InputFileError(f"{target} already exists (is another de-identification writing into "
                             f"{target.parent}?); choose an empty folder.") from None
    except OSError:
        if target.exists():
            raise InputFileError(f"{target} already exists; choose an empty folder.") from None
        os.rename(source, target)
        return
    source.unlink()
