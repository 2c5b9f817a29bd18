#!/usr/bin/env python3
"""Benchmark: opening a large S/MIME message with smimehelper against ``openssl cms -decrypt``.

A message with a random attachment (100 MiB by default), signed by alice and encrypted to bob and
alice, is made once per size with smimehelper's own compose (at the test PKI's REFERENCE_NOW),
outside any timing. Then, in the same run and on the same file:

    ours     open_message(msg.eml, identities=[bob from bob.p12], anchors=[root],
             now=REFERENCE_NOW + 1 min)          -- decrypt, verify, trust, decode the attachment
    openssl  openssl cms -decrypt -in msg.eml -recip bob.cert.pem -inkey bob.key.pem -out dec.eml
             -- decryption ONLY: no signature check, no trust check, no attachment decoding
    openssl  (second column) the same decrypt, then openssl cms -verify -in dec.eml -CAfile
             root.cert.pem -attime ... -purpose smimesign -out /dev/null

It prints the time ratio (ours / openssl decrypt) and both peak RSS values for every size.

Targets (from the issue): ratio <= 1.0 and our peak RSS <= 150 MB.

Run from the repository root:  python benchmarks/open_vs_openssl.py [--sizes 100] [--repeat 3]
See benchmarks/README.md for what is measured and how. Exit code: 0 when the report was printed
(also when a target is missed), 2 on any error (including a message our reader cannot open or
opens with a wrong result).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

# The process launcher (GNU time, or a forking Python fallback: see the ru_maxrss note in
# measure.py), the test PKI and the helpers are shared with the compose benchmark: both measure alike.
from measure import (  # noqa: E402
    MB,
    MIB,
    BenchError,
    Launcher,
    Pki,
    Run,
    check,
    load_average,
    make_pki,
    parse_sizes,
    remove,
    write_random,
)
from open_results import NOTE, Sample, SizeResult, table, verdict  # noqa: E402

OPEN_AFTER = dt.timedelta(minutes=1)  # "now" of the reader: one minute after the message was made
BODY = "Dear colleague,\n\nplease find the study attached.\n\nBest regards,\nAlice\n"
SENDER = "alice@example.org"
RECIPIENT = "bob@example.org"


# --------------------------------------------------------------------------- our side (subprocess)

# Runs in a fresh interpreter: imports and loading bob's .p12 and the root are "setup"; the
# open_message call alone is "open". Only a summary of the result goes back (as JSON).
_OURS = r"""
import json, sys, time
t0 = time.perf_counter()
args = json.loads(sys.argv[1])
sys.path.insert(0, args["repo"])
import datetime as dt, resource
from pathlib import Path
import smimehelper
from smimehelper.core.certs import load_certificate
from smimehelper.core.identity import load_pkcs12
from smimehelper.core.reader import open_message

bob = load_pkcs12(Path(args["p12"]), args["password"].encode())
root = load_certificate(Path(args["root"]))
now = dt.datetime.fromisoformat(args["now"])
rss_setup = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t1 = time.perf_counter()
opened = open_message(Path(args["message"]), identities=[bob], anchors=[root], now=now)
t2 = time.perf_counter()
print(json.dumps({
    "setup_s": t1 - t0,
    "open_s": t2 - t1,
    "module": smimehelper.__file__,
    "decrypted": opened.decrypted,
    "encryption": opened.encryption,
    "problem": opened.decryption_problem,
    "signatures": [[s.valid, s.trusted, s.signer_email, s.reason] for s in opened.signatures],
    "attachments": [[a.filename, a.size, a.sha256] for a in opened.attachments],
    "rss_setup_kib": rss_setup,
    "rss_self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


def run_ours(launcher: Launcher, pki: Pki, message: Path, workdir: Path) -> tuple[Run, dict]:
    args = {
        "repo": str(REPO),
        "p12": str(pki.p12("bob")),
        "password": "test-pass",
        "root": str(pki.cert("root")),
        "message": str(message),
        "now": (dt.datetime.fromisoformat(pki.now_iso) + OPEN_AFTER).isoformat(),
    }
    # The reader spools decrypted content to a private temporary directory: put it on the same
    # file system as OpenSSL's dec.eml (Launcher.run takes no env; the child inherits ours).
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(workdir)
    try:
        run = check(launcher.run([sys.executable, "-c", _OURS, json.dumps(args)]), "smimehelper open_message")
    finally:
        if saved is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved
    try:
        info = json.loads(run.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BenchError(
            f"our subprocess printed no result:\n{run.stdout!r}\n{run.stderr.decode(errors='replace')}"
        ) from None
    return run, info


def check_ours(info: dict, attachment_sha256: str, attachment_size: int) -> None:
    """Our reader must have really done the job: decrypted, one valid trusted signature by alice,
    and the attachment intact."""
    problems = []
    if not info["decrypted"]:
        problems.append(f"not decrypted: {info['problem']}")
    if [s[:3] for s in info["signatures"]] != [[True, True, SENDER]]:
        problems.append(f"signature verdicts {info['signatures']}")
    if [a[1:] for a in info["attachments"]] != [[attachment_size, attachment_sha256]]:
        problems.append(f"attachments {info['attachments']}")
    if problems:
        raise BenchError("our reader opened the message WRONGLY: " + "; ".join(problems))


# --------------------------------------------------------------------------- OpenSSL side

def run_openssl_decrypt(launcher: Launcher, pki: Pki, message: Path, out: Path) -> Run:
    return check(
        launcher.run(
            [
                "openssl", "cms", "-decrypt", "-in", str(message),
                "-recip", str(pki.cert("bob")), "-inkey", str(pki.key("bob")),
                "-out", str(out),
            ]
        ),
        "openssl cms -decrypt",
    )


def run_openssl_verify(launcher: Launcher, pki: Pki, decrypted: Path) -> Run:
    # Without -binary: OpenSSL canonicalises the multipart/signed content to CRLF, which is what
    # S/MIME signs (with -binary its MIME splitter's line ends do not match and it fails).
    return check(
        launcher.run(
            [
                "openssl", "cms", "-verify", "-in", str(decrypted),
                "-CAfile", str(pki.cert("root")),
                "-attime", str(pki.now_epoch + int(OPEN_AFTER.total_seconds())),
                "-purpose", "smimesign", "-out", os.devnull,
            ]
        ),
        "openssl cms -verify",
    )


# --------------------------------------------------------------------------- inputs

def make_message(pki: Pki, attachment: Path, out: Path) -> int:
    """The signed + encrypted message, made by our compose at REFERENCE_NOW (not timed)."""
    from smimehelper.core.certs import load_certificate
    from smimehelper.core.compose import ComposeRequest, compose_to_file
    from smimehelper.core.identity import load_pkcs12
    from smimehelper.core.mime.writer import prepare_attachment

    alice = load_pkcs12(pki.p12("alice"), b"test-pass")
    result = compose_to_file(
        ComposeRequest(
            sender=SENDER,
            to=(RECIPIENT,),
            subject="Benchmark: a large study",
            body=BODY,
            identity=alice,
            attachments=(prepare_attachment(attachment),),
            recipient_certs=(load_certificate(pki.cert("bob")),),
            now=dt.datetime.fromisoformat(pki.now_iso),
        ),
        out,
    )
    if sorted(result.recipients) != sorted([SENDER, RECIPIENT]) or not result.signed:
        raise BenchError(f"compose made an unexpected message: {result}")
    return result.size


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- one size

def needed_bytes(size: int) -> int:
    message = size * 2 + 4 * MIB  # base64 twice: about 1.87 x the attachment
    # attachment + message + dec.eml (1.37 x) + our spool of the decrypted content (1.37 x)
    return size + message + 2 * (size * 14 // 10) + 256 * MIB


def bench_size(
    mib: int, repeat: int, with_verify: bool, launcher: Launcher, pki: Pki, workdir: Path, log
) -> SizeResult:
    size = mib * MIB
    need = needed_bytes(size)
    free = shutil.disk_usage(workdir).free
    if free < need:
        raise BenchError(
            f"{mib} MiB needs about {need / 1e9:.1f} GB free in {workdir}, only {free / 1e9:.1f} GB "
            "free; use --workdir on a larger disk or smaller --sizes"
        )
    attachment = workdir / f"attachment-{mib}MiB.bin"
    message = workdir / f"msg-{mib}MiB.eml"
    decrypted = workdir / "dec.eml"
    try:
        log(f"[{mib} MiB] writing the random attachment and composing the message (not timed) ...")
        write_random(attachment, size)
        attachment_sha256 = sha256_file(attachment)
        message_size = make_message(pki, attachment, message)
        remove(attachment)
        log(f"[{mib} MiB] message {message.name}: {message_size / 1e6:.1f} MB")
        result = SizeResult(mib, message_size, with_verify)
        for i in range(repeat):
            def ours() -> tuple[Run, dict]:
                os.sync()  # earlier runs' dirty pages must not be flushed during this one
                run, info = run_ours(launcher, pki, message, workdir)
                check_ours(info, attachment_sha256, size)
                if i == 0:
                    log(f"[{mib} MiB] our subprocess used smimehelper from {Path(info['module']).parent}")
                return run, info

            def openssl() -> tuple[Run, Run | None, int]:
                remove(decrypted)
                os.sync()
                dec = run_openssl_decrypt(launcher, pki, message, decrypted)
                verify = None
                if with_verify:
                    os.sync()
                    verify = run_openssl_verify(launcher, pki, decrypted)
                dec_size = decrypted.stat().st_size
                remove(decrypted)
                return dec, verify, dec_size

            # Alternate which side goes first, so neither always runs on a "fresher" machine.
            if i % 2 == 0:
                ours_run, info = ours()
                dec, verify, dec_size = openssl()
            else:
                dec, verify, dec_size = openssl()
                ours_run, info = ours()
            sample = Sample(
                ours_open=info["open_s"],
                ours_process=ours_run.wall,
                ours_setup=info["setup_s"],
                ours_cpu=ours_run.cpu,
                ours_rss_kib=ours_run.maxrss_kib,
                ours_rss_setup_kib=info["rss_setup_kib"],
                ssl_decrypt=dec.wall,
                ssl_decrypt_cpu=dec.cpu,
                ssl_decrypt_rss_kib=dec.maxrss_kib,
                ssl_verify=verify.wall if verify else None,
                ssl_verify_rss_kib=verify.maxrss_kib if verify else None,
                decrypted_size=dec_size,
            )
            result.samples.append(sample)
            verify_text = (
                f" + verify {sample.ssl_verify:.2f} s (peak {sample.ssl_verify_rss_kib * 1024 / MB:.1f} MB)"
                if verify is not None
                else ""
            )
            log(
                f"[{mib} MiB] run {i + 1}/{repeat} ({'ours first' if i % 2 == 0 else 'openssl first'}): "
                f"ours open {sample.ours_open:.2f} s (process {sample.ours_process:.2f} s, setup "
                f"{sample.ours_setup:.2f} s; cpu {sample.ours_cpu:.2f} s; peak "
                f"{sample.ours_rss_kib * 1024 / MB:.1f} MB, {sample.ours_rss_setup_kib * 1024 / MB:.1f} MB "
                f"before the call) | openssl decrypt {sample.ssl_decrypt:.2f} s (cpu "
                f"{sample.ssl_decrypt_cpu:.2f} s; peak {sample.ssl_decrypt_rss_kib * 1024 / MB:.1f} MB; "
                f"dec.eml {sample.decrypted_size / 1e6:.1f} MB){verify_text} | ratio "
                f"{sample.ours_open / sample.ssl_decrypt:.2f}"
            )
    finally:
        remove(attachment, message, decrypted)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_sizes, default=[100],
                        help="attachment sizes in MiB, comma-separated (default 100)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per size; the median is reported (default 3)")
    parser.add_argument("--quick", action="store_true", help="just 100 MiB, 1 run")
    parser.add_argument("--no-openssl-verify", dest="with_verify", action="store_false",
                        help="do not time `openssl cms -verify` for the second comparison column")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the temporary directory is made (default: the system temp dir)")
    args = parser.parse_args(argv)
    sizes, repeat = ([100], 1) if args.quick else (args.sizes, args.repeat)
    if repeat < 1:
        parser.error("--repeat must be at least 1")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    results: list[SizeResult] = []
    workdir: Path | None = None
    load_before = load_average()
    try:
        if shutil.which("openssl") is None:
            raise BenchError("openssl is not on PATH")
        version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
        workdir = Path(tempfile.mkdtemp(prefix="smimehelper-bench-open-", dir=args.workdir))
        launcher = Launcher(workdir)
        import smimehelper

        log(f"smimehelper {smimehelper.__version__} from {Path(smimehelper.__file__).parent}; {version}")
        log(f"python {sys.version.split()[0]}; {os.cpu_count()} CPUs; work dir {workdir}")
        log(f"peak RSS via {launcher.description}")
        pki = make_pki(workdir / "pki")
        for mib in sizes:
            results.append(bench_size(mib, repeat, args.with_verify, launcher, pki, workdir, log))
    except BenchError as exc:
        if results:
            print(table(results))
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 2
    except Exception:  # anything unexpected is an error of the run, not a result
        if results:
            print(table(results))
        traceback.print_exc()
        return 2
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(table(results))
    print(NOTE)
    for r in results:
        print(verdict(r))
    print(f"load average (1 min) {load_before} at the start, {load_average()} at the end, on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
