"""The disclosure log records what a DICOM send really carried, as a user runs it.

Real sends through aiosmtpd; OpenSSL decrypts what the server received, so the logged SHA-256
values are checked against the bytes the colleague gets; DCMTK's dcmdump reads the patient
fields (or Patient Identity Removed) of those same bytes. De-identified sends are logged as
"de-identified" with none of the patient's values anywhere in the log; a study archive is logged
with every DICOM file inside it; a split study is one transfer per part, method "split-parts",
part "k of N", each with exactly the files of that part.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.cli.compose_helpers import openssl_decrypt, openssl_verify
from tests.core.dicom.synthetic import LEAK_STRINGS, write_study
from tests.pki.make_pki import Pki
from tests.transport.test_delivery import PASSWORD, add_account, setup  # noqa: F401 (fixture)


def compose_send(run, password: Path, pki: Pki, out: Path, *extra: object) -> None:  # type: ignore[no-untyped-def]
    code, stdout, err = run("compose", "--to", "Dr Bob <bob@example.org>", "--subject", "Referral", "--body", "Hello\n",
                            "-o", str(out), "--passphrase-file", str(pki.passphrase_file), "--send",
                            "--password-file", str(password), *map(str, extra))
    assert code == 0, stdout + err


def transfers(run) -> list[dict]:  # type: ignore[no-untyped-def]
    code, out, err = run("log", "list", "--json")
    assert code == 0, err
    return json.loads(out)["transfers"]


def received_files(pki: Pki, data: bytes, tmp_path: Path) -> dict[str, bytes]:
    """The attachments of a message as the server got it, decrypted and verified by OpenSSL."""
    wire = tmp_path / f"wire-{hashlib.sha256(data).hexdigest()[:12]}.eml"
    wire.write_bytes(data)
    content = openssl_verify(openssl_decrypt(wire, pki["bob"].cert_pem, pki["bob"].key_path), pki.root.cert_pem,
                             attime=pki.now)
    msg = email.message_from_bytes(content, policy=email.policy.default)
    return {p.get_filename(): p.get_content() for p in msg.walk() if p.get_filename()}


def dcmdump(data: bytes, tmp_path: Path, tag: str) -> str:
    path = tmp_path / "dump.dcm"
    path.write_bytes(data)
    out = subprocess.run(["dcmdump", "+P", tag, str(path)], capture_output=True, text=True, check=True).stdout
    return out.split("[", 1)[1].split("]", 1)[0] if "[" in out else ""


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def log_bytes() -> bytes:
    folder = Path(os.environ["SMIMEHELPER_HOME"]) / "disclosure"
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_study_archive_logged_with_every_file_as_found_and_deidentified(  # type: ignore[no-untyped-def]
        setup, smtp_server_factory, pki: Pki) -> None:
    run, password, tmp_path = setup
    server = smtp_server_factory("starttls", password=PASSWORD)
    add_account(run, password, server)
    study = write_study(tmp_path / "Muster Erika CBCT", 3)

    compose_send(run, password, pki, tmp_path / "as-found.eml", "--attach", study.folder)
    [found] = transfers(run)
    assert found["state"] == "sent" and found["method"] == "smime" and not found.get("part")
    sent = received_files(pki, server.received[0].data, tmp_path)
    [archive_name] = sent
    logged = {f["name"]: f for f in found["files"]}
    assert logged[archive_name]["sha256"] == sha(sent[archive_name]) and logged[archive_name]["type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(sent[archive_name])) as archive:
        members = {n: archive.read(n) for n in archive.namelist() if not n.endswith("DICOMDIR")}
    assert len(members) == 3
    for name, data in members.items():
        entry = logged[f"{archive_name}/{name}"]
        assert entry["sha256"] == sha(data) and entry["type"] == "application/dicom"
        assert entry["dicom"]["patient_id"] == dcmdump(data, tmp_path, "PatientID") == "PAT778812"
        assert entry["dicom"]["name"] == dcmdump(data, tmp_path, "PatientName").replace("^", " ")
        assert entry["dicom"]["study_date"] == "2026-01-15"
    code, out, _ = run("log", "list", "--patient", "PAT778812")
    assert code == 0 and archive_name in out

    compose_send(run, password, pki, tmp_path / "deid.eml", "--attach", study.folder, "--deidentify")
    deid = transfers(run)[1]
    sent = received_files(pki, server.received[1].data, tmp_path)
    assert list(sent) == ["study.zip"]
    logged = {f["name"]: f for f in deid["files"]}
    assert logged["study.zip"]["sha256"] == sha(sent["study.zip"])
    with zipfile.ZipFile(io.BytesIO(sent["study.zip"])) as archive:
        members = {n: archive.read(n) for n in archive.namelist() if not n.endswith("DICOMDIR")}
    for name, data in members.items():
        entry = logged[f"study.zip/{name}"]
        assert entry["sha256"] == sha(data)  # the de-identified copy that travelled, not the original
        assert entry["dicom"] == {"deidentified": True} and dcmdump(data, tmp_path, "PatientIdentityRemoved") == "YES"
    assert {f["sha256"] for f in deid["files"]}.isdisjoint(sha(p.read_bytes()) for p in study.files)
    # Only the first (as found) transfer names the patient: the de-identified one adds nothing.
    text = json.dumps(deid)
    assert not [s for s in LEAK_STRINGS if s in text]
    code, out, _ = run("log", "list", "--patient", "PAT778812", "--json")
    assert [t["message_id"] for t in json.loads(out)["transfers"]] == [found["message_id"]]


def test_split_study_is_one_transfer_per_part_with_its_own_files(  # type: ignore[no-untyped-def]
        setup, smtp_server_factory, pki: Pki) -> None:
    run, password, tmp_path = setup
    server = smtp_server_factory("starttls", password=PASSWORD)
    add_account(run, password, server)
    study = write_study(tmp_path / "study", 9, 256, 256)

    compose_send(run, password, pki, tmp_path / "cbct.eml", "--attach", study.folder, "--split", "--size-limit", "1",
                 "--deidentify", "--purpose", "second opinion")
    logged = transfers(run)
    count = len(logged)
    assert count >= 3 and len(server.received) == count
    by_part = {}
    for got in server.received:
        files = received_files(pki, got.data, tmp_path)
        manifest = json.loads(files.pop("smimehelper-parts.json"))
        by_part[f"{manifest['part']} of {manifest['parts']}"] = {n: sha(d) for n, d in files.items()}
        assert {n for n, _ in files.items()} == {e["name"] for e in manifest["files"] if e["part"] == manifest["part"]}
    assert sorted(by_part) == sorted(t["part"] for t in logged)
    for transfer in logged:
        assert transfer["method"] == "split-parts" and transfer["state"] == "sent"
        assert transfer["purpose"] == "second opinion" and transfer["via"] == "alice@example.org"
        assert {f["name"]: f["sha256"] for f in transfer["files"]} == by_part[transfer["part"]]
        assert all(f["dicom"] == {"deidentified": True} for f in transfer["files"])
    assert len({t["message_id"] for t in logged}) == count
    code, out, _ = run("log", "list")
    assert code == 0 and f"part 1 of {count}" in out and "in several parts" in out
    assert not [s for s in LEAK_STRINGS if s.encode() in log_bytes()]


def test_split_part_handed_to_thunderbird_keeps_its_part(setup, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    run, _password, tmp_path = setup
    study = write_study(tmp_path / "study", 6, 256, 256)
    out = tmp_path / "s.eml"
    code, stdout, err = run("compose", "--to", "bob@example.org", "--subject", "CBCT", "--body", "Hi\n", "-o", str(out),
                            "--passphrase-file", str(pki.passphrase_file), "--attach", str(study.folder),
                            "--split", "--size-limit", "1")
    assert code == 0, stdout + err
    parts = sorted(tmp_path.glob("s.part-*.eml"))
    assert len(parts) >= 2
    assert transfers(run) == []  # composing alone discloses nothing
    from tests.core.handoff.test_queue import make_profile

    (tmp_path / "tb").mkdir()
    profile = make_profile(tmp_path / "tb")  # Thunderbird's Outbox; Thunderbird itself is not started
    code, stdout, err = run("export", str(parts[1]), "--thunderbird-profile", str(profile.path), "--no-start")
    assert code == 0, stdout + err
    [handed] = transfers(run)
    assert handed["method"] == "handoff" and handed["part"] == f"2 of {len(parts)}"
    names = {f["name"] for f in handed["files"]}
    assert names and all(f["dicom"]["patient_id"] == "PAT778812" for f in handed["files"])
    assert handed["state"] == "handed-over"


@pytest.mark.parametrize("option", ["--deidentify", "--compress", "--split"])
def test_package_for_others_is_refused_with_dicom_options(setup, pki: Pki, option: str) -> None:  # type: ignore[no-untyped-def]
    """A recipient without a certificate would get the originals in a password package: refused."""
    run, _password, tmp_path = setup
    study = write_study(tmp_path / "study", 2)
    out = tmp_path / "p.eml"
    code, stdout, err = run("compose", "--to", "nocert@example.net", "--subject", "X", "--body", "Hi\n", "-o", str(out),
                            "--passphrase-file", str(pki.passphrase_file), "--attach", str(study.files[0]),
                            "--package-for-others", option)
    assert code == 2 and "--package-for-others" in err and "Traceback" not in err
    assert not list(tmp_path.glob("p.*")) and transfers(run) == []


def test_split_send_without_a_file_goes_through_the_outbox(setup, smtp_server_factory, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    """compose --send without -o: the parts are built into the outbox's staging and all leave."""
    run, password, tmp_path = setup
    server = smtp_server_factory("starttls", password=PASSWORD)
    add_account(run, password, server)
    study = write_study(tmp_path / "study", 6, 256, 256)
    code, out, err = run("compose", "--to", "bob@example.org", "--subject", "CBCT", "--body", "Hi\n",
                         "--passphrase-file", str(pki.passphrase_file), "--send", "--password-file", str(password),
                         "--attach", str(study.folder), "--split", "--size-limit", "1")
    assert code == 0, out + err
    logged = transfers(run)
    assert len(logged) >= 2 and len(server.received) == len(logged)
    assert {t["part"] for t in logged} == {f"{k} of {len(logged)}" for k in range(1, len(logged) + 1)}
    assert all(t["state"] == "sent" and t["method"] == "split-parts" for t in logged)
    assert not list(tmp_path.glob("*.eml"))
