"""Delivery: SMTP with enforced TLS, a durable outbox, the IMAP Sent copy (hand-off to mail programs: core/handoff)."""
