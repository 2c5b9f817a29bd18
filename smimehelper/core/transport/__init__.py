"""Delivery: SMTP with enforced TLS, a durable outbox, IMAP Sent/Drafts, hand-off to mail programs."""
