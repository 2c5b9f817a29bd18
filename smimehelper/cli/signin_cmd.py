"""Signing in with the provider (OAuth 2.0): ``account add --oauth`` and ``account signin``.

The browser opens on the provider's own page (with its two-factor prompt); smimehelper waits on a
loopback port for the answer and keeps the sign-in in the system keyring (without one: for this
session only). The address is printed too, for a computer where no browser opens by itself.
"""

from __future__ import annotations

import argparse
import sys
import webbrowser

from ..core.transport.accounts import AccountError
from . import exit_codes
from .output import say, warn

SASL_CHOICES = ("xoauth2", "oauthbearer")


def add_options(add: argparse.ArgumentParser) -> None:
    """The sign-in options of ``account add``."""
    how = add.add_mutually_exclusive_group()
    how.add_argument("--oauth", action="store_true",
                     help="sign in with the provider in the browser (default for Microsoft 365, Outlook.com, Gmail)")
    how.add_argument("--password", action="store_true", help="log in with a password (or app password) instead")
    add.add_argument("--provider", choices=("microsoft", "google"),
                     help="your practice's own domain is hosted by Microsoft 365 or Google Workspace")
    add.add_argument("--oauth-client-id", metavar="ID", help="the sign-in app registered by your IT (Entra ID / Google Cloud)")
    add.add_argument("--oauth-client-secret", metavar="VALUE",
                     help="Google desktop apps only: the non-confidential value Google shows with the client ID")
    add.add_argument("--oauth-tenant", metavar="TENANT", help="Microsoft: your organisation's tenant (default: common)")
    add.add_argument("--oauth-issuer", metavar="URL", help="another OAuth/OpenID provider: its issuer address")
    add.add_argument("--oauth-scopes", metavar="SCOPES", help="with --oauth-issuer: the scopes to ask for (space-separated)")
    add.add_argument("--sasl", choices=SASL_CHOICES, help="the token mechanism (default: XOAUTH2 if offered, else OAUTHBEARER)")
    add.add_argument("--no-sign-in", action="store_true", help="only save the settings; sign in later with 'account signin'")


def account_settings(args: argparse.Namespace) -> dict[str, object]:
    """make_account() arguments from the options above."""
    if args.oauth and args.password_file is not None:
        raise AccountError("--oauth signs in in the browser; it takes no --password-file.")
    auth = "oauth2" if args.oauth else ("password" if args.password or args.password_file is not None else None)
    return {
        "provider": args.provider, "auth": auth, "oauth_client_id": args.oauth_client_id,
        "oauth_client_secret": args.oauth_client_secret, "oauth_tenant": args.oauth_tenant,
        "oauth_issuer": args.oauth_issuer, "oauth_scopes": args.oauth_scopes, "sasl": args.sasl,
    }


def register(account_actions: argparse._SubParsersAction) -> None:
    signin = account_actions.add_parser("signin", help="sign in again with the provider (Microsoft, Google, ...)")
    signin.add_argument("--email", metavar="ADDR", help="the account (default: the only one)")
    signin.set_defaults(handler=run_signin)


def _show_url(url: str) -> None:
    sys.stderr.write(
        "Your browser opens the sign-in page. If it does not, open this address in a browser on this computer:\n"
        f"  {url}\nWaiting for the sign-in (Ctrl-C to stop) ...\n"
    )
    sys.stderr.flush()


def sign_in_now(stores, account) -> int:  # type: ignore[no-untyped-def]
    from ..services.signin import sign_in_account

    say(f"Signing in {account.email} ...")
    try:
        result = sign_in_account(stores, account, open_browser=webbrowser.open, show_url=_show_url)
    except KeyboardInterrupt:
        from .output import error

        error(f"Sign-in interrupted. The settings of {account.email} are saved; sign in when you are ready: "
              f"smimehelper account signin --email {account.email}")
        return exit_codes.INTERRUPTED
    say(f"Signed in with {result.provider} as {result.email}.")
    if result.remembered:
        say("The sign-in is kept in the system keyring; smimehelper renews it by itself.")
    else:
        warn("This computer has no secure keyring, so the sign-in lasts only for this session; "
             "smimehelper asks you to sign in again next time. Nothing was written to a file.")
    return exit_codes.OK


def after_add(stores, account, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    """What ``account add`` does for an account that signs in: sign in now, unless told not to."""
    if args.no_sign_in:
        say(f"Sign in when you are ready: smimehelper account signin --email {account.email}")
        return exit_codes.OK
    return sign_in_now(stores, account)


def run_signin(args: argparse.Namespace) -> int:
    from .. import services

    stores = services.Stores.open(args.home)
    return sign_in_now(stores, stores.accounts.get(args.email))


def interactive_sign_in():  # type: ignore[no-untyped-def]
    """For send/retry/export: open the browser when a sign-in is missing, if a person is at the
    terminal; otherwise None (the message then says "sign in again")."""
    if not sys.stdin.isatty():
        return None
    from ..services.signin import browser_sign_in

    return browser_sign_in(webbrowser.open, _show_url)
