"""Checking the disclosure log: is every entry as it was written, and none missing?

Three witnesses, each independent of the others:

* the chain: entry N+1 records the SHA-256 of entry N, and ``seq`` counts 1, 2, 3...; an
  edited entry, a deleted one, two swapped, one inserted, or a line that is no longer
  canonical JSON breaks it at that place;
* the signed checkpoints: each names an entry and its hash, signed with the user's key; a
  forger who recomputes every hash still cannot sign, and a log cut off before a checkpoint
  is found out;
* ``head.json``: the last entry written; a tail cut off at a line boundary after the last
  checkpoint is found out as long as head.json survives (the practice's log server has the
  rest).

A last line without its newline is what a kill -9 during a write leaves: it is reported as an
interrupted write (set aside at the next entry), not as tampering, unless head.json shows that
the entry had been completed (then the line was cut: truncation).
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509

from .checkpoint import Statement, check_signature, checkpoint_files
from .store import GENESIS_PREV, DisclosureLog, digest_of, entry_mac, parse_line


@dataclass(frozen=True)
class Finding:
    seq: int  # the entry that is bad (the first one affected)
    line: int  # where in the file (0 when not about a line)
    problem: str


@dataclass(frozen=True)
class CheckpointResult:
    name: str
    seq: int
    signed_at: str
    signer: str
    valid: bool
    reason: str | None = None


@dataclass(frozen=True)
class Verification:
    entries: int
    findings: tuple[Finding, ...]
    checkpoints: tuple[CheckpointResult, ...]
    notes: tuple[str, ...] = field(default=())
    unsigned_after: int = 0  # entries after the last valid checkpoint

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_bad(self) -> Finding | None:
        return min(self.findings, key=lambda f: (f.seq, f.line)) if self.findings else None


def verify_log(log: DisclosureLog, now: dt.datetime, signers: Sequence[x509.Certificate] = ()) -> Verification:
    """Check the whole log (bounded memory: only the hashes that checkpoints name are kept).

    ``signers`` are the certificates whose checkpoints count (the user's own); a checkpoint
    signed by any other certificate is a finding. With no ``signers`` any valid signature counts.
    """
    findings: list[Finding] = []
    notes: list[str] = []
    statements: list[tuple[str, Statement | None, bytes, bytes]] = []
    for item in checkpoint_files(log):
        try:
            text = item.statement_path.read_bytes()
            signature = item.signature_path.read_bytes()
            statements.append((item.name, Statement.parse(text), text, signature))
        except FileNotFoundError:
            findings.append(Finding(_seq_of(item.name), 0, f"The signature of {item.name} is missing (deleted?)."))
        except (OSError, ValueError, KeyError, UnicodeDecodeError):
            findings.append(Finding(_seq_of(item.name), 0, f"The signed checkpoint {item.name} is damaged."))
    head = log.head()
    wanted = {s.seq for _, s, _, _ in statements if s is not None}
    if head is not None:
        wanted.add(int(head.get("seq", 0)))
    known: dict[int, str] = {}
    referenced_files: dict[str, int] = {}
    expected, prev, count, log_id, last_line = 1, GENESIS_PREV, 0, None, 0
    broken = False
    key: bytes | None = None
    for raw in log.lines():
        last_line = raw.number
        if not raw.complete:
            head_seq = int(head.get("seq", 0)) if head else 0
            if head_seq >= expected:
                findings.append(Finding(expected, raw.number, f"Entry {expected} was cut off (the log was truncated in the middle of it)."))
            else:
                notes.append(f"The last write was interrupted ({len(raw.data)} bytes at line {raw.number}); "
                             "it is set aside automatically with the next entry.")
            break
        try:
            entry = parse_line(raw.data)
        except ValueError as exc:
            findings.append(Finding(expected, raw.number, f"Entry {expected} (line {raw.number}) was changed: {exc}."))
            broken = True
            break
        if entry.seq != expected:
            if entry.seq > expected:
                missing = f"{expected}" if entry.seq == expected + 1 else f"{expected} to {entry.seq - 1}"
                findings.append(Finding(expected, raw.number, f"Entry {missing} is missing (deleted) before line {raw.number}."))
            else:
                findings.append(Finding(entry.seq, raw.number, f"Entry {entry.seq} appears again at line {raw.number} "
                                                               "(entries were reordered, copied or inserted)."))
            broken = True
            break
        if entry.prev != prev:
            if expected == 1:
                findings.append(Finding(1, raw.number, "The first entry is not the start of a log (entries before it were removed?)."))
            else:
                findings.append(Finding(expected - 1, raw.number - 1,
                                        f"Entry {expected - 1} was changed after it was written (entry {expected} "
                                        "records a different hash for it), or an entry was inserted there."))
            broken = True
            break
        if (entry.kind == "genesis") != (entry.seq == 1):
            findings.append(Finding(entry.seq, raw.number, f"Entry {entry.seq} claims to start a log in the middle of one."))
            broken = True
            break
        if entry.seq == 1:
            log_id = str(entry.data.get("log", ""))
            if entry.data.get("mac"):
                key = log.mac_key()
                if key is None:
                    notes.append("The key that authenticates each entry is not in this computer's keyring (another "
                                 "computer or user?); the entries were checked by their chain and signatures only.")
        if key is not None and (not entry.mac or not hmac.compare_digest(entry.mac, entry_mac(key, entry))):
            findings.append(Finding(entry.seq, raw.number, f"Entry {entry.seq} was not written by smimehelper on this "
                                                           "computer (its authentication code does not match): it was changed or forged."))
            broken = True
            break
        if entry.kind == "checkpoint":
            referenced_files[str(entry.data.get("file", ""))] = entry.seq
        if entry.seq in wanted:
            known[entry.seq] = entry.digest
        prev, count, expected = entry.digest, entry.seq, entry.seq + 1
    if head is not None and not broken:
        head_seq = int(head.get("seq", 0))
        if head_seq > count and not any(f.seq >= count for f in findings):
            findings.append(Finding(count + 1, last_line + 1,
                                    f"The log ends at entry {count}, but entry {head_seq} had been written: "
                                    "the end of the log was cut off (truncated)."))
        elif head_seq in known and known[head_seq] != head.get("digest"):
            findings.append(Finding(head_seq, 0, f"Entry {head_seq} is not the one that was written last (it was replaced)."))
    results: list[CheckpointResult] = []
    last_valid = 0
    for name, statement, text, signature in statements:
        assert statement is not None
        check = check_signature(text, signature, now)
        reason = check.reason
        valid = check.valid
        if valid and signers and check.signer not in signers:
            valid, reason = False, "it was signed with a certificate that is not yours"
        if valid and log_id is not None and statement.log != log_id:
            valid, reason = False, "it belongs to another log"
        results.append(CheckpointResult(name, statement.seq, statement.signed_at, statement.signer, valid, reason))
        if not valid:
            findings.append(Finding(statement.seq, 0, f"The signed checkpoint {name} does not verify: {reason}."))
            continue
        if statement.seq > count:
            if not broken:
                findings.append(Finding(count + 1, last_line + 1,
                                        f"The log ends at entry {count}, but the checkpoint signed on {statement.signed_at} "
                                        f"covers {statement.seq} entries: the end of the log was cut off (truncated)."))
        elif statement.seq in known and known[statement.seq] != statement.head:
            findings.append(Finding(statement.seq, 0, f"Entry {statement.seq} was changed after the checkpoint of "
                                                      f"{statement.signed_at} signed it."))
        else:
            last_valid = max(last_valid, statement.seq)
        referenced_files.pop(f"checkpoints/{name}.p7s", None)
    for missing_file, seq in referenced_files.items():
        if not broken:
            findings.append(Finding(seq, 0, f"The signed checkpoint {missing_file} recorded in entry {seq} was deleted."))
    unsigned = max(0, count - last_valid)
    if count and not results:
        notes.append("No signed checkpoint yet: one is made with the next export or with 'smimehelper log verify --sign'.")
    return Verification(count, tuple(findings), tuple(results), tuple(notes), unsigned)


def _seq_of(name: str) -> int:
    try:
        return int(name.rsplit("-", 1)[-1])
    except ValueError:
        return 0


__all__ = ["CheckpointResult", "Finding", "Verification", "verify_log", "digest_of"]
