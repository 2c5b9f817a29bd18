"""Where the sign-in lives, and the access token every SMTP/IMAP login asks for.

- The refresh token (the long-lived sign-in) is kept only in the OS keyring. Without a secure
  keyring it is kept in this process's memory: the user signs in again in the next session, and
  nothing is ever written to a file.
- Access tokens (an hour or so) are kept in memory only and renewed silently with the refresh
  token shortly before they expire, or at once when a server refuses one.
- Providers rotate refresh tokens (Entra ID does, node-oidc-provider does for public clients and
  revokes the whole sign-in when an old one is used again). Two smimehelper processes (the app and
  a CLI ``send``) must therefore never renew with the same refresh token at once: renewal holds a
  lock file per account and re-reads the keyring once it holds it.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .client import TokenSet, refresh
from .errors import OAuthError, SignInRequired, sign_in_again_hint
from .providers import OAuthProvider

if TYPE_CHECKING:
    from ...secrets import SecretStore

EARLY_RENEWAL_SECONDS = 120  # renew a bit before expiry: a send may take minutes
LOCK_SECONDS = 60

# This process's memory: refresh tokens when there is no keyring, and every access token.
_memory_refresh: dict[tuple[str, str], str] = {}
_memory_access: dict[tuple[str, str], TokenSet] = {}
_memory_lock = threading.Lock()


@dataclass(frozen=True)
class AccessToken:
    value: str
    fresh: bool  # obtained just now (a refusal cannot be a stale cache then)

    def __repr__(self) -> str:
        return f"AccessToken(fresh={self.fresh})"


def _key_name(email: str) -> str:
    return f"oauth-refresh:{email.lower()}"


class TokenStore:
    """Refresh tokens in the keyring (else memory), access tokens in memory, one lock per account."""

    def __init__(self, home: Path, secrets: SecretStore) -> None:
        self.home = Path(home)
        self.secrets = secrets

    def _mem_key(self, email: str) -> tuple[str, str]:
        return (str(self.home), email.lower())

    def persistent(self) -> bool:
        return self.secrets.available()

    def refresh_token(self, email: str) -> str | None:
        stored = self.secrets.get(_key_name(email)) if self.secrets.available() else None
        if stored:
            return stored.decode("utf-8")
        with _memory_lock:
            return _memory_refresh.get(self._mem_key(email))

    def save(self, email: str, tokens: TokenSet) -> bool:
        """Keep the tokens; returns whether the sign-in outlives this session (keyring)."""
        with _memory_lock:
            _memory_access[self._mem_key(email)] = tokens
        if not tokens.refresh_token:
            return self.persistent() and self.secrets.get(_key_name(email)) is not None
        if self.secrets.put(_key_name(email), tokens.refresh_token.encode("utf-8")):
            with _memory_lock:
                _memory_refresh.pop(self._mem_key(email), None)
            return True
        with _memory_lock:
            _memory_refresh[self._mem_key(email)] = tokens.refresh_token
        return False

    def cached_access(self, email: str) -> TokenSet | None:
        with _memory_lock:
            return _memory_access.get(self._mem_key(email))

    def drop_access(self, email: str, value: str | None = None) -> None:
        with _memory_lock:
            current = _memory_access.get(self._mem_key(email))
            if current is not None and (value is None or current.access_token == value):
                del _memory_access[self._mem_key(email)]

    def forget(self, email: str) -> None:
        """Sign out on this computer: the refresh token and any access token are gone."""
        self.secrets.delete(_key_name(email))
        with _memory_lock:
            _memory_refresh.pop(self._mem_key(email), None)
            _memory_access.pop(self._mem_key(email), None)

    @contextlib.contextmanager
    def renewal_lock(self, email: str) -> Iterator[None]:
        """Held while a refresh token is used, across processes (a lock file per account; filelock,
        the library the disclosure log uses too: flock on POSIX, LockFileEx on Windows)."""
        from filelock import FileLock, Timeout

        folder = self.home / "locks"
        name = hashlib.sha256(email.lower().encode("utf-8")).hexdigest()[:24]
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            lock = FileLock(str(folder / f"oauth-{name}.lock"), timeout=LOCK_SECONDS, mode=0o600)
            lock.acquire()
        except Timeout:
            raise OAuthError("Another smimehelper window is renewing the sign-in and does not finish; try again.") from None
        except OSError as exc:
            raise OAuthError(f"smimehelper cannot write in its data folder {self.home} ({exc.strerror}), which it needs "
                             "to renew the sign-in safely. Free some space or fix the folder's permissions.") from None
        try:
            yield
        finally:
            lock.release()


SignIn = Callable[[OAuthProvider, str], TokenSet]
"""Run the browser sign-in for (provider, email); supplied by the face (CLI, GUI) when it can."""


class TokenSource:
    """The credential of an OAuth account: hands out access tokens, renews them, asks for a
    sign-in only through ``sign_in`` (never a password), else says "sign in again"."""

    def __init__(self, email: str, provider: Callable[[], OAuthProvider], store: TokenStore, sign_in: SignIn | None = None) -> None:
        self.email = email.lower()
        self._provider_factory = provider
        self._provider: OAuthProvider | None = None
        self.store = store
        self.sign_in = sign_in

    def __repr__(self) -> str:
        return f"TokenSource({self.email!r})"

    @property
    def provider(self) -> OAuthProvider:
        if self._provider is None:
            self._provider = self._provider_factory()
        return self._provider

    def current(self) -> AccessToken:
        """An access token valid for the next minutes: cached, renewed, or from a new sign-in."""
        cached = self.store.cached_access(self.email)
        if cached is not None and cached.expires_at - EARLY_RENEWAL_SECONDS > time.time():
            return AccessToken(cached.access_token, fresh=False)
        return self.renew()

    def renew(self, refused: str | None = None) -> AccessToken:
        """A new access token from the refresh token (the server refused ``refused``, or it expired)."""
        self.store.drop_access(self.email, refused)
        with self.store.renewal_lock(self.email):
            cached = self.store.cached_access(self.email)  # another thread may have renewed meanwhile
            if cached is not None and cached.access_token != refused and cached.expires_at - EARLY_RENEWAL_SECONDS > time.time():
                return AccessToken(cached.access_token, fresh=True)
            refresh_token = self.store.refresh_token(self.email)  # re-read: another process may have rotated it
            if refresh_token:
                try:
                    tokens = refresh(self.provider, refresh_token, email=self.email)
                except SignInRequired:
                    self.store.forget(self.email)
                    if self.sign_in is None:
                        raise
                else:
                    self.store.save(self.email, tokens)
                    return AccessToken(tokens.access_token, fresh=True)
        # No usable refresh token: a new sign-in in the browser (outside the lock: it takes minutes).
        if self.sign_in is None:
            raise SignInRequired(
                f"{self.email} signs in with {self.provider_name()} and is not signed in on this computer"
                f"{'' if self.store.persistent() else ' in this session (there is no keyring to remember it)'}. "
                f"{sign_in_again_hint(self.email)}"
            )
        tokens = self.sign_in(self.provider, self.email)
        self.store.save(self.email, tokens)
        return AccessToken(tokens.access_token, fresh=True)

    def provider_name(self) -> str:
        try:
            return self.provider.name
        except OAuthError:
            return "its provider"
