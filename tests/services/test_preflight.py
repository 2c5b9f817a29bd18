"""services.check_before_sending: every problem of a message, found without the passphrase."""

from __future__ import annotations

from pathlib import Path

import pytest

from smimehelper import services
from smimehelper.services.preflight import EXPIRED, NO_CERTIFICATE, NOT_AN_ADDRESS, UNTRUSTED, UNUSABLE
from tests.pki.make_pki import Pki


@pytest.fixture
def stores(pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> services.Stores:
    monkeypatch.setattr(services, "clock", lambda: pki.now)
    s = services.Stores.open(tmp_path / "home", system_trust=False)
    s.identities.import_pkcs12(pki.entity("alice").p12, lambda _p: b"test-pass")
    s.trust.add(pki.root.cert_pem)
    services.import_contacts(s, tuple(pki.entity(n).cert_pem for n in ("bob", "expired", "signonly")), None)
    return s


def test_all_problems_at_once_with_their_way_out(stores: services.Stores, pki: Pki, tmp_path: Path) -> None:
    found = services.check_before_sending(
        stores, ("bob@example.org", "Alice <alice@example.org>", "nobody@example.org", "expired@example.org",
                 "signonly@example.org", "not an address", "nobody@example.org"))
    assert [(p.address, p.kind) for p in found.recipients] == [
        ("nobody@example.org", NO_CERTIFICATE), ("expired@example.org", EXPIRED),
        ("signonly@example.org", UNUSABLE), ("not an address", NOT_AN_ADDRESS),
    ]  # bob and your own address are fine; a repeated address is named once
    assert "password package" in found.recipients[0].way_out
    assert found.size is None and not found.ok


def test_an_untrusted_authority_is_named_in_words(stores: services.Stores, pki: Pki, tmp_path: Path) -> None:
    other = services.Stores.open(tmp_path / "other", system_trust=False)  # the root not trusted here
    other.identities.import_pkcs12(pki.entity("alice").p12, lambda _p: b"test-pass")
    services.import_contacts(other, (pki.entity("bob").cert_pem,), None)
    [problem] = services.check_before_sending(other, ("bob@example.org",)).recipients
    assert problem.kind == UNTRUSTED and "smimehelper Test Intermediate CA" in problem.reason and "Trust" in problem.way_out


def test_size_against_the_limit_only_when_sending(stores: services.Stores, tmp_path: Path) -> None:
    study = tmp_path / "study.dcm"
    with open(study, "wb") as handle:
        handle.truncate(20_000_000)
    assert services.check_before_sending(stores, ("bob@example.org",), attachments=(study,)).ok  # saving: no limit
    found = services.check_before_sending(stores, ("bob@example.org",), attachments=(study,), limit=25_000_000,
                                          limit_source="your mail account alice@example.org")
    assert found.size is not None and found.size.estimated == services.estimate_message_size(20_000_000, 0, encrypt=True)
    assert "your mail account alice@example.org accepts at most 25.0 MB" in found.size.sentence()
    assert "study.dcm alone" in found.size.sentence()
    smaller = tmp_path / "smaller.dcm"
    with open(smaller, "wb") as handle:
        handle.truncate(15_000_000)
    # Encrypted, the files are base64-encoded twice (about 28 MB); signed only, once (about 21 MB).
    assert not services.check_before_sending(stores, ("bob@example.org",), attachments=(smaller,), limit=25_000_000).ok
    assert services.check_before_sending(stores, ("bob@example.org",), attachments=(smaller,), limit=25_000_000,
                                         encrypt=False).ok
