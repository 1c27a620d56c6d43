"""POST /math/cost-per-gflop: USD per PFLOP-hour and per GFLOP at a stated precision."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.math_models import CostPerGflopOut
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import SnapshotSettings
from gpubroker.domain.math_requests import CostPerGflopRequest
from gpubroker.services.kpis import cost_per_gflop
from gpubroker.wiring.math import MathDeps, math_deps

Settings = SnapshotSettings
Deps = MathDeps
app = new_resolver()


@app.post("/math/cost-per-gflop", responses=responses(CostPerGflopOut, 404, 503, 415))
def cost_per_gflop_route(request: Annotated[CostPerGflopRequest, Body()]) -> CostPerGflopOut:
    deps: MathDeps = app.context["deps"]
    return CostPerGflopOut.model_validate(cost_per_gflop(request, offer_math=deps.offers.get()).model_dump())


lambda_handler = api_handler(app, math_deps)
