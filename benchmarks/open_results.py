"""The open benchmark's figures: one run's sample, the medians of a size against the targets, and
the printed table and verdict."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from measure import MB

TARGET_RATIO = 1.0
TARGET_RSS_MB = 150.0


@dataclass
class Sample:
    ours_open: float
    ours_process: float
    ours_setup: float
    ours_cpu: float
    ours_rss_kib: int
    ours_rss_setup_kib: int
    ssl_decrypt: float
    ssl_decrypt_cpu: float
    ssl_decrypt_rss_kib: int
    ssl_verify: float | None
    ssl_verify_rss_kib: int | None
    decrypted_size: int


@dataclass
class SizeResult:
    mib: int
    message_size: int
    with_verify: bool
    samples: list[Sample] = field(default_factory=list)

    def med(self, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples)

    @property
    def ours_s(self) -> float:
        return self.med("ours_open")

    @property
    def ours_proc_s(self) -> float:
        return self.med("ours_process")

    @property
    def decrypt_s(self) -> float:
        return self.med("ssl_decrypt")

    @property
    def decrypt_verify_s(self) -> float | None:
        if not self.with_verify:
            return None
        return statistics.median(s.ssl_decrypt + (s.ssl_verify or 0.0) for s in self.samples)

    @property
    def ratio(self) -> float:
        return self.ours_s / self.decrypt_s

    @property
    def ratio_proc(self) -> float:
        return self.ours_proc_s / self.decrypt_s

    @property
    def ratio_dv(self) -> float | None:
        both = self.decrypt_verify_s
        return None if both is None else self.ours_s / both

    @property
    def ours_peak_mb(self) -> float:
        return max(s.ours_rss_kib for s in self.samples) * 1024 / MB

    @property
    def decrypt_peak_mb(self) -> float:
        return max(s.ssl_decrypt_rss_kib for s in self.samples) * 1024 / MB

    @property
    def verify_peak_mb(self) -> float | None:
        if not self.with_verify:
            return None
        return max(s.ssl_verify_rss_kib or 0 for s in self.samples) * 1024 / MB

    def spread(self) -> tuple[float, float]:
        """Lowest and highest whole-process ratio of the single runs."""
        ratios = [s.ours_process / s.ssl_decrypt for s in self.samples]
        return min(ratios), max(ratios)

    @property
    def passed(self) -> bool:
        return (
            self.ratio <= TARGET_RATIO
            and self.ratio_proc <= TARGET_RATIO
            and self.ours_peak_mb <= TARGET_RSS_MB
        )


# --------------------------------------------------------------------------- report

def _opt(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def table(results: list[SizeResult]) -> str:
    head = (
        f"{'size':>9} {'msg_MB':>7} {'ours_s':>7} {'ours_proc_s':>11} {'ossl_dec_s':>10} "
        f"{'ratio':>6} {'ratio_proc':>10} {'ossl_dec+ver_s':>14} {'ratio_dv':>8} "
        f"{'ours_peak_MB':>12} {'ossl_dec_peak_MB':>16} {'ossl_ver_peak_MB':>16} {'runs':>4} {'target':>6}"
    )
    rows = [head]
    for r in results:
        rows.append(
            f"{str(r.mib) + ' MiB':>9} {r.message_size / 1e6:>7.1f} {r.ours_s:>7.2f} {r.ours_proc_s:>11.2f} "
            f"{r.decrypt_s:>10.2f} {r.ratio:>6.2f} {r.ratio_proc:>10.2f} "
            f"{_opt(r.decrypt_verify_s, '.2f'):>14} {_opt(r.ratio_dv, '.2f'):>8} "
            f"{r.ours_peak_mb:>12.1f} {r.decrypt_peak_mb:>16.1f} {_opt(r.verify_peak_mb, '.1f'):>16} "
            f"{len(r.samples):>4} {'PASS' if r.passed else 'FAIL':>6}"
        )
    return "\n".join(rows)


NOTE = (
    "Note: `openssl cms -decrypt` only decrypts. Ours also verifies the signature, checks the "
    "signer's chain to the root, and base64-decodes and hashes the attachment; "
    "ossl_dec+ver_s adds `openssl cms -verify` (signature and chain, no attachment decoding)."
)


def verdict(r: SizeResult) -> str:
    low, high = r.spread()
    return (
        f"{r.mib} MiB: ratio {r.ratio:.2f} (target <= {TARGET_RATIO:.1f}), whole process "
        f"{r.ratio_proc:.2f} (target <= {TARGET_RATIO:.1f}; runs {low:.2f}-{high:.2f})"
        f"{'' if r.ratio_dv is None else f'; vs decrypt+verify {r.ratio_dv:.2f}'}, "
        f"our peak RSS {r.ours_peak_mb:.1f} MB (target <= {TARGET_RSS_MB:.0f} MB; openssl decrypt "
        f"{r.decrypt_peak_mb:.1f} MB): {'PASS' if r.passed else 'FAIL'}"
    )
