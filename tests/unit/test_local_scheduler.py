"""The local stack's schedule timers: rates from the template, inputs made local, API schedules skipped."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from infra.local.scheduler import Scheduler, local_input, rate_seconds, resolve_expression
from infra.local.template import Schedule, read_app
from tests.conftest import CATALOGS


def test_rates_and_template_parameters() -> None:
    assert rate_seconds("rate(1 hour)") == 3600 and rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("cron(0 * * * ? *)") is None
    app = read_app()
    ingest = next(s for s in app.schedules if s.input.get("provider") == "paperspace")
    assert rate_seconds(resolve_expression(app, ingest)) == 3600  # IngestionRate's default


def test_inputs_made_local_or_skipped(tmp_path: Path) -> None:
    catalog = Schedule("F", "S", "rate(1 hour)", {"provider": "vast", "catalog": "https://example/vms.csv"})
    assert local_input(catalog, CATALOGS) == {"provider": "vast", "catalog": str(CATALOGS / "vast" / "vms.csv")}
    assert local_input(catalog, tmp_path) is None  # no local copy
    api = Schedule("F", "S", "rate(1 hour)", {"provider": "runpod", "source": "api"})
    assert local_input(api, CATALOGS) is None  # a live API: nothing answers it here
    job = Schedule("F", "S", "rate(1 hour)", {"job": "train-collaborative-filter"})
    assert local_input(job, CATALOGS) == {"job": "train-collaborative-filter"}


def test_timers_fire_the_template_schedules() -> None:
    fired: list[tuple[str, dict[str, Any]]] = []
    done = threading.Event()

    def invoke(function: str, event: dict[str, Any]) -> None:
        fired.append((function, event))
        if len(fired) >= 4:
            done.set()

    scheduler = Scheduler(read_app(), invoke, catalogs=CATALOGS, every_s=0.05)
    planned = {s.input.get("provider") or s.input.get("job"): seconds for s, seconds, _ in scheduler.plan()}
    assert set(planned) == {"paperspace", "fluidstack", "train-collaborative-filter", "audit-checkpoint",
                            "key-rotation", "sweep-connections"}  # fmt: skip
    # the speed-up applies to the frequent jobs; the monthly key rotation keeps its period (it is not fired here)
    assert planned.pop("key-rotation") == 30 * 86_400
    assert set(planned.values()) == {0.05}
    scheduler.start()
    try:
        assert done.wait(120)  # a guard against a hang, not a speed claim: it returns as soon as 4 have fired
    finally:
        scheduler.stop()
    assert {f for f, _ in fired} <= {
        "IngestOffersFunction",
        "TrainCollaborativeFilterFunction",
        "AuditCheckpointFunction",
        "SweepConnectionsFunction",
    }
