"""Use cases shared by the command line and the desktop app, one module per use case.

Each function takes plain values (paths, addresses, callbacks) and returns frozen results; the
faces decide how to ask for a passphrase, show progress or print. Nothing here prompts or prints.

- ``stores``: the data folder (identities, contacts, trust, accounts, outbox) and contacts
- ``inputs``: files the user names (message text, certificate files)
- ``compose``: write a signed and encrypted message
- ``opening``: open a message, keep its signers, save one attachment
- ``delivery``: queue and send through the outbox
- ``handoff``: put a finished message into Thunderbird's Outbox and start Thunderbird
- ``setup``: the first-run assistant (import, connection test, self-test, summaries)
- ``demo``: the throwaway demo profile
- ``connection_test``: the first run's connection test, in words, that can be cancelled
- ``preflight``: what would stop a message, found before the passphrase is asked
- ``trust``: trust a colleague's authority, or only their certificate
- ``dicom`` (CLI and compose), ``dicom_saving``: the measured saving of lossless compression,
  ``dicom_parts``: a study sent in several messages put back together

``clock`` is the one time seam: every use case asks :func:`now`, which calls ``services.clock``
at call time, so a test (or a frozen-time demo) replaces ``services.clock`` and all of them see
it. Names are loaded lazily (PEP 562): ``smimehelper --help`` must not pay for cryptography,
pydicom or the certificate validator.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any


def clock() -> dt.datetime:
    """The current time: the one place tests (and a frozen-time demo) replace it."""
    return dt.datetime.now(dt.timezone.utc)


def now() -> dt.datetime:
    """``services.clock()`` looked up when called, so a replaced clock is seen everywhere."""
    import smimehelper.services as package

    return package.clock()


AskPassphrase = Callable[[str], bytes]
"""Called with a prompt when a passphrase is needed; returns it or raises PassphraseError."""

# name -> the module (in this package) that defines it
_EXPORTS = {
    "inputs": ("MAX_BODY_FILE_BYTES", "open_identity", "read_body_file"),
    "compose": ("ComposeInput", "BccCopy", "ComposeOutcome", "compose_message"),
    "opening": ("OpenInput", "open_message_file", "harvest_signers", "save_attachment"),
    "stores": ("Stores", "ContactRow", "list_contacts", "import_contacts"),
    "delivery": ("AskPassword", "password_source", "queue_message", "send_messages", "queue_composed"),
    "setup": (
        "secure_keyring_available", "import_identity_file", "ConnectionCheck", "check_account_connection",
        "SelfTestStep", "SelfTestResult", "SELF_TEST_SUBJECT", "self_test", "IdentitySummary",
        "summarize_identity", "issuer_name", "passphrase_opens_default",
    ),
    "demo": ("DemoProfile", "use_demo_profile"),
    "handoff": ("HandoffReport", "ComposedHandoff", "open_in_thunderbird", "compose_for_thunderbird"),
    "connection_test": ("ConnectionTest", "run_connection_test"),
    "preflight": ("Preflight", "RecipientProblem", "SizeProblem", "check_before_sending", "estimate_message_size"),
    "trust": (
        "AuthorityOffer", "CertificateOffer", "authority_offer", "authority_from_file", "trust_authority",
        "certificate_offer", "trust_certificate", "stop_trusting_certificate", "fingerprint_groups", "contact_for",
    ),
    "dicom_saving": ("Saving", "FileSaving", "MeasureCancelled", "can_compress", "measure_saving"),
    "dicom_parts": ("Reassembled", "ReassemblyCancelled", "reassemble", "manifest_of", "one_part_text"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = ["clock", "now", "AskPassphrase", *_WHERE]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'smimehelper.services' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # what type checkers and editors see
    from .compose import BccCopy, ComposeInput, ComposeOutcome, compose_message  # noqa: F401
    from .delivery import AskPassword, password_source, queue_composed, queue_message, send_messages  # noqa: F401
    from .demo import DemoProfile, use_demo_profile  # noqa: F401
    from .handoff import ComposedHandoff, HandoffReport, compose_for_thunderbird, open_in_thunderbird  # noqa: F401
    from .inputs import MAX_BODY_FILE_BYTES, open_identity, read_body_file  # noqa: F401
    from .opening import OpenInput, harvest_signers, open_message_file, save_attachment  # noqa: F401
    from .setup import (  # noqa: F401
        SELF_TEST_SUBJECT, ConnectionCheck, IdentitySummary, SelfTestResult, SelfTestStep,
        check_account_connection, import_identity_file, issuer_name, secure_keyring_available,
        self_test, summarize_identity,
    )
    from .stores import ContactRow, Stores, import_contacts, list_contacts  # noqa: F401
    from .connection_test import ConnectionTest, run_connection_test  # noqa: F401
    from .preflight import Preflight, RecipientProblem, SizeProblem, check_before_sending, estimate_message_size  # noqa: F401
    from .dicom_parts import Reassembled, ReassemblyCancelled, manifest_of, one_part_text, reassemble  # noqa: F401
    from .dicom_saving import FileSaving, MeasureCancelled, Saving, can_compress, measure_saving  # noqa: F401
    from .trust import (  # noqa: F401
        AuthorityOffer, CertificateOffer, authority_from_file, authority_offer, certificate_offer, contact_for,
        fingerprint_groups, stop_trusting_certificate, trust_authority, trust_certificate,
    )
