"""The assistant's use cases. ``parse_workload``: plain words -> the spec, the ``/math/map-workload-to-gpu``
request built from it (or what is missing), and one question.

The engine here is the rules engine (:mod:`.parse_rules`); the request is the workload routes' own model
(:data:`gpubroker.domain.workloads.WorkloadRequest`), built by :func:`to_workload_request` and validated by it, so an
answer's ``workload`` posts to ``/math/map-workload-to-gpu`` unchanged.
"""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from gpubroker.domain.models import OpenModel, model_named
from gpubroker.domain.workload_spec import EngineUsed, FallbackReason, ParseAnswer, SpecField, WorkloadSpec
from gpubroker.domain.workloads import WorkloadRequest, architecture_fields
from gpubroker.services.assistant.parse_rules import parse_spec

TOKENS_PER_ROW = 512  # a fine-tuning example / a document chunk (assumption, docs/decisions.md)
BYTES_PER_ROW = 2048  # a row of tabular or text data for ETL/embedding (512 tokens x 4 bytes)
BYTES_PER_TOKEN = 4  # as workloads.BYTES_PER_TOKEN
OUTPUT_TOKENS = 256  # LlmInference's default output per request

_INVALID = "outside the request's bounds: "
_REQUEST: TypeAdapter[WorkloadRequest] = TypeAdapter(WorkloadRequest)

_QUESTIONS: dict[str, str] = {
    "workload_type": "What do you want to run: LLM inference, fine-tuning, training, image generation, video "
    "processing or data processing?",
    "model_params_b": "Which model do you want to {verb} (a name such as Llama 3.1 8B, or its size in billions of "
    "parameters)?",
    "quantity:training": "How large is the training dataset (in tokens, rows or GB)?",
    "quantity:image_generation": "How many images do you need to generate?",
    "quantity:video_processing": "How many minutes of video are there to process?",
    "quantity:data_processing": "How much data is there to process (in GB, rows or tokens)?",
    "task:video_processing": "What should happen to the video: transcoding, upscaling, frame interpolation or "
    "generating it from text?",
    "task:data_processing": "Which kind of processing is it: ETL, embeddings or deduplication?",
}
_VERB = {"llm_inference": "serve", "fine_tuning": "fine-tune", "training": "train"}


def parse_workload(text: str) -> ParseAnswer:
    """The rules engine's answer for ``text`` (at most 2,000 characters: the request model checks)."""
    return answer_for(parse_spec(text))


def answer_for(spec: WorkloadSpec, engine: EngineUsed = "rules", fallback: FallbackReason | None = None) -> ParseAnswer:
    """The answer for a spec, whichever engine read it: what is missing, the question, the mapped request."""
    missing = missing_fields(spec)
    workload, assumptions = (None, []) if missing else to_workload_request(spec)
    question = question_for(spec, missing)
    if not missing and workload is None:  # complete, but outside the request model's bounds
        question = f"That is more than one estimate covers ({assumptions[-1]}): could you split it into parts?"
    return ParseAnswer(
        engine=engine,
        fallback=fallback,
        spec=spec,
        workload=workload,
        missing=missing,
        question=question,
        assumptions=assumptions,
    )


def missing_fields(spec: WorkloadSpec) -> list[SpecField]:
    """What the mapping needs and the text did not say, most important first."""
    if spec.workload_type is None:
        return ["workload_type"]
    kind = spec.workload_type.value
    out: list[SpecField] = []
    if kind in ("llm_inference", "fine_tuning", "training") and spec.model_params_b is None:
        out.append("model_params_b")
    if kind in ("fine_tuning", "training") and not _has_unit(spec, "tokens", "rows", "gb"):
        out.append("quantity")
    if kind == "image_generation" and not _has_unit(spec, "images"):
        out.append("quantity")
    if kind == "video_processing":
        if spec.task is None:
            out.append("task")
        if not _footage_seconds(spec):
            out.append("quantity")
    if kind == "data_processing":
        if spec.task is None:
            out.append("task")
        if not _has_unit(spec, "gb", "rows", "tokens", "minutes"):
            out.append("quantity")
    return out


def question_for(spec: WorkloadSpec, missing: list[SpecField]) -> str | None:
    if not missing:
        return None
    first = missing[0]
    kind = spec.workload_type.value if spec.workload_type else ""
    if first in ("workload_type", "model_params_b"):
        return _QUESTIONS[first].format(verb=_VERB.get(kind, "run"))
    family = "training" if kind == "fine_tuning" else kind
    return _QUESTIONS[f"{first}:{family}"]


def _has_unit(spec: WorkloadSpec, *units: str) -> bool:
    return spec.quantity is not None and spec.quantity.unit in units


def _footage_seconds(spec: WorkloadSpec) -> float | None:
    """Seconds of video the text states: minutes of footage, or for generated video the clip length."""
    q = spec.quantity
    if q is not None and q.unit == "minutes":
        return q.value * 60
    if spec.task is not None and spec.task.value == "diffusion_video" and q is not None and q.unit == "videos":
        return 5.0  # a clip of the video models' usual length (Wan 2.1: 81 frames at 16 fps)
    return None


def _table_model(spec: WorkloadSpec) -> OpenModel | None:
    return model_named(spec.model.value) if spec.model else None


def _gpu_fields(spec: WorkloadSpec, default_max: int) -> dict[str, object]:
    out: dict[str, object] = {}
    if spec.gpu_count is not None:
        out["gpu_count"] = spec.gpu_count.value
        if spec.gpu_count.value > default_max:
            out["max_gpus"] = spec.gpu_count.value
    return out


def _deadline(spec: WorkloadSpec) -> dict[str, object]:
    if spec.deadline_hours is not None and 0 < spec.deadline_hours.value <= 100_000:
        return {"deadline_hours": spec.deadline_hours.value}
    return {}


def to_workload_request(spec: WorkloadSpec) -> tuple[WorkloadRequest | None, list[str]]:
    """The ``/math/map-workload-to-gpu`` request the spec describes, and the defaults and conversions used; None
    when the spec lacks what the request needs or the combination does not validate (the reason in the list)."""
    if missing_fields(spec) or spec.workload_type is None:
        return None, []
    kind = spec.workload_type.value
    notes: list[str] = []
    body: dict[str, object]
    if kind == "llm_inference":
        body = _llm(spec, notes)
    elif kind in ("fine_tuning", "training"):
        body = _training(spec, kind, notes)
    elif kind == "image_generation":
        body = _image(spec, notes)
    elif kind == "video_processing":
        body = _video(spec, notes)
    else:
        body = _data(spec, notes)
    try:
        return _REQUEST.validate_python(body), notes
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return None, [*notes, f"{_INVALID}{where}: {first['msg']}"]


def _precision(spec: WorkloadSpec, floats_only: bool, notes: list[str]) -> dict[str, object]:
    if spec.precision is None:
        return {}
    value = spec.precision.value
    if floats_only and value in ("int8", "int4"):
        notes.append(f"{value} is an inference format: computed in the default precision instead")
        return {}
    return {"precision": value}


def _llm(spec: WorkloadSpec, notes: list[str]) -> dict[str, object]:
    assert spec.model_params_b is not None
    body: dict[str, object] = {"type": "llm_inference", "params_b": spec.model_params_b.value}
    body.update(_precision(spec, False, notes))
    body.update(_architecture(spec, spec.model_params_b.value, notes))
    if spec.context_tokens is not None:
        ctx = spec.context_tokens.value
        body["context_tokens"] = ctx
        if ctx <= OUTPUT_TOKENS:
            body["output_tokens"] = max(1, ctx // 4)
    if spec.concurrency is not None:
        body["concurrency"] = min(spec.concurrency.value, 4096)
    if spec.request_rate_per_s is not None:
        body["target_tokens_per_s"] = round(spec.request_rate_per_s.value * OUTPUT_TOKENS, 6)
        notes.append(f"target rate: {spec.request_rate_per_s.value} requests/s x {OUTPUT_TOKENS} output tokens")
    body.update(_gpu_fields(spec, 8))
    return body


def _architecture(spec: WorkloadSpec, params_b: float, notes: list[str]) -> dict[str, object]:
    """A named language model's shape and experts, as the workload routes read the table (the spec's size stands:
    the table's, unless the text stated another; experts only while they fit in it)."""
    model = _table_model(spec)
    if model is None or model.kind != "llm":
        return {}
    fields, used = architecture_fields(model)
    fields.pop("params_b")
    active = fields.get("active_params_b")
    if isinstance(active, float) and active > params_b:
        for key in ("active_params_b", "n_experts", "experts_per_token"):
            fields.pop(key, None)
    notes.extend(used)
    return fields


def _training(spec: WorkloadSpec, kind: str, notes: list[str]) -> dict[str, object]:
    assert spec.model_params_b is not None and spec.quantity is not None
    q = spec.quantity
    if q.unit == "tokens":
        tokens_b = q.value / 1e9
    elif q.unit == "gb":
        tokens_b = q.value / BYTES_PER_TOKEN
        notes.append(f"dataset tokens: {q.value} GB / {BYTES_PER_TOKEN} bytes per token")
    else:
        tokens_b = q.value * TOKENS_PER_ROW / 1e9
        notes.append(f"dataset tokens: {q.value:g} rows x {TOKENS_PER_ROW} tokens per row (assumed)")
    body: dict[str, object] = {"type": "training", "params_b": spec.model_params_b.value,
                               "dataset_tokens_b": tokens_b}  # fmt: skip
    body.update(_architecture(spec, spec.model_params_b.value, notes))
    method = spec.method.value if spec.method else ("lora" if kind == "fine_tuning" else "full")
    if spec.method is None and kind == "fine_tuning":
        notes.append("fine-tuning method not stated: LoRA assumed")
    body["method"] = method
    if method == "qlora":
        body["precision"] = "bf16"
    else:
        body.update(_precision(spec, True, notes))
    if spec.epochs is not None:
        body["epochs"] = spec.epochs.value
    if spec.context_tokens is not None and spec.context_tokens.value >= 16:
        body["seq_len"] = spec.context_tokens.value
    body.update(_gpu_fields(spec, 256))
    body.update(_deadline(spec))
    return body


def _image(spec: WorkloadSpec, notes: list[str]) -> dict[str, object]:
    assert spec.quantity is not None
    body: dict[str, object] = {"type": "image_generation", "images": max(1, round(spec.quantity.value))}
    model = _table_model(spec)
    if model is not None and model.image_family is not None:
        body["model_family"] = model.image_family
    else:
        notes.append("image model not stated: SDXL assumed")
    body.update(_precision(spec, True, notes))
    if spec.quality is not None:
        if spec.quality.width and spec.quality.height:
            body["width"] = max(64, min(8192, spec.quality.width // 8 * 8))
            body["height"] = max(64, min(8192, spec.quality.height // 8 * 8))
        if spec.quality.steps:
            body["steps"] = spec.quality.steps
    body.update(_gpu_fields(spec, 64))
    body.update(_deadline(spec))
    return body


def _video(spec: WorkloadSpec, notes: list[str]) -> dict[str, object]:
    assert spec.task is not None
    seconds = _footage_seconds(spec) or 0.0
    body: dict[str, object] = {"type": "video_processing", "task": spec.task.value, "duration_s": seconds}
    q = spec.quantity
    if q is not None and q.unit == "videos":
        body["clips"] = max(1, round(q.value))
        notes.append("clip length not stated: 5 s per generated clip assumed")
    if spec.quality is not None and spec.quality.width and spec.quality.height:
        body["width"], body["height"] = spec.quality.width, spec.quality.height
    if spec.task.value == "diffusion_video":
        if spec.quality is not None and spec.quality.steps:
            body["steps"] = spec.quality.steps
        model = _table_model(spec)
        if model is not None and model.kind == "video":
            body["params_b"] = model.params_b
        body.update(_precision(spec, True, notes))
    elif spec.task.value != "transcode":
        body.update(_precision(spec, True, notes))
    body.update(_gpu_fields(spec, 64))
    body.update(_deadline(spec))
    return body


def _data(spec: WorkloadSpec, notes: list[str]) -> dict[str, object]:
    assert spec.task is not None and spec.quantity is not None
    q = spec.quantity
    if q.unit == "gb":
        gb = q.value
    elif q.unit == "tokens":
        gb = q.value * BYTES_PER_TOKEN / 1e9
        notes.append(f"data size: tokens x {BYTES_PER_TOKEN} bytes")
    elif q.unit == "minutes":
        gb = q.value * 60 * 16_000 * 2 / 1e9
        notes.append("audio: 16 kHz 16-bit mono (Whisper's input), 1.92 MB per minute")
    else:
        gb = q.value * BYTES_PER_ROW / 1e9
        notes.append(f"data size: rows x {BYTES_PER_ROW} bytes per row (assumed)")
    task = spec.task.value
    operation = task if task in ("etl", "embedding", "dedupe") else "embedding"
    if task == "transcription":
        notes.append(
            "transcription estimated as an encoder pass over the audio (the embedding model of the data route)"
        )
    body: dict[str, object] = {"type": "data_processing", "operation": operation, "dataset_gb": max(gb, 1e-6)}
    model = _table_model(spec)
    if operation == "embedding" and model is not None and model.params_b <= 100:
        body["model_params_b"] = max(0.001, model.params_b)
    if operation == "embedding":
        body.update(_precision(spec, True, notes))
    body.update(_gpu_fields(spec, 64))
    body.update(_deadline(spec))
    return body
