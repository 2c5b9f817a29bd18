"""``smimehelper package``: a password package for a recipient without a certificate.

Also the package half of ``compose --package-for-others`` and of ``open package.html``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from ..core.errors import PassphraseError, UserError
from . import exit_codes
from .commands import HELP
from .output import emit_json, human_size, printable, say, warn
from .prompt import passphrase_asker, passphrase_from_file


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "package",
        help=HELP["package"],
        description="Encrypt a letter and files into one .html file that the recipient opens in any web "
        "browser with a passphrase, offline, with nothing to install: for colleagues who have no e-mail "
        "certificate. The passphrase (six random words unless you give one) is shown once: tell it to the "
        "recipient by phone or text message, never by e-mail. With --send the package goes out in a "
        "signed mail that names no patient data.",
    )
    p.add_argument("--to", required=True, metavar="ADDR", help="the recipient (one; each recipient gets their own package)")
    p.add_argument("--subject", required=True, metavar="TEXT", help="subject, shown inside the package only")
    body = p.add_mutually_exclusive_group(required=True)
    body.add_argument("--body", metavar="TEXT", help="message text (inside the package)")
    body.add_argument("--body-file", type=Path, metavar="FILE", help="message text from a UTF-8 file")
    p.add_argument("--attach", action="append", default=[], type=Path, metavar="FILE", help="file to put in the package (repeat)")
    p.add_argument("--passphrase-file", type=Path, metavar="FILE", help="your own passphrase for the package (must be strong); default: six random words")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--output", type=Path, metavar="OUT.html", help="write the package to this file (to hand over any way you like)")
    where.add_argument("--send", action="store_true", help="send it in a signed mail through your mail account")
    p.add_argument("--mail-out", type=Path, metavar="FILE.eml", help="with --send: also keep the signed mail here")
    p.add_argument("--from", dest="sender", metavar="ADDR", help="your address (default: your default certificate's)")
    p.add_argument("--sign-key", type=Path, metavar="FILE.p12", help="your certificate with its key, to sign the mail (default: the one you imported)")
    p.add_argument("--key-passphrase-file", type=Path, metavar="FILE", help="file holding your key's passphrase (else asked)")
    p.add_argument("--account", metavar="ADDR", help="the account to send with (default: the one for --from)")
    p.add_argument("--password-file", type=Path, metavar="FILE", help="the mail account password (else keyring or asked)")
    p.add_argument("--json", action="store_true", help="print the result as JSON (includes the passphrase)")
    p.set_defaults(handler=run)


def key_passphrase_asker(path: Path | None):  # type: ignore[no-untyped-def]
    """The signing key's passphrase: from --key-passphrase-file, else asked on a terminal."""
    asker = passphrase_asker(path)

    def ask(prompt: str) -> bytes:
        if path is None and not sys.stdin.isatty():
            raise PassphraseError(
                "Your key's passphrase is needed to sign the mail and there is no terminal to ask for it. "
                "Give it with --key-passphrase-file FILE."
            )
        return asker(prompt)

    return ask


def chosen_passphrase(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return passphrase_from_file(path).decode("utf-8")
    except UnicodeDecodeError:
        raise PassphraseError(f"The passphrase file {path} is not UTF-8 text.") from None


def _terminate_cleanly(_signum: int, _frame: object) -> None:
    """SIGTERM (logout, shutdown, kill) unwinds like Ctrl-C: the half-written package is removed."""
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    import signal

    previous = signal.signal(signal.SIGTERM, _terminate_cleanly)
    try:
        return _run(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    import tempfile

    from .. import services
    from ..services import package as package_service

    body = args.body if args.body is not None else services.read_body_file(args.body_file)
    if args.mail_out is not None and not args.send:
        raise UserError("--mail-out goes with --send (with -o only the package file is written).")
    stores = services.Stores.open(args.home)
    with tempfile.TemporaryDirectory(prefix="smimehelper-package-mail-") as scratch:
        mail_out = (args.mail_out or Path(scratch) / "package.eml") if args.send else None
        outcome = package_service.make_package(
            package_service.PackageInput(
                to=args.to, subject=args.subject, body=body, attachments=tuple(args.attach),
                passphrase=chosen_passphrase(args.passphrase_file), out=args.output, mail_out=mail_out,
                sender=args.sender, sign_key=args.sign_key,
            ),
            key_passphrase_asker(args.key_passphrase_file),
            stores=stores,
        )
        delivered = []
        if args.send:
            from .delivery_cmd import password_asker

            delivered = package_service.send_package(stores, outcome, args.account, password_asker(args.password_file))
    report(outcome, delivered, as_json=args.json, kept_mail=args.mail_out)
    if any(d.item.state != "sent" for d in delivered):
        return exit_codes.DELIVERY_INCOMPLETE
    return exit_codes.OK


def outcome_json(outcome: Any, delivered: list[Any], kept_mail: Path | None) -> dict[str, Any]:
    return {
        "recipient": outcome.recipient,
        "method": outcome.disclosure.method,
        "package": str(outcome.package) if outcome.mail is None or kept_mail is None or outcome.package != outcome.mail else None,
        "package_size": outcome.package_size,
        "passphrase": outcome.passphrase,
        "passphrase_generated": outcome.passphrase_generated,
        "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in outcome.disclosure.files],
        "mail": str(kept_mail) if kept_mail else None,
        "mail_size": outcome.mail_size or None,
        "message_id": outcome.message_id,
        "warnings": list(outcome.warnings),
        "sent": [{"id": d.item.id, "state": d.item.state, "message": d.message} for d in delivered],
    }


def report(outcome: Any, delivered: list[Any], *, as_json: bool, kept_mail: Path | None) -> None:
    if as_json:
        emit_json(outcome_json(outcome, delivered, kept_mail))
        return
    for text in outcome.warnings:
        warn(text)
    count = len(outcome.disclosure.files)
    files = "1 file" if count == 1 else f"{count} files"
    if outcome.mail is None:
        say(f"Wrote {outcome.package} ({human_size(outcome.package_size)}): your message and {files}, encrypted for {printable(outcome.recipient)}.")
    else:
        say(f"Password package for {printable(outcome.recipient)}: your message and {files} ({human_size(outcome.package_size)}), in a signed mail ({human_size(outcome.mail_size)}).")
        if kept_mail:
            say(f"The mail is also in {kept_mail}.")
    for d in delivered:
        say(f"{d.item.id}: {d.message}")
    if outcome.passphrase_generated:
        say("")
        say(f"Passphrase for {printable(outcome.recipient)} (tell it by phone or text message, never by e-mail):")
        say("")
        say(f"    {outcome.passphrase}")
        say("")
        say("It is shown only now and is not stored anywhere.")
    else:
        say("Encrypted with your passphrase; tell it to the recipient by phone or text message, never by e-mail.")


def ask_package_passphrase(path: Path | None) -> str:
    """For ``open package.html``: from the file, else asked on the terminal."""
    if path is not None:
        return chosen_passphrase(path) or ""
    if not sys.stdin.isatty():
        raise PassphraseError("This package needs its passphrase and there is no terminal to ask for it. Give it with --passphrase-file FILE.")
    try:
        return getpass.getpass("Passphrase of the package: ")
    except EOFError:
        raise PassphraseError("No passphrase was entered.") from None


def run_open(args: argparse.Namespace) -> int:
    """``smimehelper open package.html [--passphrase-file F] [--save-attachments DIR] [--json]``."""
    from ..core.package.reader import open_package

    opened = open_package(args.message, ask_package_passphrase(args.passphrase_file), args.save_attachments)
    if args.json:
        emit_json({
            "kind": "password package",
            "from": opened.sender,
            "created": opened.created,
            "subject": opened.subject,
            "body_text": opened.message,
            "decrypted": True,
            "attachments": [{"filename": f.name, "content_type": f.content_type, "size": f.size, "sha256": f.sha256,
                             "saved_to": str(f.saved_to) if f.saved_to else None} for f in opened.files],
        })
        return exit_codes.OK
    say("Password package (decrypted with its passphrase).")
    say(f"From:    {printable(opened.sender)} (as written in the package; the signed mail it came in shows whether that is proven)")
    say(f"Date:    {printable(opened.created)}")
    say(f"Subject: {printable(opened.subject)}")
    say("")
    say("Message text:")
    for line in printable(opened.message, multiline=True).rstrip("\n").split("\n"):
        say(f"  {line}")
    if opened.files:
        say("")
        say("Files:")
        for f in opened.files:
            saved = f" -> saved to {f.saved_to}" if f.saved_to else ""
            say(f"  {printable(f.name)} ({printable(f.content_type)}, {human_size(f.size)}){saved}")
    say("")
    say("Every part is intact (each chunk authenticated).")
    return exit_codes.OK


def split_for_packages(args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """compose --package-for-others: (To, Cc, Bcc with a usable certificate), the others."""
    from .. import services
    from ..services.package import split_by_certificate

    stores = services.Stores.open(args.home)
    certs = tuple(args.recipient_cert)
    to, to_missing = split_by_certificate(stores, tuple(args.to), certs)
    cc, cc_missing = split_by_certificate(stores, tuple(args.cc), certs)
    bcc, bcc_missing = split_by_certificate(stores, tuple(args.bcc), certs)
    if not to and cc:  # a message needs a To: the first Cc with a certificate moves up
        to, cc = cc[:1], cc[1:]
    others = tuple(dict.fromkeys((*to_missing, *cc_missing, *bcc_missing)))
    return to, cc, bcc, others


def run_packages(args: argparse.Namespace, body: str, others: tuple[str, ...], composed: Any, delivered: list[Any]) -> int:
    """The package half of compose --package-for-others: one package mail per recipient in
    ``others``, beside ``-o OUT.eml`` as OUT.package-N.html and OUT.package-N.eml."""
    from .. import services
    from ..services import package as package_service
    from .compose_cmd import composed_json, show_composed

    stores = services.Stores.open(args.home)
    ask_key = passphrase_asker(args.passphrase_file)
    out: Path = args.output
    results = []
    for index, address in enumerate(others, start=1):
        stem = f"{out.stem}.package-{index}"
        outcome = package_service.make_package(
            package_service.PackageInput(
                to=address, subject=args.subject, body=body, attachments=tuple(args.attach),
                out=out.with_name(f"{stem}.html"), mail_out=out.with_name(f"{stem}.eml"), sender=args.sender, sign_key=args.sign_key,
            ),
            ask_key,
            stores=stores,
        )
        sent = []
        if args.send:
            from .delivery_cmd import password_asker

            sent = package_service.send_package(stores, outcome, args.account, password_asker(args.password_file))
        results.append((outcome, sent))
    if args.json:
        payload: dict[str, Any] = composed_json(composed, delivered) if composed is not None else {"path": None, "sent": []}
        payload["packages"] = [outcome_json(o, s, o.mail) for o, s in results]
        emit_json(payload)
    else:
        if composed is not None:
            show_composed(composed, delivered)
            say("")
        for outcome, sent in results:
            say(f"No usable certificate for {printable(outcome.recipient)}: they get a password package.")
            report(outcome, sent, as_json=False, kept_mail=outcome.mail)
            say("")
    every = [*delivered, *(d for _, s in results for d in s)]
    if any(d.item.state != "sent" for d in every):
        return exit_codes.DELIVERY_INCOMPLETE
    return exit_codes.OK
