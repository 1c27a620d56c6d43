"""The one HTTP client every provider adapter uses: urllib3, one connection pool per client, timeouts, bounded
retries with full jitter, and the provider's circuit breaker on every attempt.

**Connections.** A client keeps its connections alive in a ``urllib3.PoolManager`` (one per client: a client is
built per ingestion run, and ``with_provider`` copies share it), so a provider's pages reuse one TCP (and TLS)
connection instead of one per page.

**Retries.** Retried (exponential backoff, full jitter, at most ``max_attempts`` tries per request): 429 (waiting
what ``Retry-After`` asks, in seconds or as an HTTP-date), 500/502/503/504, timeouts, refused, reset and dropped
connections. Never retried: any other 4xx (401/403/404 fail at once with a message naming the provider and the
status), redirects (not followed: they could carry credentials to another host), TLS errors, malformed JSON.
Every request of a client shares one time budget (``budget_s``, from its first request): no attempt starts after
it and none runs past it, so a run's retries fit in the ingestion function's timeout.

**Breaker.** With a ``breaker``, every attempt asks it first (``BreakerOpen`` when it is open: the request is not
made) and reports its outcome: a fault of the provider (a retryable status, a timeout, a connection it refused or
dropped, a TLS failure) is a failure, any other answer a success. Failures are thus counted where they happen, so
a dead provider opens its breaker within one run (five failing attempts), not after five hourly runs.

**One attempt.** ``attempt`` (a create-instance call: retrying it blindly could create twice) makes exactly one
attempt, returns any HTTP status for the caller to map, and raises :class:`TransportFailed` when no answer came
(``timed_out``: the request may have been processed).

Every failure surfaces as :class:`SourceError`; messages name the provider, status, host and path but never the
query string or headers (which can carry API keys).
"""

from __future__ import annotations

import json
import random
import ssl
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import (
    LocationParseError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from gpubroker.domain.breaker import BreakerOpen
from gpubroker.domain.errors import SourceError

if TYPE_CHECKING:
    from gpubroker.adapters.breaker import CircuitBreaker

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_MAX_BYTES = 64 * 1024 * 1024
_USER_AGENT = "gpubroker-ingest/1"


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


class TransportFailed(SourceError):
    """No HTTP answer: a timeout (``timed_out``: the request may have been processed) or a connection refused or
    dropped."""

    def __init__(self, message: str, *, timed_out: bool) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class _Fault(SourceError):
    """A failure of the provider that is not retried (a TLS error): counted by the breaker all the same."""


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


def _pool(ssl_context: ssl.SSLContext | None) -> urllib3.PoolManager:
    return urllib3.PoolManager(num_pools=4, maxsize=4, retries=False, ssl_context=ssl_context)


@dataclass(frozen=True)
class HttpClient:
    """JSON over HTTP(S) for one provider. ``sleep``/``rng``/``clock``/``monotonic`` are injectable so tests never
    wait. One client per run: its pool keeps the connections, its budget bounds the run's requests."""

    provider: str = "provider"
    timeout_s: float = 20.0
    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    max_retry_after_s: float = 120.0  # a longer Retry-After fails the run instead of stalling the Lambda
    budget_s: float = 90.0  # every request of this client, retries included (IngestOffersFunction: Timeout 120)
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    ssl_context: ssl.SSLContext | None = None
    breaker: CircuitBreaker | None = None
    pool: urllib3.PoolManager | None = field(default=None, compare=False, repr=False)
    _run: dict[str, float] = field(default_factory=dict, compare=False, repr=False)  # budget start, attempts

    def __post_init__(self) -> None:
        if self.pool is None:
            object.__setattr__(self, "pool", _pool(self.ssl_context))

    def with_provider(self, provider: str) -> HttpClient:
        return replace(self, provider=provider)

    def with_breaker(self, breaker: CircuitBreaker) -> HttpClient:
        return replace(self, breaker=breaker)

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
        """One logical request with retries. Raises :class:`SourceError` when it cannot succeed (``BreakerOpen``
        when the provider's breaker refuses an attempt)."""
        full = _with_params(url, params)
        if not full.startswith(("https://", "http://")):
            raise SourceError(f"{self.provider}: unsupported URL scheme in {_where(full)}")
        deadline = self._run.setdefault("started", self.monotonic()) + self.budget_s
        last = ""
        attempts = 0
        for attempt in range(1, max(1, self.max_attempts) + 1):
            remaining = deadline - self.monotonic()
            if remaining <= 0:
                last += f" (the run's {self.budget_s:g} s budget is spent)"
                break
            self._allow(attempt)
            attempts = attempt
            self._run["attempts"] = self._run.get("attempts", 0) + 1
            try:
                response = self._once(method, full, headers or {}, data, min(self.timeout_s, remaining))
            except _Retry as retry:
                self._report(failed=True)
                last = retry.message
                if attempt >= self.max_attempts:
                    break
                delay = self._delay(attempt, retry.wait_s)
                if self.monotonic() + delay >= deadline:
                    last += f" (the run's {self.budget_s:g} s budget is spent)"
                    break
                self.sleep(delay)
                continue
            except _Fault:
                self._report(failed=True)
                raise
            except SourceError:
                self._report(failed=False)  # the provider answered (a 401, a 404): it is up
                raise
            self._report(failed=False)
            return response
        if attempts == 0:
            raise SourceError(f"{self.provider}: the run's {self.budget_s:g} s budget is spent")
        raise SourceError(f"{self.provider}: giving up after {attempts} attempts: {last}")

    def attempt(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> Response:
        """Exactly one attempt, never retried (a create call: retrying it blindly could create twice), with the
        breaker asked and told. Any HTTP status comes back as a :class:`Response` for the caller to map; a
        timeout or a refused/dropped connection raises :class:`TransportFailed` (``timed_out``: the request may
        have reached the provider)."""
        if not url.startswith(("https://", "http://")):
            raise SourceError(f"{self.provider}: unsupported URL scheme in {_where(url)}")
        self._allow(1)
        self._run["attempts"] = self._run.get("attempts", 0) + 1
        try:
            response = self._once(method, url, headers or {}, data, self.timeout_s, raw=True)
        except _Retry as retry:
            self._report(failed=True)
            raise TransportFailed(f"{self.provider}: {retry.message}", timed_out="timeout" in retry.message) from None
        except _Fault:
            self._report(failed=True)
            raise
        self._report(failed=response.status in RETRYABLE_STATUS)
        return response

    # -- internals ----------------------------------------------------------------------------------------------
    @property
    def attempts(self) -> int:
        """The attempts this client (and its copies) made so far: 0 means nothing was sent."""
        return int(self._run.get("attempts", 0))

    def _allow(self, attempt: int) -> None:
        """Ask the breaker. Open before this client sent anything: ``BreakerOpen`` (the run is skipped); open
        after attempts of its own (it opened on them): a failure of this run."""
        if self.breaker is None or self.breaker.allow():
            return
        if self.attempts == 0:
            raise BreakerOpen(
                f"provider {self.provider} is unavailable (circuit breaker open)", details={"provider": self.provider}
            )
        raise SourceError(f"{self.provider}: circuit breaker opened after {self.attempts} failing attempts")

    def _report(self, *, failed: bool) -> None:
        if self.breaker is None:
            return
        if failed:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()

    def _delay(self, attempt: int, asked: float | None) -> float:
        if asked is not None:
            return asked
        cap = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return self.rng.uniform(0.0, cap)  # full jitter

    def _once(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        data: bytes | None,
        timeout_s: float,
        *,
        raw: bool = False,
    ) -> Response:
        assert self.pool is not None
        where = _where(url)
        try:
            resp = self.pool.request(
                method,
                url,
                body=data,
                headers={"User-Agent": _USER_AGENT, "Accept": "application/json", **headers},
                timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s),
                redirect=False,
                retries=False,
                preload_content=False,
            )
        except (ReadTimeoutError, Urllib3Timeout) as exc:
            if isinstance(exc, NewConnectionError):  # refused, unreachable, no such host (a ConnectTimeoutError)
                raise _Retry(f"cannot reach {where} ({type(exc).__name__})") from None
            raise _Retry(f"timeout after {timeout_s:g} s from {where}") from None
        except ProtocolError as exc:
            raise _Retry(f"connection dropped by {where} ({type(exc.__cause__ or exc).__name__})") from None
        except SSLError:
            raise _Fault(f"{self.provider}: TLS failure with {where}") from None
        except LocationParseError:
            raise SourceError(f"{self.provider}: malformed URL {where}") from None
        except (Urllib3Error, OSError) as exc:
            raise _Retry(f"cannot reach {where} ({type(exc).__name__})") from None
        try:
            body = resp.read(_MAX_BYTES + 1)
        except (ReadTimeoutError, Urllib3Timeout):
            resp.close()
            raise _Retry(f"timeout after {timeout_s:g} s from {where}") from None
        except (ProtocolError, OSError) as exc:
            resp.close()
            raise _Retry(f"connection dropped by {where} ({type(exc).__name__})") from None
        if len(body) > _MAX_BYTES:
            resp.close()
            raise SourceError(f"{self.provider}: answer from {where} is larger than {_MAX_BYTES} bytes")
        resp.release_conn()  # read to the end: the connection goes back to the pool for the next page
        status, resp_headers = resp.status, dict(resp.headers.items())
        if status >= 300 and not raw:
            raise self._http_error(status, resp_headers, where)
        return Response(status=status, headers=resp_headers, body=body)

    def _http_error(self, status: int, headers: Mapping[str, str], where: str) -> Exception:
        if status in RETRYABLE_STATUS:
            retry_after = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
            wait = retry_after_seconds(retry_after, now=self.clock()) if status == 429 else None
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
