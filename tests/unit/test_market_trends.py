"""7-day trends are cross-provider daily medians (``services.market.daily_trend``), on the real public series.

Before (issue 10, part 4): a trend followed whichever series had the newest point. For H100-SXM that was AWS's
p5.48xlarge list price (6.88 USD per GPU-hour, flat), the only series still running, while the live median is 3.19.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpubroker.adapters.price_series import PublicPriceSeries
from gpubroker.services.market import TrendCache, daily_trend, seed_price_history
from tests.conftest import SHARED
from tests.fakes import MemoryPriceHistory

DAY0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def point(provider: str, series: str, day: int, price: float) -> dict[str, Any]:
    return {
        "offer_id": f"{provider}-{series}",
        "provider": provider,
        "ts": (DAY0 + timedelta(days=day)).isoformat(),
        "price_per_gpu_hour": price,
    }


@pytest.fixture(scope="module")
def history() -> MemoryPriceHistory:
    h = MemoryPriceHistory()
    seed_price_history(series=PublicPriceSeries(SHARED / "data" / "price-history"), history=h)
    return h


def test_h100_sxm_trend_is_the_cross_provider_median_not_the_newest_list_price(history: MemoryPriceHistory) -> None:
    trend = TrendCache(history).trends(["H100-SXM"])["H100-SXM"]
    assert trend.source == "public series" and trend.providers >= 5 and trend.series >= 5
    assert "median across providers" in trend.basis and f"of {trend.providers} providers" in trend.basis
    figures = [d.median_price_per_gpu_hour for d in trend.days]
    assert all(2.0 <= f <= 3.0 for f in figures), figures  # was 6.88 every day: AWS's p5 list price
    assert (trend.from_, trend.to) == ("2025-11-10", "2025-11-16") and len(trend.days) == 7
    assert all(d.providers >= 4 for d in trend.days)
    aws = [p for p in history.points if p["offer_id"].startswith("market-aws-")]
    assert max(p["ts"] for p in aws) > "2026-08" and {p["price_per_gpu_hour"] for p in aws if p["ts"] > "2026-08"} == {
        6.88
    }  # the newest points are AWS's, and they no longer decide the trend


def test_the_public_series_are_one_per_provider(history: MemoryPriceHistory) -> None:
    ids = {p["offer_id"] for p in history.points if p["gpu_model"] == "H100-SXM"}
    providers = {p["provider"] for p in history.points if p["gpu_model"] == "H100-SXM"}
    assert {"aws", "runpod", "lambdalabs", "nebius", "hyperstack"} <= providers
    assert len(ids) >= 9  # 8 Prime Intellect providers, AWS, RunPod's own answers


def test_a_lone_newer_series_does_not_move_the_window() -> None:
    market = [point(p, "a", d, 2.0 + 0.1 * d) for p in ("p1", "p2", "p3") for d in range(10)]
    lone = [point("listprice", "a", d, 7.0) for d in range(20)]
    trend = daily_trend(market + lone)
    assert trend is not None and trend.to == (DAY0 + timedelta(days=9)).date().isoformat()
    assert [d.providers for d in trend.days] == [4] * 7
    assert trend.days[-1].median_price_per_gpu_hour == pytest.approx((2.9 + 2.9) / 2)
    assert trend.change_pct == pytest.approx((2.9 - 2.3) / 2.3 * 100, abs=1e-3)


def test_many_listings_of_one_provider_count_as_one_voice() -> None:
    cheap = [point("bulk", f"s{k}", d, 1.0) for k in range(50) for d in range(3)]
    others = [point(p, "a", d, price) for p, price in (("p1", 3.0), ("p2", 4.0)) for d in range(3)]
    trend = daily_trend(cheap + others)
    assert trend is not None and {d.median_price_per_gpu_hour for d in trend.days} == {3.0}
    assert trend.providers == 3 and trend.series == 52


prices = st.floats(0.05, 100.0, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 12), prices), min_size=1, max_size=80),
    st.integers(2, 5),
)
def test_trend_properties(rows: list[tuple[int, int, int, float]], copies: int) -> None:
    """Each day's figure lies between its providers' prices; every shown day has the quorum; the window is at most
    7 days; copying one provider's series (more listings of the same prices) changes nothing."""
    points = [point(f"p{p}", f"s{s}", d, price) for p, s, d, price in rows]
    trend = daily_trend(points)
    assert trend is not None and 1 <= len(trend.days) <= 7
    span = datetime.fromisoformat(trend.to) - datetime.fromisoformat(trend.from_)
    assert span <= timedelta(days=6)
    for day in trend.days:
        that_day = [p["price_per_gpu_hour"] for p in points if p["ts"][:10] == day.date]
        assert min(that_day) - 1e-4 <= day.median_price_per_gpu_hour <= max(that_day) + 1e-4
    most = max(len({p["provider"] for p in points if p["ts"][:10] == d}) for d in {p["ts"][:10] for p in points})
    assert all(d.providers >= max(min(2, most), -(-most // 2)) for d in trend.days)
    copied = points + [dict(p, offer_id=f"{p['offer_id']}-copy{k}") for p in points if p["provider"] == "p0"
                       for k in range(copies)]  # fmt: skip
    again = daily_trend(copied)
    assert again is not None
    assert [d.median_price_per_gpu_hour for d in again.days] == [d.median_price_per_gpu_hour for d in trend.days]
