"""``smimehelper export``: put a finished message into Thunderbird's Outbox and start Thunderbird.

The old ``--to-draft`` / ``--imap-drafts`` hand-offs are gone (issue 10): the real Thunderbird
re-composes drafts and sent them in clear or empty. They are still parsed, only to say so.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import exit_codes
from .commands import HELP
from .output import emit_json, error, printable, say

REMOVED = (
    "{option} was removed: mail programs re-compose a draft, and Thunderbird then sent the content "
    "unencrypted (or an empty message). Use 'smimehelper export MESSAGE.eml' (Thunderbird's Outbox, "
    "sent unchanged) or 'smimehelper send MESSAGE.eml'."
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help=HELP["export"],
        description=(
            "Put a finished message into Thunderbird's Outbox, unchanged, and start Thunderbird. Nothing "
            "is sent until you choose File > Send Unsent Messages there; Thunderbird then sends exactly "
            "these bytes through your account and keeps them in your Sent folder. Thunderbird must be "
            "closed while the message is put in."
        ),
    )
    p.add_argument("message", type=Path, metavar="MESSAGE.eml")
    p.add_argument("--thunderbird-profile", type=Path, metavar="FOLDER",
                   help="the Thunderbird profile folder (default: the one Thunderbird opens)")
    p.add_argument("--no-start", action="store_true", help="only put it into the Outbox; do not start Thunderbird")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--to-draft", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--imap-drafts", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--open", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    for option, given in (("--to-draft", args.to_draft is not None), ("--imap-drafts", args.imap_drafts), ("--open", args.open)):
        if given:
            error(REMOVED.format(option=option))
            return exit_codes.BAD_INPUT
    from ..services.handoff import open_in_thunderbird
    from ..services.stores import Stores

    report = open_in_thunderbird(args.message, profile_dir=args.thunderbird_profile, start=not args.no_start,
                                 stores=Stores.open(args.home))
    handed = report.handed
    if args.json:
        emit_json({
            "mail_program": "thunderbird", "profile": str(handed.profile), "outbox": str(handed.outbox),
            "store": handed.store, "sender": handed.sender, "recipients": list(handed.recipients),
            "protection": handed.protection, "started": handed.started, "outbox_shown": handed.outbox_shown,
            "message": list(report.lines),
        })
    else:
        for line in report.lines:
            say(printable(line))
    return exit_codes.OK
