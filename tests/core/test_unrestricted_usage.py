"""Certificates without KeyUsage or ExtendedKeyUsage are unrestricted (RFC 5280 4.2.1.3 and
4.2.1.12, RFC 8550 4.4.2 and 4.4.4): judged by NSS, Thunderbird's engine.

NSS's own ``certutil`` makes a CA and leaf certificates with and without the extensions; NSS's
``cmsutil`` signs with each and verifies for e-mail signing (``-u 4``). Whatever NSS verifies must
be valid *and trusted* here too, and what NSS refuses for its usage we refuse as well. The same
rule holds for recipients: a leaf without KeyUsage/EKU is a usable encryption certificate, and NSS
decrypts what we encrypt to it. (Issue 9: such signatures read "NOT TRUSTED ... not valid for the
purposes of digital signature, email protection" before.)
"""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from smimehelper.core.cert_status import Status, certificate_status
from smimehelper.core.compose import ComposeRequest, compose_to_file
from smimehelper.core.identity import load_pkcs12
from smimehelper.core.reader import open_message
from smimehelper.core.validation import Purpose
from tests.judges import extract_smime_payload

PASSWORD = "nss-pass"

# nickname -> (extra certutil options, NSS verifies it as an e-mail signer, we trust it)
LEAVES: dict[str, tuple[list[str], bool, bool]] = {
    "plain": ([], True, True),  # no KeyUsage, no ExtendedKeyUsage
    "kuonly": (["--keyUsage", "digitalSignature,keyEncipherment"], True, True),
    "ekuemail": (["--extKeyUsage", "emailProtection"], True, True),
    "ekuclient": (["--extKeyUsage", "clientAuth"], False, False),  # a login certificate
    "kuencipher": (["--keyUsage", "keyEncipherment"], False, False),  # encryption only: may not sign
    # RFC 8550 4.4.4 accepts anyExtendedKeyUsage; NSS 3.87 does not (docs/interop.md says so).
    "ekuany": (["--extKeyUsage", "x509Any"], False, True),
}


@dataclass(frozen=True)
class NssPki:
    db: Path
    ca: x509.Certificate
    certs: dict[str, x509.Certificate]
    folder: Path

    @property
    def spec(self) -> str:
        return f"sql:{self.db}"

    def email(self, nick: str) -> str:
        return f"{nick}@example.org"


def _run(cmd: list[str], *, stdin: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}")
    return proc


@pytest.fixture(scope="module")
def nss_pki(tmp_path_factory: pytest.TempPathFactory) -> NssPki:
    folder = tmp_path_factory.mktemp("nss-usage")
    db = folder / "db"
    db.mkdir()
    pw = folder / "pw"
    pw.write_text(PASSWORD + "\n")
    spec = f"sql:{db}"
    _run(["certutil", "-N", "-d", spec, "-f", str(pw)])

    def noise() -> str:
        path = folder / "noise"
        path.write_bytes(__import__("os").urandom(64))
        return str(path)

    # -2 asks: CA? path length? critical?
    _run(["certutil", "-S", "-d", spec, "-f", str(pw), "-z", noise(), "-n", "ca", "-s", "CN=NSS Usage Test CA,O=smimehelper tests",
          "-x", "-t", "CT,C,C", "-k", "rsa", "-g", "2048", "-2", "--keyUsage", "certSigning,crlSigning", "-v", "24"],
         stdin=b"y\n0\ny\n")
    certs = {}
    for serial, (nick, (extra, _nss, _ours)) in enumerate(LEAVES.items(), start=1000):
        _run(["certutil", "-S", "-d", spec, "-f", str(pw), "-z", noise(), "-n", nick, "-s", f"CN={nick} leaf,E={nick}@example.org",
              "-c", "ca", "-t", ",,", "-k", "rsa", "-g", "2048", "--extSAN", f"email:{nick}@example.org", "-v", "12",
              "-m", str(serial), *extra])
        certs[nick] = x509.load_der_x509_certificate(_run(["certutil", "-L", "-d", spec, "-n", nick, "-r"]).stdout)
    ca = x509.load_der_x509_certificate(_run(["certutil", "-L", "-d", spec, "-n", "ca", "-r"]).stdout)
    return NssPki(db, ca, certs, folder)


def _signed_by_nss(pki: NssPki, nick: str, tmp_path: Path) -> Path:
    """A multipart/signed message as Thunderbird writes it, signed by NSS's cmsutil."""
    content = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nSigned by NSS.\r\n"
    body = tmp_path / f"{nick}.content"
    body.write_bytes(content)
    sig = tmp_path / f"{nick}.p7s"
    signed = _run(["cmsutil", "-S", "-N", nick, "-T", "-G", "-H", "SHA256", "-d", pki.spec, "-p", PASSWORD, "-i", str(body), "-o", str(sig)], check=False)
    if signed.returncode != 0:  # NSS will not sign with a certificate it finds unfit: OpenSSL will
        p12, pem, key = tmp_path / f"{nick}.p12", tmp_path / f"{nick}.pem", tmp_path / f"{nick}.key"
        _run(["pk12util", "-o", str(p12), "-n", nick, "-d", pki.spec, "-k", str(pki.folder / "pw"), "-W", PASSWORD])
        _run(["openssl", "pkcs12", "-in", str(p12), "-passin", f"pass:{PASSWORD}", "-clcerts", "-nokeys", "-out", str(pem)])
        _run(["openssl", "pkcs12", "-in", str(p12), "-passin", f"pass:{PASSWORD}", "-nocerts", "-nodes", "-out", str(key)])
        _run(["openssl", "cms", "-sign", "-binary", "-md", "sha256", "-in", str(body), "-signer", str(pem), "-inkey", str(key),
              "-outform", "DER", "-out", str(sig)])
    b64 = base64.encodebytes(sig.read_bytes()).replace(b"\n", b"\r\n")
    boundary = b"nss-boundary-1"
    now = dt.datetime.now(dt.timezone.utc)
    message = (
        b"From: " + pki.email(nick).encode() + b"\r\nTo: someone@example.org\r\nSubject: usage test\r\n"
        b"Date: " + now.strftime("%a, %d %b %Y %H:%M:%S +0000").encode() + b"\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="' + boundary + b'"\r\n\r\n'
        b"--" + boundary + b"\r\n" + content + b"\r\n--" + boundary + b"\r\n"
        b"Content-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b64 + b"\r\n--" + boundary + b"--\r\n"
    )
    eml = tmp_path / f"{nick}.eml"
    eml.write_bytes(message)
    return eml


def _nss_verifies(pki: NssPki, nick: str, tmp_path: Path) -> bool:
    content = tmp_path / f"{nick}.content"
    proc = _run(["cmsutil", "-D", "-d", pki.spec, "-c", str(content), "-u", "4", "-i", str(tmp_path / f"{nick}.p7s")], check=False)
    return proc.returncode == 0


@pytest.mark.parametrize("nick", list(LEAVES))
def test_what_nss_verifies_we_verify_and_trust(nss_pki: NssPki, nick: str, tmp_path: Path) -> None:
    eml = _signed_by_nss(nss_pki, nick, tmp_path)
    nss_ok = _nss_verifies(nss_pki, nick, tmp_path)
    assert nss_ok is LEAVES[nick][1], f"NSS's verdict on {nick} changed: {nss_ok}"
    opened = open_message(eml, identities=[], anchors=[nss_pki.ca], now=dt.datetime.now(dt.timezone.utc))
    (verdict,) = opened.signatures
    assert verdict.valid, verdict.reason  # the mathematics holds in every case
    assert verdict.trusted is LEAVES[nick][2], (nick, verdict.reason)
    if not LEAVES[nick][2]:
        assert "not allowed to sign e-mail" in (verdict.reason or ""), verdict.reason


@pytest.mark.parametrize("nick", ["plain", "kuonly", "ekuemail"])
def test_unrestricted_recipient_is_usable_and_nss_decrypts(nss_pki: NssPki, nick: str, tmp_path: Path, pki) -> None:  # type: ignore[no-untyped-def]
    """A recipient (and a contact) without KeyUsage/EKU is valid for encryption; NSS opens it."""
    now = dt.datetime.now(dt.timezone.utc)
    cert = nss_pki.certs[nick]
    status = certificate_status(cert, Purpose.ENCRYPT, now, [nss_pki.ca], email=nss_pki.email(nick), fetch=False)
    assert status.status is Status.VALID, status.reason
    sender = load_pkcs12(pki.entity("alice").p12, pki.p12_password.encode())
    out = tmp_path / "to-nss.eml"
    request = ComposeRequest(
        sender=f"Alice <{pki.entity('alice').email}>", to=(nss_pki.email(nick),), subject="to an unrestricted certificate",
        body="Decrypted by NSS.", identity=sender, recipient_certs=(cert,), sign=False, encrypt=True,
        now=now,
    )
    compose_to_file(request, out)
    der = tmp_path / "to-nss.p7m"
    der.write_bytes(extract_smime_payload(out.read_bytes()))
    plain = _run(["cmsutil", "-D", "-d", nss_pki.spec, "-p", PASSWORD, "-i", str(der)]).stdout
    assert b"Decrypted by NSS." in plain


def test_login_certificate_is_refused_as_recipient(nss_pki: NssPki) -> None:
    cert = nss_pki.certs["ekuclient"]
    status = certificate_status(cert, Purpose.ENCRYPT, dt.datetime.now(dt.timezone.utc), [nss_pki.ca], email="ekuclient@example.org", fetch=False)
    assert status.status is Status.WRONG_USAGE
    assert "not meant for e-mail" in (status.reason or "")
