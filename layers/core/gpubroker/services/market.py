"""Market data: the summary over the live snapshot (vectorised), 7-day price trends from the price history, and
seeding the history from real public series.

A GPU model's trend is a cross-provider daily median (docs/decisions.md, "Market trends: a median across
providers"):

1. the points come from GPUBroker's own offers when those span at least two days, else from the public reference
   series seeded into the history (ids ``market-*``); ``source`` says which;
2. each series (an offer, or one public series) has a daily price: the median of its points that UTC day; each
   provider has a daily price: the median of its series' that day; the day's figure is the median across
   providers, so neither one provider's many listings nor one provider's list price sets the trend;
3. the window is the ``days`` UTC days ending at the newest day on which at least half of the providers the model
   ever has on one day report (at least two when it has two), and only such days are shown. Without that, the
   newest point alone picked the window: for H100-SXM that was AWS's p5 list price (6.88 USD per GPU-hour, the only
   series still running) against a live median of 3.19.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any, Literal

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
from gpumath.groups import group_stats

# price per GPU-hour bins (USD): wide enough for a consumer card and an 8x B200 node
HISTOGRAM_EDGES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, float("inf"))
FLAT_PCT = 1.0
SERIES = "market-"  # id prefix of the public reference series' points (seed_price_history appends them)


def _quorum(most: int) -> int:
    """Providers a day needs to count: half the most the model ever has on one day, and two when it has two."""
    return max(min(2, most), math.ceil(most / 2))


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def daily_trend(points: Sequence[Mapping[str, Any]], *, days: int = 7, source: str = "offers") -> PriceTrend | None:
    """The cross-provider daily median price per GPU-hour over ``days`` days (see the module docstring) and the
    change from the first to the last day; None without points. ``source`` names the points in ``basis``."""
    by_day: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for p in points:
        by_day[str(p["ts"])[:10]][str(p.get("provider") or p["offer_id"])][str(p["offer_id"])].append(
            float(p["price_per_gpu_hour"])
        )
    if not by_day:
        return None
    quorum = _quorum(max(len(providers) for providers in by_day.values()))
    end = max(d for d, providers in by_day.items() if len(providers) >= quorum)
    start = (date.fromisoformat(end) - timedelta(days=days - 1)).isoformat()
    window = sorted(d for d, providers in by_day.items() if start <= d <= end and len(providers) >= quorum)
    medians: dict[str, float] = {}
    out: list[DailyPrice] = []
    for d in window:
        providers = by_day[d]
        per_provider = [
            statistics.median(statistics.median(v) for v in series.values()) for series in providers.values()
        ]
        medians[d] = statistics.median(per_provider)
        count = sum(len(v) for series in providers.values() for v in series.values())
        out.append(DailyPrice(date=d, median_price_per_gpu_hour=r4(medians[d]), providers=len(providers), points=count))
    first, last = medians[window[0]], medians[window[-1]]
    change = (last - first) / first * 100 if first else 0.0
    direction: Literal["up", "down", "flat"] = "flat" if abs(change) < FLAT_PCT else ("up" if change > 0 else "down")
    providers_seen = {p for d in window for p in by_day[d]}
    series_seen = {s for d in window for series in by_day[d].values() for s in series}
    basis = (
        f"median across providers of each provider's daily median price per GPU-hour, from "
        f"{_count(len(series_seen), f'{source} series', f'{source} series')} of "
        f"{_count(len(providers_seen), 'provider', 'providers')}; days on which at least "
        f"{_count(quorum, 'provider reports', 'providers report')}"
    )
    return PriceTrend(days=out, change_pct=r4(change), direction=direction, from_=window[0], to=window[-1],
                      providers=len(providers_seen), series=len(series_seen), basis=basis)  # fmt: skip


ALL_DAYS = 3650
READERS = 8  # concurrent history Queries when trends are (re)read


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
        own = [p for p in points if not str(p["offer_id"]).startswith(SERIES)]
        if own:
            newest = date.fromisoformat(max(str(p["ts"])[:10] for p in own))
            since = (newest - timedelta(days=self._days - 1)).isoformat()
            if len({str(p["ts"])[:10] for p in own if str(p["ts"])[:10] >= since}) >= 2:
                trend = daily_trend(own, days=self._days, source="offer")
                return MarketTrend(**trend.model_dump(), source="offers") if trend else None
        public = [p for p in points if str(p["offer_id"]).startswith(SERIES)]
        trend = daily_trend(public, days=self._days, source="public")
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
    stats = group_stats(codes, prices, n_models)
    gpus_by_model = np.bincount(codes, weights=gpus, minlength=n_models)
    per_model = []
    for m in np.flatnonzero(stats.n):
        median, best = float(stats.median[m]), float(stats.minimum[m])
        per_model.append(GpuMarket(
            gpu_model=cols.vocab["gpu_model"][m], offers=int(stats.n[m]), gpus=int(gpus_by_model[m]),
            avg_price_per_gpu_hour=r4(stats.mean[m]), median_price_per_gpu_hour=r4(median),
            best_price_per_gpu_hour=r4(best),
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
        available_offers={m.gpu_model: m.offers for m in per_model},
        gpus_in_live_offers={m.gpu_model: m.gpus for m in per_model},
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
