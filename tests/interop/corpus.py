"""Interop corpus for the reader: S/MIME messages made by *other* implementations.

Why: ``smimehelper open`` must open what real mail programs send, so its tests
must not feed it messages written by smimehelper itself. Every message here is
produced at test time by the OpenSSL 3.0 CLI (``openssl cms``, what many
gateways and scripts use) or NSS 3.87 ``cmsutil`` (Thunderbird's engine) from
the session's test PKI, plus the third-party OpenSSL-made vectors shipped by
the NSS project (``vectors/nss-openssl``, MPL-2.0, see its ORIGIN.md).

What the tools write is kept byte for byte with one exception: OpenSSL writes
its base64 lines with bare LF even with ``-crlfeol``; every bare LF in the
tool's MIME framing is turned into CRLF (as any SMTP transport would do). The
signed content itself is CRLF already before signing, so no signature changes.

Behaviours found while building this (OpenSSL 3.0.19, NSS 3.87):

* ``openssl cms -sign`` always writes signingTime = the real current time (a
  UTCTime) unless ``-noattr`` drops every signed attribute; there is no option
  to choose it (no faketime on the machine either). ``cmsutil -S`` writes
  signingTime (real time) only with ``-G``. So ``ExpectedSignature.trusted``
  is computed from the signingTime the tool actually wrote (read back from the
  CMS), or from the build time when there is none.
* RecipientInfos and SignerInfos are DER ``SET OF`` in OpenSSL output and so
  come out *sorted by encoding*, not in command-line order: key-agreement
  recipients ([1]) always after key-transport ones (SEQUENCE), RSA recipients
  of equal size by certificate serial. ``Vector.recipients`` and the order of
  ``signatures`` are read from the produced DER.
* ECDH (``-recip`` with an EC certificate): KDF defaults to
  dhSinglePass-stdDH-sha1kdf-scheme; the key-wrap algorithm defaults to AES
  key wrap of the content cipher's key size (aes128-cbc -> id-aes128-wrap,
  aes192 -> id-aes192-wrap, aes256/aes256-gcm -> id-aes256-wrap) unless
  ``-aes*-wrap`` is given.
* ``-aes-128-gcm``/``-aes-256-gcm`` produce AuthEnvelopedData (RFC 5083) with
  ``smime-type=authEnveloped-data``.
* Not producible (see ``NOT_PRODUCIBLE``): Ed25519 signatures and X25519
  recipients in OpenSSL 3.0; EC recipients and RSA-PSS/OAEP in NSS 3.87.
"""

from __future__ import annotations

import base64
import datetime as _dt
import email.utils
import hashlib
import os
import quopri
import random
import re
import shlex
import subprocess
from urllib.parse import quote
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.judges import NssDb, extract_smime_payload, split_multipart_signed
from tests.pki.make_pki import Entity, Pki, _write_entity

__all__ = [
    "NOT_PRODUCIBLE",
    "NSS_VECTOR_DIR",
    "NSS_VECTOR_PLAINTEXT",
    "VECTOR_NAMES",
    "CorpusError",
    "ExpectedSignature",
    "NssVector",
    "Vector",
    "build_corpus",
    "mint_leaf",
    "nss_vectors",
    "trust_at",
]

NSS_VECTOR_DIR = Path(__file__).parent / "vectors" / "nss-openssl"
NSS_VECTOR_PASSWORD = "nss"
NSS_VECTOR_PLAINTEXT = b"This is a test message to Fran.\n"

# Layer kinds, as found in Vector.layers (outermost first).
MULTIPART_SIGNED = "multipart/signed"
SIGNED_DATA = "signed-data"
ENVELOPED_DATA = "enveloped-data"
AUTH_ENVELOPED_DATA = "authEnveloped-data"

NOT_PRODUCIBLE: dict[str, str] = {
    "ed25519-signature": (
        "OpenSSL 3.0 `openssl cms -sign` with an Ed25519 signer fails: without -md "
        "'CMS_add1_signer:no default digest (pkey nid=1087)', with -md sha512 "
        "'eddsa_digest_signverify_init:invalid digest', with -noattr 'evp_pkey_signature_init:"
        "operation not supported for this keytype' (RFC 8419 not implemented; "
        "openssl/openssl#11915, #13523). NSS 3.87 cmsutil cannot sign with Ed25519 either."
    ),
    "x25519-recipient": (
        "OpenSSL 3.0 `openssl cms -encrypt` to an X25519 certificate fails with "
        "'evp_pkey_asym_cipher_init:operation not supported for this keytype' (it falls back "
        "to key transport; RFC 8418 key agreement is not implemented, openssl/openssl#22388; "
        "same for X448). NSS 3.87 has no RFC 8418 either."
    ),
    "nss-ec-recipient": (
        "NSS 3.87 `cmsutil -E -r carol@example.org` (EC P-256 certificate): 'cannot create CMS "
        "recipientInfo object ... SEC_ERROR_INVALID_ALGORITHM' -- ECDH recipients arrived in "
        "NSS 3.100."
    ),
    "nss-rsa-oaep-pss-gcm": (
        "NSS 3.87 cmsutil has no option for RSA-OAEP recipients, RSA-PSS signatures, a chosen "
        "content cipher or AuthEnvelopedData; it always writes RSA PKCS#1 v1.5 key transport "
        "and picks the cipher itself (AES-128-CBC with these certificates)."
    ),
}
"""What the two tools could not produce, with the tool's own error (checked by tests)."""


class CorpusError(RuntimeError):
    """A tool failed while building the corpus (message carries command and stderr)."""


@dataclass(frozen=True)
class ExpectedSignature:
    """What a correct reader must report for one SignerInfo.

    ``valid``: the signature is cryptographically correct *and* uses algorithms
    a reader should accept today. ``trusted``: the signer's chain up to the
    test root (the only trust anchor) was valid at ``signing_time`` (or at the
    build time when the message has no signingTime), with emailProtection EKU
    and a signing keyUsage, not revoked. ``layer`` indexes ``Vector.layers``.
    """

    signer: str
    valid: bool
    trusted: bool
    digest: str
    note: str = ""
    layer: int = 0
    signing_time: _dt.datetime | None = None


@dataclass(frozen=True)
class Vector:
    """One message of the corpus and everything a correct reader must find in it.

    ``layers`` lists the S/MIME layers outermost first (``multipart/signed``,
    ``signed-data``, ``enveloped-data``, ``authEnveloped-data``);
    ``signatures`` is outermost layer first, SignerInfo order within a layer.
    ``recipients`` are the entities of the (outermost) encryption layer's
    RecipientInfos in their encoded order. ``body_text`` uses ``\\n`` line ends
    (CRLF on the wire). The description ends with the exact commands.
    """

    name: str
    path: Path
    producer: str
    description: str
    recipient: str | None
    encrypted: bool
    encryption: str | None
    signatures: tuple[ExpectedSignature, ...]
    body_text: str | None
    attachments: tuple[tuple[str, bytes], ...]
    layers: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class NssVector:
    """A third-party EnvelopedData from the NSS repository (made by the OpenSSL CLI).

    ``der_path`` is the raw DER; ``eml_path`` (set when ``nss_vectors`` was
    given a directory) a minimal S/MIME mail around it. The plaintext is *not*
    a MIME entity (no header block): a reader should show it as text/plain.
    """

    name: str
    der_path: Path
    p12_path: Path
    password: str
    plaintext: bytes
    description: str = ""
    key_encryption: str = ""
    encryption: str = ""
    eml_path: Path | None = None


# --------------------------------------------------------------------------- content

_CRLF = b"\r\n"
_BARE_LF = re.compile(rb"(?<!\r)\n")
_EXAMPLE_DOMAIN = "interop.smimehelper.test"


def _crlf(data: bytes) -> bytes:
    return _BARE_LF.sub(_CRLF, data)


def _b64_lines(data: bytes) -> bytes:
    """Base64 in 76-column CRLF lines (RFC 2045), final line break included."""
    return _crlf(base64.encodebytes(data))


def _rfc2231(param: str, value: str) -> str:
    if value.isascii():
        return f'{param}="{value}"'
    return f"{param}*=utf-8''{quote(value, safe='')}"


def _payload(name: str, variant: int) -> tuple[bytes, str, tuple[tuple[str, bytes], ...]]:
    """The innermost MIME entity of a vector: UTF-8 text plus one or two binary files.

    Deterministic per vector name; the text names the vector so mix-ups show.
    Even ``variant``: two attachments; ``variant % 3 == 1``: a non-ASCII
    (RFC 2231) file name.
    """
    rng = random.Random(f"smimehelper-interop:{name}")
    text = (
        "Sehr geehrte Kollegin, sehr geehrter Kollege,\n"
        "\n"
        f"anbei die Röntgenaufnahme zum Befund (Testvektor {name}).\n"
        "Bitte bestätigen Sie den Empfang – vielen Dank!\n"
        "\n"
        "Mit freundlichen Grüßen\n"
        "Dr. Alice Sender\n"
    )
    dicom = bytes(128) + b"DICM" + rng.randbytes(300)
    dicom_name = "Röntgen Thorax.dcm" if variant % 3 == 1 else "xray.dcm"
    attachments: list[tuple[str, bytes, str]] = [(dicom_name, dicom, "application/dicom")]
    if variant % 2 == 0:
        png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + rng.randbytes(100)
        attachments.append(("scan.png", png, "image/png"))

    boundary = "=_mixed_" + hashlib.sha256(name.encode()).hexdigest()[:20]
    qp = quopri.encodestring(text.encode("utf-8"))
    parts = [
        b'Content-Type: multipart/mixed; boundary="' + boundary.encode() + b'"\r\n\r\n',
        b"This is a multi-part message in MIME format.\r\n",
        b"--" + boundary.encode() + b"\r\n",
        b"Content-Type: text/plain; charset=utf-8\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
        _crlf(qp if qp.endswith(b"\n") else qp + b"\n"),
    ]
    for filename, data, ctype in attachments:
        parts += [
            b"\r\n--" + boundary.encode() + b"\r\n",
            f"Content-Type: {ctype}; {_rfc2231('name', filename)}\r\n".encode(),
            b"Content-Transfer-Encoding: base64\r\n",
            f"Content-Disposition: attachment; {_rfc2231('filename', filename)}\r\n\r\n".encode(),
            _b64_lines(data),
        ]
    parts.append(b"\r\n--" + boundary.encode() + b"--\r\n")
    return b"".join(parts), text, tuple((n, d) for n, d, _ in attachments)


# --------------------------------------------------------------------------- tools


def _run(cmd: Sequence[str], cwd: Path) -> bytes:
    env = dict(os.environ, LC_ALL="C", LANG="C")
    try:
        proc = subprocess.run(
            list(cmd), cwd=cwd, capture_output=True, timeout=60, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CorpusError(f"cannot run {cmd[0]}: {exc}") from exc
    if proc.returncode != 0:
        raise CorpusError(
            f"{shlex.join(cmd)} failed ({proc.returncode}):\n"
            + proc.stderr.decode("utf-8", "replace")
        )
    return proc.stdout


@dataclass(frozen=True)
class _SignerSpec:
    entity: str
    digest: str
    valid: bool = True
    note: str = ""
    keyopts: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Layer:
    kind: str
    der: bytes
    command: str
    signers: tuple[_SignerSpec, ...] = ()


@dataclass
class _Message:
    """A message under construction: the current MIME entity and its layers (innermost first)."""

    entity: bytes
    layers: list[_Layer] = field(default_factory=list)


_DIGEST_MICALG = {"sha1": "sha-1", "sha256": "sha-256", "sha384": "sha-384", "sha512": "sha-512"}
_CIPHER_NAMES = {
    "aes128_cbc": "aes128-cbc",
    "aes192_cbc": "aes192-cbc",
    "aes256_cbc": "aes256-cbc",
    "tripledes_3key": "3des-cbc",
    "aes128_gcm": "aes128-gcm",
    "aes192_gcm": "aes192-gcm",
    "aes256_gcm": "aes256-gcm",
}
_OPENSSL_CIPHER_FLAG = {
    "aes128-cbc": "-aes-128-cbc",
    "aes192-cbc": "-aes-192-cbc",
    "aes256-cbc": "-aes-256-cbc",
    "3des-cbc": "-des3",
    "aes128-gcm": "-aes-128-gcm",
    "aes256-gcm": "-aes-256-gcm",
}


class _Factory:
    """Runs the tools for one corpus build; remembers paths to render commands portably."""

    def __init__(self, pki: Pki, outdir: Path) -> None:
        self.pki = pki
        self.outdir = outdir
        self.work = outdir / "work"
        self.work.mkdir(parents=True, exist_ok=True)
        self._step = 0
        self._nss: NssDb | None = None
        self.built_at = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)

    # -- helpers
    def _stepdir(self) -> Path:
        self._step += 1
        d = self.work / f"step{self._step:03d}"
        d.mkdir()
        return d

    def render(self, cmd: Sequence[str]) -> str:
        text = shlex.join(cmd)
        text = text.replace(str(self.pki.dir), "$PKI")
        if self._nss is not None:
            text = text.replace(str(self._nss.dir), "$NSSDB")
        return text

    def cert(self, name: str) -> str:
        return str(self.pki.entity(name).cert_pem)

    def key(self, name: str) -> str:
        return str(self.pki.entity(name).key_path)

    # -- OpenSSL
    def openssl_sign(
        self, msg: _Message, signers: Sequence[_SignerSpec], *, opaque: bool = False,
        noattr: bool = False,
    ) -> None:
        digests = {s.digest for s in signers}
        if len(digests) != 1:
            raise ValueError("openssl cms -md applies to every signer")
        d = self._stepdir()
        (d / "in.mime").write_bytes(msg.entity)
        cmd = ["openssl", "cms", "-sign", "-binary", "-crlfeol", "-md", digests.pop()]
        if opaque:
            cmd.append("-nodetach")
        if noattr:
            cmd.append("-noattr")
        for s in signers:
            cmd += ["-signer", self.cert(s.entity), "-inkey", self.key(s.entity)]
            for opt in s.keyopts:
                cmd += ["-keyopt", opt]
        cmd += ["-certfile", str(self.pki.inter.cert_pem), "-in", "in.mime", "-out", "out.eml"]
        _run(cmd, d)
        entity = _crlf((d / "out.eml").read_bytes())
        if opaque:
            der = extract_smime_payload(entity, smime_type="signed-data")
            kind = SIGNED_DATA
        else:
            signed, der = split_multipart_signed(entity)
            if signed != msg.entity:
                raise CorpusError("openssl changed the signed content")
            kind = MULTIPART_SIGNED
        msg.layers.append(_Layer(kind, der, self.render(cmd), tuple(signers)))
        msg.entity = entity

    def openssl_encrypt(
        self, msg: _Message, recipients: Sequence[tuple[str, tuple[str, ...]]], cipher: str,
        *, extra: Sequence[str] = (),
    ) -> None:
        d = self._stepdir()
        (d / "in.mime").write_bytes(msg.entity)
        cmd = ["openssl", "cms", "-encrypt", "-binary", "-crlfeol", _OPENSSL_CIPHER_FLAG[cipher], *extra]
        for name, keyopts in recipients:
            cmd += ["-recip", self.cert(name)]
            for opt in keyopts:
                cmd += ["-keyopt", opt]
        cmd += ["-in", "in.mime", "-out", "out.eml"]
        _run(cmd, d)
        entity = _crlf((d / "out.eml").read_bytes())
        kind = AUTH_ENVELOPED_DATA if cipher.endswith("-gcm") else ENVELOPED_DATA
        der = extract_smime_payload(entity, smime_type=kind)
        msg.layers.append(_Layer(kind, der, self.render(cmd)))
        msg.entity = entity

    # -- NSS
    @property
    def nss(self) -> NssDb:
        """A Thunderbird-like database holding alice's and frank's keys and bob's certificate."""
        if self._nss is None:
            pki = self.pki
            db = NssDb.create(
                self.outdir / "nssdb",
                roots=[pki.root.cert_pem],
                intermediates=[pki.inter.cert_pem],
                p12=pki.entity("alice").p12,
                p12_password=pki.p12_password,
            )
            db.import_p12(pki.entity("frank").p12, pki.p12_password)
            db.add_cert(pki.entity("bob").cert_pem, "bob", ",,")
            self._nss = db
        return self._nss

    def nss_sign(
        self, msg: _Message, signer: str, digest: str, *, detached: bool,
        signing_time: bool = True, boundary_seed: str = "",
    ) -> None:
        d = self._stepdir()
        (d / "in.mime").write_bytes(msg.entity)
        cmd = ["cmsutil", "-S", "-N", signer, "-H", digest.upper()]
        if signing_time:
            cmd.append("-G")
        cmd.append("-P")
        if detached:
            cmd.append("-T")
        cmd += ["-d", self.nss.spec, "-i", "in.mime", "-o", "out.p7s"]
        _run(cmd, d)
        der = (d / "out.p7s").read_bytes()
        if detached:
            boundary = "------------ms" + hashlib.sha256(boundary_seed.encode()).hexdigest()[:24]
            entity = b"".join([
                b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; '
                b"micalg=" + _DIGEST_MICALG[digest].encode() + b'; boundary="' + boundary.encode()
                + b'"\r\n\r\n',
                b"This is a cryptographically signed message in MIME format.\r\n\r\n",
                b"--" + boundary.encode() + b"\r\n",
                msg.entity,
                b"\r\n--" + boundary.encode() + b"\r\n",
                b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n',
                b"Content-Transfer-Encoding: base64\r\n",
                b'Content-Disposition: attachment; filename="smime.p7s"\r\n',
                b"Content-Description: S/MIME Cryptographic Signature\r\n\r\n",
                _b64_lines(der),
                b"\r\n--" + boundary.encode() + b"--\r\n",
            ])
            kind = MULTIPART_SIGNED
        else:
            entity = _pkcs7_mime(der, "signed-data")
            kind = SIGNED_DATA
        spec = _SignerSpec(signer, digest)
        msg.layers.append(_Layer(kind, der, self.render(cmd), (spec,)))
        msg.entity = entity

    def nss_encrypt(self, msg: _Message, recipient_emails: Sequence[str]) -> None:
        d = self._stepdir()
        (d / "in.mime").write_bytes(msg.entity)
        cmd = ["cmsutil", "-E", "-r", ",".join(recipient_emails), "-d", self.nss.spec,
               "-i", "in.mime", "-o", "out.p7m"]
        _run(cmd, d)
        der = (d / "out.p7m").read_bytes()
        msg.layers.append(_Layer(ENVELOPED_DATA, der, self.render(cmd)))
        msg.entity = _pkcs7_mime(der, "enveloped-data")


def _pkcs7_mime(der: bytes, smime_type: str) -> bytes:
    """The S/MIME entity Thunderbird writes around a CMS blob (RFC 8551 section 3.2)."""
    return b"".join([
        f'Content-Type: application/pkcs7-mime; name="smime.p7m"; smime-type={smime_type}\r\n'.encode(),
        b"Content-Transfer-Encoding: base64\r\n",
        b'Content-Disposition: attachment; filename="smime.p7m"\r\n',
        b"Content-Description: S/MIME Cryptographic Message\r\n\r\n",
        _b64_lines(der),
    ])


# --------------------------------------------------------------------------- reading back


def _content_info(der: bytes) -> asn1_cms.ContentInfo:
    # Parsed lazily: asn1crypto cannot decode every attribute OpenSSL writes
    # (e.g. some SMIMECapabilities entries), and only a few fields are needed.
    return asn1_cms.ContentInfo.load(der)


def _entity_by_rid(pki: Pki, rid: object) -> str:
    """Map a SignerIdentifier / RecipientIdentifier / KeyAgreeRecipientIdentifier to a stem."""
    chosen = rid.chosen if hasattr(rid, "chosen") else rid
    native = chosen.native
    for name in pki:
        cert = pki.entity(name).cert
        if isinstance(native, dict) and "serial_number" in native:
            if native["serial_number"] == cert.serial_number:
                return name
        else:
            ski_bytes = native["subject_key_identifier"] if isinstance(native, dict) else native
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            except x509.ExtensionNotFound:
                continue
            if ski.digest == ski_bytes:
                return name
    raise CorpusError(f"identifier {native!r} matches no PKI entity")


def _recipients_of(pki: Pki, der: bytes) -> tuple[tuple[str, ...], str]:
    """(recipient stems in RecipientInfo order, content cipher name) of an (Auth)EnvelopedData."""
    info = _content_info(der)
    content = info["content"]
    names: list[str] = []
    for ri in content["recipient_infos"]:
        chosen = ri.chosen
        if ri.name == "ktri":
            names.append(_entity_by_rid(pki, chosen["rid"]))
        elif ri.name == "kari":
            for rek in chosen["recipient_encrypted_keys"]:
                names.append(_entity_by_rid(pki, rek["rid"]))
        else:
            raise CorpusError(f"unexpected RecipientInfo {ri.name}")
    eci_field = (
        "auth_encrypted_content_info"
        if info["content_type"].native == "authenticated_enveloped_data"
        else "encrypted_content_info"
    )
    alg = content[eci_field]["content_encryption_algorithm"]["algorithm"].native
    return tuple(names), _CIPHER_NAMES.get(alg, alg)


def _signer_infos(pki: Pki, der: bytes) -> list[tuple[str, str, _dt.datetime | None]]:
    """(signer stem, digest name, signingTime or None) per SignerInfo, in encoded order."""
    info = _content_info(der)
    out = []
    for si in info["content"]["signer_infos"]:
        when = None
        attrs = si["signed_attrs"]
        if not isinstance(attrs, asn1_core.Void):
            for attr in attrs:
                if attr["type"].native == "signing_time":
                    when = attr["values"][0].native
        out.append((_entity_by_rid(pki, si["sid"]), si["digest_algorithm"]["algorithm"].native, when))
    return out


def _crl_revoked(pki: Pki) -> dict[int, _dt.datetime]:
    crl = x509.load_der_x509_crl(pki.crl_der.read_bytes())
    return {r.serial_number: r.revocation_date_utc for r in crl}


def trust_at(pki: Pki, name: str, when: _dt.datetime) -> tuple[bool, str]:
    """Would the signer ``name`` be trusted at ``when`` with the test root as only anchor?

    Checks validity windows of leaf, intermediate and root, the leaf's
    emailProtection EKU and signing keyUsage, and revocation (inter.crl).
    Returns (trusted, reason when not).
    """
    leaf = pki.entity(name).cert
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    for label, cert in (("signer", leaf), ("intermediate", pki.inter.cert), ("root", pki.root.cert)):
        if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
            return False, (
                f"{label} certificate not valid at {stamp} (valid "
                f"{cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d})"
            )
    try:
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.EMAIL_PROTECTION not in eku:
            return False, "signer certificate lacks the emailProtection EKU"
    except x509.ExtensionNotFound:
        pass
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    if not (ku.digital_signature or ku.content_commitment):
        return False, "signer certificate keyUsage allows no signing"
    revoked = _crl_revoked(pki).get(leaf.serial_number)
    if revoked is not None and revoked <= when:
        return False, f"signer certificate revoked on {revoked:%Y-%m-%d}"
    return True, ""


# --------------------------------------------------------------------------- recipes

_SIG = _SignerSpec
_SHA1_NOTE = "SHA-1 is no longer accepted"

# (name, producer, what) in a fixed order; the order also selects the payload variant.
_RECIPES: tuple[tuple[str, str, str], ...] = (
    ("openssl-sign-rsa-sha256", "openssl", "multipart/signed by alice (RSA PKCS#1 v1.5), SHA-256"),
    ("openssl-sign-rsa-sha384", "openssl", "multipart/signed by alice, SHA-384"),
    ("openssl-sign-rsa-sha512", "openssl", "multipart/signed by alice, SHA-512"),
    ("openssl-sign-ecdsa-p256-sha256", "openssl", "multipart/signed by frank (ECDSA P-256), SHA-256"),
    ("openssl-sign-rsa-pss-sha256", "openssl", "multipart/signed by alice, RSASSA-PSS SHA-256 (OpenSSL's default salt length)"),
    ("openssl-sign-rsa-pss-sha256-salt32", "openssl", "multipart/signed by alice, RSASSA-PSS SHA-256, salt length 32"),
    ("openssl-sign-rsa-sha1", "openssl", "multipart/signed by alice with SHA-1: maths correct, must be rejected"),
    ("openssl-sign-two-signers", "openssl", "multipart/signed by alice (RSA) and frank (ECDSA) in one SignedData, SHA-256"),
    ("openssl-sign-expired-signer", "openssl", "multipart/signed by 'expired' (certificate expired a year before the real signing time)"),
    ("openssl-sign-rsa-noattr", "openssl", "multipart/signed by alice without signed attributes (-noattr: no signingTime, signature over the content digest)"),
    ("openssl-sign-opaque-rsa-sha256", "openssl", "opaque application/pkcs7-mime; smime-type=signed-data by alice, SHA-256"),
    ("openssl-enc-rsa-aes128-cbc", "openssl", "EnvelopedData to bob, RSA PKCS#1 v1.5, AES-128-CBC"),
    ("openssl-enc-rsa-aes192-cbc", "openssl", "EnvelopedData to bob, RSA PKCS#1 v1.5, AES-192-CBC"),
    ("openssl-enc-rsa-aes256-cbc", "openssl", "EnvelopedData to bob, RSA PKCS#1 v1.5, AES-256-CBC"),
    ("openssl-enc-rsa-3des-cbc", "openssl", "EnvelopedData to bob, RSA PKCS#1 v1.5, 3DES-EDE-CBC"),
    ("openssl-enc-rsa-aes128-gcm", "openssl", "AuthEnvelopedData (RFC 5083) to bob, RSA PKCS#1 v1.5, AES-128-GCM"),
    ("openssl-enc-rsa-aes256-gcm", "openssl", "AuthEnvelopedData (RFC 5083) to bob, RSA PKCS#1 v1.5, AES-256-GCM"),
    ("openssl-enc-rsa-oaep-sha1", "openssl", "EnvelopedData to bob, RSA-OAEP SHA-1/MGF1-SHA-1 (default parameters), AES-256-CBC"),
    ("openssl-enc-rsa-oaep-sha256", "openssl", "EnvelopedData to bob, RSA-OAEP SHA-256/MGF1-SHA-256, AES-256-CBC"),
    ("openssl-enc-rsa-oaep-sha384", "openssl", "EnvelopedData to bob, RSA-OAEP SHA-384/MGF1-SHA-384, AES-256-CBC"),
    ("openssl-enc-rsa-oaep-sha512", "openssl", "EnvelopedData to bob, RSA-OAEP SHA-512/MGF1-SHA-512, AES-256-CBC"),
    ("openssl-enc-rsa-oaep-sha256-mgf1sha1", "openssl", "EnvelopedData to bob, RSA-OAEP SHA-256 with MGF1-SHA-1 (Java's default mix), AES-256-CBC"),
    ("openssl-enc-rsa-oaep-sha256-label", "openssl", "EnvelopedData to bob, RSA-OAEP SHA-256/MGF1-SHA-256 with label 'smimehelper' (hex 736d696d6568656c706572), AES-256-CBC"),
    ("openssl-enc-ecdh-p256-sha1kdf", "openssl", "EnvelopedData to carol (P-256), ECDH with OpenSSL's defaults: stdDH SHA-1 KDF, id-aes128-wrap, AES-128-CBC"),
    ("openssl-enc-ecdh-p256-sha256kdf", "openssl", "EnvelopedData to carol (P-256), ECDH stdDH SHA-256 KDF, default wrap id-aes256-wrap, AES-256-CBC"),
    ("openssl-enc-ecdh-p384-sha384kdf", "openssl", "EnvelopedData to dave (P-384), ECDH stdDH SHA-384 KDF, id-aes256-wrap, AES-256-CBC"),
    ("openssl-enc-ecdh-p384-sha256kdf-aes192", "openssl", "EnvelopedData to dave (P-384), ECDH stdDH SHA-256 KDF, default wrap id-aes192-wrap, AES-192-CBC"),
    ("openssl-enc-ecdh-p521-sha512kdf", "openssl", "EnvelopedData to erin (P-521), ECDH stdDH SHA-512 KDF, id-aes256-wrap, AES-256-CBC"),
    ("openssl-enc-ecdh-p256-aes256wrap-aes128-cbc", "openssl", "EnvelopedData to carol, ECDH SHA-256 KDF, explicit id-aes256-wrap around an AES-128-CBC key"),
    ("openssl-enc-ecdh-p256-cofactor-sha256kdf", "openssl", "EnvelopedData to carol, ECDH cofactorDH SHA-256 KDF (ecdh_cofactor_mode:1), AES-256-CBC"),
    ("openssl-enc-ecdh-p256-aes256-gcm", "openssl", "AuthEnvelopedData to carol, ECDH SHA-256 KDF, id-aes256-wrap, AES-256-GCM"),
    ("openssl-enc-rsa-keyid", "openssl", "EnvelopedData to bob identified by subjectKeyIdentifier (-keyid), AES-256-CBC"),
    ("openssl-enc-ecdh-keyid", "openssl", "EnvelopedData to carol, KeyAgreeRecipientInfo with rKeyId (subjectKeyIdentifier, -keyid), AES-256-CBC"),
    ("openssl-enc-multi-recipient-not-first", "openssl", "EnvelopedData to alice, carol and bob; the decrypting RecipientInfo is the second of three"),
    ("openssl-enc-multi-recipient-ecdh-last", "openssl", "EnvelopedData to bob, alice and carol; decrypt as carol, whose KeyAgreeRecipientInfo is last"),
    ("openssl-nested-signed-then-encrypted", "openssl", "multipart/signed by alice (SHA-256) inside EnvelopedData to bob (AES-256-CBC): the normal case"),
    ("openssl-nested-signed-then-encrypted-ecdh-gcm", "openssl", "multipart/signed by frank (ECDSA SHA-256) inside AuthEnvelopedData to carol (ECDH SHA-256 KDF, AES-256-GCM)"),
    ("openssl-nested-opaque-signed-then-encrypted", "openssl", "opaque signed-data by alice inside EnvelopedData to bob (AES-256-CBC)"),
    ("openssl-nested-encrypted-then-signed", "openssl", "EnvelopedData to bob (AES-256-CBC) inside multipart/signed by alice (SHA-256)"),
    ("openssl-nested-triple-wrapped", "openssl", "triple wrap: multipart/signed by alice inside EnvelopedData to bob inside multipart/signed by frank"),
    ("nss-sign-rsa-sha256-detached", "nss-cmsutil", "multipart/signed by alice, SHA-256, cmsutil -T (detached), -G signingTime, -P SMIMECapabilities; MIME wrapping as Thunderbird writes it"),
    ("nss-sign-rsa-sha512-detached", "nss-cmsutil", "multipart/signed by alice, SHA-512, detached"),
    ("nss-sign-rsa-sha256-opaque", "nss-cmsutil", "opaque signed-data by alice, SHA-256 (cmsutil -S without -T)"),
    ("nss-sign-ecdsa-p256-sha256-detached", "nss-cmsutil", "multipart/signed by frank (ECDSA P-256), SHA-256, detached"),
    ("nss-sign-rsa-no-signing-time", "nss-cmsutil", "multipart/signed by alice, SHA-256, detached, without -G: no signingTime attribute"),
    ("nss-enc-rsa", "nss-cmsutil", "EnvelopedData to bob; NSS picks the cipher itself (RSA PKCS#1 v1.5)"),
    ("nss-enc-multi-recipient", "nss-cmsutil", "EnvelopedData to alice and bob (cmsutil -r alice@...,bob@...), decrypt as bob"),
    ("nss-nested-signed-then-encrypted", "nss-cmsutil", "Thunderbird's shape: multipart/signed by alice (detached, -G -P) inside EnvelopedData to bob"),
)

VECTOR_NAMES: tuple[str, ...] = tuple(name for name, _, _ in _RECIPES)
"""Every vector ``build_corpus`` produces, in order (usable for test parametrisation)."""


def _oaep(md: str, mgf: str | None = None, label: str | None = None) -> tuple[str, ...]:
    opts = ["rsa_padding_mode:oaep", f"rsa_oaep_md:{md}", f"rsa_mgf1_md:{mgf or md}"]
    if label is not None:
        opts.append(f"rsa_oaep_label:{label}")
    return tuple(opts)


def _recipe(f: _Factory, name: str, msg: _Message) -> tuple[str | None, tuple[str, ...]]:
    """Apply the layers of vector ``name`` (innermost first).

    Returns (entity whose key opens it, the people in To:).
    """
    alice, frank = _SIG("alice", "sha256"), _SIG("frank", "sha256")
    bob = [("bob", ())]
    if name.startswith("openssl-sign-"):
        spec = {
            "openssl-sign-rsa-sha256": [alice],
            "openssl-sign-rsa-sha384": [_SIG("alice", "sha384")],
            "openssl-sign-rsa-sha512": [_SIG("alice", "sha512")],
            "openssl-sign-ecdsa-p256-sha256": [frank],
            "openssl-sign-rsa-pss-sha256": [_SIG("alice", "sha256", keyopts=("rsa_padding_mode:pss",))],
            "openssl-sign-rsa-pss-sha256-salt32": [
                _SIG("alice", "sha256", keyopts=("rsa_padding_mode:pss", "rsa_pss_saltlen:32"))
            ],
            "openssl-sign-rsa-sha1": [_SIG("alice", "sha1", valid=False, note=_SHA1_NOTE)],
            "openssl-sign-two-signers": [alice, frank],
            "openssl-sign-expired-signer": [_SIG("expired", "sha256")],
            "openssl-sign-rsa-noattr": [alice],
            "openssl-sign-opaque-rsa-sha256": [alice],
        }[name]
        f.openssl_sign(msg, spec, opaque="opaque" in name, noattr=name.endswith("-noattr"))
        return None, ("bob",)
    if name.startswith("openssl-enc-rsa-") and name.split("-")[-1] in {"cbc", "gcm"}:
        f.openssl_encrypt(msg, bob, name.removeprefix("openssl-enc-rsa-"))
        return "bob", ("bob",)
    oaep = {
        "openssl-enc-rsa-oaep-sha1": _oaep("sha1"),
        "openssl-enc-rsa-oaep-sha256": _oaep("sha256"),
        "openssl-enc-rsa-oaep-sha384": _oaep("sha384"),
        "openssl-enc-rsa-oaep-sha512": _oaep("sha512"),
        "openssl-enc-rsa-oaep-sha256-mgf1sha1": _oaep("sha256", "sha1"),
        "openssl-enc-rsa-oaep-sha256-label": _oaep("sha256", label=b"smimehelper".hex()),
    }
    if name in oaep:
        f.openssl_encrypt(msg, [("bob", oaep[name])], "aes256-cbc")
        return "bob", ("bob",)
    ecdh = {
        "openssl-enc-ecdh-p256-sha1kdf": ("carol", (), "aes128-cbc", ()),
        "openssl-enc-ecdh-p256-sha256kdf": ("carol", ("ecdh_kdf_md:sha256",), "aes256-cbc", ()),
        "openssl-enc-ecdh-p384-sha384kdf": ("dave", ("ecdh_kdf_md:sha384",), "aes256-cbc", ()),
        "openssl-enc-ecdh-p384-sha256kdf-aes192": ("dave", ("ecdh_kdf_md:sha256",), "aes192-cbc", ()),
        "openssl-enc-ecdh-p521-sha512kdf": ("erin", ("ecdh_kdf_md:sha512",), "aes256-cbc", ()),
        "openssl-enc-ecdh-p256-aes256wrap-aes128-cbc": (
            "carol", ("ecdh_kdf_md:sha256",), "aes128-cbc", ("-aes256-wrap",)
        ),
        "openssl-enc-ecdh-p256-cofactor-sha256kdf": (
            "carol", ("ecdh_kdf_md:sha256", "ecdh_cofactor_mode:1"), "aes256-cbc", ()
        ),
        "openssl-enc-ecdh-p256-aes256-gcm": ("carol", ("ecdh_kdf_md:sha256",), "aes256-gcm", ()),
        "openssl-enc-ecdh-keyid": ("carol", ("ecdh_kdf_md:sha256",), "aes256-cbc", ("-keyid",)),
    }
    if name in ecdh:
        who, opts, cipher, extra = ecdh[name]
        f.openssl_encrypt(msg, [(who, opts)], cipher, extra=extra)
        return who, (who,)
    if name == "openssl-enc-rsa-keyid":
        f.openssl_encrypt(msg, bob, "aes256-cbc", extra=("-keyid",))
        return "bob", ("bob",)
    if name == "openssl-enc-multi-recipient-not-first":
        f.openssl_encrypt(msg, [("alice", ()), ("carol", ()), ("bob", ())], "aes256-cbc")
        # DER sorts the SET OF: carol's kari is last, alice/bob ordered by serial.
        order, _ = _recipients_of(f.pki, msg.layers[-1].der)
        return order[1], ("alice", "carol", "bob")
    if name == "openssl-enc-multi-recipient-ecdh-last":
        f.openssl_encrypt(msg, [("bob", ()), ("alice", ()), ("carol", ())], "aes256-cbc")
        return "carol", ("bob", "alice", "carol")
    if name == "openssl-nested-signed-then-encrypted":
        f.openssl_sign(msg, [alice])
        f.openssl_encrypt(msg, bob, "aes256-cbc")
        return "bob", ("bob",)
    if name == "openssl-nested-signed-then-encrypted-ecdh-gcm":
        f.openssl_sign(msg, [frank])
        f.openssl_encrypt(msg, [("carol", ("ecdh_kdf_md:sha256",))], "aes256-gcm")
        return "carol", ("carol",)
    if name == "openssl-nested-opaque-signed-then-encrypted":
        f.openssl_sign(msg, [alice], opaque=True)
        f.openssl_encrypt(msg, bob, "aes256-cbc")
        return "bob", ("bob",)
    if name == "openssl-nested-encrypted-then-signed":
        f.openssl_encrypt(msg, bob, "aes256-cbc")
        f.openssl_sign(msg, [alice])
        return "bob", ("bob",)
    if name == "openssl-nested-triple-wrapped":
        f.openssl_sign(msg, [alice])
        f.openssl_encrypt(msg, bob, "aes256-cbc")
        f.openssl_sign(msg, [frank])
        return "bob", ("bob",)
    if name.startswith("nss-sign-"):
        signer = "frank" if "ecdsa" in name else "alice"
        digest = "sha512" if "sha512" in name else "sha256"
        f.nss_sign(
            msg, signer, digest, detached="opaque" not in name,
            signing_time="no-signing-time" not in name, boundary_seed=name,
        )
        return None, ("bob",)
    if name == "nss-enc-rsa":
        f.nss_encrypt(msg, ["bob@example.org"])
        return "bob", ("bob",)
    if name == "nss-enc-multi-recipient":
        f.nss_encrypt(msg, ["alice@example.org", "bob@example.org"])
        return "bob", ("alice", "bob")
    if name == "nss-nested-signed-then-encrypted":
        f.nss_sign(msg, "alice", "sha256", detached=True, boundary_seed=name)
        f.nss_encrypt(msg, ["bob@example.org"])
        return "bob", ("bob",)
    raise KeyError(name)


def _address(pki: Pki, name: str) -> str:
    ent = pki.entity(name)
    cn = ent.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    return email.utils.formataddr((str(cn), ent.email or f"{name}@example.org"))


_OPENSSL_NOTE = (
    "\nOpenSSL's S/MIME output kept as written except bare LF -> CRLF in its base64 lines; "
    "From/To/Subject/Date/Message-ID prepended."
)
_NSS_NOTE = (
    "\n$NSSDB: NssDb.create with the test root (C,C,C), the intermediate (,,), alice's and "
    "frank's .p12 (nicknames alice, frank) and bob's certificate (,,). cmsutil writes raw CMS; "
    "corpus.py wraps it as Thunderbird does (multipart/signed with the content as first part, or "
    "application/pkcs7-mime, base64 in 76-column CRLF lines)."
)


def _build_one(f: _Factory, index: int, name: str, producer: str, what: str) -> Vector:
    pki = f.pki
    inner, text, attachments = _payload(name, index)
    msg = _Message(inner)
    recipient, to = _recipe(f, name, msg)
    layers = list(reversed(msg.layers))  # outermost first

    signatures: list[ExpectedSignature] = []
    recipients: tuple[str, ...] = ()
    encryption = None
    for pos, layer in enumerate(layers):
        if layer.kind in (ENVELOPED_DATA, AUTH_ENVELOPED_DATA):
            order, cipher = _recipients_of(pki, layer.der)
            if encryption is None:
                recipients, encryption = order, cipher
            if recipient not in order:
                raise CorpusError(f"{name}: {recipient} is not among the recipients {order}")
            continue
        specs = {s.entity: s for s in layer.signers}
        found = _signer_infos(pki, layer.der)
        if sorted(s for s, _, _ in found) != sorted(specs):
            raise CorpusError(f"{name}: signers {found} differ from {sorted(specs)}")
        for signer, digest, when in found:
            spec = specs[signer]
            if digest != spec.digest:
                raise CorpusError(f"{name}: {signer} signed with {digest}, wanted {spec.digest}")
            trusted, why = trust_at(pki, signer, when or f.built_at)
            notes = [n for n in (spec.note, why) if n]
            if when is None:
                notes.append("no signingTime attribute: trust judged at the current time")
            signatures.append(ExpectedSignature(
                signer=signer, valid=spec.valid, trusted=trusted, digest=digest,
                note="; ".join(notes), layer=pos, signing_time=when,
            ))

    sender = signatures[0].signer if signatures else "alice"
    headers = [
        f"From: {_address(pki, sender)}",
        "To: " + ", ".join(_address(pki, n) for n in to),
        f"Subject: [smimehelper interop] {name}",
        f"Date: {email.utils.format_datetime(f.built_at)}",
        f"Message-ID: <{name}@{_EXAMPLE_DOMAIN}>",
        "MIME-Version: 1.0",
    ]
    body = msg.entity.removeprefix(b"MIME-Version: 1.0\r\n")
    eml = ("\r\n".join(headers) + "\r\n").encode("ascii") + body
    if _BARE_LF.search(eml) or re.search(rb"\r(?!\n)", eml):
        raise CorpusError(f"{name}: line ends are not all CRLF")
    path = f.outdir / f"{name}.eml"
    path.write_bytes(eml)

    commands = "\n".join(f"  {layer.command}" for layer in msg.layers)
    description = (
        f"{what}. Producer: {producer}. Layers (outermost first): {', '.join(l.kind for l in layers)}."
        f"\nCommands (innermost layer first; $PKI = test PKI dir):\n{commands}"
        + (_NSS_NOTE if producer == "nss-cmsutil" else _OPENSSL_NOTE)
    )
    return Vector(
        name=name,
        path=path,
        producer=producer,
        description=description,
        recipient=recipient,
        encrypted=encryption is not None,
        encryption=encryption,
        signatures=tuple(signatures),
        body_text=text,
        attachments=attachments,
        layers=tuple(l.kind for l in layers),
        recipients=recipients,
    )


def build_corpus(pki: Pki, outdir: Path) -> list[Vector]:
    """Produce every vector of ``VECTOR_NAMES`` as ``outdir/<name>.eml`` with the real tools.

    Takes about a second; intermediate files stay under ``outdir/work`` and the
    NSS database under ``outdir/nssdb`` for debugging.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    f = _Factory(pki, outdir)
    return [_build_one(f, i, name, producer, what) for i, (name, producer, what) in enumerate(_RECIPES)]


# --------------------------------------------------------------------------- extra entities


def mint_leaf(
    pki: Pki,
    outdir: Path,
    name: str,
    key: ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey,
    *,
    email: str | None = None,
) -> Entity:
    """Issue an extra leaf (e.g. Ed25519 ``ed``, X25519 ``xena``) from the test intermediate.

    Same profile as make_pki's leaves (emailProtection EKU, SAN email, SKI/AKI),
    valid REFERENCE_NOW-30d .. +2y; keyUsage digitalSignature for signing keys,
    keyAgreement for X25519. Written as ``<name>.key.pem``/``.cert.pem``/``.cert.der``
    and, except for X25519 (which cryptography cannot put in PKCS#12), ``.p12``.
    """
    inter = pki.inter
    email = email or f"{name}@example.org"
    agreement = isinstance(key, x25519.X25519PrivateKey)
    now = pki.now
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smimehelper Test"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{name.title()} Extra"),
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, email),
        ]))
        .issuer_name(inter.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(days=30))
        .not_valid_after(now + _dt.timedelta(days=730))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not agreement, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=agreement,
                key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(inter.key.public_key()),
            critical=False,
        )
        .sign(inter.key, hashes.SHA256())
    )
    outdir.mkdir(parents=True, exist_ok=True)
    if not agreement:
        return _write_entity(outdir, name, email, cert, key, [inter.cert, pki.root.cert])
    # cryptography cannot put an X25519 key into PKCS#12: PEM/DER files only.
    ent = Entity(
        name=name, email=email, key_path=outdir / f"{name}.key.pem",
        cert_pem=outdir / f"{name}.cert.pem", cert_der=outdir / f"{name}.cert.der",
        p12=outdir / f"{name}.p12", cert=cert, key=key,  # type: ignore[arg-type]
    )
    ent.key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    ent.cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ent.cert_der.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    return ent


# --------------------------------------------------------------------------- NSS project vectors


def _describe_env(der: bytes) -> tuple[str, str]:
    """(key encryption summary, content cipher) of one third-party EnvelopedData."""
    info = _content_info(der)
    env = info["content"]
    cipher_alg = env["encrypted_content_info"]["content_encryption_algorithm"]["algorithm"].native
    cipher = _CIPHER_NAMES.get(cipher_alg, cipher_alg)
    (ri,) = list(env["recipient_infos"])
    if ri.name == "ktri":
        alg = ri.chosen["key_encryption_algorithm"]
        if alg["algorithm"].native != "rsaes_oaep":
            return alg["algorithm"].native, cipher
        params = alg["parameters"].native or {}
        md = (params.get("hash_algorithm") or {}).get("algorithm", "sha1")
        mgf = ((params.get("mask_gen_algorithm") or {}).get("parameters") or {}).get("algorithm", "sha1")
        label = ((params.get("p_source_algorithm") or {}).get("parameters")) or b""
        text = f"RSA-OAEP hash {md}, MGF1 {mgf}"
        return text + (f", label {label.hex()}" if label else ", no label"), cipher
    kari = ri.chosen
    scheme = kari["key_encryption_algorithm"]["algorithm"].dotted
    wrap = asn1_cms.KeyEncryptionAlgorithm.load(
        kari["key_encryption_algorithm"]["parameters"].dump()
    )["algorithm"].native
    kdf = {
        "1.3.133.16.840.63.0.2": "sha1",
        "1.3.132.1.11.0": "sha224",
        "1.3.132.1.11.1": "sha256",
        "1.3.132.1.11.2": "sha384",
        "1.3.132.1.11.3": "sha512",
    }.get(scheme, scheme)
    return f"ECDH stdDH {kdf} KDF, {wrap}", cipher


def nss_vectors(eml_dir: Path | None = None) -> list[NssVector]:
    """The 17 OpenSSL-made EnvelopedData vectors of the NSS project, for recipient "Fran".

    With ``eml_dir``, also write ``<name>.eml``: a minimal S/MIME mail
    (application/pkcs7-mime; smime-type=enveloped-data, base64 76-column CRLF)
    around each, and set ``eml_path``. Keys: Fran.p12 (RSA) for fran-oaep*,
    Fran-ec.p12 (P-384) for fran-ec_*, password ``nss``.
    """
    out = []
    for der_path in sorted(NSS_VECTOR_DIR.glob("*.env")):
        name = der_path.stem
        ec = name.startswith("fran-ec")
        der = der_path.read_bytes()
        key_enc, cipher = _describe_env(der)
        eml_path = None
        if eml_dir is not None:
            eml_dir.mkdir(parents=True, exist_ok=True)
            eml_path = eml_dir / f"{name}.eml"
            to = "Fran <Fran-ec@example.com>" if ec else "Fran <Fran@example.com>"
            headers = (
                "From: NSS interop test <nss-test@example.com>\r\n"
                f"To: {to}\r\n"
                f"Subject: [nss-openssl vector] {name}\r\n"
                "Date: Fri, 19 Apr 2024 00:00:00 +0000\r\n"
                f"Message-ID: <{name}@nss-openssl.{_EXAMPLE_DOMAIN}>\r\n"
                "MIME-Version: 1.0\r\n"
            )
            eml_path.write_bytes(headers.encode("ascii") + _pkcs7_mime(der, "enveloped-data"))
        out.append(NssVector(
            name=name,
            der_path=der_path,
            p12_path=NSS_VECTOR_DIR / ("Fran-ec.p12" if ec else "Fran.p12"),
            password=NSS_VECTOR_PASSWORD,
            plaintext=NSS_VECTOR_PLAINTEXT,
            description=(
                f"NSS project vector {der_path.name} (made with the OpenSSL CLI): "
                f"{key_enc}, {cipher}; plaintext is bare text, not MIME"
            ),
            key_encryption=key_enc,
            encryption=cipher,
            eml_path=eml_path,
        ))
    return out
