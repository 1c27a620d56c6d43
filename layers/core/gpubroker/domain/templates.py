"""The assistant's guided templates (issue 13 §4): five mini-wizards whose answers become a workload spec.

The templates are data (``gpubroker/data/templates.json``), not code per template: each question names its type,
choices, default, unit, validation and help, and what it ``feeds``, one of the :data:`FEEDS` targets: a field of the
parser's :class:`~gpubroker.domain.workload_spec.WorkloadSpec` (``spec.*``), a field of the workload request that
the spec cannot state (``workload.*``), or a preference applied to the mapping's answer (``answer.*``).

:func:`validate_answers` checks the answers against the questions (an unknown question id, a missing required
answer, a value of the wrong type, outside ``min``/``max``, not one of the choices, not matching ``pattern``) and
returns every answer with the defaults filled in, or raises :class:`InvalidAnswers` (422) with one detail per
failed rule: ``loc`` ``["answers", <question id>]``, ``type`` the rule. Pure: no I/O after the first load.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gpubroker.domain.errors import NotFound, ValidationFailed
from gpubroker.domain.models import ModelKind, model_table
from gpubroker.domain.workload_spec import WorkloadKind

QuestionType = Literal["choice", "number", "integer", "text", "boolean", "model"]
AnswerValue = str | float | int | bool
Rule = Literal["unknown_question", "required", "type", "choice", "min", "max", "pattern", "max_length", "workload"]

# what an answer can feed: the spec's fields (with the quantity's unit as the question asks it), the request fields
# the spec has no place for, and the preferences applied to the mapping
FEEDS: frozenset[str] = frozenset({
    "spec.model", "spec.model_params_b", "spec.precision", "spec.context_tokens", "spec.concurrency",
    "spec.request_rate_per_s", "spec.quantity:images", "spec.quantity:minutes", "spec.quantity:gb",
    "spec.quantity:rows_m", "spec.quantity:tokens_b", "spec.gpu_count", "spec.deadline_hours", "spec.region",
    "spec.budget_usd:hour", "spec.budget_usd:total", "spec.task", "spec.method", "spec.epochs",
    "spec.quality.resolution", "spec.quality.steps",
    "workload.output_tokens", "workload.codec", "workload.fps", "workload.optimizer", "workload.batch",
    "workload.scale", "workload.gradient_checkpointing",
    "answer.optimise_for",
})  # fmt: skip
TEXT_MAX_LENGTH = 200
NAME_MAX_LENGTH = 64


class TemplateNotFound(NotFound):
    """No template of that name (404)."""

    code = "template_not_found"


class InvalidAnswers(ValidationFailed):
    """An answer breaks its question's rules, names no question, or a required one is missing (422); ``details``
    name each question and the rule."""


class Choice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    value: str | int
    label: str


class Validation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    required: bool = Field(default=False, description="an answer (or the default) must be given")
    min: float | None = Field(default=None, description="numbers: the smallest value allowed")
    max: float | None = Field(default=None, description="numbers: the largest value allowed")
    pattern: str | None = Field(default=None, description="text and model names: a regular expression to match")


class Question(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: QuestionType
    prompt: str
    choices: list[Choice] = Field(default_factory=list, description="choice: the values allowed; model: the table's")
    default: AnswerValue | None = None
    unit: str | None = None
    validation: Validation = Validation()
    help: str
    feeds: str = Field(description="where the answer goes: spec.<field>, workload.<field> or answer.<preference>")
    model_kinds: list[ModelKind] = Field(default_factory=list, description="model: the table's kinds offered")

    @model_validator(mode="after")
    def _consistent(self) -> Question:
        if self.feeds not in FEEDS:
            raise ValueError(f"{self.id}: feeds {self.feeds!r} is not one of FEEDS")
        if self.type == "choice" and not self.choices:
            raise ValueError(f"{self.id}: a choice question needs choices")
        if self.default is not None and check_answer(self, self.default):
            raise ValueError(f"{self.id}: its default {self.default!r} breaks its own rules")
        return self


class TemplateSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    title: str
    description: str
    workload_type: WorkloadKind
    questions: int = Field(description="number of questions")


class Template(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    title: str
    description: str
    workload_type: WorkloadKind
    questions: list[Question]

    def question(self, qid: str) -> Question | None:
        return next((q for q in self.questions if q.id == qid), None)

    def summary(self) -> TemplateSummary:
        return TemplateSummary(name=self.name, title=self.title, description=self.description,
                               workload_type=self.workload_type, questions=len(self.questions))  # fmt: skip


class TemplateList(BaseModel):
    model_config = ConfigDict(frozen=True)

    templates: list[TemplateSummary]


class AnswersRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    answers: dict[Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH)], AnswerValue] = Field(
        default_factory=dict, max_length=64, description="question id -> answer; an omitted question takes its default"
    )


def _with_model_choices(question: dict[str, Any]) -> dict[str, Any]:
    if question.get("type") != "model":
        return question
    kinds = set(question.get("model_kinds") or ())
    choices = [{"value": m.name, "label": f"{m.name} ({m.params_b:g}B)"} for m in model_table().models
               if m.kind in kinds]  # fmt: skip
    return {**question, "choices": choices}


@cache
def templates() -> dict[str, Template]:
    """The templates shipped in the core layer, in their order, parsed (and their defaults checked) once."""
    raw = json.loads(resources.files("gpubroker.data").joinpath("templates.json").read_text(encoding="utf-8"))
    out: dict[str, Template] = {}
    for entry in raw["templates"]:
        template = Template.model_validate({**entry, "questions": [_with_model_choices(q) for q in entry["questions"]]})
        out[template.name] = template
    return out


def template_named(name: str) -> Template:
    found = templates().get(name)
    if found is None:
        raise TemplateNotFound(f"no template named {name[:64]!r}", details={"templates": list(templates())})
    return found


def _check_number(question: Question, value: AnswerValue) -> tuple[Rule, str] | None:
    rules = question.validation
    integer = question.type == "integer"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "type", f"must be a{'n integer' if integer else ' number'}"
    if integer and not float(value).is_integer():
        return "type", "must be an integer"
    if rules.min is not None and value < rules.min:
        return "min", f"must be at least {rules.min:g}"
    if rules.max is not None and value > rules.max:
        return "max", f"must be at most {rules.max:g}"
    return None


def _check_text(question: Question, value: AnswerValue) -> tuple[Rule, str] | None:
    pattern = question.validation.pattern
    if not isinstance(value, str):
        return "type", "must be text"
    if len(value) > TEXT_MAX_LENGTH:
        return "max_length", f"must be at most {TEXT_MAX_LENGTH} characters"
    if pattern is not None and not re.fullmatch(pattern, value):
        return "pattern", f"must match {pattern}"
    return None


def _check_choice(question: Question, value: AnswerValue) -> tuple[Rule, str] | None:
    allowed = [c.value for c in question.choices]
    if not isinstance(value, bool) and value in allowed:
        return None
    return "choice", f"must be one of {', '.join(str(a) for a in allowed)}"


def _check_boolean(question: Question, value: AnswerValue) -> tuple[Rule, str] | None:
    return None if isinstance(value, bool) else ("type", "must be true or false")


_CHECKS: dict[QuestionType, Callable[[Question, AnswerValue], tuple[Rule, str] | None]] = {
    "boolean": _check_boolean, "choice": _check_choice, "number": _check_number, "integer": _check_number,
    "text": _check_text, "model": _check_text,
}  # fmt: skip


def check_answer(question: Question, value: AnswerValue) -> tuple[Rule, str] | None:
    """The first of ``question``'s rules ``value`` breaks (the rule and a message), or None."""
    return _CHECKS[question.type](question, value)


def _detail(qid: str, rule: Rule, msg: str) -> dict[str, Any]:
    return {"loc": ["answers", qid], "type": rule, "msg": msg}


def validate_answers(template: Template, answers: dict[str, AnswerValue]) -> dict[str, AnswerValue]:
    """Every question's answer (the given one, else the default; a question with neither is left out), or
    :class:`InvalidAnswers` listing every broken rule."""
    details = [_detail(qid, "unknown_question", f"{template.name} has no question {qid[:64]!r}")
               for qid in answers if template.question(qid) is None]  # fmt: skip
    out: dict[str, AnswerValue] = {}
    for question in template.questions:
        value = answers.get(question.id, question.default)
        if value is None:
            if question.validation.required:
                details.append(_detail(question.id, "required", "an answer is required"))
            continue
        broken = check_answer(question, value)
        if broken is not None:
            details.append(_detail(question.id, *broken))
            continue
        out[question.id] = int(value) if question.type == "integer" and isinstance(value, float) else value
    if details:
        raise InvalidAnswers(f"the answers to {template.name} break {len(details)} rule(s)", details=details)
    return out


def refuse(template: Template, qid: str, rule: Rule, msg: str) -> InvalidAnswers:
    """A rule across answers (or the workload's own) broken by question ``qid``."""
    return InvalidAnswers(f"the answers to {template.name} break 1 rule(s)", details=[_detail(qid, rule, msg)])
