"""The account model's log-in method: presets sign in by default, passwords stay possible."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smimehelper.core.transport import accounts as accounts_module
from smimehelper.core.transport.accounts import AccountError, AccountStore, make_account
from smimehelper.core.transport.oauth.client import TokenSet
from tests.transport.oauth_servers import MemorySecrets as _Secrets

MS_ID = "11111111-2222-3333-4444-555555555555"


@pytest.mark.parametrize("email, kind", [("dr@outlook.com", "microsoft"), ("dr@hotmail.de", "microsoft"), ("dr@gmail.com", "google")])
def test_presets_sign_in_by_default(email: str, kind: str) -> None:
    account = make_account(email, oauth_client_id="cid-from-it")
    assert account.auth == "oauth2" and account.oauth_provider == kind and account.oauth_client_id == "cid-from-it"


def test_without_a_client_id_the_user_learns_what_to_ask_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(accounts_module.__dict__, "_discovered", {})
    with pytest.raises(AccountError, match="--oauth-client-id") as info:
        make_account("dr@gmail.com")
    assert "--password" in str(info.value)


def test_default_client_ids_are_used_when_built_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from smimehelper.core.transport.oauth import providers

    monkeypatch.setitem(providers.DEFAULT_CLIENT_IDS, "microsoft", MS_ID)
    assert make_account("dr@outlook.com").oauth_client_id == MS_ID


def test_passwords_stay_possible() -> None:
    assert make_account("dr@gmail.com", auth="password").auth == "password"  # an app password
    assert make_account("dr@icloud.com").auth == "password"
    assert make_account("dr@praxis.example", smtp_host="mail.praxis.example").auth == "password"


def test_own_domain_at_microsoft_365() -> None:
    account = make_account("dr@praxis-mueller.de", provider="microsoft", oauth_client_id=MS_ID, oauth_tenant="praxis-mueller.onmicrosoft.com")
    assert (account.smtp_host, account.imap_host) == ("smtp.office365.com", "outlook.office365.com")
    assert account.auth == "oauth2" and account.oauth_tenant == "praxis-mueller.onmicrosoft.com"
    provider = accounts_module.oauth_provider(account)
    assert provider.token_endpoint == "https://login.microsoftonline.com/praxis-mueller.onmicrosoft.com/oauth2/v2.0/token"
    assert provider.client_secret is None


def test_oauth_for_an_unknown_provider_needs_its_address() -> None:
    with pytest.raises(AccountError, match="--provider microsoft"):
        make_account("dr@praxis.example", smtp_host="mail.praxis.example", auth="oauth2", oauth_client_id="x")
    custom = make_account("dr@praxis.example", smtp_host="mail.praxis.example", oauth_issuer="https://login.praxis.example",
                          oauth_client_id="x", oauth_scopes="openid offline_access mail", sasl="oauthbearer")
    assert (custom.auth, custom.oauth_provider, custom.sasl) == ("oauth2", "custom", "OAUTHBEARER")


@pytest.mark.parametrize("bad", ["id\r\nInjected: 1", "id\x00", "x" * 300])
def test_settings_with_control_characters_or_huge_are_refused(bad: str) -> None:
    with pytest.raises(AccountError):
        make_account("dr@outlook.com", oauth_client_id=bad)
    with pytest.raises(AccountError):
        make_account("dr@outlook.com", oauth_client_id=MS_ID, oauth_tenant=bad)


def test_bad_tenant_and_http_issuer_are_refused() -> None:
    account = make_account("dr@outlook.com", oauth_client_id=MS_ID, oauth_tenant="../evil")
    with pytest.raises(Exception, match="tenant"):
        accounts_module.oauth_provider(account)
    from smimehelper.core.transport.oauth import providers
    from smimehelper.core.transport.oauth.errors import ProviderConfigError

    with pytest.raises(ProviderConfigError, match="https"):
        providers.discover("http://login.praxis.example", "x")


def test_account_file_from_before_loads_as_password(tmp_path: Path) -> None:
    (tmp_path / "accounts.json").write_text(json.dumps({"kind": "accounts", "schema": 1, "accounts": [
        {"email": "dr@praxis.example", "smtp_host": "mail.praxis.example", "smtp_port": 587, "security": "starttls",
         "username": "dr@praxis.example", "a_field_from_the_future": 1}]}))
    (account,) = AccountStore(tmp_path, _Secrets()).list()
    assert account.auth == "password" and not account.uses_oauth


def test_switching_the_log_in_method_removes_the_other_secret(tmp_path: Path) -> None:
    store = AccountStore(tmp_path, _Secrets())
    password_account = make_account("dr@outlook.com", auth="password")
    store.add(password_account, b"app-password")
    assert store.password(password_account) == b"app-password"
    oauth_account = make_account("dr@outlook.com", oauth_client_id=MS_ID)
    store.add(oauth_account, None)
    assert store.secrets.get("account:dr@outlook.com") is None and store.password(oauth_account) is None
    store.tokens.save(oauth_account.email, TokenSet("at", 9e9, "rt"))
    store.add(password_account, b"again")
    assert store.tokens.refresh_token(oauth_account.email) is None
    store.remove(oauth_account.email)
    assert store.secrets.get("account:dr@outlook.com") is None


def test_the_account_file_holds_no_token(tmp_path: Path) -> None:
    store = AccountStore(tmp_path, _Secrets())
    account = make_account("dr@outlook.com", oauth_client_id=MS_ID)
    store.add(account, None)
    store.tokens.save(account.email, TokenSet("access-SECRET", 9e9, "refresh-SECRET"))
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"SECRET" not in path.read_bytes()
    assert store.secrets.get("oauth-refresh:dr@outlook.com") == b"refresh-SECRET"


def test_without_keyring_the_sign_in_stays_in_memory_only(tmp_path: Path) -> None:
    class NoKeyring(_Secrets):
        def available(self) -> bool:
            return False

        def put(self, name: str, secret: bytes) -> bool:
            return False

    store = AccountStore(tmp_path, NoKeyring())
    assert store.tokens.save("dr@outlook.com", TokenSet("at", 9e9, "refresh-SECRET")) is False
    assert store.tokens.refresh_token("dr@outlook.com") == "refresh-SECRET"  # this session
    assert not any(b"SECRET" in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert AccountStore(tmp_path / "other", NoKeyring()).tokens.refresh_token("dr@outlook.com") is None
