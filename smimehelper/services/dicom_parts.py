"""Open a study sent in several messages: put the parts back together, or say what is missing.

``smimehelper open PART...`` and the desktop app's Open (several messages chosen or dropped
together) check every part (decryption, signature, one signer, one send), name the missing
parts and verify every file's SHA-256 against the sender's manifest before a file is written.
The decrypted files wait in a private locked folder (0700) that is always removed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.dicom.files import os_reason, private_folder
from ..core.errors import InputFileError, SecurityVerdictError

if TYPE_CHECKING:
    from ..core.dicom.split import Manifest


@dataclass(frozen=True)
class Reassembled:
    opened: tuple[object, ...]  # OpenedMessage per part, in part order
    files: tuple[Path, ...]
    study: dict[str, str]
    parts: int


class ReassemblyCancelled(InputFileError):
    """The user stopped opening or saving the parts; nothing was kept."""

    def __init__(self) -> None:
        super().__init__("Cancelled. Nothing was saved.")


def has_manifest(opened: object) -> bool:
    from ..core.dicom.split import MANIFEST_NAME

    return any(a.filename == MANIFEST_NAME for a in opened.attachments)  # type: ignore[attr-defined]


def reassemble(messages: Sequence[Path], out_dir: Path | None, open_one: Callable[[Path, Path], object], *,
               cancelled: Callable[[], bool] | None = None,
               progress: Callable[[int, int], None] | None = None) -> Reassembled:
    """Open every part (``open_one(message, save_dir)``), check them against their manifest and,
    with ``out_dir``, write the study's files there. Raises PartsMissing naming missing parts.

    All or nothing: ``cancelled()`` is polled between parts and between files written (then
    ReassemblyCancelled), and a stop or failure while writing removes every file this call
    wrote into ``out_dir``. ``progress(files written, files)`` while writing."""
    from ..core.dicom.split import MANIFEST_NAME, Manifest, PartsMissing, check_parts, missing_text, sha256_file

    def check_cancel() -> None:
        if cancelled is not None and cancelled():
            raise ReassemblyCancelled()

    with private_folder(None, "smimehelper-parts-") as scratch:  # decrypted files: never left behind
        manifests, opened_by_part, saved = [], {}, {}
        signers = set()
        for index, message in enumerate(messages):
            check_cancel()
            folder = Path(scratch) / f"m{index}"
            folder.mkdir()
            opened = open_one(Path(message), folder)
            if not opened.all_good:  # type: ignore[attr-defined]
                raise SecurityVerdictError(f"{Path(message).name} did not pass the security checks; open it alone to see why. Nothing was saved.")
            manifest_att = next((a for a in opened.attachments if a.filename == MANIFEST_NAME), None)  # type: ignore[attr-defined]
            if manifest_att is None or manifest_att.saved_to is None:
                raise InputFileError(f"{Path(message).name} is not a part of a split study.")
            manifest = Manifest.parse(manifest_att.saved_to.read_bytes())
            manifests.append(manifest)
            opened_by_part.setdefault(manifest.part, opened)
            signers.add(tuple(s.signer_email for s in opened.signatures))  # type: ignore[attr-defined]
            for a in opened.attachments:  # type: ignore[attr-defined]
                if a.filename != MANIFEST_NAME and a.saved_to is not None:
                    saved.setdefault((manifest.part, a.filename), a.saved_to)
        check = check_parts(manifests)
        if check.missing:
            raise PartsMissing(missing_text(check))
        if len(signers) != 1:
            raise SecurityVerdictError("The parts were signed by different senders; nothing was saved.")
        written: list[Path] = []
        for entry in check.manifest.files:
            source = saved.get((entry.part, entry.name))
            if source is None or sha256_file(source) != entry.sha256:
                raise SecurityVerdictError(f"{entry.name} in part {entry.part} is missing or not the file the sender listed. Nothing was saved.")
        if out_dir is not None:
            out_dir = Path(out_dir)
            out_dir.mkdir(parents=True, exist_ok=True)
            clashes = [e.name for e in check.manifest.files if (out_dir / e.name).exists()]
            if clashes:
                raise InputFileError(f"{out_dir / clashes[0]} already exists; choose an empty folder.")
            try:
                for number, entry in enumerate(check.manifest.files, start=1):
                    check_cancel()
                    target = out_dir / entry.name
                    written.append(target)  # before the move: a move stopped half-way is removed too
                    shutil.move(str(saved[(entry.part, entry.name)]), target)
                    if progress is not None:
                        progress(number, len(check.manifest.files))
            except BaseException as exc:
                for target in written:
                    target.unlink(missing_ok=True)
                if isinstance(exc, OSError):
                    raise InputFileError(f"Cannot write the study into {out_dir}: {os_reason(exc)}. No file was kept.") from None
                raise
        ordered = tuple(opened_by_part[k] for k in sorted(opened_by_part))
        return Reassembled(ordered, tuple(written), check.manifest.study, check.manifest.parts)


def manifest_of(opened: object) -> Manifest | None:
    """The manifest of one opened part whose attachments were saved; None for other messages
    (or when the attachments were not saved)."""
    from ..core.dicom.split import MANIFEST_NAME, Manifest

    found = next((a for a in opened.attachments if a.filename == MANIFEST_NAME), None)  # type: ignore[attr-defined]
    if found is None or found.saved_to is None:
        return None
    return Manifest.parse(Path(found.saved_to).read_bytes())


def one_part_text(manifest: Manifest) -> str:
    """What to tell the user who opened one part alone: which part it is and which are missing."""
    from ..core.dicom.split import check_parts, missing_text

    files = sum(1 for f in manifest.files if f.part == manifest.part)
    head = (f"This message is part {manifest.part} of {manifest.parts} of a study sent in several messages "
            f"({files} of its {len(manifest.files)} files).")
    check = check_parts([manifest])
    return f"{head} {missing_text(check)}" if check.missing else head
