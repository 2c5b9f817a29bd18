"""Streaming MIME: canonical CRLF, 7bit/quoted-printable/base64 only, so signatures survive transport."""
