"""Fixtures: real SMTP servers (aiosmtpd) and a real Dovecot on the loopback interface.

* ``tls_materials`` (session): test TLS CA + server certificates at real time.
* ``smtp_server_factory`` (function): ``make(mode="starttls", **opts)`` starts an
  ``SmtpServer`` (modes and options: tests/transport/servers.py); all are
  stopped after the test.
* ``smtp_server`` (function): one started server, mode ``starttls`` unless
  parametrized indirectly, e.g.
  ``@pytest.mark.parametrize("smtp_server", ["smtps", "plain"], indirect=True)``.
* ``dovecot`` / ``dovecot_names`` (session): Dovecot with special-use folders /
  with plain names ("Sent Items", no special-use). Shared by the whole session,
  so prefer ``clean_dovecot`` / ``clean_dovecot_names`` (function): the same
  servers with every message expunged and extra mailboxes deleted first.

A missing Dovecot binary fails (not skips) the tests that need it, like the other
hard tool requirements of this suite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.transport.servers import (
    DovecotError,
    DovecotServer,
    SmtpServer,
    TlsMaterials,
    imap_empty_all,
    make_tls_materials,
)


@pytest.fixture(scope="session")
def tls_materials(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterials:
    """The test TLS CA (``.cafile``) and server certificates ``localhost`` / ``wrong_host``."""
    return make_tls_materials(tmp_path_factory.mktemp("tls"))


SmtpServerFactory = Callable[..., SmtpServer]


@pytest.fixture
def smtp_server_factory(tls_materials: TlsMaterials) -> Iterator[SmtpServerFactory]:
    """``make(mode="starttls", **opts) -> SmtpServer`` (started); stopped after the test."""
    servers: list[SmtpServer] = []

    def make(mode: str = "starttls", **opts: Any) -> SmtpServer:
        server = SmtpServer(tls_materials, mode, **opts)
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server(request: pytest.FixtureRequest, smtp_server_factory: SmtpServerFactory) -> SmtpServer:
    """A started ``SmtpServer``; mode ``starttls`` or the indirect parameter."""
    mode = getattr(request, "param", "starttls")
    return smtp_server_factory(mode)


def _start_dovecot(tls: TlsMaterials, folders: str) -> DovecotServer:
    server = DovecotServer(tls, folders=folders)
    try:
        return server.start()
    except DovecotError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def dovecot(tls_materials: TlsMaterials) -> Iterator[DovecotServer]:
    """Dovecot with Drafts (\\Drafts), Sent (\\Sent), Trash (\\Trash); whole session."""
    server = _start_dovecot(tls_materials, "special-use")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dovecot_names(tls_materials: TlsMaterials) -> Iterator[DovecotServer]:
    """Dovecot with Drafts, "Sent Items", Trash and no special-use flags; whole session."""
    server = _start_dovecot(tls_materials, "names")
    yield server
    server.stop()


@pytest.fixture
def clean_dovecot(dovecot: DovecotServer) -> DovecotServer:
    """``dovecot`` with all mailboxes emptied (and test-made mailboxes deleted) first."""
    imap_empty_all(dovecot)
    return dovecot


@pytest.fixture
def clean_dovecot_names(dovecot_names: DovecotServer) -> DovecotServer:
    """``dovecot_names`` emptied first."""
    imap_empty_all(dovecot_names)
    return dovecot_names
