"""Reading IMAP reply data (RFC 3501 section 9): FETCH items, BODYSTRUCTURE, INTERNALDATE.

imaplib hands back raw reply lines, with each literal split out as ``(line, literal)``. This
module turns them into nested lists, so the inbox can read sizes, flags and structures without
regular expressions that a quoted subject or a literal file name would confuse. Nothing here
trusts the server: malformed data raises :class:`ImapSyntaxError`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email import policy
from typing import Any, Union

from ..errors import UserError

Value = Union[bytes, None, list["Value"]]

_LITERAL_TAIL = re.compile(rb"\{(\d+)\+?\}\s*$")
_SPECIALS = b' ()"'
MAX_DEPTH = 64


class ImapSyntaxError(UserError):
    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "The mail server sent a reply smimehelper cannot read"
            + (f" ({detail})" if detail else "")
            + ". Try again later; if it persists, the server is not speaking IMAP correctly."
        )


class _Literal:
    """A literal's bytes (not copied): never taken apart by the lexer."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


def _segments(pieces: Iterable[Any]) -> Iterator[bytes | _Literal]:
    for piece in pieces:
        if piece is None:
            continue
        if isinstance(piece, tuple):
            head, literal = piece
            match = _LITERAL_TAIL.search(head)
            if match is None:
                raise ImapSyntaxError("a literal without its size")
            yield head[: match.start()]
            yield _Literal(literal)
        elif isinstance(piece, bytes):
            yield piece
        else:
            raise ImapSyntaxError(f"unexpected {type(piece).__name__}")


_OPEN, _CLOSE = object(), object()


def _tokens(pieces: Iterable[Any]) -> Iterator[object]:
    for segment in _segments(pieces):
        if isinstance(segment, _Literal):
            yield segment.data
            continue
        i, n = 0, len(segment)
        while i < n:
            c = segment[i]
            if c in b" \r\n":
                i += 1
            elif c == 0x28:  # (
                yield _OPEN
                i += 1
            elif c == 0x29:  # )
                yield _CLOSE
                i += 1
            elif c == 0x22:  # "
                out = bytearray()
                i += 1
                while True:
                    if i >= n:
                        raise ImapSyntaxError("an unterminated quoted string")
                    c = segment[i]
                    if c == 0x5C and i + 1 < n:  # backslash
                        out.append(segment[i + 1])
                        i += 2
                    elif c == 0x22:
                        i += 1
                        break
                    else:
                        out.append(c)
                        i += 1
                yield bytes(out)
            else:
                start = i
                depth = 0
                while i < n:
                    c = segment[i]
                    if c == 0x5B:  # [ : section specs contain spaces and parentheses
                        depth += 1
                    elif c == 0x5D and depth:
                        depth -= 1
                    elif depth == 0 and c in _SPECIALS:
                        break
                    i += 1
                atom = segment[start:i]
                yield None if atom.upper() == b"NIL" else _Atom(atom)


class _Atom(bytes):
    """An unquoted word (a number, a flag, an item name)."""


def parse(pieces: Iterable[Any]) -> list[Value]:
    """All values in ``pieces`` (imaplib reply data) as nested lists of bytes/None."""
    stack: list[list[Value]] = [[]]
    for token in _tokens(pieces):
        if token is _OPEN:
            if len(stack) > MAX_DEPTH:
                raise ImapSyntaxError("nesting too deep")
            stack.append([])
        elif token is _CLOSE:
            if len(stack) == 1:
                raise ImapSyntaxError("an unbalanced parenthesis")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(token)  # type: ignore[arg-type]
    if len(stack) != 1:
        raise ImapSyntaxError("an unclosed parenthesis")
    return stack[0]


def fetch_items(pieces: Sequence[Any]) -> list[dict[str, Value]]:
    """``UID FETCH`` reply data -> one dict per message (item names upper-cased)."""
    values = parse(pieces)
    out: list[dict[str, Value]] = []
    i = 0
    while i < len(values):
        number = values[i]
        if i + 1 >= len(values) or not isinstance(values[i + 1], list) or not isinstance(number, bytes):
            raise ImapSyntaxError("a FETCH reply of the wrong shape")
        items = values[i + 1]
        assert isinstance(items, list)
        if len(items) % 2:
            raise ImapSyntaxError("a FETCH reply with an item but no value")
        record: dict[str, Value] = {}
        for key, value in zip(items[::2], items[1::2]):
            if not isinstance(key, bytes):
                raise ImapSyntaxError("a FETCH item without a name")
            record[key.decode("ascii", "replace").upper()] = value
        out.append(record)
        i += 2
    return out


def number(value: Value, what: str) -> int:
    if not isinstance(value, bytes) or not value.isdigit() or len(value) > 20:
        raise ImapSyntaxError(f"{what} is not a number")
    return int(value)


def item_starting(record: dict[str, Value], prefix: str) -> tuple[str, Value] | None:
    """The (name, value) of the first item whose name starts with ``prefix`` (e.g. ``BODY[]<``)."""
    for key, value in record.items():
        if key.startswith(prefix):
            return key, value
    return None


_MONTHS = {m: i for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}
_INTERNALDATE = re.compile(r"^\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$")


def internaldate(value: Value) -> dt.datetime | None:
    """``"02-Dec-2026 04:28:24 +0000"`` -> aware datetime (month names are English whatever
    the locale of the desktop, which Qt applies to the C library)."""
    if not isinstance(value, bytes):
        return None
    match = _INTERNALDATE.match(value.decode("ascii", "replace"))
    if not match or match.group(2).upper() not in _MONTHS:
        return None
    day, _, year, hour, minute, second, sign, tzh, tzm = match.groups()
    offset = dt.timedelta(hours=int(tzh), minutes=int(tzm)) * (-1 if sign == "-" else 1)
    try:
        return dt.datetime(int(year), _MONTHS[match.group(2).upper()], int(day), int(hour), int(minute),
                           int(second), tzinfo=dt.timezone(offset))
    except ValueError:
        return None


# -- what kind of S/MIME message -------------------------------------------------------------

ENCRYPTED, SIGNED, UNKNOWN = "encrypted", "signed", "signed-or-encrypted"
_P7M = {"application/pkcs7-mime", "application/x-pkcs7-mime"}
_P7S = {"application/pkcs7-signature", "application/x-pkcs7-signature"}


def classify(content_type: str, params: dict[str, str]) -> str | None:
    """The S/MIME kind of a message from its top-level type and parameters, or None.

    certs-only messages (a certificate, nothing to read) are not listed; multipart/signed counts
    only with an S/MIME signature (not OpenPGP's); the ``smime.p7m`` attachments some gateways
    send as application/octet-stream are listed as "signed or encrypted".
    """
    content_type = content_type.lower()
    smime_type = params.get("smime-type", "").lower()
    name = (params.get("name") or params.get("filename") or "").lower()
    if content_type in _P7M:
        if smime_type in ("enveloped-data", "authenveloped-data"):
            return ENCRYPTED
        if smime_type == "signed-data":
            return SIGNED
        if smime_type == "certs-only" or name.endswith(".p7c"):
            return None
        return UNKNOWN
    if content_type == "multipart/signed":
        return SIGNED if params.get("protocol", "").lower() in _P7S else None
    if content_type == "application/octet-stream" and name.endswith(".p7m"):
        return UNKNOWN
    return None


def _text(value: Value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def _param_list(value: Value) -> dict[str, str]:
    params: dict[str, str] = {}
    if isinstance(value, list):
        for key, item in zip(value[::2], value[1::2]):
            if isinstance(key, bytes):
                params[_text(key).lower()] = _text(item)
    return params


def classify_bodystructure(tree: Value) -> str | None:
    """The S/MIME kind from a BODYSTRUCTURE value (RFC 3501 7.4.2)."""
    if not isinstance(tree, list) or not tree:
        return None
    if isinstance(tree[0], list):  # multipart: (part)(part)... subtype [params ...]
        index = next((i for i, v in enumerate(tree) if not isinstance(v, list)), None)
        if index is None:
            return None
        params = _param_list(tree[index + 1]) if index + 1 < len(tree) else {}
        return classify(f"multipart/{_text(tree[index])}", params)
    if len(tree) < 3:
        return None
    params = _param_list(tree[2])
    for extra in tree[7:]:  # body-fld-dsp: ("attachment" ("filename" "smime.p7m"))
        if isinstance(extra, list) and len(extra) == 2 and isinstance(extra[0], bytes) and isinstance(extra[1], list):
            if "filename" in (found := _param_list(extra[1])):
                params.setdefault("filename", found["filename"])
    return classify(f"{_text(tree[0])}/{_text(tree[1])}", params)


def parse_headers(raw: bytes) -> EmailMessage:
    return BytesHeaderParser(policy=policy.default).parsebytes(raw)  # type: ignore[return-value]


def classify_headers(headers: EmailMessage) -> str | None:
    """The S/MIME kind from a message's Content-Type (and Content-Disposition) header."""
    try:
        content_type = headers.get_content_type()
        params = {k.lower(): str(v) for k, v in (headers.get_params() or [])[1:]}
        filename = headers.get_filename()
    except (ValueError, TypeError, LookupError, IndexError):
        return None
    if filename:
        params.setdefault("filename", str(filename))
    return classify(content_type, params)


# -- folder names: modified UTF-7 (RFC 3501 5.1.3) ------------------------------------------------

def decode_folder(raw: bytes) -> str:
    """A mailbox name as sent by the server ("Entw&APw-rfe") -> text ("Entwürfe")."""
    import base64

    out: list[str] = []
    i = 0
    text = raw.decode("ascii", "replace")
    while i < len(text):
        if text[i] != "&":
            out.append(text[i])
            i += 1
            continue
        end = text.find("-", i)
        if end < 0:
            raise ImapSyntaxError("a folder name with a broken encoding")
        chunk = text[i + 1:end]
        if not chunk:
            out.append("&")
        else:
            data = chunk.replace(",", "/")
            try:
                out.append(base64.b64decode(data + "=" * (-len(data) % 4)).decode("utf-16-be"))
            except (ValueError, UnicodeError):
                raise ImapSyntaxError("a folder name with a broken encoding") from None
        i = end + 1
    return "".join(out)


def encode_folder(name: str) -> str:
    """Text -> the modified UTF-7 a server expects in commands (quoted separately)."""
    import base64

    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in name):
        raise UserError("A folder name cannot contain line breaks or other control characters.")

    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + data.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def quote(text: str) -> str:
    """An IMAP quoted string (CR and LF cannot be quoted: they are refused)."""
    if "\r" in text or "\n" in text or "\x00" in text:
        raise UserError("A folder name cannot contain line breaks.")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
