"""How much smaller lossless compression makes DICOM files, measured before anything is sent.

The desktop app shows the saving of "Make smaller (lossless)" before the user sends: the only
honest figure is the one the encoder gives, so every uncompressed image is really compressed
(by the code that compresses when sending, ``core.dicom.compress``) into a private temporary
folder, its size noted and the copy removed at once. Nothing of the patient's files stays on
disk: the folder is removed when the measurement ends, is cancelled or fails, and one left by a
crash is removed the next time (``core.dicom.files.private_folder``).

Measuring does not decode the images a second time to compare them (sending does): the size
is the same either way, and a file whose check would fail is sent uncompressed, which can only
make the message larger than shown by that one file.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import UserError

MEASURE_PREFIX = "smimehelper-measure-"


class MeasureCancelled(UserError):
    """The user stopped the measurement; its copies are gone."""

    def __init__(self) -> None:
        super().__init__("Stopped measuring the saving. The files are still made smaller when sent.")


@dataclass(frozen=True)
class FileSaving:
    """One file measured: its size now and as it would be sent (equal when it stays unchanged)."""

    path: Path
    original_size: int
    size: int
    method: str | None  # None: it travels unchanged
    note: str = ""  # why it travels unchanged, or why it could not be measured
    failed: bool = False  # not measured (unreadable now, the temporary folder full...)


@dataclass(frozen=True)
class Saving:
    """The measured saving of several files."""

    files: tuple[FileSaving, ...]
    method: str

    @property
    def before(self) -> int:
        return sum(f.original_size for f in self.files)

    @property
    def after(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def compressed(self) -> int:
        return sum(1 for f in self.files if f.method is not None)

    def unchanged_reasons(self) -> dict[str, int]:
        """Why files travel unchanged: reason -> how many."""
        reasons: dict[str, int] = {}
        for f in self.files:
            if f.method is None:
                reasons[f.note or "unchanged"] = reasons.get(f.note or "unchanged", 0) + 1
        return reasons


def can_compress(path: Path) -> bool:
    """Whether ``path`` is a DICOM image that lossless compression would change: uncompressed
    (native transfer syntax), with pixels in a layout the encoders take. Reads the header only."""
    import pydicom

    from ..core.dicom.compress import _why_not as reason_to_leave  # the one rule compress_file applies

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            header = pydicom.dcmread(str(path), stop_before_pixels=True)
        return not reason_to_leave(header)
    except Exception:  # not DICOM, damaged, unreadable: it travels as it is
        return False


def measure_saving(paths: Sequence[Path], method: str | None = None, *,
                   progress: Callable[[int, int], None] | None = None,
                   cancelled: Callable[[], bool] | None = None) -> Saving:
    """Compress each of ``paths`` (DICOM files) into a private temporary folder, note the size,
    remove the copy. ``progress(files done, files)``; ``cancelled()`` is polled between files
    (then MeasureCancelled). Many files go to every core, as when sending."""
    from ..core.dicom.compress import DEFAULT_METHOD
    from ..core.dicom.files import private_folder
    from ..core.dicom.parallel import run_all

    chosen = method or DEFAULT_METHOD
    files = [Path(p) for p in paths]
    if not files:
        return Saving((), chosen)
    with private_folder(None, MEASURE_PREFIX) as scratch:
        measured = run_all(measure_one, [(p, scratch / f"{n}.dcm", chosen) for n, p in enumerate(files)],
                           progress=progress, cancelled=cancelled, on_cancel=MeasureCancelled, batch=1)
    return Saving(tuple(measured), chosen)


def measure_one(source: Path, target: Path, method: str) -> FileSaving:
    """Runs in a worker process too (hence module level): the compressed size of one file."""
    from ..core.dicom.compress import compress_file

    try:
        result = compress_file(source, target, method, verify=False)
    except UserError as exc:  # unreadable now, or the disk is full: sending says so again
        size = _size(source)
        return FileSaving(Path(source), size, size, None, str(exc), failed=True)
    finally:
        Path(target).unlink(missing_ok=True)
    return FileSaving(Path(source), result.original_size, result.size, result.method, result.note)


def _size(path: Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


__all__ = ["FileSaving", "MEASURE_PREFIX", "MeasureCancelled", "Saving", "can_compress", "measure_saving"]
