"""Use cases shared by the command line and the desktop app.

Each function takes plain values (paths, addresses, callbacks) and returns frozen results; the
faces decide how to ask for a passphrase, show progress or print. Nothing here prompts or prints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .core.certs import load_certificates, describe
from .core.compose import ComposeRequest, ComposeResult, compose_to_file, precheck
from .core.dicom import patient_identifiers
from .core.errors import InputFileError, PassphraseError
from .core.identity import Identity, load_pkcs12
from .core.mime.writer import prepare_attachment
from .core.privacy import subject_warnings
from .core.reader import OpenedMessage, open_message

MAX_BODY_FILE_BYTES = 20 * 1024 * 1024

AskPassphrase = Callable[[str], bytes]
"""Called with a prompt when a passphrase is needed; returns it or raises PassphraseError."""


def open_identity(p12: Path, ask_passphrase: AskPassphrase | None) -> Identity:
    """Open a .p12/.pfx, asking for its passphrase only when it has one."""
    try:
        return load_pkcs12(p12, None)
    except PassphraseError:
        if ask_passphrase is None:
            raise
    return load_pkcs12(p12, ask_passphrase(f"Passphrase for {Path(p12).name}: "))


def read_body_file(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_BODY_FILE_BYTES:
            raise InputFileError(
                f"The message text file {path} is {size} bytes; attach large files instead."
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"The message text file {path} does not exist.") from None
    except IsADirectoryError:
        raise InputFileError(f"{path} is a folder, not a text file.") from None
    except PermissionError:
        raise InputFileError(f"The message text file {path} cannot be read (permission denied).") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(
            f"The message text file {path} is not UTF-8 text. Save it as UTF-8 and try again."
        ) from None


@dataclass(frozen=True)
class ComposeInput:
    """A message as the user describes it: addresses, text and file names."""

    sender: str
    to: tuple[str, ...]
    subject: str
    body: str
    sign_key: Path
    out: Path
    cc: tuple[str, ...] = ()
    attachments: tuple[Path, ...] = ()
    recipient_certs: tuple[Path, ...] = ()
    sign: bool = True
    encrypt: bool = True
    oaep: bool = False
    gcm: bool = False
    now: dt.datetime | None = None


@dataclass(frozen=True)
class ComposeOutcome:
    result: ComposeResult
    warnings: tuple[str, ...]


def compose_message(
    request: ComposeInput,
    ask_passphrase: AskPassphrase | None,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ComposeOutcome:
    """Check every input, then write the signed and encrypted message to ``request.out``."""
    attachments = tuple(prepare_attachment(p) for p in request.attachments)
    certs = []
    for path in request.recipient_certs:
        certs.extend(c for c in load_certificates(path) if not describe(c).is_ca)
    precheck(
        ComposeRequest(
            sender=request.sender, to=request.to, cc=request.cc, subject="", body="",
            identity=None, sign=request.sign, encrypt=request.encrypt,  # type: ignore[arg-type]
        )
    )
    identity = open_identity(request.sign_key, ask_passphrase)
    terms: list[str] = []
    for attachment in attachments:
        if attachment.content_type == "application/dicom":
            terms.extend(patient_identifiers(attachment.path))
    result = compose_to_file(
        ComposeRequest(
            sender=request.sender,
            to=request.to,
            cc=request.cc,
            subject=request.subject,
            body=request.body,
            identity=identity,
            attachments=attachments,
            recipient_certs=tuple(certs),
            sign=request.sign,
            encrypt=request.encrypt,
            oaep=request.oaep,
            gcm=request.gcm,
            now=request.now,
        ),
        request.out,
        progress=progress,
        cancelled=cancelled,
    )
    warnings = (*result.warnings, *subject_warnings(request.subject, tuple(terms)))
    return ComposeOutcome(result=result, warnings=tuple(warnings))


@dataclass(frozen=True)
class OpenInput:
    message: Path
    keys: tuple[Path, ...] = ()
    trust: tuple[Path, ...] = ()
    save_attachments: Path | None = None
    now: dt.datetime | None = None


def open_message_file(request: OpenInput, ask_passphrase: AskPassphrase | None) -> OpenedMessage:
    """Decrypt and verify a message with the given keys and trust anchors; save files if asked."""
    identities = [open_identity(path, ask_passphrase) for path in request.keys]
    anchors = []
    for path in request.trust:
        anchors.extend(load_certificates(path))
    return open_message(
        request.message,
        identities=identities,
        anchors=anchors,
        save_dir=request.save_attachments,
        now=request.now,
    )
