"""The Log tab: search by patient, the state of each transfer, Export (judged by pdftotext), Check."""

from __future__ import annotations

import subprocess
from pathlib import Path

from smimehelper import services
from smimehelper.gui.log_view import LogView
from smimehelper.gui.main_window import MainWindow
from smimehelper.services import disclosure
from tests.core.disclosure.helpers import transfer
from tests.gui.conftest import PKI_PASSPHRASE


def fill(stores: services.Stores) -> None:
    first = disclosure.record_transfer(stores, transfer(1, "Doe^Jane", "P-1001"))
    disclosure.record_outcome(stores, first, "sent", "250 2.0.0 Ok: queued as 1234")
    second = disclosure.record_transfer(stores, transfer(2, "Roe^John", "P-2002"))
    disclosure.record_outcome(stores, second, "failed", "554 5.7.1 rejected")
    disclosure.record_transfer(stores, transfer(3, "Doe^Jane", "P-1001"))


def test_search_states_export_and_check(qtbot, ctx, pki_home, settle, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fill(pki_home)
    view = LogView(ctx)
    qtbot.addWidget(view)
    assert view.table.rowCount() == 3
    states = [view.table.item(r, 1).text() for r in range(3)]
    assert states == ["recorded, not yet sent", "failed", "sent"]  # newest first
    assert "554" in view.table.item(1, 1).toolTip()
    view.search.setText("jane")
    assert view.table.rowCount() == 2 and all("Doe Jane" in view.table.item(r, 3).text() for r in range(2))
    view.search.setText("P-2002")
    assert view.table.rowCount() == 1

    target = tmp_path / "jane.pdf"
    view.export(target, "P-1001", PKI_PASSPHRASE)
    settle()
    assert "2 disclosures of patient P-1001" in view.banner.text()
    text = subprocess.run(["pdftotext", str(target), "-"], capture_output=True, text=True, check=True).stdout
    assert "Doe Jane" in text and "xray-1.dcm" in text and "xray-3.dcm" in text
    assert "Roe" not in text and "P-2002" not in text

    view.check()
    settle()
    assert "intact" in view.banner.text()
    log = pki_home.home / "disclosure" / "log.jsonl"
    data = log.read_bytes()
    log.write_bytes(data.replace(b"Dr Bob 2", b"Dr Bob 9"))
    view.check()
    settle()
    assert "does NOT verify" in view.banner.text()


def test_the_main_window_has_a_log_tab(qtbot, ctx, pki_home) -> None:  # type: ignore[no-untyped-def]
    fill(pki_home)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert "Lo&g" in titles
    window.tabs.setCurrentWidget(window.log)
    assert window.log.table.rowCount() == 3
