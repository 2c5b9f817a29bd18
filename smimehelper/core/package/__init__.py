"""The browser password package: for recipients without an e-mail certificate.

One self-contained .html file holds the encrypted letter and files and a small page that
decrypts them with the browser's Web Crypto after the recipient types the passphrase the sender
gave them by phone. ``format`` is the byte-level contract (docs/package-format.md), ``writer``
streams a package, ``reader`` opens one in Python, ``passphrase`` makes and rates passphrases,
``preview`` renders DICOM previews.
"""
