"""POST /math/estimate-workload: what a workload needs (memory, FLOPs, bytes) and which GPUs can run it."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import SnapshotSettings
from gpubroker.domain.gpus import bundled_catalog
from gpubroker.domain.workloads import WorkloadEstimate, WorkloadRequest
from gpubroker.services.offer_math import prices_by_gpu
from gpubroker.services.workloads import estimate_workload
from gpubroker.wiring.math import MathDeps, math_deps

Settings = SnapshotSettings
Deps = MathDeps
app = new_resolver()


@app.post("/math/estimate-workload", responses=responses(WorkloadEstimate, 503, 415))
def estimate(request: Annotated[WorkloadRequest, Body()]) -> WorkloadEstimate:
    deps: MathDeps = app.context["deps"]
    prices = prices_by_gpu(deps.offers.get())
    return estimate_workload(request, specs=bundled_catalog().gpus, prices=prices)


lambda_handler = api_handler(app, math_deps)
