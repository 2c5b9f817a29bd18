"""Making a 200 MB password package: wall time and peak memory of the whole process.

Issue 12's figure: making a 200 MB package stays under 120 MB peak RSS (whole process,
interpreter and imports included). The peer, in the same run on the same files: OpenSSL doing
the same kind of work, `openssl enc -aes-256-cbc -pbkdf2 -iter 600000 -a` (the same KDF cost,
encryption and base64) over the same bytes. Peak RSS comes from wait4() of each child process.

    python benchmarks/package_make.py            # 200 MB
    python benchmarks/package_make.py --mb 50    # quicker
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RSS_MB = 120

OURS = r"""
import datetime as dt, sys, time
from pathlib import Path
from smimehelper.core.mime.writer import prepare_attachment
from smimehelper.core.package.writer import PackageRequest, write_package
files = [prepare_attachment(Path(p)) for p in sys.argv[2:]]
start = time.perf_counter()
write_package(PackageRequest("Dr Alice Example <alice@example.org>", "Study", "Dear colleague,\n", tuple(files),
                             "abacus trident safeness uneasy acre exuberant", dt.datetime.now(dt.timezone.utc),
                             check_strength=False), Path(sys.argv[1]))
elapsed = time.perf_counter() - start
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(elapsed, int(hwm) / 1024)
"""

MAKE_INPUTS = r"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2] + "/benchmarks")
from package_make import make_inputs
make_inputs(Path(sys.argv[1]), int(sys.argv[3]))
"""


def run(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()  # type: ignore[union-attr]
    err = proc.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {err.decode(errors='replace')}")
    return wall, usage.ru_maxrss / 1024, out.decode()


def make_inputs(folder: Path, total_mb: int) -> list[Path]:
    """A multi-frame DICOM study (20 MB, so the preview path runs) and random data for the rest."""
    import numpy as np
    import pydicom

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from smimehelper.demo_xray import write_synthetic_dental_xray

    study = folder / "study.dcm"
    write_synthetic_dental_xray(study)
    ds = pydicom.dcmread(study)
    frames = max(1, min(total_mb, 20) * 1_000_000 // (ds.Rows * ds.Columns * 2))
    pixels = ds.pixel_array
    ds.NumberOfFrames = frames
    ds.PixelData = np.tile(pixels, (frames, 1, 1)).tobytes()
    ds.save_as(study)
    rest = folder / "scan.bin"
    remaining = total_mb * 1_000_000 - study.stat().st_size
    with open(rest, "wb") as out:
        while remaining > 0:
            block = os.urandom(min(remaining, 8 << 20))
            out.write(block)
            remaining -= len(block)
    return [study, rest]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="total size of the files in MB (default 200)")
    args = parser.parse_args()
    if shutil.which("openssl") is None:
        raise SystemExit("openssl is needed (the peer)")
    with tempfile.TemporaryDirectory(prefix="smimehelper-bench-package-") as folder:
        work = Path(folder)
        # In a child process: numpy's arrays would otherwise count in the children's peak RSS
        # (a forked child starts with its parent's memory before exec).
        root = str(Path(__file__).resolve().parent.parent)
        subprocess.run([sys.executable, "-c", MAKE_INPUTS, str(work), root, str(args.mb)], check=True)
        files = [work / "study.dcm", work / "scan.bin"]
        joined = work / "joined.bin"
        with open(joined, "wb") as out:
            for f in files:
                with open(f, "rb") as handle:
                    shutil.copyfileobj(handle, out, 8 << 20)
        ours_wall, ours_rss, inner = run([sys.executable, "-c", OURS, str(work / "package.html"), *map(str, files)])
        call_s, own_hwm = (float(x) for x in inner.split())
        ours_rss = max(ours_rss, own_hwm)
        peer_wall, peer_rss, _ = run(["openssl", "enc", "-aes-256-cbc", "-pbkdf2", "-iter", "600000", "-salt", "-a",
                                      "-pass", "pass:abacus trident safeness uneasy acre exuberant",
                                      "-in", str(joined), "-out", str(work / "openssl.b64")])
        size = (work / "package.html").stat().st_size
        print(f"{'files':>8} {'package':>9} {'ours_s':>7} {'ours_call_s':>11} {'openssl_s':>9} {'ratio':>6} {'ours_peak_MB':>12} {'openssl_peak_MB':>15}")
        print(f"{args.mb:>6}MB {size / 1e6:>7.0f}MB {ours_wall:>7.2f} {call_s:>11.2f} {peer_wall:>9.2f} {ours_wall / peer_wall:>6.2f} {ours_rss:>12.0f} {peer_rss:>15.0f}")
        verdict = "PASS" if ours_rss < TARGET_RSS_MB else "FAIL"
        print(f"{args.mb} MB package: whole process {ours_wall:.2f} s, {ours_wall / peer_wall:.2f}x OpenSSL enc+base64; "
              f"peak RSS {ours_rss:.0f} MB (target < {TARGET_RSS_MB} MB): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
