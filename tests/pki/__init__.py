"""Generated test PKI (see make_pki); nothing here is real key material."""
