"""A signed-in session (the token pair and the fingerprint cookie that binds them) and where it is kept.

The API binds every token pair to a fingerprint cookie (``__Host-gpb_fgp``, Secure): a token is refused without
it, and ``POST /auth/refresh`` needs it too. Cookie jars drop a ``Secure`` cookie over plain http (the local stack),
so the client keeps the fingerprint itself, beside the tokens, and sends it on every authenticated request.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any, Protocol

FINGERPRINT_COOKIE = "__Host-gpb_fgp"


@dataclass(frozen=True)
class Session:
    access_token: str
    refresh_token: str
    fingerprint: str
    access_expires_at: float  # epoch seconds
    refresh_expires_at: float

    @classmethod
    def from_tokens(cls, tokens: Any, set_cookies: Iterable[str], now: float | None = None) -> Session:
        """From a ``Tokens`` answer and its ``Set-Cookie`` headers (the fingerprint)."""
        fingerprint = fingerprint_from(set_cookies)
        if fingerprint is None:
            raise ValueError("the API issued tokens without the fingerprint cookie")
        t = time.time() if now is None else now
        return cls(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            fingerprint=fingerprint,
            access_expires_at=t + tokens.expires_in,
            refresh_expires_at=t + tokens.refresh_expires_in,
        )

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}", "Cookie": self.cookie()}

    def cookie(self) -> str:
        return f"{FINGERPRINT_COOKIE}={self.fingerprint}"


def fingerprint_from(set_cookies: Iterable[str]) -> str | None:
    for header in set_cookies:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            continue
        morsel = jar.get(FINGERPRINT_COOKIE)
        if morsel is not None and morsel.value:
            return morsel.value
    return None


class TokenStore(Protocol):
    """Where sessions are kept between runs, one per API URL."""

    def load(self, api_url: str) -> Session | None: ...
    def save(self, api_url: str, session: Session) -> None: ...
    def clear(self, api_url: str) -> None: ...


def default_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gpubroker" / "sessions.json"


class FileTokenStore:
    """A JSON file readable by its owner only (0600, in a 0700 folder), rewritten atomically."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        os.chmod(tmp, 0o600)  # an older file of another mode, reused
        os.replace(tmp, self.path)

    def load(self, api_url: str) -> Session | None:
        raw = self._read().get(api_url)
        try:
            return Session(**raw) if raw else None
        except TypeError:
            return None

    def save(self, api_url: str, session: Session) -> None:
        self._write({**self._read(), api_url: asdict(session)})

    def clear(self, api_url: str) -> None:
        data = self._read()
        if data.pop(api_url, None) is not None:
            self._write(data)


class KeyringTokenStore:
    """The OS keyring (the ``keyring`` extra): one entry per API URL."""

    SERVICE = "gpubroker"

    def __init__(self) -> None:
        import keyring  # type: ignore[import-not-found, unused-ignore]

        self._keyring: Any = keyring

    def load(self, api_url: str) -> Session | None:
        raw = self._keyring.get_password(self.SERVICE, api_url)
        try:
            return Session(**json.loads(raw)) if raw else None
        except (TypeError, ValueError):
            return None

    def save(self, api_url: str, session: Session) -> None:
        self._keyring.set_password(self.SERVICE, api_url, json.dumps(asdict(session)))

    def clear(self, api_url: str) -> None:
        if self._keyring.get_password(self.SERVICE, api_url) is not None:
            self._keyring.delete_password(self.SERVICE, api_url)


def token_store(kind: str | None = None) -> TokenStore:
    """``GPUBROKER_TOKEN_STORE``: ``file`` (the default) or ``keyring``."""
    kind = kind or os.environ.get("GPUBROKER_TOKEN_STORE", "file")
    if kind == "keyring":
        return KeyringTokenStore()
    return FileTokenStore(Path(os.environ["GPUBROKER_TOKEN_FILE"]) if os.environ.get("GPUBROKER_TOKEN_FILE") else None)
