"""The price-history domain: the seed function's event and its folder check, history pages, market trends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gpubroker.domain.errors import ValidationFailed
from gpubroker.domain.market import DailyPrice, MarketTrend, PriceTrend
from gpubroker.domain.price_history import PricePoint, SeedEvent, SeedReport, parse_seed_event


def test_a_seed_event_names_a_folder_and_ignores_other_keys(tmp_path: Path) -> None:
    event = SeedEvent.model_validate({"series": str(tmp_path), "source": "LocalSeed"})
    assert event.series == str(tmp_path) and event.folder == tmp_path
    assert "source" not in event.model_dump()


@pytest.mark.parametrize("bad", [{}, {"series": ""}, {"series": "x" * 1025}, {"series": 7}, {"series": None}])
def test_a_seed_event_without_a_usable_series_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SeedEvent.model_validate(bad)


def test_parse_seed_event_returns_the_event_for_an_existing_folder(tmp_path: Path) -> None:
    assert parse_seed_event({"series": str(tmp_path)}).folder == tmp_path


@pytest.mark.parametrize("bad", [{}, {"series": ""}, {"series": 3}])
def test_parse_seed_event_answers_an_invalid_event_with_422_details(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_seed_event(bad)
    assert raised.value.message == "seed event is invalid"
    assert isinstance(raised.value.details, list) and raised.value.details[0]["loc"] == ("series",)


def test_parse_seed_event_refuses_a_missing_folder_and_a_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ValidationFailed, match=f"no price-history folder at {missing}"):
        parse_seed_event({"series": str(missing)})
    a_file = tmp_path / "points.csv"
    a_file.write_text("ts,price\n")
    with pytest.raises(ValidationFailed, match="no price-history folder"):
        parse_seed_event({"series": str(a_file)})


def test_a_seed_report_and_a_price_point_keep_their_fields() -> None:
    assert SeedReport(points=3, series={"a": 2, "b": 1}).model_dump() == {"points": 3, "series": {"a": 2, "b": 1}}
    point = PricePoint(ts="2026-01-01T00:00:00+00:00", price_per_hour=2.0, price_per_gpu_hour=1.0,
                       spot_price_per_hour=None, available=True)  # fmt: skip
    assert point.model_dump()["spot_price_per_hour"] is None  # kept as null on the wire, not dropped
    with pytest.raises(ValidationError):
        PricePoint.model_validate({"ts": "2026-01-01"})  # every field is stated, null when not recorded


def test_a_trend_is_written_with_its_from_key() -> None:
    days = [DailyPrice(date="2026-01-01", median_price_per_gpu_hour=2.0, providers=2, points=3)]
    trend = PriceTrend(days=days, change_pct=0.0, direction="flat", from_="2026-01-01", to="2026-01-01",
                       providers=2, series=3, basis="median across providers")  # fmt: skip
    dumped = trend.model_dump()
    assert dumped["from"] == "2026-01-01" and "from_" not in dumped
    market = MarketTrend.model_validate({**dumped, "source": "public series"})
    assert market.from_ == "2026-01-01" and market.model_dump()["source"] == "public series"
    with pytest.raises(ValidationError):
        MarketTrend.model_validate({**dumped, "source": "guess"})
