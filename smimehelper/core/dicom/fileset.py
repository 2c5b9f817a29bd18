"""A study folder as a DICOM File-set (PS3.10/PS3.11: DICOMDIR + files) in one ZIP.

A colleague's viewer imports a File-set in one go ("Import DICOMDIR"), where loose files named
by a practice program often arrive in the wrong order or not at all. pydicom's FileSet writes
the DICOMDIR (patient/study/series/image records) and names the files as PS3.10 requires (at
most 8 upper-case characters per component); the ZIP is written with no compression (DICOM
images are compressed already, or are compressed with --compress) straight from disk.
"""

from __future__ import annotations

import contextlib
import tempfile
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..atomic import atomic_writer
from ..errors import UserError
from .files import dicom_files_in, os_reason  # noqa: F401  (dicom_files_in: re-exported)


class FileSetError(UserError):
    """The files cannot be put into a DICOM File-set."""


@dataclass(frozen=True)
class FileSetResult:
    path: Path  # the ZIP
    files: int  # DICOM files in it (DICOMDIR not counted)
    size: int
    # (name in the ZIP, the file as written) of every DICOM file, when the caller kept the
    # File-set folder (``work_dir``): what the disclosure log describes
    members: tuple[tuple[str, Path], ...] = ()


def write_fileset_zip(files: Sequence[Path], target: Path, *, file_set_id: str = "STUDY",
                      work_dir: Path | None = None) -> FileSetResult:
    """Put ``files`` into a File-set with a DICOMDIR and write it as the ZIP ``target``.

    The File-set is assembled in a temporary folder, or in the empty folder ``work_dir``, which
    is then left for the caller (who removes it) with the ZIP's members in it."""
    from pydicom.fileset import FileSet

    if not files:
        raise FileSetError("There are no DICOM files to put into the study archive.")
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=False)
    with _folder(work_dir) as scratch:
        fs = FileSet()
        fs.ID = file_set_id[:16].upper()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for path in files:
                    fs.add(str(path))
                fs.write(scratch)
        except OSError as exc:
            raise FileSetError(f"Cannot write the study archive: {os_reason(exc)}.") from None
        except Exception as exc:
            if isinstance(exc, UserError):
                raise
            raise FileSetError(
                f"These files cannot be put into one DICOM study archive ({type(exc).__name__}: {str(exc)[:120]}). "
                "Attach them as single files instead."
            ) from None
        root = Path(scratch)
        written = sorted(p for p in root.rglob("*") if p.is_file())
        try:
            with atomic_writer(Path(target), 0o600) as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
                for path in written:
                    archive.write(path, path.relative_to(root).as_posix())
        except OSError as exc:
            raise FileSetError(f"Cannot write the study archive: {os_reason(exc)}.") from None
        members = tuple((p.relative_to(root).as_posix(), p) for p in written if p.name != "DICOMDIR")
    return FileSetResult(Path(target), len(written) - 1, Path(target).stat().st_size,
                         members if work_dir is not None else ())


@contextlib.contextmanager
def _folder(work_dir: Path | None) -> Iterator[str]:
    if work_dir is not None:
        yield str(work_dir)
        return
    with tempfile.TemporaryDirectory(prefix="smimehelper-fileset-") as scratch:
        yield scratch
