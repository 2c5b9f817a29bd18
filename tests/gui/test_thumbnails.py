"""DICOM thumbnails in Compose and Open, judged by DCMTK's dcmj2pnm rendering the same file.

The judge renders with the file's first VOI window (``+Wi 1``), inverting MONOCHROME1 as DICOM
requires; our thumbnail, scaled to the same size, must show the same picture (small mean
difference), and must clearly differ from the judge's rendering of the opposite photometric
interpretation (so the comparison can fail).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pydicom
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from smimehelper import services
from smimehelper.demo_xray import write_synthetic_dental_xray
from smimehelper.gui.compose import ComposeView
from smimehelper.gui.context import GuiContext
from smimehelper.gui.open_view import OpenView
from smimehelper.gui.thumbnails import thumbnail
from tests.core.helpers import compose
from tests.pki.make_pki import Pki


def xray(path: Path, photometric: str = "MONOCHROME2") -> Path:
    write_synthetic_dental_xray(path, seed=3)
    dataset = pydicom.dcmread(path)
    dataset.WindowCenter, dataset.WindowWidth = 1800, 2400  # a real window, not the full range
    dataset.PhotometricInterpretation = photometric
    del dataset.PresentationLUTShape  # else IDENTITY overrides MONOCHROME1's inversion (PS3.3 C.11.6)
    dataset.save_as(path)
    return path


def judge(path: Path, tmp: Path, photometric: str | None = None) -> QImage:
    """dcmj2pnm's rendering (optionally of a copy with another photometric interpretation)."""
    source = path
    if photometric is not None:
        source = tmp / f"judged-{photometric}.dcm"
        dataset = pydicom.dcmread(path)
        dataset.PhotometricInterpretation = photometric
        dataset.pop("PresentationLUTShape", None)
        dataset.save_as(source)
    out = tmp / f"{source.stem}.png"
    subprocess.run(["dcmj2pnm", "+Wi", "1", "--write-png", str(source), str(out)], check=True, capture_output=True)
    image = QImage(str(out))
    assert not image.isNull()
    return image


def difference(ours: QImage, theirs: QImage) -> float:
    """Mean absolute grey difference (0..255) at our thumbnail's size."""
    ours = ours.convertToFormat(QImage.Format.Format_Grayscale8)
    theirs = theirs.scaled(ours.width(), ours.height(), Qt.AspectRatioMode.IgnoreAspectRatio,
                           Qt.TransformationMode.SmoothTransformation).convertToFormat(QImage.Format.Format_Grayscale8)
    total = 0
    for y in range(ours.height()):
        for x in range(ours.width()):
            total += abs(ours.pixelColor(x, y).value() - theirs.pixelColor(x, y).value())
    return total / (ours.width() * ours.height())


@pytest.mark.parametrize("photometric,opposite", [("MONOCHROME2", "MONOCHROME1"), ("MONOCHROME1", "MONOCHROME2")])
def test_thumbnail_matches_dcmtk(qapp, tmp_path: Path, photometric: str, opposite: str) -> None:  # noqa: ANN001
    path = xray(tmp_path / "xray.dcm", photometric)
    ours = thumbnail(path, "application/dicom", 64)
    assert ours is not None and max(ours.width(), ours.height()) == 64
    assert ours.width() > ours.height()  # 512 x 400: the aspect ratio is kept
    assert difference(ours, judge(path, tmp_path)) < 12
    assert difference(ours, judge(path, tmp_path, opposite)) > 40  # the test can tell inverted from not


def test_no_thumbnail_for_what_has_no_picture(qapp, tmp_path: Path) -> None:  # noqa: ANN001
    fake = tmp_path / "fake.dcm"
    fake.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\x04\x001.2\0")  # a header and no image
    assert thumbnail(fake, "application/dicom", 48) is None
    assert thumbnail(tmp_path, "application/dicom", 48) is None  # a folder
    assert thumbnail(fake, "application/pdf", 48) is None


def _icon_image(icon, side: int) -> QImage:  # type: ignore[no-untyped-def]
    return icon.pixmap(side, side).toImage()


def test_compose_shows_the_xray_itself(qtbot, ctx: GuiContext, pki_home: services.Stores, settle, tmp_path: Path,  # type: ignore[no-untyped-def]
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    view = ComposeView(ctx)
    qtbot.addWidget(view)
    path = xray(tmp_path / "IMG0001", "MONOCHROME1")  # no extension: recognised by its content
    view.add_attachments([path])
    settle()
    item = view.attachment(path).item  # type: ignore[union-attr]
    assert item.text(2) == "DICOM image (x-ray)"
    shown = _icon_image(item.icon(0), 48)
    assert difference(shown, judge(path, tmp_path)) < 14


def test_open_shows_the_xray_itself_and_leaves_no_files(qtbot, ctx: GuiContext, pki_home: services.Stores, pki: Pki,  # type: ignore[no-untyped-def]
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctx, "identity_passphrase", lambda _parent: b"test-pass")
    path = xray(tmp_path / "panoramic.dcm")
    message = tmp_path / "from-bob.eml"
    compose(pki, message, sender="bob", to=("alice",), attachments=(path,))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR is read again
    view = OpenView(ctx)
    qtbot.addWidget(view)
    view.open_file(message)
    qtbot.waitUntil(lambda: view.opened is not None and not view.is_busy(), timeout=30000)
    table = view.attachments_table
    assert table.item(0, 1).text() == "DICOM image (x-ray)"
    assert table.has_thumbnail(0)
    shown = _icon_image(table.item(0, 0).icon(), 56)
    assert difference(shown, judge(path, tmp_path)) < 14
    assert list(scratch.iterdir()) == []  # the files written for the thumbnails are gone
