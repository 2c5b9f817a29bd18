"""Shared fixtures: one generated test PKI per session and NSS databases per identity.

The OpenSSL and NSS command-line tools are hard requirements (they are the
independent judges of interoperability), so a missing tool stops the whole run
with the apt package names instead of skipping tests silently.
"""

from __future__ import annotations

import pytest

from tests.judges import JudgeError, NssDb, NssDbFactory, require_tools
from tests.pki.make_pki import Pki, build_pki


def pytest_sessionstart(session: pytest.Session) -> None:
    """Fail fast (exit status 4) when openssl/certutil/pk12util/cmsutil are absent."""
    try:
        require_tools()
    except JudgeError as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own data folder and no OS keyring: a developer's real certificates,
    contacts and keyring are never read or written by the suite (subprocesses inherit both)."""
    import keyring
    import keyring.backends.fail

    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("SMIMEHELPER_HOME", str(home))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield home
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def gui_thread_collector(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests with a QApplication collect garbage as the app does: on the GUI thread only
    (smimehelper/gui/collector.py). Set up before and torn down after the test's own fixtures,
    so what a test's widgets left is collected here, on the GUI thread, once its tasks are done."""
    if "qapp" not in request.fixturenames:
        yield
        return
    qapp = request.getfixturevalue("qapp")
    from smimehelper.gui.collector import GuiThreadCollector

    collector = GuiThreadCollector(qapp)
    yield
    collector.stop()
    collector.setParent(None)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The test PKI, built once per session at ``REFERENCE_NOW`` (see make_pki)."""
    return build_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def nss_db_factory(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> NssDbFactory:
    """Make (and cache per session) NSS databases like a Thunderbird profile.

    Each trusts the test root, knows the intermediate and, if ``name`` is given,
    holds that entity's key from its .p12. ``with_crl=True`` also imports
    inter.crl so revoked signers are rejected. Databases are shared between
    tests: do not add to them; ask for another variant instead.
    """
    cache: dict[tuple[str | None, bool], NssDb] = {}

    def make(name: str | None = None, *, with_crl: bool = False) -> NssDb:
        key = (name, with_crl)
        if key not in cache:
            label = f"nss-{name or 'anchors'}{'-crl' if with_crl else ''}"
            db = NssDb.create(
                tmp_path_factory.mktemp(label),
                roots=[pki.root.cert_pem],
                intermediates=[pki.inter.cert_pem],
                p12=None if name is None else pki.entity(name).p12,
                p12_password=pki.p12_password,
            )
            if with_crl:
                db.import_crl(pki.crl_der)
            cache[key] = db
        return cache[key]

    return make


# --------------------------------------------------------------------------- revocation
# Appended for certificate validation with revocation checking (see
# tests/pki/revocation.py for the servers and the time behaviour).

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

from tests.pki.revocation import RevocationPki, make_p12_variants, start_revocation_pki  # noqa: E402


@pytest.fixture(scope="session")
def revocation_pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RevocationPki]:
    """A PKI whose certificates point at real servers on 127.0.0.1, servers running.

    ``.pki`` is built around the real time at fixture start (not REFERENCE_NOW:
    ``openssl ocsp`` answers at real time); validate at ``.moment`` (= pki.now +
    1 h) with ``allow_fetching=True``. ``.crl_server`` serves inter.crl,
    root.crl, inter.cer, root.cer and records requests; ``.ocsp`` is ``openssl
    ocsp`` (delegated signer ``ocspsigner``, nextUpdate = +1 day). Entities: the
    classic ones plus ``norev`` (no revocation info) and ``offline`` (URLs on a
    port that refuses connections). ``revoked`` is on the CRL and revoked in
    OCSP. Shared by the whole session: use ``crl_server.override`` only with
    ``reset_overrides()`` in a ``finally``. Stopped at session end.
    """
    rp = start_revocation_pki(tmp_path_factory.mktemp("revocation-pki"))
    try:
        yield rp
    finally:
        rp.stop()


@pytest.fixture(scope="session")
def p12_variants(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``make_p12_variants(pki, ...)`` for ``bob`` of the classic PKI (password test-pass).

    Keys: aes, 3des, legacy-rc2, nokey, truncated, corrupted, garbage, pem-key, pem-cert.
    """
    return make_p12_variants(pki, tmp_path_factory.mktemp("p12-variants"))


# --------------------------------------------------------------------------- a practice's own authority
from tests.practice_pki import PracticePki, make_practice_pki  # noqa: E402


@pytest.fixture(scope="session")
def practice(tmp_path_factory: pytest.TempPathFactory) -> PracticePki:
    """Smith Practice CA, Dr Sam Smith and the user Dr Dana Dentist, made by the OpenSSL CLI
    with the real clock (see tests/practice_pki.py)."""
    return make_practice_pki(tmp_path_factory.mktemp("practice"))
