"""What a plain-words workload description says (``POST /ai/parse-workload``): each field the text states, with a
confidence, and the answer that carries the ``/math/map-workload-to-gpu`` request built from it.

The spec is a record of what was read, not a request: ``workload`` in :class:`ParseAnswer` is the one request model
of the workload routes (:data:`gpubroker.domain.workloads.WorkloadRequest`), so an answer's ``workload`` can be
posted to ``/math/map-workload-to-gpu`` unchanged. Pure pydantic.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gpubroker.domain.precision import Precision
from gpubroker.domain.workloads import WorkloadRequest

MAX_TEXT_CHARS = 2000

WorkloadKind = Literal[
    "llm_inference", "fine_tuning", "training", "image_generation", "video_processing", "data_processing"
]
QuantityUnit = Literal["gpus", "images", "videos", "minutes", "tokens", "rows", "gb"]
BudgetPeriod = Literal["hour", "day", "month", "total"]
QualityLevel = Literal["draft", "standard", "high"]
Task = Literal[
    "transcode", "upscale", "frame_interpolation", "diffusion_video", "etl", "embedding", "dedupe", "transcription"
]
Method = Literal["full", "lora", "qlora"]
SpecField = Literal[
    "workload_type", "model", "model_params_b", "precision", "context_tokens", "concurrency", "request_rate_per_s",
    "quantity", "gpu_count", "gpu", "duration_hours", "deadline_hours", "quality", "region", "budget_usd",
    "compliance", "task", "method", "epochs",
]  # fmt: skip
Confidence = float
EngineUsed = Literal["rules", "bedrock", "openai"]
FallbackReason = Literal["anonymous", "budget", "budget_unavailable", "breaker_open", "timeout", "error", "invalid"]


class _Read(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    confidence: Confidence = Field(ge=0, le=1, description="how sure the reading is (0..1)")


class KindRead(_Read):
    value: WorkloadKind


class ModelRead(_Read):
    value: str = Field(description="the model table's canonical name")
    family: str
    kind: str
    hf_id: str
    source: str


class NumberRead(_Read):
    value: float


class IntRead(_Read):
    value: int


class TextRead(_Read):
    value: str


class PrecisionRead(_Read):
    value: Precision
    written: str = Field(description='the words read ("4-bit", "AWQ", "Q4_K_M")')


class TaskRead(_Read):
    value: Task


class MethodRead(_Read):
    value: Method


class QuantityRead(_Read):
    value: float
    unit: QuantityUnit


class QualityRead(_Read):
    value: QualityLevel | None = Field(default=None, description="draft, standard or high, where the words say")
    width: int | None = None
    height: int | None = None
    steps: int | None = None


class RegionRead(_Read):
    value: list[str] = Field(description="region groups (gpubroker.domain.regions.REGION_GROUPS): eu, us, asia, ...")
    countries: list[str] = Field(default_factory=list, description="ISO 3166-1 alpha-2 codes of places named")
    written: list[str] = Field(default_factory=list)


class BudgetRead(_Read):
    value: float = Field(description="USD")
    period: BudgetPeriod
    amount: float = Field(description="as written, in `currency`")
    currency: str


class ComplianceRead(_Read):
    value: list[str] = Field(description="the offers' compliance tags the text asks for")
    standards: list[str] = Field(default_factory=list, description="the words read: gdpr, hipaa, soc2, ...")


class WorkloadSpec(BaseModel):
    """Every field the text states (absent: not stated)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workload_type: KindRead | None = None
    model: ModelRead | None = None
    model_params_b: NumberRead | None = None
    precision: PrecisionRead | None = None
    context_tokens: IntRead | None = None
    concurrency: IntRead | None = None
    request_rate_per_s: NumberRead | None = None
    quantity: QuantityRead | None = None
    gpu_count: IntRead | None = None
    gpu: TextRead | None = Field(default=None, description="a GPU model named (catalog id)")
    duration_hours: NumberRead | None = Field(default=None, description='how long it runs ("for 3 hours")')
    deadline_hours: NumberRead | None = Field(default=None, description='when it must be done ("within 2 days")')
    quality: QualityRead | None = None
    region: RegionRead | None = None
    budget_usd: BudgetRead | None = None
    compliance: ComplianceRead | None = None
    task: TaskRead | None = None
    method: MethodRead | None = None
    epochs: NumberRead | None = None


class ParseRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="what you want to run, in plain words")


class ParseAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    engine: EngineUsed = Field(default="rules", description="which engine read the text")
    fallback: FallbackReason | None = Field(
        default=None,
        description="why the rules engine answered although a language model is configured: anonymous caller, "
        "daily budget spent (or not countable), breaker open, the model timed out, failed, or answered invalidly",
    )
    spec: WorkloadSpec
    workload: WorkloadRequest | None = Field(
        description="the POST /math/map-workload-to-gpu request, or null when something it needs is missing"
    )
    missing: list[SpecField] = Field(description="what the mapping still needs, most important first")
    question: str | None = Field(description="one question for the most important missing field")
    assumptions: list[str] = Field(default_factory=list, description="defaults and conversions the mapping used")
