"""``smimehelper inbox``: the secure messages of your mailbox, opened straight from the server.

``inbox list`` shows the S/MIME messages (found by the server, nothing downloaded); ``inbox open
UID`` fetches one, decrypts and checks it exactly like ``open`` (same verdicts, same exit codes)
and marks it read on the server. ``inbox folders`` lists the mailbox's folders and picks the ones
``inbox list`` looks at.
"""

from __future__ import annotations

import argparse
import getpass
import signal
import sys
from pathlib import Path
from typing import Any

from ..core.errors import PassphraseError, UserError
from . import exit_codes
from .commands import HELP
from .output import emit_json, human_size, printable, say, warn
from .prompt import passphrase_asker, passphrase_from_file


def register(subparsers: argparse._SubParsersAction) -> None:
    inbox = subparsers.add_parser(
        "inbox", help=HELP["inbox"],
        description="Read encrypted and signed messages straight from your mailbox (IMAP, always "
        "encrypted, server certificate checked). Nothing is ever deleted or moved on the server; "
        "a message is marked as read only when you open it.",
    )
    sub = inbox.add_subparsers(dest="inbox_command", metavar="ACTION", required=True)

    def connection(p: argparse.ArgumentParser) -> None:
        p.add_argument("--account", metavar="ADDR", help="which of your accounts (default: the first)")
        p.add_argument("--password-file", type=Path, metavar="FILE", help="file holding the account password (else the keyring, else asked)")

    lst = sub.add_parser("list", help="the secure messages, newest first",
                         description="List the signed and encrypted messages of INBOX (or the folders "
                         "chosen with 'inbox folders --choose'), newest first, with the verdict of "
                         "those you opened.")
    lst.add_argument("--folder", action="append", metavar="NAME", help="look in this folder (repeat for several)")
    lst.add_argument("--limit", type=int, default=200, metavar="N", help="at most N messages per folder (default 200)")
    lst.add_argument("--json", action="store_true", help="print the list as one JSON object")
    connection(lst)
    lst.set_defaults(handler=run_list)

    opn = sub.add_parser("open", help="open one message (as 'open' does) and mark it read",
                         description="Fetch message UID (from 'inbox list'), decrypt it and check every "
                         "signature exactly like 'smimehelper open'. Exit 0 when everything checks out, "
                         "1 when a security check failed, 2 for bad input or a mail server problem.")
    opn.add_argument("uid", type=int, metavar="UID")
    opn.add_argument("--folder", default="INBOX", metavar="NAME", help="the folder it is in (default INBOX)")
    opn.add_argument("--uidvalidity", type=int, metavar="N", help="refuse if the folder was rebuilt since the list (from --json)")
    opn.add_argument("--key", action="append", default=[], type=Path, metavar="FILE.p12", help="a certificate with its key, to decrypt (besides your stored ones)")
    opn.add_argument("--passphrase-file", type=Path, metavar="FILE", help="file holding your key's passphrase (else asked)")
    opn.add_argument("--trust", action="append", default=[], type=Path, metavar="CERT", help="a certificate authority you trust (repeat)")
    opn.add_argument("--save-attachments", type=Path, metavar="DIR", help="save the attachments into this folder")
    opn.add_argument("--json", action="store_true", help="print the result as one JSON object")
    connection(opn)
    opn.set_defaults(handler=run_open)

    fld = sub.add_parser("folders", help="the folders of your mailbox; choose where 'inbox list' looks")
    fld.add_argument("--choose", action="append", metavar="NAME", help="look in this folder (repeat); replaces the earlier choice")
    fld.add_argument("--json", action="store_true")
    connection(fld)
    fld.set_defaults(handler=run_folders)


def password_asker(password_file: Path | None):  # type: ignore[no-untyped-def]
    def ask(account):  # type: ignore[no-untyped-def]
        if password_file is not None:
            return passphrase_from_file(password_file, "password file")
        if not sys.stdin.isatty():
            raise PassphraseError(
                f"The password for {account.username} is needed and there is no terminal to ask for "
                "it. Give it with --password-file FILE (or store it: this computer has no keyring)."
            )
        try:
            return getpass.getpass(f"Password for {account.username} at {account.imap_host}: ").encode("utf-8") or None
        except EOFError:
            raise PassphraseError("No password was entered.") from None

    return ask


def _sign_in():  # type: ignore[no-untyped-def]
    """An account that signs in with its provider: the browser opens when the sign-in is missing
    (only with a person at the terminal), as for 'send'."""
    from .signin_cmd import interactive_sign_in

    return interactive_sign_in()


KIND_WORDS = {"encrypted": "encrypted", "signed": "signed", "signed-or-encrypted": "signed or encrypted"}


def message_json(row: Any) -> dict[str, Any]:
    m = row.message
    return {
        "folder": m.folder, "uid": m.uid, "uidvalidity": m.uidvalidity, "kind": m.kind,
        "from": m.sender, "subject": m.subject, "date": m.date,
        "received": m.received.isoformat() if m.received else None, "size": m.size, "seen": m.seen,
        "verdict": None if row.verdict is None else
        {"level": row.verdict.level, "summary": row.verdict.summary, "opened": row.verdict.opened},
    }


def run_list(args: argparse.Namespace) -> int:
    from .. import services
    from ..services import inbox

    if args.limit < 1:
        raise UserError("--limit must be at least 1.")
    stores = services.Stores.open(args.home)
    listing = inbox.list_inbox(stores, args.account, password_asker(args.password_file),
                               folders=args.folder, limit=args.limit, sign_in=_sign_in())
    if args.json:
        emit_json({"account": listing.account, "folders": list(listing.folders), "found_by": listing.methods,
                   "messages": [message_json(r) for r in listing.rows]})
        return exit_codes.OK
    where = ", ".join(printable(f) for f in listing.folders)
    if not listing.rows:
        say(f"No signed or encrypted messages in {where} of {listing.account}.")
        return exit_codes.OK
    say(f"Secure messages in {where} of {listing.account}, newest first:")
    several = len(listing.folders) > 1
    for row in listing.rows:
        m = row.message
        when = m.received.strftime("%Y-%m-%d %H:%M") if m.received else "(no date)"
        verdict = f"opened: {row.verdict.summary}" if row.verdict else ("read" if m.seen else "new")
        folder = f"  in {printable(m.folder)}" if several else ""
        say("")
        say(f"  UID {m.uid}  {when}  {KIND_WORDS.get(m.kind, m.kind)}, {human_size(m.size)}  [{verdict}]{folder}")
        say(f"    From:    {printable(m.sender) or '(none)'}")
        say(f"    Subject: {printable(m.subject) or '(no subject)'}")
    say("")
    say("Open one with: smimehelper inbox open UID" + (" --folder NAME" if several or listing.folders != ("INBOX",) else ""))
    return exit_codes.OK


def _progress_printer():  # type: ignore[no-untyped-def]
    if not sys.stderr.isatty():
        return None
    shown = [-1]

    def progress(done: int, total: int) -> None:
        percent = int(done * 100 / total) if total else 100
        if percent != shown[0]:
            shown[0] = percent
            sys.stderr.write(f"\rFetching the message: {human_size(done)} of {human_size(total)} ({percent} %)")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    return progress


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def run_open(args: argparse.Namespace) -> int:
    from .. import services
    from ..services import inbox
    from .open_cmd import as_json, show

    previous = signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM cleans up like Ctrl-C
    try:
        result = inbox.open_inbox_message(
            services.Stores.open(args.home),
            inbox.InboxOpenInput(
                uid=args.uid, folder=args.folder, account=args.account, uidvalidity=args.uidvalidity,
                save_attachments=args.save_attachments, keys=tuple(args.key), trust=tuple(args.trust),
            ),
            password_asker(args.password_file),
            passphrase_asker(args.passphrase_file),
            progress=_progress_printer(),
            sign_in=_sign_in(),
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    opened = result.opened
    if args.json:
        payload = as_json(opened)
        payload["mailbox"] = {"account": result.account, "folder": result.ref.folder, "uid": result.ref.uid,
                              "uidvalidity": result.ref.uidvalidity, "marked_read": result.marked_read}
        emit_json(payload)
        for attachment in opened.attachments:
            if attachment.saved_to is not None:
                sys.stderr.write(f"Saved: {attachment.saved_to}\n")
    else:
        show(opened)
    if not result.marked_read:
        warn(f"The message could not be marked as read on the server: {result.mark_problem}")
    return exit_codes.OK if opened.all_good else exit_codes.SECURITY_FAILED


def run_folders(args: argparse.Namespace) -> int:
    from .. import services
    from ..services import inbox

    stores = services.Stores.open(args.home)
    account = inbox.inbox_account(stores, args.account)
    ask = password_asker(args.password_file)
    folders = inbox.server_folders(stores, args.account, ask, _sign_in())
    if args.choose:
        known = {f.name for f in folders if f.selectable}
        missing = [name for name in args.choose if name not in known]
        if missing:
            raise inbox.InboxError(f"The mailbox has no folder {printable(missing[0])!r}; 'smimehelper inbox folders' lists them.")
        inbox.choose_folders(stores, account, args.choose)
    chosen = inbox.chosen_folders(stores, account)
    if args.json:
        emit_json({"account": account.email, "chosen": chosen,
                   "folders": [{"name": f.name, "selectable": f.selectable} for f in folders]})
        return exit_codes.OK
    say(f"Folders of {account.email} (* = shown by 'inbox list'):")
    for folder in folders:
        mark = "*" if folder.name in chosen else " "
        say(f"  {mark} {printable(folder.name)}" + ("" if folder.selectable else " (holds only folders)"))
    return exit_codes.OK
