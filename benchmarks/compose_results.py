"""The compose benchmark's figures: one run's sample, the medians of a size against the targets, and
the printed table and verdict."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from measure import MB

TARGET_RATIO = 1.0
TARGET_RSS_MB = 120.0


@dataclass
class Sample:
    ours_compose: float
    ours_process: float
    ours_setup: float
    ours_fsync: float
    ours_cpu: float
    ours_rss_kib: int
    ours_rss_setup_kib: int
    ours_size: int
    ssl_sign: float
    ssl_encrypt: float
    ssl_cpu: float
    ssl_rss_kib: int  # max of the two commands
    ssl_sign_rss_kib: int
    ssl_encrypt_rss_kib: int
    ssl_signed_size: int
    ssl_size: int
    ssl_fsync_after: float  # fsync of enc.eml afterwards (informational, not in ssl time)

    @property
    def ssl_total(self) -> float:
        return self.ssl_sign + self.ssl_encrypt


@dataclass
class SizeResult:
    mib: int
    samples: list[Sample] = field(default_factory=list)
    verified: bool = False

    def med(self, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples)

    @property
    def ours_s(self) -> float:
        return self.med("ours_compose")

    @property
    def ours_proc_s(self) -> float:
        return self.med("ours_process")

    @property
    def openssl_s(self) -> float:
        return self.med("ssl_total")

    @property
    def ratio(self) -> float:
        return self.ours_s / self.openssl_s

    @property
    def ratio_proc(self) -> float:
        return self.ours_proc_s / self.openssl_s

    @property
    def ours_peak_mb(self) -> float:
        return max(s.ours_rss_kib for s in self.samples) * 1024 / MB

    @property
    def openssl_peak_mb(self) -> float:
        return max(s.ssl_rss_kib for s in self.samples) * 1024 / MB

    def spread(self) -> tuple[float, float]:
        """Lowest and highest whole-process ratio of the single runs."""
        ratios = [s.ours_process / s.ssl_total for s in self.samples]
        return min(ratios), max(ratios)

    @property
    def passed(self) -> bool:
        return (
            self.ratio <= TARGET_RATIO
            and self.ratio_proc <= TARGET_RATIO
            and self.ours_peak_mb <= TARGET_RSS_MB
        )


# --------------------------------------------------------------------------- report

def table(results: list[SizeResult]) -> str:
    head = (
        f"{'size':>9} {'ours_s':>7} {'ours_proc_s':>11} {'openssl_s':>9} {'ratio':>6} "
        f"{'ratio_proc':>10} {'ours_peak_MB':>12} {'openssl_peak_MB':>15} {'runs':>4} "
        f"{'verified':>8} {'target':>6}"
    )
    rows = [head]
    for r in results:
        rows.append(
            f"{str(r.mib) + ' MiB':>9} {r.ours_s:>7.2f} {r.ours_proc_s:>11.2f} {r.openssl_s:>9.2f} "
            f"{r.ratio:>6.2f} {r.ratio_proc:>10.2f} {r.ours_peak_mb:>12.1f} {r.openssl_peak_mb:>15.1f} "
            f"{len(r.samples):>4} {'yes' if r.verified else 'no':>8} {'PASS' if r.passed else 'FAIL':>6}"
        )
    return "\n".join(rows)


def verdict(r: SizeResult) -> str:
    low, high = r.spread()
    return (
        f"{r.mib} MiB: ratio {r.ratio:.2f} (target <= {TARGET_RATIO:.1f}), whole process "
        f"{r.ratio_proc:.2f} (target <= {TARGET_RATIO:.1f}; runs {low:.2f}-{high:.2f}), our peak RSS "
        f"{r.ours_peak_mb:.1f} MB (target <= {TARGET_RSS_MB:.0f} MB): "
        f"{'PASS' if r.passed else 'FAIL'}"
    )
