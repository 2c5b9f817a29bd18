"""Generated passphrases: six words of the EFF long list (77.5 bits); chosen ones rated by zxcvbn."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from smimehelper.core.errors import PassphraseError
from smimehelper.core.package.passphrase import (
    eff_long_wordlist,
    generate_passphrase,
    generated_bits,
    rate_passphrase,
    require_strong,
)

# SHA-256 of the EFF long list as published (one word per line, LF); a package update that
# changed the list would change what "six words" means.
EFF_LONG_WORDS_SHA256 = "6d557f0693958fb5e650b68b5bee585eb82cf4da32965505c789e924743bc522"


def test_the_word_list_is_the_published_eff_long_list() -> None:
    words = eff_long_wordlist()
    assert len(words) == 7776 and len(set(words)) == 7776
    assert words[0] == "abacus" and words[-1] == "zoom"
    assert hashlib.sha256(("\n".join(words) + "\n").encode()).hexdigest() == EFF_LONG_WORDS_SHA256


def test_generated_passphrases_have_six_words_and_77_bits() -> None:
    assert generated_bits() >= 77
    words = set(eff_long_wordlist())
    seen = [generate_passphrase() for _ in range(200)]
    assert len(set(seen)) == 200
    for phrase in seen:
        parts = phrase.split(" ")
        assert len(parts) == 6 and all(p in words for p in parts)
    counts = Counter(w for p in seen for w in p.split())
    assert max(counts.values()) < 6  # 1200 draws from 7776 words: no word dominates


def test_generated_passphrases_count_as_strong() -> None:
    for _ in range(20):
        assert rate_passphrase(generate_passphrase()).strong


@pytest.mark.parametrize("weak", ["password123", "Tr0ub4dor&3", "correct horse battery", "aaaaaaaaaaaaaaaaaaaaaaaa", "", "   ", "dr alice example referral", "Dr Alice Example <alice@example.org>", "Referral: X-rays"])
def test_weak_passphrases_are_refused_with_advice(weak: str) -> None:
    strength = rate_passphrase(weak, ("Dr Alice Example <alice@example.org>", "Referral: x-rays"))
    assert not strength.strong
    with pytest.raises(PassphraseError) as info:
        require_strong(weak, ("Dr Alice Example <alice@example.org>", "Referral: x-rays"))
    assert str(info.value)


def test_a_long_unusual_passphrase_is_accepted() -> None:
    assert rate_passphrase("Gletscher Pinguin tanzt 1987 im Kupferkessel neben Quitten").strong


def test_a_huge_passphrase_is_refused_quickly() -> None:
    import time

    start = time.monotonic()
    assert not rate_passphrase("x" * 100_000).strong
    assert time.monotonic() - start < 1
