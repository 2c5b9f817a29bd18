"""Files the user names on the command line or in the app: the message text, a certificate file."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import InputFileError, PassphraseError
from ..core.files import read_regular_file
from ..core.identity import Identity, load_pkcs12
from . import AskPassphrase

MAX_BODY_FILE_BYTES = 20 * 1024 * 1024


def open_identity(p12: Path, ask_passphrase: AskPassphrase | None) -> Identity:
    """Open a .p12/.pfx, asking for its passphrase only when it has one."""
    try:
        return load_pkcs12(p12, None)
    except PassphraseError:
        if ask_passphrase is None:
            raise
    return load_pkcs12(p12, ask_passphrase(f"Passphrase for {Path(p12).name}: "))


def read_body_file(path: Path) -> str:
    """The message text from a UTF-8 file (an ordinary file of at most 20 MB: larger content
    belongs in an attachment)."""
    try:
        data = read_regular_file(path, "message text file", MAX_BODY_FILE_BYTES)
    except InputFileError as exc:
        if "too large" in str(exc):
            raise InputFileError(
                f"The message text file {path} is larger than {MAX_BODY_FILE_BYTES // (1024 * 1024)} MB; "
                "attach large files instead."
            ) from None
        raise
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(
            f"The message text file {path} is not UTF-8 text. Save it as UTF-8 and try again."
        ) from None
