"""The work Open hands to the task runner for a study sent in several messages: open every part,
check them together (``services.reassemble``: decryption, signature, one signer, one send,
every file's SHA-256 against the sender's list), list the study, and save it.

Runs off the GUI thread; nothing here touches a widget. The decrypted files exist only in the
private folder ``services.reassemble`` makes and always removes; thumbnails are kept as QImages.
Progress: ``progress(parts opened, parts)`` while opening, ``progress(-files written, files)``
while saving. Cancel is honoured between parts and between files (nothing is kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .. import services
from .open_attachments import Looked
from .open_work import _asker

if TYPE_CHECKING:
    from ..core.reader import OpenedMessage, ReceivedAttachment
    from .context import GuiContext
    from .tasks import TaskControl

STUDY_THUMBNAILS = 48
"""Thumbnails for at most this many files of a study (a CBCT has hundreds of slices)."""


@dataclass(frozen=True)
class StudyFile:
    """One file of the study: where it is (which part, which attachment there) and what it is."""

    shown: ReceivedAttachment  # as listed in its part (saved_to is None)
    part: int
    message: Path
    index: int  # in that part's attachments

    @property
    def filename(self) -> str:
        return self.shown.filename


@dataclass(frozen=True)
class OpenedStudy:
    messages: tuple[Path, ...]  # the parts, in part order
    first: OpenedMessage  # part 1: its verdict, headers and text are shown
    parts: int
    study: dict[str, str]
    files: tuple[StudyFile, ...]
    looked: dict[int, Looked] = field(default_factory=dict)  # by row of ``files``


def open_study(ctx: GuiContext, messages: Sequence[Path], passphrase: bytes, control: TaskControl) -> OpenedStudy:
    """Open and check every part; raises PartsMissing naming the missing parts (nothing kept)."""
    from ..core.dicom.split import MANIFEST_NAME

    stores = ctx.stores()
    paths = [Path(m) for m in messages]
    where: dict[int, Path] = {}
    looked: dict[int, dict[int, Looked]] = {}
    budget = [STUDY_THUMBNAILS]

    def open_one(message: Path, folder: Path) -> OpenedMessage:
        opened = services.open_message_file(services.OpenInput(message=message, save_attachments=folder),
                                            _asker(passphrase), stores=stores)
        where[id(opened)] = message
        looked[id(opened)] = _look(opened, budget)
        control.progress(len(where), len(paths))
        return opened

    result = services.reassemble(paths, None, open_one, cancelled=control.cancelled)
    files: list[StudyFile] = []
    thumbnails: dict[int, Looked] = {}
    for number, opened in enumerate(result.opened, start=1):
        seen = looked.get(id(opened), {})
        for index, attachment in enumerate(opened.attachments):  # type: ignore[attr-defined]
            if attachment.filename == MANIFEST_NAME:
                continue
            if index in seen:
                thumbnails[len(files)] = seen[index]
            files.append(StudyFile(replace(attachment, saved_to=None), number, where[id(opened)], index))
    ordered = tuple(where[id(o)] for o in result.opened)
    first = result.opened[0]
    first = replace(first, attachments=tuple(replace(a, saved_to=None) for a in first.attachments))  # type: ignore[type-var]
    return OpenedStudy(ordered, first, result.parts, result.study, tuple(files), thumbnails)  # type: ignore[arg-type]


def save_study(ctx: GuiContext, messages: Sequence[Path], passphrase: bytes, folder: Path, control: TaskControl) -> list[Path]:
    """Open every part again, check it all, then write the study's files into ``folder`` (all
    or nothing: a cancel or a failure keeps none of them)."""
    stores = ctx.stores()
    paths = [Path(m) for m in messages]
    opened_count = [0]

    def open_one(message: Path, scratch: Path) -> OpenedMessage:
        opened = services.open_message_file(services.OpenInput(message=message, save_attachments=scratch),
                                            _asker(passphrase), stores=stores)
        opened_count[0] += 1
        control.progress(opened_count[0], len(paths))
        return opened

    result = services.reassemble(paths, Path(folder), open_one, cancelled=control.cancelled,
                                 progress=lambda done, total: control.progress(-done, total))
    return list(result.files)


def _look(opened: OpenedMessage, budget: list[int]) -> dict[int, Looked]:
    """Type and thumbnail of the saved attachments while they exist, at most ``budget[0]`` more."""
    from ..core.mime.sniff import sniff_file
    from .open_attachments import THUMBNAIL_SIDE
    from .thumbnails import DICOM, thumbnail

    found: dict[int, Looked] = {}
    for index, attachment in enumerate(opened.attachments):
        if attachment.saved_to is None:
            continue
        try:
            kind = sniff_file(attachment.saved_to)
        except OSError:
            continue
        declared = attachment.content_type.split(";", 1)[0].strip().lower()
        kind = kind if declared in ("application/octet-stream", "") or kind == DICOM else declared
        image = None
        if budget[0] > 0:
            image = thumbnail(Path(attachment.saved_to), kind, THUMBNAIL_SIDE)
            budget[0] -= image is not None
        found[index] = Looked(kind, image)
    return found
