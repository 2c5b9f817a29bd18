"""Large studies in the app when things go wrong: a full disk (a real 1 MB tmpfs, as root) while
measuring the saving, while saving the parts and while saving a reassembled study; a folder
chosen for the parts that is no folder; a FIFO inside a study folder; unrelated messages
opened together. Each gets a plain sentence, no traceback, and nothing half-written or left in
the temporary folder.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from smimehelper import services
from smimehelper.gui.compose import ComposeView
from smimehelper.gui.open_view import PROBLEM, OpenView
from tests.core.dicom.synthetic import write_intra_oral, write_study
from tests.core.helpers import compose as compose_plain
from tests.gui.conftest import PKI_PASSPHRASE
from tests.gui.test_compose import Settle, fill, view  # noqa: F401 (fixture)
from tests.gui.test_compose_study import LIMIT, choose_folder, leftovers, scratch, small_account  # noqa: F401 (fixture)
from tests.gui.test_open_study import choose_messages, split_study  # noqa: F401 (fixture)
from tests.pki.make_pki import Pki
from tests.small_disk import small_disk  # noqa: F401 (fixture)




def test_a_full_temporary_folder_while_measuring_says_so(qtbot, view: ComposeView, settle: Settle, tmp_path: Path,  # noqa: ANN001
                                                         small_disk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    study = write_study(tmp_path / "big", 1, 1024, 1024, noise=True)  # 2 MB of noise: its copy does not fit
    view.add_attachments([study.files[0]])
    settle()
    monkeypatch.setattr(tempfile, "tempdir", str(small_disk))
    view.shrink.switch.setChecked(True)
    settle(60_000)
    label = view.shrink.saving_label.text()
    assert "will be made smaller when the message is built" in label and "No space left on device" in label, label
    assert "Traceback" not in label and view.shrink.sizes() == {}
    assert list(small_disk.iterdir()) == []


def _save_split_study(qtbot, view: ComposeView, settle: Settle, pki_home: services.Stores, tmp_path: Path,  # noqa: ANN001
                      monkeypatch: pytest.MonkeyPatch, *, slices: int, folder: Path) -> None:
    """A study over the account's limit, "Send as N messages" chosen, saved into ``folder``."""
    small_account(pki_home, view, settle)
    study = write_study(tmp_path / "cbct", slices, 256, 256)
    view.add_attachments([study.folder])
    settle()
    fill(qtbot, view, "bob@example.org")
    view.split_offer.choice.setChecked(True)
    choose_folder(monkeypatch, folder)
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    settle(60_000)


def test_a_full_disk_while_saving_the_parts_keeps_none(qtbot, view: ComposeView, settle: Settle, tmp_path: Path,  # noqa: ANN001
                                                       pki_home: services.Stores, small_disk: Path, scratch: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _save_split_study(qtbot, view, settle, pki_home, tmp_path, monkeypatch, slices=12, folder=small_disk)
    assert view.result_kind() == "error" and "the disk is full. No message was written" in view.result_text(), view.result_text()
    assert "Traceback" not in view.result_text()
    assert list(small_disk.iterdir()) == [] and leftovers(scratch) == []


def test_a_folder_for_the_parts_that_is_a_file_is_refused(qtbot, view: ComposeView, settle: Settle, tmp_path: Path,  # noqa: ANN001
                                                          pki_home: services.Stores, scratch: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("a file where the folder was")
    _save_split_study(qtbot, view, settle, pki_home, tmp_path, monkeypatch, slices=9, folder=not_a_folder)
    assert view.result_kind() == "error" and "notes.txt" in view.result_text(), view.result_text()
    assert "Traceback" not in view.result_text() and "went wrong" not in view.result_text()
    assert not_a_folder.read_text() == "a file where the folder was" and leftovers(scratch) == []


def test_a_fifo_inside_a_study_folder_is_left_out(qtbot, view: ComposeView, settle: Settle, tmp_path: Path) -> None:  # noqa: ANN001
    folder = tmp_path / "study"
    write_intra_oral(folder / "a.dcm")
    os.mkfifo(folder / "pipe")
    view.add_attachments([folder])
    settle(20_000)  # no hang on the pipe
    entry = view.attachment(folder)
    assert entry is not None and entry.item.text(2) == "DICOM study, 1 file"


def test_a_full_disk_while_saving_the_study_keeps_no_file(qtbot, ctx, settle: Settle, split_study, small_disk: Path,  # noqa: ANN001
                                                          scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctx, "identity_passphrase", lambda _parent: PKI_PASSPHRASE)
    opener = OpenView(ctx)
    qtbot.addWidget(opener)
    _study, parts = split_study
    opener.open_files(parts)
    settle(60_000)
    assert opener.study is not None
    choose_folder(monkeypatch, small_disk)
    opener.save_all()
    settle(60_000)
    text = opener.status_banner.text()
    assert opener.status_banner.level == PROBLEM and "No space left on device" in text and "No file was kept" in text, text
    assert list(small_disk.iterdir()) == []
    assert [p for p in scratch.iterdir() if not p.name.startswith("pymp-")] == []


def test_unrelated_messages_opened_together_are_named(qtbot, ctx, settle: Settle, pki: Pki, pki_home: services.Stores,  # noqa: ANN001
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctx, "identity_passphrase", lambda _parent: PKI_PASSPHRASE)
    first, second = tmp_path / "one.eml", tmp_path / "two.eml"
    compose_plain(pki, first, sender="bob", to=("alice",))
    compose_plain(pki, second, sender="bob", to=("alice",))
    opener = OpenView(ctx)
    qtbot.addWidget(opener)
    choose_messages(monkeypatch, [first, second])
    opener.choose_file()
    settle(60_000)
    text = opener.verdict_banner.text()
    assert opener.verdict_banner.level == PROBLEM and "one.eml is not a part of a split study" in text, text
    assert "one at a time" in text
