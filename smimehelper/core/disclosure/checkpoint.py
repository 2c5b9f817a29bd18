"""Signed checkpoints: the head of the chain, signed with the user's certificate (CMS).

A checkpoint is a short text statement ("this log, N entries, the last one's SHA-256 is H,
signed at T by A") and a detached CMS SignedData over it, made with the same signing code as
every message (:mod:`smimehelper.core.cms.signed`). Both are kept as files in
``checkpoints/`` so an auditor can check one without smimehelper::

    openssl cms -verify -binary -inform DER -in checkpoint-00000042.p7s \\
        -content checkpoint-00000042.txt -CAfile your-authority.pem -purpose any

and an entry of kind "checkpoint" in the chain records that it was made. Whoever can edit
the log file cannot make a new signature, so every entry up to a checkpoint is protected even
against someone who recomputes the hashes; entries after the last checkpoint are protected by
the chain (and by the copy on the practice's log server) until the next one. Checkpoints are
made at least daily (the first transfer of a day when the last is older than a day) and at
every export.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms
from cryptography import x509

from ..atomic import write_atomic
from ..certs import cert_emails
from ..cms.capabilities import our_capabilities
from ..cms.signed import detached_signature
from ..cms import oids
from ..cms.verify import check_signer, message_certificates
from ..identity import Identity
from .store import DisclosureLog, Entry, format_time, parse_time

TITLE = "smimehelper disclosure log checkpoint"
DAILY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Statement:
    log: str
    seq: int
    head: str
    signed_at: str
    signer: str

    def text(self) -> bytes:
        return (
            f"{TITLE}\nlog: {self.log}\nentries: {self.seq}\nhead-sha256: {self.head}\n"
            f"signed-at: {self.signed_at}\nsigner: {self.signer}\n"
        ).encode("ascii", "replace")

    @classmethod
    def parse(cls, data: bytes) -> Statement:
        lines = data.decode("ascii").split("\n")
        if lines[0] != TITLE or lines[-1] != "" or len(lines) != 7:
            raise ValueError("not a checkpoint statement")
        fields = dict(line.split(": ", 1) for line in lines[1:-1])
        return cls(fields["log"], int(fields["entries"]), fields["head-sha256"], fields["signed-at"], fields["signer"])


@dataclass(frozen=True)
class CheckpointFile:
    statement_path: Path
    signature_path: Path

    @property
    def name(self) -> str:
        return self.statement_path.stem


@dataclass(frozen=True)
class SignatureResult:
    valid: bool
    reason: str | None
    signer: x509.Certificate | None


def checkpoint_files(log: DisclosureLog) -> list[CheckpointFile]:
    """Every checkpoint pair (statement, signature) in order of the entry it covers."""
    if not log.checkpoint_folder.is_dir():
        return []
    found = []
    for statement in sorted(log.checkpoint_folder.glob("checkpoint-*.txt")):
        found.append(CheckpointFile(statement, statement.with_suffix(".p7s")))
    return found


def last_checkpoint_time(log: DisclosureLog) -> dt.datetime | None:
    files = checkpoint_files(log)
    for item in reversed(files):
        try:
            return parse_time(Statement.parse(item.statement_path.read_bytes()).signed_at)
        except (OSError, ValueError, KeyError):
            continue
    return None


def checkpoint_due(log: DisclosureLog, now: dt.datetime) -> bool:
    """True when the log has entries and no checkpoint from the last day."""
    if not log.exists():
        return False
    last = last_checkpoint_time(log)
    return last is None or now - last >= DAILY


def make_checkpoint(log: DisclosureLog, identity: Identity, now: dt.datetime) -> Entry:
    """Sign the head of the chain now; returns the "checkpoint" entry recorded after it.

    The caller unlocks ``identity`` first (asking for a passphrase if need be), so the log is
    not held locked while a person types.
    """
    signer = (cert_emails(identity.cert) or ("",))[0]

    def build(last: Entry, log_id: str) -> tuple[str, dict[str, object]]:
        statement = Statement(log_id, last.seq, last.digest, format_time(now), signer)
        text = statement.text()
        signature = detached_signature(identity, digest=hashlib.sha256(text).digest(), signing_time=now,
                                       capabilities=our_capabilities())
        log.checkpoint_folder.mkdir(exist_ok=True, mode=0o700)
        stem = f"checkpoint-{last.seq:08d}"
        write_atomic(log.checkpoint_folder / f"{stem}.p7s", signature)
        write_atomic(log.checkpoint_folder / f"{stem}.txt", text)
        return "checkpoint", {
            "covers": last.seq, "head": last.digest, "signer": signer,
            "file": f"checkpoints/{stem}.p7s", "signature_sha256": hashlib.sha256(signature).hexdigest(),
        }

    return log.append_built(build, now)


def check_signature(statement: bytes, signature: bytes, now: dt.datetime) -> SignatureResult:
    """Is ``signature`` a valid detached CMS signature over ``statement``?"""
    try:
        info = cms.ContentInfo.load(signature)
        if info["content_type"].native != "signed_data":
            return SignatureResult(False, "the checkpoint signature is not a CMS signature", None)
        signed = info["content"]
        certs = message_certificates(signed["certificates"] or [])
        signer_infos = list(signed["signer_infos"])
        if len(signer_infos) != 1:
            return SignatureResult(False, "the checkpoint signature has not exactly one signer", None)
        check = check_signer(signer_infos[0], certs, {"sha256": hashlib.sha256(statement).digest()}, oids.DATA, now)
    except (ValueError, TypeError, KeyError) as exc:
        return SignatureResult(False, f"the checkpoint signature is damaged ({type(exc).__name__})", None)
    return SignatureResult(check.valid, check.reason, check.signer)
