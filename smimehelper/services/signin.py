"""Signing in to a mail account with its provider (OAuth 2.0), for the CLI and the desktop app.

The face decides how the browser is opened and how the address is shown (the CLI prints it, the
app shows it in the dialog with a Cancel button); the sign-in itself, where its result is kept
and what a "sign in again" means are the same for both.
"""

from __future__ import annotations

import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.transport.accounts import Account, AccountError, oauth_provider
from ..core.transport.oauth.client import TokenSet
from ..core.transport.oauth.flow import SIGN_IN_SECONDS, sign_in
from ..core.transport.oauth.providers import OAuthProvider
from ..core.transport.oauth.tokens import SignIn

if TYPE_CHECKING:
    from .stores import Stores

PROVIDER_NAMES = {"microsoft": "Microsoft", "google": "Google"}


@dataclass(frozen=True)
class SignedIn:
    email: str
    provider: str  # "Microsoft", "Google", or the custom provider's host
    remembered: bool  # the refresh token is in the keyring (else: this session only)


def browser_sign_in(
    open_browser: Callable[[str], bool] = webbrowser.open,
    show_url: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    timeout: float = SIGN_IN_SECONDS,
) -> SignIn:
    """A ``SignIn`` for TokenSource: the provider's page in the browser, answer on loopback."""

    def run(provider: OAuthProvider, email: str) -> TokenSet:
        return sign_in(provider, email, open_browser=open_browser, show_url=show_url, timeout=timeout, cancel=cancel)

    return run


def sign_in_account(
    stores: Stores,
    account: Account,
    *,
    open_browser: Callable[[str], bool] = webbrowser.open,
    show_url: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    timeout: float = SIGN_IN_SECONDS,
) -> SignedIn:
    """Sign ``account`` in now (browser), replacing any earlier sign-in on this computer."""
    if not account.uses_oauth:
        raise AccountError(f"{account.email} logs in with a password; add it again with --oauth to sign in instead.")
    provider = oauth_provider(account)
    tokens = sign_in(provider, account.email, open_browser=open_browser, show_url=show_url, timeout=timeout, cancel=cancel)
    stores.accounts.tokens.forget(account.email)
    remembered = stores.accounts.tokens.save(account.email, tokens)
    return SignedIn(account.email, provider.name, remembered)


def signed_in(stores: Stores, account: Account) -> bool:
    """Whether a sign-in for ``account`` is at hand (keyring, or this session's memory)."""
    return account.uses_oauth and stores.accounts.tokens.refresh_token(account.email) is not None
