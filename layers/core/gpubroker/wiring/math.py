"""The math functions: KPIs and rankings over the live offers, the presets, personalisation, interactions and the
collaborative-filter training."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from gpubroker.api.deps import ApiDeps, AuditedApiDeps
from gpubroker.config import (
    InteractionSettings,
    ModelSettings,
    PersonalSettings,
    SnapshotSettings,
    TrainSettings,
    load_settings,
)
from gpubroker.wiring import edge

if TYPE_CHECKING:
    from gpubroker.ports import Clock, InteractionRepository, ModelStore, OfferRepository
    from gpubroker.services.collab import CfModelCache
    from gpubroker.services.offer_math import OfferMathCache


def offer_math(bucket: str, ttl_s: float) -> OfferMathCache:
    """The live offers' columns with their derived metrics, rebuilt when the snapshot changes."""
    from gpubroker.services.offer_math import OfferMathCache

    return OfferMathCache(edge.snapshot_cache(bucket, ttl_s).current)


def cf_models(bucket: str) -> CfModelCache:
    """The trained collaborative-filter factors in ``bucket``."""
    from gpubroker.adapters.s3_models import S3ModelStore
    from gpubroker.services.collab import CfModelCache

    return CfModelCache(S3ModelStore(bucket))


@dataclass(frozen=True, kw_only=True)
class MathDeps(ApiDeps):
    """The KPIs, TOPSIS, similarity and workload functions: the live offers."""

    offers: OfferMathCache


@cache
def math_deps() -> MathDeps:
    s = load_settings(SnapshotSettings)
    return MathDeps(offers=offer_math(s.SNAPSHOT_BUCKET, s.SNAPSHOT_TTL_SECONDS), front_door=edge.front_door())


@dataclass(frozen=True, kw_only=True)
class ModelDeps(MathDeps):
    """The public presets: the live offers and the CF model, no user's interactions."""

    models: CfModelCache


@cache
def model_deps() -> ModelDeps:
    s = load_settings(ModelSettings)
    return ModelDeps(offers=offer_math(s.SNAPSHOT_BUCKET, s.SNAPSHOT_TTL_SECONDS), models=cf_models(s.MODEL_BUCKET),
                     front_door=edge.front_door())  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class PersonalDeps(ModelDeps):
    """Personalisation for the signed-in caller: the presets' ports and the caller's interactions."""

    interactions: InteractionRepository


@cache
def personal_deps() -> PersonalDeps:
    from gpubroker.adapters.interactions import DynamoInteractionRepository

    s = load_settings(PersonalSettings)
    return PersonalDeps(
        offers=offer_math(s.SNAPSHOT_BUCKET, s.SNAPSHOT_TTL_SECONDS),
        models=cf_models(s.MODEL_BUCKET),
        interactions=DynamoInteractionRepository(s.INTERACTIONS_TABLE),
        front_door=edge.front_door(),
    )


@dataclass(frozen=True, kw_only=True)
class InteractionDeps(AuditedApiDeps):
    """``POST /interactions``: the offers it names, where interactions are recorded, a clock."""

    offers: OfferRepository
    interactions: InteractionRepository
    clock: Clock


@cache
def interaction_deps() -> InteractionDeps:
    from gpubroker.adapters.dynamodb import DynamoOfferRepository
    from gpubroker.adapters.interactions import DynamoInteractionRepository

    s = load_settings(InteractionSettings)
    return InteractionDeps(
        offers=DynamoOfferRepository(s.OFFERS_TABLE),
        interactions=DynamoInteractionRepository(s.INTERACTIONS_TABLE),
        clock=edge.system_clock(),
        front_door=edge.front_door(),
        audit=edge.audit_trail(),
    )


@dataclass(frozen=True)
class TrainDeps:
    """The scheduled ALS-WR training: every interaction in, the factors out."""

    interactions: InteractionRepository
    models: ModelStore
    clock: Clock


@cache
def train_deps() -> TrainDeps:
    from gpubroker.adapters.interactions import DynamoInteractionRepository
    from gpubroker.adapters.s3_models import S3ModelStore

    s = load_settings(TrainSettings)
    return TrainDeps(interactions=DynamoInteractionRepository(s.INTERACTIONS_TABLE),
                     models=S3ModelStore(s.MODEL_BUCKET), clock=edge.system_clock())  # fmt: skip
