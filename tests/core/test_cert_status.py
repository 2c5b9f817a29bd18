"""Certificate status against a real CRL server and the real ``openssl ocsp`` responder on
127.0.0.1 (tests/pki/revocation.py), validated at a frozen moment."""

from __future__ import annotations

import pytest

from smimehelper.core.cert_status import Status, certificate_status
from smimehelper.core.validation import Purpose
from tests.pki.revocation import RevocationPki


def _status(rp: RevocationPki, name: str, purpose: Purpose = Purpose.ENCRYPT, *, strict: bool = False, anchors=None, fetch: bool = True):
    pki = rp.pki
    return certificate_status(
        pki.entity(name).cert,
        purpose,
        rp.moment,
        [pki.root.cert] if anchors is None else anchors,
        [pki.inter.cert],
        fetch=fetch,
        strict_revocation=strict,
    )


@pytest.mark.parametrize(
    ("name", "purpose", "expected"),
    [
        ("bob", Purpose.ENCRYPT, Status.VALID),
        ("carol", Purpose.ENCRYPT, Status.VALID),
        ("alice", Purpose.SIGN, Status.VALID),
        ("norev", Purpose.ENCRYPT, Status.VALID),
        ("revoked", Purpose.ENCRYPT, Status.REVOKED),
        ("offline", Purpose.ENCRYPT, Status.REVOCATION_UNKNOWN),
        ("expired", Purpose.ENCRYPT, Status.EXPIRED),
        ("notyet", Purpose.ENCRYPT, Status.NOT_YET_VALID),
        ("signonly", Purpose.ENCRYPT, Status.WRONG_USAGE),
        ("wrongeku", Purpose.ENCRYPT, Status.WRONG_USAGE),
        ("noemail", Purpose.ENCRYPT, Status.NO_EMAIL),
        ("weak", Purpose.ENCRYPT, Status.WEAK_KEY),
    ],
)
def test_status_of_each_kind(revocation_pki: RevocationPki, name: str, purpose: Purpose, expected: Status) -> None:
    revocation_pki.check_clock()
    status = _status(revocation_pki, name, purpose)
    assert status.status is expected, status.reason
    assert (status.reason is None) == (expected is Status.VALID)


def test_revoked_reason_is_plain(revocation_pki: RevocationPki) -> None:
    status = _status(revocation_pki, "revoked")
    assert "revoked by its authority" in (status.reason or "")
    assert not status.usable() and not status.usable(strict_revocation=True)


def test_revocation_is_really_fetched(revocation_pki: RevocationPki) -> None:
    """pyhanko asks the OCSP responder first (and the root's CRL for the intermediate)."""
    revocation_pki.crl_server.clear_requests()
    before = len(revocation_pki.ocsp.request_lines())
    assert _status(revocation_pki, "bob").status is Status.VALID
    assert len(revocation_pki.ocsp.request_lines()) > before
    assert revocation_pki.crl_server.count("/root.crl") > 0
    offline = _status(revocation_pki, "bob", fetch=False)
    assert offline.status is Status.REVOCATION_UNKNOWN and "not checked" in (offline.reason or "")
    assert _status(revocation_pki, "norev", fetch=False).status is Status.VALID  # nothing to check


def test_offline_is_reported_and_fatal_only_when_strict(revocation_pki: RevocationPki) -> None:
    soft = _status(revocation_pki, "offline")
    assert soft.status is Status.REVOCATION_UNKNOWN and soft.usable() and not soft.usable(strict_revocation=True)
    assert "could not be checked" in (soft.reason or "")
    strict = _status(revocation_pki, "offline", strict=True)
    assert strict.status is Status.REVOCATION_UNKNOWN and not strict.usable(strict_revocation=True)


def test_untrusted_issuer(revocation_pki: RevocationPki) -> None:
    status = _status(revocation_pki, "bob", anchors=[revocation_pki.pki.entity("alice").cert])
    assert status.status is Status.UNTRUSTED_ISSUER
    assert "not among your trusted authorities" in (status.reason or "")
    assert _status(revocation_pki, "bob", anchors=[]).status is Status.UNTRUSTED_ISSUER
