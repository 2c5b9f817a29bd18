"""The data folder full or read-only: every store change is all-or-nothing, with a clear error.

The issue: ``identity import`` into a full or read-only data folder gave a traceback (exit 3),
left orphan files and claimed "No file was left half-written". Here the data folder is a real
small file system: a 64 KB tmpfs (root only: ``mount -t tmpfs``), filled to every level that
matters, and the same tmpfs remounted read-only (chmod does not stop root). Without root or
mount permission these tests are skipped, saying so.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from smimehelper import services
from tests.cli.compose_helpers import run_main
from tests.console import console_script
from tests.memory_keyring import MemoryKeyring
from tests.pki.make_pki import REFERENCE_NOW, Pki

PAGE = 4096


class Tmpfs:
    def __init__(self, path: Path) -> None:
        self.path = path

    def remount(self, mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(self.path)], check=True, capture_output=True)

    def free(self) -> int:
        info = os.statvfs(self.path)
        return info.f_bavail * info.f_frsize

    def fill(self, leave: int) -> None:
        """Leave exactly ``leave`` bytes (a multiple of the page size) free."""
        filler = self.path / ".filler"
        filler.unlink(missing_ok=True)
        size = self.free() - leave
        if size > 0:
            with open(filler, "wb") as handle:
                handle.write(b"\0" * size)
        assert self.free() == max(leave, 0) or size <= 0

    def snapshot(self) -> dict[str, str]:
        """Every file (but the filler) with a hash of its content, and every folder."""
        found: dict[str, str] = {}
        for path in sorted(self.path.rglob("*")):
            if path.name == ".filler":
                continue
            rel = str(path.relative_to(self.path))
            found[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        return found


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Tmpfs]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mount = tmp_path / "data"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield Tmpfs(mount)
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)
        if os.path.ismount(mount):
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "clock", lambda: REFERENCE_NOW)


def _import(pki: Pki, home: Path, name: str, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    return run_main(["--home", home, "identity", "import", pki[name].p12, "--passphrase-file", pki.passphrase_file], capsys)


def _assert_store_error(result, *words: str) -> None:  # type: ignore[no-untyped-def]
    assert result.code == 2, f"exit {result.code}: {result.err}"
    err = result.err
    assert "Traceback" not in err and "half-written" not in err and "Something went wrong" not in err, err
    assert "cannot write to its data folder" in err and "Nothing was changed" in err, err
    for word in words:
        assert word in err, err


def test_identity_import_on_a_full_disk_is_all_or_nothing_at_every_level(tmpfs: Tmpfs, pki: Pki, frozen: None,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = []
    for pages in range(0, 8):
        for leftover in list(tmpfs.path.iterdir()):
            subprocess.run(["rm", "-rf", str(leftover)], check=True)
        tmpfs.fill(pages * PAGE)
        result = _import(pki, tmpfs.path, "alice", capsys)
        if result.code == 0:
            outcomes.append("ok")
            listed = run_main(["--home", tmpfs.path, "identity", "list", "--json"], capsys)
            assert listed.code == 0 and "alice@example.org" in listed.out
            names = set(tmpfs.snapshot())
            kinds = sorted(Path(n).suffix for n in names if n.startswith("identities/"))
            assert kinds == [".json", ".key"] and "settings.json" in names, names
            assert not [n for n in names if n.endswith(".part")]
        else:
            outcomes.append("refused")
            _assert_store_error(result, "Your certificate was not imported", "the disk is full")
            assert tmpfs.snapshot() == {}, f"left behind with {pages} pages free: {tmpfs.snapshot()}"
    assert "refused" in outcomes and "ok" in outcomes, outcomes  # both sides of the edge were tried


def test_full_disk_with_the_real_process(tmpfs: Tmpfs, pki: Pki) -> None:
    tmpfs.fill(PAGE)  # room for the key file, not for the rest
    done = subprocess.run([str(console_script()), "--home", str(tmpfs.path), "identity", "import", str(pki["alice"].p12),
                           "--passphrase-file", str(pki.passphrase_file)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "the disk is full" in done.stderr and "Nothing was changed" in done.stderr and "half-written" not in done.stderr
    assert tmpfs.snapshot() == {}


def test_reimport_on_a_full_disk_keeps_the_keyring_secret(tmpfs: Tmpfs, pki: Pki, frozen: None, capsys: pytest.CaptureFixture[str]) -> None:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)  # the autouse isolated_home puts the fail keyring back
    assert _import(pki, tmpfs.path, "alice", capsys).code == 0
    before_secrets, before_files = dict(backend.secrets), tmpfs.snapshot()
    tmpfs.fill(0)
    _assert_store_error(_import(pki, tmpfs.path, "alice", capsys), "the disk is full")
    assert backend.secrets == before_secrets and tmpfs.snapshot() == before_files
    (tmpfs.path / ".filler").unlink()
    stores = services.Stores.open(tmpfs.path)
    stored = stores.identities.get(None)
    assert stores.identities.locked(stored, None).unlocked().key is not None  # still opens with the old secret


def test_other_store_changes_on_a_full_disk(tmpfs: Tmpfs, pki: Pki, frozen: None, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmpfs.path
    assert run_main(["--home", home, "trust", "add", pki.root.cert_pem], capsys).code == 0
    before = tmpfs.snapshot()
    tmpfs.fill(0)
    cases = [
        ["contacts", "import", pki["bob"].cert_pem, pki["carol"].cert_pem],
        ["trust", "add", pki.inter.cert_pem],
        ["account", "add", "--email", "alice@example.org", "--smtp-host", "smtp.example.org"],
        ["trust", "revocation", "strict"],
    ]
    for argv in cases:
        _assert_store_error(run_main(["--home", home, *argv], capsys), "the disk is full")
        assert tmpfs.snapshot() == before, argv


def test_read_only_data_folder(tmpfs: Tmpfs, pki: Pki, frozen: None, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmpfs.path
    assert _import(pki, home, "alice", capsys).code == 0
    assert run_main(["--home", home, "trust", "add", pki.root.cert_pem], capsys).code == 0
    before = tmpfs.snapshot()
    tmpfs.remount("ro")
    try:
        cases = [
            ["identity", "import", pki["frank"].p12, "--passphrase-file", pki.passphrase_file],
            ["identity", "remove", "alice@example.org"],
            ["contacts", "import", pki["bob"].cert_pem],
            ["trust", "add", pki.inter.cert_pem],
            ["account", "add", "--email", "alice@example.org", "--smtp-host", "smtp.example.org"],
        ]
        for argv in cases:
            _assert_store_error(run_main(["--home", home, *argv], capsys), "read-only")
        assert tmpfs.snapshot() == before
        listed = run_main(["--home", home, "identity", "list"], capsys)  # reading still works
        assert listed.code == 0 and "alice@example.org" in listed.out
    finally:
        tmpfs.remount("rw")
