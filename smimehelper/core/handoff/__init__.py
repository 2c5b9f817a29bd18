"""Hand a finished message to the user's own mail program without weakening its protection.

Only paths a test has watched the real mail program send intact ship (docs/interop.md):
today that is Thunderbird's Outbox (``thunderbird.hand_to_thunderbird``). Drafts are not such
a path -- mail programs re-compose them -- and Outlook and Apple Mail cannot be tested here,
so they get no code that pretends.
"""
