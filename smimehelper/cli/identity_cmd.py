"""``smimehelper identity``: your own certificates, imported once, keys encrypted at rest."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import services
from ..core.certs import describe
from ..core.identity_store import StoredIdentity
from . import exit_codes
from .commands import HELP
from .output import emit_json, print_or_write, say, warn
from .prompt import new_passphrase_asker, passphrase_asker


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("identity", help=HELP["identity"])
    sub = p.add_subparsers(dest="identity_command", metavar="ACTION", required=True)

    imp = sub.add_parser("import", help="import your certificate (.p12/.pfx, or a PEM key with its certificate)")
    imp.add_argument("file", type=Path, metavar="FILE", help=".p12/.pfx file, or a PEM private key")
    imp.add_argument("--cert", type=Path, metavar="CERT", help="the certificate (chain) for a PEM key")
    imp.add_argument("--passphrase-file", type=Path, metavar="FILE")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(handler=run_import)

    lst = sub.add_parser("list", help="list your certificates")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=run_list)

    show = sub.add_parser("show", help="details of one certificate")
    show.add_argument("selector", nargs="?", metavar="ADDR|FINGERPRINT")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=run_show)

    rm = sub.add_parser("remove", help="remove a certificate and its key from smimehelper")
    rm.add_argument("selector", metavar="ADDR|FINGERPRINT")
    rm.set_defaults(handler=run_remove)

    default = sub.add_parser("default", help="make a certificate the one used by default")
    default.add_argument("selector", metavar="ADDR|FINGERPRINT")
    default.set_defaults(handler=run_default)

    export = sub.add_parser("export-cert", help="write your public certificate (to give to colleagues)")
    export.add_argument("selector", nargs="?", metavar="ADDR|FINGERPRINT")
    export.add_argument("-o", "--output", type=Path, metavar="FILE.pem", help="file to write (default: print)")
    export.set_defaults(handler=run_export)

    new = sub.add_parser("new", help="make a new key and a certificate request (CSR) for your provider")
    new.add_argument("--email", required=True)
    new.add_argument("--name", required=True)
    new.add_argument("--ec", action="store_true", help="EC P-256 instead of RSA 3072")
    new.add_argument("-o", "--output", type=Path, metavar="FILE.csr", help="where to write the request (default: print)")
    new.add_argument("--passphrase-file", type=Path, metavar="FILE")
    new.set_defaults(handler=run_new)

    join = sub.add_parser("import-cert", help="join the certificate your provider returned to its key")
    join.add_argument("cert", type=Path, metavar="CERT")
    join.add_argument("--passphrase-file", type=Path, metavar="FILE")
    join.set_defaults(handler=run_import_cert)


def identity_json(stored: StoredIdentity) -> dict:
    info = describe(stored.cert)
    return {
        "fingerprint_sha256": stored.fingerprint,
        "name": info.display_name,
        "emails": list(info.emails),
        "issuer": info.issuer,
        "not_before": info.not_before.isoformat(),
        "not_after": info.not_after.isoformat(),
        "key_type": info.key_type,
        "key_usage": list(info.key_usage),
        "extended_key_usage": list(info.extended_key_usage),
        "default": stored.is_default,
        "protection": stored.protection,
    }


def _describe(stored: StoredIdentity) -> None:
    info = describe(stored.cert)
    say(f"Name:        {info.display_name}")
    say(f"E-mail:      {', '.join(info.emails)}")
    say(f"Issuer:      {info.issuer}")
    say(f"Valid:       {info.not_before:%Y-%m-%d} to {info.not_after:%Y-%m-%d}")
    say(f"Key:         {info.key_type}; usage {', '.join(info.key_usage) or 'unrestricted'}; {', '.join(info.extended_key_usage) or 'any purpose'}")
    say(f"Fingerprint: {stored.fingerprint}")
    where = "a secret in the system keyring" if stored.protection == "keyring" else "your passphrase"
    say(f"Key stored:  encrypted, unlocked by {where}{'; default' if stored.is_default else ''}")


def run_import(args: argparse.Namespace) -> int:
    stores = services.Stores.open(args.home)
    ask = passphrase_asker(args.passphrase_file)
    if args.cert is not None:
        stored = stores.identities.import_pem(args.file, args.cert, ask, ask_new=new_passphrase_asker(args.passphrase_file), now=services.clock())
    else:
        stored = stores.identities.import_pkcs12(args.file, ask, ask_new=new_passphrase_asker(args.passphrase_file), now=services.clock())
    if args.json:
        emit_json(identity_json(stored))
        return exit_codes.OK
    say("Imported your certificate:")
    _describe(stored)
    notice = stored.expiry_warning(services.clock())
    if notice:
        warn(notice)
    return exit_codes.OK


def run_list(args: argparse.Namespace) -> int:
    stores = services.Stores.open(args.home)
    identities = stores.identities.list()
    if args.json:
        emit_json({"identities": [identity_json(i) for i in identities]})
        return exit_codes.OK
    if not identities:
        say("No certificate imported yet. Import yours with 'smimehelper identity import FILE.p12'.")
    now = services.clock()
    for stored in identities:
        info = describe(stored.cert)
        state = "EXPIRED" if stored.expired(now) else f"valid until {info.not_after:%Y-%m-%d}"
        say(f"{'*' if stored.is_default else ' '} {', '.join(info.emails):32} {info.display_name:28} {state:22} {stored.fingerprint[:16]}")
    return exit_codes.OK


def run_show(args: argparse.Namespace) -> int:
    stored = services.Stores.open(args.home).identities.get(args.selector)
    if args.json:
        emit_json(identity_json(stored))
    else:
        _describe(stored)
    return exit_codes.OK


def run_remove(args: argparse.Namespace) -> int:
    stored = services.Stores.open(args.home).identities.remove(args.selector)
    say(f"Removed your certificate for {', '.join(stored.emails)} and its key from smimehelper.")
    return exit_codes.OK


def run_default(args: argparse.Namespace) -> int:
    stores = services.Stores.open(args.home)
    stores.identities.set_default(args.selector)
    say(f"Default certificate: {', '.join(stores.identities.get(None).emails)}")
    return exit_codes.OK


def run_export(args: argparse.Namespace) -> int:
    pem = services.Stores.open(args.home).identities.export_certificate(args.selector)
    print_or_write(pem, args.output, f"Wrote your public certificate to {args.output}; send it to your colleagues.")
    return exit_codes.OK


def run_new(args: argparse.Namespace) -> int:
    from ..core.mime.headers import parse_address

    email = parse_address(args.email).addr_spec.lower()
    stores = services.Stores.open(args.home)
    request = stores.identities.new_request(email, args.name, args.ec, new_passphrase_asker(args.passphrase_file))
    hint = ("Send this request to your certificate provider; import the certificate they return "
            "with 'smimehelper identity import-cert CERT'.")
    print_or_write(request.csr_pem, args.output, f"Wrote the certificate request to {args.output}.")
    if args.output is None:
        sys.stderr.write(hint + "\n")  # stdout stays the bare request, for piping
    else:
        say(hint)
    return exit_codes.OK


def run_import_cert(args: argparse.Namespace) -> int:
    stored = services.Stores.open(args.home).identities.import_certificate(args.cert, passphrase_asker(args.passphrase_file), now=services.clock())
    say("Your certificate is ready:")
    _describe(stored)
    return exit_codes.OK
