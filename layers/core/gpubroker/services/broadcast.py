"""The price broadcaster: the offers table's stream as numbered changes, matched against every subscription that
can care, and delivered - by the broadcaster itself when few connections hear of a batch, else in chunks through
the fan-out queue to concurrent workers (``deliver`` runs in both places)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord, DynamoDBStreamEvent
from pydantic import ValidationError

from gpubroker.domain.errors import DomainError
from gpubroker.domain.search import OfferFilters
from gpubroker.domain.subscriptions import (
    REORDER_WINDOW_S,
    DeliveryChunk,
    Event,
    OfferChange,
    Resync,
    SubscriptionFilters,
    candidate_keys,
    change_message,
    event_for,
    frames,
    offer_change,
)
from gpubroker.services.offer_filters import normalise_filters, offer_matches

if TYPE_CHECKING:
    from gpubroker.ports import Clock, ConnectionPoster, ConnectionRepository, FanoutQueue, PriceFeed

log = logging.getLogger(__name__)

DIRECT_LIMIT = 200
"""Up to this many connections the broadcaster posts itself; more go to the fan-out queue in chunks."""
CHUNK_SIZE = 200
"""Connections per fan-out chunk (one queue message, one worker's share)."""
MAX_CHUNK_BYTES = 200_000  # under SQS's 256 KB message limit


def _plain(value: Any) -> Any:
    """A stream image as the offers table's JSON (``Offer.model_dump(mode="json")``): DynamoDB numbers back to int
    or float, sets to lists (what ``adapters.dynamodb.from_item`` reads)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(v) for v in value]
    return value


def _record_change(record: DynamoDBRecord, clock: Clock) -> OfferChange | None:
    ddb = record.dynamodb
    if ddb is None:
        return None
    raw_ts = record.raw_event["dynamodb"].get("ApproximateCreationDateTime")
    ts = datetime.fromtimestamp(float(raw_ts), UTC) if raw_ts is not None else clock.now()
    return offer_change(_plain(ddb.old_image) or None, _plain(ddb.new_image) or None, ts)


def stream_changes(event: Mapping[str, Any], *, clock: Clock) -> list[OfferChange]:
    """The visible changes in a DynamoDB Streams batch (NEW_AND_OLD_IMAGES), in order. A change's ``ts`` is the
    record's ``ApproximateCreationDateTime`` (when DynamoDB took the write), else ``clock``'s now. Raises on a
    record it cannot read (:func:`read_stream` says which one instead)."""
    out: list[OfferChange] = []
    for record in DynamoDBStreamEvent(dict(event)).records:
        change = _record_change(record, clock)
        if change is not None:
            out.append(change)
    return out


class UnreadableStreamRecord(Exception):
    """The first record of a stream batch cannot be read (an image the broadcaster cannot interpret: a price that
    is not a number, a malformed attribute). Raised so that Lambda bisects the batch (BisectBatchOnFunctionError):
    the record ends alone, after its retries, in the event source's on-failure destination, and the records around
    it are delivered."""


@dataclass(frozen=True)
class StreamBatch:
    """A stream batch read record by record: the changes of the records before the first unreadable one, and that
    record's ``SequenceNumber`` (None when every record was read), its index in the batch and why it failed."""

    changes: list[OfferChange]
    failed_at: str | None = None
    failed_index: int = 0
    reason: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.reason)

    def batch_item_failures(self) -> list[dict[str, str]]:
        """The partial batch response of a DynamoDB stream (``ReportBatchItemFailures``): the first failed record's
        sequence number; Lambda checkpoints before it and retries from it."""
        return [] if self.failed_at is None else [{"itemIdentifier": self.failed_at}]


def read_stream(event: Mapping[str, Any], *, clock: Clock) -> StreamBatch:
    """:func:`stream_changes`, stopping at the first record that cannot be read: the records after it come back
    with it (Lambda retries from the reported sequence number), so they are not broadcast now."""
    out: list[OfferChange] = []
    for index, record in enumerate(DynamoDBStreamEvent(dict(event)).records):
        try:
            change = _record_change(record, clock)
        except Exception as exc:  # any record this code cannot interpret is a poison record, whatever the cause
            sequence = str((record.raw_event.get("dynamodb") or {}).get("SequenceNumber") or "")
            log.error("unreadable stream record %s (index %d): %r", sequence, index, exc)
            return StreamBatch(
                out, failed_at=sequence or None, failed_index=index, reason=f"{type(exc).__name__}: {exc}"
            )
        if change is not None:
            out.append(change)
    return StreamBatch(out)


@lru_cache(maxsize=4096)
def stored_filters(canonical: str) -> OfferFilters | None:
    """A stored subscription's filters (any protocol version), normalised; None when they no longer validate."""
    try:
        return normalise_filters(SubscriptionFilters.model_validate_json(canonical).filters())
    except (ValidationError, DomainError):
        log.warning("unreadable stored subscription filters %s", canonical)
        return None


def matches(image: Mapping[str, Any] | None, filters: OfferFilters) -> bool:
    """Whether an offer image passes the filters (``GET /offers``'s predicate); a missing image never does."""
    if image is None:
        return False
    try:
        return offer_matches(image, filters)
    except (KeyError, TypeError):  # an image without the fields every stored offer has: nobody can want it
        log.warning("offer image without its fields: %s", image.get("offer_id"))
        return False


Heard = tuple[int, Event, OfferChange]  # (seq, price or removed, the change)


def events_for(numbered: Iterable[tuple[int, OfferChange]], filters: OfferFilters) -> list[Heard]:
    """What a subscriber with ``filters`` hears of these numbered changes, in order."""
    out: list[Heard] = []
    for seq, change in numbered:
        event = event_for(change, matches(change.old, filters), matches(change.new, filters))
        if event is not None:
            out.append((seq, event, change))
    return out


def messages_for(numbered: Iterable[tuple[int, OfferChange]], filters: OfferFilters) -> list[dict[str, Any]]:
    """The messages of :func:`events_for`."""
    return [change_message(event, change, seq) for seq, event, change in events_for(numbered, filters)]


@dataclass
class Outbox:
    """Distinct messages (JSON) and, per connection, the indices of the ones it gets, in order. Connections with
    equal filters share one index list."""

    messages: list[str] = field(default_factory=list)
    to: dict[str, list[int]] = field(default_factory=dict)

    def chunks(self, size: int, at: datetime) -> list[DeliveryChunk]:
        out = []
        items = list(self.to.items())
        for start in range(0, len(items), size):
            part = items[start : start + size]
            used = sorted({i for _, idx in part for i in idx})
            remap = {old: new for new, old in enumerate(used)}
            chunk = DeliveryChunk(
                at=at, messages=[self.messages[i] for i in used], to=[(c, [remap[i] for i in idx]) for c, idx in part]
            )
            if len(chunk.model_dump_json()) > MAX_CHUNK_BYTES and len(part) > 1:
                out += Outbox(self.messages, dict(part)).chunks(max(1, len(part) // 2), at)
            else:
                out.append(chunk)
        return out


class Candidates:
    """The changes of a batch by the GPU models and providers of their images: a filter that names GPU models (or
    providers) can only match changes of those, so only those are tested (the index keys' reasoning again)."""

    def __init__(self, numbered: Sequence[tuple[int, OfferChange]]) -> None:
        self.all = list(numbered)
        self.by: dict[tuple[str, str], list[tuple[int, OfferChange]]] = {}
        for pair in self.all:
            change = pair[1]
            for field_ in ("gpu_model", "provider"):
                values = {str(image.get(field_)) for image in (change.old, change.new) if image}
                for value in values:
                    self.by.setdefault((field_, value), []).append(pair)

    def of(self, filters: OfferFilters) -> list[tuple[int, OfferChange]]:
        for field_, values in (("gpu_model", filters.gpu), ("provider", filters.provider)):
            if values:
                if len(values) == 1:
                    return self.by.get((field_, values[0]), [])
                return sorted({p[0]: p for v in values for p in self.by.get((field_, v), [])}.values())
        return self.all


COLUMNS_FROM = 2_000
"""Past this many (filter x change) tests a batch is planned column-wise: ``services.search.filter_mask`` over one
``OfferColumns`` of the batch's images costs ~10 us per filter whatever the batch, the per-offer predicate ~4.5 us
per filter and change (docs/decisions.md, "Exact live feeds")."""


def plan(
    numbered: Sequence[tuple[int, OfferChange]],
    subscribers: Iterable[tuple[str, str]],
    *,
    columns_from: int = COLUMNS_FROM,
) -> Outbox:
    """Who hears what: each distinct filter is tested once against the old and the new image of every change it
    can match - one offer at a time for a small batch, column-wise for a large one (the same rules either way:
    ``filter_mask`` and ``offer_matches`` are property-tested equal)."""
    groups: dict[str, list[str]] = {}
    seen: set[str] = set()
    for connection_id, canonical in subscribers:
        if connection_id not in seen:  # a connection is stored under one key; never post it twice anyway
            seen.add(connection_id)
            groups.setdefault(canonical, []).append(connection_id)
    outbox = Outbox()
    index: dict[tuple[int, Event], int] = {}
    candidates = Candidates(numbered)
    parsed = [(f, ids) for c, ids in groups.items() if (f := stored_filters(c)) is not None]
    work = sum(len(candidates.of(f)) for f, _ in parsed)
    heard = _heard_by_columns(numbered) if work > columns_from else None
    for filters, connection_ids in parsed:
        events = heard(filters) if heard is not None else events_for(candidates.of(filters), filters)
        mine: list[int] = []
        for seq, event, change in events:  # each message is written once, however many filters hear it
            key = (seq, event)
            if key not in index:
                index[key] = len(outbox.messages)
                outbox.messages.append(json.dumps(change_message(event, change, seq), separators=(",", ":")))
            mine.append(index[key])
        if mine:
            for connection_id in connection_ids:
                outbox.to[connection_id] = mine
    return outbox


def _heard_by_columns(numbered: Sequence[tuple[int, OfferChange]]) -> Callable[[OfferFilters], list[Heard]]:
    """``events_for`` over a whole batch at once: the old and the new images as one ``OfferColumns`` (a missing
    image as an unavailable placeholder, which no filter matches), one ``filter_mask`` per filter. NumPy is
    imported here, not with this module: the fan-out workers and ``subscribe`` never need it (the broadcaster's
    handler loads it at cold start)."""
    from gpubroker.domain.providers import COMPLIANCE_TAGS
    from gpubroker.services.search import filter_mask
    from gpumath.columns import OfferColumns

    n = len(numbered)
    records = [
        dict(image) if image else {"offer_id": c.offer_id, "gpu_count": 1, "as_of": 0, "available": False}
        for image, c in [(c.old, c) for _, c in numbered] + [(c.new, c) for _, c in numbered]
    ]
    cols = OfferColumns.from_records(records, compliance_vocab=COMPLIANCE_TAGS, meta={})

    def heard(filters: OfferFilters) -> list[Heard]:
        mask = filter_mask(cols, filters)
        out: list[Heard] = []
        for i in (mask[:n] | mask[n:]).nonzero()[0]:
            seq, change = numbered[int(i)]
            event = event_for(change, bool(mask[i]), bool(mask[n + i]))
            if event is not None:
                out.append((seq, event, change))
        return out

    return heard


class DeliveryFailed(Exception):
    """Posts failed for other reasons than a gone connection (throttling, a 5xx): the chunk must be retried."""


@dataclass
class DeliveryReport:
    connections: int = 0
    posts: int = 0
    gone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # posting raised: deliver these connections again
    resynced: int = 0


def deliver(
    outbox: Outbox,
    *,
    at: datetime,
    poster: ConnectionPoster,
    connections: ConnectionRepository,
    clock: Clock,
    concurrency: int,
) -> DeliveryReport:
    """Post each connection its frames, connections in parallel (at most ``concurrency`` at once), each one's in
    order; a connection the management API reports gone is deleted, one whose post raised is listed in
    ``failed`` (every connection is tried before that is reported). Messages numbered more than
    ``REORDER_WINDOW_S`` ago are not posted: the connection is asked to resubscribe (``resync``), so a resume can
    never skip a change that was still on its way."""
    report = DeliveryReport(connections=len(outbox.to))
    late = (clock.now() - at).total_seconds() > REORDER_WINDOW_S
    resync = Resync(reason="a delivery was delayed", seq=None, resubscribe=True).model_dump_json()
    by_list: dict[tuple[int, ...], list[bytes]] = {}

    def frames_of(indices: list[int]) -> list[bytes]:
        key = tuple(indices)
        cached = by_list.get(key)
        if cached is None:
            texts = [resync] if late else frames([outbox.messages[i] for i in indices])
            cached = by_list[key] = [t.encode() for t in texts]
        return cached

    jobs = [(connection_id, frames_of(indices)) for connection_id, indices in outbox.to.items()]

    def post(job: tuple[str, list[bytes]]) -> tuple[str, int, bool | None]:
        """(connection, frames posted, alive; None when a post raised)."""
        connection_id, data = job
        for n, frame in enumerate(data):
            try:
                if not poster.post(connection_id, frame):
                    return connection_id, n, False
            except Exception:
                log.warning("post to %s failed", connection_id, exc_info=True)
                return connection_id, n, None
        return connection_id, len(data), True

    if len(jobs) <= 1:
        results = [post(job) for job in jobs]
    else:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(jobs))) as pool:
            results = list(pool.map(post, jobs))
    for connection_id, posts, alive in results:
        report.posts += posts
        if alive is None:
            report.failed.append(connection_id)
        elif not alive:
            connections.delete(connection_id)
            report.gone.append(connection_id)
    report.resynced = len(jobs) if late else 0
    return report


@dataclass
class BroadcastReport:
    changes: int = 0
    first_seq: int | None = None
    subscribers: int = 0
    sent: int = 0
    chunks: int = 0
    gone: list[str] = field(default_factory=list)


def broadcast(
    changes: Sequence[OfferChange],
    *,
    feed: PriceFeed,
    connections: ConnectionRepository,
    poster: ConnectionPoster,
    fanout: FanoutQueue,
    clock: Clock,
    concurrency: int = 16,
    direct_limit: int = DIRECT_LIMIT,
    chunk_size: int = CHUNK_SIZE,
) -> BroadcastReport:
    """Number the changes in the feed, then tell every subscriber whose filter the old or the new image matches.

    The feed is written before the subscribers are read: a subscription stored after that read replays the
    change from the feed, one stored before it hears it live (both is harmless: same ``seq``).
    """
    report = BroadcastReport(changes=len(changes))
    if not changes:
        return report
    at = clock.now()
    first = feed.append(changes, at=at)
    report.first_seq = first
    numbered = list(enumerate(changes, start=first))
    keys: set[str] = set()
    for change in changes:
        keys |= candidate_keys(change)
    outbox = plan(numbered, connections.subscribers(keys))
    report.subscribers = len(outbox.to)
    if len(outbox.to) <= direct_limit:
        done = deliver(outbox, at=at, poster=poster, connections=connections, clock=clock, concurrency=concurrency)
        report.sent, report.gone = done.posts, done.gone
        # posts that failed (throttled, 5xx) are retried by the fan-out workers, with the queue's retries and DLQ
        outbox = Outbox(outbox.messages, {c: outbox.to[c] for c in done.failed})
    if outbox.to:
        chunks = outbox.chunks(chunk_size, at)
        fanout.send([c.model_dump_json() for c in chunks])
        report.chunks = len(chunks)
    return report


def deliver_chunk(
    body: str, *, poster: ConnectionPoster, connections: ConnectionRepository, clock: Clock, concurrency: int
) -> DeliveryReport:
    """A fan-out worker's share: one chunk the broadcaster queued."""
    chunk = DeliveryChunk.model_validate_json(body)
    outbox = Outbox(messages=chunk.messages, to={c: idx for c, idx in chunk.to})
    report = deliver(outbox, at=chunk.at, poster=poster, connections=connections, clock=clock, concurrency=concurrency)
    if report.failed:  # the queue brings the chunk back (the others get theirs twice: same seq, harmless)
        raise DeliveryFailed(f"{len(report.failed)} of {report.connections} connections could not be posted to")
    return report
