"""One offer's price history (a Query on the history table; no NumPy)."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime

from gpubroker.domain.errors import InvalidCursor, OfferNotFound
from gpubroker.domain.price_history import HistoryPage, PricePoint
from gpubroker.ports import OfferRepository, PriceHistoryReader

# A price point's timestamp (``Offer.as_of.isoformat()``): the only thing a history cursor may carry.
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)


def _encode(ts: str) -> str:
    return base64.urlsafe_b64encode(ts.encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    try:
        ts = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("cursor is malformed; start again without it") from exc
    if not _TIMESTAMP.fullmatch(ts):
        raise InvalidCursor("cursor is malformed; start again without it")
    try:
        datetime.fromisoformat(ts)
    except ValueError as exc:
        raise InvalidCursor("cursor is malformed; start again without it") from exc
    return ts


def offer_history(
    offer_id: str,
    *,
    offers: OfferRepository,
    history: PriceHistoryReader,
    since: str | None = None,
    until: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> HistoryPage:
    """Price points of an offer, oldest first, with a cursor for the next page."""
    if offers.get(offer_id) is None:
        raise OfferNotFound(f"no offer {offer_id!r}")
    after = _decode(cursor) if cursor else None
    points, last = history.offer_points(offer_id, since=since, until=until, limit=limit, after=after)
    keys = PricePoint.model_fields
    return HistoryPage(
        offer_id=offer_id,
        points=[PricePoint.model_validate({k: p.get(k) for k in keys}) for p in points],
        next_cursor=_encode(last) if last else None,
    )
