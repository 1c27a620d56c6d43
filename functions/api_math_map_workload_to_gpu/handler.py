"""POST /math/map-workload-to-gpu: per GPU model, the GPUs needed, time and cost from live offers, or why not."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import SnapshotSettings
from gpubroker.domain.gpus import bundled_catalog
from gpubroker.domain.workloads import WorkloadMapping, WorkloadRequest
from gpubroker.services.offer_math import prices_by_gpu
from gpubroker.services.workloads import map_workload_to_gpu
from gpubroker.wiring.math import MathDeps, math_deps

Settings = SnapshotSettings
Deps = MathDeps
app = new_resolver()


@app.post("/math/map-workload-to-gpu", responses=responses(WorkloadMapping, 503, 415))
def map_workload(
    request: Annotated[WorkloadRequest, Body()],
    top: Annotated[int, Query(ge=1, le=100)] = 10,
) -> WorkloadMapping:
    deps: MathDeps = app.context["deps"]
    prices = prices_by_gpu(deps.offers.get())
    return map_workload_to_gpu(request, specs=bundled_catalog().gpus, prices=prices, top=top)


lambda_handler = api_handler(app, math_deps)
