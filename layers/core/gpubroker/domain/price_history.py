"""Price history: the points of one offer (``GET /offers/{offer_id}/history``), and seeding the history from the
real public series (the seed function's event and its report). Prices in USD."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gpubroker.domain.errors import ValidationFailed


class PricePoint(BaseModel):
    """One recorded price of an offer; a field the source did not record is null."""

    ts: str = Field(description="ISO 8601, UTC")
    price_per_hour: float | None
    price_per_gpu_hour: float | None
    spot_price_per_hour: float | None
    available: bool | None


class HistoryPage(BaseModel):
    offer_id: str
    points: list[PricePoint]
    next_cursor: str | None


class SeedEvent(BaseModel):
    """The seed function's event: ``{"series": "<folder of the price-history data>"}`` (other keys ignored)."""

    model_config = ConfigDict(extra="ignore")

    series: str = Field(min_length=1, max_length=1024)

    @property
    def folder(self) -> Path:
        return Path(self.series)


def parse_seed_event(event: dict[str, Any]) -> SeedEvent:
    """The validated event, naming a folder that exists; else ``ValidationFailed`` (422)."""
    try:
        parsed = SeedEvent.model_validate(event)
    except ValidationError as exc:
        raise ValidationFailed("seed event is invalid", details=exc.errors(include_url=False)) from None
    if not parsed.folder.is_dir():
        raise ValidationFailed(f"no price-history folder at {parsed.folder}")
    return parsed


class SeedReport(BaseModel):
    points: int = Field(description="points appended (idempotent: keys are series id + time)")
    series: dict[str, int] = Field(description="points per public series id")
