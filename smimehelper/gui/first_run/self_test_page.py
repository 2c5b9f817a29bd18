"""Page 3 of the first-run assistant: a message signed and encrypted to yourself, opened again."""

from __future__ import annotations

from typing import TYPE_CHECKING


from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from ... import services
from ..style import icon
from .widgets import COLOURS, _alive, _wrapped

if TYPE_CHECKING:
    from . import FirstRunWizard

WRONG_PASSPHRASE = object()  # the worker's answer when the passphrase does not open the key
MAX_TRIES = 3


class SelfTestPage(QWizardPage):
    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.running = False
        self._tries = 0
        self.result: services.SelfTestResult | None = None
        self.setTitle("Self-test")
        self.setSubTitle(
            "smimehelper signs and encrypts a short message to you and opens it again, to check "
            "that everything works. Nothing is sent."
        )
        self.setFinalPage(True)
        self.headline_icon = QLabel()
        self.headline_icon.setFixedSize(32, 32)
        self.headline = QLabel()
        font = QFont(self.headline.font())
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.headline.setFont(font)
        self.headline.setAccessibleName("Self-test result")
        headline_row = QHBoxLayout()
        headline_row.addWidget(self.headline_icon)
        headline_row.addWidget(self.headline, 1)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setMaximumHeight(10)
        self.busy_bar.hide()
        self.steps_box = QWidget()
        self.steps_layout = QGridLayout(self.steps_box)
        self.steps_layout.setContentsMargins(4, 4, 4, 4)
        self.steps_layout.setColumnStretch(2, 1)
        self.steps_layout.setHorizontalSpacing(10)
        self.again_button = QPushButton("Run the self-test &again")
        self.again_button.setToolTip("Sign, encrypt and open a message to yourself once more")
        self.again_button.clicked.connect(lambda: self.start())
        self.account_line = _wrapped()
        self.next_steps = _wrapped(
            "Press Finish to start. Write a message with files in Compose; add your colleagues' "
            "certificates in Contacts (or open a signed message they sent you)."
        )
        layout = QVBoxLayout(self)
        layout.addLayout(headline_row)
        layout.addWidget(self.busy_bar)
        layout.addWidget(self.steps_box)
        again_row = QHBoxLayout()
        again_row.addWidget(self.again_button)
        again_row.addStretch(1)
        layout.addLayout(again_row)
        layout.addStretch(1)
        layout.addWidget(self.account_line)
        layout.addWidget(self.next_steps)

    def initializePage(self) -> None:  # noqa: N802
        self.account_line.setText(self._account_sentence())
        self._tries = 0
        self.start()

    def _account_sentence(self) -> str:
        """What the page says about the mail account: the one saved on the page before, else
        one saved earlier (the assistant run again), else that there is none yet."""
        saved = self._wizard.account_page.saved
        if saved:
            return saved
        accounts = self._wizard.ctx.stores().accounts.list()
        if accounts:
            return f"Your mail account {', '.join(a.email for a in accounts)} is set up: messages are sent through it."
        return ("No mail account yet: you can still write messages and save them, and set the account "
                "up later with File > First-run assistant.")

    def isComplete(self) -> bool:  # noqa: N802
        return not self.running

    def start(self, passphrase: bytes | None = None) -> None:
        if self.running:
            return
        ctx = self._wizard.ctx
        if passphrase is None:  # a fresh run (not a second try after a wrong passphrase)
            self._tries = 0
            passphrase = self._wizard.passphrase_for_default(self)
        if passphrase is None:
            self._not_run("Self-test not run: no passphrase was given.")
            return
        self.running = True
        self.result = None
        self.again_button.setEnabled(False)
        self.busy_bar.setVisible(True)
        self._clear_steps()
        self._show_headline(None, "Signing, encrypting and opening a message to yourself...")
        self.completeChanged.emit()

        def work(_control: object) -> object:
            stores = ctx.stores()
            if not services.passphrase_opens_default(stores, passphrase):
                return WRONG_PASSPHRASE
            return services.self_test(stores, lambda _prompt: passphrase)

        ctx.tasks.run(work, on_done=self._finished, on_error=self._failed)

    def _not_run(self, text: str) -> None:
        self.running = False
        self.busy_bar.setVisible(False)  # nothing is running: nothing moves
        self.again_button.setEnabled(True)
        self._clear_steps()
        self._show_headline("warning", text)
        self.completeChanged.emit()

    def _finished(self, result: object) -> None:
        if not _alive(self):
            return
        if result is WRONG_PASSPHRASE:
            self.running = False
            self._tries += 1
            if self._tries >= MAX_TRIES:
                self._not_run("Self-test not run: the passphrase was not correct. Run it again when you have it.")
                return
            again = self._wizard.ctx.ask_secret(
                self, "Your certificate", "That passphrase is not correct. Please type it again:")
            if again is None:
                self._not_run("Self-test not run: no passphrase was given.")
                return
            self.start(again)
            return
        assert isinstance(result, services.SelfTestResult)
        self.result = result
        self._stop()
        for step in result.steps:
            self._add_step("warning" if step.warning else ("ok" if step.ok else "error"), step.what, step.detail)
        if not result.passed:
            self._show_headline("error", "Self-test failed")
        elif result.warnings:
            self._show_headline("ok", "Self-test passed, with a note")
        else:
            self._show_headline("ok", "Self-test passed")

    def _failed(self, message: str) -> None:
        if not _alive(self):
            return
        self.result = None
        self._stop()
        self._add_step("error", "Run the self-test", message)
        self._show_headline("error", "Self-test failed")

    def _stop(self) -> None:
        self.running = False
        self.busy_bar.setVisible(False)
        self.again_button.setEnabled(True)
        self.completeChanged.emit()

    def headline_text(self) -> str:
        return self.headline.text()

    def _show_headline(self, kind: str | None, text: str) -> None:
        self.headline.setText(text)
        self.headline.setStyleSheet(f"color: {COLOURS.get(kind or 'info')};")
        self.headline_icon.setVisible(kind is not None)
        if kind is not None:
            self.headline_icon.setPixmap(icon(kind).pixmap(QSize(32, 32)))

    def _clear_steps(self) -> None:
        while self.steps_layout.count():
            item = self.steps_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def _add_step(self, kind: str, what: str, detail: str) -> None:
        row = self.steps_layout.rowCount()
        mark = QLabel()
        mark.setPixmap(icon(kind).pixmap(QSize(18, 18)))
        mark.setAccessibleName({"ok": "passed", "warning": "note", "error": "failed"}[kind])
        name = QLabel(what)
        name.setStyleSheet("font-weight: bold;")
        text = _wrapped(detail)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if kind != "ok":
            text.setStyleSheet(f"color: {COLOURS[kind]};")
        self.steps_layout.addWidget(mark, row, 0, Qt.AlignmentFlag.AlignTop)
        self.steps_layout.addWidget(name, row, 1, Qt.AlignmentFlag.AlignTop)
        self.steps_layout.addWidget(text, row, 2)


# -- the assistant ----------------------------------------------------------------------------------


