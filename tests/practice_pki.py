"""A practice's own authority and the people it certifies, made by the OpenSSL command line.

Why OpenSSL and not tests/pki/make_pki.py: these stand for certificates from elsewhere (a
colleague's practice runs its own small authority; the user's .p12 comes from a provider), so
they are made the way such files are made in the wild, by another implementation, with the
real clock (valid from yesterday for two years).

``make_practice_pki(folder)`` writes, under ``folder``:

* ``smith-ca.pem`` / ``smith-ca.key``: "Smith Practice CA" (O=Smith Dental), a self-signed root;
* ``sam.pem``, ``sam.key``, ``sam.p12``: Dr Sam Smith <sam@smith-dental.example>, issued by it;
* ``provider-ca.pem``: "Dentist Provider CA", the user's provider (a second, unrelated root);
* ``dana.p12``: the user, Dr Dana Dentist <dana@dentist.example> (passphrase ``P12_PASSPHRASE``),
  with the provider's certificate inside (as providers ship them);
* ``sam-signed.eml`` (Sam's signature and his authority's certificate) and
  ``sam-signed-bare.eml`` (only Sam's certificate, as most mail programs send it), both signed
  by ``openssl cms -sign`` and addressed to Dana.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

P12_PASSPHRASE = "practice-pass"
SAM = "sam@smith-dental.example"
DANA = "dana@dentist.example"


@dataclass(frozen=True)
class PracticePki:
    folder: Path

    def __truediv__(self, name: str) -> Path:  # practice / "sam.pem"
        return self.folder / name


def _run(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _root(cwd: Path, stem: str, subject: str) -> None:
    _run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{stem}.key", "-out", f"{stem}.pem",
         "-days", "3650", "-subj", subject, "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=cwd)


def _person(cwd: Path, stem: str, ca: str, subject: str, email: str) -> None:
    (cwd / f"{stem}.ext").write_text(
        f"basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        f"extendedKeyUsage=emailProtection\nsubjectAltName=email:{email}\n", encoding="ascii")
    _run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{stem}.key", "-out", f"{stem}.csr",
         "-subj", subject, cwd=cwd)
    _run("x509", "-req", "-in", f"{stem}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
         "-out", f"{stem}.pem", "-days", "730", "-extfile", f"{stem}.ext", "-sha256", cwd=cwd)
    _run("pkcs12", "-export", "-inkey", f"{stem}.key", "-in", f"{stem}.pem", "-certfile", f"{ca}.pem",
         "-name", subject.rsplit("CN=", 1)[-1].split("/")[0], "-out", f"{stem}.p12", "-passout", f"pass:{P12_PASSPHRASE}",
         cwd=cwd)


def _signed_mail(cwd: Path, out: str, *, with_authority: bool) -> None:
    (cwd / "letter.txt").write_bytes(
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nDear Dana,\r\n\r\nthis mail carries my certificate.\r\n\r\nSam\r\n")
    extra = ["-certfile", "smith-ca.pem"] if with_authority else []
    _run("cms", "-sign", "-in", "letter.txt", "-signer", "sam.pem", "-inkey", "sam.key", *extra, "-md", "sha256",
         "-from", f"Dr Sam Smith <{SAM}>", "-to", DANA, "-subject", "My certificate", "-out", out, cwd=cwd)


def make_practice_pki(folder: Path) -> PracticePki:
    folder.mkdir(parents=True, exist_ok=True)
    _root(folder, "smith-ca", "/O=Smith Dental/CN=Smith Practice CA")
    _person(folder, "sam", "smith-ca", "/O=Smith Dental/CN=Dr Sam Smith", SAM)
    _root(folder, "provider-ca", "/O=Dentist Provider/CN=Dentist Provider CA")
    _person(folder, "dana", "provider-ca", "/O=Dana Dental/CN=Dr Dana Dentist", DANA)
    _signed_mail(folder, "sam-signed.eml", with_authority=True)
    _signed_mail(folder, "sam-signed-bare.eml", with_authority=False)
    return PracticePki(folder)


def openssl_fingerprint(pem: Path) -> str:
    """``openssl x509 -fingerprint -sha256``: the independent reading of a fingerprint (hex, no colons)."""
    out = subprocess.run(["openssl", "x509", "-in", str(pem), "-noout", "-fingerprint", "-sha256"],
                         check=True, capture_output=True, text=True).stdout
    return out.strip().split("=", 1)[1].replace(":", "").upper()
