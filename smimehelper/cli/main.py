"""Entry point: ``smimehelper COMMAND ...``.

Errors become one plain sentence on stderr and an exit code (0 ok, 1 a security verdict failed,
2 bad input); a traceback appears only with ``--debug``.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from .. import __version__
from ..core.errors import SecurityVerdictError, UserError
from pathlib import Path

from . import compose_cmd, contacts_cmd, delivery_cmd, demo_cmd, exit_codes, identity_cmd, open_cmd, trust_cmd
from .output import error


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own usage errors: exit 2 as documented
        self.print_usage(sys.stderr)
        error(f"{message} (see '{self.prog} --help')")
        raise SystemExit(exit_codes.BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="smimehelper",
        description="Send x-rays and patient files signed and encrypted (S/MIME).",
    )
    parser.add_argument("--version", action="version", version=f"smimehelper {__version__}")
    parser.add_argument("--debug", action="store_true", help="show technical details of errors")
    parser.add_argument("--home", type=Path, metavar="DIR", help="data folder (default: your user data folder, or $SMIMEHELPER_HOME)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    compose_cmd.register(subparsers)
    open_cmd.register(subparsers)
    identity_cmd.register(subparsers)
    contacts_cmd.register(subparsers)
    trust_cmd.register(subparsers)
    delivery_cmd.register(subparsers)
    gui = subparsers.add_parser("gui", help="start the desktop app")
    gui.add_argument("message", nargs="?", type=Path, help="a message (.eml) to open")
    gui.set_defaults(handler=lambda args: __import__("smimehelper.gui.app", fromlist=["run"]).run(args.home, args.message))
    demo_cmd.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except SecurityVerdictError as exc:
        error(str(exc))
        return exit_codes.SECURITY_FAILED
    except UserError as exc:
        error(str(exc))
        return exit_codes.BAD_INPUT
    except KeyboardInterrupt:
        error("Interrupted. Nothing was written.")
        return exit_codes.INTERRUPTED
    except Exception as exc:  # a bug: say so plainly, details only on request
        if args.debug:
            traceback.print_exc()
        error(
            f"Something went wrong inside smimehelper ({type(exc).__name__}). No file was left "
            "half-written. Run again with --debug and report the output."
        )
        return exit_codes.INTERNAL


if __name__ == "__main__":
    sys.exit(main())
