"""``smimehelper account``, ``send`` and ``outbox``: getting messages out (``export``: export_cmd.py)."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from .. import services
from ..core.errors import PassphraseError
from ..core.transport.accounts import PRESETS, make_account, preset_for
from . import exit_codes, signin_cmd
from .commands import HELP
from .output import emit_json, error, printable, say, warn
from .prompt import passphrase_from_file


def register(subparsers: argparse._SubParsersAction) -> None:
    account = subparsers.add_parser("account", help=HELP["account"])
    sub = account.add_subparsers(dest="account_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add or change a mail account (servers filled in for common providers)")
    add.add_argument("--email", required=True)
    add.add_argument("--smtp-host")
    add.add_argument("--smtp-port", type=int)
    add.add_argument("--security", choices=("starttls", "tls"))
    add.add_argument("--username")
    add.add_argument("--password-file", type=Path, metavar="FILE")
    add.add_argument("--cafile", type=Path, metavar="CA.pem", help="trust a private CA for the mail servers")
    add.add_argument("--imap-host")
    add.add_argument("--imap-port", type=int)
    add.add_argument("--imap-security", choices=("tls", "starttls"))
    add.add_argument("--size-limit-mb", type=float, help="the largest message the account accepts (default: the provider's, else 25)")
    signin_cmd.add_options(add)
    add.set_defaults(handler=run_account_add)
    signin_cmd.register(sub)
    lst = sub.add_parser("list", help="your accounts")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=run_account_list)
    rm = sub.add_parser("remove", help="remove an account (and its stored password)")
    rm.add_argument("email")
    rm.set_defaults(handler=run_account_remove)

    send = subparsers.add_parser("send", help=HELP["send"])
    send.add_argument("message", type=Path, metavar="MESSAGE.eml")
    send.add_argument("--account", metavar="ADDR")
    send.add_argument("--password-file", type=Path, metavar="FILE")
    send.set_defaults(handler=run_send)

    outbox = subparsers.add_parser("outbox", help=HELP["outbox"])
    osub = outbox.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    olist = osub.add_parser("list")
    olist.add_argument("--json", action="store_true")
    olist.set_defaults(handler=run_outbox_list)
    retry = osub.add_parser("retry", help="send what is waiting now (or one message, even a failed one)")
    retry.add_argument("id", nargs="?")
    retry.add_argument("--due", action="store_true", help="only messages whose next try has come (for a timer or cron job)")
    retry.add_argument("--password-file", type=Path, metavar="FILE")
    retry.set_defaults(handler=run_outbox_retry)
    orm = osub.add_parser("remove")
    orm.add_argument("id")
    orm.set_defaults(handler=run_outbox_remove)


def password_asker(password_file: Path | None):  # type: ignore[no-untyped-def]
    def ask(account):  # type: ignore[no-untyped-def]
        if password_file is not None:
            return passphrase_from_file(password_file, "password file")
        if not sys.stdin.isatty():
            raise PassphraseError(
                f"The password for {account.username} is needed and there is no terminal to ask for "
                "it. Give it with --password-file FILE (or store it: this computer has no keyring)."
            )
        return getpass.getpass(f"Password for {account.username} at {account.smtp_host}: ").encode("utf-8") or None

    return ask


def _account_json(a) -> dict:  # type: ignore[no-untyped-def]
    return {"email": a.email, "smtp_host": a.smtp_host, "smtp_port": a.smtp_port, "security": a.security,
            "username": a.username, "imap_host": a.imap_host, "imap_port": a.imap_port,
            "imap_security": a.imap_security, "size_limit": a.size_limit, "cafile": a.cafile,
            "auth": a.auth, "oauth_provider": a.oauth_provider}


def run_account_add(args: argparse.Namespace) -> int:
    from ..core.mime.headers import parse_address

    email = parse_address(args.email).addr_spec.lower()
    account = make_account(
        email, smtp_host=args.smtp_host, smtp_port=args.smtp_port, security=args.security, username=args.username,
        cafile=str(args.cafile) if args.cafile else None, imap_host=args.imap_host, imap_port=args.imap_port,
        imap_security=args.imap_security, size_limit=int(args.size_limit_mb * 1e6) if args.size_limit_mb else None,
        **signin_cmd.account_settings(args),  # type: ignore[arg-type]
    )
    password = passphrase_from_file(args.password_file, "password file") if args.password_file else None
    stores = services.Stores.open(args.home)
    in_keyring = stores.accounts.add(account, password)
    say(f"Account {account.email}: sending via {account.smtp_host}:{account.smtp_port} ({account.security.upper()}), "
        f"at most {account.size_limit / 1e6:.0f} MB per message.")
    if account.imap_host:
        say(f"Copies to Sent via {account.imap_host}:{account.imap_port} ({account.imap_security.upper()}).")
    preset = preset_for(email, args.provider)
    if preset:
        say(f"Settings from the {preset.name} preset. {preset.note}")
    if account.uses_oauth:
        return signin_cmd.after_add(stores, account, args)
    if password and in_keyring:
        say("The password is kept in the system keyring.")
    elif password:
        warn("This computer has no secure keyring, so the password was not stored; give it with --password-file when sending.")
    return exit_codes.OK


def run_account_list(args: argparse.Namespace) -> int:
    accounts = services.Stores.open(args.home).accounts.list()
    if args.json:
        emit_json({"accounts": [_account_json(a) for a in accounts], "presets": sorted(PRESETS)})
        return exit_codes.OK
    if not accounts:
        say("No account yet. Add yours with 'smimehelper account add --email ADDR'.")
    for a in accounts:
        imap_part = f", IMAP {a.imap_host}:{a.imap_port}" if a.imap_host else ""
        login = f", signs in with {a.oauth_provider}" if a.uses_oauth else ""
        say(f"{a.email}: SMTP {a.smtp_host}:{a.smtp_port} {a.security}{imap_part}, limit {a.size_limit / 1e6:.0f} MB{login}")
    return exit_codes.OK


def run_account_remove(args: argparse.Namespace) -> int:
    account = services.Stores.open(args.home).accounts.remove(args.email)
    say(f"Removed the account {account.email}.")
    return exit_codes.OK


def report(results, *, others_busy_ok: bool = False) -> int:  # type: ignore[no-untyped-def]
    """Print each outcome; exit 4 unless every message is sent (one that another smimehelper is
    sending right now counts as done for ``outbox retry``: it is in good hands)."""
    failed = False
    for delivered in results:
        say(f"{delivered.item.id}: {printable(delivered.message)}")
        if delivered.busy and others_busy_ok:
            continue
        failed = failed or delivered.item.state != "sent"
    return exit_codes.DELIVERY_INCOMPLETE if failed else exit_codes.OK


def interrupted_while_sending() -> int:
    error("Interrupted. What was not confirmed by the mail server waits in the outbox "
          "('smimehelper outbox list'; 'smimehelper outbox retry' sends it).")
    return exit_codes.INTERRUPTED


def run_send(args: argparse.Namespace) -> int:
    stores = services.Stores.open(args.home)
    item = services.queue_message(stores, args.message, args.account)
    say(f"Queued as {item.id} for {', '.join(item.recipients)}.")
    try:
        return report(services.send_messages(stores, [item], password_asker(args.password_file), signin_cmd.interactive_sign_in()))
    except KeyboardInterrupt:
        return interrupted_while_sending()


def run_outbox_list(args: argparse.Namespace) -> int:
    items = services.Stores.open(args.home).outbox.items()
    if args.json:
        emit_json({"messages": [
            {"id": i.id, "state": i.state, "account": i.account, "recipients": list(i.recipients), "subject": i.subject,
             "size": i.size, "created": i.created, "updated": i.updated, "attempts": i.attempts,
             "last_reply": i.last_reply, "next_attempt": i.next_attempt,
             "note": i.history[-1][2] if i.history else ""} for i in items]})
        return exit_codes.OK
    if not items:
        say("The outbox is empty.")
    for i in items:
        say(f"{i.id}  {i.state:11} {printable(i.subject)[:40]:40} to {', '.join(i.recipients)}")
        if i.last_reply:
            say(f"    last reply: {printable(i.last_reply)}")
        if i.history and i.state in ("queued", "failed") and i.history[-1][2] != i.last_reply:
            say(f"    {printable(i.history[-1][2])}")
    return exit_codes.OK


def run_outbox_retry(args: argparse.Namespace) -> int:
    stores = services.Stores.open(args.home)
    ask = password_asker(args.password_file)
    try:
        if args.id:
            return report(services.send_messages(stores, [stores.outbox.get(args.id)], ask, signin_cmd.interactive_sign_in()))
        stores.outbox.recover()  # only messages whose sender is gone; others are in good hands
        waiting = [i for i in (stores.outbox.due() if args.due else stores.outbox.items()) if i.state == "queued"]
        if not waiting:
            say("Nothing is waiting to be sent.")
            return exit_codes.OK
        # Messages another smimehelper holds right now are left to it (busy_wait=0).
        return report(services.send_messages(stores, waiting, ask, signin_cmd.interactive_sign_in(), busy_wait=0, retry_failed=False), others_busy_ok=True)
    except KeyboardInterrupt:
        return interrupted_while_sending()


def run_outbox_remove(args: argparse.Namespace) -> int:
    item = services.Stores.open(args.home).outbox.remove(args.id)
    say(f"Removed {item.id} from the outbox.")
    return exit_codes.OK
