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


def open_and_look(ctx: GuiContext, request: services.OpenInput, passphrase: bytes) -> tuple[OpenedMessage, dict[int, Looked]]:
    """Open the message and look at its files (real type, thumbnail) on the task runner.

    For the thumbnails the files are written for a moment into a private folder (0700) that is
    removed before this returns; nothing of the message stays on disk. Very large messages are
    opened without it (type icons only)."""
    stores = ctx.stores()
    try:
        size = request.message.stat().st_size
    except OSError:
        size = THUMBNAIL_MESSAGE_LIMIT + 1  # let the opening say what is wrong with the file
    if size > THUMBNAIL_MESSAGE_LIMIT:
        return services.open_message_file(request, _asker(passphrase), stores=stores), {}
    with tempfile.TemporaryDirectory(prefix="smimehelper-preview-") as folder:
        opened = services.open_message_file(replace(request, save_attachments=Path(folder)), _asker(passphrase), stores=stores)
        looked = look_at_attachments(opened)
        opened = replace(opened, attachments=tuple(replace(a, saved_to=None) for a in opened.attachments))
    return opened, looked


def _asker(passphrase: bytes) -> Callable[[str], bytes]:
    def ask(_prompt: str) -> bytes:
        if not passphrase:
            raise PassphraseError("The passphrase for your certificate is needed; open the message again and give it.")
        return passphrase

    return ask
