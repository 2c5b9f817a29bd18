"""Compose with large studies, end to end: a folder as one study, "Make smaller (lossless)" with
its measured saving, and "Send as N messages" for a message over the account's limit.

Judges: OpenSSL decrypts and verifies every message saved or sent; DCMTK's dcmdump reads the
DICOMDIR of the study archive and dcmdjpls decodes the compressed images back to the original
pixels; the files that travel are compared byte for byte with the originals. Every test runs
with its own temporary folder and checks that nothing is left in it.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog

from smimehelper import services
from smimehelper.core.transport.accounts import make_account
from smimehelper.gui.compose import ComposeView
from smimehelper.gui.compose.large import THUNDERBIRD_PARTS
from tests.core.dicom.synthetic import write_intra_oral, write_study
from tests.gui.test_compose import (  # noqa: F401 (fixtures)
    Settle, add_account, assert_success, fill, save_to, smtp, tls, view,
)
from tests.judges import openssl_decrypt, openssl_verify
from tests.pki.make_pki import Pki
from tests.transport.servers import SMTP_PASSWORD, SmtpServer, TlsMaterials

LIMIT = 1_000_000  # a small mail account: a 12-slice study is too large for one message


def attached(content: bytes) -> dict[str, bytes]:
    msg = email.message_from_bytes(content, policy=email.policy.default)
    return {p.get_filename(): p.get_content() for p in msg.walk() if p.get_filename()}


def decrypted(pki: Pki, message: bytes | Path, who: str = "bob") -> bytes:
    return openssl_verify(openssl_decrypt(message, pki.entity(who).cert_pem, pki.entity(who).key_path),
                          pki.root.cert_pem, attime=pki.now)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The temporary folder every part of the app uses in this test (checked empty at the end)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder


def leftovers(folder: Path, within_ms: int = 3000) -> list[str]:
    """What the app left in the temporary folder (the fork server's socket folder is
    multiprocessing's and goes when the app exits). Waits, processing events, up to
    ``within_ms``: pydicom's empty staging folder goes at the GUI thread's next garbage
    collection (smimehelper/gui/collector.py, every half second)."""
    deadline = time.monotonic() + within_ms / 1000
    while True:
        names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("pymp-"))
        if not names or time.monotonic() > deadline:
            return names
        QTest.qWait(50)


def small_account(stores: services.Stores, view: ComposeView, settle: Settle) -> None:
    stores.accounts.add(make_account("alice@example.org", smtp_host="127.0.0.1", size_limit=LIMIT), None)
    view.refresh()
    settle()


def choose_folder(monkeypatch: pytest.MonkeyPatch, folder: Path) -> list[tuple[object, ...]]:
    calls: list[tuple[object, ...]] = []

    def chooser(*args: object, **_kwargs: object) -> str:
        calls.append(args)
        return str(folder)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", chooser)
    return calls


# -- a folder is one study ---------------------------------------------------------------------------


def test_added_folder_is_one_study_sent_as_a_fileset_with_dicomdir(qtbot, view: ComposeView, settle: Settle, tmp_path: Path,
                                                                   pki: Pki, scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    study = write_study(tmp_path / "Muster_CBCT", 12)
    (study.folder / "report.txt").write_text("not DICOM")
    choose_folder(monkeypatch, study.folder)
    qtbot.mouseClick(view.files.folder_button, Qt.MouseButton.LeftButton)
    assert [p.name for p in view.attachments()] == ["Muster_CBCT"]
    settle()
    entry = view.attachment(study.folder)
    assert entry is not None and entry.item is not None
    assert entry.item.text(2) == "DICOM study, 12 files"
    assert entry.size == sum(p.stat().st_size for p in study.files) and view.files.count() == 12
    assert "one study archive" in entry.item.toolTip(0) and "report.txt" in entry.item.toolTip(0) and "not sent" in entry.item.toolTip(0)
    assert not entry.item.icon(0).isNull()
    assert view.deid.isVisible() and view.deid.cell("Patient ID", 0) == "PAT778812"  # the study's files are read

    out = tmp_path / "out" / "study.eml"
    out.parent.mkdir()
    save_to(monkeypatch, out)
    fill(qtbot, view, "bob@example.org", subject="CBCT for the referral")
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    settle(60_000)
    assert_success(view)
    assert "12 DICOM files of Muster_CBCT as one study archive" in view.result_text()
    files = attached(decrypted(pki, out))
    assert list(files) == ["Muster_CBCT.zip"]
    unpacked = tmp_path / "unpacked"
    archive = tmp_path / "study.zip"
    archive.write_bytes(files["Muster_CBCT.zip"])
    with zipfile.ZipFile(archive) as handle:
        handle.extractall(unpacked)
    dump = subprocess.run(["dcmdump", "-E", str(unpacked / "DICOMDIR")], capture_output=True, text=True)
    assert dump.returncode == 0, dump.stderr
    referenced = [line.split("[", 1)[1].split("]", 1)[0].replace("\\", "/") for line in dump.stdout.splitlines() if "ReferencedFileID" in line]
    assert len(referenced) == 12 and all((unpacked / r).is_file() for r in referenced)
    assert study.study_uid in dump.stdout
    pixels = {pydicom.dcmread(p).SOPInstanceUID: pydicom.dcmread(p).PixelData for p in study.files}
    assert {pydicom.dcmread(unpacked / r).SOPInstanceUID: pydicom.dcmread(unpacked / r).PixelData for r in referenced} == pixels
    assert sorted(p.name for p in out.parent.iterdir()) == ["study.eml"]
    assert leftovers(scratch) == []


def test_a_folder_without_dicom_files_attaches_its_files(qtbot, view: ComposeView, settle: Settle, tmp_path: Path) -> None:
    folder = tmp_path / "letters"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    view.add_attachments([folder])
    settle()
    assert sorted(p.name for p in view.attachments()) == ["a.txt", "b.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    view.add_attachments([empty])
    settle()
    assert "holds no files" in view.result_text() and empty not in view.attachments()


# -- make smaller (lossless) ---------------------------------------------------------------------------


def test_make_smaller_shows_the_measured_saving_and_sends_pixel_exact_images(
        qtbot, view: ComposeView, settle: Settle, tmp_path: Path, pki: Pki, pki_home: services.Stores, scratch: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    small_account(pki_home, view, settle)
    xray = write_intra_oral(tmp_path / "bitewing.dcm")
    study = write_study(tmp_path / "cbct", 12, 256, 256)
    already = tmp_path / "compressed.dcm"
    already.write_bytes(Path(pydicom.data.get_testdata_file("JPEG2000.dcm")).read_bytes())
    view.add_attachments([xray, study.folder, already])
    settle()
    fill(qtbot, view, "bob@example.org")
    shrink = view.shrink
    assert shrink.isVisible() and not shrink.switch.isChecked()
    assert "13 uncompressed DICOM images could be sent smaller" in shrink.saving_label.text()
    assert view.over_limit() and view.split_offer.isVisible() and "smaller (lossless)" in view.split_offer.text.text()

    shrink.switch.setChecked(True)
    settle(60_000)
    label = shrink.saving_label.text()
    before = xray.stat().st_size + sum(p.stat().st_size for p in study.files)
    assert f"13 uncompressed DICOM images: {before / 1e6:.1f} MB now" in label and "% smaller, measured" in label, label
    assert "made smaller" in view.size_label.text()
    # Measured small enough: the message fits the account again, no split is offered.
    assert not view.over_limit() and view.split_offer.isHidden()
    shrink.details.expand()
    assert "JPEG-LS Lossless" in shrink.details.text() and "pixel for pixel" in shrink.details.text()
    assert leftovers(scratch) == []  # the measured copies are gone

    out = tmp_path / "out" / "small.eml"
    out.parent.mkdir()
    save_to(monkeypatch, out)
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    settle(60_000)
    assert_success(view)
    assert "Lossless compression:" in view.result_text() and "smaller" in view.result_text()
    files = attached(decrypted(pki, out))
    assert set(files) == {"bitewing.dcm", "cbct.zip", "compressed.dcm"}
    assert files["compressed.dcm"] == already.read_bytes()  # already compressed: travels unchanged
    sent = tmp_path / "sent.dcm"
    sent.write_bytes(files["bitewing.dcm"])
    assert len(files["bitewing.dcm"]) < xray.stat().st_size
    decoded = tmp_path / "decoded.dcm"
    proc = subprocess.run(["dcmdjpls", str(sent), str(decoded)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert pydicom.dcmread(decoded).PixelData == pydicom.dcmread(xray).PixelData
    assert subprocess.run(["dcmdump", "-E", str(sent)], capture_output=True).returncode == 0
    archive = tmp_path / "cbct.zip"
    archive.write_bytes(files["cbct.zip"])
    with zipfile.ZipFile(archive) as handle:
        handle.extractall(tmp_path / "unpacked")
    originals = {pydicom.dcmread(p).SOPInstanceUID: pydicom.dcmread(p).PixelData for p in study.files}
    members = [p for p in (tmp_path / "unpacked").rglob("*") if p.is_file() and p.name != "DICOMDIR"]
    assert len(members) == 12
    for member in members:
        target = tmp_path / f"{member.name}.raw.dcm"
        assert subprocess.run(["dcmdjpls", str(member), str(target)], capture_output=True).returncode == 0
        decoded_member = pydicom.dcmread(target)
        assert decoded_member.PixelData == originals[decoded_member.SOPInstanceUID]
    assert leftovers(scratch) == []


def test_stop_measuring_and_cancel_while_compressing_leave_nothing(
        qtbot, view: ComposeView, settle: Settle, tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    study = write_study(tmp_path / "big", 400, 128, 128)
    view.add_attachments([study.folder])
    settle(120_000)
    view.shrink.switch.setChecked(True)
    qtbot.waitUntil(lambda: "Measuring the saving:" in view.shrink.saving_label.text(), timeout=60_000)
    assert view.shrink.stop_button.isVisible()
    qtbot.mouseClick(view.shrink.stop_button, Qt.MouseButton.LeftButton)
    settle(120_000)
    assert "Stopped measuring" in view.shrink.saving_label.text() and not view.shrink.measuring()
    assert view.shrink.enabled()  # still made smaller when sent
    assert leftovers(scratch) == []

    out = tmp_path / "out"
    out.mkdir()
    save_to(monkeypatch, out / "big.eml")
    fill(qtbot, view, "bob@example.org")
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Making the images smaller (lossless):" in view.progress_label.text(), timeout=60_000)
    assert " of 400 files" in view.progress_label.text()
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    settle(120_000)
    assert "Cancelled" in view.result_text() and view.result_kind() == "info"
    assert list(out.iterdir()) == [] and leftovers(scratch) == []


# -- too large: send as several messages --------------------------------------------------------------


def test_too_large_offers_send_as_n_messages_and_saves_the_parts(
        qtbot, view: ComposeView, settle: Settle, tmp_path: Path, pki: Pki, pki_home: services.Stores, scratch: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    small_account(pki_home, view, settle)
    study = write_study(tmp_path / "cbct", 12, 256, 256)
    view.add_attachments([study.folder])
    settle()
    fill(qtbot, view, "bob@example.org", subject="CBCT")
    offer = view.split_offer
    assert view.over_limit() and offer.isVisible()
    count = offer.count()
    assert count >= 3 and offer.choice.text() == f"Send as {count} messages"
    assert "alice@example.org accepts at most 1.0 MB" in offer.text.text()
    assert "saves the attachments of all of them into one folder" in offer.note.text()
    offer.details.expand()
    assert "smimehelper-parts.json" in offer.details.text() and f"Part {count} of {count}:" in offer.details.text()

    # Without the choice, Send names the way out before any passphrase is asked.
    pki_home.accounts.add(make_account("alice@example.org", smtp_host="127.0.0.1", size_limit=LIMIT), None)
    qtbot.mouseClick(view.send_button, Qt.MouseButton.LeftButton)
    assert view.result_kind() == "error" and f'tick "Send as {count} messages"' in view.result_text()
    assert view.passphrase_asked == []  # type: ignore[attr-defined]

    offer.choice.setChecked(True)
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "encrypted-message.part-1-of-9.eml").write_bytes(b"an older send: never replaced")
    dialogs = choose_folder(monkeypatch, folder)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: pytest.fail("a file name was asked for parts"))
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    assert view.progress_area.isVisible() and not offer.choice.isEnabled()
    settle(60_000)
    assert_success(view)
    assert dialogs and f"{count} messages" in str(dialogs[0][1])
    assert f"Saved {count} messages to {folder}" in view.result_text(), view.result_text()
    assert f"split into {count} messages" in view.result_text()
    parts = sorted(folder.glob("encrypted-message-2.part-*.eml"))
    assert [p.name for p in parts] == [f"encrypted-message-2.part-{k}-of-{count}.eml" for k in range(1, count + 1)]
    assert (folder / "encrypted-message.part-1-of-9.eml").read_bytes() == b"an older send: never replaced"
    got: dict[str, bytes] = {}
    for number, part in enumerate(parts, start=1):
        assert part.stat().st_size < LIMIT
        raw = part.read_bytes()
        assert f"CBCT (part {number} of {count})".encode() in raw.split(b"\r\n\r\n", 1)[0]
        files = attached(decrypted(pki, part))  # OpenSSL decrypts and verifies each part
        manifest = json.loads(files.pop("smimehelper-parts.json"))
        assert manifest["part"] == number and manifest["parts"] == count and len(manifest["files"]) == 12
        got.update(files)
    assert {n: sha(d) for n, d in got.items()} == {p.name: sha(p.read_bytes()) for p in study.files}
    assert leftovers(scratch) == []


def test_send_as_n_messages_through_the_account(qtbot, view: ComposeView, settle: Settle, tmp_path: Path, pki: Pki,
                                                pki_home: services.Stores, smtp: SmtpServer, tls: TlsMaterials,
                                                scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_account(pki_home, smtp, tls, size_limit=LIMIT)
    view.refresh()
    settle()
    monkeypatch.setattr(view, "ask_account_password", lambda _account: SMTP_PASSWORD.encode())
    study = write_study(tmp_path / "cbct", 9, 256, 256)
    view.add_attachments([study.folder])
    settle()
    fill(qtbot, view, "bob@example.org", subject="Study")
    count = view.split_offer.count()
    assert count >= 2
    view.split_offer.choice.setChecked(True)
    qtbot.mouseClick(view.send_button, Qt.MouseButton.LeftButton)
    settle(90_000)
    assert_success(view)
    assert f"Sent to bob@example.org as {count} messages" in view.result_text(), view.result_text()
    assert len(smtp.received) == count
    got: dict[str, bytes] = {}
    numbers = set()
    for received in smtp.received:
        assert len(received.data) < LIMIT and set(received.rcpt_tos) == {"bob@example.org"}
        files = attached(decrypted(pki, received.data))
        numbers.add(json.loads(files.pop("smimehelper-parts.json"))["part"])
        got.update(files)
    assert numbers == set(range(1, count + 1))
    assert {n: sha(d) for n, d in got.items()} == {p.name: sha(p.read_bytes()) for p in study.files}
    assert [i.state for i in pki_home.outbox.items()] == ["sent"] * count
    assert view.attachments() == [] and view.split_offer.isHidden()  # sent: the form is empty again
    assert leftovers(scratch) == []


def test_one_file_too_large_even_alone_is_named_and_thunderbird_gets_no_parts(
        qtbot, view: ComposeView, settle: Settle, tmp_path: Path, pki_home: services.Stores) -> None:
    small_account(pki_home, view, settle)
    big = tmp_path / "scan.raw"
    big.write_bytes(b"\x01" * 700_000)
    view.add_attachments([big])
    settle()
    offer = view.split_offer
    assert offer.isVisible() and offer.count() == 0 and not offer.choice.isEnabled()
    assert "scan.raw alone" in offer.text.text() and "save the message as a file" in offer.text.text()
    view.remove_attachments([big])
    small, other = tmp_path / "a.raw", tmp_path / "b.raw"
    small.write_bytes(b"\x02" * 400_000)
    other.write_bytes(b"\x03" * 300_000)
    view.add_attachments([small, other])
    settle()
    assert offer.count() == 2 and offer.choice.isEnabled()
    offer.choice.setChecked(True)
    fill(qtbot, view, "bob@example.org")
    qtbot.mouseClick(view.open_button, Qt.MouseButton.LeftButton)
    assert view.result_text() == THUNDERBIRD_PARTS and not view.busy()
    view.remove_attachments([small])
    assert view.split_offer.isHidden() and not view.split_offer.chosen()  # fits again: one message


def test_a_password_package_of_a_study_folder_carries_its_dicom_files(qtbot, view: ComposeView, settle: Settle, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A package is not a study archive: the folder's DICOM files go into it one by one (never
    the folder path, which the package cannot read)."""
    from smimehelper.core.package.reader import open_package

    study = write_study(tmp_path / "cbct", 3)
    shown: list[str] = []
    monkeypatch.setattr(view, "choose_package_way", lambda _email, _has: "save")
    monkeypatch.setattr(view, "show_passphrase", lambda _recipient, phrase, _summary: shown.append(phrase))
    out = tmp_path / "package.html"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(out), ""))
    fill(qtbot, view, "nobody@example.org")
    view.add_attachments([study.folder])
    settle()
    view.send_as_package("nobody@example.org")
    settle(60_000)
    assert view.result_kind() == "ok", view.result_text()
    opened = open_package(out, shown[0], tmp_path / "saved")
    assert sorted(f.name for f in opened.files) == sorted(p.name for p in study.files)
    assert digests_equal(tmp_path / "saved", study.files)


def digests_equal(folder: Path, originals: tuple[Path, ...]) -> bool:
    return {p.name: sha(p.read_bytes()) for p in folder.iterdir()} == {p.name: sha(p.read_bytes()) for p in originals}


def test_made_smaller_and_still_too_large_splits_as_offered(qtbot, view: ComposeView, settle: Settle, tmp_path: Path, pki: Pki,
                                                           pki_home: services.Stores, scratch: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Noise compresses a little: the offer counts the messages from the measured sizes, and the
    parts saved are that many, each under the limit, with pixel-exact JPEG-LS images."""
    small_account(pki_home, view, settle)
    study = write_study(tmp_path / "noisy", 16, 256, 256, noise=True)
    view.add_attachments([study.folder])
    settle()
    fill(qtbot, view, "bob@example.org", subject="Noisy")
    uncompressed = view.split_offer.count()
    view.shrink.switch.setChecked(True)
    settle(60_000)
    assert "% smaller, measured" in view.shrink.saving_label.text()
    count = view.split_offer.count()
    assert 2 <= count <= uncompressed and view.split_offer.isVisible()
    view.split_offer.choice.setChecked(True)
    folder = tmp_path / "parts"
    folder.mkdir()
    choose_folder(monkeypatch, folder)
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    settle(60_000)
    assert_success(view)
    parts = sorted(folder.iterdir())
    assert len(parts) == count, view.result_text()
    originals = {pydicom.dcmread(p).SOPInstanceUID: pydicom.dcmread(p).PixelData for p in study.files}
    checked = 0
    for part in parts:
        assert part.stat().st_size < LIMIT
        files = attached(decrypted(pki, part))
        files.pop("smimehelper-parts.json")
        for name, data in files.items():
            sent, raw = tmp_path / f"s-{name}", tmp_path / f"r-{name}"
            sent.write_bytes(data)
            assert subprocess.run(["dcmdjpls", str(sent), str(raw)], capture_output=True).returncode == 0
            decoded = pydicom.dcmread(raw)
            assert decoded.PixelData == originals[decoded.SOPInstanceUID]
            checked += 1
    assert checked == 16 and leftovers(scratch) == []
