"""Typed errors.

Every failure a user can cause or meet is a :class:`UserError` whose message says what happened
and what to do, in words a dentist understands. The CLI and the GUI show ``str(error)`` as is and
never a traceback. Messages never contain secrets (passphrases, key material).
"""

from __future__ import annotations


class SmimeHelperError(Exception):
    """Base of every error this package raises on purpose."""


class UserError(SmimeHelperError):
    """Bad input or a situation the user can fix; the message is shown as is."""


class InputFileError(UserError):
    """A file named by the user is missing, unreadable or of the wrong kind."""


class CertificateError(UserError):
    """A certificate cannot be read or cannot be used for what was asked."""


class PassphraseError(UserError):
    """A passphrase is missing or wrong."""


class AddressError(UserError):
    """An e-mail address is malformed or has no usable certificate."""


class ComposeError(UserError):
    """The message cannot be built as asked."""


class MessageFormatError(UserError):
    """A message (or a part of it) is not well-formed MIME or CMS: damaged, truncated, garbage."""


class KeyMismatchError(UserError):
    """A key file does not fit what it is used for."""


class SecurityVerdictError(SmimeHelperError):
    """A security check failed (bad signature, untrusted, cannot decrypt): exit code 1, not 2."""


class DecryptionError(SecurityVerdictError):
    """The message cannot be decrypted with the keys at hand, or its content was altered."""


class StoreError(UserError):
    """The data folder (identities, contacts, settings, outbox) cannot be changed: disk full,
    read-only, no permission. The change was not made; nothing half-done is left."""
