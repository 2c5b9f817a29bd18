"""Drain N queued messages through one SMTP connection (STARTTLS + AUTH) to a local aiosmtpd.

Prints messages per second, the number of SMTP sessions the server saw (1 = the connection
was reused), peak RSS, and the open file descriptors before and after (a leak shows as growth).

    python benchmarks/outbox_drain.py [--messages 200] [--size-kb 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import resource
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from smimehelper.core.secrets import OsKeyring  # noqa: E402
from smimehelper.core.transport.accounts import AccountStore, make_account  # noqa: E402
from smimehelper.core.transport.delivery import drain  # noqa: E402
from smimehelper.core.transport.outbox import Outbox  # noqa: E402


def _tls(folder: Path) -> tuple[ssl.SSLContext, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context, folder / "cert.pem"


class _Counting:
    def __init__(self) -> None:
        self.messages = 0
        self.sessions: set[int] = set()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        with self.lock:
            self.messages += 1
            self.sessions.add(id(session))
        return "250 OK"


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--size-kb", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        context, ca = _tls(folder)
        handler = _Counting()

        def authenticate(server, session, envelope, mechanism, data):  # type: ignore[no-untyped-def]
            return AuthResult(success=isinstance(data, LoginPassword) and data.password == b"pw")

        import socket

        with socket.socket() as probe:  # aiosmtpd's Controller cannot listen on port 0
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                                authenticator=authenticate, auth_require_tls=True)
        controller.start()
        try:
            home = folder / "home"
            accounts = AccountStore(home, OsKeyring())
            accounts.add(make_account("dentist@example.org", smtp_host="127.0.0.1", smtp_port=port, security="starttls", cafile=str(ca)), None)
            outbox = Outbox(home)
            message = folder / "m.eml"
            message.write_bytes(b"From: dentist@example.org\r\nTo: colleague@example.org\r\nSubject: x\r\n\r\n" + (b"A" * 76 + b"\r\n") * (args.size_kb * 1024 // 78))
            for _ in range(args.messages):
                outbox.enqueue(message, account="dentist@example.org", envelope_from="dentist@example.org",
                               recipients=("colleague@example.org",), subject="x", append_to_sent=False)
            fds_before = _fds()
            started = time.perf_counter()
            results = drain(outbox, accounts, lambda _account: b"pw")
            elapsed = time.perf_counter() - started
            fds_after = _fds()
        finally:
            controller.stop()
        sent = sum(1 for r in results if r.item.state == "sent")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"messages: {sent}/{args.messages} sent, {args.size_kb} KB each, in {elapsed:.2f} s "
              f"= {sent / elapsed:.1f} messages/s")
        print(f"SMTP sessions seen by the server: {len(handler.sessions)} (1 = one reused connection)")
        print(f"open descriptors before/after: {fds_before}/{fds_after}; peak RSS {peak:.1f} MB")
        ok = sent == args.messages and len(handler.sessions) == 1 and fds_after <= fds_before
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
