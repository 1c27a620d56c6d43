"""The ingestion function's event: which provider, and what to do: ingest a source (a SkyPilot catalog or the
provider's live API), or remove a catalog-only provider.

Any provider name of the right shape (``domain.providers.ProviderName``) may be ingested from a catalog: one that
is not built in becomes a catalog-only provider, registered with the event's ``display_name``, ``website`` and
``marketplace`` (defaults: the name capitalised, none, false; a later run without them keeps what was registered).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gpubroker.domain.errors import ValidationFailed
from gpubroker.domain.providers import DISPLAY_NAME_PATTERN, PROVIDERS, WEBSITE_PATTERN, ProviderName


class IngestEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    provider: ProviderName
    action: Literal["ingest", "remove"] = "ingest"
    catalog: str | None = Field(
        default=None, min_length=1, max_length=2048, description="path or https URL of a vms.csv"
    )
    source: Literal["catalog", "api"] | None = None
    base_url: str | None = Field(default=None, max_length=512, pattern=r"^https?://")
    display_name: str | None = Field(default=None, min_length=1, max_length=64, pattern=DISPLAY_NAME_PATTERN)
    website: str | None = Field(default=None, max_length=256, pattern=WEBSITE_PATTERN)
    marketplace: bool | None = None

    @model_validator(mode="after")
    def _one_source(self) -> IngestEvent:
        if self.action == "remove":
            if self.catalog or self.source or self.base_url or self.registration():
                raise ValueError("a removal names only the provider")
            return self
        if (self.source or ("catalog" if self.catalog else "api")) == "catalog" and not self.catalog:
            raise ValueError("a catalog source needs `catalog`")
        if self.source == "api" and self.catalog:
            raise ValueError("give `catalog` or `source: api`, not both")
        return self

    @property
    def builtin(self) -> bool:
        return self.provider in PROVIDERS

    def registration(self) -> dict[str, Any]:
        """The registration fields the event gives (a catalog-only provider's display name, website, marketplace)."""
        fields = {"display_name": self.display_name, "website": self.website, "marketplace": self.marketplace}
        return {k: v for k, v in fields.items() if v is not None}


def parse_event(event: dict[str, Any]) -> IngestEvent:
    try:
        parsed = IngestEvent.model_validate(event)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # the message says why: across a Lambda invoke only the message travels (make ingest prints it)
        why = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in errors[:3])
        raise ValidationFailed(f"ingestion event is invalid: {why}", details=errors) from None
    if parsed.builtin and parsed.registration():
        raise ValidationFailed(
            f"{parsed.provider!r} is a built-in provider: its display name, website and marketplace flag are fixed",
            details={"builtin": sorted(PROVIDERS)},
        )
    if not parsed.builtin and parsed.action == "ingest" and not parsed.catalog:
        raise ValidationFailed(
            f"{parsed.provider!r} has no API adapter: a catalog-only provider is ingested from a catalog",
            details={"builtin": sorted(PROVIDERS)},
        )
    return parsed
