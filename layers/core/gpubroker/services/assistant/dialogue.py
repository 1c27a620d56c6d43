"""The rules dialogue engine of ``POST /ai/chat``: intents by keywords and patterns, slots by the workload parser,
remembered across turns, and the tools of :mod:`.chat_tools` to act.

Intents: find, compare, estimate, explain, budget, book, help (and analyse, price history, recommend as named
variants). A turn that lacks a field the intent needs asks for it and records the question in ``slots["pending"]``;
the next turn's answer fills it (a bare number answers a pending count, quantity or hours) and the pending intent
runs. The engine is deterministic and does no I/O of its own: everything it learns comes through the tools, which
are bound to the caller.

:class:`DialogueEngine` is the seam a language-model engine implements (the tool-use loop of
:mod:`.chat_llm`): the same inputs (message, last turns, remembered slots, client context, the caller's tools), the
same :class:`Reply`. A model reaches the tools by name through ``Tools.tool_specs`` / ``Tools.call_tool``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gpubroker.domain.chat import MAX_CARDS, BookingDraft, Card, ChatContext, Engine, Turn
from gpubroker.domain.errors import DomainError
from gpubroker.domain.math_requests import PresetName
from gpubroker.domain.math_results import PresetResult, Recommendation
from gpubroker.domain.price_history import HistoryPage
from gpubroker.domain.search import OfferFilters, OfferPage
from gpubroker.domain.workload_spec import FallbackReason, ParseAnswer, WorkloadSpec
from gpubroker.domain.workloads import GpuPlan, WorkloadMapping, WorkloadRequest
from gpubroker.services.assistant import missing_fields, question_for, to_workload_request
from gpubroker.services.assistant.cards import Ranked, booking_link
from gpubroker.services.assistant.parse_rules import parse_spec

if TYPE_CHECKING:
    from gpubroker.domain.llm import ToolSpec
    from gpubroker.services.assistant.llm_engine import Caller

Slots = dict[str, Any]


@dataclass(frozen=True)
class Reply:
    text: str
    intent: str
    slots: Slots
    cards: list[Card] = field(default_factory=list)
    follow_up: list[str] = field(default_factory=list)
    draft: BookingDraft | None = None
    engine: Engine | None = None  # None: the engine's own name; "rules" when a model engine fell back
    fallback: FallbackReason | None = None


@dataclass(frozen=True)
class ToolOutcome:
    """One tool call by name (``Tools.call_tool``): what goes back to the model (``content``, JSON), whether the
    call was refused (``ok`` False; ``invalid``: the arguments did not validate or no such tool), and what the
    answer shows from it: the cards the cards code built from the tool's result, a booking draft."""

    content: dict[str, Any]
    ok: bool = True
    invalid: bool = False
    cards: list[Card] = field(default_factory=list)
    draft: BookingDraft | None = None


class Tools(Protocol):
    """The assistant's tools, bound to one caller (``gpubroker.api.chat_tools.ChatTools``): each validates its
    arguments with the HTTP API's model and calls the service; none takes a user id, none places a booking."""

    def search_offers(self, filters: Mapping[str, Any], *, limit: int = 50) -> OfferPage: ...

    def parse_workload(self, text: str) -> ParseAnswer: ...

    def map_workload(
        self,
        workload: Mapping[str, Any] | WorkloadRequest,
        *,
        top: int = 5,
        filters: Mapping[str, Any] | None = None,
    ) -> WorkloadMapping:
        """The workload's GPU plans priced from the live offers (with ``filters``: from those they allow only)."""
        ...

    def recommend(
        self, filters: Mapping[str, Any] | None = None, *, preset: str | None = None, limit: int = 5
    ) -> Recommendation | PresetResult: ...

    def rank(self, offer_ids: Sequence[str]) -> Ranked: ...

    def compare_offers(self, offer_ids: Sequence[str], *, among: Sequence[str] = ()) -> list[dict[str, Any]]: ...

    def explain_ranking(self, offer_ids: Sequence[str]) -> Ranked: ...

    def analyze_current_search(self, filters: OfferFilters, visible_offer_ids: Sequence[str]) -> dict[str, Any]: ...

    def price_history(self, offer_id: str, *, limit: int = 100) -> HistoryPage: ...

    def draft_booking(self, offer_id: str, hours: int, *, gpu_count: int | None = None) -> BookingDraft: ...

    def cards(self, ranked: Ranked, *, limit: int = 5, why: str = "") -> list[Card]: ...

    def tool_specs(self) -> Sequence[ToolSpec]:
        """The tools a language model may call: names, descriptions, argument schemas (the API's models)."""
        ...

    def call_tool(self, name: str, arguments: Mapping[str, Any], *, context: ChatContext | None) -> ToolOutcome:
        """One model tool call: the arguments validated by the API's models (a refusal is an outcome, not an
        exception); ``context`` is the client's current search (``analyze_current_search`` reads it)."""
        ...


class DialogueEngine(Protocol):
    """What answers a chat turn. ``history``: the conversation's last turns (oldest first, at most 10); ``slots``:
    what the previous turn remembered; ``tools``: bound to the caller (the only way to act); ``caller``: the
    verified caller and plan (None: anonymous), for a model engine's budget."""

    name: Engine

    def reply(
        self,
        message: str,
        *,
        history: Sequence[Turn],
        slots: Mapping[str, Any],
        context: ChatContext | None,
        tools: Tools,
        caller: Caller | None = None,
    ) -> Reply: ...


# ---- intents -----------------------------------------------------------------------------------------------------

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("help", re.compile(r"^\s*(help|\?|hi|hello|hey)\b|\bwhat can you do\b|\bhow do(es)? (this|you) work\b", re.I)),
    ("analyze", re.compile(r"\banaly[sz]e\b|\b(current|my) search\b|\bon (my )?screen\b|\bthese offers\b", re.I)),
    ("book", re.compile(r"\b(book|booking|reserve|rent)\b", re.I)),
    ("compare", re.compile(r"\bcompare\b|\bvs\.?\b|\bversus\b|\bdifference between\b|\bside by side\b", re.I)),
    ("history", re.compile(r"\bprice history\b|\bprice trend\b|\bhistory\b|\bprices? (been|changed|moved)\b", re.I)),
    ("explain", re.compile(r"\bwhy\b|\bexplain\b|\bhow (was|were|is|are) .{0,30}rank|\breasoning\b", re.I)),
    ("recommend", re.compile(r"\brecommend|\bsuggest|\bwhat should i (use|pick|choose)\b|\bpreset\b", re.I)),
    ("estimate", re.compile(r"\bhow (long|much|many)\b|\bestimate\b|\bwhat would it cost\b|\bcost to\b", re.I)),
    ("budget", re.compile(r"\bbudget\b|\bafford\b|\bcheaper\b|\bcan spend\b|\bat most \$", re.I)),
    ("find", re.compile(r"\b(find|show|search|list|need|looking for|want|get me|cheapest|any|available)\b", re.I)),
]
# words -> the public presets (GET /presets/{name}); typed, so a name that is not a preset fails type checking
_PRESET_WORDS: dict[str, PresetName] = {
    "best value": "best-value",
    "cheapest": "budget-friendly",
    "budget-friendly": "budget-friendly",
    "fastest": "highest-performance",
    "highest performance": "highest-performance",
    "reliable": "most-reliable",
    "for you": "for-you",
    "enterprise": "enterprise-grade",
}
_OFFER_ID = re.compile(r"\b([a-z][a-z0-9]*(?:-[a-z0-9]+)*-[0-9a-f]{16})\b")
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "fifth": 5,
             "5th": 5, "top": 1, "best": 1, "last": -1}  # fmt: skip
_NUMBERED = re.compile(r"(?:#|\boption\s*|\bnumber\s*|\bno\.?\s*|\bcard\s*|\brank\s*)(\d{1,2})\b", re.I)
_TOP_N = re.compile(r"\b(?:top|first|best)\s+(two|three|four|2|3|4)\b", re.I)
_AND_NUMBERS = re.compile(r"\b([1-9])\s*(?:,|and|&|vs\.?|with)\s*([1-9])(?:\s*(?:,|and|&)\s*([1-9]))?\b", re.I)
_WORD_NUMBER = {"two": 2, "three": 3, "four": 4}
_HOURS = re.compile(r"\b(\d{1,4})\s*(?:h|hrs?|hours?)\b", re.I)
_BARE_NUMBER = re.compile(
    r"^\s*(?:about|around|roughly|~)?\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*(k|m)?\s*"
    r"(minutes?|mins?|gb|images?|rows|tokens|videos?|clips?)?\s*(?:of \w+)?\s*\.?\s*$",
    re.I,
)
_UNIT_WORDS = {"min": "minutes", "gb": "gb", "ima": "images", "row": "rows", "tok": "tokens", "vid": "videos",
               "cli": "videos"}  # fmt: skip
# provider names as users write them -> the built-in provider (``domain.providers.PROVIDERS``). Unambiguous ones
# are read anywhere ("verda's H100", "RunPod"); a common word ("vast", "lambda", "google", "amazon") only after a
# preposition ("on Lambda", "from vast.ai"), in a list after another provider ("runpod or vast") or spelled out
# ("Lambda Labs", "vast.ai").
_PROVIDER_SPELLINGS: dict[str, tuple[str, ...]] = {
    "runpod": (r"run\s?pod(?:\.io)?",),
    "vast": (r"vast[\s.-]?ai",),
    "lambda": (r"lambda[\s-]?labs", r"lambda\s+cloud", r"lambda\.ai"),
    "shadeform": (r"shade\s?form",),
    "verda": (r"verda", r"data\s?crunch"),
    "paperspace": (r"paper\s?space",),
    "fluidstack": (r"fluid\s?stack",),
    "aws": (r"aws", r"amazon\s+web\s+services", r"amazon\s+ec2", r"ec2"),
    "gcp": (r"gcp", r"google\s+cloud(?:\s+platform)?"),
    "azure": (r"(?:microsoft\s+)?azure",),
}
_PROVIDER_WORDS: dict[str, tuple[str, ...]] = {"vast": (r"vast",), "lambda": (r"lambda",),
                                               "gcp": (r"google",), "aws": (r"amazon",)}  # fmt: skip
_ALONE = "|".join(f"(?P<{n}>{'|'.join(v)})" for n, v in _PROVIDER_SPELLINGS.items())
_AFTER = "|".join(f"(?P<w_{n}>{'|'.join(v)})" for n, v in _PROVIDER_WORDS.items())
_PROVIDER = re.compile(rf"(?<![\w.-])(?:{_ALONE})(?![\w-])(?:'s)?", re.I)
_PROVIDER_WORD = re.compile(
    rf"(?:\b(?:at|on|from|with|via|only|using|through|in|provider|providers)\s+|(?:,|/|\bor|\band)\s*)"
    rf"(?:{_AFTER})(?![\w-])(?!\.\w)(?=\s*(?:$|[,;:!?)]|\.(?!\w)|(?:or|and|in|for|with|under|below|at|only|please|now|"
    r"today|instead|gpus?|instances?|offers?|machines?|servers?|nodes?|cards?|[a-z]*\d\w*)\b))",
    re.I,
)


def providers_named(message: str) -> list[str]:
    """The built-in providers a message names, in the order written, case-insensitive (see
    ``_PROVIDER_SPELLINGS``); a common word counts after a preposition or in a list of providers."""
    found: list[tuple[int, str]] = []
    for m in _PROVIDER.finditer(message):
        found.append((m.start(), next(n for n, v in m.groupdict().items() if v)))
    if found or _PROVIDER_WORD.search(message):
        for m in _PROVIDER_WORD.finditer(message):
            name = next(n[2:] for n, v in m.groupdict().items() if v)
            if name in ("vast", "lambda") or re.match(r"\s*(?:at|on|from|via|with|using|through)\b", m.group(0),
                                                      re.I) or found:  # fmt: skip
                found.append((m.start(), name))
    return list(dict.fromkeys(n for _, n in sorted(found)))


_ANY_PROVIDER = re.compile(r"\b(any|every|all) providers?\b", re.I)
# why a GPU cannot run a workload (``domain.workloads.Reason``), in an answer's words
_REASON_WORDS = {
    "precision_unsupported": "no fast path for the requested precision",
    "codec_unsupported": "its encoder cannot encode that codec",
    "no_hardware_encoder": "no hardware video encoder",
    "insufficient_memory_even_at_max_gpus": "not enough memory even with the most GPUs allowed",
    "exceeds_max_gpus": "would need more GPUs than allowed",
    "insufficient_memory_at_gpu_count": "not enough memory at the GPU count asked for",
    "target_not_met": "too slow for the target",
}
_DOLLARS = re.compile(r"^\s*\$\s*([0-9]+(?:\.[0-9]+)?)\s*$")
FOLLOW_UPS = {
    "find": ["Compare the top two", "Why is the first one ranked first?", "Book the first one for 8 hours"],
    "estimate": ["Show offers for the cheapest GPU", "What if my budget is $2 per hour?", "Compare the top two"],
    "help": ["Find the cheapest H100 in the EU", "How long to fine-tune Llama 3 8B on 1M rows?",
             "Analyse my current search"],
}  # fmt: skip
_UNIT_FOR = {"image_generation": "images", "video_processing": "minutes", "data_processing": "gb",
             "training": "tokens", "fine_tuning": "rows"}  # fmt: skip

HELP = (
    "I can help you pick and price GPUs:\n\n"
    "- **find**: *cheapest H100 in the EU under $3/hour*\n"
    "- **estimate**: *how long to fine-tune Llama 3 8B on 1M rows?* (GPUs, time and cost per GPU)\n"
    "- **compare**: *compare the first two* (2 to 4 offers side by side)\n"
    "- **explain**: *why is the first one ranked first?* (each criterion's share)\n"
    "- **budget**: *my budget is $2 per hour*\n"
    "- **price history**: *price history of the first one*\n"
    "- **analyse**: *analyse my current search* (send your filters and visible offers in `context`)\n"
    "- **book**: *book the first one for 8 hours* (I prepare the booking; you confirm it yourself)"
)


def detect_intent(message: str) -> str | None:
    for name, pattern in _PATTERNS:
        if pattern.search(message):
            return name
    return None


# ---- slots -------------------------------------------------------------------------------------------------------


# What a workload states (forgotten when the user turns to another kind of workload); the rest (GPU, region, budget,
# compliance, count, hours) is about the offers and stays.
WORKLOAD_FIELDS = ("model", "model_params_b", "precision", "context_tokens", "concurrency", "request_rate_per_s",
                   "quantity", "quality", "task", "method", "epochs", "deadline_hours")  # fmt: skip


def merge_spec(old: Mapping[str, Any], new: WorkloadSpec) -> dict[str, Any]:
    """The remembered spec with the new turn's readings over it; a weakly read workload type ("70B" alone) does not
    replace one already known, and a clearly stated new kind of workload starts its fields afresh."""
    out = dict(old)
    fresh = new.model_dump(exclude_none=True)
    kind = fresh.get("workload_type")
    if kind is not None and "workload_type" in out:
        if kind.get("confidence", 0) < 0.8:
            fresh.pop("workload_type")
        elif kind["value"] != out["workload_type"].get("value"):
            out = {k: v for k, v in out.items() if k not in WORKLOAD_FIELDS}
    out.update(fresh)
    return out


def _spec(slots: Mapping[str, Any]) -> WorkloadSpec:
    return WorkloadSpec.model_validate(slots.get("spec") or {})


def _number(text: str) -> float | None:
    m = _BARE_NUMBER.match(text)
    if not m:
        return None
    value = float(m.group(1).replace(",", ""))
    return value * {"k": 1e3, "m": 1e6}.get((m.group(2) or "").lower(), 1)


def _unit(text: str) -> str | None:
    m = _BARE_NUMBER.match(text)
    return _UNIT_WORDS.get(m.group(3).lower()[:3]) if m and m.group(3) else None


def _fill_pending(message: str, slots: Slots) -> None:
    """A bare answer to the pending question ("5000", "12", "$3")."""
    pending = slots.get("pending") or {}
    fld = pending.get("field")
    spec = dict(slots.get("spec") or {})
    value = _number(message)
    dollars = _DOLLARS.match(message)
    if fld == "hours" and value is not None and 1 <= value <= 10_000:
        slots["hours"] = int(value)
    elif fld == "quantity" and "quantity" not in (fresh := _fresh(message)):
        kind = (spec.get("workload_type") or {}).get("value", "")
        if value is not None and value > 0:
            unit = _unit(message) or _UNIT_FOR.get(kind, "gb")
            spec["quantity"] = {"value": value, "unit": unit, "confidence": 0.7}
        elif kind == "video_processing" and "duration_hours" in fresh:  # "600 minutes" of footage, not a run time
            spec["quantity"] = {"value": fresh["duration_hours"]["value"] * 60, "unit": "minutes", "confidence": 0.7}
            spec.pop("duration_hours", None)
    elif fld == "model_params_b" and value is not None and 0.01 <= value <= 2000:
        spec["model_params_b"] = {"value": value, "confidence": 0.6}
    elif fld == "gpu_count" and value is not None and 1 <= value <= 64:
        spec["gpu_count"] = {"value": int(value), "confidence": 0.7}
    elif fld == "budget" and (dollars or value is not None):
        amount = float(dollars.group(1)) if dollars else float(value or 0)
        spec["budget_usd"] = {"value": amount, "period": "hour", "amount": amount, "currency": "USD",
                              "confidence": 0.6}  # fmt: skip
    slots["spec"] = spec


def _fresh(message: str) -> dict[str, Any]:
    return parse_spec(message).model_dump(exclude_none=True)


def _offer_refs(message: str, slots: Mapping[str, Any], context: ChatContext | None) -> list[str]:
    """Offers the message points at: ids written out, or positions in the last cards ("the first one", "#2",
    "1 and 3", "top three"); the client's visible offers stand in when no cards were shown yet."""
    ids = _OFFER_ID.findall(message.lower())
    if ids:
        return list(dict.fromkeys(ids))
    shown: list[str] = list(slots.get("offers") or [])
    if not shown and context is not None:
        shown = list(context.visible_offer_ids)
    if not shown:
        return []
    positions: list[int] = []
    top = _TOP_N.search(message)
    pair = _AND_NUMBERS.search(message)
    if top:
        n = _WORD_NUMBER.get(top.group(1).lower()) or int(top.group(1))
        positions = list(range(1, n + 1))
    elif pair:
        positions = [int(g) for g in pair.groups() if g]
    else:
        positions = [int(m) for m in _NUMBERED.findall(message)]
        for word, pos in _ORDINALS.items():
            if re.search(rf"\b{word}\b", message, re.I):
                positions.append(pos)
        if not positions and re.search(r"\b(it|that one|this one|that offer|this offer)\b", message, re.I):
            positions = [1]
    out = []
    for p in positions:
        i = len(shown) - 1 if p == -1 else p - 1
        if 0 <= i < len(shown):
            out.append(shown[i])
    return list(dict.fromkeys(out))


def offer_filters(
    spec: WorkloadSpec, *, gpu: str | None = None, hours: int | None = None, providers: Sequence[str] = ()
) -> dict[str, Any]:
    """The ``GET /offers`` filters the remembered slots state."""
    f: dict[str, Any] = {}
    if providers:
        f["provider"] = list(providers)
    if gpu or spec.gpu:
        f["gpu"] = [gpu or (spec.gpu.value if spec.gpu else "")]
    if spec.region and spec.region.value:
        f["region"] = list(spec.region.value)
    if spec.compliance and spec.compliance.value:
        f["compliance"] = list(spec.compliance.value)
    if spec.gpu_count is not None and spec.gpu_count.value >= 1:
        f["min_gpu_count"] = min(spec.gpu_count.value, 64)
    if spec.budget_usd is not None:
        b = spec.budget_usd
        per_hour = {"hour": b.value, "day": b.value / 24, "month": b.value / 730}.get(b.period)
        if b.period == "total":
            run = hours or (spec.duration_hours.value if spec.duration_hours else None)
            per_hour = b.value / run if run else None
        if per_hour is not None:
            f["max_price_per_hour"] = round(min(per_hour, 1e6), 4)
    return f


# ---- the engine --------------------------------------------------------------------------------------------------


class RulesDialogue:
    """The deterministic engine (no language model): see the module docstring."""

    name: Engine = "rules"

    def reply(
        self,
        message: str,
        *,
        history: Sequence[Turn],
        slots: Mapping[str, Any],
        context: ChatContext | None,
        tools: Tools,
        caller: Caller | None = None,
    ) -> Reply:
        state: Slots = {k: v for k, v in slots.items() if k != "pending"}
        pending = dict(slots.get("pending") or {})
        state["pending"] = pending
        state["spec"] = merge_spec(state.get("spec") or {}, parse_spec(message))
        _fill_pending(message, state)  # a bare answer means what the question asked ("$3": per hour)
        named = providers_named(message)
        if named:
            state["providers"] = list(dict.fromkeys(named))
        elif _ANY_PROVIDER.search(message):
            state.pop("providers", None)
        hours = _HOURS.search(message)
        if hours and 1 <= int(hours.group(1)) <= 10_000:
            state["hours"] = int(hours.group(1))
        intent = detect_intent(message)
        if intent is None and pending.get("intent"):
            intent = str(pending["intent"])
        if intent is None:
            intent = "find" if _has_search_slots(_spec(state)) or named else ("estimate" if _fresh(message) else "help")
        state["pending"] = None
        try:
            reply = self._run(intent, message, state, context, tools)
        except DomainError as exc:
            reply = Reply(text=f"I could not do that: {exc}", intent=intent, slots=state,
                          follow_up=["Help"])  # fmt: skip
        reply.slots["intent"] = reply.intent
        return reply

    def _run(self, intent: str, message: str, s: Slots, ctx: ChatContext | None, tools: Tools) -> Reply:
        direct = {"help": self._help, "analyze": self._analyze, "book": self._book, "compare": self._compare,
                  "history": self._history, "explain": self._explain, "recommend": self._recommend}  # fmt: skip
        if intent in direct:
            return direct[intent](message, s, ctx, tools)
        spec = _spec(s)
        stated = "workload_type" in _fresh(message) or s.get("intent") == "estimate"
        workload = intent in ("estimate", "budget", "find") and spec.workload_type is not None
        if workload and (intent != "find" or not spec.gpu or stated):
            return self._estimate(s, tools, "estimate" if intent == "find" else intent)
        if intent == "budget" and spec.budget_usd is None:
            return _ask(s, "budget", "budget", "What is your budget, in USD per hour (or in total for the run)?")
        return self._find(s, tools, intent)

    # ---- find / budget ---------------------------------------------------------------------------------------

    def _find(self, s: Slots, tools: Tools, intent: str) -> Reply:
        spec = _spec(s)
        if not _has_search_slots(spec) and not s.get("providers"):
            return _ask(s, intent, "gpu", "Which GPU are you looking for (e.g. H100, A100, RTX 4090), or what do "
                        "you want to run on it?")  # fmt: skip
        filters = offer_filters(spec, hours=s.get("hours"), providers=s.get("providers") or ())
        page = tools.search_offers(filters, limit=50)
        if not page.items:
            relaxed = {k: v for k, v in filters.items() if k not in ("max_price_per_hour",)}
            hint = ""
            if relaxed != filters:
                cheaper = tools.search_offers(relaxed, limit=1)
                if cheaper.items:
                    o = cheaper.items[0]
                    hint = f" Without the budget, the cheapest is **{o.gpu_model}** at ${o.price_per_hour:.2f}/h " \
                           f"({o.provider}, {o.region})."  # fmt: skip
            s["offers"] = []
            return Reply(text=f"No live offer matches {_describe(filters)}.{hint}", intent=intent, slots=s,
                         follow_up=["Raise the budget", "Try another region", "Help"])  # fmt: skip
        ranked = tools.rank([o.offer_id for o in page.items])
        cards = tools.cards(ranked, limit=5)
        s["offers"] = [c.offer_id for c in cards]
        lines = [f"{page.count} live offer(s) match {_describe(filters)}; the best {len(cards)} by price, speed, "
                 "memory and reliability:", ""] + [_card_line(c) for c in cards]  # fmt: skip
        return Reply(text="\n".join(lines), intent=intent, slots=s, cards=cards, follow_up=FOLLOW_UPS["find"])

    # ---- estimate --------------------------------------------------------------------------------------------

    def _estimate(self, s: Slots, tools: Tools, intent: str) -> Reply:
        spec = _spec(s)
        missing = missing_fields(spec)
        if missing:
            return _ask(s, intent, missing[0], question_for(spec, missing) or "Could you tell me more?")
        workload, notes = to_workload_request(spec)
        if workload is None:
            return Reply(text=f"I cannot estimate that as stated ({notes[-1] if notes else 'out of bounds'}).",
                         intent=intent, slots=s, follow_up=["Help"])  # fmt: skip
        constraints = offer_filters(spec, hours=s.get("hours"), providers=s.get("providers") or ())
        market = {k: v for k, v in constraints.items() if k != "gpu"}  # the GPU asked for is picked below
        mapping = tools.map_workload(workload, top=100, filters=market or None)
        plans = [p for p in mapping.plans if p.feasible]
        asked = spec.gpu.value if spec.gpu is not None else ""
        wanted = [p for p in plans if asked and asked.lower() in p.gpu_model.lower()]
        plans = wanted or plans
        if not plans and market:
            return _no_fit(s, tools, intent, workload=workload, mapping=mapping, market=market)
        if not plans:
            return Reply(text="No GPU in the catalog can run this as stated: " + ", ".join(
                f"{p.gpu_model} ({p.reason})" for p in mapping.infeasible[:3]), intent=intent, slots=s,
                follow_up=["Help"])  # fmt: skip
        serving = spec.workload_type is not None and spec.workload_type.value == "llm_inference"
        if serving:
            plans = sorted(plans, key=lambda p: (p.gpus_needed or 0) * (p.price_per_gpu_hour or float("inf")))
        lines = _plan_table(plans[:5], serving)
        best, filters, page = _plan_offers(spec, s, plans[: 5 if market else 1], tools)
        cards: list[Card] = []
        if page.items:
            ranked = tools.rank([o.offer_id for o in page.items])
            cards = tools.cards(ranked, limit=5, why=f"fits on {best.gpus_needed} x {best.gpu_model}")
        s["offers"] = [c.offer_id for c in cards]
        head = f"Estimate for **{spec.workload_type.value if spec.workload_type else ''}**"
        if spec.model:
            head += f" ({spec.model.value})"
        if market:
            head += f", among the offers {_describe(market)}"
        if asked and not wanted:  # the GPU asked for cannot run it there (or is not rented): say so, then the rest
            head = (
                f"No {asked} {_describe(market) or 'on offer'} can run this, so here are the GPUs that can.\n\n" + head
            )
        text = "\n".join([head + ":", "", *lines])
        if cards:
            text += f"\n\nLive offers: {_describe(filters)}:\n\n" + "\n".join(_card_line(c) for c in cards)
        elif market:
            text += (f"\n\nNo live offer {_describe(market)} has enough GPUs of one of these in one instance "
                     f"(the best: {best.gpus_needed} x {best.gpu_model}); try without the constraint.")  # fmt: skip
        return Reply(text=text, intent=intent, slots=s, cards=cards, follow_up=FOLLOW_UPS["estimate"])

    # ---- recommend -------------------------------------------------------------------------------------------

    def _help(self, message: str, s: Slots, ctx: ChatContext | None, tools: Tools) -> Reply:
        return Reply(text=HELP, intent="help", slots=s, follow_up=FOLLOW_UPS["help"])

    def _recommend(self, message: str, s: Slots, ctx: ChatContext | None, tools: Tools) -> Reply:
        preset = next((p for w, p in _PRESET_WORDS.items() if w in message.lower()), None)
        spec = _spec(s)
        if preset is not None and not _has_search_slots(spec):
            result = tools.recommend(preset=preset, limit=5)
            ids = [o.offer_id for o in result.items]
            label = f"the **{preset}** preset"
        else:  # the ensemble over the GPU asked for, kept to the offers the remembered filters allow
            f = offer_filters(spec, providers=s.get("providers") or ())
            allowed = {o.offer_id for o in tools.search_offers(f, limit=100).items} if f else None
            result = tools.recommend({k: v for k, v in f.items() if k == "gpu"}, limit=100)
            items = [o for o in result.items if allowed is None or o.offer_id in allowed][:5]
            contrib = tools.rank([o.offer_id for o in items])
            by_id = dict(zip(contrib.offer_ids, contrib.contributions, strict=True))
            ranked = Ranked([o.offer_id for o in items], [o.score for o in items],
                            [by_id.get(o.offer_id, {}) for o in items])  # fmt: skip
            cards = tools.cards(ranked, limit=5, why="ensemble of TOPSIS, popularity and similarity")
            s["offers"] = [c.offer_id for c in cards]
            if not cards:
                return Reply(text=f"No offer qualifies for {_describe(f)} right now.", intent="recommend", slots=s,
                             follow_up=["Help"])  # fmt: skip
            text = "\n".join([f"Recommended for {_describe(f)} by the ensemble (TOPSIS, popularity, similarity):",
                              "", *(_card_line(c) for c in cards)])  # fmt: skip
            return Reply(text=text, intent="recommend", slots=s, cards=cards, follow_up=FOLLOW_UPS["find"])
        cards = tools.cards(tools.rank(ids), limit=5)
        s["offers"] = [c.offer_id for c in cards]
        if not cards:
            return Reply(text="No offer qualifies right now.", intent="recommend", slots=s, follow_up=["Help"])
        text = "\n".join([f"Recommended by {label}:", "", *(_card_line(c) for c in cards)])
        return Reply(text=text, intent="recommend", slots=s, cards=cards, follow_up=FOLLOW_UPS["find"])

    # ---- compare / explain / history / analyse ---------------------------------------------------------------

    def _compare(self, message: str, s: Slots, ctx: ChatContext | None, tools: Tools) -> Reply:
        ids = _offer_refs(message, s, ctx)
        if len(ids) < 2 and len(s.get("offers") or []) >= 2 and not _OFFER_ID.search(message.lower()):
            ids = list(s["offers"][:2])
        if len(ids) < 2:
            return _ask(s, "compare", "offers", "Which offers should I compare? Search first, then say e.g. "
                        "*compare 1 and 2*, or paste 2 to 4 offer ids.")  # fmt: skip
        rows = tools.compare_offers(ids[:4], among=list(s.get("offers") or []) + list(s.get("pool") or []))
        head = "| | " + " | ".join(f"#{r['rank']} {r['provider']}" for r in rows) + " |"
        sep = "|---|" + "---|" * len(rows)
        body = [
            "| GPU | " + " | ".join(f"{r['gpu_count']} x {r['gpu_model']}" for r in rows) + " |",
            "| $/h | " + " | ".join(f"{r['price_per_hour']:.2f}" for r in rows) + " |",
            "| $/GPU-h | " + " | ".join(f"{r['price_per_gpu_hour']:.2f}" for r in rows) + " |",
            "| memory/GPU | " + " | ".join(f"{r['gpu_memory_gb']:g} GB" for r in rows) + " |",
            "| region | " + " | ".join(str(r["region"]) for r in rows) + " |",
            "| score | " + " | ".join(f"{r['score']:.2f}" for r in rows) + " |",
        ]
        ranked = Ranked([r["offer_id"] for r in rows], [r["score"] for r in rows], [r["contributions"] for r in rows])
        cards = tools.cards(ranked, limit=4)
        s["offers"] = [c.offer_id for c in cards]
        text = "\n".join([head, sep, *body, "", f"**#{rows[0]['rank']} ({rows[0]['provider']})** comes out ahead."])
        return Reply(text=text, intent="compare", slots=s, cards=cards,
                     follow_up=["Why is the first one ranked first?", "Book the first one for 8 hours"])  # fmt: skip

    def _explain(self, message: str, s: Slots, ctx: ChatContext | None, tools: Tools) -> Reply:
        shown = list(s.get("offers") or (ctx.visible_offer_ids if ctx else []))
        if not shown:
            return _ask(s, "explain", "offers", "There is no ranking to explain yet: what should I search for?")
        ranked = tools.explain_ranking(shown)
        picked = _offer_refs(message, s, ctx)
        focus = [oid for oid in ranked.offer_ids if oid in picked] or ranked.offer_ids[:3]
        lines = ["Each offer's score is TOPSIS over these criteria; each criterion's share (weight x how close the "
                 "offer is to the best candidate on it):", ""]  # fmt: skip
        for oid in focus:
            k = ranked.offer_ids.index(oid)
            parts = ", ".join(f"{n} {v:.2f}" for n, v in sorted(ranked.contributions[k].items(), key=lambda kv: -kv[1]))
            lines.append(f"- **#{k + 1}** `{oid}` (score {ranked.scores[k]:.2f}): {parts}")
        cards = tools.cards(ranked, limit=MAX_CARDS)
        s["offers"] = [c.offer_id for c in cards]
        return Reply(text="\n".join(lines), intent="explain", slots=s, cards=cards,
                     follow_up=["Compare the top two", "Book the first one for 8 hours"])  # fmt: skip

    def _history(self, message: str, s: Slots, ctx: ChatContext | None, tools: Tools) -> Reply:
        ids = _offer_refs(message, s, ctx) or list(s.get("offers") or [])[:1]
        if not ids:
            return _ask(s, "history", "offers", "Which offer's price history? Search first or paste its id.")
        page = tools.price_history(ids[0], limit=500)
        prices = [p.price_per_hour for p in page.points if p.price_per_hour is not None]
        if not prices:
            text = f"No price history is recorded for `{ids[0]}` yet."
        else:
            text = (f"`{ids[0]}`: {len(prices)} price point(s); now ${prices[-1]:.2f}/h, lowest ${min(prices):.2f}, "
                    f"highest ${max(prices):.2f}, first ${prices[0]:.2f}.")  # fmt: skip
        return Reply(text=text, intent="history", slots=s, follow_up=["Book it for 8 hours", "Compare the top two"])

    def _analyze(self, message: str, s: Slots, ctx: ChatContext | None, tools: Tools) -> Reply:
        if ctx is None:
            return Reply(text="I cannot see your search: the page sends its filters and visible offers with the "
                         "message (`context`). Tell me what you are looking for instead.", intent="analyze", slots=s,
                         follow_up=FOLLOW_UPS["help"])  # fmt: skip
        result = tools.analyze_current_search(ctx.filters, ctx.visible_offer_ids)
        cards = tools.cards(result["ranked"], limit=5)
        s["offers"] = [c.offer_id for c in cards]
        lines = [f"Your filters match **{result['count']}** live offer(s)."]
        if result["price_range"]:
            lo, hi = result["price_range"]
            lines.append(f"Price per GPU-hour on the first page: ${lo:.2f} to ${hi:.2f}.")
        if result["gone"]:
            lines.append(f"{len(result['gone'])} offer(s) on your screen are no longer live.")
        if cards:
            lines += ["", "Best of what you are looking at:", "", *(_card_line(c) for c in cards)]
        return Reply(text="\n".join(lines), intent="analyze", slots=s, cards=cards, follow_up=FOLLOW_UPS["find"])

    # ---- book ------------------------------------------------------------------------------------------------

    def _book(self, message: str, s: Slots, ctx: ChatContext | None, tools: Tools) -> Reply:
        ids = _offer_refs(message, s, ctx) or ([s["booking_offer"]] if s.get("booking_offer") else [])
        if not ids:
            return _ask(s, "book", "offer", "Which offer do you want to book? Say e.g. *book the first one*, or "
                        "paste its offer id.")  # fmt: skip
        s["booking_offer"] = ids[0]
        hours = s.get("hours")
        if not hours:
            return _ask(s, "book", "hours", f"For how many hours do you want `{ids[0]}`?")
        draft = tools.draft_booking(ids[0], int(hours))
        s["booking_offer"] = None
        text = (f"Here is a booking **draft** for `{draft.offer_id}`: {draft.hours} h, about "
                f"${draft.estimated_total_usd:,.2f}. I have **not** booked anything: review it and confirm "
                f"yourself at [{draft.link}]({draft.link}) (it sends `POST /bookings`).")  # fmt: skip
        return Reply(text=text, intent="book", slots=s, draft=draft,
                     follow_up=["Show its price history", "Compare it with the second one"])  # fmt: skip


def _plan_offers(
    spec: WorkloadSpec, s: Slots, plans: Sequence[GpuPlan], tools: Tools
) -> tuple[GpuPlan, dict[str, Any], OfferPage]:
    """The first of ``plans`` the (constrained) market rents with enough GPUs in one instance: the plan, the
    ``GET /offers`` filters and their page (the first plan's, empty, when none is)."""
    first: tuple[GpuPlan, dict[str, Any], OfferPage] | None = None
    for plan in plans:
        f = offer_filters(spec, gpu=plan.gpu_model, hours=s.get("hours"), providers=s.get("providers") or ())
        if plan.gpus_needed and plan.gpus_needed > 1:
            f["min_gpu_count"] = max(f.get("min_gpu_count", 1), plan.gpus_needed)
        page = tools.search_offers(f, limit=50)
        if page.items:
            return plan, f, page
        first = first or (plan, f, page)
    assert first is not None, "no plan to look for"
    return first


def _no_fit(
    s: Slots,
    tools: Tools,
    intent: str,
    *,
    workload: WorkloadRequest,
    mapping: WorkloadMapping,
    market: Mapping[str, Any],
) -> Reply:
    """Nothing the constrained market offers can run the workload: why (the GPUs it offers and what stops
    each), what the whole market would use instead, and how to drop the constraint; never an empty answer."""
    s["offers"] = []
    offered = [p for p in mapping.infeasible if p.offer_id is not None]  # priced: the market rents it
    where = _describe(market)
    if not offered:
        text = f"No live offer matches {where}, so there is no GPU there to run this on."
    else:
        need = mapping.requirement.memory_required_gb
        why = "; ".join(f"{p.gpu_model}: {_REASON_WORDS.get(p.reason or '', p.reason)}" for p in offered[:4])
        more = f" (and {len(offered) - 4} more)" if len(offered) > 4 else ""
        text = (f"No GPU offered {where} can run this workload (it needs about {need:,.0f} GB of GPU memory): "
                f"{why}{more}.")  # fmt: skip
    anywhere = [p for p in tools.map_workload(workload, top=5).plans if p.feasible]
    if anywhere:
        p = anywhere[0]
        text += (f"\n\nWithout that constraint, the best fit is **{p.gpus_needed} x {p.gpu_model}**"
                 + (f" (from ${p.price_per_gpu_hour:.2f}/GPU-h)" if p.price_per_gpu_hour else "")
                 + ": drop the constraint (e.g. *on any provider*) to see those offers.")  # fmt: skip
    else:
        text += "\n\nNo GPU in the whole market can run it as stated either: try a smaller model or precision."
    follow = ["On any provider", "What if my budget is higher?", "Help"]
    return Reply(text=text, intent=intent, slots=s, follow_up=follow)


def _plan_table(plans: Sequence[GpuPlan], serving: bool) -> list[str]:
    """The estimate's markdown table: per GPU, the count and (serving) the memory and cost per hour, or the time
    and total cost."""
    if serving:
        lines = ["| GPU | GPUs | memory needed | cost per hour |", "|---|---|---|---|"]
    else:
        lines = ["| GPU | GPUs | time | cost |", "|---|---|---|---|"]
    for p in plans:
        if serving:
            rate = (p.gpus_needed or 0) * p.price_per_gpu_hour if p.price_per_gpu_hour else None
            c = f"${rate:,.2f}/h" if rate else "no live price"
            lines.append(f"| {p.gpu_model} | {p.gpus_needed} | {p.memory_required_gb:,.0f} GB | {c} |")
        else:
            t, c = _time_and_cost(p)
            lines.append(f"| {p.gpu_model} | {p.gpus_needed} | {t} | {c} |")
    return lines


def _hours(h: float) -> str:
    """Hours as the web app's Planner reads them (web/src/planner/band.ts): 2 significant digits under 1 h, one
    decimal under 10, whole above."""
    if h < 1:
        return f"{float(f'{h:.2g}'):g}"
    return f"{h:.1f}" if h < 9.95 else f"{h:,.0f}"


def _usd(x: float) -> str:
    return f"${x:,.0f}" if abs(x) >= 1000 else f"${x:,.2f}"


def _time_and_cost(p: GpuPlan) -> tuple[str, str]:
    """Time and cost with the uncertainty band (est_hours_low/high), e.g. "3.2 h (2.4-3.6)" and "$41.20 ($30.90-
    $46.35)" (with an en dash in the answer): the cost scales with the time (same GPUs, same price)."""
    if p.est_hours is None:
        return "ongoing", f"${p.est_cost_usd:,.2f}" if p.est_cost_usd is not None else "no live price"
    h, lo, hi = p.est_hours, p.est_hours_low, p.est_hours_high
    band = (lo, hi) if lo is not None and hi is not None and h > 0 else None
    t = f"{_hours(h)} h" + (f" ({_hours(band[0])}\u2013{_hours(band[1])})" if band else "")
    if p.est_cost_usd is None:
        return t, "no live price"
    cost = p.est_cost_usd
    c = _usd(cost) + (f" ({_usd(cost * band[0] / h)}\u2013{_usd(cost * band[1] / h)})" if band else "")
    return t, c


def _has_search_slots(spec: WorkloadSpec) -> bool:
    return any(x is not None for x in (spec.gpu, spec.region, spec.budget_usd, spec.compliance, spec.gpu_count))


def _ask(s: Slots, intent: str, fld: str, question: str) -> Reply:
    s["pending"] = {"intent": intent, "field": fld}
    return Reply(text=question, intent=intent, slots=s, follow_up=[])


def _describe(filters: Mapping[str, Any]) -> str:
    parts = []
    if filters.get("gpu"):
        parts.append(" or ".join(filters["gpu"]))
    if filters.get("provider"):
        parts.append("at " + " or ".join(filters["provider"]))
    if filters.get("min_gpu_count"):
        parts.append(f"at least {filters['min_gpu_count']} GPUs")
    if filters.get("region"):
        parts.append("in " + "/".join(r.upper() for r in filters["region"]))
    if filters.get("compliance"):
        parts.append("with " + ", ".join(filters["compliance"]))
    if filters.get("max_price_per_hour") is not None:
        parts.append(f"at most ${filters['max_price_per_hour']:.2f}/h")
    return ", ".join(parts) or "your request"


def _card_line(c: Card) -> str:
    return (f"{c.rank}. **{c.count} x {c.gpu}** at {c.provider} ({c.region}): ${c.price_per_hour:.2f}/h, score "
            f"{c.score if c.score is not None else '-'}: {c.explanation}. [Book]({c.booking_link})")  # fmt: skip


__all__ = ["FOLLOW_UPS", "DialogueEngine", "Reply", "RulesDialogue", "ToolOutcome", "booking_link", "detect_intent",
           "merge_spec"]  # fmt: skip
