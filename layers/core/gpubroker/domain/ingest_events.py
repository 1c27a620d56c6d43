"""The ingestion function's event: which provider, and which source (a SkyPilot catalog or the live API)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gpubroker.domain.errors import ValidationFailed
from gpubroker.domain.providers import PROVIDERS


class IngestEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    provider: str = Field(min_length=1, max_length=32)
    catalog: str | None = Field(
        default=None, min_length=1, max_length=2048, description="path or https URL of a vms.csv"
    )
    source: Literal["catalog", "api"] | None = None
    base_url: str | None = Field(default=None, max_length=512, pattern=r"^https?://")

    @model_validator(mode="after")
    def _one_source(self) -> IngestEvent:
        if (self.source or ("catalog" if self.catalog else "api")) == "catalog" and not self.catalog:
            raise ValueError("a catalog source needs `catalog`")
        if self.source == "api" and self.catalog:
            raise ValueError("give `catalog` or `source: api`, not both")
        return self


def parse_event(event: dict[str, Any]) -> IngestEvent:
    try:
        parsed = IngestEvent.model_validate(event)
    except ValidationError as exc:
        raise ValidationFailed("ingestion event is invalid", details=exc.errors(include_url=False)) from None
    if parsed.provider not in PROVIDERS:
        raise ValidationFailed(f"unknown provider {parsed.provider!r}", details={"known": sorted(PROVIDERS)})
    return parsed
