"""Use cases of the disclosure log itself: list, verify, sign a checkpoint, export, forward.

Shared by ``smimehelper log ...`` and the desktop app's Log tab. Recording transfers is in
:mod:`.disclosure`; nothing here (or anywhere in the app) deletes an entry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.disclosure.checkpoint import make_checkpoint
from ..core.disclosure.forward import ForwardConfig, Forwarder, ForwardResult
from ..core.disclosure.report import Accounting, TransferView, accounting, transfers
from ..core.disclosure.verify import Verification, verify_log
from ..core.errors import UserError
from . import AskPassphrase, now
from .disclosure import log_for, reconcile_outbox

if TYPE_CHECKING:
    from .stores import Stores


class LogExportError(UserError):
    pass


def list_transfers(stores: Stores, *, patient: str | None = None, since: dt.datetime | None = None) -> list[TransferView]:
    """Transfers (oldest first) with their current state; ``patient`` searches names and IDs."""
    try:
        reconcile_outbox(stores)
    except UserError:
        pass  # listing must work on a read-only data folder too
    return transfers(log_for(stores), patient=patient, since=since)


def verify(stores: Stores, *, sign: bool = False, ask_passphrase: AskPassphrase | None = None) -> Verification:
    """Check the chain, the checkpoints and the head; with ``sign``, first sign a new checkpoint."""
    log = log_for(stores)
    if sign:
        if not log.exists():
            raise UserError("The disclosure log is empty: there is nothing to sign yet.")
        make_checkpoint(log, _unlocked_identity(stores, ask_passphrase), now())
    signers = [s.cert for s in stores.identities.list()]
    return verify_log(log, now(), signers)


def _unlocked_identity(stores: Stores, ask_passphrase: AskPassphrase | None):  # type: ignore[no-untyped-def]
    stored = stores.identities.for_signing(None, now())
    return stores.identities.locked(stored, ask_passphrase).unlocked()


def verification_sentence(result: Verification) -> str:
    """What verify found, in one paragraph for the export."""
    if not result.ok:
        bad = result.first_bad
        return (f"WARNING: the disclosure log did not verify when this was prepared. {bad.problem if bad else ''} "
                "The list may be incomplete or altered; ask the practice for an explanation.")
    valid = [c for c in result.checkpoints if c.valid]
    text = f"The disclosure log ({result.entries} entries) was checked when this was prepared: every entry is chained to the one before it by SHA-256 and none is missing."
    if valid:
        last = valid[-1]
        text += (f" Its state at entry {last.seq} was signed on {last.signed_at.replace('T', ' ').rstrip('Z')} UTC "
                 f"with the certificate of {last.signer} (file {last.name}.p7s, checkable with 'openssl cms -verify').")
    return text


@dataclass(frozen=True)
class ExportResult:
    path: Path
    report: Accounting
    verification: Verification


def export_accounting(stores: Stores, patient_id: str, target: Path, *, kind: str, ask_passphrase: AskPassphrase | None,
                      practice: str | None = None, since: dt.datetime | None = None,
                      until: dt.datetime | None = None) -> ExportResult:
    """Sign a checkpoint, verify, and write the accounting of one patient as "csv" or "pdf"."""
    from ..core.disclosure.csv_export import write_csv
    from ..core.disclosure.pdf_export import write_pdf

    if not patient_id.strip():
        raise LogExportError("Give the patient's ID (as in their x-rays' DICOM Patient ID, or the reference you logged).")
    log = log_for(stores)
    result = verify(stores, sign=log.exists(), ask_passphrase=ask_passphrase)
    name = practice if practice is not None else practice_name(stores)
    if practice:
        stores.settings.set("practice_name", practice)
    report = accounting(log, patient_id, practice=name, now=now(), verification=verification_sentence(result),
                        since=since, until=until)
    write = write_csv if kind == "csv" else write_pdf
    return ExportResult(write(report, Path(target)), report, result)


def practice_name(stores: Stores) -> str:
    """The practice name set once (``log export --practice``), else the certificate's organisation."""
    saved = stores.settings.get("practice_name")
    if saved:
        return str(saved)
    from cryptography.x509.oid import NameOID

    try:
        stored = stores.identities.get()
    except UserError:
        return ""
    names = stored.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(names[0].value) if names else stored.info.display_name


# -- forwarding --------------------------------------------------------------------------------

def forward_settings(stores: Stores) -> ForwardConfig | None:
    return Forwarder(log_for(stores)).config()


def configure_forward(stores: Stores, config: ForwardConfig | None) -> None:
    Forwarder(log_for(stores)).configure(config)


def forward_now(stores: Stores, *, timeout: float = 10.0) -> ForwardResult:
    return Forwarder(log_for(stores)).send_pending(timeout=timeout)


def forward_pending(stores: Stores) -> int:
    return Forwarder(log_for(stores)).pending()
