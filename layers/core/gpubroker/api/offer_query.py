"""The query of ``GET /offers``: the domain's ``OfferQuery`` with the API's enums and descriptions, so that the
OpenAPI document (and every client and fuzzer reading it) sees each parameter with its allowed values and bounds,
and the handler takes the query model once (``Annotated[OfferSearchQuery, Query()]``).

``gpu`` is not an enum: it takes every spelling ``GET /gpus/{model}`` takes (``H100``, ``a100 80gb``,
``NVIDIA GeForce RTX 4090``), bounded in length and characters; ``services.search.resolve_gpu_filter`` resolves it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, TypeAlias

from pydantic import Field, StringConstraints

from gpubroker.domain.providers import COMPLIANCE_TAGS, PROVIDER_NAME_MAX_LENGTH, PROVIDER_NAME_MIN_LENGTH
from gpubroker.domain.search import OfferQuery, SortKey

# A GPU spelling: letters, digits, spaces and the separators GPU names use ("RTX 6000 Ada", "A100-SXM4-80GB",
# "h100_sxm", "Tesla V100 (16 GB)"); at most 64 characters.
GPU_SPELLING = r"^[A-Za-z0-9][A-Za-z0-9 ._()/+-]{0,63}$"
GpuSpelling = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=GPU_SPELLING)]

if TYPE_CHECKING:
    ComplianceTag: TypeAlias = str
else:  # an enum in the OpenAPI document (providers and GPUs: patterns, see below)
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

    gpu: tuple[GpuSpelling, ...] = Field(
        default=(),
        max_length=20,
        description=(
            "GPU model: a canonical id (see /gpus) or any spelling of one (`A6000`, `NVIDIA H100 80GB HBM3`); a "
            "family spelling (`H100`, `A100 80GB`) matches all its variants, listed in the answer's `interpreted`; "
            "repeatable"
        ),
    )
    provider: tuple[ProviderParam, ...] = Field(
        default=(),
        description="provider name (see /providers: the built-ins and any catalog-only provider ingested since, so "
        "a pattern, not an enum), case-insensitive; repeatable",
    )
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
