"""imaplib connections that refuse replies larger than what was asked for.

imaplib reads every literal a server announces (``{123456789}``) in one ``read(size)``, which
allocates the announced size before a byte arrives: a server that lies about a size could make
smimehelper take all the memory it likes. These subclasses check each announced literal against
``max_literal`` (set by whoever issues a command with a known answer size) and stop with a plain
error instead.
"""

from __future__ import annotations

import imaplib

from ..errors import UserError

DEFAULT_MAX_LITERAL = 8 * 1024 * 1024  # folder lists, headers, flags: far below this


class ImapReplyTooLarge(UserError):
    """The server announced more data than the command can return: it is broken or hostile."""


class _Bounded:
    max_literal: int | None = DEFAULT_MAX_LITERAL

    def read(self, size: int) -> bytes:
        limit = self.max_literal
        if limit is not None and size > limit:
            raise ImapReplyTooLarge(
                f"The mail server announced a reply of {size} bytes where at most {limit} were "
                "asked for. It is misbehaving (or not the real server); nothing was saved."
            )
        return super().read(size)  # type: ignore[misc]


class BoundedIMAP4(_Bounded, imaplib.IMAP4):
    """Plain connection that is upgraded with STARTTLS before anything else is said."""


class BoundedIMAP4_SSL(_Bounded, imaplib.IMAP4_SSL):  # noqa: N801 (imaplib's naming)
    """Implicit TLS (port 993)."""
