"""Market data: the summary over the live snapshot (vectorised), 7-day price trends from the price history, and
seeding the history from real public series.

The summary's trend per GPU model is the last ``days`` days of that model's history (ending at its newest
point): daily mean price per GPU-hour, and the change from the first to the last day in %. It is computed from
GPUBroker's own offer points when they span at least two days, else from the public reference series seeded
into the history (ids ``market-*``); ``source`` says which.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from gpubroker.domain.market import (
    DailyPrice,
    GpuMarket,
    MarketSummary,
    MarketTrend,
    PriceBin,
    PriceTrend,
    ProviderShare,
)
from gpubroker.domain.price_history import SeedReport
from gpubroker.domain.types import r4
from gpubroker.ports import PriceHistoryReader, PriceHistoryRepository, PriceSeriesSource
from gpumath.columns import OfferColumns

# price per GPU-hour bins (USD): wide enough for a consumer card and an 8x B200 node
HISTOGRAM_EDGES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, float("inf"))
FLAT_PCT = 1.0
SERIES = "market-"  # id prefix of the public reference series' points (seed_price_history appends them)


def daily_trend(points: Sequence[Mapping[str, Any]]) -> PriceTrend | None:
    """Daily mean price per GPU-hour and the change first -> last day; None without points."""
    by_day: dict[str, list[float]] = defaultdict(list)
    for p in points:
        by_day[str(p["ts"])[:10]].append(float(p["price_per_gpu_hour"]))
    if not by_day:
        return None
    days = [
        DailyPrice(date=d, avg_price_per_gpu_hour=r4(float(np.mean(v))), points=len(v))
        for d, v in sorted(by_day.items())
    ]
    first, last = float(np.mean(by_day[min(by_day)])), float(np.mean(by_day[max(by_day)]))
    change = (last - first) / first * 100 if first else 0.0
    direction = "flat" if abs(change) < FLAT_PCT else ("up" if change > 0 else "down")
    return PriceTrend(days=days, change_pct=r4(change), direction=direction, from_=days[0].date, to=days[-1].date)


ALL_DAYS = 3650
READERS = 8  # concurrent history Queries when trends are (re)read


def _window(points: list[dict[str, Any]], days: int) -> list[dict[str, Any]]:
    """The points in the ``days`` before the newest one (ISO timestamps compare as strings)."""
    if not points:
        return []
    from datetime import datetime, timedelta

    since = (datetime.fromisoformat(max(str(p["ts"]) for p in points)) - timedelta(days=days)).isoformat()
    return [p for p in points if str(p["ts"]) >= since]


class TrendCache:
    """Trends per GPU model, re-read from the history at most every ``ttl_s`` (a few Queries per model)."""

    def __init__(self, reader: PriceHistoryReader, *, days: int = 7, ttl_s: float = 300.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._reader = reader
        self._days = days
        self._ttl = ttl_s
        self._now = monotonic
        self._cache: dict[str, tuple[float, MarketTrend | None]] = {}
        self._lock = threading.Lock()

    def _trend(self, model: str) -> MarketTrend | None:
        points = self._reader.gpu_points(model, days=ALL_DAYS)  # one read of the model's history
        own = _window([p for p in points if not str(p["offer_id"]).startswith(SERIES)], self._days)
        if len({str(p["ts"])[:10] for p in own}) >= 2:
            trend = daily_trend(own)
            return MarketTrend(**trend.model_dump(), source="offers") if trend else None
        trend = daily_trend(_window([p for p in points if str(p["offer_id"]).startswith(SERIES)], self._days))
        return MarketTrend(**trend.model_dump(), source="public series") if trend else None

    def trends(self, models: Iterable[str]) -> dict[str, MarketTrend]:
        """The models' trends; expired or missing ones are re-read concurrently (one Query each)."""
        wanted = sorted(set(models))
        with self._lock:
            due = [m for m in wanted if m not in self._cache or self._now() - self._cache[m][0] >= self._ttl]
        if due:
            with ThreadPoolExecutor(max_workers=min(READERS, len(due))) as pool:
                fresh = dict(zip(due, pool.map(self._trend, due), strict=True))
            with self._lock:
                self._cache.update({m: (self._now(), t) for m, t in fresh.items()})
        with self._lock:
            return {m: t for m in wanted if (t := self._cache[m][1]) is not None}


def market_summary(cols: OfferColumns, *, trends: TrendCache) -> MarketSummary:
    live = cols.bools["available"]
    codes = cols.codes["gpu_model"][live]
    prices = cols.floats["price_per_gpu_hour"][live]
    pcodes = cols.codes["provider"][live]
    gpus = cols.ints["gpu_count"][live].astype(np.float64)
    n_models = len(cols.vocab["gpu_model"])
    count = np.bincount(codes, minlength=n_models)
    mean = np.bincount(codes, weights=prices, minlength=n_models) / np.maximum(count, 1)
    order = np.lexsort((prices, codes))
    starts = np.searchsorted(codes[order], np.arange(n_models))
    per_model = []
    for m in np.flatnonzero(count):
        seg = prices[order][starts[m] : starts[m] + count[m]]
        median, best = float(np.median(seg)), float(seg[0])
        per_model.append(GpuMarket(
            gpu_model=cols.vocab["gpu_model"][m], offers=int(count[m]), avg_price_per_gpu_hour=r4(mean[m]),
            median_price_per_gpu_hour=r4(median), best_price_per_gpu_hour=r4(best),
            savings_potential_pct=r4((median - best) / median * 100 if median else 0.0),
        ))  # fmt: skip
    hist, _ = np.histogram(prices, bins=np.array(HISTOGRAM_EDGES))
    n_prov = len(cols.vocab["provider"])
    offers_by_provider = np.bincount(pcodes, minlength=n_prov)
    gpus_by_provider = np.bincount(pcodes, weights=gpus, minlength=n_prov)
    total_offers, total_gpus = max(int(offers_by_provider.sum()), 1), max(float(gpus_by_provider.sum()), 1.0)
    share = [
        ProviderShare(provider=cols.vocab["provider"][p], offers=int(offers_by_provider[p]),
                      offer_share_pct=r4(offers_by_provider[p] / total_offers * 100),
                      gpu_share_pct=r4(gpus_by_provider[p] / total_gpus * 100))
        for p in np.flatnonzero(offers_by_provider)
    ]  # fmt: skip
    return MarketSummary(
        snapshot_version=str(cols.meta.get("version")),
        active_providers=[s.provider for s in share],
        available_gpus={m.gpu_model: m.offers for m in per_model},
        live_offers=int(live.sum()),
        avg_price_per_gpu_hour=r4(float(prices.mean())) if prices.size else None,
        by_gpu=per_model,
        price_histogram=[
            PriceBin(min=lo, max=None if hi == float("inf") else hi, offers=int(c))
            for lo, hi, c in zip(HISTOGRAM_EDGES[:-1], HISTOGRAM_EDGES[1:], hist, strict=True)
        ],
        provider_share=share,
        trend_7d=trends.trends(m.gpu_model for m in per_model),
        stale=bool(cols.meta.get("stale", False)),
    )


def seed_price_history(*, series: PriceSeriesSource, history: PriceHistoryRepository, batch: int = 500) -> SeedReport:
    """Append every point of the real ``series`` to the history (idempotent: keys are series id + time)."""
    counts: dict[str, int] = defaultdict(int)
    buf: list[dict[str, Any]] = []
    for point in series.points():
        counts[point["series"]] += 1
        buf.append({k: v for k, v in point.items() if k != "series"} | {"source": point["series"]})
        if len(buf) >= batch:
            history.append(buf)
            buf = []
    if buf:
        history.append(buf)
    return SeedReport(points=sum(counts.values()), series=dict(counts))
