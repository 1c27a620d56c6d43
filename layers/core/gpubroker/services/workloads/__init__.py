"""Workload estimation and workload -> GPU mapping (``POST /math/estimate-workload``, ``/math/map-workload-to-gpu``).

Both use cases run the same computation: the request's resource requirement (memory, FLOPs, bytes moved, from
the formulas in :mod:`gpubroker.domain.workloads`), then one vectorised plan over every GPU model
(:mod:`gpumath.workload`), then the live price per GPU-hour. They differ in what they return:

- :func:`estimate_workload` -> :class:`WorkloadEstimate`: the requirement (with its memory breakdown, the
  assumptions and the sources) and one short line per GPU model in catalog order (feasible, count, hours, cost or a
  reason). Complete and unranked: "what does this need, and where can it run?".
- :func:`map_workload_to_gpu` -> :class:`WorkloadMapping`: the requirement and the full per-GPU plans (tokens/s,
  memory per GPU, bottleneck, offer, type-specific metrics, per-plan assumptions), feasible ones ranked by cost
  then time then GPU count (at most ``top``), followed by every infeasible one with its reason.

``prices`` maps ``gpu_model -> (cheapest live USD per GPU-hour, offer_id)``; the caller builds it from the offer
snapshot. With ``prices=None`` nothing is priced and feasibility is technical only. With prices, a technically
feasible GPU without an offer is infeasible with reason ``no_offers`` (its count and time are still reported).

One module per workload type sizes it and plans it over the GPU columns (``plan(request, gpus)``), dispatched here
on ``request.type``; :mod:`.common` holds what they share. Contradictory combinations never get here: the request
models' validators refuse them (422). This module refuses what depends on the catalog: unknown GPU names (422), and
a format none of the named GPUs runs (422 ``precision_unsupported``, the KPI routes' refusal).
Imports NumPy (through gpumath): only the math functions import this package.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from gpubroker.domain.errors import ValidationFailed
from gpubroker.domain.gpus import UnknownGpu, canonical_gpu
from gpubroker.domain.precision import precision_refused
from gpubroker.domain.types import r4
from gpubroker.domain.workloads import (
    REASONS,
    GpuFeasibility,
    GpuPlan,
    WorkloadEstimate,
    WorkloadMapping,
    hours,
)
from gpubroker.services.workloads import (
    data_processing,
    image_generation,
    llm_inference,
    training,
    video_processing,
)
from gpubroker.services.workloads.common import (
    MEMORY_CODES,
    PRECISION_UNSUPPORTED,
    REASON_BY_CODE,
    UNSUPPORTED_CODES,
    GpuColumns,
    PlannedWorkload,
)
from gpumath import workload as kernels

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from gpubroker.domain.gpus import GpuSpec
    from gpubroker.domain.workloads import Bottleneck, Reason, WorkloadRequest, WorkloadRequirement

    Prices = Mapping[str, tuple[float, str]]

__all__ = ["WorkloadPlans", "estimate_workload", "map_workload_to_gpu", "plan_workload"]


class WorkloadPlans(NamedTuple):
    """The requirement and one full plan per GPU model, in catalog order."""

    requirement: WorkloadRequirement
    plans: list[GpuPlan]


# ---- public use cases ----------------------------------------------------------------------------------------------


def estimate_workload(request: WorkloadRequest, *, specs: Sequence[GpuSpec], prices: Prices | None) -> WorkloadEstimate:
    """The requirement and one feasibility line per GPU model (catalog order)."""
    requirement, plans = plan_workload(request, specs=specs, prices=prices)
    lines = [GpuFeasibility.model_validate(p, from_attributes=True) for p in plans]  # the plan's short form
    return WorkloadEstimate(requirement=requirement, gpus=lines, priced=prices is not None)


def map_workload_to_gpu(
    request: WorkloadRequest, *, specs: Sequence[GpuSpec], prices: Prices | None, top: int = 10
) -> WorkloadMapping:
    """Feasible plans cheapest first (then fastest, then fewest GPUs), at most ``top``; then every infeasible one."""
    if not 1 <= top <= 100:
        raise ValidationFailed("top must be between 1 and 100", details={"field": "top"})
    requirement, plans = plan_workload(request, specs=specs, prices=prices)
    feasible = sorted(
        (p for p in plans if p.feasible),
        key=lambda p: (
            p.est_cost_usd if p.est_cost_usd is not None else math.inf,
            p.est_hours if p.est_hours is not None else math.inf,
            p.gpus_needed or 0,
            p.gpu_model,
        ),
    )
    infeasible = sorted(
        (p for p in plans if not p.feasible),
        key=lambda p: (REASONS.index(p.reason) if p.reason else -1, p.gpu_model),
    )
    return WorkloadMapping(
        requirement=requirement,
        plans=feasible[:top],
        infeasible=infeasible,
        more_feasible=max(0, len(feasible) - top),
        priced=prices is not None,
    )


def plan_workload(request: WorkloadRequest, *, specs: Sequence[GpuSpec], prices: Prices | None) -> WorkloadPlans:
    """The requirement and one full plan per GPU model, in the order of ``specs``. A request that names its GPUs
    (``gpus``) and asks for a format none of them runs is refused as the KPI routes refuse it (422
    ``precision_unsupported``, ``domain.precision``); over GPUs it did not name, such a GPU is a plan with that
    reason."""
    gpus = GpuColumns.of(_select(specs, request.gpus))
    planned = _plan_by_type(request, gpus)
    if request.gpus and bool(np.all(planned.plan.reason == PRECISION_UNSUPPORTED)):
        raise precision_refused(request.precision, dict(zip(gpus.models, gpus.architectures, strict=True)))
    return WorkloadPlans(planned.requirement, _gpu_plans(planned, gpus, prices))


# ---- assembly ------------------------------------------------------------------------------------------------------


def _select(specs: Sequence[GpuSpec], wanted: Sequence[str]) -> list[GpuSpec]:
    if not specs:
        raise ValidationFailed("no GPU models to evaluate")
    if not wanted:
        return list(specs)
    by_model = {s.model: s for s in specs}
    chosen: dict[str, GpuSpec] = {}
    unknown: list[str] = []
    for raw in wanted:
        try:
            model = raw if raw in by_model else canonical_gpu(raw)
        except UnknownGpu:
            model = ""
        if model in by_model:
            chosen[model] = by_model[model]
        else:
            unknown.append(raw)
    if unknown:
        raise ValidationFailed(f"unknown GPU models: {', '.join(unknown)}", details={"field": "gpus"})
    return [s for s in specs if s.model in chosen]


def _plan_by_type(request: WorkloadRequest, gpus: GpuColumns) -> PlannedWorkload:
    match request.type:
        case "llm_inference":
            return llm_inference.plan(request, gpus)
        case "training":
            return training.plan(request, gpus)
        case "image_generation":
            return image_generation.plan(request, gpus)
        case "video_processing":
            return video_processing.plan(request, gpus)
        case "data_processing":
            return data_processing.plan(request, gpus)


def _gpu_plans(planned: PlannedWorkload, gpus: GpuColumns, prices: Prices | None) -> list[GpuPlan]:
    """One plan per GPU column: the kernel's answer, priced from the cheapest live offer when there are prices."""
    plan = planned.plan
    band = planned.requirement.uncertainty
    out: list[GpuPlan] = []
    for i, model in enumerate(gpus.models):
        code = int(plan.reason[i])
        n = int(plan.gpus[i])
        technical = code == kernels.OK
        reason: Reason | None = None if technical else REASON_BY_CODE[code]
        bottleneck: Bottleneck = planned.bottlenecks[i]
        if code in UNSUPPORTED_CODES:
            bottleneck = "unsupported"
        elif code in MEMORY_CODES:
            bottleneck = "memory_capacity"
        offer = prices.get(model) if prices is not None else None
        est_hours = hours(float(plan.seconds[i])) if technical else None
        cost = None
        metrics = {name: float(v[i]) for name, v in planned.metrics.items() if technical and np.isfinite(v[i])}
        if technical and prices is not None and offer is None:
            reason = "no_offers"
        elif technical and offer is not None and est_hours is not None:
            cost = n * offer[0] * est_hours
            for name, (per, scale) in planned.unit_costs.items():
                if per in metrics:
                    metrics[name] = cost / metrics[per] * scale
        tps = planned.tokens_per_s
        out.append(
            GpuPlan(
                gpu_model=model,
                feasible=technical and reason is None,
                gpus_needed=n if technical else None,
                est_hours=est_hours,
                est_hours_low=None if est_hours is None else est_hours * band.time_low,
                est_hours_high=None if est_hours is None else est_hours * band.time_high,
                est_tokens_per_s=float(tps[i]) if technical and tps is not None and np.isfinite(tps[i]) else None,
                memory_required_gb=planned.requirement.memory_required_gb,
                memory_per_gpu_gb=r4(float(plan.memory_per_gpu_gb[i])),
                bottleneck=bottleneck,
                est_cost_usd=cost,
                price_per_gpu_hour=offer[0] if offer is not None else None,
                offer_id=offer[1] if offer is not None else None,
                reason=reason,
                metrics=metrics,
                assumptions=_plan_notes(planned, i, code, int(plan.evaluated_gpus[i])),
            )
        )
    return out


def _plan_notes(planned: PlannedWorkload, i: int, code: int, evaluated: int) -> list[str]:
    if code == kernels.OK:
        if planned.notes is not None:
            return [planned.notes[i]] if planned.notes[i] else []
        beta = planned.scaling_beta
        if beta is None or evaluated <= 1:
            return []
        return [f"{evaluated} GPUs at {evaluated ** (beta - 1):.0%} parallel efficiency (speedup n^{beta})"]
    if code in MEMORY_CODES:
        if planned.requirement.parallelism == "replicated":
            return ["every GPU holds the whole working set: more GPUs do not reduce memory per GPU"]
        return [f"memory_per_gpu_gb is shown at {evaluated} GPU(s), the most allowed"]
    return []
