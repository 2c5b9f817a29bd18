"""Getting passphrases: from a file, or asked on the terminal; never from the command line."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from ..core.certs import read_small_file
from ..core.errors import PassphraseError
from ..services import AskPassphrase


def passphrase_from_file(path: Path, what: str = "passphrase file") -> bytes:
    """The file's content without its final line break (editors add one)."""
    data = read_small_file(path, what=what, limit=64 * 1024)
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    return data


def passphrase_asker(passphrase_file: Path | None) -> AskPassphrase:
    """A callback that reads ``passphrase_file`` or asks on the terminal when there is one."""

    def ask(prompt: str) -> bytes:
        if passphrase_file is not None:
            return passphrase_from_file(passphrase_file)
        if not sys.stdin.isatty():
            raise PassphraseError(
                "A passphrase is needed but there is no terminal to ask for it. "
                "Give it with --passphrase-file FILE."
            )
        try:
            return getpass.getpass(prompt).encode("utf-8")
        except EOFError:
            raise PassphraseError("No passphrase was entered.") from None

    return ask


def new_passphrase_asker(passphrase_file: Path | None) -> AskPassphrase:
    """For a new passphrase: read from the file, or asked twice on a terminal."""

    def ask(prompt: str) -> bytes:
        if passphrase_file is not None:
            return passphrase_from_file(passphrase_file)
        if not sys.stdin.isatty():
            raise PassphraseError(
                "This computer has no secure keyring, so a passphrase must protect your key, and "
                "there is no terminal to ask for one. Give it with --passphrase-file FILE."
            )
        first = getpass.getpass(prompt)
        if getpass.getpass("Repeat it: ") != first:
            raise PassphraseError("The two passphrases differ; nothing was stored.")
        return first.encode("utf-8")

    return ask
