"""Use case: hand a finished message to the user's mail program (today: Thunderbird's Outbox).

Shared by ``smimehelper export`` and the desktop app's "Send with Thunderbird". The message is
checked, put into Thunderbird's Outbox byte for byte and Thunderbird is started detached:
nothing here waits for it. A message composed only for the hand-off lives in a private
temporary folder that is gone when this returns -- no patient-data drafts in the data folder.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..core.errors import AddressError
from ..core.handoff.message import check_message
from ..core.handoff.thunderbird import HandedOver, hand_to_thunderbird, preflight
from .compose import ComposeInput, ComposeOutcome, compose_message
from .stores import Stores

SEND_HINT = "In Thunderbird choose File > Send Unsent Messages (or right-click Outbox > Send Unsent Messages) to send it."


@dataclass(frozen=True)
class HandoffReport:
    handed: HandedOver
    lines: tuple[str, ...]  # what to tell the user, first line the headline

    @property
    def headline(self) -> str:
        return self.lines[0]


def describe(handed: HandedOver) -> tuple[str, ...]:
    kind = "encrypted and signed" if handed.protection == "encrypted" else "signed (not encrypted)"
    to = ", ".join(handed.recipients)
    if handed.started:
        head = f"Opened in Thunderbird: the {kind} message to {to} is in its Outbox."
    else:
        head = f"The {kind} message to {to} is in Thunderbird's Outbox; start Thunderbird to send it."
    lines = [head, SEND_HINT,
             "Thunderbird sends it exactly as smimehelper wrote it and keeps the same copy in your Sent folder."]
    if not handed.outbox_shown:
        lines.append("If the Outbox looks empty, click Local Folders > Outbox once, then send.")
    return tuple(lines)


def open_in_thunderbird(message: Path, *, profile_dir: Path | None = None, start: bool = True,
                        stores: Stores | None = None) -> HandoffReport:
    """Put ``message`` into Thunderbird's Outbox and start Thunderbird (see module doc).

    With ``stores`` the hand-off is written to the disclosure log first (method "handoff"),
    after every check that can fail without touching anything -- a refused hand-off is not a
    disclosure -- and before the Outbox is changed; if the log cannot be written, nothing is
    handed over.
    """
    profile = preflight(profile_dir, start=start)
    check_message(message)
    if stores is None:
        handed = hand_to_thunderbird(message, profile_dir=profile.path, start=start)
    else:
        from . import disclosure

        record = disclosure.record_for_message(stores, message, method="handoff", via=f"Thunderbird's Outbox ({profile.path})")
        with disclosure.transfer(stores, record) as logged:
            handed = hand_to_thunderbird(message, profile_dir=profile.path, start=start)
            logged.done("handed-over", note="in Thunderbird's Outbox; it sends when the user chooses Send Unsent Messages")
    return HandoffReport(handed=handed, lines=describe(handed))


@dataclass(frozen=True)
class ComposedHandoff:
    outcome: ComposeOutcome
    report: HandoffReport


def compose_for_thunderbird(
    stores: Stores,
    request: ComposeInput,
    ask_passphrase: Callable[[str], bytes] | None,
    *,
    profile_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ComposedHandoff:
    """Compose into a private temporary folder, hand the result to Thunderbird, delete the file."""
    if request.bcc:
        raise AddressError(
            "Bcc copies can only be sent by smimehelper itself (each Bcc recipient gets a separate "
            "message, which Thunderbird would send to everyone in To). Use Send, or remove the Bcc."
        )
    with tempfile.TemporaryDirectory(prefix="smimehelper-handoff-") as folder:
        outcome = compose_message(
            replace(request, out=Path(folder) / "message.eml"), ask_passphrase, stores=stores,
            progress=progress, cancelled=cancelled,
        )
        report = open_in_thunderbird(outcome.result.path, profile_dir=profile_dir, stores=stores)
    return ComposedHandoff(outcome=outcome, report=report)
