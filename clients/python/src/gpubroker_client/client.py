"""``Client`` (sync) and ``AsyncClient``: the same calls (``gpubroker_client.calls``), the same retry and refresh
decisions (``_Base``); they differ only in how they send and wait.

>>> from gpubroker_client import Client
>>> with Client() as api:                                   # GPUBROKER_API or http://127.0.0.1:3000
...     for offer in api.iter_offers(gpu=["H100"], max_price_per_gpu_hour=3):
...         print(offer.provider, offer.price_per_gpu_hour)
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar, Unpack

import httpx

from gpubroker_client import calls as c
from gpubroker_client import models as m
from gpubroker_client import stream
from gpubroker_client._core import DEFAULT_API, Call, RetryPolicy, decode, query
from gpubroker_client.errors import ApiError, ApiUnreachable, NotSignedIn, describe
from gpubroker_client.session import Session, TokenStore

T = TypeVar("T")
P = TypeVar("P", m.OfferPage, m.BookingPage)
SETTLED = frozenset({"confirmed", "failed", "cancelled", "needs_attention"})


class _Step(Enum):
    REFRESH = "refresh"  # the access token expired: refresh the session, then send the call again


REFRESH = _Step.REFRESH


class _Base:
    def __init__(
        self,
        api_url: str | None = None,
        *,
        ws_url: str | None = None,
        session: Session | None = None,
        store: TokenStore | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.api_url = (api_url or os.environ.get("GPUBROKER_API") or DEFAULT_API).rstrip("/")
        self.ws_url = ws_url or os.environ.get("GPUBROKER_WS") or stream.default_ws_url(self.api_url)
        self.store = store
        self.session = session if session is not None or store is None else store.load(self.api_url)
        self.retry = retry or RetryPolicy()

    def _build(self, http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
        headers = dict(call.headers)
        if call.auth:
            if self.session is None:
                raise NotSignedIn("not signed in: log in first (gpubroker login)")
            headers.update(self.session.headers())
        return http.build_request(
            call.method, self.api_url + call.path, params=query(call.params), json=call.body, headers=headers
        )

    def _next(
        self, call: Call[Any], attempt: int, response: httpx.Response | None, error: Exception | None, refreshed: bool
    ) -> float | _Step | None:
        """After an attempt: REFRESH (the access token is refused: refresh once, then send again), seconds to wait
        before retrying, or None (done: decode the answer, or raise)."""
        if response is not None and response.status_code == 401 and call.auth and not refreshed and self.session:
            return REFRESH
        return self.retry.delay(call, attempt, response, error)

    def _adopt(self, tokens: m.Tokens, response: httpx.Response) -> Session:
        self.session = Session.from_tokens(tokens, response.headers.get_list("set-cookie"))
        if self.store is not None:
            self.store.save(self.api_url, self.session)
        return self.session

    def _signed_in(self) -> Session:
        if self.session is None:
            raise NotSignedIn("not signed in: log in first (gpubroker login)")
        return self.session

    def _refresh_call(self) -> Call[m.Tokens]:
        return c.refresh(self._signed_in().refresh_token, self._signed_in().cookie())

    def _logout_call(self) -> Call[m.LoggedOut]:
        return c.logout(self._signed_in().refresh_token, self._signed_in().cookie())

    def _forget(self) -> None:
        self.session = None
        if self.store is not None:
            self.store.clear(self.api_url)

    def _session_ended(self, err: ApiError) -> NotSignedIn:
        self._forget()
        return NotSignedIn(f"the session has ended ({err.code}): log in again (gpubroker login)")


class Client(_Base):
    """The synchronous client. ``sleep`` and ``transport`` are for tests (an ``httpx.MockTransport``)."""

    def __init__(
        self,
        api_url: str | None = None,
        *,
        ws_url: str | None = None,
        session: Session | None = None,
        store: TokenStore | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(api_url, ws_url=ws_url, session=session, store=store, retry=retry)
        self._http = httpx.Client(timeout=timeout, transport=transport, headers={"User-Agent": "gpubroker-client"})
        self._sleep = sleep

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def send(self, call: Call[T]) -> T:
        return self._exchange(call)[0]

    def _exchange(self, call: Call[T]) -> tuple[T, httpx.Response]:
        attempt, refreshed = 0, False
        while True:
            response: httpx.Response | None = None
            error: Exception | None = None
            try:
                response = self._http.send(self._build(self._http, call))
            except httpx.TransportError as exc:
                error = exc
            finally:
                self._http.cookies.clear()  # the fingerprint travels by hand (session.py)
            step = self._next(call, attempt, response, error, refreshed)
            if step is REFRESH:
                self.refresh()
                refreshed = True
                continue
            if step is None:
                if response is None:
                    raise ApiUnreachable(self.api_url, describe(error or RuntimeError("no answer")))
                return decode(call, response), response
            self._sleep(step)
            attempt += 1

    def _pages(self, page: Callable[[str | None], Call[P]]) -> Iterator[P]:
        cursor: str | None = None
        while True:
            answer = self.send(page(cursor))
            yield answer
            cursor = answer.next_cursor
            if not cursor:
                return

    # ---- offers, GPUs, market -------------------------------------------------------------------------------------
    def offers(
        self,
        *,
        sort: c.Sort | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        **filters: Unpack[c.OfferQuery],
    ) -> m.OfferPage:
        return self.send(c.offers(filters, sort=sort, limit=limit, cursor=cursor))

    def iter_offer_pages(
        self, *, sort: c.Sort | None = None, limit: int | None = None, **filters: Unpack[c.OfferQuery]
    ) -> Iterator[m.OfferPage]:
        return self._pages(lambda cur: c.offers(filters, sort=sort, limit=limit, cursor=cur))

    def iter_offers(
        self, *, sort: c.Sort | None = None, limit: int | None = None, **filters: Unpack[c.OfferQuery]
    ) -> Iterator[m.OfferOut]:
        for page in self.iter_offer_pages(sort=sort, limit=limit, **filters):
            yield from page.items

    def offer(self, offer_id: str) -> m.OfferOut:
        return self.send(c.offer(offer_id))

    def gpus(self) -> m.GpuList:
        return self.send(c.gpus())

    def gpu(self, model: str) -> m.GpuSpec:
        return self.send(c.gpu(model))

    def providers(self) -> m.ProviderList:
        return self.send(c.providers())

    def market_summary(self) -> m.MarketSummary:
        return self.send(c.market_summary())

    def readiness(self) -> m.Readiness:
        return self.send(c.readiness())

    def presets(self) -> m.PresetList:
        return self.send(c.presets())

    def preset(self, name: str, *, limit: int | None = None, personal: bool = False) -> m.PresetOut:
        return self.send(c.preset(name, limit=limit, personal=personal))

    def parse_workload(self, text: str) -> m.ParseAnswer:
        return self.send(c.parse_workload(text))

    def map_workload(self, workload: dict[str, Any], *, top: int | None = None) -> m.WorkloadMapping:
        return self.send(c.map_workload(workload, top=top))

    def prices(
        self, filters: Mapping[str, Any] | None = None, *, resume_from: int | None = None
    ) -> Generator[stream.StreamMessage, None, None]:
        """The live price feed (``GET /offers``' filter names) as an iterator of typed messages."""
        return stream.prices(self.ws_url, dict(filters or {}), session=self.session, resume_from=resume_from)

    # ---- session --------------------------------------------------------------------------------------------------
    def login(self, email: str, password: str) -> Session | m.MfaRequired:
        """Signed in (a Session, kept in ``store``), or MFA is on: pass the challenge and a code to verify_mfa."""
        answer, response = self._exchange(c.login(email, password))
        return answer if isinstance(answer, m.MfaRequired) else self._adopt(answer, response)

    def verify_mfa(self, challenge: str, code: str) -> Session:
        answer, response = self._exchange(c.verify_mfa(challenge, code))
        if not isinstance(answer, m.Tokens):
            raise ApiError(response.status_code, "unexpected_answer", "the challenge was an enrolment, not a login")
        return self._adopt(answer, response)

    def refresh(self) -> Session:
        """A new token pair for the session's refresh token and fingerprint (the client does this on a 401)."""
        try:
            tokens, response = self._exchange(self._refresh_call())
        except ApiError as err:
            if err.status in {400, 401}:
                raise self._session_ended(err) from err
            raise
        return self._adopt(tokens, response)

    def logout(self) -> None:
        """Revoke the session at the API and forget it here (forgotten even when the API cannot be told)."""
        try:
            self.send(self._logout_call())
        finally:
            self._forget()

    # ---- bookings -------------------------------------------------------------------------------------------------
    def book(
        self,
        offer_id: str,
        hours: int,
        *,
        idempotency_key: str | None = None,
        gpu_count: int | None = None,
        max_price_per_hour_cents: int | None = None,
    ) -> m.BookingAccepted:
        """``POST /bookings`` with an Idempotency-Key (a fresh one unless given: pass the same key to retry safely)."""
        return self.send(
            c.create_booking(
                offer_id,
                hours,
                idempotency_key=idempotency_key or str(uuid.uuid4()),
                gpu_count=gpu_count,
                max_price_per_hour_cents=max_price_per_hour_cents,
            )
        )

    def bookings(self, *, limit: int | None = None, cursor: str | None = None) -> m.BookingPage:
        return self.send(c.bookings(limit=limit, cursor=cursor))

    def iter_bookings(self, *, limit: int | None = None) -> Iterator[m.BookingView]:
        for page in self._pages(lambda cur: c.bookings(limit=limit, cursor=cur)):
            yield from page.items

    def booking(self, booking_id: str) -> m.BookingView:
        return self.send(c.booking(booking_id))

    def cancel_booking(self, booking_id: str) -> m.BookingView:
        return self.send(c.cancel_booking(booking_id))

    def wait_for_booking(
        self, booking_id: str, *, until: frozenset[str] = SETTLED, timeout_s: float = 120, poll_s: float = 0.5
    ) -> Iterator[m.BookingView]:
        """Each status the booking passes through (polled), ending with one in ``until`` (TimeoutError after
        ``timeout_s``); ``awaiting_payment`` counts once its ``checkout_url`` is there to pay."""
        watch = _BookingWatch(booking_id, until, time.monotonic() + timeout_s, timeout_s)
        while True:
            view = self.booking(booking_id)
            if watch.changed(view):
                yield view
            if watch.done(view):
                return
            self._sleep(poll_s)


@dataclass
class _BookingWatch:
    """``wait_for_booking``'s decisions, shared by both clients: what counts as news, and when to stop."""

    booking_id: str
    until: frozenset[str]
    deadline: float
    timeout_s: float
    last: tuple[str, str | None] | None = None

    def changed(self, view: m.BookingView) -> bool:
        seen, self.last = self.last, (view.status, view.checkout_url)
        return seen != self.last

    def done(self, view: m.BookingView) -> bool:
        if view.status in self.until and (view.status != "awaiting_payment" or view.checkout_url):
            return True
        if time.monotonic() > self.deadline:
            raise TimeoutError(f"booking {self.booking_id} still {view.status} after {self.timeout_s:.0f} s")
        return False


class AsyncClient(_Base):
    """The asyncio client: the same methods as ``Client``, awaited; iterators are async iterators."""

    def __init__(
        self,
        api_url: str | None = None,
        *,
        ws_url: str | None = None,
        session: Session | None = None,
        store: TokenStore | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        super().__init__(api_url, ws_url=ws_url, session=session, store=store, retry=retry)
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport, headers={"User-Agent": "gpubroker-client"})
        self._sleep = sleep

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, call: Call[T]) -> T:
        return (await self._exchange(call))[0]

    async def _exchange(self, call: Call[T]) -> tuple[T, httpx.Response]:
        attempt, refreshed = 0, False
        while True:
            response: httpx.Response | None = None
            error: Exception | None = None
            try:
                response = await self._http.send(self._build(self._http, call))
            except httpx.TransportError as exc:
                error = exc
            finally:
                self._http.cookies.clear()
            step = self._next(call, attempt, response, error, refreshed)
            if step is REFRESH:
                await self.refresh()
                refreshed = True
                continue
            if step is None:
                if response is None:
                    raise ApiUnreachable(self.api_url, describe(error or RuntimeError("no answer")))
                return decode(call, response), response
            await self._sleep(step)
            attempt += 1

    async def _pages(self, page: Callable[[str | None], Call[P]]) -> AsyncIterator[P]:
        cursor: str | None = None
        while True:
            answer = await self.send(page(cursor))
            yield answer
            cursor = answer.next_cursor
            if not cursor:
                return

    async def offers(
        self,
        *,
        sort: c.Sort | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        **filters: Unpack[c.OfferQuery],
    ) -> m.OfferPage:
        return await self.send(c.offers(filters, sort=sort, limit=limit, cursor=cursor))

    def iter_offer_pages(
        self, *, sort: c.Sort | None = None, limit: int | None = None, **filters: Unpack[c.OfferQuery]
    ) -> AsyncIterator[m.OfferPage]:
        return self._pages(lambda cur: c.offers(filters, sort=sort, limit=limit, cursor=cur))

    async def iter_offers(
        self, *, sort: c.Sort | None = None, limit: int | None = None, **filters: Unpack[c.OfferQuery]
    ) -> AsyncIterator[m.OfferOut]:
        async for page in self.iter_offer_pages(sort=sort, limit=limit, **filters):
            for item in page.items:
                yield item

    async def offer(self, offer_id: str) -> m.OfferOut:
        return await self.send(c.offer(offer_id))

    async def gpus(self) -> m.GpuList:
        return await self.send(c.gpus())

    async def gpu(self, model: str) -> m.GpuSpec:
        return await self.send(c.gpu(model))

    async def providers(self) -> m.ProviderList:
        return await self.send(c.providers())

    async def market_summary(self) -> m.MarketSummary:
        return await self.send(c.market_summary())

    async def readiness(self) -> m.Readiness:
        return await self.send(c.readiness())

    async def presets(self) -> m.PresetList:
        return await self.send(c.presets())

    async def preset(self, name: str, *, limit: int | None = None, personal: bool = False) -> m.PresetOut:
        return await self.send(c.preset(name, limit=limit, personal=personal))

    async def parse_workload(self, text: str) -> m.ParseAnswer:
        return await self.send(c.parse_workload(text))

    async def map_workload(self, workload: dict[str, Any], *, top: int | None = None) -> m.WorkloadMapping:
        return await self.send(c.map_workload(workload, top=top))

    def prices(
        self, filters: Mapping[str, Any] | None = None, *, resume_from: int | None = None
    ) -> AsyncGenerator[stream.StreamMessage, None]:
        return stream.aprices(self.ws_url, dict(filters or {}), session=self.session, resume_from=resume_from)

    async def login(self, email: str, password: str) -> Session | m.MfaRequired:
        answer, response = await self._exchange(c.login(email, password))
        return answer if isinstance(answer, m.MfaRequired) else self._adopt(answer, response)

    async def verify_mfa(self, challenge: str, code: str) -> Session:
        answer, response = await self._exchange(c.verify_mfa(challenge, code))
        if not isinstance(answer, m.Tokens):
            raise ApiError(response.status_code, "unexpected_answer", "the challenge was an enrolment, not a login")
        return self._adopt(answer, response)

    async def refresh(self) -> Session:
        try:
            tokens, response = await self._exchange(self._refresh_call())
        except ApiError as err:
            if err.status in {400, 401}:
                raise self._session_ended(err) from err
            raise
        return self._adopt(tokens, response)

    async def logout(self) -> None:
        try:
            await self.send(self._logout_call())
        finally:
            self._forget()

    async def book(
        self,
        offer_id: str,
        hours: int,
        *,
        idempotency_key: str | None = None,
        gpu_count: int | None = None,
        max_price_per_hour_cents: int | None = None,
    ) -> m.BookingAccepted:
        return await self.send(
            c.create_booking(
                offer_id,
                hours,
                idempotency_key=idempotency_key or str(uuid.uuid4()),
                gpu_count=gpu_count,
                max_price_per_hour_cents=max_price_per_hour_cents,
            )
        )

    async def bookings(self, *, limit: int | None = None, cursor: str | None = None) -> m.BookingPage:
        return await self.send(c.bookings(limit=limit, cursor=cursor))

    async def iter_bookings(self, *, limit: int | None = None) -> AsyncIterator[m.BookingView]:
        async for page in self._pages(lambda cur: c.bookings(limit=limit, cursor=cur)):
            for item in page.items:
                yield item

    async def booking(self, booking_id: str) -> m.BookingView:
        return await self.send(c.booking(booking_id))

    async def cancel_booking(self, booking_id: str) -> m.BookingView:
        return await self.send(c.cancel_booking(booking_id))

    async def wait_for_booking(
        self, booking_id: str, *, until: frozenset[str] = SETTLED, timeout_s: float = 120, poll_s: float = 0.5
    ) -> AsyncIterator[m.BookingView]:
        watch = _BookingWatch(booking_id, until, time.monotonic() + timeout_s, timeout_s)
        while True:
            view = await self.booking(booking_id)
            if watch.changed(view):
                yield view
            if watch.done(view):
                return
            await self._sleep(poll_s)
