"""Real revocation services on 127.0.0.1 for the test PKI.

* ``CrlServer`` -- a stdlib ``ThreadingHTTPServer`` serving the CRLs and the CA
  certificates (DER) of a PKI directory, recording every path requested.
* ``OcspResponder`` -- the real ``openssl ocsp`` responder as a subprocess, fed
  an OpenSSL CA database (``index.txt``) written by ``write_ocsp_index``.
* ``start_revocation_pki`` -- picks ports, builds a PKI whose certificates point
  at those servers (``build_pki(..., crl_base_url=, ocsp_url=,
  offline_base_url=)``), starts both servers and returns a ``RevocationPki``.
* ``make_p12_variants`` -- PKCS#12 files in the flavours found in the wild
  (openssl 3 default, 3DES, legacy RC2) and broken ones, made with the CLI.

Time behaviour (the reason ``RevocationPki.moment`` exists; checked against
OpenSSL 3.0.19 and pyhanko-certvalidator 0.33):

``openssl ocsp`` stamps thisUpdate/producedAt with the *real* current time at
the moment it answers, and nextUpdate = thisUpdate + ``-ndays``/``-nmin`` (no
nextUpdate at all without those). pyhanko-certvalidator's default freshness
policy accepts revocation info only when
``thisUpdate - time_tolerance <= moment <= nextUpdate + time_tolerance``
(``time_tolerance`` defaults to 1 s; without nextUpdate it assumes 30 minutes).
Hence validating at ``REFERENCE_NOW`` (2026-06-01) against a response produced
"now" fails with "OCSP response is too recent", and so does a moment captured
when the fixture started: every response produced later than moment + 1 s is
"too recent". The revocation PKI is therefore built around the real time of
fixture start (``now``), and validation is frozen at ``moment = now +
margin`` (1 h by default), a point safely *after* every response the
session will fetch; the responder runs with ``-ndays 1`` so nextUpdate (>= now
+ 1 day) still covers ``moment``. CRLs are made by us (thisUpdate = now - 1 day,
nextUpdate = now + 30 days) and cover it too. ``RevocationPki.check_clock()``
fails loudly if a session outlives the margin.

Another ``openssl ocsp`` pitfall (OpenSSL issue #31129, #23934): a client that
connects and closes without sending a request leaves the responder spinning at
100 % CPU and never answering again. So readiness is detected from the
responder's own "waiting for OCSP client connections" log line, never by a TCP
connect probe -- do not poll its port.
"""

from __future__ import annotations

import atexit
import datetime as _dt
import random
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from cryptography import x509

from tests.pki.make_pki import OCSP_SIGNER_NAME, Pki, build_pki

__all__ = [
    "CLOCK_MARGIN",
    "ClosedPort",
    "CrlServer",
    "OcspResponder",
    "P12_VARIANTS",
    "RevocationPki",
    "free_port",
    "index_line",
    "make_p12_variants",
    "openssl_oneline",
    "start_revocation_pki",
    "write_ocsp_index",
]

HOST = "127.0.0.1"

CLOCK_MARGIN = _dt.timedelta(hours=1)
"""Default distance between the PKI's ``now`` and the frozen validation moment."""


# --------------------------------------------------------------------------- ports


def free_port(host: str = HOST) -> int:
    """A TCP port that was free a moment ago (bind to 0, read, close).

    Racy by nature (another process may grab it before we listen), which is
    acceptable on a test machine; the port has to be known before the
    certificates that point at it are made.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ClosedPort:
    """A port on which nothing listens, reserved for as long as this object lives.

    The socket is bound but never ``listen()``-ed, so connecting gets an
    immediate "connection refused" and no other process can start listening
    there in the meantime (unlike a port that was merely picked and released).
    """

    def __init__(self, host: str = HOST) -> None:
        self.host = host
        self._sock: socket.socket | None = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((host, 0))
        self.port = int(self._sock.getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> ClosedPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- CRL server

_CONTENT_TYPES = {
    ".crl": "application/pkix-crl",
    ".cer": "application/pkix-cert",
    ".der": "application/pkix-cert",
}


@dataclass(frozen=True)
class _Override:
    status: int
    body: bytes
    content_type: str


class CrlServer:
    """HTTP server on 127.0.0.1 for the CRLs (``*.crl``) and CA certificates (``*.cer``).

    Serves files that sit directly in ``directory`` and end in .crl, .cer or
    .der (anything else, e.g. the ``*.key.pem`` files, is a 404). Every request's path (query string
    included, as sent) is appended to ``requests`` before it is answered, so
    tests can assert what a validator fetched. ``override()`` replaces the
    answer for one path (garbage CRL, 404, 500 ...) until ``reset_overrides()``.
    """

    def __init__(self, directory: Path, *, port: int = 0, host: str = HOST) -> None:
        self.directory = Path(directory)
        self.host = host
        self._requested_port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._requests: list[str] = []
        self._overrides: dict[str, _Override] = {}

    # -- lifecycle
    def start(self) -> CrlServer:
        if self._httpd is not None:
            raise RuntimeError("CrlServer already started")
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                server._answer(self, send_body=True)

            def do_HEAD(self) -> None:  # noqa: N802
                server._answer(self, send_body=False)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # keep pytest output clean; ``requests`` is the log

        httpd = ThreadingHTTPServer((self.host, self._requested_port), Handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"CrlServer:{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> CrlServer:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    # -- addresses
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("CrlServer not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name.lstrip('/')}"

    # -- request log
    @property
    def requests(self) -> list[str]:
        """Paths requested so far (e.g. ``['/inter.crl', '/root.crl']``), a copy."""
        with self._lock:
            return list(self._requests)

    def count(self, path: str) -> int:
        """How often ``path`` (e.g. ``'/inter.crl'``) was requested."""
        return self.requests.count(path)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- overrides
    def override(
        self,
        path: str,
        body: bytes = b"",
        *,
        status: int = 200,
        content_type: str = "application/octet-stream",
    ) -> None:
        """Answer ``path`` with ``status``/``body`` instead of the file."""
        with self._lock:
            self._overrides[path] = _Override(status, body, content_type)

    def reset_overrides(self) -> None:
        with self._lock:
            self._overrides.clear()

    # -- handler
    def _answer(self, handler: BaseHTTPRequestHandler, *, send_body: bool) -> None:
        raw_path = handler.path
        with self._lock:
            self._requests.append(raw_path)
            override = self._overrides.get(raw_path)
        if override is not None:
            status, body, ctype = override.status, override.body, override.content_type
        else:
            status, body, ctype = self._file(raw_path.split("?", 1)[0])
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if send_body:
            handler.wfile.write(body)

    def _file(self, path: str) -> tuple[int, bytes, str]:
        name = path.lstrip("/")
        suffix = Path(name).suffix.lower()
        candidate = self.directory / name
        if (
            "/" in name or "\\" in name or name.startswith(".")
            or suffix not in _CONTENT_TYPES or not candidate.is_file()
        ):
            return HTTPStatus.NOT_FOUND, b"not found\n", "text/plain"
        return HTTPStatus.OK, candidate.read_bytes(), _CONTENT_TYPES[suffix]


# --------------------------------------------------------------------------- OCSP index

# OpenSSL short names as printed by X509_NAME_oneline (``-nameopt compat``).
_SHORT_NAMES = {
    x509.NameOID.COUNTRY_NAME: "C",
    x509.NameOID.STATE_OR_PROVINCE_NAME: "ST",
    x509.NameOID.LOCALITY_NAME: "L",
    x509.NameOID.ORGANIZATION_NAME: "O",
    x509.NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    x509.NameOID.COMMON_NAME: "CN",
    x509.NameOID.EMAIL_ADDRESS: "emailAddress",
    x509.NameOID.SERIAL_NUMBER: "serialNumber",
}

# RFC 5280 reason -> the spelling OpenSSL's CA database uses (apps/ca.c crl_reasons).
_REASONS = {
    x509.ReasonFlags.unspecified: "unspecified",
    x509.ReasonFlags.key_compromise: "keyCompromise",
    x509.ReasonFlags.ca_compromise: "CACompromise",
    x509.ReasonFlags.affiliation_changed: "affiliationChanged",
    x509.ReasonFlags.superseded: "superseded",
    x509.ReasonFlags.cessation_of_operation: "cessationOfOperation",
    x509.ReasonFlags.certificate_hold: "certificateHold",
    x509.ReasonFlags.remove_from_crl: "removeFromCRL",
}


def openssl_oneline(name: x509.Name) -> str:
    """``name`` in X509_NAME_oneline form, e.g. ``/C=DE/O=smimehelper Test/CN=Bob``."""
    parts = []
    for attr in name:
        short = _SHORT_NAMES.get(attr.oid, attr.oid.dotted_string)
        parts.append(f"/{short}={attr.value}")
    return "".join(parts)


def _db_time(when: _dt.datetime) -> str:
    """ASN.1 time as OpenSSL's CA database stores it (UTCTime before 2050)."""
    when = when.astimezone(_dt.timezone.utc)
    fmt = "%y%m%d%H%M%SZ" if when.year < 2050 else "%Y%m%d%H%M%SZ"
    return when.strftime(fmt)


def _db_serial(serial: int) -> str:
    """Serial as ``openssl ca`` writes it: uppercase hex, whole bytes ("00" for 0).

    (``openssl ocsp`` ignores leading zeros when matching, so this is for
    fidelity with real CA databases rather than a lookup requirement.)
    """
    text = f"{serial:X}"
    return text.zfill(len(text) + len(text) % 2)


def index_line(
    cert: x509.Certificate,
    *,
    revoked_at: _dt.datetime | None = None,
    reason: x509.ReasonFlags | None = None,
) -> str:
    """One ``index.txt`` row (tab-separated, newline-terminated).

    Fields: status V/R, expiry, revocation date[,reason] (empty when valid),
    serial (hex, uppercase, even length), file name ``unknown``, subject DN
    (``/C=../O=../CN=..``, as ``openssl x509 -subject -nameopt compat``).
    """
    status, rev = "V", ""
    if revoked_at is not None:
        status, rev = "R", _db_time(revoked_at)
        if reason is not None:
            rev += "," + _REASONS[reason]
    fields = [
        status,
        _db_time(cert.not_valid_after_utc),
        rev,
        _db_serial(cert.serial_number),
        "unknown",
        openssl_oneline(cert.subject),
    ]
    return "\t".join(fields) + "\n"


def write_ocsp_index(
    pki: Pki,
    path: Path | None = None,
    *,
    revoked: Mapping[str, _dt.datetime] | None = None,
) -> Path:
    """Write the OpenSSL CA database of everything ``inter`` issued.

    Every entity whose certificate was issued by ``inter`` gets a row; it is
    ``R`` when ``inter.crl`` lists it (same date and reason, so CRL and OCSP
    agree) or when named in ``revoked`` (name -> revocation time, reason
    keyCompromise), else ``V``. Default path: ``<pki.dir>/index.txt`` (plus
    ``index.txt.attr`` with ``unique_subject = no``). Returns the path.
    """
    path = pki.dir / "index.txt" if path is None else Path(path)
    crl = x509.load_der_x509_crl(pki.crl_der.read_bytes())
    extra = dict(revoked or {})
    rows = []
    for name, ent in pki.entities.items():
        cert = ent.cert
        if cert.issuer != pki.inter.cert.subject or name == "inter":
            continue
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None:
            try:
                reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
            except x509.ExtensionNotFound:
                reason = None
            rows.append(index_line(cert, revoked_at=entry.revocation_date_utc, reason=reason))
        elif name in extra:
            rows.append(
                index_line(cert, revoked_at=extra[name], reason=x509.ReasonFlags.key_compromise)
            )
        else:
            rows.append(index_line(cert))
    path.write_text("".join(rows), encoding="ascii")
    path.with_name(path.name + ".attr").write_text("unique_subject = no\n", encoding="ascii")
    return path


# --------------------------------------------------------------------------- OCSP responder

_READY_MARK = "waiting for OCSP client connections"


class OcspResponder:
    """``openssl ocsp`` as an OCSP responder on 127.0.0.1:``port`` for ``inter``'s leaves.

    ``signer``: ``"ocspsigner"`` (delegated responder cert with EKU OCSPSigning
    and ocsp-nocheck, the default) or ``"inter"`` (the CA signs its own
    responses). ``ndays``/``nmin`` set nextUpdate (both None: no nextUpdate,
    which pyhanko-certvalidator treats as "valid for 30 minutes after
    thisUpdate"). Without ``nrequest`` it runs until ``stop()``.

    Note: ``openssl ocsp -port`` listens on all interfaces (``[::]``), it takes
    no address. It logs one ``Received request, 1st line: ...`` per request to
    stderr; ``request_lines()`` returns those.
    """

    def __init__(
        self,
        pki: Pki,
        *,
        port: int | None = None,
        index: Path | None = None,
        signer: str = OCSP_SIGNER_NAME,
        ndays: int | None = 1,
        nmin: int | None = None,
        nrequest: int | None = None,
        extra_args: Sequence[str] = (),
        log_dir: Path | None = None,
    ) -> None:
        self.pki = pki
        self.port = free_port() if port is None else port
        self.index = write_ocsp_index(pki) if index is None else Path(index)
        signer_ent = pki.entity(signer)
        cmd = [
            "openssl", "ocsp",
            "-index", str(self.index),
            "-port", str(self.port),
            "-CA", str(pki.inter.cert_pem),
            "-rsigner", str(signer_ent.cert_pem),
            "-rkey", str(signer_ent.key_path),
            "-timeout", "5",
        ]
        if ndays is not None:
            cmd += ["-ndays", str(ndays)]
        if nmin is not None:
            cmd += ["-nmin", str(nmin)]
        if nrequest is not None:
            cmd += ["-nrequest", str(nrequest)]
        cmd += list(extra_args)
        self.cmd: list[str] = cmd
        log_dir = pki.dir if log_dir is None else Path(log_dir)
        self.stdout_path = log_dir / f"ocsp-{self.port}.out"
        self.stderr_path = log_dir / f"ocsp-{self.port}.err"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log(self) -> str:
        """stdout + stderr of the responder so far."""
        out = []
        for p in (self.stdout_path, self.stderr_path):
            if p.exists():
                out.append(p.read_text(errors="replace"))
        return "".join(out)

    def request_lines(self) -> list[str]:
        """First HTTP line of each request the responder received, in order."""
        if not self.stderr_path.exists():
            return []
        marker = "Received request, 1st line: "
        text = self.stderr_path.read_text(errors="replace")
        return [
            chunk.split("\n", 1)[0].split("ocsp:", 1)[0].strip()
            for chunk in text.split(marker)[1:]
        ]

    def start(self, timeout: float = 10.0) -> OcspResponder:
        if self._proc is not None:
            raise RuntimeError("OcspResponder already started")
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self._proc = subprocess.Popen(
                self.cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                cwd=self.pki.dir,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                log = self.log()
                self._proc = None
                raise RuntimeError(f"openssl ocsp exited early: {' '.join(self.cmd)}\n{log}")
            # Never probe with a bare TCP connect: it wedges openssl ocsp (see module doc).
            if _READY_MARK in self.log():
                _LIVE_RESPONDERS.add(self)
                return self
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"openssl ocsp not ready after {timeout} s: {self.log()}")

    def stop(self) -> None:
        """Terminate the responder and wait for it (idempotent)."""
        _LIVE_RESPONDERS.discard(self)
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def __enter__(self) -> OcspResponder:
        return self.start() if self._proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_LIVE_RESPONDERS: set[OcspResponder] = set()


@atexit.register
def _stop_leftover_responders() -> None:
    """Safety net: never leave an ``openssl ocsp`` behind if a teardown was skipped."""
    for responder in list(_LIVE_RESPONDERS):
        responder.stop()


# --------------------------------------------------------------------------- everything


@dataclass
class RevocationPki:
    """A PKI with real revocation URLs and the services behind them, running.

    ``moment`` is the frozen validation time to use with ``allow_fetching``
    (see the module docstring for why it is ``pki.now + margin``).
    ``offline_port`` is the reserved dead port of the ``offline`` entity.
    """

    pki: Pki
    crl_server: CrlServer
    ocsp: OcspResponder
    moment: _dt.datetime
    offline_port: ClosedPort
    _stopped: bool = field(default=False, repr=False)

    def check_clock(self) -> None:
        """Raise if real time passed ``moment``: OCSP answers would be 'too recent'."""
        real = _dt.datetime.now(_dt.timezone.utc)
        if real >= self.moment:
            raise RuntimeError(
                f"real time {real.isoformat()} is past the frozen validation moment "
                f"{self.moment.isoformat()}; openssl ocsp now produces responses that "
                "pyhanko-certvalidator rejects as too recent -- restart the session"
            )

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            self.ocsp.stop()
        finally:
            try:
                self.crl_server.stop()
            finally:
                self.offline_port.close()

    def __enter__(self) -> RevocationPki:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_revocation_pki(
    outdir: Path,
    *,
    now: _dt.datetime | None = None,
    margin: _dt.timedelta = CLOCK_MARGIN,
    ocsp_ndays: int | None = 1,
    ocsp_signer: str = OCSP_SIGNER_NAME,
) -> RevocationPki:
    """Pick ports, build the PKI with real URLs, start CRL server and OCSP responder.

    ``now`` defaults to the real current time (UTC, whole seconds): the OCSP
    responder can only produce responses at real time. ``moment`` = ``now +
    margin``. ``ocsp_ndays``/``ocsp_signer`` go to ``OcspResponder``. On any
    failure everything already started is stopped again.
    """
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0) if now is None else now
    offline = ClosedPort()
    crl_server: CrlServer | None = None
    ocsp: OcspResponder | None = None
    try:
        crl_server = CrlServer(Path(outdir)).start()  # port known before the certs exist
        ocsp_port = free_port()
        pki = build_pki(
            Path(outdir), now,
            crl_base_url=crl_server.base_url,
            ocsp_url=f"http://{HOST}:{ocsp_port}/",
            offline_base_url=offline.base_url,
        )
        ocsp = OcspResponder(pki, port=ocsp_port, ndays=ocsp_ndays, signer=ocsp_signer).start()
        return RevocationPki(
            pki=pki, crl_server=crl_server, ocsp=ocsp, moment=now + margin, offline_port=offline
        )
    except BaseException:
        if ocsp is not None:
            ocsp.stop()
        if crl_server is not None:
            crl_server.stop()
        offline.close()
        raise


# --------------------------------------------------------------------------- PKCS#12 variants

P12_VARIANTS = (
    "aes", "3des", "legacy-rc2", "nokey", "truncated", "corrupted", "garbage",
    "pem-key", "pem-cert",
)
"""Keys of ``make_p12_variants``' result."""


def _openssl(*args: str | Path, cwd: Path | None = None) -> None:
    proc = subprocess.run(
        ["openssl", *map(str, args)], capture_output=True, cwd=cwd, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"openssl {' '.join(map(str, args))} failed ({proc.returncode}):\n"
            + proc.stderr.decode(errors="replace")
        )


def make_p12_variants(pki: Pki, outdir: Path, *, name: str = "bob") -> dict[str, Path]:
    """Write PKCS#12 (and PEM) variants of ``name``'s identity with the openssl CLI.

    All use the password ``pki.p12_password`` and hold key + cert + inter + root
    unless stated. Keys: ``aes`` (``openssl pkcs12 -export`` 3.0 default:
    PBES2/PBKDF2-SHA256/AES-256-CBC, HMAC-SHA256 MAC), ``3des``
    (PBE-SHA1-3DES for key and certs, SHA-1 MAC), ``legacy-rc2``
    (``-legacy``: RC2-40 certs, 3DES key, SHA-1 MAC; needs the legacy
    provider in openssl), ``nokey`` (``-nokeys``: certs only), ``truncated``
    (first half of ``aes``), ``corrupted`` (``aes`` with 4 bytes in the middle
    inverted), ``garbage`` (2048 pseudo-random bytes, fixed seed), ``pem-key`` (PKCS#8 PEM,
    encrypted AES-256-CBC with the password) and ``pem-cert`` (leaf + chain PEM).
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    ent = pki.entity(name)
    pw = f"pass:{pki.p12_password}"
    common = [
        "-inkey", ent.key_path, "-in", ent.cert_pem, "-certfile", pki.chain_pem,
        "-name", name, "-passout", pw,
    ]
    out = {v: outdir / f"{name}-{v}{'.pem' if v.startswith('pem') else '.p12'}" for v in P12_VARIANTS}

    _openssl("pkcs12", "-export", *common, "-out", out["aes"])
    _openssl(
        "pkcs12", "-export", *common, "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES",
        "-macalg", "sha1", "-out", out["3des"],
    )
    _openssl("pkcs12", "-export", "-legacy", *common, "-out", out["legacy-rc2"])
    _openssl(
        "pkcs12", "-export", "-nokeys", "-in", ent.cert_pem, "-certfile", pki.chain_pem,
        "-name", name, "-passout", pw, "-out", out["nokey"],
    )
    good = out["aes"].read_bytes()
    out["truncated"].write_bytes(good[: len(good) // 2])
    middle = len(good) // 2
    corrupted = bytearray(good)
    for i in range(middle, middle + 4):
        corrupted[i] ^= 0xFF
    out["corrupted"].write_bytes(bytes(corrupted))
    out["garbage"].write_bytes(random.Random(0x5EED).randbytes(2048))
    _openssl(
        "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", ent.key_path, "-passout", pw,
        "-out", out["pem-key"],
    )
    shutil.copyfile(ent.cert_pem, out["pem-cert"])
    with open(out["pem-cert"], "ab") as fh:
        fh.write(pki.chain_pem.read_bytes())
    return out
