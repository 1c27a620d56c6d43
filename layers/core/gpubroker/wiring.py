"""Default wiring of the math functions' ports, built on first use (never at import) and cached per container.

Handlers take these as their ``default_deps``; tests pass ``MathDeps`` built from in-memory fakes instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from gpubroker.config import PersonalSettings, SnapshotSettings, load_settings
from gpubroker.ports import InteractionRepository

if TYPE_CHECKING:
    from gpubroker.services.collab import CfModelCache
    from gpubroker.services.offer_math import OfferMathCache


@dataclass(frozen=True)
class MathDeps:
    offers: OfferMathCache
    models: CfModelCache | None = None
    interactions: InteractionRepository | None = None


def _offer_math(bucket: str, ttl: float) -> OfferMathCache:
    from gpubroker.adapters.s3_snapshots import S3SnapshotStore
    from gpubroker.services.offer_math import OfferMathCache
    from gpubroker.services.search import SnapshotCache

    return OfferMathCache(SnapshotCache(S3SnapshotStore(bucket), ttl_s=ttl).current)


@cache
def math_deps() -> MathDeps:
    s = load_settings(SnapshotSettings)
    return MathDeps(offers=_offer_math(s.SNAPSHOT_BUCKET, s.SNAPSHOT_TTL_SECONDS))


@cache
def personal_deps() -> MathDeps:
    from gpubroker.adapters.interactions import DynamoInteractionRepository
    from gpubroker.adapters.s3_models import S3ModelStore
    from gpubroker.services.collab import CfModelCache

    s = load_settings(PersonalSettings)
    return MathDeps(
        offers=_offer_math(s.SNAPSHOT_BUCKET, s.SNAPSHOT_TTL_SECONDS),
        models=CfModelCache(S3ModelStore(s.MODEL_BUCKET)),
        interactions=DynamoInteractionRepository(s.INTERACTIONS_TABLE),
    )
