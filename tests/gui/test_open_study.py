"""Open with a study sent in several messages: one part alone says which parts are missing;
several chosen together (the file dialog's multi-select, or dropped on the window) are checked
together, listed as one study, and saved byte for byte as the sender's originals; Cancel keeps
nothing. The parts are real split messages from Bob (services.compose_message with ``split``,
as ``compose --split`` makes them), opened by Alice's app.
"""

from __future__ import annotations

import hashlib
import random
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog

from smimehelper import services
from smimehelper.gui.context import GuiContext
from smimehelper.gui.main_window import MainWindow
from smimehelper.gui.open_view import CAUTION, GOOD, INFO, OpenView
from tests.core.dicom.synthetic import Study, write_study
from tests.gui.conftest import PKI_PASSPHRASE
from tests.pki.make_pki import Pki

LIMIT = 1_000_000
Settle = Callable[..., None]


def digests(paths: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def split_study(tmp_path: Path, pki: Pki, pki_home: services.Stores) -> tuple[Study, list[Path]]:
    """A 12-slice study Bob sent Alice as several messages, each under 1 MB."""
    study = write_study(tmp_path / "cbct", 12, 256, 256)
    out = tmp_path / "received" / "cbct.eml"
    out.parent.mkdir()
    outcome = services.compose_message(services.ComposeInput(
        sender=None, to=("alice@example.org",), subject="CBCT", body="Dear Alice,\nthe study.\n",
        sign_key=pki.entity("bob").p12, out=out, attachments=(study.folder,),
        recipient_certs=(pki.entity("alice").cert_pem,), split=True, size_limit=LIMIT,
    ), lambda _prompt: PKI_PASSPHRASE)
    parts = [r.path for r in outcome.parts]
    assert len(parts) >= 3
    return study, parts


@pytest.fixture
def view(qtbot, ctx: GuiContext, pki_home: services.Stores, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenView]:  # noqa: ANN001
    monkeypatch.setattr(ctx, "identity_passphrase", lambda _parent: PKI_PASSPHRASE)
    widget = OpenView(ctx)
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    yield widget


def choose_messages(monkeypatch: pytest.MonkeyPatch, paths: list[Path]) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *_a, **_k: ([str(p) for p in paths], "E-mail messages (*.eml)"))


def choose_folder(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a, **_k: str(folder))


def test_one_part_alone_says_which_parts_are_missing(qtbot, view: OpenView, settle: Settle, split_study) -> None:  # noqa: ANN001
    _study, parts = split_study
    count = len(parts)
    view.open_file(parts[1])
    settle()
    assert view.opened is not None and view.opened.all_good and view.verdict_banner.level == GOOD
    assert view.status_banner.level == CAUTION
    text = view.status_banner.text()
    missing = ", ".join(str(k) for k in range(1, count + 1) if k != 2)
    assert f"This message is part 2 of {count} of a study" in text and f"Parts {missing} of {count} are missing" in text, text
    assert "hold Ctrl and click each part" in text


def test_parts_chosen_together_are_one_study_saved_byte_identical(qtbot, view: OpenView, settle: Settle, split_study, tmp_path: Path,  # noqa: ANN001
                                                                 scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    study, parts = split_study
    shuffled = parts[:]
    random.Random(3).shuffle(shuffled)
    choose_messages(monkeypatch, shuffled)
    view.choose_file()
    settle(60_000)
    assert view.study is not None, view.verdict_banner.text()
    assert view.verdict_banner.level == GOOD and "Everything checks out" in view.verdict_banner.text()
    assert view.status_banner.level == GOOD
    assert f"All {len(parts)} parts are here and every file matches the sender's list: 12 files" in view.status_banner.text()
    assert view.attachments_box.title() == f"Study: 12 files in {len(parts)} messages"
    table = view.attachments_table
    assert table.rowCount() == 12
    assert sorted(table.item(r, 0).text() for r in range(12)) == sorted(p.name for p in study.files)
    assert table.item(0, 1).text() == "DICOM image (x-ray)" and table.has_thumbnail(0)
    assert "in part 1 of" in table.item(0, 0).toolTip()
    assert view.subject_label.text() == f"CBCT (part 1 of {len(parts)})"
    assert [p for p in scratch.iterdir() if not p.name.startswith("pymp-")] == []  # decrypted copies gone

    saved = tmp_path / "saved"
    saved.mkdir()
    choose_folder(monkeypatch, saved)
    view.save_all()
    settle(60_000)
    assert view.status_banner.level == GOOD and f"Saved 12 files to {saved}" in view.status_banner.text()
    assert digests(sorted(saved.iterdir())) == digests(list(study.files))
    one = tmp_path / "one"
    one.mkdir()
    choose_folder(monkeypatch, one)
    row = next(r for r in range(12) if table.item(r, 0).text() == study.files[5].name)
    view.save_attachment(row)
    settle()
    assert [p.name for p in one.iterdir()] == [study.files[5].name]
    assert (one / study.files[5].name).read_bytes() == study.files[5].read_bytes()
    # Saving again into the same folder never replaces the files already there.
    choose_folder(monkeypatch, saved)
    view.save_all()
    settle(60_000)
    assert "already exists; choose an empty folder" in view.status_banner.text()
    assert digests(sorted(saved.iterdir())) == digests(list(study.files))
    assert [p for p in scratch.iterdir() if not p.name.startswith("pymp-")] == []


def test_an_incomplete_set_names_the_missing_part(qtbot, view: OpenView, settle: Settle, split_study, monkeypatch) -> None:  # noqa: ANN001
    _study, parts = split_study
    choose_messages(monkeypatch, [p for p in parts if "part-2-of" not in p.name])
    view.choose_file()
    settle(60_000)
    assert view.study is None and view.verdict_banner.level == CAUTION
    assert f"The study is not complete. Part 2 of {len(parts)} is missing." in view.verdict_banner.text()
    assert view.attachments_table.rowCount() == 0 and not view.save_all_button.isEnabled()


def test_several_messages_dropped_on_the_window_open_as_one_study(qtbot, ctx: GuiContext, settle: Settle, split_study,  # noqa: ANN001
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctx, "identity_passphrase", lambda _parent: PKI_PASSPHRASE)
    _study, parts = split_study
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(p)) for p in reversed(parts)])
    window.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))
    assert window.tabs.currentWidget() is window.opener
    settle(60_000)
    assert window.opener.study is not None and window.opener.attachments_table.rowCount() == 12
    assert window.opener.study.messages == tuple(parts)  # in part order, whatever the drop order


def test_cancel_while_opening_or_saving_the_parts_keeps_nothing(qtbot, view: OpenView, settle: Settle, split_study, tmp_path: Path,  # noqa: ANN001
                                                               scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _study, parts = split_study
    view.open_files(parts)
    assert view.cancel_button.isVisible()
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    settle(60_000)
    assert view.study is None and view.verdict_banner.level == INFO
    assert "Cancelled" in view.verdict_banner.text() and view.cancel_button.isHidden()
    assert [p for p in scratch.iterdir() if not p.name.startswith("pymp-")] == []

    view.open_files(parts)
    settle(60_000)
    assert view.study is not None
    saved = tmp_path / "saved"
    saved.mkdir()
    choose_folder(monkeypatch, saved)
    view.save_all()
    view.cancel()
    settle(60_000)
    assert "Cancelled" in view.status_banner.text()
    assert list(saved.iterdir()) == []
    assert [p for p in scratch.iterdir() if not p.name.startswith("pymp-")] == []
