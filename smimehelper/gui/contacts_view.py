"""Colleagues' certificates, like a certificate manager: a searchable table, details, import.

Certificates come from files (.pem .cer .crt .der .p7b .p7c) or from the signature of a signed
message (.eml): by the Import button, or dropped on the table. Each certificate's status is
checked on a worker thread: first without the network (quick), then again fetching revocation
information, which may take a few seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from .. import services
from ..core.certs import CertInfo, describe
from ..core.contacts import ContactCert
from ..core.errors import PassphraseError, UserError
from .cert_words import STATUS_WORDS, chain_text, usage_text  # noqa: F401 (re-exported)
from .contacts_details import ContactDetails
from .contacts_table import COLUMNS, ROW_ROLE, STATUS_ROLE, ContactTable, new_model, row_items  # noqa: F401
from .context import GuiContext
from .style import icon
from .widgets import CAUTION, GOOD, INFO, PROBLEM, Banner, alive, plain_label, visible

CERT_FILTER = "Certificates and signed messages (*.pem *.cer *.crt *.der *.p7b *.p7c *.eml);;All files (*)"
IMPORTABLE = {".pem", ".cer", ".crt", ".der", ".p7b", ".p7c", ".eml"}


class ContactsView(QWidget):
    """The "Contacts" tab.

    Public API: ``refresh()``, ``import_files(paths)``, ``choose_files()``,
    ``remove_selected()``, ``copy_fingerprint()``, ``select_email(email)``, ``selected()``
    (the selected ContactRow, or None), ``visible_emails()``, ``status_of(email)``,
    ``is_busy()``, ``search`` (the filter box), ``table``; signals ``contacts_changed()``,
    ``checked()`` (after each status pass) and ``failed(str)``.
    """

    contacts_changed = Signal()
    checked = Signal()
    failed = Signal(str)

    def __init__(self, ctx: GuiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._generation = 0
        self._busy = 0
        self._last_folder = ""
        self._authorities: list[CertInfo] = []  # known CAs, to show a contact's issuer chain
        self.fetched = False  # whether the shown statuses include revocation fetched online
        self._build()
        self.refresh()

    # -- layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by name, e-mail or fingerprint")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search contacts")
        self.search.setToolTip("Show only the certificates whose name, e-mail address or fingerprint contains this text (Ctrl+F)")
        search_label = QLabel("&Search:")
        search_label.setBuddy(self.search)
        self.import_button = QPushButton(icon("contact"), "&Import...")
        self.import_button.setToolTip("Add a colleague's certificate (.pem .cer .crt .der .p7b .p7c) or the signer of a signed message (.eml)")
        self.import_button.setAccessibleName("Import certificates")
        self.import_button.clicked.connect(self.choose_files)
        self.remove_button = QPushButton("&Remove")
        self.remove_button.setToolTip("Forget the selected certificate (Delete)")
        self.remove_button.setAccessibleName("Remove contact certificate")
        self.remove_button.clicked.connect(self.remove_selected)
        self.refresh_button = QPushButton("Chec&k again")
        self.refresh_button.setToolTip("Check every certificate again, including whether it has been revoked (needs the internet)")
        self.refresh_button.setAccessibleName("Check certificates again")
        self.refresh_button.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(search_label)
        top.addWidget(self.search, 1)
        top.addWidget(self.import_button)
        top.addWidget(self.remove_button)
        top.addWidget(self.refresh_button)

        self.model = new_model(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.search.textChanged.connect(self._filter)

        self.table = ContactTable()
        self.table.setModel(self.proxy)
        self.table.setAccessibleName("Contact certificates")
        self.table.setToolTip("Your colleagues' certificates. Drop certificate files or signed messages here to add them")
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
        self.table.files_dropped.connect(self.import_files)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show_details())

        self.details = ContactDetails()
        self.detail_labels = self.details.labels
        self.copy_button = self.details.copy_button
        self.copy_button.clicked.connect(self.copy_fingerprint)
        self.details.trust_authority_button.clicked.connect(lambda: self.trust_selected(authority=True))
        self.details.trust_certificate_button.clicked.connect(lambda: self.trust_selected(authority=False))
        self.details.untrust_button.clicked.connect(self.stop_trusting_selected)

        scroller = QScrollArea()
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QFrame.Shape.NoFrame)
        scroller.setWidget(self.details)
        scroller.setMinimumHeight(200)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(scroller)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)

        self.banner = Banner(name="Status")
        self.hint = plain_label("Checking certificates ...", selectable=False)
        self.hint.setAccessibleName("Progress")
        self.hint.hide()

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.hint)
        layout.addWidget(self.banner)

        find = QShortcut(QKeySequence.StandardKey.Find, self)
        find.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        find.activated.connect(lambda: (self.search.setFocus(), self.search.selectAll()))
        delete = QShortcut(QKeySequence.StandardKey.Delete, self.table)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self.remove_selected)
        self.setTabOrder(self.search, self.table)
        self._show_details()

    # -- listing -------------------------------------------------------------------------------
    def is_busy(self) -> bool:
        return self._busy > 0

    def refresh(self) -> None:
        """List the stored certificates at once, then check their status in the background:
        quickly without the network first, then with revocation information fetched."""
        self._generation += 1
        generation = self._generation
        try:
            stores = self.ctx.stores()
            entries = stores.contacts.entries()
            self._authorities = [describe(c) for c in (*stores.intermediates(), *(t.cert for t in stores.trust.list()))]
        except UserError as exc:
            self.banner.show_message(str(exc), PROBLEM)
            return
        self.fetched = False
        self._fill([(entry, None) for entry in entries])
        if not entries:
            self.hint.setText("No contacts yet. Import a colleague's certificate or a signed message from them, or drop the file here.")
            self.hint.show()
            return
        self.hint.setText("Checking certificates ...")
        self.hint.show()
        ctx = self.ctx

        def offline(_control: Any) -> list[services.ContactRow]:
            return services.list_contacts(ctx.stores(), fetch=False)

        def online(_control: Any) -> list[services.ContactRow]:
            return services.list_contacts(ctx.stores(), fetch=True)

        def first(rows: list[services.ContactRow]) -> None:
            if generation != self._generation:
                return
            self._fill([(r.entry, r) for r in rows])
            self.hint.setText("Checking revocation (whether a certificate was withdrawn) ...")
            self.checked.emit()
            self._start(online, second, failed)

        def second(rows: list[services.ContactRow]) -> None:
            if generation != self._generation:
                return
            self.fetched = True
            self._fill([(r.entry, r) for r in rows])
            self.hint.hide()
            self.checked.emit()

        def failed(message: str) -> None:
            if generation != self._generation:
                return
            self.hint.hide()
            self.banner.show_message(f"The certificates could not be checked: {message}", PROBLEM)
            self.failed.emit(message)

        self._start(offline, first, failed)

    def _fill(self, rows: list[tuple[ContactCert, services.ContactRow | None]]) -> None:
        keep = self._selected_key()
        self.table.setSortingEnabled(False)
        self.model.removeRows(0, self.model.rowCount())
        for entry, row in rows:
            self.model.appendRow(row_items(entry, row))
        self.table.fit_columns()
        self.table.setSortingEnabled(True)
        if keep is not None:
            self._select_key(*keep)
        self._show_details()

    def _filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        self._show_details()

    # -- selection and details --------------------------------------------------------------------
    def _entry_at(self, proxy_row: int) -> tuple[ContactCert, services.ContactRow | None]:
        data = self.proxy.index(proxy_row, 0).data(ROW_ROLE)
        if isinstance(data, services.ContactRow):
            return data.entry, data
        return data, None

    def selected(self) -> services.ContactRow | None:
        """The selected certificate with its status (None while nothing is selected or checked)."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self._entry_at(rows[0].row())[1]

    def selected_entry(self) -> ContactCert | None:
        rows = self.table.selectionModel().selectedRows()
        return self._entry_at(rows[0].row())[0] if rows else None

    def _selected_key(self) -> tuple[str, str] | None:
        entry = self.selected_entry()
        return (entry.email, entry.fingerprint) if entry is not None else None

    def _select_key(self, email: str, fingerprint: str) -> bool:
        for row in range(self.proxy.rowCount()):
            entry, _ = self._entry_at(row)
            if entry.email == email and (not fingerprint or entry.fingerprint == fingerprint):
                self.table.selectRow(row)
                return True
        return False

    def select_email(self, email: str) -> bool:
        """Select the (first shown) certificate of ``email``; False if it is not shown."""
        return self._select_key(email.lower(), "")

    def visible_emails(self) -> list[str]:
        """The e-mail addresses of the rows the search lets through, in table order."""
        return [self._entry_at(row)[0].email for row in range(self.proxy.rowCount())]

    def status_of(self, email: str) -> str | None:
        """The status code shown for ``email`` ("valid", "expired", "checking", ...)."""
        for row in range(self.model.rowCount()):
            if self.model.item(row, 1).text() == visible(email.lower()):
                return self.model.item(row, 0).data(STATUS_ROLE)
        return None

    def _show_details(self) -> None:
        entry = self.selected_entry()
        self.remove_button.setEnabled(entry is not None)
        self.details.show_entry(entry, self.selected(), self._authorities)

    # -- trust -----------------------------------------------------------------------------------
    def trust_selected(self, *, authority: bool = True) -> None:
        """Compare the fingerprint by phone, then trust the selected certificate's authority
        (or only the certificate); the statuses are checked again afterwards."""
        entry = self.selected_entry()
        if entry is None:
            return
        from .trust_dialog import AUTHORITY, CERTIFICATE, TrustDialog

        if TrustDialog.offer(self, self.ctx, entry.cert, entry.chain, entry.email, AUTHORITY if authority else CERTIFICATE):
            self.banner.show_message(f"Trusted: messages can now be encrypted to {visible(entry.email)}.", GOOD)
            self.refresh()
            self.contacts_changed.emit()

    def stop_trusting_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or not entry.trusted_directly:
            return
        try:
            services.stop_trusting_certificate(self.ctx.stores(), entry.cert)
        except UserError as exc:
            self.banner.show_message(str(exc), PROBLEM)
            return
        self.banner.show_message(f"You no longer trust the certificate of {visible(entry.email)} itself.", INFO)
        self.refresh()
        self.contacts_changed.emit()

    def copy_fingerprint(self) -> None:
        """Put the selected certificate's SHA-256 fingerprint (AA:BB:...) on the clipboard."""
        entry = self.selected_entry()
        if entry is None:
            return
        fingerprint = describe(entry.cert).fingerprint_sha256
        QGuiApplication.clipboard().setText(fingerprint)
        self.banner.show_message(f"Copied the fingerprint of {visible(entry.email)} to the clipboard.", INFO)

    # -- changing --------------------------------------------------------------------------------
    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Import certificates", self._last_folder, CERT_FILTER)
        if paths:
            self._last_folder = str(Path(paths[0]).parent)
            self.import_files([Path(p) for p in paths])

    def import_files(self, paths: Sequence[Path]) -> None:
        """Add the certificates in ``paths`` (or the signers of signed .eml files), off-thread.

        All files are checked first: when one is bad, nothing is added and the reason is shown.
        """
        paths = tuple(Path(p) for p in paths)
        if not paths:
            return
        unknown = [p.name for p in paths if p.suffix.lower() not in IMPORTABLE]
        if unknown and len(unknown) == len(paths) and all(p.suffix for p in paths):
            self.banner.show_message(
                f"{visible(', '.join(unknown))}: not a certificate file. Import .pem, .cer, .crt, .der, "
                ".p7b or .p7c files, or a signed message (.eml).", PROBLEM)
            return
        passphrase = b""
        if any(p.suffix.lower() == ".eml" for p in paths):
            asked = self.ctx.identity_passphrase(self)  # an encrypted message needs your key
            if asked is None:
                self.banner.show_message("Nothing imported: no passphrase was given.", CAUTION)
                return
            passphrase = asked
        ctx = self.ctx

        def ask(_prompt: str) -> bytes:
            if not passphrase:
                raise PassphraseError("The passphrase for your certificate is needed to open the message.")
            return passphrase

        def work(_control: Any) -> list[ContactCert]:
            return services.import_contacts(ctx.stores(), paths, ask)

        def done(added: list[ContactCert]) -> None:
            if not added:
                self.banner.show_message("Nothing new: these certificates were already among your contacts.", INFO)
            else:
                names = ", ".join(dict.fromkeys(visible(e.email) for e in added))
                self.banner.show_message(f"Added {len(added)} certificate{'s' if len(added) != 1 else ''}: {names}.", GOOD)
            self.refresh()
            if added:
                self.select_email(added[0].email)
            self.contacts_changed.emit()

        def failed(message: str) -> None:
            self.banner.show_message(f"Nothing was imported: {message}", PROBLEM)
            self.failed.emit(message)

        self.banner.show_message("Importing ...", INFO)
        self._start(work, done, failed)

    def remove_selected(self) -> None:
        """Forget the selected certificate, after asking."""
        entry = self.selected_entry()
        if entry is None:
            return
        name = visible(describe(entry.cert).display_name)
        answer = QMessageBox.question(
            self, "Remove contact certificate",
            f"Remove the certificate of {name} <{visible(entry.email)}>?\n\nYou can no longer encrypt "
            f"to {visible(entry.email)} with it until you import it again.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            self.ctx.stores().contacts.remove(entry.email, entry.fingerprint)
        except UserError as exc:
            self.banner.show_message(str(exc), PROBLEM)
            return
        self.banner.show_message(f"Removed the certificate of {visible(entry.email)}.", GOOD)
        self.refresh()
        self.contacts_changed.emit()

    # -- tasks ------------------------------------------------------------------------------------
    def _start(self, work: Callable[[Any], Any], done: Callable[[Any], None], error: Callable[[str], None]) -> None:
        self._busy += 1

        def finish() -> bool:
            if not alive(self):
                return False
            self._busy -= 1
            return True

        self.ctx.tasks.run(
            work,
            on_done=lambda result: finish() and done(result),
            on_error=lambda message: finish() and error(message),
        )


__all__ = ["ContactsView", "ContactTable", "usage_text", "chain_text", "STATUS_WORDS", "CertInfo"]
