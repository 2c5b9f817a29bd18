"""The work the Open tab hands to the task runner: open a message and look at its files.

Runs off the GUI thread; nothing here touches a widget (QImage thumbnails are made here,
QPixmaps on the GUI thread).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .. import services
from ..core.errors import PassphraseError
from .open_attachments import THUMBNAIL_MESSAGE_LIMIT, Looked, look_at_attachments

if TYPE_CHECKING:
    from ..core.reader import OpenedMessage
    from .context import GuiContext


ONE_PART = ("This message is one part of a study sent in several messages. Open all parts together: choose them "
            "all in Open message... (hold Ctrl and click each), or drop them on the window together.")


def open_and_look(ctx: GuiContext, request: services.OpenInput, passphrase: bytes) -> tuple[OpenedMessage, dict[int, Looked], str]:
    """Open the message and look at its files (real type, thumbnail) on the task runner; the
    third value says, for one part of a study sent in several messages, which part it is and
    which parts are missing ("" for any other message).

    For the thumbnails the files are written for a moment into a private folder (0700) that is
    removed before this returns; nothing of the message stays on disk. Very large messages are
    opened without it (type icons only)."""
    stores = ctx.stores()
    try:
        size = request.message.stat().st_size
    except OSError:
        size = THUMBNAIL_MESSAGE_LIMIT + 1  # let the opening say what is wrong with the file
    if size > THUMBNAIL_MESSAGE_LIMIT:
        opened = services.open_message_file(request, _asker(passphrase), stores=stores)
        return opened, {}, ONE_PART if _is_part(opened) else ""
    with tempfile.TemporaryDirectory(prefix="smimehelper-preview-") as folder:
        opened = services.open_message_file(replace(request, save_attachments=Path(folder)), _asker(passphrase), stores=stores)
        looked = look_at_attachments(opened)
        note = _part_note(opened) if opened.all_good else ""
        opened = replace(opened, attachments=tuple(replace(a, saved_to=None) for a in opened.attachments))
    return opened, looked, note


def _is_part(opened: OpenedMessage) -> bool:
    from ..services.dicom_parts import has_manifest

    return has_manifest(opened)


def _part_note(opened: OpenedMessage) -> str:
    """Which part of how many, and which are missing (the manifest read while it is on disk)."""
    if not _is_part(opened):
        return ""
    from ..core.errors import UserError

    try:
        manifest = services.manifest_of(opened)
    except UserError as exc:  # a damaged list of parts
        return f"{ONE_PART} ({exc})"
    if manifest is None:
        return ONE_PART
    return (f"{services.one_part_text(manifest)} In Open message..., hold Ctrl and click each part, or drop them "
            "on the window together.")


def _asker(passphrase: bytes) -> Callable[[str], bytes]:
    def ask(_prompt: str) -> bytes:
        if not passphrase:
            raise PassphraseError("The passphrase for your certificate is needed; open the message again and give it.")
        return passphrase

    return ask
