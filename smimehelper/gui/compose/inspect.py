"""What Compose learns about the files it is given, on the task runner (never the GUI thread):
the type by content, a thumbnail, the patient identifiers of DICOM files (for the subject
warning) and whether lossless compression could make them smaller; for a folder, the DICOM
files in it, which travel as one study (a DICOM File-set with a DICOMDIR in a ZIP, as
``compose --attach FOLDER`` sends it), and the other files that do not.

Nothing here touches a widget (QImage may be made off the GUI thread, QPixmap may not).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtGui import QImage

from ...core.mime.sniff import sniff_file
from ..thumbnails import DICOM, thumbnail
from .texts import THUMBNAIL_SIZE


@dataclass(frozen=True)
class Inspected:
    path: Path
    content_type: str
    image: QImage | None
    identifiers: tuple[str, ...]
    compressible: bool = False  # an uncompressed DICOM image "Make smaller (lossless)" would shrink


@dataclass(frozen=True)
class FolderInspected:
    """A folder: its DICOM files (with their sizes) travel as one study; ``others`` do not."""

    path: Path
    files: tuple[tuple[Path, int], ...]
    others: tuple[Path, ...]
    image: QImage | None
    identifiers: tuple[str, ...]
    compressible: tuple[Path, ...]
    problem: str = ""


def inspect_file(path: Path) -> Inspected:
    """Type, thumbnail, patient identifiers and compressibility of one file."""
    try:
        content_type = sniff_file(path)
    except OSError:
        return Inspected(path, "unreadable", None, ())
    image = thumbnail(path, content_type, THUMBNAIL_SIZE)
    identifiers: tuple[str, ...] = ()
    compressible = False
    if content_type == DICOM:
        from ...core.dicom import patient_identifiers  # pydicom: only when a DICOM file is attached
        from ...services.dicom_saving import can_compress

        identifiers = patient_identifiers(path)
        compressible = can_compress(path)
    return Inspected(path, content_type, image, identifiers, compressible)


def inspect_folder(path: Path) -> FolderInspected:
    """The DICOM files of a folder (by content, as the study archive takes them), the other
    files in it, a thumbnail of its middle image and the patients it names."""
    from ...core.dicom import patient_identifiers
    from ...core.dicom.fileset import dicom_files_in
    from ...core.errors import UserError
    from ...services.dicom_saving import can_compress

    try:
        found = dicom_files_in(path)
        files = tuple((f, f.stat().st_size) for f in found)
    except (OSError, UserError) as exc:
        return FolderInspected(path, (), (), None, (), (), f"{path.name} cannot be read ({exc}).")
    chosen = {f for f, _ in files}
    others = tuple(p for p in visible_files(path) if p not in chosen and p.name.upper() != "DICOMDIR")
    if not files:
        return FolderInspected(path, (), others, None, (), ())
    image = thumbnail(files[len(files) // 2][0], DICOM, THUMBNAIL_SIZE)
    identifiers = tuple(dict.fromkeys(t for f, _ in files for t in patient_identifiers(f)))
    compressible = tuple(f for f, _ in files if can_compress(f))
    return FolderInspected(path, files, others, image, identifiers, compressible)


def visible_files(folder: Path) -> list[Path]:
    """Every file in ``folder`` and below, hidden ones left out, sorted."""
    folder = Path(folder)
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def expand_paths(paths: Sequence[Path], problems: list[str]) -> list[Path]:
    """Files as given, and every file inside a given folder (hidden ones left out)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += visible_files(path)
        elif path.is_file():
            found.append(path)
        else:
            problems.append(f"{path.name or path} does not exist or is not a file.")
    return found
