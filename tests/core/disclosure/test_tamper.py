"""Tampering with the log file: each kind is found and the first bad entry named.

The log has entries 1 (genesis) .. 9, a signed checkpoint after entry 5 (entry 6 records it),
and every entry carries an authentication code with the log's key from the (test) keyring.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import subprocess
from pathlib import Path

import pytest

from smimehelper.core.disclosure.checkpoint import make_checkpoint
from smimehelper.core.disclosure.store import DisclosureLog, digest_of, encode
from smimehelper.core.disclosure.verify import verify_log
from smimehelper.core.identity import load_pkcs12
from tests.core.disclosure.helpers import KeyringSecrets, lines, make_log, transfer, write_lines
from tests.pki.make_pki import REFERENCE_NOW, Pki

LATER = REFERENCE_NOW + dt.timedelta(hours=1)


@pytest.fixture
def signed_log(pki: Pki, tmp_path: Path) -> tuple[DisclosureLog, KeyringSecrets, object]:
    secrets = KeyringSecrets()
    identity = load_pkcs12(pki["alice"].p12, pki.p12_password.encode())
    log = make_log(tmp_path / "d", 4, secrets=secrets)
    make_checkpoint(log, identity, REFERENCE_NOW + dt.timedelta(minutes=10))
    for n in range(4, 7):
        log.append("transfer", transfer(n).to_data(), REFERENCE_NOW + dt.timedelta(minutes=20 + n))
    assert [e.seq for e in log.entries()] == list(range(1, 10))
    return log, secrets, identity


def check(log: DisclosureLog, identity: object) -> object:
    return verify_log(log, LATER, [identity.cert])  # type: ignore[attr-defined]


def test_the_untouched_log_verifies(signed_log) -> None:
    log, _, identity = signed_log
    result = check(log, identity)
    assert result.ok, result.findings
    assert [c.seq for c in result.checkpoints if c.valid] == [5]
    assert result.unsigned_after == 4


def test_one_changed_byte_is_found(signed_log) -> None:
    log, _, identity = signed_log
    raw = lines(log)
    raw[2] = raw[2].replace(b"Dr Bob 1", b"Dr Bob 7")  # entry 3: another recipient
    write_lines(log, raw)
    assert check(log, identity).first_bad.seq == 3


def test_a_changed_byte_in_the_last_entry_is_found(signed_log) -> None:
    log, _, identity = signed_log
    raw = lines(log)
    raw[-1] = raw[-1].replace(b"xray-6", b"xray-8")
    write_lines(log, raw)
    result = check(log, identity)
    assert not result.ok and result.first_bad.seq == 9, result.findings


def test_a_deleted_entry_is_found(signed_log) -> None:
    log, _, identity = signed_log
    raw = lines(log)
    del raw[3]  # entry 4
    write_lines(log, raw)
    bad = check(log, identity).first_bad
    assert bad.seq == 4 and "missing" in bad.problem


def test_two_swapped_entries_are_found(signed_log) -> None:
    log, _, identity = signed_log
    raw = lines(log)
    raw[6], raw[7] = raw[7], raw[6]  # entries 7 and 8
    write_lines(log, raw)
    assert check(log, identity).first_bad.seq == 7


def test_a_naively_forged_entry_appended_is_found(signed_log) -> None:
    log, _, identity = signed_log
    raw = lines(log)
    forged = json.loads(raw[-1])
    forged["data"]["recipients"][0]["address"] = "someone@else.example"
    write_lines(log, [*raw, encode(forged) + b"\n"])
    assert check(log, identity).first_bad.seq == 9  # seq 9 again


def test_a_forged_entry_with_a_recomputed_chain_is_found_by_its_authentication_code(signed_log) -> None:
    log, _, identity = signed_log
    raw = lines(log)
    last = json.loads(raw[-1])
    forged = dict(last, seq=10, id="f0f0f0f0f0f0f0f0", prev=digest_of(raw[-1][:-1]))
    body = {k: v for k, v in forged.items() if k != "mac"}
    forged["mac"] = hmac.new(b"a guessed key".ljust(32, b"\0"), encode(body), hashlib.sha256).hexdigest()
    write_lines(log, [*raw, encode(forged) + b"\n"])
    bad = check(log, identity).first_bad
    assert bad.seq == 10 and "forged" in bad.problem


def test_an_inserted_entry_is_found(signed_log) -> None:
    log, _, identity = signed_log
    raw = lines(log)
    inserted = json.loads(raw[2])
    inserted["id"] = "1234123412341234"
    write_lines(log, [*raw[:3], encode(inserted) + b"\n", *raw[3:]])
    assert check(log, identity).first_bad.seq == 3


@pytest.mark.parametrize("keep", [8, 3])
def test_a_truncated_tail_is_found(signed_log, keep: int) -> None:
    """Cut after entry 8 (head.json knows 9) and before the checkpoint (the signature knows 5)."""
    log, _, identity = signed_log
    write_lines(log, lines(log)[:keep])
    result = check(log, identity)
    assert not result.ok
    assert result.first_bad.seq == keep + 1 and "truncated" in result.first_bad.problem


def test_a_tail_cut_in_the_middle_of_a_complete_entry_is_truncation_not_a_crash(signed_log) -> None:
    log, _, identity = signed_log
    data = log.path.read_bytes()
    log.path.write_bytes(data[:-40])
    result = check(log, identity)
    assert result.first_bad.seq == 9 and "cut off" in result.first_bad.problem


def test_hashes_recomputed_after_an_edit_are_caught_by_the_signed_checkpoint(signed_log) -> None:
    """A forger who rewrites entry 3 and every hash after it (and has no keyring key: here the log
    has none) is still caught: the checkpoint signed entry 5's original hash."""
    log, _, identity = signed_log
    plain = DisclosureLog(log.folder)  # verifier without the keyring: only chain + signature
    raw = [json.loads(r) for r in lines(log)]
    raw[2]["data"]["recipients"][0]["name"] = "Somebody Else"
    prev = None
    out = []
    for obj in raw:
        obj.pop("mac", None)
        if prev is not None:
            obj["prev"] = prev
        line = encode(obj)
        prev = digest_of(line)
        out.append(line + b"\n")
    write_lines(plain, out)
    (log.folder / "head.json").unlink()
    result = verify_log(plain, LATER, [identity.cert])
    assert not result.ok and result.first_bad.seq == 5 and "checkpoint" in result.first_bad.problem
    assert any("keyring" in n for n in result.notes)


def test_a_checkpoint_signed_by_another_certificate_is_refused(signed_log, pki: Pki) -> None:
    log, _, identity = signed_log
    bob = load_pkcs12(pki["bob"].p12, pki.p12_password.encode())
    make_checkpoint(log, bob, LATER)
    result = check(log, identity)
    assert not result.ok and "not yours" in result.first_bad.problem


def test_a_deleted_checkpoint_file_is_found(signed_log) -> None:
    log, _, identity = signed_log
    for path in log.checkpoint_folder.iterdir():
        path.unlink()
    result = check(log, identity)
    assert result.first_bad.seq == 6 and "deleted" in result.first_bad.problem


def test_the_checkpoint_verifies_with_openssl_and_an_edit_does_not(signed_log, pki: Pki, tmp_path: Path) -> None:
    log, _, _ = signed_log
    statement = log.checkpoint_folder / "checkpoint-00000005.txt"
    signature = log.checkpoint_folder / "checkpoint-00000005.p7s"
    assert b"entries: 5\n" in statement.read_bytes()
    assert digest_of(lines(log)[4][:-1]).encode() in statement.read_bytes()

    def openssl(content: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature), "-content", str(content),
             "-CAfile", str(pki.root.cert_pem), "-attime", str(int(LATER.timestamp())), "-out", "/dev/null"],
            capture_output=True, text=True,
        )

    good = openssl(statement)
    assert good.returncode == 0 and "Verification successful" in good.stderr, good.stderr
    edited = tmp_path / "edited.txt"
    edited.write_bytes(statement.read_bytes().replace(b"entries: 5", b"entries: 4"))
    bad = openssl(edited)
    assert bad.returncode != 0 and "verify_content" in bad.stderr, bad.stderr
