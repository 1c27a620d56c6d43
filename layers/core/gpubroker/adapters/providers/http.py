"""The one HTTP client every provider adapter uses: stdlib urllib, timeouts, bounded retries with full jitter.

Retried (exponential backoff, full jitter, at most ``max_attempts`` tries in all): 429 (waiting what
``Retry-After`` asks, in seconds or as an HTTP-date), 500/502/503/504, timeouts and dropped connections.
Never retried: any other 4xx (401/403/404 fail at once with a message naming the provider and the status),
redirects (not followed: they could carry credentials to another host), malformed JSON.
Every failure surfaces as :class:`SourceError`; messages name the provider, status, host and path but never
the query string or headers (which can carry API keys).
"""

from __future__ import annotations

import http.client
import json
import random
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import Any

from gpubroker.domain.errors import SourceError

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_MAX_BYTES = 64 * 1024 * 1024
_USER_AGENT = "gpubroker-ingest/1"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx then surfaces as HTTPError and is reported, not followed


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


class _Retry(Exception):
    """A retryable failure; ``wait_s`` is what the server asked for (Retry-After), if anything."""

    def __init__(self, message: str, wait_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.wait_s = wait_s


def retry_after_seconds(value: str | None, *, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now`` (epoch s): delta-seconds or an HTTP-date; None if absent/garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class HttpClient:
    """JSON over HTTP(S) for one provider. ``sleep``/``rng``/``clock`` are injectable so tests never wait."""

    provider: str = "provider"
    timeout_s: float = 20.0
    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    max_retry_after_s: float = 120.0  # a longer Retry-After fails the run instead of stalling the Lambda
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], float] = time.time
    ssl_context: ssl.SSLContext | None = None

    def with_provider(self, provider: str) -> HttpClient:
        return replace(self, provider=provider)

    # -- public API ---------------------------------------------------------------------------------------------
    def get_json(
        self, url: str, *, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        return self.request_json("GET", url, params=params, headers=headers)

    def post_json(
        self,
        url: str,
        body: Any,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        return self.request_json("POST", url, params=params, headers=hdrs, data=json.dumps(body).encode())

    def request_json(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> Any:
        response = self.request(method, url, params=params, headers=headers, data=data)
        try:
            return json.loads(response.body.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SourceError(
                f"{self.provider}: malformed JSON from {_where(url)} ({exc.__class__.__name__})"
            ) from None

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> Response:
        """One logical request with retries. Raises :class:`SourceError` when it cannot succeed."""
        full = _with_params(url, params)
        if not full.startswith(("https://", "http://")):
            raise SourceError(f"{self.provider}: unsupported URL scheme in {_where(full)}")
        last = ""
        for attempt in range(1, max(1, self.max_attempts) + 1):
            try:
                return self._once(method, full, headers or {}, data)
            except _Retry as retry:
                last = retry.message
                if attempt >= self.max_attempts:
                    break
                self.sleep(self._delay(attempt, retry.wait_s))
        raise SourceError(f"{self.provider}: giving up after {self.max_attempts} attempts: {last}")

    # -- internals ----------------------------------------------------------------------------------------------
    def _delay(self, attempt: int, asked: float | None) -> float:
        if asked is not None:
            return asked
        cap = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return self.rng.uniform(0.0, cap)  # full jitter

    def _opener(self) -> urllib.request.OpenerDirector:
        return urllib.request.build_opener(_NoRedirect(), urllib.request.HTTPSHandler(context=self.ssl_context))

    def _once(self, method: str, url: str, headers: Mapping[str, str], data: bytes | None) -> Response:
        req = urllib.request.Request(  # noqa: S310 - scheme checked in request()
            url, data=data, method=method, headers={"User-Agent": _USER_AGENT, "Accept": "application/json", **headers}
        )
        where = _where(url)
        try:
            with self._opener().open(req, timeout=self.timeout_s) as resp:
                body = resp.read(_MAX_BYTES + 1)
                status, resp_headers = resp.status, dict(resp.headers.items())
        except urllib.error.HTTPError as err:
            raise self._http_error(err, where) from None
        except TimeoutError as exc:
            raise _Retry(f"timeout after {self.timeout_s:g} s from {where}") from exc
        except (ConnectionResetError, http.client.RemoteDisconnected, http.client.IncompleteRead) as exc:
            raise _Retry(f"connection dropped by {where} ({type(exc).__name__})") from exc
        except urllib.error.URLError as err:
            if isinstance(err.reason, TimeoutError):
                raise _Retry(f"timeout after {self.timeout_s:g} s from {where}") from None
            if isinstance(err.reason, ConnectionResetError):
                raise _Retry(f"connection reset by {where}") from None
            raise SourceError(f"{self.provider}: cannot reach {where}: {err.reason}") from None
        except OSError as exc:
            raise SourceError(f"{self.provider}: cannot reach {where}: {type(exc).__name__}") from None
        if len(body) > _MAX_BYTES:
            raise SourceError(f"{self.provider}: answer from {where} is larger than {_MAX_BYTES} bytes")
        return Response(status=status, headers=resp_headers, body=body)

    def _http_error(self, err: urllib.error.HTTPError, where: str) -> Exception:
        status = err.code
        err.close()
        if status in RETRYABLE_STATUS:
            wait = retry_after_seconds(err.headers.get("Retry-After"), now=self.clock()) if status == 429 else None
            if wait is not None and wait > self.max_retry_after_s:
                return SourceError(f"{self.provider}: rate limited by {where}, Retry-After {wait:.0f} s is too long")
            return _Retry(f"HTTP {status} from {where}", wait_s=wait)
        hint = {401: " (check the API key)", 403: " (key lacks permission)", 404: " (wrong endpoint?)"}.get(status, "")
        return SourceError(f"{self.provider}: HTTP {status} from {where}{hint}")


def _with_params(url: str, params: Mapping[str, str] | None) -> str:
    if not params:
        return url
    sep = "&" if urllib.parse.urlsplit(url).query else "?"
    return f"{url}{sep}{urllib.parse.urlencode(params)}"


def _where(url: str) -> str:
    """Host and path only: query strings can carry API keys."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def join(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def same_host_link(base_url: str, link: str) -> str:
    """A provider's absolute next-page link re-based onto ``base_url`` (path and query kept, host ours)."""
    parts = urllib.parse.urlsplit(link)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    return join(base_url, tail)
