"""``smimehelper compose``: build a signed and encrypted .eml from text, files and certificates."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import services
from ..core.errors import UserError
from . import exit_codes
from .commands import HELP
from .output import emit_json, human_size, say, warn
from .prompt import passphrase_asker


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compose",
        help=HELP["compose"],
        description="Write a signed and encrypted S/MIME message that Outlook, Thunderbird and "
        "Apple Mail open without add-ons. The message is encrypted to every recipient and to you.",
    )
    p.add_argument("--from", dest="sender", metavar="ADDR", help="your address (default: your default certificate's)")
    p.add_argument("--to", action="append", required=True, metavar="ADDR", help="recipient (repeat)")
    p.add_argument("--cc", action="append", default=[], metavar="ADDR", help="copy to (repeat)")
    p.add_argument("--bcc", action="append", default=[], metavar="ADDR", help="blind copy (repeat): each gets a separately encrypted copy, never named in the headers")
    p.add_argument("--subject", required=True, metavar="TEXT", help="subject (NOT encrypted)")
    body = p.add_mutually_exclusive_group(required=True)
    body.add_argument("--body", metavar="TEXT", help="message text")
    body.add_argument("--body-file", type=Path, metavar="FILE", help="message text from a UTF-8 file")
    p.add_argument("--attach", action="append", default=[], type=Path, metavar="FILE", help="file to attach (repeat)")
    p.add_argument("--sign-key", type=Path, metavar="FILE.p12", help="your certificate with its key (default: the one you imported)")
    p.add_argument("--passphrase-file", type=Path, metavar="FILE", help="file holding the .p12 passphrase (else asked)")
    p.add_argument("--recipient-cert", action="append", default=[], type=Path, metavar="CERT", help="a recipient's certificate, PEM or DER (repeat; default: from your contacts)")
    p.add_argument("--no-sign", action="store_true", help="do not sign")
    p.add_argument("--no-encrypt", action="store_true", help="do not encrypt (signed only)")
    p.add_argument("--oaep", action="store_true", help="RSA-OAEP (SHA-256) key transport for RSA recipients")
    p.add_argument("--gcm", action="store_true", help="AES-256-GCM (AuthEnvelopedData) instead of AES-256-CBC")
    p.add_argument("-o", "--output", type=Path, metavar="OUT.eml", help="where to write the message (optional with --send: the outbox keeps it)")
    p.add_argument("--send", action="store_true", help="send it through your mail account (exit 4 if it was queued but not delivered)")
    p.add_argument("--account", metavar="ADDR", help="the account to send with (default: the one for --from)")
    p.add_argument("--password-file", type=Path, metavar="FILE", help="the mail account password (else keyring or asked)")
    p.add_argument("--package-for-others", action="store_true", help="recipients without a usable certificate each get a password package mail instead (passphrases shown once)")
    p.add_argument("--purpose", default="treatment / referral", metavar="TEXT",
                   help="why the files are disclosed, for the disclosure log (default: treatment / referral)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    dicom = p.add_argument_group("DICOM (x-rays, studies)", "A folder given with --attach becomes one study archive (a DICOM File-set with DICOMDIR, in a .zip).")
    dicom.add_argument("--deidentify", action="store_true", help="remove patient details from the DICOM files sent (DICOM PS3.15; the originals stay unchanged)")
    from .dicom_cmd import add_deid_options

    add_deid_options(dicom)
    dicom.add_argument("--compress", nargs="?", const="jpeg-ls", choices=("jpeg-ls", "jpeg2000", "rle"), metavar="METHOD",
                       help="compress uncompressed DICOM images losslessly: jpeg-ls (default), jpeg2000 or rle")
    dicom.add_argument("--split", action="store_true", help="send a study too big for one message as several messages (part 1 of N, ...)")
    dicom.add_argument("--size-limit", type=float, metavar="MB", help="largest message for --split, in MB (default: your mail account's limit, else 25)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.output is None and not args.send:
        raise UserError("Say where to write the message with -o OUT.eml, or send it with --send.")
    if args.output is None and args.package_for_others:
        raise UserError("--package-for-others needs -o OUT.eml: the password packages are written beside it.")
    stores = services.Stores.open(args.home)
    if args.send:  # before the work: an account must exist (the passphrase is not asked in vain)
        stores.accounts.get(args.account)
    body = args.body if args.body is not None else services.read_body_file(args.body_file)
    deid = _dicom_options(args)
    to, cc, bcc, others = tuple(args.to), tuple(args.cc), tuple(args.bcc), ()
    if args.package_for_others:
        from .package_cmd import split_for_packages

        to, cc, bcc, others = split_for_packages(args)
        if not to and not cc and not bcc:
            from .package_cmd import run_packages

            return run_packages(args, body, others, None, [])
    items = None
    if args.output is not None:
        outcome = _compose(args, stores, body, (to, cc, bcc), args.output, deid)
    else:
        with stores.outbox.staging() as folder:  # the outbox keeps its own copy of each message
            outcome = _compose(args, stores, body, (to, cc, bcc), folder / "message.eml", deid)
            items = services.queue_composed(stores, outcome, args.account)
    delivered = []
    if args.send:
        from .delivery_cmd import interrupted_while_sending, password_asker
        from .signin_cmd import interactive_sign_in

        if items is None:
            items = services.queue_composed(stores, outcome, args.account)
        try:
            delivered = services.send_messages(stores, items, password_asker(args.password_file), interactive_sign_in())
        except KeyboardInterrupt:
            return interrupted_while_sending()
    if others:
        from .package_cmd import run_packages

        return run_packages(args, body, others, outcome, delivered)
    kept = args.output is not None  # else the files were only staged for the outbox
    if args.json:
        emit_json(composed_json(outcome, delivered, kept=kept))
    else:
        show_composed(outcome, delivered, kept=kept)
    if any(d.item.state != "sent" for d in delivered):
        return exit_codes.DELIVERY_INCOMPLETE
    return exit_codes.OK


def _dicom_options(args: argparse.Namespace) -> object | None:
    """The de-identification options (DeidOptions) of --deidentify, after checking the DICOM
    options go together."""
    deid = None
    deid_flags = (args.keep_dates, args.shift_dates, args.keep_patient_characteristics, args.keep_device_identity,
                  args.clean_descriptors, args.keep_safe_private)
    if args.deidentify:
        from .dicom_cmd import deid_options

        deid = deid_options(args)
    elif any(deid_flags):
        raise UserError("The options --keep-dates, --shift-dates, --keep-... and --clean-descriptors go with --deidentify.")
    if args.size_limit is not None and (args.size_limit < 1 or not args.split):
        raise UserError("--size-limit needs --split and at least 1 MB.")
    if args.package_for_others and (deid is not None or args.compress or args.split):
        # A password package carries the files as the user chose them: with these options the
        # recipients without a certificate would get the originals (patient details included).
        raise UserError("--package-for-others cannot be combined with --deidentify, --compress or --split. "
                        "Make de-identified copies first ('smimehelper dicom deidentify IN -o DIR') and attach those.")
    return deid


def _compose(args: argparse.Namespace, stores: services.Stores, body: str, addresses: tuple[tuple[str, ...], ...],
             out: Path, deid: object | None = None) -> services.ComposeOutcome:
    to, cc, bcc = addresses
    return services.compose_message(
        services.ComposeInput(
            sender=args.sender,
            to=to,
            cc=cc,
            bcc=bcc,
            subject=args.subject,
            body=body,
            attachments=tuple(args.attach),
            sign_key=args.sign_key,
            recipient_certs=tuple(args.recipient_cert),
            sign=not args.no_sign,
            encrypt=not args.no_encrypt,
            oaep=args.oaep,
            gcm=args.gcm,
            out=out,
            purpose=args.purpose,
            deidentify=deid,
            compress=args.compress,
            split=args.split,
            size_limit=int(args.size_limit * 1e6) if args.size_limit else None,
        ),
        passphrase_asker(args.passphrase_file),
        stores=stores,
    )


def composed_json(outcome: services.ComposeOutcome, delivered: list, *, kept: bool = True) -> dict:  # type: ignore[type-arg]
    """``kept``: written to -o (else only the outbox has it: the paths are null)."""
    result = outcome.result
    return {
        "path": str(result.path) if kept else None,
        "size": result.size,
        "message_id": result.message_id,
        "signed": result.signed,
        "encrypted": result.encrypted,
        "cipher": result.cipher,
        "encrypted_to": list(result.recipients),
        "warnings": list(outcome.warnings),
        "bcc_copies": [{"address": c.address, "path": str(c.result.path) if kept else None} for c in outcome.bcc_copies],
        "parts": [{"path": str(r.path) if kept else None, "size": r.size} for r in outcome.parts],
        "dicom": list(outcome.notes),
        "sent": [{"id": d.item.id, "state": d.item.state, "message": d.message} for d in delivered],
    }


def show_composed(outcome: services.ComposeOutcome, delivered: list, *, kept: bool = True) -> None:  # type: ignore[type-arg]
    result = outcome.result
    for text in outcome.warnings:
        warn(text)
    for note in outcome.notes:
        say(note)
    if outcome.parts:
        for number, part in enumerate(outcome.parts, start=1):
            where = f"{part.path} " if kept else ""
            say(f"Part {number} of {len(outcome.parts)}: {where}({human_size(part.size)}).")
    elif kept:
        say(f"Wrote {result.path} ({human_size(result.size)}).")
    else:
        say(f"Built the message ({human_size(result.size)}); the outbox keeps it until it is sent.")
    if result.signed:
        say("Signed with your certificate.")
    if result.encrypted:
        say(f"Encrypted ({result.cipher}) so that only these can read it: {', '.join(result.recipients)}.")
    for copy in outcome.bcc_copies:
        where = f"{copy.result.path} " if kept else ""
        say(f"Blind copy for {copy.address}: {where}(encrypted to them and you only).")
    for d in delivered:
        say(f"{d.item.id}: {d.message}")
