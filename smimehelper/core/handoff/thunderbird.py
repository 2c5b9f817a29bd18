"""Hand a finished S/MIME message to Thunderbird: into its Outbox, then start Thunderbird.

Why this path and no other (all measured with the real Thunderbird 153 ESR,
tests/thunderbird): a draft (an ``X-Unsent: 1`` .eml, or a message in the IMAP Drafts
folder) is *re-composed* by Thunderbird -- decrypted and sent again as a new message, in
clear when the identity has no S/MIME set up, empty when the key is missing. A message in
the Outbox is sent as it is: the same bytes reach the SMTP server and the Sent folder, with
or without S/MIME configured in Thunderbird, with or without the user's key there.

The user still decides: Thunderbird opens with the message in its Outbox, and nothing is
sent until they choose File > Send Unsent Messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InputFileError
from .launch import launch_detached, thunderbird_command
from .message import MessageFacts, check_message
from .outbox import add_maildir, append_mbox, forget_index, profile_lock, show_outbox_at_start
from .prefs import identity_for, outbox, read_prefs
from .profiles import Profile, find_profile


@dataclass(frozen=True)
class HandedOver:
    """Where the message went, for the user's report."""

    profile: Path
    outbox: Path
    store: str
    sender: str
    recipients: tuple[str, ...]
    protection: str
    outbox_shown: bool  # Thunderbird opens showing the Outbox
    started: bool  # Thunderbird was started (else the user starts it)
    pid: int | None = None


def preflight(profile_dir: Path | None = None, *, start: bool = True) -> Profile:
    """Everything that can be checked before a message exists: a profile, the program, and
    that Thunderbird is closed -- so a long compose is not wasted on a hand-off that fails."""
    profile = find_profile(profile_dir)
    if start:
        thunderbird_command(profile)
    prefs = read_prefs(profile.path)
    outbox(profile.path, prefs)
    with profile_lock(profile.path, wait=0):
        pass
    return profile


def queue_in_outbox(message: Path, profile: Profile) -> tuple[MessageFacts, bool, Path, str]:
    """Check ``message`` and put it into ``profile``'s Outbox (Thunderbird must be closed)."""
    facts = check_message(message)
    prefs = read_prefs(profile.path)
    identity = identity_for(prefs, facts.sender)
    box = outbox(profile.path, prefs)
    with profile_lock(profile.path):
        try:
            with open(message, "rb") as source:
                if box.store == "maildir":
                    entry = add_maildir(box, source, facts.size, identity, facts.newline)
                else:
                    entry = append_mbox(box, source, facts.size, identity, facts.newline)
        except OSError as exc:
            raise InputFileError(
                f"Could not put the message into Thunderbird's Outbox ({exc.strerror or exc}); nothing was changed."
            ) from None
        forget_index(box)
        shown = show_outbox_at_start(profile.path, box)
    return facts, shown, entry.path, box.store


def hand_to_thunderbird(message: Path, *, profile_dir: Path | None = None, start: bool = True) -> HandedOver:
    """The whole hand-off: find the profile (and the program), queue, start Thunderbird detached."""
    profile = find_profile(profile_dir)
    command = thunderbird_command(profile) if start else None
    facts, shown, path, store = queue_in_outbox(message, profile)
    pid = launch_detached(command) if command else None
    return HandedOver(
        profile=profile.path, outbox=path, store=store, sender=facts.sender, recipients=facts.recipients,
        protection=facts.protection, outbox_shown=shown, started=command is not None, pid=pid,
    )
