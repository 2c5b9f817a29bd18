"""Entry point: ``smimehelper COMMAND ...``.

Errors become one plain sentence on stderr and an exit code (0 ok, 1 a security verdict failed,
2 bad input); a traceback appears only with ``--debug``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
import traceback
from pathlib import Path

from .. import __version__
from ..core.errors import SecurityVerdictError, UserError
from . import exit_codes
from .commands import COMMANDS
from .output import error

# Options of the top-level parser that take a value (to find the command word in argv).
_VALUE_OPTIONS = ("--home",)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own usage errors: exit 2 as documented
        self.print_usage(sys.stderr)
        error(f"{message} (see '{self.prog} --help')")
        raise SystemExit(exit_codes.BAD_INPUT)


def command_word(argv: list[str]) -> str | None:
    """The command being run (the first word that is not a top-level option), if any."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word == "--":
            return None
        elif word in _VALUE_OPTIONS:
            skip = True
        elif not word.startswith("-"):
            return word
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser. Only the module of ``command`` is imported (every module with ``"*"``); the
    other commands are listed by name and help alone, so ``--help`` starts in a blink."""
    parser = _Parser(
        prog="smimehelper",
        description="Send x-rays and patient files signed and encrypted (S/MIME).",
    )
    parser.add_argument("--version", action="version", version=f"smimehelper {__version__}")
    parser.add_argument("--debug", action="store_true", help="show technical details of errors")
    parser.add_argument("--home", type=Path, metavar="DIR", help="data folder (default: your user data folder, or $SMIMEHELPER_HOME)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    loaded: set[str] = set()
    for name, (module, text) in COMMANDS.items():
        if module in loaded:
            continue
        if command == "*" or COMMANDS.get(command or "", ("",))[0] == module:
            importlib.import_module(f"{__package__}.{module}").register(subparsers)
            loaded.add(module)
        else:
            subparsers.add_parser(name, help=text, add_help=False)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (a service manager, shutdown) or SIGHUP (logout, a closed terminal) arrived:
    stopped like Ctrl-C, so every temporary file is removed on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _stop(signum: int, _frame: object) -> None:
    for number in _STOP_SIGNALS:  # a second signal must not cut the clean-up short
        signal.signal(number, signal.SIG_IGN)
    raise Terminated(signum)


@contextlib.contextmanager
def _signals_like_ctrl_c():  # type: ignore[no-untyped-def]
    """While a command runs, SIGTERM and SIGHUP raise :class:`Terminated` in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in _STOP_SIGNALS}
    try:
        for number in _STOP_SIGNALS:
            if previous[number] != signal.SIG_IGN:  # nohup: HUP stays ignored
                signal.signal(number, _stop)
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(command_word(words))
    args = parser.parse_args(words)
    with _signals_like_ctrl_c():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.handler(args))
    except Terminated as exc:
        error("Interrupted. Nothing was written.")
        return 128 + exc.signum
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
            f"Something went wrong inside smimehelper ({type(exc).__name__}). Run again with "
            "--debug and report the output."
        )
        return exit_codes.INTERNAL


def entry() -> int:
    """The console script: :func:`main`, then no final garbage collection of everything the
    command made (40 ms after a compose, benchmarks/README.md): the process ends right after."""
    code = main()
    import gc

    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(entry())
