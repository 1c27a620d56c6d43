"""A template's answers -> the parser's workload spec -> the ``/math/map-workload-to-gpu`` request -> its mapping.

One model all the way: the answers become a :class:`~gpubroker.domain.workload_spec.WorkloadSpec` (what the rules
parser produces, every field at confidence 1), the spec becomes the request by the parser's own
:func:`~gpubroker.services.assistant.to_workload_request`, the ``workload.*`` answers the spec has no field for are
set on that request (and validated by it again), and :func:`~gpubroker.services.workloads.map_workload_to_gpu`
answers, as on the /math route. A request the workload model refuses is a 422 naming the question that fed the
field, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from gpubroker.domain.gpus import GpuSpec
from gpubroker.domain.models import OpenModel, match_model
from gpubroker.domain.templates import AnswerValue, InvalidAnswers, Template, refuse, validate_answers
from gpubroker.domain.workload_spec import (
    BudgetRead,
    IntRead,
    KindRead,
    MethodRead,
    ModelRead,
    NumberRead,
    PrecisionRead,
    QualityRead,
    QuantityRead,
    QuantityUnit,
    RegionRead,
    TaskRead,
    WorkloadSpec,
)
from gpubroker.domain.workloads import GpuPlan, WorkloadMapping, WorkloadRequest
from gpubroker.services.assistant import to_workload_request

SURE = 1.0  # an answer is what the user said: full confidence
TOP = 10  # plans in the mapping, as the /math route's default
_QUANTITY: dict[str, tuple[QuantityUnit, float]] = {
    "images": ("images", 1.0), "minutes": ("minutes", 1.0), "gb": ("gb", 1.0), "rows_m": ("rows", 1e6),
    "tokens_b": ("tokens", 1e9),
}  # fmt: skip
_REQUEST: TypeAdapter[WorkloadRequest] = TypeAdapter(WorkloadRequest)
OptimiseFor = Literal["cost", "speed"]


class TemplateAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    template: str
    answers: dict[str, AnswerValue] = Field(description="every answer used, defaults filled in")
    spec: WorkloadSpec = Field(description="the answers as the parser's spec (POST /ai/parse-workload's `spec`)")
    workload: WorkloadRequest = Field(description="the POST /math/map-workload-to-gpu request built from the spec")
    mapping: WorkloadMapping = Field(description="POST /math/map-workload-to-gpu's answer: GPUs, time and cost")
    optimise_for: OptimiseFor = Field(description="how mapping.plans are ordered: cheapest or fastest first")
    over_budget: list[str] = Field(description="GPU models of mapping.plans whose cost is above the budget")
    assumptions: list[str] = Field(description="defaults and conversions used")


def _model(template: Template, qid: str, written: str) -> OpenModel:
    question = template.question(qid)
    kinds = set(question.model_kinds) if question else set()
    found = match_model(written)
    if found is None or (kinds and found.kind not in kinds):
        raise refuse(template, qid, "choice", f"{written[:100]!r} is not a model of the table: answer "
                     "model_params_b with its size")  # fmt: skip
    return found


def _model_fields(template: Template, by_feed: dict[str, tuple[str, AnswerValue]], notes: list[str]) -> dict[str, Any]:
    """``model`` and ``model_params_b``: the table's model (its size), a size answered overriding it; a name the
    table does not know is refused unless its size is answered."""
    fields: dict[str, Any] = {}
    params = by_feed.get("spec.model_params_b")
    if "spec.model" in by_feed:
        qid, written = by_feed["spec.model"]
        try:
            model = _model(template, qid, str(written))
        except InvalidAnswers:
            if params is None:
                raise
            notes.append(f"model {str(written)[:100]!r} is not in the table: {params[1]}B parameters as answered")
        else:
            fields["model"] = ModelRead(value=model.name, family=model.family, kind=model.kind, hf_id=model.hf_id,
                                        source=model.source, confidence=SURE)  # fmt: skip
            fields["model_params_b"] = NumberRead(value=model.params_b, confidence=SURE)
    if params is not None:
        fields["model_params_b"] = NumberRead(value=float(params[1]), confidence=SURE)
    if template.workload_type in ("llm_inference", "training", "fine_tuning") and "model_params_b" not in fields:
        raise refuse(template, "model_params_b", "required", "a model of the table or its size is required")
    return fields


def _read(feed: str, value: Any) -> tuple[str, BaseModel] | None:
    """The spec field a ``spec.<field>[:<unit>]`` answer fills, and its reading (None: nothing to record)."""
    name, _, unit = feed.removeprefix("spec.").partition(":")
    if name in ("context_tokens", "concurrency", "gpu_count"):
        return name, IntRead(value=int(value), confidence=SURE)
    if name in ("request_rate_per_s", "deadline_hours", "epochs"):
        return name, NumberRead(value=float(value), confidence=SURE)
    if name == "quantity":
        unit_name, factor = _QUANTITY[unit]
        return name, QuantityRead(value=float(value) * factor, unit=unit_name, confidence=SURE)
    if name == "budget_usd":
        return name, BudgetRead(value=float(value), period=unit, amount=float(value), currency="USD", confidence=SURE)
    readers: dict[str, Callable[[], BaseModel]] = {
        "precision": lambda: PrecisionRead(value=value, written=str(value), confidence=SURE),
        "task": lambda: TaskRead(value=value, confidence=SURE),
        "method": lambda: MethodRead(value=value, confidence=SURE),
        "region": lambda: RegionRead(value=[str(value)], written=[str(value)], confidence=SURE),
    }
    if name in readers and value != "any":
        return name, readers[name]()
    return None


def build_spec(template: Template, answers: Mapping[str, AnswerValue], notes: list[str]) -> WorkloadSpec:
    """The spec the (validated) answers state: each ``spec.*`` question's answer in its field."""
    by_feed = {q.feeds: (q.id, answers[q.id]) for q in template.questions if q.id in answers}
    fields: dict[str, Any] = {"workload_type": KindRead(value=template.workload_type, confidence=SURE)}
    fields.update(_model_fields(template, by_feed, notes))
    quality: dict[str, int] = {}
    for feed, (_, value) in by_feed.items():
        if feed == "spec.quality.resolution":
            width, _, height = str(value).partition("x")
            quality.update(width=int(width), height=int(height))
        elif feed == "spec.quality.steps":
            quality["steps"] = int(value)
        elif feed.startswith("spec.") and feed not in ("spec.model", "spec.model_params_b"):
            read = _read(feed, value)
            if read is not None:
                fields[read[0]] = read[1]
    if quality:
        fields["quality"] = QualityRead(confidence=SURE, **quality)
    return WorkloadSpec(**fields)


def _question_for(template: Template, field: str) -> str:
    """The question that fed request field ``field`` (the spec's name where the request's differs)."""
    aliases = {"params_b": ("model_params_b", "model"), "dataset_tokens_b": ("quantity",),
               "images": ("quantity",), "duration_s": ("quantity",), "dataset_gb": ("quantity",),
               "width": ("quality",), "height": ("quality",), "steps": ("quality",),
               "seq_len": ("context_tokens",), "target_tokens_per_s": ("request_rate_per_s",)}  # fmt: skip
    names = (field, *aliases.get(field, ()))
    for question in template.questions:
        target = question.feeds.split(":")[0].split(".")[1]
        if target in names:
            return question.id
    return "answers"


def build_workload(template: Template, answers: Mapping[str, AnswerValue], spec: WorkloadSpec,
                   notes: list[str]) -> WorkloadRequest:  # fmt: skip
    """The request the spec describes (the parser's conversion), with the ``workload.*`` answers set on it."""
    request, used = to_workload_request(spec)
    if request is None:  # the spec is complete (every template asks what it needs), so the model refused it
        reason = used[-1] if used else "the answers do not make a workload"
        where = reason.split(":")[1].strip() if reason.count(":") >= 2 else "answers"
        raise refuse(template, _question_for(template, where), "workload", reason)
    notes.extend(used)
    body = request.model_dump(exclude_unset=True)
    body["type"] = request.type
    for question in template.questions:
        if question.feeds.startswith("workload.") and question.id in answers:
            body[question.feeds.removeprefix("workload.")] = answers[question.id]
    try:
        return _REQUEST.validate_python(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][1]) if len(first["loc"]) > 1 else "answers"
        raise refuse(template, _question_for(template, field), "workload", first["msg"]) from None


def _over_budget(plans: list[GpuPlan], spec: WorkloadSpec) -> list[str]:
    budget = spec.budget_usd
    if budget is None:
        return []
    out = []
    for plan in plans:
        if budget.period == "hour" and plan.price_per_gpu_hour is not None and plan.gpus_needed is not None:
            cost = plan.price_per_gpu_hour * plan.gpus_needed
        else:
            cost = plan.est_cost_usd or 0.0
        if cost > budget.value:
            out.append(plan.gpu_model)
    return out


def _speed(plan: GpuPlan) -> tuple[float, float, str]:
    inf = float("inf")
    return (plan.est_hours if plan.est_hours is not None else inf,
            plan.est_cost_usd if plan.est_cost_usd is not None else inf, plan.gpu_model)  # fmt: skip


def answer_template(
    template: Template,
    answers: Mapping[str, AnswerValue],
    *,
    specs: Sequence[GpuSpec],
    prices_in: Callable[[Sequence[str]], Mapping[str, tuple[float, str]]],
) -> TemplateAnswer:
    """Validate ``answers`` (:class:`~gpubroker.domain.templates.InvalidAnswers`, 422, on any broken rule), build
    the spec and the request, and map it onto ``specs`` at ``prices_in(region groups)``: the cheapest live offer
    per GPU model in the region answered (everywhere: no groups)."""
    from gpubroker.services.workloads import map_workload_to_gpu  # NumPy: imported by the answers function only

    given = validate_answers(template, dict(answers))
    notes: list[str] = []
    spec = build_spec(template, given, notes)
    workload = build_workload(template, given, spec, notes)
    region = spec.region.value if spec.region is not None else []
    prices = prices_in(region)
    optimise: OptimiseFor = "speed" if given.get("optimise_for") == "speed" else "cost"
    if optimise == "cost":  # the /math route's order
        mapping = map_workload_to_gpu(workload, specs=specs, prices=prices, top=TOP)
    else:  # every feasible plan, fastest first (then cheapest)
        every = map_workload_to_gpu(workload, specs=specs, prices=prices, top=100)
        fastest = sorted(every.plans, key=_speed)
        mapping = every.model_copy(update={"plans": fastest[:TOP], "more_feasible": every.more_feasible +
                                           max(0, len(fastest) - TOP)})  # fmt: skip
    if region:
        notes.append(f"prices: the cheapest live offer of each GPU model in region group {region[0]}")
    return TemplateAnswer(template=template.name, answers=given, spec=spec, workload=workload, mapping=mapping,
                          optimise_for=optimise, over_budget=_over_budget(mapping.plans, spec),
                          assumptions=notes)  # fmt: skip
