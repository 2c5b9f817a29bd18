"""``smimehelper demo``: try the whole thing with throwaway certificates and a synthetic x-ray."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..services import demo
from . import exit_codes, open_cmd
from .commands import HELP
from .output import emit_json, human_size, say, warn


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help=HELP["demo"],
        description="Create clearly labelled throwaway demo certificates (a demo CA, a sending "
        "dentist and a receiving colleague) and a synthetic DICOM x-ray, then compose a signed "
        "and encrypted message with it and say how to open it.",
    )
    p.add_argument("--dir", type=Path, help="folder to write into (default: ./smimehelper-demo)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    directory = args.dir or demo.default_demo_directory(Path.cwd())
    result = demo.run_demo(directory)
    files = result.files
    compose = result.compose.result
    if args.json:
        emit_json(
            {
                "directory": str(files.directory),
                "message": str(files.message),
                "size": compose.size,
                "signed": compose.signed,
                "encrypted": compose.encrypted,
                "cipher": compose.cipher,
                "encrypted_to": list(compose.recipients),
                "xray": str(files.xray),
                "ca_cert": str(files.ca_cert),
                "sender_p12": str(files.sender_p12),
                "colleague_p12": str(files.colleague_p12),
                "readme": str(files.readme),
                "passphrase": demo.DEMO_PASSPHRASE,
                "opened_as_colleague": open_cmd.as_json(result.opened),
            }
        )
        return exit_codes.OK
    for text in result.compose.warnings:
        warn(text)
    say(f"Demo written to {files.directory}/ (throwaway certificates, synthetic x-ray, no patient data).")
    say(f"  {files.message.name}: signed by {demo.SENDER[1]}, encrypted ({compose.cipher}) to "
        f"{', '.join(compose.recipients)}, {human_size(compose.size)}")
    say(f"  attachment: {files.xray.name} (DICOM)")
    say("")
    say("")
    say(f"Opened again as {demo.COLLEAGUE[1]} would (smimehelper open):")
    open_cmd.show(result.opened)
    say("")
    readme = files.readme.read_text(encoding="utf-8")
    say(readme[readme.index("Open it with OpenSSL"):].rstrip())
    return exit_codes.OK
