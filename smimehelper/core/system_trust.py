"""The operating system's trusted root certificates.

Outlook and Apple Mail trust what the operating system trusts; so does smimehelper, plus the
authorities the user adds (healthcare trust bundles, a practice CA).
"""

from __future__ import annotations

import ssl
import sys
import warnings
from functools import lru_cache
from pathlib import Path

from cryptography import x509


@lru_cache(maxsize=1)
def system_roots() -> tuple[x509.Certificate, ...]:
    with warnings.catch_warnings():  # a few old roots have non-RFC serial numbers
        warnings.simplefilter("ignore")
        return _load()


def _load() -> tuple[x509.Certificate, ...]:
    found: list[x509.Certificate] = []
    if sys.platform == "win32":
        for store in ("ROOT", "CA"):
            for der, encoding, _trust in ssl.enum_certificates(store):  # type: ignore[attr-defined]
                if encoding == "x509_asn":
                    try:
                        found.append(x509.load_der_x509_certificate(der))
                    except ValueError:
                        continue
        return tuple(found)
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/cert.pem", "/etc/pki/tls/certs/ca-bundle.crt"):
        if candidate and Path(candidate).is_file():
            try:
                return tuple(x509.load_pem_x509_certificates(Path(candidate).read_bytes()))
            except ValueError:
                continue
    try:
        import certifi  # a dependency of pyhanko-certvalidator: macOS python.org builds need it

        return tuple(x509.load_pem_x509_certificates(Path(certifi.where()).read_bytes()))
    except (ImportError, OSError, ValueError):
        return ()
