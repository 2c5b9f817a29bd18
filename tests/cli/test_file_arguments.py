"""Every file argument of the CLI refuses what is not an ordinary file (issue 9).

/dev/zero (never ends: 24 GB RSS was seen), a FIFO with no writer (open() blocks for ever), a
folder and a listening socket are given to each option that names a file. The hang-prone ones
(/dev/zero, FIFO) run the real ``smimehelper`` process under a timeout, so a regression fails
instead of hanging; folders and sockets run in-process. Each must exit 2 with one plain error
that names the path, and write nothing.

Outputs that are no files (-o a FIFO, a device): tests/cli/test_compose_faults.py and below.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from smimehelper import services
from smimehelper.cli.main import main
from tests.console import console_script
from tests.core.handoff.test_queue import make_profile
from tests.pki.make_pki import REFERENCE_NOW, Pki

TIMEOUT = 30


@pytest.fixture(scope="module")
def world(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A data folder with alice imported and an account, a good message, and the bad 'files'."""
    base = tmp_path_factory.mktemp("file-args")
    home = base / "home"
    password = base / "password.txt"
    password.write_text("secret\n")
    previous, clock = keyring.get_keyring(), services.clock
    keyring.set_keyring(keyring.backends.fail.Keyring())  # as everywhere in the suite: no OS keyring
    services.clock = lambda: REFERENCE_NOW  # type: ignore[assignment]  # the PKI's time
    try:
        assert main(["--home", str(home), "identity", "import", str(pki["alice"].p12), "--passphrase-file", str(pki.passphrase_file)]) == 0
        assert main(["--home", str(home), "contacts", "import", str(pki["bob"].cert_pem)]) == 0
        assert main(["--home", str(home), "trust", "add", str(pki.root.cert_pem)]) == 0
        assert main(["--home", str(home), "account", "add", "--email", "alice@example.org", "--smtp-host", "127.0.0.1",
                     "--smtp-port", "9", "--security", "tls"]) == 0
        message = base / "good.eml"
        assert main(["--home", str(home), "compose", "--to", "bob@example.org", "--subject", "s", "--body", "b",
                     "--passphrase-file", str(pki.passphrase_file), "-o", str(message)]) == 0
    finally:
        keyring.set_keyring(previous)
        services.clock = clock  # type: ignore[assignment]
    fifo = base / "pipe"
    os.mkfifo(fifo)
    folder = base / "folder"
    folder.mkdir()
    sock_path = base / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    server.listen(1)
    try:
        yield {"profile": make_profile(base).path, "home": home, "password": password, "message": message, "fifo": fifo, "folder": folder,
               "socket": sock_path, "zero": Path("/dev/zero"), "out": base / "out"}
    finally:
        server.close()


def _argv(pki: Pki, w: dict[str, Path], case: str, bad: Path) -> list[str]:
    """The command line of ``case`` with ``bad`` where the file under test goes."""
    p12, pw, bob = str(pki["alice"].p12), str(pki.passphrase_file), str(pki["bob"].cert_pem)
    out = str(w["out"] / f"{case}.eml")
    compose = ["compose", "--to", "bob@example.org", "--subject", "s", "-o", out]
    b = str(bad)
    table: dict[str, list[str]] = {
        "compose --body-file": [*compose, "--body-file", b, "--sign-key", p12, "--passphrase-file", pw, "--recipient-cert", bob],
        "compose --attach": [*compose, "--body", "x", "--attach", b, "--sign-key", p12, "--passphrase-file", pw, "--recipient-cert", bob],
        "compose --sign-key": [*compose, "--body", "x", "--sign-key", b, "--passphrase-file", pw, "--recipient-cert", bob],
        "compose --passphrase-file": [*compose, "--body", "x", "--sign-key", p12, "--passphrase-file", b, "--recipient-cert", bob],
        "compose --recipient-cert": [*compose, "--body", "x", "--sign-key", p12, "--passphrase-file", pw, "--recipient-cert", b],
        "identity import": ["identity", "import", b, "--passphrase-file", pw],
        "identity import --cert": ["identity", "import", str(pki["bob"].key_path), "--cert", b, "--passphrase-file", pw],
        "identity import --passphrase-file": ["identity", "import", p12, "--passphrase-file", b],
        "identity new --passphrase-file": ["identity", "new", "--email", "z@example.org", "--name", "Z", "--ec", "--passphrase-file", b],
        "identity import-cert": ["identity", "import-cert", b],
        "contacts import": ["contacts", "import", b],
        "trust add": ["trust", "add", b],
        "account add --password-file": ["account", "add", "--email", "q@example.org", "--smtp-host", "h.example", "--password-file", b],
        "account add --cafile": ["account", "add", "--email", "q@example.org", "--smtp-host", "h.example", "--cafile", b],
        "send": ["send", b],
        "send --password-file": ["send", str(w["message"]), "--password-file", b],
        "export": ["export", b, "--thunderbird-profile", str(w["profile"]), "--no-start"],
        "open": ["open", b, "--passphrase-file", pw],
        "open --key": ["open", str(w["message"]), "--key", b, "--passphrase-file", pw],
        "open --passphrase-file": ["open", str(w["message"]), "--key", p12, "--passphrase-file", b],
        "open --trust": ["open", str(w["message"]), "--trust", b, "--passphrase-file", pw],
        "package --body-file": ["package", "--to", "x@example.org", "--subject", "s", "--body-file", b, "-o", out],
        "package --attach": ["package", "--to", "x@example.org", "--subject", "s", "--body", "x", "--attach", b, "-o", out],
        "package --passphrase-file": ["package", "--to", "x@example.org", "--subject", "s", "--body", "x", "--passphrase-file", b, "-o", out],
    }
    return ["--home", str(w["home"]), *table[case]]


CASES = [
    "compose --body-file", "compose --attach", "compose --sign-key", "compose --passphrase-file",
    "compose --recipient-cert", "identity import", "identity import --cert", "identity import --passphrase-file",
    "identity new --passphrase-file", "identity import-cert", "contacts import", "trust add",
    "account add --password-file", "account add --cafile", "send", "send --password-file", "export", "open",
    "open --key", "open --passphrase-file", "open --trust",
    "package --body-file", "package --attach", "package --passphrase-file",
]
EXPECTED = {"zero": "is a device", "fifo": "is a named pipe (FIFO)", "folder": "is a folder", "socket": "socket"}


def _check(code: int, err: str, bad: Path, kind: str, w: dict[str, Path], case: str) -> None:
    if case == "send --password-file":  # queued first: "Not sent: ... It waits in the outbox." (exit 4)
        assert code == 4, f"{case} with {kind}: exit {code}; output: {err}"
        assert "It waits in the outbox" in err
        code = 2
    assert code == 2, f"{case} with {kind}: exit {code}; stderr: {err}"
    assert "Traceback" not in err and "Something went wrong" not in err, err
    assert str(bad) in err and EXPECTED[kind] in err, err
    assert not (w["out"] / f"{case}.eml").exists()


@pytest.mark.parametrize("kind", ["zero", "fifo"])
@pytest.mark.parametrize("case", CASES)
def test_never_ending_inputs_are_refused_by_the_real_process(pki: Pki, world: dict[str, Path], case: str, kind: str) -> None:
    bad = world[kind]
    try:
        done = subprocess.run([str(console_script()), *_argv(pki, world, case, bad)], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case} with {bad} did not finish within {TIMEOUT} s: it hangs or reads for ever")
    _check(done.returncode, done.stderr + done.stdout, bad, kind, world, case)


@pytest.mark.parametrize("kind", ["folder", "socket"])
@pytest.mark.parametrize("case", CASES)
def test_folders_and_sockets_are_refused(pki: Pki, world: dict[str, Path], case: str, kind: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = world[kind]
    capsys.readouterr()
    try:
        code = main(_argv(pki, world, case, bad))
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    _check(code, captured.err + captured.out, bad, kind, world, case)


def test_public_outputs_refuse_a_fifo_without_hanging(world: dict[str, Path]) -> None:
    for argv in (["identity", "export-cert", "-o", str(world["fifo"])],
                 ["contacts", "export", "bob@example.org", "-o", str(world["fifo"])]):
        done = subprocess.run([str(console_script()), "--home", str(world["home"]), *argv], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=TIMEOUT)
        assert done.returncode == 2, done.stderr
        assert "named pipe" in done.stderr and "Traceback" not in done.stderr, done.stderr
