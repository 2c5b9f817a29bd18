"""The work Compose hands to the task runner: build the message, queue and send it, or hand it
to Thunderbird.

Runs off the GUI thread; nothing here touches a widget.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from ... import services
from ...core.errors import UserError
from ...core.transport.accounts import Account
from ...core.transport.delivery import Delivered
from ...core.transport.outbox import OutboxItem
from ..collector import request_full_collection
from ..context import GuiContext
from ..tasks import TaskControl
from .texts import SENDING


@dataclass(frozen=True)
class SendReport:
    outcome: services.ComposeOutcome
    items: tuple[OutboxItem, ...]
    delivered: tuple[Delivered, ...]

    @property
    def all_sent(self) -> bool:
        return bool(self.delivered) and all(d.item.state == "sent" for d in self.delivered)


def compose_in_task(stores: services.Stores, request: services.ComposeInput, secret: bytes, control: TaskControl) -> services.ComposeOutcome:
    try:
        return services.compose_message(
            request, lambda _prompt: secret, stores=stores, progress=control.progress, cancelled=control.cancelled
        )
    finally:
        if request.attachments and any(Path(p).is_dir() for p in request.attachments):
            release_fileset_staging()


def release_fileset_staging() -> None:
    """pydicom's FileSet makes an (empty) staging folder in the temporary directory that goes
    only when the FileSet is garbage-collected: its instances and the set refer to each other,
    so only the cycle collector frees them. The app runs for hours; collect soon, so nothing is
    left in the temporary folder after a study archive was made. On the GUI thread (collector.py):
    a collection on this worker thread could destroy a closed widget here and crash the app."""
    request_full_collection()


def compose_and_send(
    ctx: GuiContext, request: services.ComposeInput, secret: bytes, password: bytes, account: Account, control: TaskControl
) -> SendReport:
    """Build in a private temporary folder, put into the outbox, send (on the task runner)."""
    stores = ctx.stores()
    with tempfile.TemporaryDirectory(prefix="smimehelper-") as folder:
        outcome = compose_in_task(stores, replace(request, out=Path(folder) / "message.eml"), secret, control)
        if control.cancelled():
            raise UserError("Cancelled. Nothing was sent.")
        control.progress(SENDING, SENDING)
        items = services.queue_composed(stores, outcome, account.email)
    delivered = services.send_messages(stores, items, lambda _account: password)
    return SendReport(outcome, tuple(items), tuple(delivered))


def compose_for_thunderbird(
    stores: services.Stores, request: services.ComposeInput, secret: bytes, profile: Path, control: TaskControl
) -> services.ComposedHandoff:
    """Build in a private temporary folder (gone afterwards), put into Thunderbird's Outbox,
    start Thunderbird without waiting for it (on the task runner)."""
    return services.compose_for_thunderbird(
        stores, request, lambda _prompt: secret, profile_dir=profile, progress=control.progress, cancelled=control.cancelled,
    )
