"""Generate a throw-away S/MIME test PKI (root -> intermediate -> leaves).

Why generated instead of checked-in: certificates expire and private keys in a
repository look like leaks; generating takes well under a second and every
validity window is expressed relative to one fixed instant, ``REFERENCE_NOW``,
so tests can freeze time there (``openssl -attime``, an injected clock) and get
the same answers on any day.

Usage: ``python -m tests.pki.make_pki OUTDIR`` or ``build_pki(outdir)``.
All private keys are unencrypted PKCS#8 PEM -- this is test material only.

Revocation mode: ``build_pki(outdir, now, crl_base_url=..., ocsp_url=...,
offline_base_url=...)`` puts *real* revocation pointers into the certificates
(CRL distribution points, AIA OCSP + caIssuers) instead of the never-fetched
``CRL_URL`` placeholder, and adds the entities ``norev`` (no revocation info
at all), ``offline`` (pointers to ``offline_base_url``, where nothing is
supposed to listen) and ``ocspsigner`` (delegated OCSP responder). It also
writes ``root.crl`` and the CA certificates as ``root.cer``/``inter.cer`` (DER)
so an HTTP server can serve the directory as is. See ``tests/pki/revocation.py``.
Without those arguments the output is exactly what it always was.
"""

from __future__ import annotations

import datetime as _dt
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CRL_URL",
    "LEAF_NAMES",
    "OCSP_SIGNER_NAME",
    "REVOCATION_LEAF_NAMES",
    "P12_PASSWORD",
    "REFERENCE_NOW",
    "Entity",
    "Pki",
    "build_pki",
]

REFERENCE_NOW = _dt.datetime(2026, 6, 1, 12, 0, tzinfo=_dt.timezone.utc)
"""Default 'now' of the PKI; every validity window is relative to it."""

P12_PASSWORD = "test-pass"
"""Password of every ``<stem>.p12`` (also written to ``passphrase.txt``)."""

CRL_URL = "http://127.0.0.1:0/inter.crl"
"""Placeholder CRL distribution point put in every leaf (never fetched)."""

KeyKind = Literal["rsa1024", "rsa2048", "p256", "p384", "p521"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_DAY = _dt.timedelta(days=1)
_YEAR = _dt.timedelta(days=365)


@dataclass(frozen=True)
class _LeafSpec:
    """What differs between leaves; everything else is the common profile."""

    email: str | None
    common_name: str
    key_kind: KeyKind
    key_usage: frozenset[str]
    eku: tuple[x509.ObjectIdentifier, ...] = (ExtendedKeyUsageOID.EMAIL_PROTECTION,)
    not_before: _dt.timedelta = -30 * _DAY
    not_after: _dt.timedelta = _YEAR
    # Revocation mode only: which pointers the certificate carries.
    revinfo: Literal["normal", "none", "offline"] = "normal"


_SIGN = frozenset({"digital_signature"})
_RSA_RECIP = frozenset({"digital_signature", "key_encipherment"})
_EC_RECIP = frozenset({"digital_signature", "key_agreement"})

_LEAVES: Mapping[str, _LeafSpec] = MappingProxyType(
    {
        # The sending dentist: signs (with non-repudiation) and can receive.
        "alice": _LeafSpec(
            "alice@example.org", "Dr Alice Sender", "rsa2048",
            frozenset({"digital_signature", "content_commitment", "key_encipherment"}),
        ),
        "bob": _LeafSpec("bob@example.org", "Bob Recipient", "rsa2048", _RSA_RECIP),
        "carol": _LeafSpec("carol@example.org", "Carol P-256", "p256", _EC_RECIP),
        "dave": _LeafSpec("dave@example.org", "Dave P-384", "p384", _EC_RECIP),
        "erin": _LeafSpec("erin@example.org", "Erin P-521", "p521", _EC_RECIP),
        # A sender whose identity is an EC key (ECDSA signing, ECDH receiving).
        "frank": _LeafSpec(
            "frank@example.org", "Frank EC Sender", "p256",
            frozenset({"digital_signature", "content_commitment", "key_agreement"}),
        ),
        "expired": _LeafSpec(
            "expired@example.org", "Expired User", "rsa2048", _RSA_RECIP,
            not_before=-2 * _YEAR, not_after=-_YEAR,
        ),
        "notyet": _LeafSpec(
            "notyet@example.org", "Not Yet Valid", "rsa2048", _RSA_RECIP,
            not_before=30 * _DAY, not_after=_YEAR,
        ),
        "signonly": _LeafSpec("signonly@example.org", "Sign Only", "rsa2048", _SIGN),
        "wrongeku": _LeafSpec(
            "wrongeku@example.org", "Wrong EKU", "rsa2048", _RSA_RECIP,
            eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
        ),
        "noemail": _LeafSpec(None, "No Email", "rsa2048", _RSA_RECIP),
        "weak": _LeafSpec("weak@example.org", "Weak RSA-1024", "rsa1024", _RSA_RECIP),
        "revoked": _LeafSpec("revoked@example.org", "Revoked User", "rsa2048", _RSA_RECIP),
    }
)

LEAF_NAMES: tuple[str, ...] = tuple(_LEAVES)
"""Stems of all leaf entities, in a stable order."""

_REVOCATION_LEAVES: Mapping[str, _LeafSpec] = MappingProxyType(
    {
        # No CRL distribution point, no AIA: revocation status cannot be checked.
        "norev": _LeafSpec(
            "norev@example.org", "No Revocation Info", "rsa2048", _RSA_RECIP, revinfo="none"
        ),
        # CRL and OCSP pointers to ``offline_base_url`` where nothing listens.
        "offline": _LeafSpec(
            "offline@example.org", "Offline Revocation", "rsa2048", _RSA_RECIP,
            revinfo="offline",
        ),
    }
)

REVOCATION_LEAF_NAMES: tuple[str, ...] = tuple(_REVOCATION_LEAVES)
"""Extra leaves that only exist in revocation mode (see ``build_pki``)."""

OCSP_SIGNER_NAME = "ocspsigner"
"""Stem of the delegated OCSP responder (revocation mode with ``ocsp_url``)."""


@dataclass(frozen=True)
class _RevUrls:
    """Revocation pointers of revocation mode (all None: the classic PKI)."""

    crl_base_url: str | None = None
    ocsp_url: str | None = None
    offline_base_url: str | None = None

    @property
    def enabled(self) -> bool:
        return self.crl_base_url is not None or self.ocsp_url is not None


@dataclass(frozen=True)
class Entity:
    """One certificate holder and the files written for it.

    Tests need both the paths (to hand to the CLI tools and the product) and
    the parsed objects (to assert on fields) without re-reading files.
    ``email`` is None only for ``noemail``.
    """

    name: str
    email: str | None
    key_path: Path
    cert_pem: Path
    cert_der: Path
    p12: Path
    cert: x509.Certificate
    key: PrivateKey


@dataclass(frozen=True)
class Pki:
    """The generated PKI: its directory, its 'now' and all entities by stem.

    ``root`` and ``inter`` are entities too (their .p12 holds the CA key, which
    is handy for tests that need to mint extra certificates).
    """

    dir: Path
    now: _dt.datetime
    entities: Mapping[str, Entity] = field(repr=False)
    # Revocation mode (see build_pki); all None for the classic PKI.
    crl_base_url: str | None = field(default=None, repr=False)
    ocsp_url: str | None = field(default=None, repr=False)
    offline_base_url: str | None = field(default=None, repr=False)

    def entity(self, name: str) -> Entity:
        """Return the entity with file stem ``name`` (KeyError if unknown)."""
        return self.entities[name]

    def __getitem__(self, name: str) -> Entity:
        return self.entities[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.entities)

    @property
    def root(self) -> Entity:
        return self.entities["root"]

    @property
    def inter(self) -> Entity:
        return self.entities["inter"]

    @property
    def chain_pem(self) -> Path:
        """Intermediate then root, PEM: the ``-certfile``/untrusted chain."""
        return self.dir / "chain.pem"

    @property
    def crl_der(self) -> Path:
        """The intermediate's CRL (lists ``revoked``), DER."""
        return self.dir / "inter.crl"

    @property
    def crl_pem(self) -> Path:
        return self.dir / "inter.crl.pem"

    @property
    def root_crl_der(self) -> Path:
        """The root's (empty) CRL covering the intermediate; revocation mode only."""
        return self.dir / "root.crl"

    @property
    def revocation_mode(self) -> bool:
        """True when the certificates carry real revocation URLs."""
        return self.crl_base_url is not None or self.ocsp_url is not None

    @property
    def leaf_names(self) -> tuple[str, ...]:
        """Stems of the leaves issued by ``inter`` for end users (no OCSP signer)."""
        extra = REVOCATION_LEAF_NAMES if self.revocation_mode else ()
        return (*LEAF_NAMES, *extra)

    @property
    def passphrase_file(self) -> Path:
        """``test-pass`` plus newline, for tools that read a password file."""
        return self.dir / "passphrase.txt"

    @property
    def p12_password(self) -> str:
        return P12_PASSWORD


def _new_key(kind: KeyKind) -> PrivateKey:
    if kind == "rsa1024":
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)
    if kind == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    curve = {"p256": ec.SECP256R1(), "p384": ec.SECP384R1(), "p521": ec.SECP521R1()}[kind]
    return ec.generate_private_key(curve)


def _key_usage(flags: frozenset[str]) -> x509.KeyUsage:
    names = (
        "digital_signature", "content_commitment", "key_encipherment",
        "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
    )
    unknown = flags - set(names)
    if unknown:
        raise ValueError(f"unknown keyUsage flags: {sorted(unknown)}")
    kwargs = {n: n in flags for n in names}
    return x509.KeyUsage(**kwargs, encipher_only=False, decipher_only=False)


def _name(common_name: str, email: str | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smimehelper Test"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ]
    if email is not None:
        attrs.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
    return x509.Name(attrs)


def _ca_cert(
    subject: x509.Name,
    key: PrivateKey,
    now: _dt.datetime,
    issuer: tuple[x509.Certificate, PrivateKey] | None,
    path_length: int | None,
    extra_extensions: tuple[x509.ExtensionType, ...] = (),
) -> x509.Certificate:
    """A CA certificate; self-signed when ``issuer`` is None."""
    issuer_name, signing_key = (subject, key) if issuer is None else (issuer[0].subject, issuer[1])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _YEAR)
        .not_valid_after(now + 10 * _YEAR)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(frozenset({"key_cert_sign", "crl_sign"})), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()),
            critical=False,
        )
    for ext in extra_extensions:
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _cdp(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)]
    )


def _aia(ocsp_url: str | None, ca_issuers_url: str | None) -> x509.AuthorityInformationAccess:
    descriptions = []
    if ocsp_url is not None:
        descriptions.append(
            x509.AccessDescription(
                x509.oid.AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier(ocsp_url),
            )
        )
    if ca_issuers_url is not None:
        descriptions.append(
            x509.AccessDescription(
                x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(ca_issuers_url),
            )
        )
    return x509.AuthorityInformationAccess(descriptions)


def _leaf_revinfo(spec: _LeafSpec, urls: _RevUrls) -> list[x509.ExtensionType]:
    """The revocation pointers of one leaf (classic PKI: the placeholder CDP only)."""
    if not urls.enabled:
        return [_cdp(CRL_URL)]
    if spec.revinfo == "none":
        return []
    if spec.revinfo == "offline":
        if urls.offline_base_url is None:  # pragma: no cover - guarded in build_pki
            raise ValueError("offline leaf needs offline_base_url")
        base = urls.offline_base_url.rstrip("/")
        return [_cdp(f"{base}/inter.crl"), _aia(f"{base}/", f"{base}/inter.cer")]
    exts: list[x509.ExtensionType] = []
    ca_issuers = None
    if urls.crl_base_url is not None:
        base = urls.crl_base_url.rstrip("/")
        exts.append(_cdp(f"{base}/inter.crl"))
        ca_issuers = f"{base}/inter.cer"
    else:
        exts.append(_cdp(CRL_URL))
    exts.append(_aia(urls.ocsp_url, ca_issuers))
    return exts


def _leaf_cert(
    spec: _LeafSpec,
    key: PrivateKey,
    now: _dt.datetime,
    inter: x509.Certificate,
    inter_key: PrivateKey,
    urls: _RevUrls = _RevUrls(),
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(spec.common_name, spec.email))
        .issuer_name(inter.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + spec.not_before)
        .not_valid_after(now + spec.not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(spec.key_usage), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(spec.eku)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(inter_key.public_key()),
            critical=False,
        )
    )
    for ext in _leaf_revinfo(spec, urls):
        builder = builder.add_extension(ext, critical=False)
    if spec.email is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(spec.email)]), critical=False
        )
    return builder.sign(inter_key, hashes.SHA256())


def _p12_encryption() -> serialization.KeySerializationEncryption:
    """AES-256-CBC + PBKDF2-SHA256 bags and an HMAC-SHA256 MAC (no RC2/3DES)."""
    return (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(10_000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(P12_PASSWORD.encode())
    )


def _write_entity(
    outdir: Path,
    name: str,
    email: str | None,
    cert: x509.Certificate,
    key: PrivateKey,
    chain: list[x509.Certificate],
) -> Entity:
    ent = Entity(
        name=name,
        email=email,
        key_path=outdir / f"{name}.key.pem",
        cert_pem=outdir / f"{name}.cert.pem",
        cert_der=outdir / f"{name}.cert.der",
        p12=outdir / f"{name}.p12",
        cert=cert,
        key=key,
    )
    ent.key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ent.key_path.chmod(0o600)
    ent.cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ent.cert_der.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    ent.p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            name.encode(), key, cert, chain or None, _p12_encryption()
        )
    )
    return ent


def _ocsp_signer_cert(
    key: PrivateKey, now: _dt.datetime, inter: x509.Certificate, inter_key: PrivateKey
) -> x509.Certificate:
    """Delegated OCSP responder: EKU OCSPSigning + id-pkix-ocsp-nocheck, issued by inter."""
    return (
        x509.CertificateBuilder()
        .subject_name(_name("smimehelper Test OCSP Responder"))
        .issuer_name(inter.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - 30 * _DAY)
        .not_valid_after(now + _YEAR)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(frozenset({"digital_signature"})), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(inter_key.public_key()),
            critical=False,
        )
        .sign(inter_key, hashes.SHA256())
    )


def _crl(
    inter: x509.Certificate,
    inter_key: PrivateKey,
    revoked_serial: int | None,
    now: _dt.datetime,
) -> x509.CertificateRevocationList:
    """A CRL of ``inter`` listing ``revoked_serial`` (None: an empty CRL)."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(inter.subject)
        .last_update(now - _DAY)
        .next_update(now + 30 * _DAY)
    )
    if revoked_serial is not None:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(revoked_serial)
            .revocation_date(now - _DAY)
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
        )
        builder = builder.add_revoked_certificate(entry)
    return (
        builder
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(inter_key.public_key()),
            critical=False,
        )
        .sign(inter_key, hashes.SHA256())
    )


def build_pki(
    outdir: Path,
    now: _dt.datetime | None = None,
    *,
    crl_base_url: str | None = None,
    ocsp_url: str | None = None,
    offline_base_url: str | None = None,
) -> Pki:
    """Create the whole PKI under ``outdir`` (created if missing) and describe it.

    ``now`` defaults to ``REFERENCE_NOW``; pass another aware datetime only if
    a test really needs validity windows around a different instant.

    Revocation mode (any of the keyword arguments given; all None keeps the
    classic PKI byte-for-byte in structure):

    * ``crl_base_url`` (e.g. ``http://127.0.0.1:8080``): leaves get the CRL
      distribution point ``<base>/inter.crl`` and AIA caIssuers
      ``<base>/inter.cer``; the intermediate gets ``<base>/root.crl`` and
      ``<base>/root.cer``. ``root.crl`` (empty), ``root.cer`` and ``inter.cer``
      (DER) are written next to ``inter.crl``.
    * ``ocsp_url`` (e.g. ``http://127.0.0.1:8081/``): leaves get AIA OCSP; the
      entity ``ocspsigner`` (EKU OCSPSigning, ocsp-nocheck, issued by inter) is
      added for a delegated responder. The intermediate has no OCSP pointer.
    * ``offline_base_url``: adds ``offline``, whose CRL/OCSP/caIssuers pointers
      all go to that base (nothing should listen there).
    * ``norev`` (no CDP, no AIA) is always added in revocation mode.
    """
    now = REFERENCE_NOW if now is None else now
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    urls = _RevUrls(crl_base_url, ocsp_url, offline_base_url)
    if offline_base_url is not None and not urls.enabled:
        raise ValueError("offline_base_url needs crl_base_url or ocsp_url")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)

    root_key = _new_key("rsa2048")
    root_cert = _ca_cert(_name("smimehelper Test Root CA"), root_key, now, None, None)
    inter_key = _new_key("rsa2048")
    inter_extra: tuple[x509.ExtensionType, ...] = ()
    if crl_base_url is not None:
        base = crl_base_url.rstrip("/")
        inter_extra = (_cdp(f"{base}/root.crl"), _aia(None, f"{base}/root.cer"))
    inter_cert = _ca_cert(
        _name("smimehelper Test Intermediate CA"), inter_key, now, (root_cert, root_key), 0,
        inter_extra,
    )

    entities: dict[str, Entity] = {
        "root": _write_entity(outdir, "root", None, root_cert, root_key, []),
        "inter": _write_entity(outdir, "inter", None, inter_cert, inter_key, [root_cert]),
    }
    leaves = dict(_LEAVES)
    if urls.enabled:
        leaves.update(_REVOCATION_LEAVES)
        if offline_base_url is None:
            del leaves["offline"]
    for name, spec in leaves.items():
        key = _new_key(spec.key_kind)
        cert = _leaf_cert(spec, key, now, inter_cert, inter_key, urls)
        entities[name] = _write_entity(
            outdir, name, spec.email, cert, key, [inter_cert, root_cert]
        )
    if ocsp_url is not None:
        key = _new_key("rsa2048")
        cert = _ocsp_signer_cert(key, now, inter_cert, inter_key)
        entities[OCSP_SIGNER_NAME] = _write_entity(
            outdir, OCSP_SIGNER_NAME, None, cert, key, [inter_cert, root_cert]
        )

    pem = serialization.Encoding.PEM
    der = serialization.Encoding.DER
    (outdir / "chain.pem").write_bytes(inter_cert.public_bytes(pem) + root_cert.public_bytes(pem))
    crl = _crl(inter_cert, inter_key, entities["revoked"].cert.serial_number, now)
    (outdir / "inter.crl").write_bytes(crl.public_bytes(der))
    (outdir / "inter.crl.pem").write_bytes(crl.public_bytes(pem))
    (outdir / "passphrase.txt").write_text(P12_PASSWORD + "\n", encoding="ascii")
    if urls.enabled:
        (outdir / "root.crl").write_bytes(_crl(root_cert, root_key, None, now).public_bytes(der))
        (outdir / "root.cer").write_bytes(root_cert.public_bytes(der))
        (outdir / "inter.cer").write_bytes(inter_cert.public_bytes(der))

    return Pki(
        dir=outdir,
        now=now,
        entities=MappingProxyType(entities),
        crl_base_url=crl_base_url,
        ocsp_url=ocsp_url,
        offline_base_url=offline_base_url,
    )


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: ``python -m tests.pki.make_pki OUTDIR``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tests.pki.make_pki OUTDIR", file=sys.stderr)
        return 2
    pki = build_pki(Path(args[0]))
    print(f"wrote test PKI ({len(pki.entities)} entities, now={pki.now.isoformat()}) to {pki.dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
