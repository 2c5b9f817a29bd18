"""Compose's "Remove patient details" switch and its before/after table, end to end.

The table is read as the user sees it; the message saved with the switch on is decrypted and
verified by OpenSSL and its DICOM attachment judged by DCMTK's dcmdump, and every byte of it
is scanned for the patient's values.
"""

from __future__ import annotations

import email
import email.policy
import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from smimehelper.gui.compose import ComposeView
from smimehelper.gui.compose.deid import PACKAGE_REFUSED, REMOVED
from tests.core.dicom.synthetic import LEAK_STRINGS, write_intra_oral
from tests.gui.test_compose import Settle, assert_success, fill, save_to, view  # noqa: F401 (fixture)
from tests.judges import openssl_decrypt, openssl_verify
from tests.pki.make_pki import Pki


def attached_files(content: bytes) -> dict[str, bytes]:
    msg = email.message_from_bytes(content, policy=email.policy.default)
    return {p.get_filename(): p.get_content() for p in msg.walk() if p.get_filename()}


def test_table_shows_what_the_files_say_and_what_is_sent(qtbot, view: ComposeView, settle: Settle, tmp_path: Path) -> None:
    panel = view.deid
    assert panel.isHidden()  # nothing to say without DICOM files
    view.add_attachments([write_intra_oral(tmp_path / "bitewing.dcm")])
    settle()
    assert panel.isVisible() and not panel.switch.isChecked()
    assert panel.cell("Patient's name", 0) == "Erika Anna Muster"
    assert panel.cell("Patient ID", 0) == "PAT778812" and panel.cell("Birth date", 0) == "1975-04-12"
    assert panel.cell("Institution", 0) == "Zahnarztpraxis Sonnenberg"
    assert panel.cell("Patient's name", 1) == "Erika Anna Muster"  # switch off: sent as they are
    assert "renaming a file hides nothing" in panel.note.text()

    panel.switch.setChecked(True)
    assert panel.cell("Patient's name", 1) == "ANONYMOUS"
    assert panel.cell("Patient ID", 1).startswith("ANON") and "PAT778812" not in panel.cell("Patient ID", 1)
    for row in ("Birth date", "Sex", "Institution", "Referring physician", "Study description"):
        assert panel.cell(row, 1) == REMOVED, row
    assert panel.cell("Patient's name", 0) == "Erika Anna Muster"  # the originals are unchanged
    assert "de-identified copies" in panel.note.text()
    assert view.deid.switch.accessibleName() and view.deid.switch.toolTip()


def test_several_patients_and_burned_in_text(qtbot, view: ComposeView, settle: Settle, tmp_path: Path) -> None:
    first = write_intra_oral(tmp_path / "a.dcm")
    second = write_intra_oral(tmp_path / "b.dcm", seed=2, modality="US")
    import pydicom

    ds = pydicom.dcmread(second)
    ds.PatientName, ds.PatientID = "Roe^John", "P-2002"
    del ds.BurnedInAnnotation  # an ultrasound that does not say: it often shows the name in the image
    ds.save_as(second)
    view.add_attachments([first, second])
    settle()
    panel = view.deid
    assert panel.cell("Patient's name", 0) == "Erika Anna Muster; John Roe"
    assert panel.warning.isVisible() and "b.dcm" in panel.warning.text()
    assert "does not remove text inside the image" in panel.warning.text()


def test_saved_with_the_switch_on_carries_no_patient_details(qtbot, view: ComposeView, settle: Settle, tmp_path: Path,
                                                             pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    original = write_intra_oral(tmp_path / "Erika_Muster.dcm")
    before = original.read_bytes()
    out = tmp_path / "out" / "second-opinion"
    out.parent.mkdir()
    save_to(monkeypatch, out)
    fill(qtbot, view, "bob@example.org", subject="Second opinion")
    view.add_attachments([original])
    settle()
    view.deid.switch.setChecked(True)
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert_success(view)
    assert "Patient details removed from 1 DICOM file" in view.result_text()
    saved = out.with_suffix(".eml")
    content = openssl_verify(openssl_decrypt(saved, pki.entity("bob").cert_pem, pki.entity("bob").key_path),
                             pki.root.cert_pem, attime=pki.now)
    files = attached_files(content)
    assert list(files) == ["IMG00001.dcm"]  # the original name held the patient's name
    # What travels in clear (the outer headers) and everything inside the encryption; the base64
    # ciphertext itself is random letters that may spell a short name by chance.
    clear_headers = saved.read_bytes().split(b"\r\n\r\n", 1)[0]
    everything = clear_headers + content + files["IMG00001.dcm"]
    assert not [s for s in LEAK_STRINGS if s.encode() in everything]
    sent = tmp_path / "sent.dcm"
    sent.write_bytes(files["IMG00001.dcm"])
    dump = subprocess.run(["dcmdump", "+P", "PatientIdentityRemoved", str(sent)], capture_output=True, text=True, check=True)
    assert "[YES]" in dump.stdout
    assert original.read_bytes() == before
    assert sorted(p.name for p in saved.parent.iterdir()) == ["second-opinion.eml"]


def test_switch_off_sends_the_file_as_it_is(qtbot, view: ComposeView, settle: Settle, tmp_path: Path, pki: Pki,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    original = write_intra_oral(tmp_path / "xray.dcm")
    out = tmp_path / "plain"
    save_to(monkeypatch, out)
    fill(qtbot, view, "bob@example.org")
    view.add_attachments([original])
    settle()
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert_success(view)
    content = openssl_verify(openssl_decrypt(out.with_suffix(".eml"), pki.entity("bob").cert_pem,
                                             pki.entity("bob").key_path), pki.root.cert_pem, attime=pki.now)
    assert attached_files(content) == {"xray.dcm": original.read_bytes()}


def test_no_password_package_while_the_switch_is_on(qtbot, view: ComposeView, settle: Settle, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr(view, "choose_package_way", lambda email, _has: asked.append(email))
    view.add_attachments([write_intra_oral(tmp_path / "x.dcm")])
    settle()
    view.deid.switch.setChecked(True)
    view.send_as_package("nocert@example.net")
    assert asked == [] and view.result_text() == PACKAGE_REFUSED and view.result_kind() == "error"


def test_cancel_while_removing_patient_details_leaves_nothing(qtbot, view: ComposeView, settle: Settle, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Many files go to worker processes (from the app's worker thread: a fork server); Cancel
    stops them and the private folder with the copies is removed."""
    import tempfile

    from tests.core.dicom.synthetic import write_study

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    study = write_study(tmp_path / "study", 1500, 32, 32)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    save_to(monkeypatch, out_dir / "study.eml")
    fill(qtbot, view, "bob@example.org")
    view.add_attachments([study.folder])
    settle(120_000)
    view.deid.switch.setChecked(True)
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Removing patient details:" in view.progress_label.text(), timeout=60_000)
    assert " of 1500 files" in view.progress_label.text() and view.progress_bar.value() < 1000
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    settle(120_000)
    assert "Cancelled" in view.result_text() and view.result_kind() == "info"
    assert list(out_dir.iterdir()) == []
    # Nothing but the fork server's socket folder (multiprocessing removes it when the app exits).
    assert [p for p in scratch.iterdir() if not p.name.startswith("pymp-")] == []
