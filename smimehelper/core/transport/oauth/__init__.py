"""OAuth 2.0 sign-in for mail accounts (Microsoft 365 / Outlook.com, Google, any OpenID provider).

Why: Exchange Online switches off password (Basic) SMTP AUTH, and Google takes passwords only as
app passwords; their users can send only after signing in on the provider's own page.

How, in one line per module:
- ``providers``: where to sign in (endpoints, scopes, the client ID: configuration, no secret).
- ``flow``: the authorization code flow with PKCE, the provider's page in the system browser,
  the answer received on a loopback port (RFC 8252).
- ``tokens``: the refresh token in the OS keyring only (else in memory for this session), access
  tokens in memory, silent refresh under a lock shared by every smimehelper process.
- ``sasl``: the XOAUTH2 and OAUTHBEARER (RFC 7628) messages that carry the token to SMTP and IMAP.
- ``errors``: the provider's and the server's refusals in words a dentist understands.

The HTTP side (token endpoint, discovery) uses Authlib with requests, imported only when a sign-in
or refresh actually happens, so ``smimehelper --help`` stays fast.
"""
