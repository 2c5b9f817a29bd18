"""``smimehelper contacts``: colleagues' certificates, from files or from their signed mail."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import services
from ..core.certs import describe
from ..core.cms.capabilities import parse_capabilities
from . import exit_codes
from .commands import HELP
from .output import emit_json, print_or_write, printable, say
from .prompt import passphrase_asker


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("contacts", help=HELP["contacts"])
    sub = p.add_subparsers(dest="contacts_command", metavar="ACTION", required=True)

    imp = sub.add_parser("import", help="add certificates (.pem .cer .crt .der .p7b .p7c) or the signer of signed mail (.eml)")
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    imp.add_argument("--passphrase-file", type=Path, metavar="FILE", help="to open encrypted .eml files")
    imp.set_defaults(handler=run_import)

    lst = sub.add_parser("list", help="list contacts with the status of each certificate")
    lst.add_argument("--json", action="store_true")
    lst.add_argument("--offline", action="store_true", help="do not fetch revocation information")
    lst.set_defaults(handler=run_list)

    show = sub.add_parser("show", help="the certificates of one address")
    show.add_argument("address")
    show.add_argument("--json", action="store_true")
    show.add_argument("--offline", action="store_true", help="do not fetch revocation information")
    show.set_defaults(handler=run_show)

    rm = sub.add_parser("remove", help="forget an address (or one of its certificates)")
    rm.add_argument("address")
    rm.add_argument("--fingerprint", help="remove only this certificate")
    rm.set_defaults(handler=run_remove)

    export = sub.add_parser("export", help="write the certificates of an address (PEM)")
    export.add_argument("address")
    export.add_argument("-o", "--output", type=Path, metavar="FILE.pem")
    export.set_defaults(handler=run_export)


def _row_json(row: services.ContactRow) -> dict:
    info = describe(row.entry.cert)
    return {
        "email": row.entry.email,
        "name": info.display_name,
        "status": row.status.status.value,
        "reason": row.status.reason,
        "not_before": info.not_before.isoformat(),
        "not_after": info.not_after.isoformat(),
        "fingerprint_sha256": row.entry.fingerprint,
        "issuer": info.issuer,
        "source": row.entry.source,
        "signing_time": row.entry.signing_time.isoformat() if row.entry.signing_time else None,
        "capabilities": sorted(parse_capabilities(row.entry.capabilities)),
    }


def run_import(args: argparse.Namespace) -> int:
    stores = services.Stores.open(args.home)
    added = services.import_contacts(stores, tuple(args.files), passphrase_asker(args.passphrase_file))
    if not added:
        say("Nothing new: these certificates were already among your contacts.")
    for entry in added:
        info = describe(entry.cert)
        say(f"Added {printable(entry.email)} ({printable(info.display_name)}, valid until {info.not_after:%Y-%m-%d}).")
    return exit_codes.OK


def run_list(args: argparse.Namespace) -> int:
    stores = services.Stores.open(args.home)
    rows = services.list_contacts(stores, fetch=not args.offline)
    if args.json:
        emit_json({"contacts": [_row_json(r) for r in rows]})
        return exit_codes.OK
    if not rows:
        say("No contacts yet. Add a colleague with 'smimehelper contacts import THEIR-CERT.pem' or a signed .eml.")
    for row in rows:
        info = describe(row.entry.cert)
        say(f"{printable(row.entry.email):32} {printable(info.display_name)[:26]:26} {row.status.status.value:18} "
            f"{info.not_before:%Y-%m-%d} {info.not_after:%Y-%m-%d} {row.entry.fingerprint[:16]}")
        if row.status.reason:
            say(f"    {printable(row.status.reason)}")
    return exit_codes.OK


def run_show(args: argparse.Namespace) -> int:
    stores = services.Stores.open(args.home)
    rows = services.list_contacts(stores, fetch=not args.offline, address=args.address.lower())
    if not rows:
        from ..core.errors import AddressError

        raise AddressError(f"There is no contact certificate for {args.address}.")
    if args.json:
        emit_json({"certificates": [_row_json(r) for r in rows]})
        return exit_codes.OK
    for row in rows:
        info = describe(row.entry.cert)
        say(f"{printable(row.entry.email)}: {printable(info.display_name)}")
        say(f"  Status:      {row.status.status.value}{' - ' + printable(row.status.reason) if row.status.reason else ''}")
        say(f"  Valid:       {info.not_before:%Y-%m-%d} to {info.not_after:%Y-%m-%d}")
        say(f"  Issuer:      {printable(info.issuer)}")
        say(f"  Key:         {info.key_type}; {', '.join(info.key_usage) or 'unrestricted'}")
        say(f"  Fingerprint: {row.entry.fingerprint}")
        say(f"  From:        {printable(row.entry.source)}")
    return exit_codes.OK


def run_remove(args: argparse.Namespace) -> int:
    count = services.Stores.open(args.home).contacts.remove(args.address, args.fingerprint)
    say(f"Removed {count} certificate{'s' if count != 1 else ''} of {args.address}.")
    return exit_codes.OK


def run_export(args: argparse.Namespace) -> int:
    pem = services.Stores.open(args.home).contacts.export(args.address)
    print_or_write(pem, args.output, f"Wrote the certificates of {args.address} to {args.output}.")
    return exit_codes.OK
