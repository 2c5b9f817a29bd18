"""``smimehelper open``: decrypt, verify every layer, show the verdict, save the attachments."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..core.display import TRUNCATED_NOTE, signature_sentence
from .. import services
from ..core.reader import OpenedMessage, SignatureVerdict
from . import exit_codes
from .commands import HELP
from .output import emit_json, human_size, printable, say
from .prompt import passphrase_asker


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "open",
        help=HELP["open"],
        description="Decrypt a message, check every signature (valid = unchanged since signing; "
        "trusted = the signer's certificate leads to an authority you trust) and list or save "
        "its attachments. Exit 0 when everything checks out, 1 when a security check failed, "
        "2 for bad input.",
    )
    p.add_argument("message", type=Path, metavar="MESSAGE.eml", help="a message (.eml), or a password package (.html)")
    p.add_argument("more_parts", nargs="*", type=Path, metavar="PART.eml", help="the other parts of a study sent in several messages: they are checked and put back together")
    p.add_argument("--key", action="append", default=[], type=Path, metavar="FILE.p12", help="your certificate with its key, to decrypt (repeat for older ones)")
    p.add_argument("--passphrase-file", type=Path, metavar="FILE", help="file holding the .p12 passphrase, or a password package's passphrase (else asked)")
    p.add_argument("--trust", action="append", default=[], type=Path, metavar="CERT", help="a certificate authority you trust (PEM, DER or .p7b; repeat)")
    p.add_argument("--save-attachments", type=Path, metavar="DIR", help="save the attachments into this folder")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..core.package.reader import is_package

    if is_package(args.message):  # a password package: --passphrase-file is the package's
        if args.more_parts:
            from ..core.errors import UserError

            raise UserError("A password package (.html) is opened on its own: give only that one file.")
        from .package_cmd import run_open

        return run_open(args)
    if args.more_parts:
        return run_parts(args)
    opened = services.open_message_file(
        services.OpenInput(
            message=args.message,
            keys=tuple(args.key),
            trust=tuple(args.trust),
            save_attachments=args.save_attachments,
        ),
        passphrase_asker(args.passphrase_file),
        stores=services.Stores.open(args.home),
    )
    if args.json:
        emit_json(as_json(opened))
        for attachment in opened.attachments:  # stdout stays the one JSON object
            if attachment.saved_to is not None:
                sys.stderr.write(f"Saved: {attachment.saved_to}\n")
    else:
        show(opened)
        from ..core.dicom.split import MANIFEST_NAME

        if any(a.filename == MANIFEST_NAME for a in opened.attachments):
            say(f"This message is one part of a study sent in several messages ({printable(opened.subject)}). "
                "Open all parts together to check and join them: smimehelper open PART1.eml PART2.eml ... --save-attachments DIR")
    return exit_codes.OK if opened.all_good else exit_codes.SECURITY_FAILED


def as_json(opened: OpenedMessage) -> dict[str, Any]:
    return {
        "from": opened.sender,
        "to": list(opened.to),
        "subject": opened.subject,
        "date": opened.date,
        "encrypted": opened.encrypted,
        "decrypted": opened.decrypted,
        "encryption": opened.encryption,
        "signatures": [
            {
                "valid": s.valid,
                "trusted": s.trusted,
                "signer_email": s.signer_email,
                "signer_subject": s.signer_subject,
                "digest": s.digest,
                "signed_at": s.signed_at.isoformat() if s.signed_at else None,
                "reason": s.reason,
            }
            for s in opened.signatures
        ],
        "body_text": opened.body_text,
        "body_truncated": opened.body_truncated,
        "sender_problem": opened.sender_problem,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size, "sha256": a.sha256}
            for a in opened.attachments
        ],
    }


def _signature_line(index: int, total: int, s: SignatureVerdict) -> str:
    return signature_sentence(index, total, s, emphasis=True)


def show(opened: OpenedMessage) -> None:
    say(f"From:    {printable(opened.sender)}")
    say(f"To:      {printable(', '.join(opened.to))}")
    say(f"Subject: {printable(opened.subject)}")
    say(f"Date:    {printable(opened.date) or '(none)'}")
    say("")
    if not opened.encrypted:
        say("Encryption: none (anyone who handled this message could read it).")
    elif opened.decrypted:
        weak = " This is an old, weak cipher: ask the sender to update their mail program." if opened.encryption_weak else ""
        say(f"Encryption: encrypted ({opened.encryption}) and decrypted with your key.{weak}")
    else:
        say(f"Encryption: encrypted, but COULD NOT BE DECRYPTED. {printable(opened.decryption_problem)}")
    if not opened.signatures:
        say("Signature: none (the sender is not proven).")
    for index, signature in enumerate(opened.signatures):
        say(_signature_line(index, len(opened.signatures), signature))
    if opened.body_text is not None:
        say("")
        say("Message text:")
        for line in printable(opened.body_text, multiline=True).rstrip("\n").split("\n"):
            say(f"  {line}")
        if opened.body_truncated:
            say(f"  [{TRUNCATED_NOTE}]")
    if opened.attachments:
        say("")
        say("Attachments:")
        for a in opened.attachments:
            saved = f" -> saved to {a.saved_to}" if a.saved_to else ""
            say(f"  {printable(a.filename)} ({printable(a.content_type)}, {human_size(a.size)}){saved}")
    say("")
    if not opened.all_good:
        say("Warning: a security check failed (see above).")
    elif not opened.encrypted and not opened.signatures:
        say("Nothing to check: this message is neither signed nor encrypted, so its sender is not proven.")
    elif not opened.signatures:
        say("Decrypted, but not signed: the sender is not proven.")
    else:
        say("Everything checks out.")


def run_parts(args: argparse.Namespace) -> int:
    """Several parts of one split study: open each, check completeness, reassemble."""
    from ..services.dicom import reassemble

    stores = services.Stores.open(args.home)
    ask = passphrase_asker(args.passphrase_file)

    def open_one(message: Path, folder: Path) -> OpenedMessage:
        return services.open_message_file(
            services.OpenInput(message=message, keys=tuple(args.key), trust=tuple(args.trust), save_attachments=folder),
            ask, stores=stores,
        )

    result = reassemble([args.message, *args.more_parts], args.save_attachments, open_one)
    if args.json:
        emit_json({"parts": result.parts, "study": result.study, "complete": True,
                   "messages": [as_json(o) for o in result.opened],  # type: ignore[arg-type]
                   "saved": [str(p) for p in result.files]})
        return exit_codes.OK
    show(result.opened[0])  # type: ignore[arg-type]
    say("")
    say(f"All {result.parts} parts are here and every file matches the sender's list.")
    if result.files:
        say(f"Saved {len(result.files)} file(s) of the study to {printable(str(args.save_attachments))}.")
    else:
        say("Give --save-attachments DIR to put the study's files back together in a folder.")
    return exit_codes.OK
