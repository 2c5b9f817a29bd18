"""Which module holds each command, and its one-line help.

``smimehelper --help`` lists every command from this table without importing any command module
(they pull in cryptography, the certificate validator and more); only the module of the command
being run is imported. A new command is one line here plus its ``*_cmd.py`` module, whose
``register(subparsers)`` adds the full parser with ``help=HELP[name]``.
"""

from __future__ import annotations

# name -> (module in smimehelper.cli, one-line help); the order is the order of --help
COMMANDS: dict[str, tuple[str, str]] = {
    "compose": ("compose_cmd", "write a signed and encrypted message (.eml)"),
    "open": ("open_cmd", "open a signed and/or encrypted message (.eml)"),
    "package": ("package_cmd", "a password package (.html) for a recipient without a certificate"),
    "identity": ("identity_cmd", "import and manage your own certificate"),
    "contacts": ("contacts_cmd", "colleagues' certificates"),
    "trust": ("trust_cmd", "certificate authorities you trust"),
    "account": ("delivery_cmd", "your mail account (SMTP, IMAP)"),
    "send": ("delivery_cmd", "send a message (.eml) through your account, never in clear"),
    "outbox": ("delivery_cmd", "messages waiting to be sent, sent or failed"),
    "export": ("export_cmd", "put a message into Thunderbird's Outbox, to send it from there unchanged"),
    "dicom": ("dicom_cmd", "what DICOM files say about the patient; remove patient details"),
    "log": ("log_cmd", "the disclosure log: list, verify, export a patient's accounting, forward to a log server"),
    "inbox": ("inbox_cmd", "the secure messages of your mailbox (IMAP): list them, open one"),
    "gui": ("gui_cmd", "start the desktop app"),
    "demo": ("demo_cmd", "make demo certificates and a synthetic x-ray, and compose an encrypted message"),
}

HELP = {name: text for name, (_module, text) in COMMANDS.items()}
