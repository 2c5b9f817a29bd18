#!/usr/bin/env python3
"""Benchmark: a 300 MB message fetched from a real IMAP server and opened, against `openssl cms -decrypt`.

A random attachment (160 MiB by default, so the message is about 300 MB) is signed by alice and
encrypted to bob and alice by smimehelper's compose, outside any timing, and stored in a real
Dovecot (tests/transport/servers.py; STARTTLS, verified certificate) started by this script. Then,
in the same run:

    ours     smimehelper inbox open UID --key bob.p12 ... --trust root --json   (a whole process:
             log in, partial FETCH in 4 MB chunks straight into the streaming reader, decrypt,
             verify, check the chain, decode and hash the attachment, mark the message read)
    openssl  openssl cms -decrypt -in msg.eml -recip bob.cert.pem -inkey bob.key.pem -out dec.eml
             on the same bytes, already on the local disk (decryption only, no fetch)

It prints both wall times, their ratio (ours / openssl, whole processes) and both peak RSS values.
Target (from the issue): our peak RSS under 150 MB. The result of every run is checked
(decrypted; one valid, trusted signature by alice; the attachment's SHA-256): a wrong result is
an error (exit code 2), not a slow sample.

Run from the repository root, as root or as a user allowed to run Dovecot:
    python benchmarks/inbox_open.py [--attachment-mib 160] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
for folder in (REPO, HERE):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from measure import MB, MIB, BenchError, Launcher, Run, make_pki, remove, write_random  # noqa: E402
from open_vs_openssl import make_message, run_openssl_decrypt, sha256_file  # noqa: E402

TARGET_RSS_MB = 150.0
PASSWORD = "imap-pass"

# Our side in a fresh interpreter: the CLI's own main(), timed around the call (set-up excluded)
# and as a whole process by the launcher.
_OURS = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from smimehelper.cli.main import main
t1 = time.perf_counter()
code = main(sys.argv[2:])
sys.stderr.write("\nBENCH " + json.dumps({"call_s": time.perf_counter() - t1, "import_s": t1 - t0}) + "\n")
sys.exit(code)
"""


# The fetch alone (same code path, bytes thrown away): how much of our time the server's sending takes.
_FETCH = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from smimehelper.core.transport import imap
from smimehelper.core.transport.accounts import make_account
from smimehelper.core.transport.imap_fetch import Mailbox, MessageRef
host, port, cafile, user, password, uid = sys.argv[2:]
account = make_account(user, smtp_host="127.0.0.1", imap_host=host, imap_port=int(port), imap_security="starttls", cafile=cafile)
t0, c0 = time.perf_counter(), time.process_time()
with Mailbox(lambda: imap.connect(account, password.encode())) as mailbox:
    located = mailbox.locate(MessageRef("INBOX", int(uid)))
    mailbox.fetch_into(located, lambda data: None)
print(json.dumps({"fetch_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}))
"""


@dataclass
class Sample:
    ours_process: float
    ours_call: float
    ours_rss_kib: int
    openssl: float
    openssl_rss_kib: int
    fetch: float
    fetch_cpu: float


def run_fetch_only(launcher: Launcher, dovecot, uid: int) -> dict:  # type: ignore[no-untyped-def]
    run = launcher.run([sys.executable, "-c", _FETCH, str(REPO), dovecot.host, str(dovecot.port), str(dovecot.cafile),
                        dovecot.user, PASSWORD, str(uid)])
    if run.returncode != 0:
        raise BenchError(f"the fetch alone failed:\n{run.stderr.decode(errors='replace')[-3000:]}")
    return json.loads(run.stdout)


def smimehelper_cli(home: Path, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "smimehelper.cli.main", *args], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, SMIMEHELPER_HOME=str(home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring"))
    if proc.returncode != 0:
        raise BenchError(f"smimehelper {' '.join(args[:2])} failed: {proc.stderr}")


def run_ours(launcher: Launcher, home: Path, uid: int, pki, password: Path, workdir: Path) -> tuple[Run, dict, dict]:  # type: ignore[no-untyped-def]
    saved = {k: os.environ.get(k) for k in ("SMIMEHELPER_HOME", "PYTHON_KEYRING_BACKEND", "TMPDIR")}
    os.environ.update(SMIMEHELPER_HOME=str(home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring", TMPDIR=str(workdir))
    try:
        run = launcher.run([sys.executable, "-c", _OURS, str(REPO), "inbox", "open", str(uid), "--password-file", str(password),
                            "--key", str(pki.p12("bob")), "--passphrase-file", str(pki.dir / "passphrase.txt"),
                            "--trust", str(pki.cert("root")), "--json"])
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    stderr = run.stderr.decode(errors="replace")
    if run.returncode != 0 or "BENCH " not in stderr:
        raise BenchError(f"smimehelper inbox open failed (exit {run.returncode}):\n{stderr[-3000:]}")
    return run, json.loads(run.stdout), json.loads(stderr.rsplit("BENCH ", 1)[1].splitlines()[0])


def check_ours(result: dict, sha256: str, size: int) -> None:
    problems = []
    if not result["decrypted"]:
        problems.append("not decrypted")
    if [(s["valid"], s["trusted"], s["signer_email"]) for s in result["signatures"]] != [(True, True, "alice@example.org")]:
        problems.append(f"signatures {result['signatures']}")
    if [(a["size"], a["sha256"]) for a in result["attachments"]] != [(size, sha256)]:
        problems.append(f"attachments {result['attachments']}")
    if problems:
        raise BenchError("smimehelper opened the message WRONGLY: " + "; ".join(problems))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attachment-mib", type=int, default=160, help="attachment size in MiB (default 160: a 300 MB message)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; medians are reported (default 3)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the temporary directory is made")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.attachment_mib < 1:
        parser.error("--repeat and --attachment-mib must be at least 1")

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    workdir: Path | None = None
    dovecot = None
    samples: list[Sample] = []
    try:
        from tests.transport.inbox_helpers import append_file, uids
        from tests.transport.servers import DovecotServer, make_tls_materials

        workdir = Path(tempfile.mkdtemp(prefix="smimehelper-bench-inbox-", dir=args.workdir))
        size = args.attachment_mib * MIB
        if shutil.disk_usage(workdir).free < size * 12:
            raise BenchError(f"about {size * 12 / 1e9:.1f} GB of free disk are needed in {workdir}")
        launcher = Launcher(workdir)
        log(f"peak RSS via {launcher.description}; work dir {workdir}")
        pki = make_pki(workdir / "pki")
        attachment, message = workdir / "study.bin", workdir / "msg.eml"
        log(f"composing a message with a {args.attachment_mib} MiB attachment (not timed) ...")
        write_random(attachment, size)
        study_sha256 = sha256_file(attachment)
        message_size = make_message(pki, attachment, message)
        remove(attachment)
        dovecot = DovecotServer(make_tls_materials(workdir / "tls")).start()
        append_file(dovecot, "INBOX", message)
        uid = uids(dovecot, "INBOX")[0]
        log(f"message {message_size / 1e6:.1f} MB stored in Dovecot as UID {uid}")
        home = workdir / "home"
        password = workdir / "password.txt"
        password.write_text(PASSWORD)
        smimehelper_cli(home, "account", "add", "--email", "dentist@example.org", "--smtp-host", "127.0.0.1",
                        "--username", dovecot.user, "--cafile", str(dovecot.cafile), "--imap-host", dovecot.host,
                        "--imap-port", str(dovecot.port), "--imap-security", "starttls")
        decrypted = workdir / "dec.eml"
        for i in range(args.repeat):
            def ours() -> tuple[Run, dict]:
                os.sync()
                run, result, timing = run_ours(launcher, home, uid, pki, password, workdir)
                check_ours(result, study_sha256, size)
                return run, timing

            def openssl() -> Run:
                remove(decrypted)
                os.sync()
                run = run_openssl_decrypt(launcher, pki, message, decrypted)
                remove(decrypted)
                return run

            if i % 2 == 0:
                (ours_run, timing), ssl_run = ours(), openssl()
            else:
                ssl_run = openssl()
                ours_run, timing = ours()
            os.sync()
            fetch = run_fetch_only(launcher, dovecot, uid)
            sample = Sample(ours_run.wall, timing["call_s"], ours_run.maxrss_kib, ssl_run.wall, ssl_run.maxrss_kib,
                            fetch["fetch_s"], fetch["cpu_s"])
            samples.append(sample)
            log(f"run {i + 1}/{args.repeat}: ours {sample.ours_process:.2f} s (call {sample.ours_call:.2f} s, peak "
                f"{sample.ours_rss_kib * 1024 / MB:.1f} MB) | openssl decrypt {sample.openssl:.2f} s (peak "
                f"{sample.openssl_rss_kib * 1024 / MB:.1f} MB) | fetch alone {sample.fetch:.2f} s (our cpu "
                f"{sample.fetch_cpu:.2f} s) | ratio {sample.ours_process / sample.openssl:.2f}")
    except BenchError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 2
    except Exception:
        traceback.print_exc()
        return 2
    finally:
        if dovecot is not None:
            dovecot.stop()
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    ours_s = statistics.median(s.ours_process for s in samples)
    call_s = statistics.median(s.ours_call for s in samples)
    ssl_s = statistics.median(s.openssl for s in samples)
    fetch_s = statistics.median(s.fetch for s in samples)
    ours_peak = max(s.ours_rss_kib for s in samples) * 1024 / MB
    ssl_peak = max(s.openssl_rss_kib for s in samples) * 1024 / MB
    print()
    print(f"{'msg_MB':>7} {'ours_proc_s':>11} {'ours_call_s':>11} {'ossl_dec_s':>10} {'ratio_proc':>10} {'ratio_call':>10} "
          f"{'fetch_only_s':>12} {'ours_peak_MB':>12} {'ossl_peak_MB':>12} {'runs':>4} {'target':>6}")
    passed = ours_peak <= TARGET_RSS_MB
    print(f"{message_size / 1e6:>7.1f} {ours_s:>11.2f} {call_s:>11.2f} {ssl_s:>10.2f} {ours_s / ssl_s:>10.2f} {call_s / ssl_s:>10.2f} "
          f"{fetch_s:>12.2f} {ours_peak:>12.1f} {ssl_peak:>12.1f} {len(samples):>4} {'PASS' if passed else 'FAIL':>6}")
    print("Note: ours fetches the message over IMAP (TLS) and also verifies the signature and chain and decodes "
          "the attachment; `openssl cms -decrypt` only decrypts a local file. fetch_only_s: the same "
          "fetch with nothing done with the bytes (the server's sending speed bounds it).")
    print(f"{message_size / 1e6:.0f} MB message: ratio {ours_s / ssl_s:.2f} (whole processes; call alone {call_s / ssl_s:.2f}), "
          f"our peak RSS {ours_peak:.1f} MB (target < {TARGET_RSS_MB:.0f} MB; openssl decrypt {ssl_peak:.1f} MB): "
          f"{'PASS' if passed else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
