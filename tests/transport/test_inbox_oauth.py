"""The secure inbox of an account that signs in with its provider (OAuth, issue 15): the judges are
node-oidc-provider, Dovecot with passdb oauth2 (no password database at all) and headless
Chromium for the one real sign-in (tests/transport/oauth_servers.py). Listing and opening, with a
fetch resumed after a cut connection, log in with the access token and never ask for a password."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest

from smimehelper import services
from smimehelper.core.transport import imap
from smimehelper.services import inbox, signin
from tests.core.helpers import compose
from tests.memory_keyring import MemoryKeyring
from tests.pki.make_pki import Pki
from tests.transport.inbox_helpers import TcpProxy
from tests.transport.oauth_servers import Browser, BrowserUser, Judges
from tests.transport.servers import TlsMaterials


@pytest.fixture(scope="module")
def judges(tls_materials: TlsMaterials) -> Iterator[Judges]:
    j = Judges(tls_materials)
    yield j
    j.stop()


@pytest.fixture(scope="module")
def browser(tls_materials: TlsMaterials) -> Iterator[Browser]:
    b = Browser(tls_materials)
    yield b
    b.close()


def never_a_password(account: Any) -> bytes:
    raise AssertionError("a password was asked for an account that signs in")


def no_sign_in(provider: Any, email: str) -> Any:
    raise AssertionError("the browser was opened although a sign-in was at hand")


def test_inbox_lists_and_opens_with_the_sign_in(judges: Judges, browser: Browser, pki: Pki, tmp_path: Path) -> None:
    keyring.set_keyring(MemoryKeyring())  # the autouse isolated_home fixture puts the fail backend back
    stores = services.Stores.open()
    account = judges.account("XOAUTH2")
    stores.accounts.add(account, None)
    user = BrowserUser(browser)
    signin.sign_in_account(stores, account, open_browser=user, timeout=60)
    user.join()

    scan = tmp_path / "scan.bin"
    scan.write_bytes(os.urandom(6_000_000))
    message = tmp_path / "reply.eml"
    compose(pki, message, attachments=(scan,), subject="Reply with the x-rays")
    conn = imap.connect(account, stores.accounts.credential(account))  # delivered into INBOX with the token
    try:
        assert conn.append("INBOX", None, None, message.read_bytes())[0] == "OK"
    finally:
        conn.logout()

    listing = inbox.list_inbox(stores, None, never_a_password, sign_in=no_sign_in)
    (row,) = listing.rows
    assert row.message.subject == "Reply with the x-rays" and row.message.kind == "encrypted"

    # Through a relay that cuts the first connection half-way: the resumed fetch logs in again with the token.
    d = judges.dovecot
    with TcpProxy((d.host, d.port), drop_after=5_000_000) as proxy:
        stores.accounts.add(dataclasses.replace(account, imap_host="127.0.0.1", imap_port=proxy.port), None)
        result = inbox.open_inbox_message(
            stores, inbox.InboxOpenInput(uid=row.message.uid, keys=(pki.entity("bob").p12,), trust=(pki.root.cert_pem,),
                                         save_attachments=tmp_path / "saved", now=pki.now),
            never_a_password, lambda _prompt: pki.p12_password.encode(), sign_in=no_sign_in,
        )
        assert proxy.dropped == 1 and proxy.connections == 2
    assert result.opened.decrypted and result.opened.all_good and result.marked_read
    assert (tmp_path / "saved" / "scan.bin").read_bytes() == scan.read_bytes()
    log = d.log_text()
    assert log.count("imap-login: Info: Login: user=<dentist@example.org>, method=XOAUTH2") >= 4  # append, list, 2 x open
    assert "method=PLAIN" not in log and "method=LOGIN" not in log
