"""Passphrases for packages: six random words by default, a chosen one only if it is strong.

The words come from the EFF long word list (7776 words, 12.9 bits each; six words are 77.5
bits), as shipped by ``xkcdpass``. Why xkcdpass and not ``diceware``: both ship the list, but
xkcdpass is the one still released (1.30, 2026), its default list *is* the EFF long list, and it
has no dependencies; we read its file and draw with :mod:`secrets` ourselves, because its own
generator filters words by length (fewer than 7776 words, fewer bits than promised).

A passphrase the user chooses is rated by ``zxcvbn`` (the Python port of Dropbox's estimator)
on the normalized form the key is derived from; it must need at least 10^16 guesses. zxcvbn's
"score 4" only means 10^10 guesses, which a few graphics cards try against PBKDF2 at 600,000
iterations in days (docs/security.md has the arithmetic).
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from ..errors import PassphraseError
from .format import normalize_passphrase

WORDS = 6
WORDLIST_SIZE = 7776
MIN_BITS = 77
MIN_GUESSES_LOG10 = 16
MAX_CHOSEN_LENGTH = 200  # zxcvbn is quadratic in the length; nobody reads out more


@lru_cache(maxsize=1)
def eff_long_wordlist() -> tuple[str, ...]:
    """The EFF long list from the xkcdpass package, checked to be complete and unique."""
    from importlib import resources

    try:
        text = (resources.files("xkcdpass") / "static" / "eff-long").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover - a declared dependency
        raise PassphraseError("The word list for passphrases is missing: reinstall smimehelper.") from None
    words = tuple(w.strip() for w in text.splitlines() if w.strip())
    if len(words) != WORDLIST_SIZE or len(set(words)) != WORDLIST_SIZE or any(w != w.lower() for w in words):
        raise PassphraseError("The word list for passphrases is damaged: reinstall smimehelper.")
    return words


def generate_passphrase(words: int = WORDS) -> str:
    """``words`` words drawn uniformly with the OS's cryptographic generator, space-separated."""
    wordlist = eff_long_wordlist()
    if words * math.log2(len(wordlist)) < MIN_BITS:
        raise ValueError(f"{words} words are fewer than {MIN_BITS} bits")
    return " ".join(secrets.choice(wordlist) for _ in range(words))


def generated_bits(words: int = WORDS) -> float:
    return words * math.log2(WORDLIST_SIZE)


@dataclass(frozen=True)
class Strength:
    strong: bool
    guesses_log10: float
    advice: str  # empty when strong


def rate_passphrase(passphrase: str, context: tuple[str, ...] = ()) -> Strength:
    """How hard ``passphrase`` is to guess; ``context`` (names, addresses, subject) counts as known."""
    normalized = normalize_passphrase(passphrase).decode("utf-8")
    if len(normalized) > MAX_CHOSEN_LENGTH:
        return Strength(False, 0.0, f"Use at most {MAX_CHOSEN_LENGTH} characters; six random words are plenty.")
    if not normalized:
        return Strength(False, 0.0, "The passphrase is empty.")
    from zxcvbn import zxcvbn

    whole = [normalize_passphrase(text).decode("utf-8") for text in context]
    known = whole + [part for text in whole for part in re.split(r"[\W_]+", text) if part]
    result = zxcvbn(normalized, user_inputs=known[:60])
    guesses = float(result["guesses_log10"])
    if guesses >= MIN_GUESSES_LOG10:
        return Strength(True, guesses, "")
    feedback = result.get("feedback") or {}
    hints = [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
    detail = " ".join(h.strip() for h in hints if h and h.strip())
    advice = (
        "This passphrase is too easy to guess for patient data"
        + (f" ({detail.rstrip('.')})" if detail else "")
        + ". Leave the passphrase out to get six random words, or use a longer one."
    )
    return Strength(False, guesses, advice)


def require_strong(passphrase: str, context: tuple[str, ...] = ()) -> None:
    """Raise :class:`PassphraseError` with advice unless ``passphrase`` is strong."""
    strength = rate_passphrase(passphrase, context)
    if not strength.strong:
        raise PassphraseError(strength.advice)
