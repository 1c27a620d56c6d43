"""The query of ``GET /offers``: the domain's ``OfferQuery`` with the API's enums and descriptions, so that the
OpenAPI document (and every client and fuzzer reading it) sees each parameter with its allowed values and bounds,
and the handler takes the query model once (``Annotated[OfferSearchQuery, Query()]``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, TypeAlias

from pydantic import Field

from gpubroker.domain.gpus import bundled_catalog
from gpubroker.domain.providers import COMPLIANCE_TAGS, PROVIDER_NAME_MAX_LENGTH, PROVIDER_NAME_MIN_LENGTH
from gpubroker.domain.search import OfferQuery, SortKey

if TYPE_CHECKING:
    GpuModel: TypeAlias = str
    ComplianceTag: TypeAlias = str
else:  # enums in the OpenAPI document, from the catalog and the compliance tags (providers: a pattern, see below)
    GpuModel = Literal[tuple(g.model for g in bundled_catalog().gpus)]
    ComplianceTag = Literal[COMPLIANCE_TAGS]

# a provider's name in any case (the search folds it): the shape of domain.providers.PROVIDER_NAME_PATTERN
ProviderParam = Annotated[
    str,
    Field(
        min_length=PROVIDER_NAME_MIN_LENGTH,
        max_length=PROVIDER_NAME_MAX_LENGTH,
        pattern=r"^[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*$",
    ),
]


class OfferSearchQuery(OfferQuery):
    """``GET /offers``'s query parameters (any other name is a 400)."""

    gpu: tuple[GpuModel, ...] = Field(default=(), description="canonical GPU model (see /gpus); repeatable")
    provider: tuple[ProviderParam, ...] = Field(
        default=(),
        description="provider name (see /providers: the built-ins and any catalog-only provider ingested since, so "
        "a pattern, not an enum), case-insensitive; repeatable",
    )
    region: tuple[str, ...] = Field(default=(), description="exact region name, case-insensitive; repeatable")
    compliance: tuple[ComplianceTag, ...] = Field(default=(), description="all must hold; repeatable")
    min_gpu_memory_gb: float | None = Field(default=None, ge=0, le=1024, description="per GPU, GB")
    q: str | None = Field(default=None, max_length=200, description="words matched in provider, GPU, region, instance")
    sort: SortKey = Field(default="price_per_gpu_hour", description="'-' prefix sorts descending")
