"""Real mail servers on the loopback interface for the SMTP/IMAP transport tests.

Nothing here is a mock: ``SmtpServer`` is aiosmtpd's asyncio SMTP server in a thread
and ``DovecotServer`` is the real Dovecot 2.3 binary (Debian package
``dovecot-imapd``) with a throw-away configuration. Clients talk to them through
real TCP sockets and real TLS.

TLS material (``make_tls_materials``)
    A dedicated test TLS CA and two server certificates, built with
    ``cryptography`` around the *real* current time (clients check TLS at real
    time; the S/MIME test PKI of tests/pki is frozen at ``REFERENCE_NOW`` and is
    therefore not used here). ``localhost``: SAN DNS ``localhost``, IP
    ``127.0.0.1``, ``127.0.0.2``, ``::1``. ``wrong_host``: SAN DNS
    ``wrong.example`` only, for host-name verification failures. Give
    ``TlsMaterials.cafile`` to the client as its ``cafile``.

SMTP (``SmtpServer``, aiosmtpd 1.4)
    Modes (``SMTP_MODES``) are combinations of three knobs that can also be
    given one by one (``security=``, ``behavior=``, ``cert=``):

    ============  ===========  ==========  ===========
    mode          security     behavior    certificate
    ============  ===========  ==========  ===========
    starttls      starttls     accept      localhost
    smtps         implicit     accept      localhost
    plain         plain        accept      (none)
    drop          starttls     drop        localhost
    tempfail      starttls     tempfail    localhost
    reject        starttls     reject      localhost
    wronghost     starttls     accept      wrong_host
    ============  ===========  ==========  ===========

    * ``starttls``: STARTTLS offered and required before MAIL/AUTH ("530 Must
      issue a STARTTLS command first"); AUTH PLAIN/LOGIN is only advertised and
      accepted after STARTTLS ("538 5.7.11 Encryption required" before).
    * ``implicit``: TLS from the first byte (SMTPS, port-465 style); AUTH
      allowed at once.
    * ``plain``: no TLS at all, no STARTTLS in EHLO. AUTH *is* advertised and
      accepted in the clear, so a client that would leak the password is
      caught: see ``auth_attempts[i].tls``.
    * ``auth_required`` (default True): MAIL before a successful AUTH gets
      "530 5.7.0 Authentication required". User ``SMTP_USER`` / ``SMTP_PASSWORD``.
    * ``behavior``: ``accept`` (250), ``drop`` (the complete DATA payload,
      final dot included, is received, recorded in ``data_attempts`` with
      ``reply=None``, then the TCP connection is aborted without any reply --
      the "was it delivered?" case), ``tempfail`` (``TEMPFAIL_REPLY`` to the
      first ``tempfail_count`` DATA payloads, then 250), ``reject``
      (``REJECT_REPLY`` = "554 5.7.1 Message rejected by policy").
    * SIZE: ``size_limit`` bytes (default 10 MiB) is advertised in EHLO as
      ``SIZE <n>``; ``MAIL FROM:<..> SIZE=<m>`` with m > n gets 552, and so does
      DATA whose payload exceeds n. ``size_limit=None`` advertises no SIZE.

    Records: ``received`` (accepted messages), ``data_attempts`` (every DATA
    payload whatever the answer), ``auth_attempts``, ``sessions`` /
    ``connections`` (distinct TCP connections = SMTP sessions; a STARTTLS
    upgrade stays the same session). aiosmtpd's own start-up probe connection
    is not counted.

    Raw bytes: ``SmtpMessage.data`` is aiosmtpd's ``envelope.original_content``
    (with ``decode_data=False``): the DATA lines exactly as they came over the
    wire, CRLFs kept, each line's leading transparency dot removed (RFC 5321
    4.5.2), the terminating ``.\\r\\n`` excluded. So it is byte-identical to the
    message the client meant, provided that message uses CRLF line endings
    and ends with CRLF (smtplib's ``data()`` dot-stuffs, appends a CRLF if the
    message does not end with one, and turns bare LF/CR into CRLF only for
    ``str`` messages, never for ``bytes``). aiosmtpd splits lines on CRLF only,
    so a bare LF or CR inside a line arrives unchanged. A line longer than
    1001 octets on the wire (CRLF and transparency dot included, i.e. more than
    999 octets of text, 998 if it starts with a dot) makes the whole DATA fail
    with "500 Line too long (see RFC5321 4.5.3.1.6)"; RFC 5322 allows 998. The
    SIZE limit is counted on the dot-stuffed wire bytes.

IMAP (``DovecotServer``)
    Real Dovecot, config written by ``dovecot_config`` (see there for the exact
    text). One user ``IMAP_USER``/``IMAP_PASSWORD``; mailboxes INBOX, Drafts
    (\\Drafts), Sent (\\Sent), Trash (\\Trash) -- or, with
    ``folders="names"``, Drafts, "Sent Items", Trash without any special-use
    flag. ``port`` speaks STARTTLS (``ssl = required``), ``imaps_port`` is
    implicit TLS.

    Loopback caveat: Dovecot treats every connection whose remote IP equals
    its local IP (i.e. 127.0.0.1 -> 127.0.0.1) as "secured" and then allows
    plaintext LOGIN without STARTTLS whatever ``ssl``/``disable_plaintext_auth``
    say. Connecting to ``127.0.0.2`` comes from source address 127.0.0.1 on
    Linux, which Dovecot does not consider secured. So Dovecot listens on
    127.0.0.1 *and* 127.0.0.2 (same ports) and ``DovecotServer.host`` is
    ``127.0.0.2`` -- point clients there to get the strict server (capability
    LOGINDISABLED before STARTTLS, "[PRIVACYREQUIRED]" on LOGIN).
    ``lenient_host`` (127.0.0.1) shows the permissive behaviour.

    Users: Dovecot refuses to run imap-login as root and to give mail
    processes uid 0. Started as root, the config keeps the Debian defaults
    (internal user ``dovecot``, login user ``dovenull``) and stores mail as
    ``nobody:nogroup``; started as a normal user, everything runs as that user
    with chroot switched off ("rootless"). ``run_as="nobody"`` (root only,
    via ``setpriv``) exercises the rootless variant in CI. Start-up takes
    ~50 ms; ``stop()`` takes ~1.1 s because Dovecot's log process lingers for
    a second after SIGTERM.
"""

from __future__ import annotations

import asyncio
import atexit
import datetime as _dt
import imaplib
import ipaddress
import os
import grp
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "DEFAULT_SIZE_LIMIT",
    "DOVECOT_BINARY",
    "FOLDER_LAYOUTS",
    "HOST",
    "IMAP_PASSWORD",
    "IMAP_USER",
    "REJECT_REPLY",
    "REJECT_TEXT",
    "SMTP_MODES",
    "SMTP_PASSWORD",
    "SMTP_USER",
    "STRICT_IMAP_HOST",
    "TEMPFAIL_REPLY",
    "AuthAttempt",
    "DovecotError",
    "DovecotServer",
    "ImapListEntry",
    "ImapMessage",
    "ServerCert",
    "SmtpMessage",
    "SmtpServer",
    "SmtpSession",
    "TlsMaterials",
    "dovecot_config",
    "imap_connect",
    "imap_empty_all",
    "imap_fetch_all",
    "imap_fetch_messages",
    "imap_list",
    "imap_list_special_use",
    "loopback_alias_usable",
    "make_tls_materials",
]

HOST = "127.0.0.1"
"""Where the SMTP servers listen (and Dovecot's lenient address)."""

STRICT_IMAP_HOST = "127.0.0.2"
"""Dovecot's address for clients: not 'secured' in Dovecot's eyes (see module doc)."""

# --------------------------------------------------------------------------- TLS

_DAY = _dt.timedelta(days=1)


@dataclass(frozen=True)
class ServerCert:
    """One TLS server certificate and its key (PEM files, leaf only: the CA signs directly)."""

    name: str
    cert_file: Path
    key_file: Path
    cert: x509.Certificate
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]


@dataclass(frozen=True)
class TlsMaterials:
    """The test TLS CA and the server certificates it issued (see module doc)."""

    dir: Path
    now: _dt.datetime
    ca_cert: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey = field(repr=False)
    cafile: Path
    localhost: ServerCert
    wrong_host: ServerCert

    def cert(self, which: Literal["localhost", "wrong"] = "localhost") -> ServerCert:
        return self.localhost if which == "localhost" else self.wrong_host

    def server_context(self, which: Literal["localhost", "wrong"] = "localhost") -> ssl.SSLContext:
        """A server-side context presenting ``which`` (no client certificates)."""
        cert = self.cert(which)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert.cert_file, cert.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        """What a well-behaved client uses: trusts only the test CA, checks the host name."""
        context = ssl.create_default_context(cafile=str(self.cafile))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context


def _tls_name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smimehelper Test"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _server_cert(
    outdir: Path,
    name: str,
    dns_names: Sequence[str],
    ips: Sequence[str],
    now: _dt.datetime,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
) -> ServerCert:
    key = ec.generate_private_key(ec.SECP256R1())
    san: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    san += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_tls_name(dns_names[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY)
        .not_valid_after(now + 30 * _DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file = outdir / f"{name}.cert.pem"
    key_file = outdir / f"{name}.key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return ServerCert(name, cert_file, key_file, cert, tuple(dns_names), tuple(ips))


def make_tls_materials(outdir: Path, now: _dt.datetime | None = None) -> TlsMaterials:
    """Write ``ca.cert.pem`` and the ``localhost``/``wrong`` server certificates to ``outdir``.

    Validity: CA now-1d..now+1y, servers now-1d..now+30d (``now`` = real time by default).
    EC P-256 everywhere (fast to make). Extensions are complete enough for
    OpenSSL's X509_STRICT (Python 3.13's default) too.
    """
    now = _dt.datetime.now(_dt.timezone.utc) if now is None else now
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = _tls_name("smimehelper Test TLS CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY)
        .not_valid_after(now + 365 * _DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cafile = outdir / "ca.cert.pem"
    cafile.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    localhost = _server_cert(
        outdir, "localhost", ["localhost"], [HOST, STRICT_IMAP_HOST, "::1"], now, ca_cert, ca_key
    )
    wrong = _server_cert(outdir, "wrong", ["wrong.example"], [], now, ca_cert, ca_key)
    return TlsMaterials(outdir, now, ca_cert, ca_key, cafile, localhost, wrong)


# --------------------------------------------------------------------------- SMTP

SMTP_USER = "dentist@example.org"
SMTP_PASSWORD = "smtp-pass"
REJECT_TEXT = "5.7.1 Message rejected by policy"
REJECT_REPLY = f"554 {REJECT_TEXT}"
TEMPFAIL_REPLY = "451 4.3.0 Temporary failure, please try again later"
DEFAULT_SIZE_LIMIT = 10 * 1024 * 1024

Security = Literal["starttls", "implicit", "plain"]
Behavior = Literal["accept", "drop", "tempfail", "reject"]
CertChoice = Literal["localhost", "wrong"]

SMTP_MODES: dict[str, tuple[Security, Behavior, CertChoice]] = {
    "starttls": ("starttls", "accept", "localhost"),
    "smtps": ("implicit", "accept", "localhost"),
    "plain": ("plain", "accept", "localhost"),
    "drop": ("starttls", "drop", "localhost"),
    "tempfail": ("starttls", "tempfail", "localhost"),
    "reject": ("starttls", "reject", "localhost"),
    "wronghost": ("starttls", "accept", "wrong"),
}
"""mode -> (security, behavior, certificate); see the module doc."""


@dataclass(frozen=True)
class SmtpMessage:
    """One DATA payload as the server got it. ``data``: the exact message bytes (module doc)."""

    session: int
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    mail_options: tuple[str, ...]
    rcpt_options: tuple[str, ...]
    tls: bool
    auth_user: str | None
    reply: str | None
    """What the server answered; None when it dropped the connection instead."""


@dataclass(frozen=True)
class AuthAttempt:
    session: int
    mechanism: str
    username: str
    success: bool
    tls: bool


@dataclass
class SmtpSession:
    """One TCP connection (STARTTLS keeps the session, sets ``tls``)."""

    index: int
    peer: Any
    tls: bool


def _transport_is_tls(transport: asyncio.BaseTransport | None) -> bool:
    return transport is not None and transport.get_extra_info("ssl_object") is not None


class _QuietSession(Session):
    """aiosmtpd sets the deprecated ``login_data`` on every AUTH and logs a warning each time."""

    @property
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


class _SmtpProtocol(SMTP):
    """aiosmtpd's SMTP with session bookkeeping for ``SmtpServer``."""

    def __init__(self, owner: SmtpServer, handler: Any, *, auth_in_clear: bool, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        if auth_in_clear:
            # Implicit TLS: aiosmtpd only knows about STARTTLS and would hide AUTH.
            # Plain mode: AUTH offered in the clear on purpose. Set after __init__
            # to avoid aiosmtpd's "AUTH without TLS" warning on every connection.
            self._auth_require_tls = False
        self.smh_owner = owner
        self.smh_index = -1

    def _create_session(self) -> Session:
        return _QuietSession(self.loop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        new_connection = self._original_transport is None
        super().connection_made(transport)
        if new_connection:
            self.smh_index = self.smh_owner._session_opened(
                transport.get_extra_info("peername"), _transport_is_tls(transport)
            )
        else:  # the STARTTLS upgrade of an existing session
            self.smh_owner._session_tls(self.smh_index)

    @property
    def smh_tls(self) -> bool:
        return _transport_is_tls(self.transport)


class _Handler:
    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def _pause(self) -> None:
        owner = self.owner
        owner.holding.set()
        while not owner._release.is_set():
            await asyncio.sleep(0.02)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if self.owner.hold == "rcpt":
            await self._pause()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: _SmtpProtocol, session: Any, envelope: Any) -> str:
        owner = self.owner
        data = envelope.original_content
        assert isinstance(data, bytes)
        auth = session.auth_data
        auth_user = auth.login.decode("utf-8", "replace") if isinstance(auth, LoginPassword) else None

        def record(reply: str | None) -> SmtpMessage:
            msg = SmtpMessage(
                session=server.smh_index,
                mail_from=envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=bytes(data),
                mail_options=tuple(envelope.mail_options),
                rcpt_options=tuple(envelope.rcpt_options),
                tls=server.smh_tls,
                auth_user=auth_user,
                reply=reply,
            )
            with owner._lock:
                owner.data_attempts.append(msg)
                if reply is not None and reply.startswith("250"):
                    owner.received.append(msg)
            return msg

        if owner.hold == "data-reply":
            # A real server takes the message when the final dot arrives; the answer may be lost.
            record("250 OK")
            await self._pause()
            return "250 OK"
        behavior = owner.behavior
        if behavior == "drop":
            record(None)
            assert server.transport is not None
            server.transport.abort()
            # Never answer: connection_lost() cancels this task (stop() would too).
            await asyncio.get_running_loop().create_future()
        if behavior == "reject":
            record(REJECT_REPLY)
            return REJECT_REPLY
        if behavior == "tempfail":
            with owner._lock:
                fail = owner._tempfails_left > 0
                if fail:
                    owner._tempfails_left -= 1
            if fail:
                record(TEMPFAIL_REPLY)
                return TEMPFAIL_REPLY
        record("250 OK")
        return "250 OK"


class _Controller(Controller):
    """Controller on a socket bound beforehand (port 0: no free-port race)."""

    def __init__(self, owner: SmtpServer, sock: socket.socket, **kwargs: Any) -> None:
        self.smh_owner = owner
        self.smh_sock = sock
        super().__init__(owner._handler, hostname=HOST, port=sock.getsockname()[1], **kwargs)

    def factory(self) -> SMTP:
        return _SmtpProtocol(
            self.smh_owner, self.handler,
            auth_in_clear=self.smh_owner.security != "starttls",
            **self.SMTP_kwargs,
        )

    def _create_server(self) -> Any:
        return self.loop.create_server(
            self._factory_invoker, sock=self.smh_sock, ssl=self.ssl_context
        )


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 (random free port) in one of ``SMTP_MODES``.

    ``security``/``behavior``/``cert`` override the mode's parts. Use as a context
    manager or call ``start()``/``stop()``. Records are reset by ``start()`` and
    ``reset()``.
    """

    def __init__(
        self,
        tls: TlsMaterials,
        mode: str = "starttls",
        *,
        security: Security | None = None,
        behavior: Behavior | None = None,
        cert: CertChoice | None = None,
        size_limit: int | None = DEFAULT_SIZE_LIMIT,
        tempfail_count: int = 1,
        username: str = SMTP_USER,
        password: str = SMTP_PASSWORD,
        auth_required: bool = True,
        smtputf8: bool = False,
        hostname: str = "localhost",
        timeout: float = 30.0,
    ) -> None:
        if mode not in SMTP_MODES:
            raise ValueError(f"unknown SMTP mode {mode!r}; known: {sorted(SMTP_MODES)}")
        m_security, m_behavior, m_cert = SMTP_MODES[mode]
        self.tls = tls
        self.mode = mode
        self.security: Security = security or m_security
        self.behavior: Behavior = behavior or m_behavior
        # hold: "rcpt" pauses before answering RCPT (the client is still sending), "data-reply"
        # pauses after the whole message arrived, before answering (all handed over).
        # ``holding`` is set when the pause begins; ``release()`` ends it.
        self.hold: str | None = None
        self.holding = threading.Event()
        self._release = threading.Event()
        self.cert_choice: CertChoice = cert or m_cert
        self.size_limit = size_limit
        self.tempfail_count = tempfail_count
        self.username = username
        self.password = password
        self.auth_required = auth_required
        self.smtputf8 = smtputf8
        self.hostname = hostname
        self.timeout = timeout
        self.host = HOST
        self.port = 0
        self._lock = threading.Lock()
        self._handler = _Handler(self)
        self._controller: _Controller | None = None
        self.received: list[SmtpMessage] = []
        self.data_attempts: list[SmtpMessage] = []
        self.auth_attempts: list[AuthAttempt] = []
        self.sessions: list[SmtpSession] = []
        self._tempfails_left = tempfail_count

    # ---- records

    def release(self) -> None:
        """End a ``hold`` pause (see __init__)."""
        self._release.set()

    def reset(self) -> None:
        """Forget everything received so far (and re-arm ``tempfail_count``)."""
        with self._lock:
            self.received.clear()
            self.data_attempts.clear()
            self.auth_attempts.clear()
            self.sessions.clear()
            self._tempfails_left = self.tempfail_count

    @property
    def connections(self) -> int:
        """Number of distinct SMTP sessions (TCP connections) since start/reset."""
        return len(self.sessions)

    @property
    def cafile(self) -> Path:
        return self.tls.cafile

    @property
    def certificate(self) -> ServerCert:
        return self.tls.cert(self.cert_choice)

    def _session_opened(self, peer: Any, tls: bool) -> int:
        with self._lock:
            index = len(self.sessions)
            self.sessions.append(SmtpSession(index, peer, tls))
            return index

    def _session_tls(self, index: int) -> None:
        with self._lock:
            if 0 <= index < len(self.sessions):
                self.sessions[index].tls = True

    def _authenticate(
        self, server: _SmtpProtocol, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            ok = login == self.username and auth_data.password == self.password.encode("utf-8")
        else:
            login, ok = "", False
        with self._lock:
            self.auth_attempts.append(AuthAttempt(server.smh_index, mechanism, login, ok, server.smh_tls))
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    # ---- life cycle

    def start(self) -> SmtpServer:
        if self._controller is not None:
            raise RuntimeError("SMTP server already running")
        context = self.tls.server_context(self.cert_choice)
        kwargs: dict[str, Any] = {
            "server_hostname": self.hostname,
            "data_size_limit": self.size_limit,
            "enable_SMTPUTF8": self.smtputf8,
            "decode_data": False,
            "auth_required": self.auth_required,
            "auth_require_tls": True,  # relaxed per connection for implicit/plain
            "authenticator": self._authenticate,
            "timeout": self.timeout,
        }
        if self.security == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        elif self.security == "implicit":
            kwargs.update(ssl_context=context)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((HOST, 0))
            controller = _Controller(self, sock, **kwargs)
            controller.start()
        except BaseException:
            sock.close()
            raise
        self._controller = controller
        self.port = controller.port
        self.reset()  # forget aiosmtpd's own start-up probe connection
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"SmtpServer(mode={self.mode!r}, security={self.security!r}, behavior={self.behavior!r},"
            f" cert={self.cert_choice!r}, port={self.port})"
        )


# --------------------------------------------------------------------------- Dovecot

DOVECOT_BINARY = "/usr/sbin/dovecot"
IMAP_USER = "dentist@example.org"
IMAP_PASSWORD = "imap-pass"

FOLDER_LAYOUTS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "special-use": (("Drafts", "\\Drafts"), ("Sent", "\\Sent"), ("Trash", "\\Trash")),
    "names": (("Drafts", None), ("Sent Items", None), ("Trash", None)),
}
"""Mailboxes (besides INBOX) created and subscribed at first login, with their special use."""

_CHROOTED_SERVICES = (
    # Services with a default chroot in Dovecot 2.3 (``doveconf -a | grep 'chroot = .'``).
    "aggregator", "anvil", "director", "imap-login", "imap-urlauth-login", "ipc", "old-stats",
    "pop3-login",
)


def loopback_alias_usable(address: str = STRICT_IMAP_HOST) -> bool:
    """True if ``address`` can be listened on (all of 127/8 is on ``lo`` on Linux)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((address, 0))
        return True
    except OSError:
        return False


@dataclass(frozen=True)
class _Identity:
    """Who the Dovecot processes and the mail files run as."""

    internal_user: str
    internal_group: str
    login_user: str
    mail_uid: int
    mail_gid: int
    rootless: bool


def _identity(run_as: str | None = None) -> _Identity:
    if run_as is not None:
        pw = pwd.getpwnam(run_as)
        group = grp.getgrgid(pw.pw_gid).gr_name
        return _Identity(pw.pw_name, group, pw.pw_name, pw.pw_uid, pw.pw_gid, True)
    if os.geteuid() == 0:
        # Dovecot refuses to run imap-login as root and mail processes as uid 0;
        # the Debian package creates dovecot/dovenull, nobody/nogroup always exist.
        nobody = pwd.getpwnam("nobody")
        return _Identity("dovecot", "dovecot", "dovenull", nobody.pw_uid, nobody.pw_gid, False)
    me = pwd.getpwuid(os.getuid())
    group = grp.getgrgid(os.getgid()).gr_name
    return _Identity(me.pw_name, group, me.pw_name, os.getuid(), os.getgid(), True)


def _dovecot_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dovecot_config(
    workdir: Path,
    *,
    listen: Sequence[str],
    imap_port: int,
    imaps_port: int,
    cert_file: Path,
    key_file: Path,
    folders: str = "special-use",
    identity: _Identity | None = None,
) -> str:
    """The complete dovecot.conf (nothing from /etc/dovecot is read)."""
    ident = _identity() if identity is None else identity
    mailboxes = []
    for name, use in FOLDER_LAYOUTS[folders]:
        lines = [f"  mailbox {_dovecot_quote(name)} {{", "    auto = subscribe"]
        if use:
            lines.append(f"    special_use = {use}")
        lines.append("  }")
        mailboxes.append("\n".join(lines))
    rootless = ""
    if ident.rootless:
        # Without root, the master can neither chroot nor change users.
        rootless = "".join(
            f"service {s} {{\n  chroot =\n}}\n" for s in _CHROOTED_SERVICES if s != "anvil"
        )
    anvil_chroot = "  chroot =\n" if ident.rootless else ""
    first_uid = max(1, min(ident.mail_uid, 500))  # uid 0 is refused by Dovecot anyway
    first_gid = min(ident.mail_gid, 500)
    return f"""\
# Test Dovecot for smimehelper (tests/transport/servers.py). Dovecot 2.3 syntax.
protocols = imap
listen = {", ".join(listen)}
base_dir = {workdir}/run
state_dir = {workdir}/state
instance_name = smimehelper-test
log_path = {workdir}/dovecot.log
auth_verbose = yes
default_internal_user = {ident.internal_user}
default_internal_group = {ident.internal_group}
default_login_user = {ident.login_user}
first_valid_uid = {first_uid}
first_valid_gid = {first_gid}

ssl = required
ssl_cert = <{cert_file}
ssl_key = <{key_file}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login
# Fast failures: no 2 s delay per wrong password, and no growing per-IP penalty
# (every test client comes from 127.0.0.1, one failed login would slow all others).
auth_failure_delay = 0
service anvil {{
{anvil_chroot}  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}

passdb {{
  driver = passwd-file
  args = {workdir}/users
}}
userdb {{
  driver = static
  args = uid={ident.mail_uid} gid={ident.mail_gid} home={workdir}/mail/%u
}}
mail_location = maildir:~/Maildir
mail_fsync = never

namespace inbox {{
  inbox = yes
{chr(10).join(mailboxes)}
}}

service imap-login {{
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
    ssl = yes
  }}
}}
{rootless}"""


class DovecotError(RuntimeError):
    pass


class _PortInUse(DovecotError):
    pass


def _pick_port(addresses: Sequence[str], exclude: set[int]) -> int:
    """A port free on every address in ``addresses`` a moment ago."""
    for _ in range(50):
        socks = []
        try:
            first = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(first)
            first.bind((addresses[0], 0))
            port = first.getsockname()[1]
            if port in exclude:
                continue
            for address in addresses[1:]:
                other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(other)
                other.bind((address, port))
            return int(port)
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise DovecotError(f"no port free on all of {addresses}")


class DovecotServer:
    """A real Dovecot on the loopback interface (see module doc and ``dovecot_config``).

    ``host``/``port``: STARTTLS endpoint to give clients; ``imaps_port``: implicit
    TLS; ``cafile``: the test CA. Work files live in a fresh ``/tmp/smh-dovecot-*``
    (short path: Dovecot's UNIX sockets must fit in 108 bytes), removed by
    ``stop()`` unless ``keep_workdir``.
    """

    def __init__(
        self,
        tls: TlsMaterials,
        *,
        folders: str = "special-use",
        binary: str = DOVECOT_BINARY,
        keep_workdir: bool = False,
        run_as: str | None = None,
    ) -> None:
        if folders not in FOLDER_LAYOUTS:
            raise ValueError(f"unknown folder layout {folders!r}")
        if run_as is not None and os.geteuid() != 0:
            raise ValueError("run_as needs root")
        self.run_as = run_as
        """Root only: run Dovecot as this user (setpriv), with the rootless config."""
        self.tls = tls
        self.folders = folders
        self.binary = binary
        self.keep_workdir = keep_workdir
        self.user = IMAP_USER
        self.password = IMAP_PASSWORD
        self.lenient_host = HOST
        self.strict = loopback_alias_usable(STRICT_IMAP_HOST)
        self.host = STRICT_IMAP_HOST if self.strict else HOST
        """Where clients connect; LOGIN needs TLS there only if ``strict``."""
        self.port = 0
        self.imaps_port = 0
        self.workdir: Path | None = None
        self.config_text = ""
        self.start_seconds = 0.0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def cafile(self) -> Path:
        return self.tls.cafile

    @property
    def mailboxes(self) -> tuple[str, ...]:
        return ("INBOX", *(name for name, _ in FOLDER_LAYOUTS[self.folders]))

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "dovecot.log"

    def log_text(self) -> str:
        """Dovecot's log plus whatever the master printed before it opened the log."""
        if self.workdir is None:
            return ""
        parts = []
        for name in ("master.out", "dovecot.log"):
            path = self.workdir / name
            if path.exists():
                parts.append(path.read_text("utf-8", "replace"))
        return "".join(parts)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 10.0) -> DovecotServer:
        if self._proc is not None:
            raise RuntimeError("Dovecot already running")
        if not Path(self.binary).exists():
            raise DovecotError(
                f"{self.binary} not found: install the Debian package dovecot-imapd "
                "(scripts/test does)"
            )
        started = time.monotonic()
        last_error: Exception | None = None
        for _ in range(3):
            self._prepare_workdir()
            try:
                self._launch(timeout)
                self.start_seconds = time.monotonic() - started
                atexit.register(self.stop)
                return self
            except _PortInUse as exc:
                last_error = exc
                self._terminate()
            except BaseException:
                self._terminate()
                self._cleanup_workdir()  # the log is in the exception
                raise
        self._cleanup_workdir()
        raise DovecotError(f"Dovecot could not get free ports: {last_error}")

    def _prepare_workdir(self) -> None:
        self._cleanup_workdir()
        workdir = Path(tempfile.mkdtemp(prefix="smh-dovecot-"))
        # Dovecot's unprivileged processes (dovecot, dovenull, nobody) must traverse it.
        workdir.chmod(0o755)
        ident = _identity(self.run_as)
        for sub in ("run", "state", "mail"):
            (workdir / sub).mkdir()
        cert_file, key_file = self.tls.localhost.cert_file, self.tls.localhost.key_file
        if self.run_as is not None:  # the certificate must be readable by that user
            (workdir / "tls").mkdir()
            cert_file = Path(shutil.copy(cert_file, workdir / "tls"))
            key_file = Path(shutil.copy(key_file, workdir / "tls"))
        elif not ident.rootless:
            os.chown(workdir / "mail", ident.mail_uid, ident.mail_gid)
        users = workdir / "users"
        users.write_text(f"{self.user}:{{PLAIN}}{self.password}\n", encoding="utf-8")
        users.chmod(0o644)  # read by the auth process (default_internal_user)
        listen = [self.lenient_host] + ([STRICT_IMAP_HOST] if self.strict else [])
        self.port = _pick_port(listen, set())
        self.imaps_port = _pick_port(listen, {self.port})
        self.config_text = dovecot_config(
            workdir,
            listen=listen,
            imap_port=self.port,
            imaps_port=self.imaps_port,
            cert_file=cert_file,
            key_file=key_file,
            folders=self.folders,
            identity=ident,
        )
        (workdir / "dovecot.conf").write_text(self.config_text, encoding="utf-8")
        if self.run_as is not None:
            for path in [workdir, *workdir.rglob("*")]:
                os.chown(path, ident.mail_uid, ident.mail_gid)
        self.workdir = workdir

    def _launch(self, timeout: float) -> None:
        assert self.workdir is not None
        command = [self.binary, "-F", "-c", str(self.workdir / "dovecot.conf")]
        if self.run_as is not None:
            pw = pwd.getpwnam(self.run_as)
            command = [
                "setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", *command
            ]
        with open(self.workdir / "master.out", "wb") as out:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                log = self.log_text()
                self._proc = None
                if "Address already in use" in log:
                    raise _PortInUse(log.strip().splitlines()[-1])
                raise DovecotError(f"Dovecot exited with status {code}:\n{log}")
            if self._greets(self.host, self.port) and self._accepts(self.host, self.imaps_port):
                return
            if time.monotonic() > deadline:
                log = self.log_text()
                self._terminate()
                raise DovecotError(f"Dovecot did not greet within {timeout} s:\n{log}")
            time.sleep(0.02)

    @staticmethod
    def _greets(host: str, port: int) -> bool:
        try:
            with socket.create_connection((host, port), timeout=1.0) as sock:
                data = b""
                while not data.endswith(b"\r\n") and len(data) < 4096:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                return data.startswith(b"* OK")
        except OSError:
            return False

    @staticmethod
    def _accepts(host: str, port: int) -> bool:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            return False

    def _terminate(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # our own session (start_new_session)
            except ProcessLookupError:
                pass
            proc.wait(timeout)

    def _cleanup_workdir(self) -> None:
        workdir, self.workdir = self.workdir, None
        if workdir is not None and not self.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    def stop(self) -> None:
        """SIGTERM the master, wait for it, remove the work directory."""
        self._terminate()
        self._cleanup_workdir()
        atexit.unregister(self.stop)

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"DovecotServer(folders={self.folders!r}, host={self.host}, port={self.port},"
            f" imaps_port={self.imaps_port}, running={self.running})"
        )


# --------------------------------------------------------------------------- IMAP client helpers


def _imap_quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(result: tuple[str, Any], what: str) -> Any:
    status, data = result
    if status != "OK":
        raise imaplib.IMAP4.error(f"{what} failed: {status} {data!r}")
    return data


@contextmanager
def imap_connect(
    server: DovecotServer, *, implicit: bool = False, login: bool = True, host: str | None = None
) -> Iterator[imaplib.IMAP4]:
    """A verified-TLS imaplib connection (STARTTLS, or IMAPS with ``implicit``), logged in."""
    host = server.host if host is None else host
    context = server.tls.client_context()
    conn: imaplib.IMAP4
    if implicit:
        conn = imaplib.IMAP4_SSL(host, server.imaps_port, ssl_context=context, timeout=10)
    else:
        conn = imaplib.IMAP4(host, server.port, timeout=10)
        try:
            conn.starttls(ssl_context=context)
        except BaseException:
            _quiet_shutdown(conn)
            raise
    try:
        if login:
            conn.login(server.user, server.password)
        yield conn
    finally:
        try:
            conn.logout()
        except (OSError, imaplib.IMAP4.error):
            _quiet_shutdown(conn)


def _quiet_shutdown(conn: imaplib.IMAP4) -> None:
    try:
        conn.shutdown()
    except OSError:  # e.g. the socket is already closed after a failed TLS handshake
        pass


@dataclass(frozen=True)
class ImapListEntry:
    name: str
    delimiter: str | None
    flags: frozenset[str]


_LIST_RE = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<delim>NIL|"(?:[^"\\]|\\.)*") ?(?P<name>.*)$')
_SPECIAL_USE = frozenset({"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"})


def _unquote(raw: bytes) -> bytes:
    if raw.startswith(b'"') and raw.endswith(b'"') and len(raw) >= 2:
        return re.sub(rb"\\(.)", rb"\1", raw[1:-1])
    return raw


def _parse_list(lines: Sequence[Any]) -> list[ImapListEntry]:
    entries = []
    for item in lines:
        if item is None:
            continue
        literal = None
        if isinstance(item, tuple):  # name sent as a literal: (b'(..) "/" {n}', b'name')
            item, literal = item
        match = _LIST_RE.match(item)
        if not match:
            raise ValueError(f"unparsable LIST line {item!r}")
        delim = match.group("delim")
        name = literal if literal is not None else _unquote(match.group("name").strip())
        entries.append(
            ImapListEntry(
                name=name.decode("utf-8"),
                delimiter=None if delim == b"NIL" else _unquote(delim).decode("ascii"),
                flags=frozenset(match.group("flags").decode("ascii").split()),
            )
        )
    return entries


def imap_list(server: DovecotServer) -> list[ImapListEntry]:
    """``LIST "" "*"`` (the plain LIST a client sends), parsed."""
    with imap_connect(server) as conn:
        return _parse_list(_check(conn.list('""', "*"), "LIST"))


def imap_list_special_use(server: DovecotServer) -> dict[str, frozenset[str]]:
    """Mailbox name -> its special-use flags (RFC 6154) as returned by a plain LIST."""
    return {e.name: e.flags & _SPECIAL_USE for e in imap_list(server)}


@dataclass(frozen=True)
class ImapMessage:
    """One stored message: UID, flags as stored (without the session flag \\Recent), bytes."""

    uid: int
    flags: frozenset[str]
    data: bytes


_FETCH_UID_RE = re.compile(rb"UID (\d+)")
_FETCH_FLAGS_RE = re.compile(rb"FLAGS \(([^)]*)\)")


def _message_flags(raw: bytes) -> frozenset[str]:
    # \Recent is per-session state of the server, not something a client stored.
    return frozenset(raw.decode("ascii").split()) - {"\\Recent"}


def imap_fetch_messages(server: DovecotServer, mailbox: str) -> list[ImapMessage]:
    """Every message of ``mailbox`` in UID (= append) order: UID, flags, exact bytes (BODY.PEEK[])."""
    with imap_connect(server) as conn:
        _check(conn.select(_imap_quote(mailbox), readonly=True), f"SELECT {mailbox}")
        uids = _check(conn.uid("SEARCH", "ALL"), "UID SEARCH")[0].split()
        messages = []
        for uid in uids:
            data = _check(conn.uid("FETCH", uid.decode(), "(UID FLAGS BODY.PEEK[])"), "UID FETCH")
            parts = [d for d in data if isinstance(d, tuple)]
            if len(parts) != 1:
                raise imaplib.IMAP4.error(f"unexpected FETCH response {data!r}")
            head, body = parts[0]
            # FLAGS may come before or after the literal; look at every non-literal piece.
            text = head + b" " + b" ".join(d for d in data if isinstance(d, bytes))
            uid_match = _FETCH_UID_RE.search(text)
            flags_match = _FETCH_FLAGS_RE.search(text)
            messages.append(
                ImapMessage(
                    uid=int(uid_match.group(1)) if uid_match else int(uid),
                    flags=_message_flags(flags_match.group(1) if flags_match else b""),
                    data=body,
                )
            )
        return messages


def imap_fetch_all(server: DovecotServer, mailbox: str) -> list[bytes]:
    """The exact bytes of every message in ``mailbox``, in append order."""
    return [m.data for m in imap_fetch_messages(server, mailbox)]


def imap_empty_all(server: DovecotServer) -> None:
    """Expunge every message and delete every mailbox that is not part of the layout.

    For tests sharing one (session-scoped) Dovecot; called by the ``clean_*`` fixtures.
    """
    keep = {name.lower() for name in server.mailboxes}
    with imap_connect(server) as conn:
        entries = _parse_list(_check(conn.list('""', "*"), "LIST"))
        for entry in sorted(entries, key=lambda e: len(e.name), reverse=True):
            if entry.name.lower() not in keep:
                _check(conn.delete(_imap_quote(entry.name)), f"DELETE {entry.name}")
        for name in server.mailboxes:
            count = int(_check(conn.select(_imap_quote(name)), f"SELECT {name}")[0])
            if count:
                _check(conn.store("1:*", "+FLAGS.SILENT", "(\\Deleted)"), "STORE")
                _check(conn.expunge(), "EXPUNGE")
            conn.close()
