"""The disclosure log end to end, as a user runs it: real sends through aiosmtpd, a real rsyslog
with a TLS input, the PDF read back by pdftotext, the DICOM fields checked against DCMTK's
dcmdump, the export's checkpoint checked by ``openssl cms -verify``, a full disk and a
read-only data folder on a real tmpfs."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from smimehelper import services
from smimehelper.cli.main import main
from tests.core.disclosure.rsyslog import Rsyslog
from tests.pki.make_pki import Pki
from tests.transport.servers import TlsMaterials
from tests.transport.test_delivery import PASSWORD, add_account, setup  # noqa: F401 (fixture)


def dicom(path: Path, name: str, patient_id: str, *, deidentified: bool = False) -> Path:
    import pydicom

    from smimehelper.demo_xray import write_synthetic_dental_xray

    write_synthetic_dental_xray(path)
    ds = pydicom.dcmread(path)
    ds.PatientName, ds.PatientID = name, patient_id
    ds.StudyDate, ds.StudyDescription = "20260530", f"Panoramic of {patient_id}"
    if deidentified:
        ds.PatientName, ds.PatientID, ds.PatientIdentityRemoved = "", "", "YES"
    ds.save_as(path)
    return path


def dcmdump(path: Path, tag: str) -> str:
    out = subprocess.run(["dcmdump", "+P", tag, str(path)], capture_output=True, text=True, check=True).stdout
    return out.split("[", 1)[1].split("]", 1)[0] if "[" in out else ""


def send(run, password: Path, pki: Pki, out: Path, *files: Path, purpose: str | None = None) -> None:  # type: ignore[no-untyped-def]
    extra = [a for f in files for a in ("--attach", str(f))] + (["--purpose", purpose] if purpose else [])
    code, stdout, err = run("compose", "--to", "Dr Bob <bob@example.org>", "--subject", "Referral", "--body", "Hello\n",
                            "-o", str(out), "--passphrase-file", str(pki.passphrase_file), "--send",
                            "--password-file", str(password), *extra)
    assert code == 0, stdout + err


def transfers(run) -> list[dict]:  # type: ignore[no-untyped-def]
    code, out, err = run("log", "list", "--json")
    assert code == 0, err
    return json.loads(out)["transfers"]


@pytest.fixture
def rsyslog(tls_materials: TlsMaterials, tmp_path: Path):  # type: ignore[no-untyped-def]
    server = Rsyslog(tmp_path / "rsyslog", tls_materials.cafile, tls_materials.localhost.cert_file,
                     tls_materials.localhost.key_file)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_sends_are_logged_forwarded_once_each_and_exported_per_patient(  # type: ignore[no-untyped-def]
        setup, smtp_server_factory, rsyslog: Rsyslog, tls_materials: TlsMaterials, pki: Pki) -> None:
    run, password, tmp_path = setup
    server = smtp_server_factory("starttls", password=PASSWORD)
    add_account(run, password, server)
    code, _, err = run("log", "forward", "--host", "127.0.0.1", "--port", str(rsyslog.port), "--cafile", str(tls_materials.cafile))
    assert code == 0, err
    jane = dicom(tmp_path / "jane.dcm", "Doe^Jane", "P-1001")
    john = dicom(tmp_path / "john.dcm", "Roe^John", "P-2002")
    anon = dicom(tmp_path / "anon.dcm", "", "", deidentified=True)

    send(run, password, pki, tmp_path / "m1.eml", jane, john)
    [first] = transfers(run)
    assert first["state"] == "sent" and first["reply"].startswith("250")
    assert [r["address"] for r in first["recipients"]] == ["bob@example.org"] and first["recipients"][0]["name"] == "Dr Bob"
    assert first["purpose"] == "treatment / referral" and first["method"] == "smime" and first["via"] == "alice@example.org"
    assert first["message_id"] and [o["outcome"] for o in first["outcomes"]] == ["queued", "sent"]
    by_name = {f["name"]: f for f in first["files"]}
    for path in (jane, john):
        logged = by_name[path.name]
        assert logged["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert logged["type"] == "application/dicom"
        assert logged["dicom"]["patient_id"] == dcmdump(path, "PatientID")  # DCMTK reads the same
        assert logged["dicom"]["name"] == dcmdump(path, "PatientName").replace("^", " ")
        assert logged["dicom"]["study_date"] == "2026-05-30"
    log_file = Path(os.environ["SMIMEHELPER_HOME"]) / "disclosure" / "log.jsonl"
    assert b"Hello" not in log_file.read_bytes() and b"test-pass" not in log_file.read_bytes()  # no message text, no passphrase
    entries = log_file.read_bytes().splitlines()
    got = rsyslog.wait_for(len(entries))
    assert len(got) == len(entries)

    rsyslog.stop()  # the log server is down: three more sends still go out, their entries wait
    send(run, password, pki, tmp_path / "m2.eml", jane)
    send(run, password, pki, tmp_path / "m3.eml", anon, purpose="second opinion")
    send(run, password, pki, tmp_path / "m4.eml", jane)
    assert len(server.received) == 4
    code, out, _ = run("log", "forward", "--status")
    assert code == 0 and " waiting" in out and " 0 entries" not in out
    rsyslog.start()
    code, out, err = run("log", "forward")
    assert code == 0, out + err
    entries = log_file.read_bytes().splitlines()
    received = rsyslog.wait_for(len(entries))
    messages = [line.split("] \ufeff", 1)[1].encode() for line in received]
    assert messages == entries  # every entry once, in order, byte for byte
    assert len(set(messages)) == len(messages)

    listed = transfers(run)
    assert [t["state"] for t in listed] == ["sent"] * 4
    assert listed[2]["files"][0]["dicom"] == {"deidentified": True} and listed[2]["purpose"] == "second opinion"
    code, out, _ = run("log", "list", "--patient", "jane doe")
    assert code == 0 and out.count("to Dr Bob <bob@example.org>") == 3
    assert run("log", "verify")[0] == 0

    pdf = tmp_path / "jane.pdf"
    code, out, err = run("log", "export", "--patient", "P-1001", "--pdf", str(pdf), "--practice", "Zahnarztpraxis Müller",
                         "--passphrase-file", str(pki.passphrase_file))
    assert code == 0, out + err
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Accounting of disclosures" in text and "Zahnarztpraxis Müller" in text and "Doe Jane" in text
    assert text.count("jane.dcm") == 3 and text.count(hashlib.sha256(jane.read_bytes()).hexdigest()) == 3
    assert "P-2002" not in text and "Roe" not in text and "john.dcm" not in text and "anon.dcm" not in text
    assert "1 file of other patients" in text and "2026-06-01" in text
    assert "signed" in text and "verify" in text

    # the export signed a checkpoint; OpenSSL verifies it against the user's authority
    folder = log_file.parent / "checkpoints"
    statement = sorted(folder.glob("*.txt"))[-1]
    check = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(statement.with_suffix(".p7s")),
                            "-content", str(statement), "-CAfile", str(pki.root.cert_pem),
                            "-attime", str(int(pki.now.timestamp())), "-out", "/dev/null"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr

    table = tmp_path / "jane.csv"
    assert run("log", "export", "--patient", "p-1001", "--csv", str(table), "--passphrase-file", str(pki.passphrase_file))[0] == 0
    rows = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 3 and {r["patient_id"] for r in rows} == {"P-1001"} and {r["state"] for r in rows} == {"sent"}


def test_a_hand_off_is_logged(setup, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    run, _, tmp_path = setup
    jane = dicom(tmp_path / "jane.dcm", "Doe^Jane", "P-1001")
    message = tmp_path / "m.eml"
    assert run("compose", "--to", "bob@example.org", "--subject", "s", "--body", "b", "-o", str(message), "--attach", str(jane),
               "--passphrase-file", str(pki.passphrase_file))[0] == 0
    assert transfers(run) == []  # composing alone discloses nothing
    from tests.core.handoff.test_queue import make_profile

    profile = make_profile(tmp_path)
    assert run("export", str(message), "--to-draft", str(tmp_path / "draft.eml"))[0] == 2  # removed: not a disclosure
    assert transfers(run) == []
    code, out, err = run("export", str(message), "--thunderbird-profile", str(profile.path), "--no-start")
    assert code == 0, err
    [logged] = transfers(run)
    assert logged["method"] == "handoff" and logged["state"] == "handed-over" and "Thunderbird's Outbox" in logged["via"]
    assert logged["files"][0]["dicom"]["patient_id"] == "P-1001"


@pytest.fixture
def small_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs (CI runs as root)")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(disk)], check=True)
    monkeypatch.setenv("SMIMEHELPER_HOME", str(disk))
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.parametrize("trouble", ["full", "read-only"])
def test_no_log_entry_means_nothing_is_sent(small_home: Path, trouble: str, pki: Pki, tmp_path: Path,  # type: ignore[no-untyped-def]
                                            smtp_server_factory, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(services, "clock", lambda: pki.now)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    password = tmp_path / "password.txt"
    password.write_text(PASSWORD)
    assert run("identity", "import", str(pki.entity("alice").p12), "--passphrase-file", str(pki.passphrase_file))[0] == 0
    assert run("trust", "add", str(pki.root.cert_pem))[0] == 0
    assert run("contacts", "import", str(pki.entity("bob").cert_pem))[0] == 0
    server = smtp_server_factory("starttls", password=PASSWORD)
    add_account(run, password, server)
    message = tmp_path / "m.eml"  # composed outside the data folder
    composed = run("compose", "--to", "bob@example.org", "--subject", "s", "--body", "b", "-o", str(message),
                   "--passphrase-file", str(pki.passphrase_file))
    assert composed[0] == 0, composed
    if trouble == "full":
        fd = os.open(small_home / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        for size in (65536, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
        os.close(fd)
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(small_home)], check=True)
    code, out, err = run("send", str(message), "--password-file", str(password))
    assert code == 2, out + err
    assert "disclosure log" in err and "Nothing was sent" in err
    assert ("disk is full" if trouble == "full" else "read-only") in err
    assert server.received == [] and server.connections == 0
    assert run("outbox", "list", "--json")[1].count('"id"') == 0
