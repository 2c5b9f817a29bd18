"""Exit codes every command shares (DESIGN.md 4)."""

OK = 0
SECURITY_FAILED = 1  # a security verdict failed: bad signature, untrusted, cannot decrypt
BAD_INPUT = 2  # bad input or usage
INTERNAL = 3  # a bug: reported without a traceback unless --debug
INTERRUPTED = 130
DELIVERY_INCOMPLETE = 4  # send: not accepted by the server (queued for a retry, or failed)
