"""The reference set of measured runs (issue 14 §1) against the workload estimator, in process.

``tests/fixtures/workloads/measured_runs.json`` holds published measurements of real runs: LLM serving throughput and
latency, single-stream decode, memory facts (fits / does not fit, peak memory), image and video generation, training
and fine-tuning. Every case quotes its source. This module maps each case to the request ``POST
/math/map-workload-to-gpu`` takes (validated by the same pydantic union the route validates its body with), runs the
service the route calls (:func:`gpubroker.services.workloads.plan_workload`, no prices: the technical answer) for the
case's GPU, and compares the estimate with the measured figure: ``estimate / measured`` for quantities, right or wrong
for fit facts. A case the estimator cannot express (a dataset whose lengths are unknown, ...) is ``inexpressible``;
a case it judges infeasible although the run happened is ``infeasible``. Both count as misses. Named models pass the
model table's architecture (and MoE figures), maximum-throughput runs the throughput mode (issue 14 §2).

The estimator's constants marked "fitted"/"calibration" were set on ``split == "calibration"`` cases only;
:func:`uncertainty_bands` turns those cases' residuals into the band every estimate carries (issue 14 §3).

The mapping is one function per kind (``map_llm_serving``, ``map_llm_decode``, ``map_memory``, ``map_image``,
``map_video``, ``map_training``) in :data:`MAPPERS`: when the estimator learns to express more (MoE, serving modes,
...), change the mapping there and nowhere else.

Run ``python -m tests.workload_reference`` for the table and the summary (share within ±25% and within 2x, for the
calibration and the holdout cases separately).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT / "layers" / "core", ROOT / "layers" / "math"):  # script mode: the layers as Lambda mounts them
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from gpubroker.domain.gpus import GpuSpec, bundled_catalog  # noqa: E402
from gpubroker.domain.models import OpenModel, model_named  # noqa: E402
from gpubroker.domain.workloads import GpuPlan, WorkloadRequest, architecture_fields  # noqa: E402
from gpubroker.services.workloads import plan_workload  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "workloads" / "measured_runs.json"
KINDS = ("llm_serving", "llm_decode", "memory", "image", "video", "training")
SPLITS = ("calibration", "holdout")
GIB_IN_GB = 1.073741824
WITHIN_25 = (0.75, 1.25)
WITHIN_2X = (0.5, 2.0)
MEMORY_REASONS = frozenset({"insufficient_memory_even_at_max_gpus", "insufficient_memory_at_gpu_count"})

Status = Literal["ratio", "right", "wrong", "inexpressible", "infeasible"]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(WorkloadRequest)


class Inexpressible(Exception):
    """The current estimator has no way to describe this case (the message says what is missing)."""


@dataclass(frozen=True)
class Estimate:
    """What the estimator says for a case's metric: a number, a fit verdict, or no answer (``reason``)."""

    value: float | bool | None
    reason: str | None = None
    request: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Outcome:
    case_id: str
    kind: str
    split: str
    metric: str
    measured: float | bool
    estimate: float | bool | None
    status: Status
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.status != "ratio" or not isinstance(self.estimate, float) or isinstance(self.measured, bool):
            return None
        return self.estimate / self.measured

    def within(self, band: tuple[float, float]) -> bool:
        """A hit in the band: a ratio inside it, or a right fit verdict; misses otherwise."""
        if self.status == "right":
            return True
        ratio = self.ratio
        return ratio is not None and band[0] <= ratio <= band[1]


@dataclass(frozen=True)
class Summary:
    split: str
    cases: int
    within_25: int
    within_2x: int
    inexpressible: int
    infeasible: int

    @property
    def share_25(self) -> float:
        return self.within_25 / self.cases if self.cases else math.nan

    @property
    def share_2x(self) -> float:
        return self.within_2x / self.cases if self.cases else math.nan


# ---- loading ---------------------------------------------------------------------------------------------------------


def load_cases(path: Path = FIXTURE) -> list[dict[str, Any]]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    cases: list[dict[str, Any]] = document["cases"]
    return cases


def measured_value(case: Mapping[str, Any]) -> float | bool:
    """The measured figure in the unit the estimate is compared in (GiB -> GB; everything else as stored)."""
    measured = case["measured"]
    value = measured["value"]
    if isinstance(value, bool):
        return value
    number = float(value)
    return number * GIB_IN_GB if measured["unit"] == "GiB" else number


# ---- the estimator, in process ---------------------------------------------------------------------------------------


@cache
def _specs() -> tuple[GpuSpec, ...]:
    return tuple(bundled_catalog().gpus)


def plan_for(body: Mapping[str, Any]) -> GpuPlan:
    """The plan of the one GPU model ``body["gpus"]`` names: the body validated as the route validates it, then the
    route's service (no prices, so feasibility is technical)."""
    request = _ADAPTER.validate_python(dict(body))
    _, plans = plan_workload(request, specs=_specs(), prices=None)
    (plan,) = plans
    return plan


def _llm_shape(model: Mapping[str, Any]) -> dict[str, Any]:
    """The architecture fields the request takes: the model table's (layers, hidden size, KV heads, head dim,
    experts), read as the route reads it (``architecture_fields``), and the case's own mixture-of-experts figures
    (total and active parameters) where it states them. The case's parameter count stands."""
    fields: dict[str, Any] = {}
    known = _table_model(model["name"])
    if known is not None and known.kind == "llm":
        fields, _ = architecture_fields(known)
        fields.pop("params_b")
    moe = model.get("moe")
    if moe:
        fields["active_params_b"] = moe["active_params_b"]
    return fields


def _table_model(name: str) -> OpenModel | None:
    try:
        return model_named(name)
    except KeyError:
        return None


def _llm_body(
    case: Mapping[str, Any], *, concurrency: int, context: int, output: int, prompt: int | None = None
) -> dict[str, Any]:
    hardware = case["hardware"]
    requests = max(concurrency, int(case["scenario"].get("requests") or concurrency))
    return {
        "type": "llm_inference",
        "params_b": case["model"]["params_b"],
        "precision": case["precision"],
        "context_tokens": context,
        "prompt_tokens": context - output if prompt is None else prompt,
        "output_tokens": output,
        "concurrency": concurrency,
        "requests": requests,
        "gpu_count": hardware["count"],
        "max_gpus": max(8, hardware["count"]),
        "gpus": [hardware["gpu"]],
        **_llm_shape(case["model"]),
        # the engine's memory share when the source's engine allocates differently from vLLM's 0.9
        **(
            {"gpu_memory_utilization": case["scenario"]["gpu_memory_utilization"]}
            if "gpu_memory_utilization" in case["scenario"]
            else {}
        ),
    }


def _no_answer(plan: GpuPlan, body: Mapping[str, Any]) -> Estimate:
    return Estimate(None, reason=plan.reason or "no estimate", request=body)


def _tokens_per_s_over_job(plan: GpuPlan, body: Mapping[str, Any]) -> Estimate:
    """Output tokens over the whole job (prefill included), as the throughput benchmarks count them."""
    if not plan.feasible or plan.est_hours is None:
        return _no_answer(plan, body)
    output = body["requests"] * body["output_tokens"]
    return Estimate(output / (plan.est_hours * 3600.0), request=body)


# ---- one mapping per kind --------------------------------------------------------------------------------------------


# ShareGPT as vLLM's and SGLang's bench_serving sample it: pairs with a prompt of at most 1,024 tokens and prompt +
# output of at most 2,048 are kept; the mean output is the cases' own (output / request throughput, ~194 tokens);
# the mean prompt is not in the sources: ~215 tokens, as bench_serving's "Total input tokens" over its prompts
# (an assumption of the mapping, stated here)
SHAREGPT_CONTEXT, SHAREGPT_PROMPT, SHAREGPT_OUTPUT = 2048, 215, 194


def map_llm_serving(case: Mapping[str, Any]) -> Estimate:
    """Throughput (output tokens/s, per GPU when the source reports it so), TTFT and inter-token latency: a fixed
    batch or concurrency in latency mode; maximum-throughput runs (the engine picks the batch) in throughput mode
    over the ShareGPT mean lengths. Tensor parallel over the case's GPUs (gpu_count; the estimator picks the layout)."""
    scenario = case["scenario"]
    if scenario.get("mode") == "max_throughput":
        if scenario.get("dataset") != "sharegpt":
            raise Inexpressible(f"maximum-throughput serving over {scenario.get('dataset')}: lengths unknown")
        body = _llm_body(case, concurrency=1, context=SHAREGPT_CONTEXT, output=SHAREGPT_OUTPUT, prompt=SHAREGPT_PROMPT)
        del body["concurrency"]  # the engine's own batch cap (256)
        plan = plan_for(body | {"mode": "throughput"})
        return _tokens_per_s_over_job(plan, body)
    concurrency = int(scenario.get("batch") or scenario.get("concurrency") or 1)
    prompt, output = int(scenario["input_tokens"]), int(scenario["output_tokens"])
    body = _llm_body(case, concurrency=concurrency, context=prompt + output, output=output)
    plan = plan_for(body)
    if not plan.feasible:
        return _no_answer(plan, body)
    metric = case["metric"]
    if metric == "ttft_s":
        return Estimate(plan.metrics.get("ttft_s"), request=body)
    if metric == "per_token_latency_s":
        step_ms = plan.metrics.get("decode_step_ms")
        return Estimate(None if step_ms is None else step_ms / 1e3, request=body)
    rate = _tokens_per_s_over_job(plan, body)
    if metric == "output_tokens_per_s_per_gpu" and isinstance(rate.value, float):
        return Estimate(rate.value / case["hardware"]["count"], request=body)
    if metric in ("output_tokens_per_s", "output_tokens_per_s_per_gpu"):
        return rate
    raise Inexpressible(f"metric {metric} is not mapped for llm_serving")


def map_llm_decode(case: Mapping[str, Any]) -> Estimate:
    """Single-stream decode tokens/s (batch 1): the estimator's decode rate at concurrency 1."""
    scenario = case["scenario"]
    prompt, output = int(scenario["input_tokens"]), int(scenario["output_tokens"])
    body = _llm_body(case, concurrency=1, context=prompt + output + 1, output=output)
    plan = plan_for(body)
    if not plan.feasible or plan.est_tokens_per_s is None:
        return _no_answer(plan, body)
    return Estimate(plan.est_tokens_per_s, request=body)


def _training_body(case: Mapping[str, Any], *, gpu_count: int, tokens_b: float) -> dict[str, Any]:
    scenario = case["scenario"]
    body: dict[str, Any] = {
        "type": "training",
        "params_b": case["model"]["params_b"],
        "dataset_tokens_b": tokens_b,
        "precision": case["precision"],
        "method": scenario.get("method", "full"),
        "gpu_count": gpu_count,
        "max_gpus": max(256, gpu_count),
        "gpus": [case["hardware"]["gpu"]],
    }
    if scenario.get("seq_len"):
        body["seq_len"] = int(scenario["seq_len"])
    if scenario.get("micro_batch"):
        body["micro_batch_size"] = int(scenario["micro_batch"])
    if "gradient_checkpointing" in scenario:
        body["gradient_checkpointing"] = bool(scenario["gradient_checkpointing"])
    # what the case's sources state about the run (the recipe's optimizer, the nodes' network), field for field
    body |= {field: scenario[field] for field in TRAINING_SCENARIO_FIELDS if field in scenario}
    return body


TRAINING_SCENARIO_FIELDS = ("optimizer", "optimizer_in_backward", "mixed_precision", "internode_gbps", "gpus_per_node")


def _video_body(case: Mapping[str, Any]) -> dict[str, Any]:
    scenario = case["scenario"]
    fps = 16.0
    known = _table_model(case["model"]["name"])
    return {
        "type": "video_processing",
        "task": "diffusion_video",
        **({"model": known.name} if known is not None and known.kind == "video" else {}),
        "params_b": case["model"]["params_b"],
        "precision": case["precision"],
        "width": int(scenario["width"]),
        "height": int(scenario["height"]),
        "fps": fps,
        "duration_s": int(scenario["frames"]) / fps,  # frames = ceil(fps x duration): exact for these fractions
        "steps": int(scenario["steps"]),
        "gpu_count": case["hardware"]["count"],
        "gpus": [case["hardware"]["gpu"]],
    }


def map_memory(case: Mapping[str, Any]) -> Estimate:
    """Fit facts (the plan is not refused for memory at the case's GPU count) and peak memory per GPU, for LLM
    serving (weights from the total parameters, MoE included: memory is what the total sets), fine-tuning and video
    diffusion."""
    metric = case["metric"]
    engine_kind = _memory_workload(case)
    if engine_kind == "llm":
        scenario = case["scenario"]
        prompt, output = int(scenario["input_tokens"]), int(scenario["output_tokens"])
        concurrency = int(scenario.get("batch") or scenario.get("concurrency") or 1)
        body = _llm_body(case, concurrency=concurrency, context=prompt + output, output=output)
    elif engine_kind == "training":
        body = _training_body(case, gpu_count=case["hardware"]["count"], tokens_b=0.001)
    else:
        body = _video_body(case)
    plan = plan_for(body)
    if metric == "fits":
        return Estimate(plan.reason not in MEMORY_REASONS, request=body)
    if metric == "peak_memory_gb":
        return Estimate(plan.memory_per_gpu_gb, request=body)
    raise Inexpressible(f"metric {metric} is not mapped for memory")


def _memory_workload(case: Mapping[str, Any]) -> Literal["llm", "training", "video"]:
    scenario = case["scenario"]
    if "method" in scenario:
        return "training"
    if "frames" in scenario:
        return "video"
    return "llm"


IMAGE_FAMILIES = {
    "Stable Diffusion 1.5": "sd15",
    "SDXL 1.0": "sdxl",
    "Stable Diffusion 3 Medium": "sd3",
    "FLUX.1 dev": "flux-dev",
    "FLUX.1 schnell": "flux-schnell",
}


def map_image(case: Mapping[str, Any]) -> Estimate:
    """Denoising iterations/s of a batch, or seconds per image, for one GPU holding the pipeline."""
    family = IMAGE_FAMILIES.get(case["model"]["name"])
    if family is None:
        raise Inexpressible(f"image model {case['model']['name']} has no family in the estimator")
    scenario = case["scenario"]
    batch, steps = int(scenario["batch"]), int(scenario["steps"])
    body = {
        "type": "image_generation",
        "model_family": family,
        "precision": case["precision"],
        "width": int(scenario["width"]),
        "height": int(scenario["height"]),
        "steps": steps,
        "images": batch,
        "batch": batch,
        "gpu_count": case["hardware"]["count"],
        "gpus": [case["hardware"]["gpu"]],
    }
    plan = plan_for(body)
    per_image = plan.metrics.get("seconds_per_image")
    if not plan.feasible or per_image is None:
        return _no_answer(plan, body)
    if case["metric"] == "iterations_per_s":
        return Estimate(steps / (per_image * batch), request=body)
    if case["metric"] == "seconds_per_image":
        return Estimate(per_image, request=body)
    raise Inexpressible(f"metric {case['metric']} is not mapped for image")


def map_video(case: Mapping[str, Any]) -> Estimate:
    """Seconds for one generated clip (video diffusion, sequence parallel over the case's GPUs)."""
    body = _video_body(case)
    plan = plan_for(body)
    if not plan.feasible or plan.est_hours is None:
        return _no_answer(plan, body)
    return Estimate(plan.est_hours * 3600.0, request=body)


PRETRAINING_GPU_COUNT = 1024  # the Llama 2 card gives GPU-hours, not the count: GPU-hours depend on it as n^0.03


def map_training(case: Mapping[str, Any]) -> Estimate:
    """Training throughput (tokens/s per GPU), total GPU-hours, or wall-clock hours of a run."""
    scenario = case["scenario"]
    count = case["hardware"]["count"] or PRETRAINING_GPU_COUNT
    tokens_b = float(scenario.get("tokens_b") or 1.0) * float(scenario.get("epochs") or 1.0)
    body = _training_body(case, gpu_count=count, tokens_b=tokens_b)
    plan = plan_for(body)
    if not plan.feasible or plan.est_hours is None:
        return _no_answer(plan, body)
    metric = case["metric"]
    if metric == "training_tokens_per_s_per_gpu":
        return Estimate(tokens_b * 1e9 / (plan.est_hours * 3600.0) / count, request=body)
    if metric == "training_gpu_hours":
        return Estimate(plan.est_hours * count, request=body)
    if metric == "training_hours":
        return Estimate(plan.est_hours, request=body)
    raise Inexpressible(f"metric {metric} is not mapped for training")


MAPPERS: dict[str, Callable[[Mapping[str, Any]], Estimate]] = {
    "llm_serving": map_llm_serving,
    "llm_decode": map_llm_decode,
    "memory": map_memory,
    "image": map_image,
    "video": map_video,
    "training": map_training,
}


# ---- comparison ------------------------------------------------------------------------------------------------------


def evaluate(case: Mapping[str, Any]) -> Outcome:
    measured = measured_value(case)
    head = {"case_id": case["id"], "kind": case["kind"], "split": case["split"], "metric": case["metric"]}
    try:
        estimate = MAPPERS[case["kind"]](case)
    except Inexpressible as missing:
        return Outcome(**head, measured=measured, estimate=None, status="inexpressible", note=str(missing))
    value = estimate.value
    if isinstance(measured, bool):
        status: Status = "right" if value is measured else "wrong"
        return Outcome(**head, measured=measured, estimate=value, status=status)
    if value is None or isinstance(value, bool) or not math.isfinite(value):
        return Outcome(**head, measured=measured, estimate=None, status="infeasible", note=estimate.reason or "")
    return Outcome(**head, measured=measured, estimate=float(value), status="ratio")


def evaluate_all(cases: Sequence[Mapping[str, Any]]) -> list[Outcome]:
    return [evaluate(case) for case in cases]


def summarise(outcomes: Sequence[Outcome]) -> list[Summary]:
    out = []
    for split in SPLITS:
        chosen = [o for o in outcomes if o.split == split]
        out.append(
            Summary(
                split=split,
                cases=len(chosen),
                within_25=sum(o.within(WITHIN_25) for o in chosen),
                within_2x=sum(o.within(WITHIN_2X) for o in chosen),
                inexpressible=sum(o.status == "inexpressible" for o in chosen),
                infeasible=sum(o.status == "infeasible" for o in chosen),
            )
        )
    return out


def _shown(value: float | bool | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "fits" if value else "no fit"
    return f"{value:.4g}"


def format_table(outcomes: Sequence[Outcome]) -> str:
    rows = [("case", "kind", "split", "metric", "estimate", "measured", "ratio", "status")]
    for o in outcomes:
        ratio = o.ratio
        rows.append(
            (
                o.case_id,
                o.kind,
                o.split,
                o.metric,
                _shown(o.estimate),
                _shown(o.measured),
                "-" if ratio is None else f"{ratio:.2f}",
                o.status if not o.note else f"{o.status}: {o.note}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    ]
    return "\n".join(lines)


def format_summary(summaries: Sequence[Summary]) -> str:
    lines = []
    for s in summaries:
        lines.append(
            f"{s.split:<11} {s.cases:>3} cases: within ±25% {s.within_25:>3} ({s.share_25:.0%}), "
            f"within 2x {s.within_2x:>3} ({s.share_2x:.0%}); inexpressible {s.inexpressible}, "
            f"judged infeasible {s.infeasible}"
        )
    return "\n".join(lines)


def report(cases: Sequence[Mapping[str, Any]] | None = None) -> str:
    outcomes = evaluate_all(load_cases() if cases is None else cases)
    return format_table(outcomes) + "\n\n" + format_summary(summarise(outcomes))


def main() -> None:
    print(report())


if __name__ == "__main__":
    main()


# ---- uncertainty bands (issue 14 §3) ---------------------------------------------------------------------------------

# what a case's ratio says about time: rates are estimate/measured = measured time / estimated time; times the inverse
RATE_METRICS = frozenset(
    {
        "output_tokens_per_s",
        "output_tokens_per_s_per_gpu",
        "decode_tokens_per_s",
        "iterations_per_s",
        "training_tokens_per_s_per_gpu",
    }
)
BAND_KINDS: dict[str, str] = {  # reference kind -> the workload type whose estimates its residuals describe
    "llm_serving": "llm_inference",
    "llm_decode": "llm_inference",
    "training": "training",
    "image": "image_generation",
    "video": "video_processing",
}
BAND_MIN_CASES = 5  # fewer calibration cases than this: the type takes the band of all types' cases pooled
BAND_QUANTILES = (0.1, 0.9)  # the band holds the central 80% of the calibration residuals


def time_factor(outcome: Outcome) -> float | None:
    """Measured time / estimated time for a quantity case (None for fit facts and cases without an estimate)."""
    ratio = outcome.ratio
    if ratio is None:
        return None
    return ratio if outcome.metric in RATE_METRICS else 1.0 / ratio


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def uncertainty_bands(outcomes: Sequence[Outcome]) -> dict[str, tuple[float, float, int, str]]:
    """Per workload type: (low, high) multipliers of the estimated time that hold the central 80% of the
    calibration cases' measured/estimated times, the number of cases, and what the band rests on. A type with fewer
    than 5 cases (or none: data processing) takes the pooled band; memory's band comes from the peak-memory cases."""
    factors: dict[str, list[float]] = {}
    for outcome in outcomes:
        factor = time_factor(outcome)
        if outcome.split == "calibration" and factor is not None and outcome.kind in BAND_KINDS:
            factors.setdefault(BAND_KINDS[outcome.kind], []).append(factor)
    pooled = [f for values in factors.values() for f in values]
    bands: dict[str, tuple[float, float, int, str]] = {}
    for kind in ("llm_inference", "training", "image_generation", "video_processing", "data_processing"):
        own = factors.get(kind, [])
        values, basis = (own, "own") if len(own) >= BAND_MIN_CASES else (pooled, "pooled")
        bands[kind] = (_quantile(values, BAND_QUANTILES[0]), _quantile(values, BAND_QUANTILES[1]), len(own), basis)
    memory = [1.0 / o.ratio for o in outcomes if o.split == "calibration" and o.metric == "peak_memory_gb" and o.ratio]
    bands["memory"] = (min(memory), max(memory), len(memory), "range")
    return bands


def format_bands(bands: Mapping[str, tuple[float, float, int, str]]) -> str:
    return "\n".join(
        f"{kind:<17} x{low:.2f} .. x{high:.2f}  ({cases} calibration cases, {basis})"
        for kind, (low, high, cases, basis) in bands.items()
    )
