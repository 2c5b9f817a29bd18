#!/usr/bin/env python3
"""Benchmark: ``smimehelper compose`` as a user runs it, against OpenSSL's sign + encrypt.

compose_vs_openssl.py times the library call in a bare interpreter. A user runs the command
line with a data folder: the identity's key is unlocked (PBKDF2, 600,000 iterations), each
recipient's certificate is checked (chain to the trusted root and revocation, which with no
network is "unknown"), the message is composed, and the disclosure log remembers what was sent
(the attachment's SHA-256). This script sets up such a data folder (alice's identity protected
by a passphrase file, the test root trusted, bob as a contact) and times, in the same run:

    smimehelper compose --to bob@example.org --attach study.bin --passphrase-file ... -o out.eml
    openssl cms -sign ... then openssl cms -encrypt ...   (exactly as compose_vs_openssl.py)

It prints the whole-process ratio (median of --repeat runs, with the spread) and, from one more
run inside this process with the steps timed, where the command's time goes. There is no target
for this figure; it shows what the command does besides composing.

Run from the repository root:  python benchmarks/compose_cli.py [--mib 100] [--repeat 5]
Exit code: 0 when the report was printed, 2 on any error (including a message that does not
decrypt and verify).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
for entry in (REPO, HERE):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from compose_vs_openssl import run_openssl, write_mime_part  # noqa: E402
from measure import MIB, BenchError, Launcher, load_average, make_pki, write_random  # noqa: E402

PASSPHRASE = "test-pass"


def command() -> list[str]:
    """The console script of this environment (never one found on PATH), else ``-m``."""
    script = Path(sys.executable).parent / "smimehelper"
    return [str(script)] if script.exists() else [sys.executable, "-m", "smimehelper.cli.main"]


def setup_home(pki_dir: Path, home: Path, passfile: Path) -> None:
    env = dict(os.environ, SMIMEHELPER_HOME=str(home))
    for args in (
        ["identity", "import", str(pki_dir / "alice.p12"), "--passphrase-file", str(passfile)],
        ["trust", "add", str(pki_dir / "root.cert.pem")],
        ["contacts", "import", str(pki_dir / "bob.cert.pem")],
    ):
        done = subprocess.run([*command(), *args], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchError(f"smimehelper {' '.join(args[:2])} failed: {done.stderr.strip()}")


def check_message(message: Path, pki, attachment: Path) -> None:  # type: ignore[no-untyped-def]
    """OpenSSL decrypts it as bob and verifies the signature to the root; the attachment in it is
    the file, byte for byte."""
    import email
    import email.policy
    import hashlib

    decrypt = subprocess.run(
        ["openssl", "cms", "-decrypt", "-binary", "-recip", str(pki.cert("bob")), "-inkey", str(pki.key("bob")),
         "-in", str(message)], capture_output=True,
    )
    verify = subprocess.run(
        ["openssl", "cms", "-verify", "-CAfile", str(pki.cert("root")), "-attime", str(pki.now_epoch),
         "-purpose", "smimesign", "-binary", "-crlfeol"], input=decrypt.stdout, capture_output=True,
    )
    if decrypt.returncode != 0 or verify.returncode != 0:
        raise BenchError(f"VERIFICATION FAILED: {decrypt.stderr.decode(errors='replace')}{verify.stderr.decode(errors='replace')}")
    content = email.message_from_bytes(verify.stdout, policy=email.policy.default)
    files = [p.get_payload(decode=True) for p in content.walk() if p.get_filename() == attachment.name]
    want = hashlib.sha256(attachment.read_bytes()).digest()
    if len(files) != 1 or hashlib.sha256(files[0]).digest() != want:
        raise BenchError("VERIFICATION FAILED: the attachment in the message is not the file")


def compose_args(attachment: Path, passfile: Path, out: Path) -> list[str]:
    return ["compose", "--to", "bob@example.org", "--subject", "Benchmark", "--body", "Dear colleague,",
            "--attach", str(attachment), "--passphrase-file", str(passfile), "-o", str(out)]


def breakdown(attachment: Path, passfile: Path, out: Path, home: Path) -> list[tuple[str, float]]:
    """One run of the command's main() in this process with its steps timed (imports too, if
    smimehelper was not imported here yet: it is, so they are timed separately, below)."""
    steps: list[tuple[str, float]] = []

    def timed(module: str, attribute: str, label: str) -> None:
        owner = importlib.import_module(module)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                steps.append((label, time.perf_counter() - start))

        setattr(owner, name, wrapper)

    from smimehelper.cli import main as cli

    timed("smimehelper.core.identity_store", "LockedIdentity.unlocked", "unlock the key (PBKDF2, 600,000 rounds)")
    timed("smimehelper.services.compose", "certificate_status", "recipient certificate status")
    timed("smimehelper.services.compose", "compose_to_file", "compose_to_file (the library call)")
    timed("smimehelper.services.disclosure", "remember_composed", "disclosure log (hashes the attachment)")
    os.environ["SMIMEHELPER_HOME"] = str(home)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = cli.main(compose_args(attachment, passfile, out))
    total = time.perf_counter() - start
    if code != 0:
        raise BenchError(f"smimehelper compose (in process) exited {code}")
    merged: dict[str, float] = {}
    for label, seconds in steps:
        merged[label] = merged.get(label, 0.0) + seconds
    rows = list(merged.items())
    rows.append(("everything else in main() (stores, checks, output)", total - sum(merged.values())))
    return rows


IMPORT_PROBE = (
    "import time; t = time.perf_counter()\n"
    "import smimehelper.cli.main, smimehelper.cli.compose_cmd, smimehelper.services.compose, "
    "smimehelper.services.stores, smimehelper.services.disclosure\n"
    "a = time.perf_counter()\n"
    "import pyhanko_certvalidator.fetchers.aiohttp_fetchers\n"
    "b = time.perf_counter()\n"
    "import numpy\n"
    "print(a - t, b - a, time.perf_counter() - b)\n"
)


def import_times() -> tuple[float, float, float]:
    """Best of three fresh interpreters: the compose command's modules, then the revocation
    fetcher (aiohttp) and numpy that it loads on the way."""
    best = None
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=True)
        times = tuple(float(x) for x in done.stdout.split())
        best = times if best is None else tuple(min(x, y) for x, y in zip(best, times))
    assert best is not None
    return best  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=100, help="attachment size in MiB (default 100)")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the median is reported (default 5)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the temporary directory is made")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.mib < 1:
        parser.error("--repeat and --mib must be at least 1")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    load_before = load_average()
    workdir = Path(tempfile.mkdtemp(prefix="smimehelper-bench-cli-", dir=args.workdir))
    try:
        launcher = Launcher(workdir)
        pki = make_pki(workdir / "pki")
        home = workdir / "home"
        passfile = workdir / "passphrase.txt"
        passfile.write_text(PASSPHRASE)
        setup_home(pki.dir, home, passfile)
        attachment = workdir / "study.bin"
        part, signed, enc, out = (workdir / n for n in ("part.mime", "signed.eml", "enc.eml", "out.eml"))
        log(f"[{args.mib} MiB] writing the attachment; data folder {home}")
        write_random(attachment, args.mib * MIB)
        write_mime_part(attachment, part)
        env_cmd = ["env", f"SMIMEHELPER_HOME={home}", *command()]
        ours, theirs = [], []
        for i in range(args.repeat):
            for first in ((True, False) if i % 2 == 0 else (False, True)):
                os.sync()
                if first:
                    out.unlink(missing_ok=True)
                    run = launcher.run([*env_cmd, *compose_args(attachment, passfile, out)])
                    if run.returncode != 0:
                        raise BenchError(f"smimehelper compose failed: {run.stderr.decode(errors='replace')[-2000:]}")
                    ours.append(run.wall)
                else:
                    sign, encrypt = run_openssl(launcher, pki, part, signed, enc)
                    theirs.append(sign.wall + encrypt.wall)
                    signed.unlink(missing_ok=True)
            log(f"[{args.mib} MiB] run {i + 1}/{args.repeat}: smimehelper compose {ours[-1]:.2f} s, "
                f"openssl sign + encrypt {theirs[-1]:.2f} s, ratio {ours[-1] / theirs[-1]:.2f}")
        log(f"[{args.mib} MiB] sanity check: decrypt as bob + openssl cms -verify ...")
        check_message(out, pki, attachment)
        rows = breakdown(attachment, passfile, out, home)
        modules, fetcher, numpy_s = import_times()
    except BenchError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ratios = [o / t for o, t in zip(ours, theirs)]
    print()
    print(f"{args.mib} MiB: smimehelper compose (CLI, whole process) {statistics.median(ours):.2f} s, "
          f"openssl sign + encrypt {statistics.median(theirs):.2f} s: ratio {statistics.median(ratios):.2f} "
          f"(runs {min(ratios):.2f}-{max(ratios):.2f}, {args.repeat} runs; no target, see the doc string)")
    print("where the command's time goes (one run in this process, imports done before):")
    for label, seconds in rows:
        print(f"  {seconds:6.3f} s  {label}")
    print(f"imports in a fresh interpreter (best of 3): the command's modules {modules:.3f} s, the "
          f"revocation fetcher (aiohttp) {fetcher:.3f} s, numpy {numpy_s:.3f} s")
    print(f"load average (1 min) {load_before} at the start, {load_average()} at the end, on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
