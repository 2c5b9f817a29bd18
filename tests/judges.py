"""Independent judges: run the real OpenSSL and NSS command-line tools.

Why: a message smimehelper produces is only good if *other* S/MIME
implementations accept it. OpenSSL stands in for most mail clients, NSS
(``cmsutil``) for Thunderbird. The product's own code must never judge itself.

Every wrapper captures the tool's output and raises ``JudgeError`` carrying
the command line and stderr, so a failing test says *why* the tool refused.

Behaviours worth knowing (checked against OpenSSL 3.0.19 and NSS 3.87):

* ``openssl cms -verify`` checks certificates at the current time unless
  ``-attime`` is given; it ignores the signingTime attribute. Our test PKI is
  valid around ``REFERENCE_NOW``, hence ``openssl_verify(attime=...)`` is a
  required argument.
* ``openssl cms -verify`` reading S/MIME by default canonicalises the signed
  part (bare LF -> CRLF), hiding line-ending bugs. ``-binary`` alone is worse:
  it keeps a stray CR from the CRLF before the boundary. ``-binary -crlfeol``
  digests exactly the transmitted CRLF bytes, as NSS/Thunderbird do; that is
  the default here (``exact_bytes=True``).
* ``openssl cms`` 3.0 has no ``-CRLfile``; CRLs must sit in the CAfile.
* ``cmsutil -D`` verifies the signer certificate (usage email signer, i.e.
  emailProtection EKU and digitalSignature/nonRepudiation) at the time in the
  signer's signingTime attribute, or at the real current time when there is
  none. There is no option to override it (no ``-attime``); expired and
  not-yet-valid both report SEC_ERROR_EXPIRED_CERTIFICATE.
* ``cmsutil -D -h 0`` prints ``signer0.status=GoodSignature;`` (or
  ``DigestMismatch``, ``SigningCertNotTrusted``, ``SigningCertNotFound``, ...)
  and exits 0 even for a bad signature; without ``-h`` a bad signer prints
  ``signer 0 status = <Status>`` plus ``cmsutil: problem decoding: SEC_ERROR_...``
  to stderr and exits 1. A certs-only message (0 signers) exits 0 either way.
* NSS 3.87 decrypts only key-transport RSA PKCS#1 v1.5 recipients with
  CBC content encryption: ECDH recipients fail (SEC_ERROR_BAD_DER; support
  arrived in NSS 3.100), RSA-OAEP fails (SEC_ERROR_UNSUPPORTED_KEYALG, also
  3.100), AuthEnvelopedData/AES-GCM fails (SEC_ERROR_UNRECOGNIZED_OID).
"""

from __future__ import annotations

import base64
import datetime as _dt
import email
import email.policy
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Protocol

__all__ = [
    "REQUIRED_TOOLS",
    "JudgeError",
    "NssDb",
    "NssDbFactory",
    "extract_smime_payload",
    "openssl_cms_print",
    "openssl_decrypt",
    "openssl_verify",
    "require_tools",
    "split_multipart_signed",
]

REQUIRED_TOOLS: dict[str, str] = {
    "openssl": "openssl",
    "certutil": "libnss3-tools",
    "pk12util": "libnss3-tools",
    "cmsutil": "libnss3-tools",
    "crlutil": "libnss3-tools",
}
"""Executable -> Debian/Ubuntu package that provides it."""

_TIMEOUT_S = 60
_SIGNATURE_TYPES = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature"})
_SMIME_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})


class JudgeError(RuntimeError):
    """An external tool rejected the input (or the input is not well-formed).

    ``stderr``/``stdout`` hold the tool's own words so the test report shows
    the reason, not just an exit code.
    """

    def __init__(
        self,
        message: str,
        *,
        cmd: Sequence[str] = (),
        returncode: int | None = None,
        stdout: bytes = b"",
        stderr: bytes = b"",
    ) -> None:
        self.cmd = list(cmd)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        parts = [message]
        if self.cmd:
            parts.append(f"command: {' '.join(self.cmd)}")
        if returncode is not None:
            parts.append(f"exit status: {returncode}")
        if stderr.strip():
            parts.append("stderr:\n" + stderr.decode("utf-8", "replace").rstrip())
        super().__init__("\n".join(parts))


def require_tools() -> None:
    """Raise JudgeError naming the apt packages if any judge tool is missing."""
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        packages = " ".join(sorted({REQUIRED_TOOLS[t] for t in missing}))
        raise JudgeError(
            f"missing judge tools: {', '.join(missing)}; install with: apt-get install {packages}"
        )


def _run(
    cmd: Sequence[str], *, stdin: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """Run a tool in the C locale; raise JudgeError on a non-zero exit if ``check``."""
    env = dict(os.environ, LC_ALL="C", LANG="C")
    try:
        proc = subprocess.run(
            list(cmd), input=stdin, capture_output=True, timeout=_TIMEOUT_S, env=env, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise JudgeError(f"{cmd[0]} timed out after {_TIMEOUT_S}s", cmd=cmd) from exc
    except FileNotFoundError as exc:
        raise JudgeError(
            f"{cmd[0]} not found; install with: apt-get install "
            f"{REQUIRED_TOOLS.get(cmd[0], cmd[0])}",
            cmd=cmd,
        ) from exc
    if check and proc.returncode != 0:
        raise JudgeError(
            f"{cmd[0]} failed", cmd=cmd, returncode=proc.returncode,
            stdout=proc.stdout, stderr=proc.stderr,
        )
    return proc


def _epoch(when: _dt.datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("attime must be timezone-aware")
    return str(int(when.timestamp()))


# --------------------------------------------------------------------------- OpenSSL


def openssl_decrypt(eml: Path | bytes, cert: Path, key: Path) -> bytes:
    """Decrypt an S/MIME ``application/pkcs7-mime`` message; return the inner MIME bytes.

    ``-recip`` makes OpenSSL pick the RecipientInfo for ``cert`` instead of
    trying every one, so a message missing that recipient fails loudly.
    """
    cmd = ["openssl", "cms", "-decrypt", "-binary", "-recip", str(cert), "-inkey", str(key)]
    if isinstance(eml, Path):
        return _run([*cmd, "-in", str(eml)]).stdout
    return _run(cmd, stdin=eml).stdout


def openssl_verify(
    mime: bytes | Path,
    cafile: Path,
    *,
    attime: _dt.datetime | None,
    detached_ok: bool = True,
    purpose: str | None = "smimesign",
    crl: Path | None = None,
    exact_bytes: bool = True,
) -> bytes:
    """Verify an S/MIME signed message (multipart/signed or opaque); return the content.

    ``attime`` is deliberately required: pass the PKI's ``now`` to freeze time,
    or None only to mean "the real current time". ``detached_ok=False`` demands
    an opaque (application/pkcs7-mime; smime-type=signed-data) message.
    ``crl`` (PEM) enables ``-crl_check`` against it. ``exact_bytes`` (see module
    doc) digests the transmitted bytes instead of a canonicalised copy.
    """
    raw = mime.read_bytes() if isinstance(mime, Path) else mime
    ctype = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw).get_content_type()
    if ctype == "multipart/signed" and not detached_ok:
        raise JudgeError("expected an opaque signed message, got multipart/signed")

    with tempfile.TemporaryDirectory(prefix="judge-") as tmp:
        trust = cafile
        cmd = ["openssl", "cms", "-verify"]
        if crl is not None:
            trust = Path(tmp) / "ca+crl.pem"
            trust.write_bytes(cafile.read_bytes() + b"\n" + crl.read_bytes())
            cmd.append("-crl_check")
        cmd += ["-CAfile", str(trust)]
        if attime is not None:
            cmd += ["-attime", _epoch(attime)]
        if purpose is not None:
            cmd += ["-purpose", purpose]
        if exact_bytes:
            cmd += ["-binary", "-crlfeol"]
        return _run(cmd, stdin=raw).stdout


def openssl_cms_print(der: bytes) -> str:
    """Dump a DER CMS structure as text (``-cmsout -print``) for structural asserts."""
    return _run(
        ["openssl", "cms", "-cmsout", "-print", "-noout", "-inform", "DER"], stdin=der
    ).stdout.decode("utf-8", "replace")


# --------------------------------------------------------------------------- MIME helpers


def extract_smime_payload(eml_bytes: bytes, *, smime_type: str | None = None) -> bytes:
    """Return the DER CMS inside a top-level ``application/pkcs7-mime`` message.

    NSS ``cmsutil`` takes raw CMS, not MIME. Base64 is decoded strictly so a
    corrupt body is reported rather than silently skipped. ``smime_type``
    (e.g. ``"enveloped-data"``) additionally checks that parameter.
    """
    msg = email.message_from_bytes(eml_bytes, policy=email.policy.compat32)
    ctype = msg.get_content_type()
    if ctype not in _SMIME_TYPES:
        raise JudgeError(f"expected application/pkcs7-mime, got {ctype}")
    if smime_type is not None:
        found = (msg.get_param("smime-type") or "").lower()
        if found != smime_type.lower():
            raise JudgeError(f"expected smime-type={smime_type}, got {found or 'none'}")
    cte = str(msg.get("Content-Transfer-Encoding", "7bit")).strip().lower()
    if cte != "base64":
        raise JudgeError(f"expected Content-Transfer-Encoding: base64, got {cte}")
    body = msg.get_payload(decode=False)
    if not isinstance(body, str):
        raise JudgeError("pkcs7-mime part is unexpectedly multipart")
    try:
        return base64.b64decode("".join(body.split()), validate=True)
    except ValueError as exc:
        raise JudgeError(f"invalid base64 in pkcs7-mime body: {exc}") from exc


_LWSP = b" \t"


def _find_boundary_line(body: bytes, dash: bytes, start: int) -> tuple[int, int, bool]:
    """Find the next delimiter line ``--boundary[--]`` at/after ``start``.

    Returns (index where the delimiter begins *including* its leading CRLF,
    index just after the line's CRLF, is_close_delimiter). Per RFC 2046 the
    CRLF before ``--boundary`` belongs to the delimiter, not to the content;
    only the very first delimiter may start the body without one.
    """
    pos = start
    while True:
        if pos == 0 and body.startswith(dash):
            delim_start, after_dash = 0, len(dash)
        else:
            hit = body.find(b"\r\n" + dash, pos)
            if hit < 0:
                raise JudgeError(f"boundary {dash[2:]!r} not found (CRLF line endings required)")
            delim_start, after_dash = hit, hit + 2 + len(dash)
        is_close = body.startswith(b"--", after_dash)
        rest_start = after_dash + 2 if is_close else after_dash
        eol = body.find(b"\r\n", rest_start)
        line_rest = body[rest_start:] if eol < 0 else body[rest_start:eol]
        if line_rest.strip(_LWSP) == b"":  # only transport padding may follow
            return delim_start, (len(body) if eol < 0 else eol + 2), is_close
        pos = delim_start + 1  # a longer boundary that merely starts with ours


def split_multipart_signed(mime: bytes) -> tuple[bytes, bytes]:
    """Split an RFC 1847 multipart/signed message into (signed bytes, DER signature).

    Works on raw bytes (the email package re-folds and re-encodes, which would
    change what was signed): the signed content is exactly the bytes after the
    first boundary line's CRLF up to, not including, the CRLF before the next
    delimiter. CRLF line endings are required, as on the wire.
    """
    sep = mime.find(b"\r\n\r\n")
    if sep < 0:
        raise JudgeError("no CRLF CRLF between headers and body")
    headers = BytesHeaderParser(policy=email.policy.compat32).parsebytes(mime[: sep + 4])
    if headers.get_content_type() != "multipart/signed":
        raise JudgeError(f"expected multipart/signed, got {headers.get_content_type()}")
    protocol = (headers.get_param("protocol") or "").lower()
    if protocol not in _SIGNATURE_TYPES:
        raise JudgeError(f"unexpected multipart/signed protocol {protocol!r}")
    boundary = headers.get_boundary()
    if not boundary:
        raise JudgeError("multipart/signed without boundary parameter")

    body = mime[sep + 4 :]
    dash = b"--" + boundary.encode("ascii")
    _, content_start, close = _find_boundary_line(body, dash, 0)
    if close:
        raise JudgeError("multipart/signed has no body parts")
    content_end, sig_start, close = _find_boundary_line(body, dash, content_start)
    if close:
        raise JudgeError("multipart/signed has only one body part")
    sig_end, _, close = _find_boundary_line(body, dash, sig_start)
    if not close:
        raise JudgeError("multipart/signed has more than two body parts")

    sig_part = email.message_from_bytes(body[sig_start:sig_end], policy=email.policy.compat32)
    if sig_part.get_content_type() not in _SIGNATURE_TYPES:
        raise JudgeError(f"second part is {sig_part.get_content_type()}, not a pkcs7-signature")
    payload = sig_part.get_payload(decode=False)
    cte = str(sig_part.get("Content-Transfer-Encoding", "7bit")).strip().lower()
    if cte != "base64" or not isinstance(payload, str):
        raise JudgeError(f"signature part must be base64, got Content-Transfer-Encoding {cte}")
    try:
        signature = base64.b64decode("".join(payload.split()), validate=True)
    except ValueError as exc:
        raise JudgeError(f"invalid base64 in signature part: {exc}") from exc
    return body[content_start:content_end], signature


# --------------------------------------------------------------------------- NSS

_STATUS_RE = re.compile(r"signer(\d+)\.status=(\w+);")
_NSIGNERS_RE = re.compile(r"nsigners=(\d+);")
GOOD_SIGNATURE = "GoodSignature"


@dataclass(frozen=True)
class NssDb:
    """A throw-away NSS database (what Thunderbird uses) in ``dir``.

    Create with ``NssDb.create``; the database has an empty password so no
    tool prompts. All state lives on disk, so the object is immutable.
    """

    dir: Path

    @property
    def spec(self) -> str:
        """The ``-d`` argument: ``sql:`` selects the cert9/key4 SQLite format."""
        return f"sql:{self.dir}"

    @classmethod
    def create(
        cls,
        dir: Path,
        *,
        roots: Sequence[Path] = (),
        intermediates: Sequence[Path] = (),
        p12: Path | None = None,
        p12_password: str = "",
    ) -> NssDb:
        """Make a new database: trusted ``roots`` (C,C,C), untrusted ``intermediates`` (,,),
        and optionally one identity (key + chain) from ``p12``.

        CAs are added before the PKCS#12 so they keep their nicknames and trust.
        """
        dir.mkdir(parents=True, exist_ok=True)
        db = cls(dir)
        _run(["certutil", "-N", "-d", db.spec, "--empty-password"])
        for root in roots:
            db.add_cert(root, root.name.split(".")[0], "C,C,C")
        for inter in intermediates:
            db.add_cert(inter, inter.name.split(".")[0], ",,")
        if p12 is not None:
            db.import_p12(p12, p12_password)
        return db

    def add_cert(self, cert_pem: Path, nickname: str, trust: str) -> None:
        """Add a certificate with trust flags (SSL,S/MIME,code; ``C`` = trusted CA)."""
        _run(["certutil", "-A", "-d", self.spec, "-n", nickname, "-t", trust, "-a", "-i", str(cert_pem)])

    def import_p12(self, p12: Path, password: str) -> None:
        """Import a key, its certificate and any chain certificates (no trust)."""
        _run(["pk12util", "-i", str(p12), "-d", self.spec, "-W", password, "-K", ""])

    def import_crl(self, crl_der: Path) -> None:
        """Import a CRL; NSS then reports revoked signers as SigningCertNotTrusted."""
        _run(["crlutil", "-I", "-d", self.spec, "-t", "1", "-i", str(crl_der)])

    def decrypt(self, der_cms: bytes) -> bytes:
        """Decrypt a DER EnvelopedData with the database's private key(s)."""
        return self._decode(der_cms)

    def _decode(self, der_cms: bytes) -> bytes:
        """``cmsutil -D``: decode every CMS layer and return the innermost content."""
        with tempfile.TemporaryDirectory(prefix="nss-") as tmp:
            infile, outfile = Path(tmp) / "in.p7m", Path(tmp) / "out.bin"
            infile.write_bytes(der_cms)
            _run(["cmsutil", "-D", "-d", self.spec, "-i", str(infile), "-o", str(outfile)])
            return outfile.read_bytes()

    def verify_detached(self, content: bytes, signature_der: bytes, *, usage: int = 4) -> str:
        """Verify a detached SignedData over ``content``; return cmsutil's signer report.

        Raises JudgeError unless there is at least one signer and every signer
        is ``GoodSignature``. ``usage`` is the cmsutil ``-u`` code (4 = email
        signer). Certificates are checked at the signingTime attribute.
        """
        return self._verify(signature_der, content, usage)[0]

    def verify_opaque(self, der_cms: bytes, *, usage: int = 4) -> bytes:
        """Verify an encapsulated SignedData; return the content it carries."""
        self._verify(der_cms, None, usage)
        return self._decode(der_cms)

    def _verify(self, cms_der: bytes, content: bytes | None, usage: int) -> tuple[str, list[str]]:
        with tempfile.TemporaryDirectory(prefix="nss-") as tmp:
            sigfile = Path(tmp) / "sig.p7s"
            sigfile.write_bytes(cms_der)
            base = ["cmsutil", "-D", "-d", self.spec, "-u", str(usage), "-i", str(sigfile), "-n"]
            if content is not None:
                contentfile = Path(tmp) / "content.bin"
                contentfile.write_bytes(content)
                base += ["-c", str(contentfile)]
            # -h 0 reports every signer's status but exits 0 even when bad.
            proc = _run([*base, "-h", "0"])
            report = proc.stdout.decode("utf-8", "replace")
            statuses = [s for _, s in sorted(_STATUS_RE.findall(report))]
            nsigners = _NSIGNERS_RE.search(report)
            if nsigners and int(nsigners.group(1)) == len(statuses) >= 1 and all(
                s == GOOD_SIGNATURE for s in statuses
            ):
                return " ".join(report.split()), statuses
            # Re-run without -h: then NSS names the reason (SEC_ERROR_...).
            detail = _run(base, check=False)
            raise JudgeError(
                f"NSS did not report a good signature (statuses: {statuses or 'none'}); "
                f"report: {' '.join(report.split())}",
                cmd=base, returncode=detail.returncode, stdout=detail.stdout, stderr=detail.stderr,
            )


class NssDbFactory(Protocol):
    """Type of the ``nss_db_factory`` fixture (see tests/conftest.py).

    ``factory(name)`` gives a database holding ``name``'s key; ``None`` gives
    one with trust anchors only; ``with_crl=True`` also imports inter.crl.
    """

    def __call__(self, name: str | None = None, *, with_crl: bool = False) -> NssDb: ...
