"""POST /math/efficiency-score: performance per dollar and per watt, in [0, 100]."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.math_models import EfficiencyOut
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import SnapshotSettings
from gpubroker.domain.math_requests import EfficiencyRequest
from gpubroker.services.kpis import efficiency
from gpubroker.wiring.math import MathDeps, math_deps

Settings = SnapshotSettings
Deps = MathDeps
app = new_resolver()


@app.post("/math/efficiency-score", responses=responses(EfficiencyOut, 404, 503, 415))
def efficiency_route(request: Annotated[EfficiencyRequest, Body()]) -> EfficiencyOut:
    deps: MathDeps = app.context["deps"]
    return EfficiencyOut.model_validate(efficiency(request, offer_math=deps.offers.get()).model_dump())


lambda_handler = api_handler(app, math_deps)
