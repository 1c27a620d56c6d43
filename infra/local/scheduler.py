"""Fires the template's schedules (EventBridge Schedule/ScheduleV2 events) on local timers.

Rates come from the template (``rate(1 hour)``; parameters resolved to their defaults); locally they may be
shortened with ``--schedule-seconds N`` (every schedule every N seconds). A schedule's input is made local the
same way the seed is: a ``catalog`` URL becomes ``<catalogs>/<provider>/vms.csv`` when that file exists; a schedule
whose input cannot be served locally (a provider's live API, with no local replay URL configured) is skipped and
said so once. ``cron(...)`` expressions are not simulated.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.local.template import App, Schedule

log = logging.getLogger("gpubroker.local.scheduler")
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_S = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
MAX_SPEEDUP_S = 86_400.0
"""``every_s`` (make dev --schedule-seconds) speeds up schedules of at most a day; longer ones keep their period."""


def rate_seconds(expression: str) -> float | None:
    match = _RATE.match(expression.strip())
    return float(int(match.group(1)) * _UNIT_S[match.group(2)]) if match else None


def resolve_expression(app: App, schedule: Schedule) -> str:
    """The schedule's expression with a !Ref to a template parameter replaced by the parameter's default."""
    raw = schedule.expression
    ref = re.match(r"^\{'Ref': '(\w+)'\}$", raw)
    if ref:
        return str(app.parameter_defaults().get(ref.group(1)))
    return raw


def local_input(schedule: Schedule, catalogs: Path) -> dict[str, Any] | None:
    event = dict(schedule.input)
    if "catalog" in event and "provider" in event:
        local = catalogs / str(event["provider"]) / "vms.csv"
        if not local.exists():
            return None
        event["catalog"] = str(local)
    elif event.get("source") == "api" and not event.get("base_url"):
        return None  # a live provider API: nothing answers it here
    return event


class Scheduler:
    def __init__(self, app: App, invoke: Callable[[str, dict[str, Any]], Any], *, catalogs: Path,
                 every_s: float | None = None) -> None:  # fmt: skip
        self._app = app
        self._invoke = invoke
        self._catalogs = catalogs
        self._every = every_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.fired: dict[str, int] = {}

    def plan(self) -> list[tuple[Schedule, float, dict[str, Any]]]:
        out = []
        for s in self._app.schedules:
            real = rate_seconds(resolve_expression(self._app, s))
            # the speed-up is for the frequent jobs; a monthly one (key rotation) keeps its own period
            seconds = self._every if self._every and (real is None or real <= MAX_SPEEDUP_S) else real
            event = local_input(s, self._catalogs)
            if seconds is None or event is None:
                log.info("schedule %s.%s is not simulated locally", s.function, s.name)
                continue
            out.append((s, seconds, event))
        return out

    def start(self) -> None:
        for schedule, seconds, event in self.plan():
            t = threading.Thread(target=self._loop, args=(schedule, seconds, event), daemon=True,
                                 name=f"schedule-{schedule.name}")  # fmt: skip
            t.start()
            self._threads.append(t)

    def _loop(self, schedule: Schedule, seconds: float, event: dict[str, Any]) -> None:
        key = f"{schedule.function}.{schedule.name}"
        while not self._stop.wait(seconds):
            try:
                self._invoke(schedule.function, json.loads(json.dumps(event)))
            except Exception:  # a failing run is logged like a failed async invocation, the timer goes on
                log.exception("scheduled run %s failed", key)
            self.fired[key] = self.fired.get(key, 0) + 1

    def stop(self) -> None:
        self._stop.set()
