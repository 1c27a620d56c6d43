"""``subscribe``: validate the filters as ``GET /offers`` does, store them, and bring the client up to date - the
replay of what it missed since ``resume_from``, or a snapshot of the offers it matches followed by the changes the
snapshot may not hold yet - every message posted to the connection in order (the protocol:
``domain/subscriptions.py``).

The snapshot pages come from the offer search (NumPy), imported when a snapshot is built: ``ws_subscribe`` has
the math layer; reading a subscription or a resume window needs neither.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import ValidationError

from gpubroker.domain.errors import SnapshotMissing, ValidationFailed
from gpubroker.domain.providers import PROVIDERS, provider_names
from gpubroker.domain.search import OfferFilters, OfferQuery
from gpubroker.domain.subscriptions import (
    FEED_RETENTION_S,
    MAX_REPLAY,
    REORDER_WINDOW_S,
    SNAPSHOT_MARGIN_S,
    SNAPSHOT_PAGE_SIZE,
    SNAPSHOT_PAGES,
    ErrorReply,
    FeedEntry,
    OfferChange,
    Resync,
    Snapshot,
    SnapshotOffer,
    SubscribeMessage,
    error_message,
    frames,
    subscribed_message,
)
from gpubroker.services.broadcast import messages_for
from gpubroker.services.offer_filters import normalise_filters

if TYPE_CHECKING:
    from gpubroker.ports import Clock, ConnectionPoster, ConnectionRepository, PriceFeed
    from gpubroker.services.search import SnapshotCache


@dataclass(frozen=True)
class Subscription:
    filters: OfferFilters  # normalised
    resume_from: int | None


def read_subscription(body: str | None, *, known_providers: Collection[str] = PROVIDERS) -> Subscription | ErrorReply:
    """The subscribe message's filters, normalised exactly as ``GET /offers`` normalises its own (GPU spellings,
    providers of the snapshot's registry (``known_providers``), regions...), or the ``error`` reply that says what
    is wrong."""
    try:
        message = SubscribeMessage.model_validate_json(body or "")
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            return error_message("invalid_json", "the message is not a JSON object")
        details = [{"loc": list(e["loc"]), "type": e["type"], "msg": e["msg"]} for e in exc.errors()]
        return error_message("validation_error", "the subscription filters failed validation", details)
    try:
        filters = normalise_filters(message.filters.filters(), known_providers=known_providers)
    except ValidationFailed as exc:
        return error_message(exc.code, exc.message, exc.details)
    return Subscription(filters=filters, resume_from=message.resume_from)


@dataclass
class SubscribeReport:
    mode: Literal["snapshot", "resume", "resync", "error"]
    seq: int | None = None
    posts: int = 0
    replayed: int = 0
    snapshot_offers: int = 0
    gone: bool = False


def _numbered(entries: Iterable[FeedEntry]) -> list[tuple[int, OfferChange]]:
    return [pair for entry in entries for pair in entry.numbered()]


def resume_window(feed: PriceFeed, resume_from: int, head: int, now: datetime) -> list[FeedEntry] | str:
    """The feed entries that cover every change after ``resume_from`` (from ``REORDER_WINDOW_S`` before it: a
    change numbered earlier may have been posted later), or why the buffer cannot."""
    if resume_from > head:
        return f"resume_from {resume_from} is ahead of the feed (its head is {head})"
    oldest = now - timedelta(seconds=FEED_RETENTION_S)
    entry = feed.entry_at(resume_from) if resume_from > 0 else None
    if entry is None or entry.at < oldest:
        if resume_from == head:  # nothing was numbered since, and anything older was delivered long ago
            return []
        return f"resume_from {resume_from} is older than the replay buffer ({FEED_RETENTION_S // 60} minutes)"
    return feed.since(entry.at - timedelta(seconds=REORDER_WINDOW_S))


def snapshot_pages(
    filters: OfferFilters, *, snapshots: SnapshotCache, feed: PriceFeed, head: int, now: datetime
) -> tuple[list[Snapshot], list[FeedEntry]]:
    """The snapshot messages (pages of the offers ``filters`` match, cheapest per GPU-hour first) and the feed
    entries to replay after them: every change numbered since the snapshot could have missed it."""
    from gpubroker.services.search import search_offers

    offers: list[list[SnapshotOffer]] = []
    count, version, cursor, created = 0, None, None, None
    try:
        for _ in range(SNAPSHOT_PAGES):
            query = {**filters.model_dump(), "sort": "price_per_gpu_hour", "limit": SNAPSHOT_PAGE_SIZE}
            page = search_offers(OfferQuery.model_validate({**query, "cursor": cursor}), snapshots=snapshots)
            offers.append([SnapshotOffer.model_validate(o.model_dump()) for o in page.items])
            count, version, cursor = page.count, page.snapshot_version, page.next_cursor
            if cursor is None:
                break
        cols = snapshots.get(str(version))
        created = datetime.fromisoformat(str(cols.meta["created_at"])) if cols is not None else None
    except SnapshotMissing:
        offers, count, version, cursor = [[]], 0, None, None
    oldest = now - timedelta(seconds=FEED_RETENTION_S)
    since = oldest if created is None else max(oldest, created - timedelta(seconds=SNAPSHOT_MARGIN_S))
    window = feed.since(since)
    seq = min(head, window[0].first - 1) if window else head
    pages = [
        Snapshot(
            seq=seq,
            snapshot_version=version,
            count=count,
            page=n,
            offers=items,
            more=n < len(offers),
            next_cursor=cursor if n == len(offers) else None,
        )
        for n, items in enumerate(offers, start=1)
    ]
    return pages, window


def subscribe(
    connection_id: str,
    body: str | None,
    *,
    connections: ConnectionRepository,
    feed: PriceFeed,
    snapshots: SnapshotCache,
    poster: ConnectionPoster,
    clock: Clock,
) -> SubscribeReport:
    """Validate and store the subscription, then post: ``subscribed``; the replay (resume) or ``resync`` and the
    snapshot pages and the changes since the snapshot; and last the changes numbered while this ran.

    The subscription is stored before the feed is read: a change the broadcaster numbers later finds the
    subscription (live), one numbered before is in the feed (replayed); both is harmless (same ``seq``).
    """
    request = read_subscription(body, known_providers=_known_providers(snapshots))
    if isinstance(request, ErrorReply):
        return refuse(connection_id, request, poster=poster)
    now = clock.now()
    connections.subscribe(connection_id, request.filters, at=now)
    head = feed.head()
    out = [subscribed_message(request.filters, head).model_dump_json()]
    report = SubscribeReport(mode="snapshot", seq=head)
    entries: list[FeedEntry] = []
    if request.resume_from is not None:
        window = resume_window(feed, request.resume_from, head, now)
        replay = messages_for(_numbered(window), request.filters) if isinstance(window, list) else []
        if isinstance(window, list) and len(replay) > MAX_REPLAY:
            window = f"more than {MAX_REPLAY} changes to replay since resume_from {request.resume_from}"
        if isinstance(window, str):
            out.append(Resync(reason=window, seq=head, resubscribe=False).model_dump_json())
            report.mode = "resync"
        else:
            report.mode, entries = "resume", window
    if report.mode != "resume":
        pages, entries = snapshot_pages(request.filters, snapshots=snapshots, feed=feed, head=head, now=now)
        out += [p.model_dump_json() for p in pages]
        report.snapshot_offers = sum(len(p.offers) for p in pages)
    replay_texts = [_json(m) for m in messages_for(_numbered(entries), request.filters)]
    report.replayed = len(replay_texts)
    last = max([head, *(e.last for e in entries)])
    if not _post_all(connection_id, out + frames(replay_texts), poster, connections, report):
        return report
    # changes numbered while this ran, whose broadcast may have read the subscriptions before this one was visible
    if feed.head() > last:
        late = [_json(m) for m in messages_for(_numbered(feed.after(last)), request.filters)]
        report.replayed += len(late)
        _post_all(connection_id, frames(late), poster, connections, report)
    return report


def refuse(connection_id: str, reply: ErrorReply, *, poster: ConnectionPoster) -> SubscribeReport:
    """Post the one ``error`` reply to a subscribe message that is refused (nothing is stored)."""
    alive = poster.post(connection_id, reply.model_dump_json(exclude_none=True).encode())
    return SubscribeReport(mode="error", posts=int(alive), gone=not alive)


def _known_providers(snapshots: SnapshotCache) -> frozenset[str]:
    """The providers a filter may name: the built-ins and the catalog-only ones the latest snapshot registers."""
    try:
        return provider_names(snapshots.current().meta)
    except SnapshotMissing:
        return provider_names(None)


def _json(message: dict[str, object]) -> str:
    return json.dumps(message, separators=(",", ":"))


def _post_all(
    connection_id: str, texts: list[str], poster: ConnectionPoster, connections: ConnectionRepository,
    report: SubscribeReport,
) -> bool:  # fmt: skip
    for text in texts:
        if not poster.post(connection_id, text.encode()):
            connections.delete(connection_id)
            report.gone = True
            return False
        report.posts += 1
    return True
