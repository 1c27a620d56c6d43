"""Ingestion: one provider's catalog -> normalised offers, history points and a new snapshot.

Event (EventBridge schedule input, or a direct invoke): ``{"provider": "runpod", "catalog": "<path or https URL>"}``
for a SkyPilot catalog, or ``{"provider": "runpod", "source": "api"}`` for the provider's live API (``base_url``
overrides its address). Any other provider name may be ingested from a catalog as a catalog-only provider
(``display_name``, ``website``, ``marketplace``: its registration). ``{"provider": "x", "action": "remove"}`` takes
a catalog-only provider out (``DELETE /providers/{name}`` and ``make remove-provider`` send it: this function is
the snapshot's one writer). Every source runs behind the provider's circuit breaker. Returns the run report (or
the removal); a bad event is refused before anything is read or written.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from gpubroker.config import IngestSettings
from gpubroker.domain.ingest_events import parse_event
from gpubroker.observability import event_handler, logger, metrics, publish
from gpubroker.services.ingestion import remove_provider, run_ingestion
from gpubroker.wiring.offers import IngestDeps, ingest_deps

Settings = IngestSettings
Deps = IngestDeps


@event_handler(ingest_deps)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Deps) -> dict[str, Any]:
    request = parse_event(event)
    if request.action == "remove":
        removal = remove_provider(request.provider, offers=deps.offers, history=deps.history,
                                  snapshots=deps.snapshots, clock=deps.clock)  # fmt: skip
        logger.info("provider removed", extra={"removal": removal.model_dump(mode="json")})
        return removal.model_dump(mode="json")
    source = deps.sources.source(request.provider, catalog=request.catalog, base_url=request.base_url)
    report = run_ingestion(
        source,
        offers=deps.offers,
        history=deps.history,
        snapshots=deps.snapshots,
        catalog=deps.catalog,
        clock=deps.clock,
        registration=request.registration(),
    )
    extra = {"report": report.model_dump(mode="json")}
    if report.status == "failed":
        logger.error("provider failed; its last good offers stay, flagged stale", extra=extra)
        metrics.add_metric(name="ProviderFailures", unit="Count", value=1)
    elif report.status == "skipped":  # its breaker is open: nothing was tried; its last good offers stay, stale
        logger.warning("provider skipped: its circuit breaker is open", extra=extra)
        metrics.add_metric(name="ProviderSkipped", unit="Count", value=1)
    else:
        logger.info("ingestion finished", extra=extra)
    publish({"OffersAccepted": (MetricUnit.Count, report.accepted),
             "OffersRejected": (MetricUnit.Count, sum(report.rejected.values()))},
            dimensions={"provider": request.provider}, rollups=[{}])  # fmt: skip
    return report.model_dump(mode="json")
