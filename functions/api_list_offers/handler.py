"""GET /offers: filter, full-text, sort and paginate the live offer snapshot (columnar, in memory)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Annotated, Literal, TypeAlias

from aws_lambda_powertools.event_handler.openapi.params import Query

from gpubroker.adapters.s3_snapshots import S3SnapshotStore
from gpubroker.api.resolver import api_handler, ensure_known_query, new_resolver, parse_model, responses
from gpubroker.config import SnapshotSettings, load_settings
from gpubroker.domain.gpus import bundled_catalog
from gpubroker.domain.providers import COMPLIANCE_TAGS, PROVIDERS
from gpubroker.domain.search import MAX_LIMIT, MAX_PRICE, OfferPage, OfferQuery, SortKey
from gpubroker.services.search import SnapshotCache, search_offers

Settings = SnapshotSettings
app = new_resolver()

if TYPE_CHECKING:
    GpuModel: TypeAlias = str
    ProviderName: TypeAlias = str
    ComplianceTag: TypeAlias = str
else:  # enums in the OpenAPI document, from the catalog and provider registry
    GpuModel = Literal[tuple(g.model for g in bundled_catalog().gpus)]
    ProviderName = Literal[tuple(sorted(PROVIDERS))]
    ComplianceTag = Literal[COMPLIANCE_TAGS]
Price = Annotated[float | None, Query(ge=0, le=MAX_PRICE)]


@dataclass(frozen=True)
class Deps:
    snapshots: SnapshotCache


@cache
def default_deps() -> Deps:
    settings = load_settings(SnapshotSettings)
    return Deps(snapshots=SnapshotCache(S3SnapshotStore(settings.SNAPSHOT_BUCKET), ttl_s=settings.SNAPSHOT_TTL_SECONDS))


@app.get("/offers", responses=responses(OfferPage, 400, 410, 503))
def list_offers(
    *,
    gpu: Annotated[list[GpuModel] | None, Query(description="canonical GPU model (see /gpus); repeatable")] = None,
    provider: Annotated[list[ProviderName] | None, Query(description="repeatable")] = None,
    region: Annotated[list[str] | None, Query(description="exact region name, case-insensitive; repeatable")] = None,
    compliance: Annotated[list[ComplianceTag] | None, Query(description="all must hold; repeatable")] = None,
    min_gpu_memory_gb: Annotated[float | None, Query(ge=0, le=1024, description="per GPU, GB")] = None,
    min_price_per_hour: Price = None,
    max_price_per_hour: Price = None,
    min_price_per_gpu_hour: Price = None,
    max_price_per_gpu_hour: Price = None,
    available: Annotated[bool | None, Query()] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="words matched in provider, GPU, region, instance")
    ] = None,
    sort: Annotated[SortKey, Query(description="'-' prefix sorts descending")] = "price_per_gpu_hour",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> OfferPage:
    ensure_known_query(app, OfferQuery)
    params = {k: v for k, v in locals().items() if k in OfferQuery.model_fields and v is not None}
    query = parse_model(OfferQuery, params)
    return search_offers(query, snapshots=app.context["deps"].snapshots)


lambda_handler = api_handler(app, default_deps)
