"""The scripted walk, run as the app itself under a real X server (``QT_QPA_PLATFORM=xcb``).

    python -m tests.gui.walk.walk_app HOME PRACTICE_DIR XRAY OUT_DIR

The app is started by its real entry point (``smimehelper.gui.app.run``); the walk runs inside
its event loop, as a dentist would click: the first-run assistant with a real .p12 (made by the
OpenSSL command line), importing a colleague's signed mail, trusting the colleague's practice
authority in the trust dialog (after reading its fingerprint), Compose with a DICOM file, Save,
and opening the saved message again (trusting one's own provider there). The real dialogs are
used: the passphrase box, the file dialogs (Qt's own widgets under plain X), the trust dialog.

Blocking calls (anything that opens a modal dialog) are started from a timer, never from inside
the walk's own frame, so the walk goes on in the dialog's event loop and answers it. Each step
grabs the whole X screen into OUT_DIR; a JSON report (``OUT_DIR/report.json``) says what was
seen, for the test to judge with OpenSSL, DCMTK and ImageMagick.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

PASSPHRASE = os.environ.get("WALK_PASSPHRASE", "practice-pass")
STEP_SECONDS = 120


def main(argv: list[str]) -> int:
    home, practice, xray, out = (Path(a) for a in argv[1:5])
    out.mkdir(parents=True, exist_ok=True)

    import smimehelper.gui.main_window as main_window
    from smimehelper.gui import app as gui_app

    report: dict[str, object] = {"screens": [], "ok": False}
    state: dict[str, object] = {}
    original = main_window.MainWindow.start

    def start(self) -> None:  # type: ignore[no-untyped-def]
        original(self)
        state["window"] = self
        state["runner"] = runner = Runner(walk(self, practice, xray, out, report), report, out)  # kept: its timer lives
        runner.begin()

    main_window.MainWindow.start = start  # type: ignore[method-assign]
    code = gui_app.run(home)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    return 0 if report.get("ok") and code == 0 else 1


class Runner:
    """Drives a generator of steps from a timer: ``("do", f)`` runs ``f`` from a fresh timer call
    (so a modal dialog it opens does not block the walk), ``("until", test, what)`` waits."""

    def __init__(self, steps: Iterator[tuple], report: dict[str, object], out: Path) -> None:  # type: ignore[type-arg]
        from PySide6.QtCore import QTimer

        self.steps, self.report, self.out = steps, report, out
        self.timer = QTimer()
        self.timer.setInterval(40)
        self.timer.timeout.connect(self.tick)
        self.waiting: tuple[Callable[[], bool], str, float] | None = None
        self.running = False

    def begin(self) -> None:
        self.timer.start()

    def tick(self) -> None:
        from PySide6.QtCore import QTimer

        if self.running:
            return
        self.running = True
        try:
            while True:
                if self.waiting is not None:
                    test, what, deadline = self.waiting
                    if not test():
                        if time.monotonic() > deadline:
                            raise TimeoutError(f"waited too long for {what}")
                        return
                    self.waiting = None
                step = next(self.steps)
                if step[0] == "do":
                    QTimer.singleShot(0, step[1])
                    self.waiting = (lambda: True, "", 0.0)
                    return  # let it start before the next step looks
                self.waiting = (step[1], step[2], time.monotonic() + STEP_SECONDS)
                sys.stderr.write(f"walk: waiting for {step[2]}\n")
                sys.stderr.flush()
        except StopIteration:
            self.report["ok"] = True
            self.finish()
        except Exception:
            self.report["error"] = traceback.format_exc()
            sys.stderr.write(str(self.report["error"]))
            self.finish()
        finally:
            self.running = False

    def finish(self) -> None:
        from PySide6.QtWidgets import QApplication

        self.timer.stop()
        for widget in QApplication.topLevelWidgets():
            if widget.isModal() and widget.isVisible():
                widget.close()
        QApplication.instance().exit(0)


def shoot(out: Path, report: dict[str, object], name: str) -> None:
    """The whole X screen, as the X server has it (not a widget painted off-screen)."""
    from PySide6.QtGui import QGuiApplication

    path = out / f"{name}.png"
    if not QGuiApplication.primaryScreen().grabWindow(0).save(str(path)):
        raise RuntimeError(f"cannot write {path}")
    report["screens"].append(str(path))  # type: ignore[union-attr]


def on_screen(widget) -> Iterator[tuple]:  # type: ignore[no-untyped-def,type-arg]
    """Wait until the X server shows ``widget`` and it has been painted (a few turns of the loop)."""
    yield ("until", lambda: widget.windowHandle() is not None and widget.windowHandle().isExposed(), "the window on screen")
    until = time.monotonic() + 0.4
    yield ("until", lambda: time.monotonic() > until, "the window painted")


def modal(kind: type):  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QApplication

    widget = QApplication.activeModalWidget()
    return widget if isinstance(widget, kind) and widget.isVisible() else None


def type_passphrase() -> Iterator[tuple]:  # type: ignore[type-arg]
    """Answer the passphrase box that is about to open, by typing into it."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QInputDialog, QLineEdit

    yield ("until", lambda: modal(QInputDialog) is not None, "the passphrase box")
    box = modal(QInputDialog)
    edit = box.findChild(QLineEdit)
    assert edit.echoMode() == QLineEdit.EchoMode.Password
    QTest.keyClicks(edit, PASSPHRASE)
    yield ("do", lambda: QTest.keyClick(edit, Qt.Key.Key_Return))
    yield ("until", lambda: modal(QInputDialog) is None, "the passphrase box to close")


def answer_file_dialog(path: Path) -> Iterator[tuple]:  # type: ignore[type-arg]
    from PySide6.QtWidgets import QFileDialog

    yield ("until", lambda: modal(QFileDialog) is not None, "the file dialog")
    dialog = modal(QFileDialog)
    dialog.selectFile(str(path))
    yield ("do", dialog.accept)
    yield ("until", lambda: modal(QFileDialog) is None, "the file dialog to close")


def walk(window, practice: Path, xray: Path, out: Path, report: dict[str, object]) -> Iterator[tuple]:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QWizard

    from smimehelper.gui.first_run import FirstRunWizard
    from smimehelper.gui.trust_dialog import TrustDialog

    # 1. The first-run assistant comes by itself: import the real .p12.
    yield ("until", lambda: any(isinstance(w, FirstRunWizard) and w.isVisible() for w in QApplication.topLevelWidgets()),
           "the first-run assistant")
    wizard = next(w for w in QApplication.topLevelWidgets() if isinstance(w, FirstRunWizard))
    yield from on_screen(wizard)
    shoot(out, report, "walk-1-first-run")
    page = wizard.certificate_page
    page.set_file(practice / "dana.p12")
    QTest.keyClicks(page.passphrase_edit, PASSPHRASE)
    QTest.keyClick(page.passphrase_edit, Qt.Key.Key_Return)
    yield ("until", lambda: not page.busy and page.imported is not None, "the certificate imported")
    report["import_status"] = page.status.text()
    yield from on_screen(wizard)
    shoot(out, report, "walk-2-certificate")
    wizard.next()
    yield ("do", lambda: wizard.button(QWizard.WizardButton.CustomButton1).click())  # Later: no account now
    test_page = wizard.self_test_page
    yield ("until", lambda: wizard.currentPage() is test_page and not test_page.running and test_page.result is not None,
           "the self-test")
    report["self_test"] = test_page.headline_text()
    yield from on_screen(wizard)
    shoot(out, report, "walk-3-self-test")
    yield ("do", lambda: wizard.button(QWizard.WizardButton.FinishButton).click())
    yield ("until", lambda: not wizard.isVisible(), "the assistant to close")

    # 2. Contacts: the colleague's signed mail, then trust his practice's authority.
    window.show_tab("contacts")
    contacts = window.contacts
    yield ("do", lambda: contacts.import_files([practice / "sam-signed.eml"]))
    yield from type_passphrase()  # the mail could have been encrypted: the key is asked first
    yield ("until", lambda: contacts.status_of("sam@smith-dental.example") == "untrusted_issuer" and contacts.fetched
           and not contacts.is_busy(), "Sam listed as not trusted")
    contacts.select_email("sam@smith-dental.example")
    report["contact_issuer"] = contacts.detail_labels["issuer"].text()
    yield from on_screen(window)
    shoot(out, report, "walk-4-contacts-untrusted")
    yield ("do", contacts.details.trust_authority_button.click)
    yield ("until", lambda: modal(TrustDialog) is not None, "the trust dialog")
    dialog = modal(TrustDialog)
    yield from on_screen(dialog)
    report["fingerprint_shown"] = dialog.fingerprint_text()
    report["authority_shown"] = dialog.authority_choice.text()
    report["trust_enabled_before_compare"] = dialog.trust_button.isEnabled()
    shoot(out, report, "walk-5-trust-dialog")
    QTest.mouseClick(dialog.compared, Qt.MouseButton.LeftButton, pos=QPoint(8, dialog.compared.height() // 2))  # the box
    yield ("until", lambda: dialog.trust_button.isEnabled(), "the Trust button after ticking the box")
    yield ("do", lambda: QTest.mouseClick(dialog.trust_button, Qt.MouseButton.LeftButton))
    yield ("until", lambda: modal(TrustDialog) is None, "the trust dialog to close")
    yield ("until", lambda: contacts.fetched and not contacts.is_busy()
           and contacts.status_of("sam@smith-dental.example") in ("valid", "revocation_unknown"), "Sam trusted")

    # 3. Compose to Sam with a DICOM file, save it.
    window.show_tab("compose")
    compose = window.compose
    compose.to_field.edit.setFocus()
    QTest.keyClicks(compose.to_field.edit, "sam@smith-dental.example")
    compose.subject_edit.setFocus()
    QTest.keyClicks(compose.subject_edit, "Radiographs for the referral")
    compose.body_edit.setPlainText("Dear Sam,\n\nthe panoramic x-ray of the patient we discussed.\n\nDana")
    compose.add_attachments([xray])
    yield ("until", lambda: compose.attachment(xray) is not None and compose.attachment(xray).content_type == "application/dicom"
           and compose.to_field.chip("sam@smith-dental.example") is not None
           and compose.to_field.chip("sam@smith-dental.example").state.can_encrypt, "the x-ray looked at and Sam encryptable")
    item = compose.attachment(xray).item
    report["compose_type"] = item.text(2)
    report["compose_thumbnail"] = not item.icon(0).isNull() and item.icon(0).pixmap(48, 48).toImage().pixelColor(24, 24).isValid()
    yield from on_screen(window)
    shoot(out, report, "walk-6-compose")
    saved = out / "to-sam.eml"
    yield ("do", compose.save_button.click)
    yield from answer_file_dialog(saved)
    yield from type_passphrase()
    yield ("until", lambda: not compose.busy() and "Saved the message" in compose.result_text(), "the message saved")
    report["saved"] = str(saved)
    report["compose_result"] = compose.result_text()
    yield from on_screen(window)
    shoot(out, report, "walk-7-saved")

    # 4. Open it again; trust one's own provider from the Open tab, then everything checks out.
    yield ("do", lambda: window.open_message(saved))
    yield from type_passphrase()
    opener = window.opener
    yield ("until", lambda: opener.opened is not None and not opener.is_busy(), "the message opened")
    report["open_first"] = opener.verdict_banner.text()
    if opener.trust_button.isVisible():
        yield ("do", opener.trust_button.click)
        yield ("until", lambda: modal(TrustDialog) is not None, "the trust dialog (Open)")
        own = modal(TrustDialog)
        report["own_fingerprint_shown"] = own.fingerprint_text()
        own.compared.setChecked(True)
        yield ("do", lambda: QTest.mouseClick(own.trust_button, Qt.MouseButton.LeftButton))
        yield ("until", lambda: modal(TrustDialog) is None, "the trust dialog (Open) to close")
        yield from type_passphrase()  # opened again
        yield ("until", lambda: opener.opened is not None and not opener.is_busy(), "the message opened again")
    report["open_verdict"] = opener.verdict_banner.text()
    report["open_type"] = opener.attachments_table.item(0, 1).text() if opener.attachments_table.rowCount() else ""
    report["open_thumbnail"] = opener.attachments_table.has_thumbnail(0) if opener.attachments_table.rowCount() else False
    yield from on_screen(window)
    shoot(out, report, "walk-8-open")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
