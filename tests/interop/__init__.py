"""Interop corpus: S/MIME messages made by independent tools (OpenSSL, NSS) and third parties."""
