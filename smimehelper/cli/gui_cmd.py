"""``smimehelper gui [MESSAGE]``: the desktop app (PySide6 is imported only here)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .commands import HELP


def register(subparsers: argparse._SubParsersAction) -> None:
    gui = subparsers.add_parser("gui", help=HELP["gui"])
    gui.add_argument("message", nargs="?", type=Path, help="a message (.eml) to open")
    gui.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..gui.app import run as run_app

    return int(run_app(args.home, args.message) or 0)
