"""The security verdict of an opened message, in plain words, with the technical terms apart.

The headline and lines use the command line's wording (``smimehelper open``, core/display.py);
the cipher's name, the signers' full certificate names and exact times go to the Details.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.display import signature_sentence
from .widgets import CAUTION, GOOD, PROBLEM, visible
from .words import cipher_name, utc_text

if TYPE_CHECKING:
    from ..core.reader import OpenedMessage


def verdict(opened: OpenedMessage) -> tuple[str, str, list[str]]:
    """(level, headline, lines) for a message, in the command line's words."""
    lines: list[str] = []
    if not opened.encrypted:
        lines.append("Encryption: none (anyone who handled this message could read it).")
    elif opened.decrypted:
        weak = " This is an old, weak kind of encryption: ask the sender to update their mail program." if opened.encryption_weak else ""
        lines.append(f"Encryption: encrypted and decrypted with your key.{weak}")
    else:
        lines.append(f"Encryption: encrypted, but it could not be decrypted. {visible(opened.decryption_problem)}")
    if not opened.signatures:
        lines.append("Signature: none (the sender is not proven).")
    for index, signature in enumerate(opened.signatures):
        lines.append(signature_sentence(index, len(opened.signatures), signature, emphasis=False))
    if not opened.all_good:
        if opened.encrypted and not opened.decrypted:
            headline = "This message could not be decrypted: it was not encrypted for your certificate, or it is damaged."
        else:
            headline = "Warning: a security check failed. Do not trust this message or its files."
        return PROBLEM, headline, lines
    if not opened.encrypted and not opened.signatures:
        return CAUTION, "Nothing to check: this message is neither signed nor encrypted, so its sender is not proven.", lines
    if not opened.signatures:
        return CAUTION, "Decrypted, but not signed: the sender is not proven.", lines
    signers = ", ".join(dict.fromkeys(visible(s.signer_email or s.signer_subject) for s in opened.signatures))
    if opened.encryption_weak:
        return CAUTION, f"Signed by {signers}, valid and trusted, but encrypted with an old, weak cipher.", lines
    protected = "signed and encrypted" if opened.encrypted else "signed (not encrypted)"
    return GOOD, f"Everything checks out: {protected}, valid and trusted, from {signers}.", lines


def technical_details(opened: OpenedMessage) -> str:
    """What an expert checks: the cipher, each signer's certificate name, digest and time."""
    lines: list[str] = []
    if opened.encrypted:
        lines.append(f"Encryption (S/MIME enveloped data): {cipher_name(opened.encryption) or 'unknown cipher'}")
    for signature in opened.signatures:
        when = f", signed {utc_text(signature.signed_at)}" if signature.signed_at else ""
        lines.append(f"Signer certificate: {visible(signature.signer_subject) or 'not in the message'}"
                     f" (digest {visible(signature.digest) or 'unknown'}{when})")
    if opened.sender_problem:
        lines.append(f"From line: {visible(opened.sender)}")
    if opened.date:
        lines.append(f"Date header: {visible(opened.date)}")
    return "\n".join(lines)


def trust_candidate(opened: OpenedMessage):  # type: ignore[no-untyped-def]
    """The first signature that is valid but not trusted only because no authority vouches for
    its signer (so trusting the authority, or the certificate, would help); else None."""
    if opened.sender_problem is not None:
        return None
    for signature in opened.signatures:
        if signature.valid and not signature.trusted and signature.signer is not None \
                and "not among your trusted authorities" in (signature.reason or ""):
            return signature
    return None


__all__ = ["technical_details", "trust_candidate", "verdict"]
