"""The test servers behave as documented, judged with the standard library's smtplib/imaplib.

These tests pin the infrastructure (tests/transport/servers.py) so that a failure in a
transport test can be blamed on the client under test, not on the server.
"""

from __future__ import annotations

import datetime as _dt
import imaplib
import os
import pwd
import shutil
import smtplib
import ssl
import time

import pytest
from cryptography import x509

from tests.transport.servers import (
    DEFAULT_SIZE_LIMIT,
    FOLDER_LAYOUTS,
    HOST,
    IMAP_PASSWORD,
    IMAP_USER,
    REJECT_TEXT,
    SMTP_PASSWORD,
    SMTP_USER,
    TEMPFAIL_REPLY,
    DovecotServer,
    SmtpServer,
    TlsMaterials,
    imap_connect,
    imap_empty_all,
    imap_fetch_all,
    imap_fetch_messages,
    imap_list,
    imap_list_special_use,
)

# A message that exercises transparency (lines starting with dots, a lone dot), 8-bit
# bytes, trailing white space, an empty body line and a 998-octet line (RFC 5322 max).
MESSAGE = (
    b"From: Dr Alice Sender <alice@example.org>\r\n"
    b"To: bob@example.org\r\n"
    b"Subject: =?utf-8?q?Befund_M=C3=BCller?=\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b".leading dot\r\n"
    b"..two leading dots\r\n"
    b".\r\n"
    b"caf\xc3\xa9 8-bit\r\n"
    b"trailing spaces   \r\n"
    b"\r\n"
    + b"x" * 998 + b"\r\n"
    b"last line\r\n"
)

SENDER = "alice@example.org"
RECIPIENTS = ["bob@example.org", "carol@example.org"]


def _starttls_client(server: SmtpServer, *, login: bool = True) -> smtplib.SMTP:
    client = smtplib.SMTP(server.host, server.port, timeout=10)
    client.starttls(context=server.tls.client_context())
    if login:
        client.login(SMTP_USER, SMTP_PASSWORD)
    return client


# --------------------------------------------------------------------------- TLS material


def test_tls_certificates_are_valid_now_for_localhost(tls_materials: TlsMaterials) -> None:
    now = _dt.datetime.now(_dt.timezone.utc)
    for cert in (tls_materials.ca_cert, tls_materials.localhost.cert, tls_materials.wrong_host.cert):
        assert cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
    localhost = tls_materials.localhost.cert
    san = localhost.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", "127.0.0.2"}
    wrong_cert = tls_materials.wrong_host.cert
    wrong = wrong_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert wrong.get_values_for_type(x509.DNSName) == ["wrong.example"]
    assert wrong.get_values_for_type(x509.IPAddress) == []
    assert localhost.issuer == wrong_cert.issuer == tls_materials.ca_cert.subject


# --------------------------------------------------------------------------- SMTP


def test_starttls_auth_send_arrives_byte_identical(smtp_server: SmtpServer) -> None:
    client = smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10)
    client.ehlo()
    assert client.has_extn("starttls")
    assert not client.has_extn("auth"), "AUTH must not be offered before STARTTLS"
    client.starttls(context=smtp_server.tls.client_context())
    client.ehlo()
    assert not client.has_extn("starttls")
    assert set(client.esmtp_features["auth"].split()) == {"LOGIN", "PLAIN"}
    assert client.esmtp_features["size"] == str(DEFAULT_SIZE_LIMIT)
    client.login(SMTP_USER, SMTP_PASSWORD)
    assert client.sendmail(SENDER, RECIPIENTS, MESSAGE) == {}
    client.quit()

    [msg] = smtp_server.received
    assert msg.data == MESSAGE
    assert msg.mail_from == SENDER
    assert msg.rcpt_tos == tuple(RECIPIENTS)
    assert msg.tls is True
    assert msg.auth_user == SMTP_USER
    assert msg.reply == "250 OK"
    assert f"SIZE={len(MESSAGE)}" in msg.mail_options  # smtplib declares the size
    assert smtp_server.connections == 1
    assert smtp_server.sessions[0].tls is True
    assert [(a.mechanism, a.username, a.success, a.tls) for a in smtp_server.auth_attempts] == [
        ("PLAIN", SMTP_USER, True, True)
    ]


def test_raw_bytes_are_kept_exactly_on_the_wire(smtp_server: SmtpServer) -> None:
    """Dot-stuffing done by hand: the server removes exactly one leading dot per line,
    keeps bare LF and CR inside lines and does not add or drop line endings."""
    client = _starttls_client(smtp_server)
    body = b"Subject: raw\r\n\r\nbare\nLF and bare\rCR\r\n...three\r\n. dot space\r\nend\r\n"
    stuffed = b"Subject: raw\r\n\r\nbare\nLF and bare\rCR\r\n....three\r\n.. dot space\r\nend\r\n"
    assert client.mail(SENDER)[0] == 250
    assert client.rcpt(RECIPIENTS[0])[0] == 250
    assert client.docmd("DATA")[0] == 354
    client.send(stuffed + b".\r\n")
    assert client.getreply()[0] == 250
    client.quit()
    assert smtp_server.received[0].data == body


def test_starttls_is_required_before_mail_and_auth(smtp_server: SmtpServer) -> None:
    client = smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10)
    client.ehlo()
    code, reply = client.mail(SENDER)
    assert code == 530 and b"STARTTLS" in reply
    code, reply = client.docmd("AUTH", "PLAIN AGRlbnRpc3RAZXhhbXBsZS5vcmcAc210cC1wYXNz")
    assert code in (530, 538)
    client.quit()
    assert smtp_server.auth_attempts == []
    assert smtp_server.received == []


def test_auth_login_wrong_password_and_auth_required(smtp_server: SmtpServer) -> None:
    client = _starttls_client(smtp_server, login=False)
    client.ehlo()
    code, reply = client.mail(SENDER)
    assert code == 530, "MAIL before AUTH must be refused"
    client.rset()
    client.user, client.password = SMTP_USER, "wrong"
    with pytest.raises(smtplib.SMTPAuthenticationError) as info:
        client.auth("LOGIN", client.auth_login, initial_response_ok=False)
    assert info.value.smtp_code == 535
    client.user, client.password = SMTP_USER, SMTP_PASSWORD
    code, _ = client.auth("LOGIN", client.auth_login, initial_response_ok=False)
    assert code == 235
    assert client.sendmail(SENDER, RECIPIENTS[:1], MESSAGE) == {}
    client.quit()
    assert [(a.mechanism, a.success, a.tls) for a in smtp_server.auth_attempts] == [
        ("LOGIN", False, True),
        ("LOGIN", True, True),
    ]
    assert smtp_server.received[0].auth_user == SMTP_USER


def test_sessions_count_connections_not_messages(smtp_server: SmtpServer) -> None:
    client = _starttls_client(smtp_server)
    client.sendmail(SENDER, RECIPIENTS[:1], MESSAGE)
    client.sendmail(SENDER, RECIPIENTS[1:], MESSAGE)
    client.quit()
    assert smtp_server.connections == 1
    client = _starttls_client(smtp_server)
    client.sendmail(SENDER, RECIPIENTS[:1], MESSAGE)
    client.quit()
    assert smtp_server.connections == 2
    assert [m.session for m in smtp_server.received] == [0, 0, 1]
    smtp_server.reset()
    assert smtp_server.connections == 0 and smtp_server.received == []


@pytest.mark.parametrize("smtp_server", ["smtps"], indirect=True)
def test_smtps_is_tls_from_the_first_byte(smtp_server: SmtpServer) -> None:
    client = smtplib.SMTP_SSL(
        smtp_server.host, smtp_server.port, context=smtp_server.tls.client_context(), timeout=10
    )
    client.ehlo()
    assert not client.has_extn("starttls")
    assert set(client.esmtp_features["auth"].split()) == {"LOGIN", "PLAIN"}
    client.login(SMTP_USER, SMTP_PASSWORD)
    client.sendmail(SENDER, RECIPIENTS, MESSAGE)
    client.quit()
    [msg] = smtp_server.received
    assert msg.data == MESSAGE and msg.tls is True
    assert smtp_server.sessions[0].tls is True
    assert smtp_server.auth_attempts[0].tls is True


@pytest.mark.parametrize("smtp_server", ["plain"], indirect=True)
def test_plaintext_server_offers_no_starttls(smtp_server: SmtpServer) -> None:
    client = smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10)
    client.ehlo()
    assert not client.has_extn("starttls")
    with pytest.raises(smtplib.SMTPNotSupportedError):
        client.starttls(context=smtp_server.tls.client_context())
    # AUTH is offered in the clear on purpose: a leaking client shows up here.
    assert client.has_extn("auth")
    client.login(SMTP_USER, SMTP_PASSWORD)
    client.quit()
    assert [(a.success, a.tls) for a in smtp_server.auth_attempts] == [(True, False)]
    assert smtp_server.sessions[0].tls is False


def test_tempfail_answers_451_then_accepts(smtp_server_factory) -> None:
    server = smtp_server_factory("tempfail", tempfail_count=2)
    client = _starttls_client(server)
    for _ in range(2):
        with pytest.raises(smtplib.SMTPDataError) as info:
            client.sendmail(SENDER, RECIPIENTS, MESSAGE)
        assert info.value.smtp_code == 451
        assert info.value.smtp_error.decode() == TEMPFAIL_REPLY[4:]
    assert client.sendmail(SENDER, RECIPIENTS, MESSAGE) == {}
    client.quit()
    assert [m.reply[:3] for m in server.data_attempts if m.reply] == ["451", "451", "250"]
    assert [m.data for m in server.received] == [MESSAGE]
    assert server.connections == 1


def test_reject_answers_554_with_policy_text(smtp_server_factory) -> None:
    server = smtp_server_factory("reject")
    client = _starttls_client(server)
    with pytest.raises(smtplib.SMTPDataError) as info:
        client.sendmail(SENDER, RECIPIENTS, MESSAGE)
    assert info.value.smtp_code == 554
    assert info.value.smtp_error == REJECT_TEXT.encode()
    client.quit()
    assert server.received == []
    assert server.data_attempts[0].data == MESSAGE


def test_drop_closes_the_connection_after_the_data_without_reply(smtp_server_factory) -> None:
    server = smtp_server_factory("drop")
    for _ in range(2):  # the server keeps accepting new connections
        client = _starttls_client(server)
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.sendmail(SENDER, RECIPIENTS, MESSAGE)
        client.close()
    assert server.received == []
    assert [(m.data, m.reply) for m in server.data_attempts] == [(MESSAGE, None)] * 2
    assert server.connections == 2


def test_wrong_host_certificate_fails_hostname_verification(smtp_server_factory) -> None:
    server = smtp_server_factory("wronghost")
    client = smtplib.SMTP(server.host, server.port, timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        client.starttls(context=server.tls.client_context())
    assert "mismatch" in info.value.verify_message
    client.close()
    # Same CA, no name check: the chain itself is fine, only the name is wrong.
    context = server.tls.client_context()
    context.check_hostname = False
    client = smtplib.SMTP(server.host, server.port, timeout=10)
    client.starttls(context=context)
    client.quit()
    assert server.certificate.dns_names == ("wrong.example",)


def test_localhost_name_verifies_and_unknown_ca_fails(smtp_server: SmtpServer) -> None:
    client = smtplib.SMTP("localhost", smtp_server.port, timeout=10)
    client.starttls(context=smtp_server.tls.client_context())  # DNS SAN "localhost"
    client.quit()
    client = smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError):
        client.starttls(context=ssl.create_default_context())  # system CAs only
    client.close()


def test_size_is_advertised_and_enforced(smtp_server_factory) -> None:
    server = smtp_server_factory("starttls", size_limit=2000)
    client = _starttls_client(server)
    client.ehlo()
    assert client.esmtp_features["size"] == "2000"
    big = MESSAGE + b"y" * 900 + b"\r\n"
    assert len(big) > 2000
    with pytest.raises(smtplib.SMTPSenderRefused) as info:  # smtplib sends SIZE=<len>
        client.sendmail(SENDER, RECIPIENTS, big)
    assert info.value.smtp_code == 552
    # Without SIZE= the payload itself is measured after DATA.
    assert client.mail(SENDER)[0] == 250
    assert client.rcpt(RECIPIENTS[0])[0] == 250
    assert client.data(big)[0] == 552
    small = b"Subject: small\r\n\r\nno final line break"
    assert client.sendmail(SENDER, RECIPIENTS, small) == {}
    client.quit()
    # smtplib completes the last line; the server stores what was on the wire.
    assert [m.data for m in server.received] == [small + b"\r\n"]


def test_line_length_limit(smtp_server: SmtpServer) -> None:
    """RFC 5322's 998 octets pass (also after a transparency dot); 1000 are refused."""
    client = _starttls_client(smtp_server)
    for line in (b"x" * 998, b"." + b"x" * 997):
        assert client.sendmail(SENDER, RECIPIENTS, b"Subject: l\r\n\r\n" + line + b"\r\n") == {}
    with pytest.raises(smtplib.SMTPDataError) as info:
        client.sendmail(SENDER, RECIPIENTS, b"Subject: l\r\n\r\n" + b"x" * 1000 + b"\r\n")
    assert info.value.smtp_code == 500
    client.quit()
    assert len(smtp_server.received) == 2


def test_no_size_limit_means_no_size_extension(smtp_server_factory) -> None:
    server = smtp_server_factory("starttls", size_limit=None)
    client = _starttls_client(server)
    client.ehlo()
    assert not client.has_extn("size")
    client.quit()


def test_stopped_server_refuses_connections(tls_materials: TlsMaterials) -> None:
    with SmtpServer(tls_materials, "starttls") as server:
        port = server.port
        client = _starttls_client(server)
        client.quit()
    assert not server.running
    with pytest.raises(OSError):
        smtplib.SMTP(HOST, port, timeout=2)


# --------------------------------------------------------------------------- Dovecot


def test_dovecot_login_only_after_starttls(dovecot: DovecotServer) -> None:
    assert dovecot.strict, "127.0.0.2 must be usable (Linux loopback) for a strict Dovecot"
    conn = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=10)
    try:
        assert "LOGINDISABLED" in conn.capabilities
        assert "STARTTLS" in conn.capabilities
        assert not any(c.startswith("AUTH=") for c in conn.capabilities)
        with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED|disallowed"):
            conn.login(IMAP_USER, IMAP_PASSWORD)
        conn.starttls(ssl_context=dovecot.tls.client_context())
        assert "LOGINDISABLED" not in conn.capabilities
        assert "AUTH=PLAIN" in conn.capabilities
        assert conn.login(IMAP_USER, IMAP_PASSWORD)[0] == "OK"
    finally:
        conn.logout()


def test_dovecot_imaps_and_wrong_password(dovecot: DovecotServer) -> None:
    with imap_connect(dovecot, implicit=True) as conn:
        assert conn.noop()[0] == "OK"
    with imap_connect(dovecot, login=False) as conn:
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED|failed"):
            conn.login(IMAP_USER, "wrong")


def test_dovecot_certificate_needs_the_test_ca(dovecot: DovecotServer) -> None:
    conn = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError):
        conn.starttls(ssl_context=ssl.create_default_context())
    conn.file.close()
    conn.sock.close()


def test_dovecot_treats_127_0_0_1_as_secured(dovecot: DovecotServer) -> None:
    """Pins the caveat of the module doc: same source and destination IP = 'secured'."""
    conn = imaplib.IMAP4(dovecot.lenient_host, dovecot.port, timeout=10)
    try:
        assert "LOGINDISABLED" not in conn.capabilities
        assert conn.login(IMAP_USER, IMAP_PASSWORD)[0] == "OK"
    finally:
        conn.logout()


def test_dovecot_lists_special_use_folders(dovecot: DovecotServer) -> None:
    special = imap_list_special_use(dovecot)
    assert special["Drafts"] == {"\\Drafts"}
    assert special["Sent"] == {"\\Sent"}
    assert special["Trash"] == {"\\Trash"}
    assert special["INBOX"] == frozenset()


def test_dovecot_append_then_fetch_is_byte_identical(clean_dovecot: DovecotServer) -> None:
    with imap_connect(clean_dovecot) as conn:
        status, _ = conn.append('"Drafts"', "(\\Seen \\Draft)", None, MESSAGE)
        assert status == "OK"
        status, _ = conn.append('"Sent"', "(\\Seen)", None, MESSAGE + b"second\r\n")
        assert status == "OK"
    [draft] = imap_fetch_messages(clean_dovecot, "Drafts")
    assert draft.data == MESSAGE
    assert draft.flags == {"\\Seen", "\\Draft"}
    assert imap_fetch_all(clean_dovecot, "Sent") == [MESSAGE + b"second\r\n"]
    assert imap_fetch_all(clean_dovecot, "INBOX") == []


def test_imap_empty_all_resets_the_mailbox(clean_dovecot: DovecotServer) -> None:
    with imap_connect(clean_dovecot) as conn:
        assert conn.create('"Sent Items"')[0] == "OK"
        conn.append('"Sent Items"', None, None, MESSAGE)
        conn.append('"Drafts"', None, None, MESSAGE)
    assert "Sent Items" in {e.name for e in imap_list(clean_dovecot)}
    imap_empty_all(clean_dovecot)
    assert {e.name for e in imap_list(clean_dovecot)} == set(clean_dovecot.mailboxes)
    assert imap_fetch_all(clean_dovecot, "Drafts") == []


def test_dovecot_names_variant_has_no_special_use(clean_dovecot_names: DovecotServer) -> None:
    special = imap_list_special_use(clean_dovecot_names)
    assert set(special) == {"INBOX", "Drafts", "Sent Items", "Trash"}
    assert all(flags == frozenset() for flags in special.values())
    with imap_connect(clean_dovecot_names) as conn:
        assert conn.append('"Sent Items"', "(\\Seen)", None, MESSAGE)[0] == "OK"
    assert imap_fetch_all(clean_dovecot_names, "Sent Items") == [MESSAGE]
    assert [name for name, _ in FOLDER_LAYOUTS["names"]] == ["Drafts", "Sent Items", "Trash"]


def test_dovecot_start_and_stop_clean_up(tls_materials: TlsMaterials) -> None:
    server = DovecotServer(tls_materials)
    started = time.monotonic()
    server.start()
    try:
        assert time.monotonic() - started < 10
        workdir = server.workdir
        assert workdir is not None and (workdir / "dovecot.conf").exists()
        assert "ssl = required" in server.config_text
        with imap_connect(server) as conn:
            assert conn.noop()[0] == "OK"
        pid = server._proc.pid  # type: ignore[union-attr]
    finally:
        server.stop()
    assert not server.running
    assert not workdir.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(OSError):
        imaplib.IMAP4(server.host, server.port, timeout=2)


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="as a normal user every Dovecot of this suite already runs rootless",
)
def test_dovecot_config_also_runs_as_a_normal_user(tls_materials: TlsMaterials) -> None:
    """CI runs as root; this keeps the rootless configuration (developers) working."""
    server = DovecotServer(tls_materials, run_as="nobody")
    server.start()
    try:
        assert "chroot =" in server.config_text
        with imap_connect(server) as conn:
            assert conn.append('"Drafts"', "(\\Draft)", None, MESSAGE)[0] == "OK"
        assert imap_fetch_all(server, "Drafts") == [MESSAGE]
        assert imap_list_special_use(server)["Sent"] == {"\\Sent"}
        pid = server._proc.pid  # type: ignore[union-attr]
        with open(f"/proc/{pid}/status") as status:
            uid_line = next(line for line in status if line.startswith("Uid:"))
        assert int(uid_line.split()[1]) == pwd.getpwnam("nobody").pw_uid
    finally:
        server.stop()
