"""``smimehelper trust``: certificate authorities you trust besides the operating system's."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import services
from ..core.certs import describe
from . import exit_codes
from .commands import HELP
from .output import emit_json, printable, say


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("trust", help=HELP["trust"])
    sub = p.add_subparsers(dest="trust_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="trust an authority (PEM, DER, or a .p7b bundle)")
    add.add_argument("file", type=Path)
    add.set_defaults(handler=run_add)
    lst = sub.add_parser("list", help="the authorities you added")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=run_list)
    rm = sub.add_parser("remove", help="stop trusting an authority")
    rm.add_argument("selector", metavar="FINGERPRINT|NAME")
    rm.set_defaults(handler=run_remove)
    revocation = sub.add_parser(
        "revocation", help="what to do when revocation cannot be checked (offline): soft = warn, strict = refuse")
    revocation.add_argument("mode", nargs="?", choices=("soft", "strict"), help="omit to show the current mode")
    revocation.set_defaults(handler=run_revocation)


def run_add(args: argparse.Namespace) -> int:
    added = services.Stores.open(args.home).trust.add(args.file)
    if not added:
        say("These authorities were already trusted.")
    for entry in added:
        say(f"Now trusting {printable(describe(entry.cert).subject)} ({entry.fingerprint[:16]}).")
    return exit_codes.OK


def run_list(args: argparse.Namespace) -> int:
    entries = services.Stores.open(args.home).trust.list()
    if args.json:
        emit_json({"authorities": [
            {"subject": describe(e.cert).subject, "fingerprint_sha256": e.fingerprint,
             "not_after": describe(e.cert).not_after.isoformat(), "added": e.added} for e in entries]})
        return exit_codes.OK
    if not entries:
        say("No authorities added; the operating system's trusted roots are used.")
    for entry in entries:
        info = describe(entry.cert)
        say(f"{entry.fingerprint[:16]}  {printable(info.subject)}  (until {info.not_after:%Y-%m-%d})")
    return exit_codes.OK


def run_remove(args: argparse.Namespace) -> int:
    entry = services.Stores.open(args.home).trust.remove(args.selector)
    say(f"No longer trusting {printable(describe(entry.cert).subject)}.")
    return exit_codes.OK


def run_revocation(args: argparse.Namespace) -> int:
    stores = services.Stores.open(args.home)
    if args.mode is not None:
        stores.settings.set("strict_revocation", args.mode == "strict")
    strict = stores.strict_revocation()
    say("Revocation checking: strict - a certificate whose revocation cannot be checked is refused."
        if strict else
        "Revocation checking: soft - when revocation cannot be checked (offline), you are warned and the certificate is used.")
    return exit_codes.OK
