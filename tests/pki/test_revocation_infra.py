"""Self-tests of the revocation infrastructure (tests/pki/revocation.py).

The servers must be trusted before the product's revocation checking is
judged against them, so here the real ``openssl ocsp`` client and
pyhanko-certvalidator 0.33 (the library the product will use) are run against
them, pinning down what the validator does in each case: which URL it fetches
first, which exception and message it raises, and how the frozen validation
time interacts with an OCSP responder that answers at real time.

Also checks the PKCS#12 variants made by ``make_p12_variants`` with the
openssl CLI and with ``cryptography``'s ``pkcs12.load_pkcs12``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import crl as acrl
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    CRLFetchError,
    InsufficientRevinfoError,
    OCSPFetchError,
    RevokedError,
    StaleRevinfoError,
)
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)

from tests.pki.make_pki import (
    CRL_URL,
    LEAF_NAMES,
    OCSP_SIGNER_NAME,
    REFERENCE_NOW,
    REVOCATION_LEAF_NAMES,
    Pki,
    build_pki,
)
from tests.pki.revocation import (
    P12_VARIANTS,
    ClosedPort,
    CrlServer,
    OcspResponder,
    RevocationPki,
    _db_serial,
    index_line,
    openssl_oneline,
    start_revocation_pki,
)

UTC = dt.timezone.utc

# --------------------------------------------------------------------------- helpers


def _acert(cert: x509.Certificate) -> ax509.Certificate:
    from cryptography.hazmat.primitives.serialization import Encoding

    return ax509.Certificate.load(cert.public_bytes(Encoding.DER))


def _policy(ee: RevocationCheckingRule) -> CertRevTrustPolicy:
    """``ee`` for the leaf; the intermediate keeps 'hard-fail' (check if declared)."""
    return CertRevTrustPolicy(
        RevocationCheckingPolicy(ee, RevocationCheckingRule.CHECK_IF_DECLARED)
    )


CRL_ONLY = _policy(RevocationCheckingRule.CRL_REQUIRED)
OCSP_ONLY = _policy(RevocationCheckingRule.OCSP_REQUIRED)


@dataclass
class Outcome:
    error: Exception | None
    http: list[str]  # paths fetched from the CRL server during this validation
    ocsp: int  # requests the OCSP responder received during this validation
    soft_fail: list[Exception]


def _validate(
    rp: RevocationPki,
    name: str,
    *,
    moment: dt.datetime | None = None,
    mode: str = "hard-fail",
    policy: CertRevTrustPolicy | None = None,
    with_inter: bool = True,
    **ctx_kwargs: object,
) -> Outcome:
    """Validate ``name`` for S/MIME signing with fetching, as the product will."""
    pki = rp.pki
    http_before = len(rp.crl_server.requests)
    ocsp_before = len(rp.ocsp.request_lines())
    kwargs: dict[str, object] = dict(ctx_kwargs)
    if policy is not None:
        kwargs["revinfo_policy"] = policy
    else:
        kwargs["revocation_mode"] = mode

    async def run() -> tuple[Exception | None, list[Exception]]:
        ctx = ValidationContext(
            trust_roots=[_acert(pki.root.cert)],
            other_certs=[_acert(pki.inter.cert)] if with_inter else [],
            moment=rp.moment if moment is None else moment,
            allow_fetching=True,
            **kwargs,  # type: ignore[arg-type]
        )
        validator = CertificateValidator(_acert(pki[name].cert), validation_context=ctx)
        try:
            await validator.async_validate_usage(
                key_usage={"digital_signature"}, extended_key_usage={"email_protection"}
            )
            error = None
        except Exception as exc:  # noqa: BLE001 - the outcome is what we test
            error = exc
        finally:
            await ctx.aclose()
        return error, list(ctx.soft_fail_exceptions)

    error, soft = asyncio.run(run())
    return Outcome(
        error=error,
        http=rp.crl_server.requests[http_before:],
        ocsp=len(rp.ocsp.request_lines()) - ocsp_before,
        soft_fail=soft,
    )


def _ok(outcome: Outcome) -> None:
    assert outcome.error is None, f"{type(outcome.error).__name__}: {outcome.error}"


def _crl_entry(pki: Pki, name: str) -> x509.RevokedCertificate:
    crl = x509.load_der_x509_crl(pki.crl_der.read_bytes())
    entry = crl.get_revoked_certificate_by_serial_number(pki[name].cert.serial_number)
    assert entry is not None
    return entry


@pytest.fixture()
def rp(revocation_pki: RevocationPki) -> RevocationPki:
    revocation_pki.check_clock()
    return revocation_pki


# --------------------------------------------------------------------------- the PKI


def test_classic_pki_has_no_revocation_extras(tmp_path: Path) -> None:
    pki = build_pki(tmp_path)
    assert not pki.revocation_mode and pki.leaf_names == LEAF_NAMES
    assert set(pki) == {"root", "inter", *LEAF_NAMES}
    assert not (tmp_path / "root.crl").exists() and not (tmp_path / "inter.cer").exists()
    for name in ("inter", *LEAF_NAMES):
        cert = pki[name].cert
        with pytest.raises(x509.ExtensionNotFound):
            cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    cdp = pki["bob"].cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [u.value for u in cdp[0].full_name] == [CRL_URL]
    with pytest.raises(x509.ExtensionNotFound):
        pki.inter.cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)


def _urls(cert: x509.Certificate) -> tuple[list[str], list[str], list[str]]:
    """(CRL distribution points, OCSP, caIssuers) of ``cert``."""
    try:
        cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        crls = [n.value for dp in cdp for n in dp.full_name]
    except x509.ExtensionNotFound:
        crls = []
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        aia = []
    ocsp = [a.access_location.value for a in aia if a.access_method == AuthorityInformationAccessOID.OCSP]
    issuers = [
        a.access_location.value for a in aia
        if a.access_method == AuthorityInformationAccessOID.CA_ISSUERS
    ]
    return crls, ocsp, issuers


def test_revocation_pki_certificates_point_at_the_servers(rp: RevocationPki) -> None:
    pki, base = rp.pki, rp.crl_server.base_url
    assert pki.revocation_mode and base.startswith("http://127.0.0.1:")
    assert pki.leaf_names == (*LEAF_NAMES, *REVOCATION_LEAF_NAMES)
    assert set(pki) == {"root", "inter", OCSP_SIGNER_NAME, *LEAF_NAMES, *REVOCATION_LEAF_NAMES}
    for name in (*LEAF_NAMES, "norev", "offline"):
        assert pki[name].cert.issuer == pki.inter.cert.subject
    for name in LEAF_NAMES:
        assert _urls(pki[name].cert) == (
            [f"{base}/inter.crl"], [rp.ocsp.url], [f"{base}/inter.cer"]
        ), name
    assert _urls(pki.inter.cert) == ([f"{base}/root.crl"], [], [f"{base}/root.cer"])
    assert _urls(pki.root.cert) == ([], [], [])
    assert _urls(pki["norev"].cert) == ([], [], [])
    dead = rp.offline_port.base_url
    assert _urls(pki["offline"].cert) == ([f"{dead}/inter.crl"], [f"{dead}/"], [f"{dead}/inter.cer"])

    signer = pki[OCSP_SIGNER_NAME].cert
    assert signer.issuer == pki.inter.cert.subject
    eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    signer.extensions.get_extension_for_class(x509.OCSPNoCheck)
    assert _urls(signer) == ([], [], [])

    root_crl = x509.load_der_x509_crl(pki.root_crl_der.read_bytes())
    assert root_crl.is_signature_valid(pki.root.cert.public_key()) and len(root_crl) == 0
    assert (pki.dir / "inter.cer").read_bytes() == pki.inter.cert_der.read_bytes()
    assert (pki.dir / "root.cer").read_bytes() == pki.root.cert_der.read_bytes()
    # built around the real time, validated a margin later (see revocation.py)
    assert abs(pki.now - dt.datetime.now(UTC)) < dt.timedelta(hours=1)
    assert rp.moment == pki.now + dt.timedelta(hours=1)


def test_closed_port_refuses_connections() -> None:
    with ClosedPort() as port:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port.port), timeout=2).close()


# --------------------------------------------------------------------------- CRL server


def _get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - 127.0.0.1 only
            return resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Content-Type", "")


def test_crl_server_serves_der_and_records_requests(rp: RevocationPki) -> None:
    pki = rp.pki
    with CrlServer(pki.dir) as server:  # a second server on the same directory
        assert server.running
        status, body, ctype = _get(server.url("inter.crl"))
        assert (status, ctype) == (200, "application/pkix-crl")
        assert x509.load_der_x509_crl(body) == x509.load_der_x509_crl(pki.crl_der.read_bytes())
        status, body, ctype = _get(server.url("inter.cer"))
        assert (status, ctype) == (200, "application/pkix-cert")
        assert x509.load_der_x509_certificate(body) == pki.inter.cert
        assert _get(server.url("root.crl"))[0] == 200
        assert _get(server.url("root.cer"))[0] == 200
        for missing in ("nope.crl", "bob.key.pem", "passphrase.txt", "..%2Finter.crl"):
            assert _get(server.url(missing))[0] == 404, missing
        server.override("/inter.crl", b"garbage", status=500)
        assert _get(server.url("inter.crl"))[:2] == (500, b"garbage")
        server.reset_overrides()
        assert _get(server.url("inter.crl"))[0] == 200
        assert server.count("/inter.crl") == 3
        assert server.requests[:4] == ["/inter.crl", "/inter.cer", "/root.crl", "/root.cer"]
        server.clear_requests()
        assert server.requests == []
        port = server.port
    assert not server.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


# --------------------------------------------------------------------------- OCSP index and responder


def test_db_serial_matches_openssl_bn2hex() -> None:
    assert [_db_serial(n) for n in (0, 1, 0xABC, 0x1234, 0xFF00)] == ["00", "01", "0ABC", "1234", "FF00"]


def _openssl_out(*args: str | Path) -> str:
    return subprocess.run(
        ["openssl", *map(str, args)], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_ocsp_index_rows_match_openssl(rp: RevocationPki) -> None:
    pki = rp.pki
    rows = [line.split("\t") for line in rp.ocsp.index.read_text().splitlines()]
    by_serial = {r[3]: r for r in rows}
    issued = [n for n in pki if n not in ("root", "inter")]
    assert len(rows) == len(issued)
    for name in issued:
        ent = pki[name]
        row = by_serial[_db_serial(ent.cert.serial_number)]
        assert len(row) == 6 and row[4] == "unknown"
        assert row[5] == openssl_oneline(ent.cert.subject)
        assert row[1] == ent.cert.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
        if name in ("bob", "revoked", "noemail", OCSP_SIGNER_NAME):  # as openssl prints them
            serial = _openssl_out("x509", "-in", ent.cert_pem, "-noout", "-serial")
            assert serial == f"serial={row[3]}"
            subject = _openssl_out("x509", "-in", ent.cert_pem, "-noout", "-subject", "-nameopt", "compat")
            assert subject == f"subject={row[5]}"
        if name == "revoked":
            when = _crl_entry(pki, "revoked").revocation_date_utc
            assert row[0] == "R" and row[2] == when.strftime("%y%m%d%H%M%SZ") + ",keyCompromise"
        else:
            assert row[0] == "V" and row[2] == "", name
    assert (pki.dir / "index.txt.attr").read_text() == "unique_subject = no\n"


def _throwaway_cert(not_after: dt.datetime) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(x509.NameOID.COUNTRY_NAME, "DE"),
        x509.NameAttribute(x509.NameOID.COMMON_NAME, "T"),
        x509.NameAttribute(x509.NameOID.EMAIL_ADDRESS, "t@example.org"),
    ])
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(0xABCDE).not_valid_before(REFERENCE_NOW).not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )


def test_index_line_format() -> None:
    cert = _throwaway_cert(dt.datetime(2036, 5, 30, 12, 0, tzinfo=UTC))
    assert index_line(cert) == "V\t360530120000Z\t\t0ABCDE\tunknown\t/C=DE/CN=T/emailAddress=t@example.org\n"
    when = dt.datetime(2026, 5, 31, 12, 0, tzinfo=UTC)
    row = index_line(cert, revoked_at=when, reason=x509.ReasonFlags.ca_compromise).split("\t")
    assert row[:4] == ["R", "360530120000Z", "260531120000Z,CACompromise", "0ABCDE"]
    assert index_line(cert, revoked_at=when).split("\t")[2] == "260531120000Z"
    # from 2050 on OpenSSL stores GeneralizedTime
    late = _throwaway_cert(dt.datetime(2050, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert index_line(late).split("\t")[1] == "20500102030405Z"


def test_openssl_ocsp_client_agrees_with_responder(rp: RevocationPki) -> None:
    pki = rp.pki
    before = len(rp.ocsp.request_lines())
    out = _openssl_out(
        "ocsp", "-issuer", pki.inter.cert_pem, "-cert", pki["bob"].cert_pem,
        "-cert", pki["revoked"].cert_pem, "-url", rp.ocsp.url, "-CAfile", pki.root.cert_pem,
        "-verify_other", pki.inter.cert_pem, "-timeout", "10",
    )
    when = _crl_entry(pki, "revoked").revocation_date_utc
    assert f"{pki['bob'].cert_pem}: good" in out
    assert f"{pki['revoked'].cert_pem}: revoked" in out
    assert "Reason: keyCompromise" in out
    assert f"Revocation Time: {when:%b} {when.day:2d} {when:%H:%M:%S %Y} GMT" in out
    assert rp.ocsp.request_lines()[before:] == ["POST / HTTP/1.0"]


def test_responder_stops_and_frees_its_port(rp: RevocationPki, tmp_path: Path) -> None:
    responder = OcspResponder(rp.pki, log_dir=tmp_path).start()
    pid, port = responder.pid, responder.port
    assert responder.running() and pid is not None
    assert "-ndays" in responder.cmd and "-nrequest" not in responder.cmd
    responder.stop()
    assert not responder.running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    responder.stop()  # idempotent


# --------------------------------------------------------------------------- pyhanko-certvalidator


def test_good_cert_hard_fail_uses_ocsp_and_skips_crl(rp: RevocationPki) -> None:
    """OCSP is asked first; a good answer means the leaf's CRL is never fetched.

    The intermediate has only a CRL pointer, so root.crl is fetched every time.
    """
    outcome = _validate(rp, "bob")
    _ok(outcome)
    assert outcome.ocsp == 1 and outcome.http == ["/root.crl"] and outcome.soft_fail == []


def test_good_cert_via_crl_only(rp: RevocationPki) -> None:
    outcome = _validate(rp, "bob", policy=CRL_ONLY)
    _ok(outcome)
    assert outcome.ocsp == 0 and sorted(outcome.http) == ["/inter.crl", "/root.crl"]


def test_good_cert_via_ocsp_only(rp: RevocationPki) -> None:
    outcome = _validate(rp, "bob", policy=OCSP_ONLY)
    _ok(outcome)
    assert outcome.ocsp == 1 and outcome.http == ["/root.crl"]


def test_revoked_via_ocsp(rp: RevocationPki) -> None:
    for kwargs in ({"mode": "hard-fail"}, {"mode": "soft-fail"}, {"policy": OCSP_ONLY}):
        outcome = _validate(rp, "revoked", **kwargs)  # type: ignore[arg-type]
        err = outcome.error
        assert isinstance(err, RevokedError), (kwargs, err)
        assert str(err).startswith(
            "OCSP response indicates the end-entity certificate was revoked at "
        ) and str(err).endswith(", due to a compromised key."), str(err)
        assert err.reason == acrl.CRLReason("key_compromise")
        assert err.revocation_dt == _crl_entry(rp.pki, "revoked").revocation_date_utc
        assert err.is_ee_cert
        assert outcome.ocsp == 1 and "/inter.crl" not in outcome.http


def test_revoked_via_crl(rp: RevocationPki) -> None:
    outcome = _validate(rp, "revoked", policy=CRL_ONLY)
    err = outcome.error
    assert isinstance(err, RevokedError)
    assert str(err).startswith("CRL indicates the end-entity certificate was revoked at ")
    assert err.revocation_dt == _crl_entry(rp.pki, "revoked").revocation_date_utc
    assert outcome.ocsp == 0 and "/inter.crl" in outcome.http


def test_offline_soft_fail_passes_and_reports(rp: RevocationPki) -> None:
    outcome = _validate(rp, "offline", mode="soft-fail")
    _ok(outcome)
    assert [type(e) for e in outcome.soft_fail] == [OCSPFetchError, CRLFetchError]
    dead = rp.offline_port.base_url
    assert str(outcome.soft_fail[0]) == f"Failed to fetch OCSP response from {dead}/"
    assert str(outcome.soft_fail[1]) == f"Failure to fetch CRL from URL {dead}/inter.crl"


def test_offline_hard_fail_fails(rp: RevocationPki) -> None:
    outcome = _validate(rp, "offline", mode="hard-fail")
    err = outcome.error
    assert type(err) is InsufficientRevinfoError
    assert str(err).startswith(
        "The path could not be validated because no revocation information could be "
        "found for the end-entity certificate"
    ), str(err)
    assert outcome.soft_fail == []


def test_offline_with_mandatory_crl_or_ocsp_names_the_url(rp: RevocationPki) -> None:
    dead = rp.offline_port.base_url
    err = _validate(rp, "offline", policy=CRL_ONLY).error
    assert type(err) is InsufficientRevinfoError
    assert str(err) == (
        "The path could not be validated because the mandatory CRL check(s) for the "
        f"end-entity certificate failed: Failure to fetch CRL from URL {dead}/inter.crl"
    )
    err = _validate(rp, "offline", policy=OCSP_ONLY).error
    assert type(err) is InsufficientRevinfoError
    assert str(err).endswith(f"failed: Failed to fetch OCSP response from {dead}/")


def test_norev_passes_unless_revinfo_is_required(rp: RevocationPki) -> None:
    for mode in ("soft-fail", "hard-fail"):
        outcome = _validate(rp, "norev", mode=mode)
        _ok(outcome)
        assert outcome.ocsp == 0 and outcome.http == ["/root.crl"] and outcome.soft_fail == []
    err = _validate(rp, "norev", mode="require").error
    assert type(err) is InsufficientRevinfoError
    assert "no revocation information could be found for the end-entity certificate" in str(err)


def test_missing_intermediate_is_fetched_via_ca_issuers(rp: RevocationPki) -> None:
    outcome = _validate(rp, "bob", with_inter=False)
    _ok(outcome)
    assert outcome.http[0] == "/inter.cer" and "/root.crl" in outcome.http


def test_unreachable_crl_url_with_crl_server_error(rp: RevocationPki) -> None:
    """A CRL answer of HTTP 500 counts as a fetch failure, like a dead port."""
    rp.crl_server.override("/inter.crl", b"oops", status=500)
    try:
        err = _validate(rp, "bob", policy=CRL_ONLY).error
    finally:
        rp.crl_server.reset_overrides()
    assert type(err) is InsufficientRevinfoError
    assert str(err).endswith(f"Failure to fetch CRL from URL {rp.crl_server.base_url}/inter.crl")


# --------------------------------------------------------------------------- time behaviour


def test_moment_before_the_ocsp_answer_is_too_recent(rp: RevocationPki) -> None:
    """Why ``moment`` lies after real time: thisUpdate > moment + 1 s is rejected.

    With only OCSP allowed that fails; in the default modes the validator
    silently falls back to the CRL (so OCSP would not really be tested);
    ``retroactive_revinfo=True`` accepts it.
    """
    earlier = dt.datetime.now(UTC) - dt.timedelta(seconds=10)  # "captured at fixture start"
    err = _validate(rp, "bob", moment=earlier, policy=OCSP_ONLY).error
    assert type(err) is InsufficientRevinfoError
    assert str(err).endswith(
        "mandatory OCSP check(s) for the end-entity certificate failed: OCSP response is too recent"
    )
    fallback = _validate(rp, "bob", moment=earlier)
    _ok(fallback)
    assert fallback.ocsp == 1 and "/inter.crl" in fallback.http
    revoked = _validate(rp, "revoked", moment=earlier).error
    assert isinstance(revoked, RevokedError) and str(revoked).startswith("CRL indicates")
    _ok(
        _validate(
            rp, "bob", moment=earlier,
            policy=CertRevTrustPolicy(OCSP_ONLY.revocation_checking_policy, retroactive_revinfo=True),
        )
    )


def test_reference_now_pki_cannot_use_live_ocsp(tmp_path: Path) -> None:
    """A revocation PKI at REFERENCE_NOW: every OCSP answer is 'too recent'."""
    with start_revocation_pki(
        tmp_path, now=REFERENCE_NOW, margin=dt.timedelta(minutes=5)
    ) as rp_ref:
        err = _validate(rp_ref, "bob", policy=OCSP_ONLY).error
        assert type(err) is InsufficientRevinfoError and "OCSP response is too recent" in str(err)
        revoked = _validate(rp_ref, "revoked").error  # OCSP ignored, CRL decides
        assert isinstance(revoked, RevokedError) and str(revoked).startswith("CRL indicates")
        _ok(_validate(rp_ref, "bob", policy=CRL_ONLY))


def test_responder_without_next_update_goes_stale(tmp_path: Path) -> None:
    """No -ndays/-nmin: pyhanko assumes 30 minutes; moment (+1 h) is past that.

    Same PKI, responder restarted on the same port signing with ``inter``
    itself and -ndays 1: accepted (CA-signed responses work too).
    """
    with start_revocation_pki(tmp_path, ocsp_ndays=None) as rp_stale:
        assert "-ndays" not in rp_stale.ocsp.cmd
        err = _validate(rp_stale, "bob", policy=OCSP_ONLY).error
        assert type(err) is StaleRevinfoError
        assert "OCSP response is not recent enough" in str(err)
        _ok(_validate(rp_stale, "bob", moment=dt.datetime.now(UTC) + dt.timedelta(minutes=1),
                      policy=OCSP_ONLY))

        rp_stale.ocsp.stop()
        rp_stale.ocsp = OcspResponder(rp_stale.pki, port=rp_stale.ocsp.port, signer="inter").start()
        _ok(_validate(rp_stale, "bob", policy=OCSP_ONLY))
        err = _validate(rp_stale, "revoked", policy=OCSP_ONLY).error
        assert isinstance(err, RevokedError) and str(err).startswith("OCSP response indicates")


def test_responder_still_healthy_after_validations(rp: RevocationPki) -> None:
    """aiohttp's pooled HTTP/1.1 connections must not wedge openssl ocsp."""
    for _ in range(3):
        _ok(_validate(rp, "alice", policy=OCSP_ONLY))
    assert rp.ocsp.running()
    cpu = subprocess.run(
        ["ps", "-o", "stat=", "-p", str(rp.ocsp.pid)], capture_output=True, text=True
    ).stdout.strip()
    assert cpu.startswith("S"), f"openssl ocsp state {cpu!r} (R = spinning)"


# --------------------------------------------------------------------------- PKCS#12 variants


def test_p12_variants_exist(p12_variants: dict[str, Path]) -> None:
    assert tuple(p12_variants) == P12_VARIANTS
    for path in p12_variants.values():
        assert path.is_file() and path.stat().st_size > 0


def _p12_info(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "pkcs12", *extra, "-info", "-noout", "-in", str(path), "-passin", "pass:test-pass"],
        capture_output=True, text=True,
    )


@pytest.mark.parametrize(
    ("variant", "needles"),
    [
        ("aes", ["MAC: sha256", "PBES2, PBKDF2, AES-256-CBC", "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC"]),
        ("3des", ["MAC: sha1", "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC",
                  "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC"]),
        ("legacy-rc2", ["MAC: sha1", "PKCS7 Encrypted data: pbeWithSHA1And40BitRC2-CBC",
                        "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC"]),
        ("nokey", ["PKCS7 Encrypted data: PBES2"]),
    ],
)
def test_p12_algorithms_per_openssl(p12_variants: dict[str, Path], variant: str, needles: list[str]) -> None:
    info = _p12_info(p12_variants[variant], "-legacy")
    assert info.returncode == 0, info.stderr
    for needle in needles:
        assert needle in info.stdout + info.stderr, (variant, needle)
    if variant == "nokey":
        assert "Shrouded Keybag" not in info.stdout + info.stderr


def test_openssl_cli_reads_rc2_only_with_legacy(p12_variants: dict[str, Path]) -> None:
    info = _p12_info(p12_variants["legacy-rc2"])
    assert info.returncode != 0 and "RC2-40-CBC" in info.stderr


@pytest.mark.parametrize("variant", ["aes", "3des", "legacy-rc2"])
def test_cryptography_loads_key_cert_chain(pki: Pki, p12_variants: dict[str, Path], variant: str) -> None:
    p12 = pkcs12.load_pkcs12(p12_variants[variant].read_bytes(), b"test-pass")
    assert p12.key is not None and p12.key.public_key() == pki["bob"].key.public_key()
    assert p12.cert is not None and p12.cert.certificate == pki["bob"].cert
    assert p12.cert.friendly_name == b"bob"
    assert [c.certificate for c in p12.additional_certs] == [pki.inter.cert, pki.root.cert]
    with pytest.raises(ValueError, match="^Invalid password or PKCS12 data$"):
        pkcs12.load_pkcs12(p12_variants[variant].read_bytes(), b"wrong")


def test_cryptography_rc2_needs_its_legacy_provider(p12_variants: dict[str, Path]) -> None:
    """cryptography's bundled OpenSSL loads the legacy provider itself; switched off, RC2 fails."""
    from cryptography.hazmat.bindings._rust import openssl as rust_openssl

    assert rust_openssl._legacy_provider_loaded is True
    code = (
        "import sys; from cryptography.hazmat.primitives.serialization import pkcs12\n"
        "for p in sys.argv[1:]:\n"
        "    try: pkcs12.load_pkcs12(open(p, 'rb').read(), b'test-pass'); print('ok')\n"
        "    except ValueError as e: print('ValueError:', e)\n"
    )
    env = {**os.environ, "CRYPTOGRAPHY_OPENSSL_NO_LEGACY": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(p12_variants["3des"]), str(p12_variants["legacy-rc2"])],
        capture_output=True, text=True, env=env, check=True,
    ).stdout.splitlines()
    assert out == ["ok", "ValueError: Invalid password or PKCS12 data"]


def test_cryptography_on_certs_only_p12(pki: Pki, p12_variants: dict[str, Path]) -> None:
    """-nokeys: no key, and ``cert`` is None too -- the leaf lands in additional_certs."""
    p12 = pkcs12.load_pkcs12(p12_variants["nokey"].read_bytes(), b"test-pass")
    assert p12.key is None and p12.cert is None
    assert [c.certificate for c in p12.additional_certs] == [pki["bob"].cert, pki.inter.cert, pki.root.cert]


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ("truncated", "Could not deserialize PKCS12 data"),
        ("garbage", "Could not deserialize PKCS12 data"),
        ("corrupted", "Invalid password or PKCS12 data"),  # MAC check fails, like a wrong password
    ],
)
def test_cryptography_rejects_broken_p12(p12_variants: dict[str, Path], variant: str, message: str) -> None:
    data = p12_variants[variant].read_bytes()
    for password in (b"test-pass", None):
        with pytest.raises(ValueError, match=f"^{message}$"):
            pkcs12.load_pkcs12(data, password)
    assert _p12_info(p12_variants[variant], "-legacy").returncode != 0


def test_pem_key_and_cert(pki: Pki, p12_variants: dict[str, Path]) -> None:
    text = p12_variants["pem-key"].read_text()
    assert text.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    key = load_pem_private_key(text.encode(), b"test-pass")
    assert key.public_key() == pki["bob"].key.public_key()
    with pytest.raises(TypeError, match="Password was not given but private key is encrypted"):
        load_pem_private_key(text.encode(), None)
    with pytest.raises(ValueError):
        load_pem_private_key(text.encode(), b"wrong")
    certs = x509.load_pem_x509_certificates(p12_variants["pem-cert"].read_bytes())
    assert certs == [pki["bob"].cert, pki.inter.cert, pki.root.cert]
