"""The query of ``GET /offers``: the domain's ``OfferQuery`` with the API's enums and descriptions, so that the
OpenAPI document (and every client and fuzzer reading it) sees each parameter with its allowed values and bounds,
and the handler takes the query model once (``Annotated[OfferSearchQuery, Query()]``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeAlias

from pydantic import Field

from gpubroker.domain.gpus import bundled_catalog
from gpubroker.domain.providers import COMPLIANCE_TAGS, PROVIDERS
from gpubroker.domain.search import OfferQuery, SortKey

if TYPE_CHECKING:
    GpuModel: TypeAlias = str
    ProviderName: TypeAlias = str
    ComplianceTag: TypeAlias = str
else:  # enums in the OpenAPI document, from the catalog and provider registry
    GpuModel = Literal[tuple(g.model for g in bundled_catalog().gpus)]
    ProviderName = Literal[tuple(sorted(PROVIDERS))]
    ComplianceTag = Literal[COMPLIANCE_TAGS]


class OfferSearchQuery(OfferQuery):
    """``GET /offers``'s query parameters (any other name is a 400)."""

    gpu: tuple[GpuModel, ...] = Field(default=(), description="canonical GPU model (see /gpus); repeatable")
    provider: tuple[ProviderName, ...] = Field(default=(), description="repeatable")
    region: tuple[str, ...] = Field(
        default=(),
        description="a region name (exact, case-insensitive) or a group: eu (alias europe), us (usa), na, sa, asia, "
        "me, africa, oceania (au), apac, emea, americas; a region we cannot place is in no group; repeatable",
    )
    compliance: tuple[ComplianceTag, ...] = Field(default=(), description="all must hold; repeatable")
    q: str | None = Field(
        default=None,
        max_length=200,
        description="words, all of which must match (whole words; a word of 3+ letters may start one): a GPU "
        "however typed (h-100, a6000, 4090, rtx 6000 ada, mi300), memory (24gb), count (8x), vendor, provider, "
        "region or region group, instance type; results by relevance first, each with `match`; at most 16 terms",
    )
    sort: SortKey = Field(
        default="price_per_gpu_hour",
        description="'-' prefix sorts descending; spot_price puts offers without a spot price last either way",
    )
