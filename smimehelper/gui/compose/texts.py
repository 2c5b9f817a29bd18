"""What Compose says and assumes: the texts shown, the type names, the size estimate."""

from __future__ import annotations

from ...services.preflight import estimate_message_size  # noqa: F401 (the size shown is the one checked)
from ..style import STATUS_COLOURS

THUMBNAIL_SIZE = 48
SENDING = -1  # progress(SENDING, SENDING): the message is built, now it goes to the server

GREEN = STATUS_COLOURS["valid"]
AMBER = STATUS_COLOURS["revocation_unknown"]
RED = STATUS_COLOURS["missing"]

NO_ACCOUNT = (
    "No mail account is set up, so smimehelper cannot send the message itself. Click "
    "\"Send with Thunderbird\" to put it into Thunderbird's Outbox (Thunderbird sends it unchanged), "
    "or \"Save .eml...\" to keep it as a file. To send from here, set up your account under "
    "File > First-run assistant."
)
MAIL_PROGRAM_PATHS = (
    "How your messages can leave: smimehelper sends them itself through this account (the "
    "connection is always encrypted; nothing else needs setting up). With Thunderbird, \"Send with "
    "Thunderbird\" puts the finished message into Thunderbird's Outbox and Thunderbird sends it "
    "unchanged, even without any S/MIME set up there. Outlook and Apple Mail are not handed "
    "messages: they re-compose drafts and could send them unencrypted, so send from smimehelper."
)
NO_IDENTITY = (
    "You have not imported your own certificate yet, so messages cannot be signed or encrypted. "
    'Import it in "My certificates" first.'
)
REQUEST_SUBJECT = "Request: your certificate for encrypted e-mail"
REQUEST_BODY = """Hello,

I would like to send you patient documents such as x-rays by encrypted e-mail, as data
protection requires. For that I need your e-mail certificate (S/MIME).

Please reply to this message with a signed e-mail: in Outlook, Thunderbird or Apple Mail,
switch on "Sign" for your reply. Your certificate travels with every signed e-mail, so I can
then send you encrypted messages.

This message is signed too, so it already carries my certificate: you can send me encrypted
e-mail right away.

If you have no e-mail certificate yet, your IT provider or a certificate authority can issue
one; for e-mail they are often free.

Thank you and best regards
"""




# What the disclosure log records as the purpose (editable; the first is the default).
PURPOSES = ("treatment / referral", "second opinion", "at the patient's request", "insurance / payment", "legal requirement")
