"""The language-model engine of ``POST /ai/parse-workload``, with the rules engine as its fallback.

The model is asked for the one spec model (:class:`WorkloadSpec`, its JSON schema given as a forced tool; only the
model's name, the budget as written and the region/compliance words are asked in simpler form, see
:func:`llm_schema`). Its answer is normalised through the rules engine's own code (:func:`spec_from_llm`: the model
table lookup, the fixed currency rates, the region and compliance vocabularies, the GPU names), validated against
``WorkloadSpec``, and answered by the same :func:`answer_for` as the rules engine, with ``engine`` naming the model.

The rules engine answers instead, with ``fallback`` saying why, when: the caller is anonymous (``anonymous``); the
user's daily call budget is spent (``budget``) or cannot be counted (``budget_unavailable``); the ``llm`` circuit
breaker is open (``breaker_open``); the model does not answer within ``timeout_s`` (``timeout``), fails
(``error``) or answers something that does not validate (``invalid``: no tool call, not JSON, or not a
``WorkloadSpec``). The last three count as failures of the
breaker, an answer that validates as a success. The call runs in a worker thread and is waited for at most
``timeout_s`` (the adapters' own socket timeouts are the same), so a hanging model costs the caller the timeout
and no more. The text is never logged.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from pydantic import ValidationError

from gpubroker.domain.llm import LlmBadAnswer, LlmError, LlmTimeout, inline_refs
from gpubroker.domain.models import find_model
from gpubroker.domain.providers import COMPLIANCE_TAGS
from gpubroker.domain.regions import REGION_GROUPS
from gpubroker.domain.workload_spec import FallbackReason, ParseAnswer, WorkloadSpec
from gpubroker.services.assistant import answer_for
from gpubroker.services.assistant.llm_engine import Caller, LlmEngine, refusal, within_timeout
from gpubroker.services.assistant.parse_rules import USD_PER, parse_spec, read_compliance, read_region

__all__ = ["Caller", "LlmEngine", "llm_schema", "parse_workload_llm", "spec_from_llm"]

log = logging.getLogger(__name__)


SYSTEM_PROMPT = """You read a user's description of a GPU workload and fill in the `answer` tool.
Fill in ONLY the fields the text states or clearly implies; leave every other field out. Never invent values.
Every field has a `confidence` between 0 and 1 (how sure the reading is).
- workload_type: llm_inference (serving, chat, API), fine_tuning (LoRA, QLoRA, SFT), training (pre-training, from
  scratch), image_generation, video_processing (transcoding, upscaling, frame interpolation, generating video),
  data_processing (ETL, embeddings, deduplication, transcription).
- model.value: the model's name as written (e.g. "Llama 3.1 70B", "mixtral 8x7b", "SDXL"); model_params_b: the size
  in billions of parameters.
- precision: one of the listed values; `written` is the words read ("4-bit", "AWQ").
- context_tokens: tokens (8k = 8192); concurrency: concurrent users or requests; request_rate_per_s: requests per
  second.
- quantity: {value, unit} with unit one of gpus, images, videos, minutes (of video or audio; hours x 60), tokens,
  rows, gb (TB x 1000).
- gpu_count, gpu (the GPU model named, e.g. "H100"), duration_hours (how long it runs), deadline_hours (by when it
  must be done, in hours from now).
- budget_usd: amount as written, currency (ISO code: USD, EUR, GBP, ...), period (hour, day, month or total).
- region.written: the place words as written ("EU", "Germany", "US east"); compliance.standards: gdpr, hipaa, soc2,
  iso27001, pci-dss, eu-residency (data must stay in the EU), dedicated-host.
"""


def parse_workload_llm(text: str, caller: Caller | None, engine: LlmEngine | None) -> ParseAnswer:
    """The model's answer for ``text``, or the rules engine's with ``fallback`` (see the module docstring);
    ``engine`` None (no model configured): the rules engine's, with no ``fallback``."""
    if engine is None:
        return answer_for(parse_spec(text))
    refused = refusal(caller, engine)
    if refused is not None:
        return _rules(text, refused)
    got = _ask(text, engine)
    if isinstance(got, WorkloadSpec):
        engine.breaker.record_success()
        return answer_for(got, engine=engine.model.engine)  # type: ignore[arg-type]
    engine.breaker.record_failure()
    log.info("assistant: %s fell back to the rules engine: %s", engine.model.engine, got)
    return _rules(text, got)


def _ask(text: str, engine: LlmEngine) -> WorkloadSpec | FallbackReason:
    """The model's spec, or why there is none (a failure of the breaker's)."""
    try:
        return spec_from_llm(within_timeout(engine, engine.model.complete_json, SYSTEM_PROMPT, text, llm_schema()))
    except LlmTimeout:
        return "timeout"
    except (LlmBadAnswer, ValidationError, ValueError, TypeError, KeyError):
        return "invalid"
    except LlmError as exc:
        log.warning("assistant: %s call failed: %s", engine.model.engine, exc)
        return "error"
    except Exception:  # a bug in an adapter must not cost the user an answer: logged, counted, fallen back
        log.exception("assistant: %s call raised unexpectedly", engine.model.engine)
        return "error"


def _rules(text: str, reason: FallbackReason) -> ParseAnswer:
    return answer_for(parse_spec(text), fallback=reason)


@cache
def llm_schema() -> dict[str, Any]:
    """The JSON schema the model fills in: ``WorkloadSpec``'s, ``$ref``-free, where the fields the rules engine
    derives from tables are asked as read: the model by name only, the budget without its USD value, the region
    by its words, the compliance by its standards (each is then normalised by :func:`spec_from_llm`)."""
    schema = inline_refs(WorkloadSpec.model_json_schema())
    props = schema["properties"]

    def field(name: str, properties: dict[str, Any], required: list[str]) -> None:
        props[name] = {"type": "object", "properties": properties, "required": required}

    conf = {"type": "number", "minimum": 0, "maximum": 1}
    field("model", {"value": {"type": "string", "description": "the model's name as written"}, "confidence": conf},
          ["value", "confidence"])  # fmt: skip
    field(
        "budget_usd",
        {
            "amount": {"type": "number", "exclusiveMinimum": 0},
            "currency": {"type": "string", "description": "ISO 4217 code", "enum": sorted(USD_PER)},
            "period": {"type": "string", "enum": ["hour", "day", "month", "total"]},
            "confidence": conf,
        },
        ["amount", "currency", "period", "confidence"],
    )
    field("region", {"written": {"type": "array", "items": {"type": "string"}}, "confidence": conf},
          ["written", "confidence"])  # fmt: skip
    standards = ["gdpr", "hipaa", "soc2", "iso27001", "pci-dss", "eu-residency", "secure-cloud", "community-cloud",
                 "dedicated-host"]  # fmt: skip
    field("compliance", {"standards": {"type": "array", "items": {"type": "string", "enum": standards}},
                         "confidence": conf}, ["standards", "confidence"])  # fmt: skip
    field("gpu", {"value": {"type": "string", "description": "the GPU named, e.g. H100"}, "confidence": conf},
          ["value", "confidence"])  # fmt: skip
    for value in props.values():  # "field or null" -> the field (absent means not stated)
        if "anyOf" in value:
            options = [o for o in value.pop("anyOf") if o.get("type") != "null"]
            if len(options) == 1:
                value.update(options[0])
    schema.pop("title", None)
    return schema


_STANDARD_WORDS = {"eu-residency": "data must stay in the EU", "soc2": "SOC 2", "pci-dss": "PCI DSS",
                   "dedicated-host": "dedicated hosts"}  # fmt: skip


def spec_from_llm(raw: Any) -> WorkloadSpec:
    """The model's answer normalised through the rules engine's tables, validated by ``WorkloadSpec`` (raises
    ``ValidationError`` / ``ValueError`` when it does not fit)."""
    if not isinstance(raw, dict):
        raise ValueError("the answer is not a JSON object")
    data: dict[str, Any] = {k: v for k, v in raw.items() if v is not None}
    _model(data)
    _budget(data)
    _region(data)
    _compliance(data)
    _gpu(data)
    return WorkloadSpec.model_validate(data)


def _conf(read: Any, cap: float = 0.95) -> float:
    value = read.get("confidence", 0.8) if isinstance(read, dict) else 0.8
    return min(cap, float(value)) if isinstance(value, int | float) and 0 <= value <= 1 else 0.8


def _model(data: dict[str, Any]) -> None:
    read = data.pop("model", None)
    if not isinstance(read, dict) or not isinstance(read.get("value"), str):
        return
    found = find_model(read["value"])
    if found is None:  # not in the table: the name is dropped, a size the model stated stays
        return
    m = found.model
    conf = _conf(read)
    data["model"] = {"value": m.name, "family": m.family, "kind": m.kind, "hf_id": m.hf_id, "source": m.source,
                     "confidence": conf}  # fmt: skip
    data["model_params_b"] = {"value": m.params_b, "confidence": conf}  # the table's size, as the rules engine


def _budget(data: dict[str, Any]) -> None:
    read = data.pop("budget_usd", None)
    if not isinstance(read, dict):
        return
    currency = str(read.get("currency") or "USD").upper()
    amount = read.get("amount")
    if currency not in USD_PER or not isinstance(amount, int | float) or amount <= 0:
        raise ValueError("the budget is not an amount in a known currency")
    data["budget_usd"] = {"value": round(float(amount) * USD_PER[currency], 4), "period": read.get("period"),
                          "amount": float(amount), "currency": currency, "confidence": _conf(read)}  # fmt: skip


def _region(data: dict[str, Any]) -> None:
    read = data.pop("region", None)
    if not isinstance(read, dict):
        return
    words = [w for w in read.get("written") or [] if isinstance(w, str)]
    groups = [g for g in read.get("value") or [] if isinstance(g, str) and g in REGION_GROUPS]
    found = read_region(" in ".join(["run", *words]).lower()) if words else None
    if found is not None:
        data["region"] = found.model_copy(update={"confidence": min(found.confidence, _conf(read))}).model_dump()
    elif groups:
        data["region"] = {"value": groups, "countries": [], "written": words, "confidence": _conf(read)}


def _compliance(data: dict[str, Any]) -> None:
    read = data.pop("compliance", None)
    if not isinstance(read, dict):
        return
    standards = [s for s in read.get("standards") or [] if isinstance(s, str)]
    words = ". ".join(_STANDARD_WORDS.get(s, s) for s in standards)
    found = read_compliance(words.lower()) if words else None
    tags = sorted({*(found.value if found else []), *(t for t in read.get("value") or [] if t in COMPLIANCE_TAGS)})
    if tags:
        data["compliance"] = {"value": tags, "standards": found.standards if found else [], "confidence": _conf(read)}


def _gpu(data: dict[str, Any]) -> None:
    read = data.pop("gpu", None)
    if isinstance(read, dict) and isinstance(read.get("value"), str):
        found = parse_spec(f"on {read['value']} gpus").gpu
        if found is not None:
            data["gpu"] = {"value": found.value, "confidence": _conf(read)}
