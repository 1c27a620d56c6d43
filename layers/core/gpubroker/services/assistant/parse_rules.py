"""The rules engine of ``POST /ai/parse-workload``: plain words -> :class:`WorkloadSpec`, deterministically.

Regular expressions and tables only (no language model, no network): the model table
(:mod:`gpubroker.domain.models`), the region vocabulary (:mod:`gpubroker.domain.regions`), the compliance tags of
the offers (:data:`gpubroker.domain.providers.COMPLIANCE_TAGS`) and the fixed currency rates below. Each reader
returns its field with a confidence: 0.9-0.95 for an explicit unit or keyword next to the number, lower where the
reading leans on context (a bare "$500" is a total, a bare number of tokens a dataset size, ...).

Conventions (docs/decisions.md, "Workload parser"): ``k`` is 1024 in a context length (``8k context`` = 8192) and
1000 elsewhere; a request rate is per second; hours of footage are minutes of footage; TB = 1000 GB.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from gpubroker.domain.models import ModelMatch, find_model, name_tokens
from gpubroker.domain.precision import Precision
from gpubroker.domain.regions import region_place
from gpubroker.domain.workload_spec import (
    BudgetPeriod,
    BudgetRead,
    ComplianceRead,
    IntRead,
    KindRead,
    Method,
    MethodRead,
    ModelRead,
    NumberRead,
    PrecisionRead,
    QualityLevel,
    QualityRead,
    QuantityRead,
    QuantityUnit,
    RegionRead,
    Task,
    TaskRead,
    TextRead,
    WorkloadKind,
    WorkloadSpec,
)

# Fixed conversion rates to USD (USD per unit of the currency): approximate market rates of late 2025, fixed so
# that answers are deterministic; not live rates (docs/decisions.md says when and why).
USD_PER: dict[str, float] = {
    "USD": 1.0,
    "EUR": 1.16,
    "GBP": 1.33,
    "CHF": 1.25,
    "CAD": 0.72,
    "AUD": 0.66,
    "JPY": 0.0066,
    "INR": 0.0112,
    "CNY": 0.14,
}
RATES_AS_OF = "2025-11 (approximate)"

_NUM = (
    r"(?<![\w.,])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|(?:a\s+hundred|a\s+thousand|a\s+few|a\s+couple\s+of|"
    r"couple\s+of|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty|forty|fifty|"
    r"sixty|hundred)(?!\w))"
)
_WORD_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "hundred": 100, "a hundred": 100, "a thousand": 1000, "a few": 3, "a couple of": 2,
    "couple of": 2,
}  # fmt: skip
_SCALE = {
    "k": 1e3, "thousand": 1e3, "m": 1e6, "mm": 1e6, "mil": 1e6, "million": 1e6, "millions": 1e6, "b": 1e9,
    "bn": 1e9, "billion": 1e9, "t": 1e12, "trillion": 1e12,
}  # fmt: skip
_MULT = r"(?:\s*(k|thousand|mm|mil|millions?|m|bn|billion|b|trillion|t)\b)?"


def _number(raw: str, scale: str | None = None) -> float:
    word = re.sub(r"\s+", " ", raw.strip().casefold())
    base = float(_WORD_NUMBERS[word]) if word in _WORD_NUMBERS else float(word.replace(",", ""))
    return _bounded(base * _SCALE.get((scale or "").casefold(), 1.0))


def _bounded(value: float) -> float:
    """A number as written, capped at 1e18 (400 nines read as a float are infinite): every count, size and price
    stays finite, and the request model's bounds then refuse what is out of range."""
    return min(value, 1e18)


def _clean(text: str) -> str:
    """Lower case, typographic characters folded, a space on each side of the text."""
    folded = text.casefold()
    for a, b in (("×", "x"), ("–", "-"), ("—", "-"), ("’", "'"), ("\u00a0", " "), ("≤", "<="), ("≥", ">=")):
        folded = folded.replace(a, b)
    return f" {folded} "


# ---- precision -----------------------------------------------------------------------------------------------------

_PRECISION: list[tuple[str, Precision]] = [
    (r"\b(?:fp|float)\s?32\b|\bfull[- ]precision\b|\bsingle[- ]precision\b", "fp32"),
    (r"\bbf\s?16\b|\bbfloat\s?16\b|\bbrain[- ]?float\b", "bf16"),
    (r"\b(?:fp|float)\s?16\b|\bhalf[- ]precision\b", "fp16"),
    (r"\b(?:fp|float)\s?8\b|\be4m3\b|\bmxfp8\b", "fp8"),
    (r"\bint\s?8\b|\b8[- ]?bits?\b(?!\s*(?:adam|optim\w*))|\bw8a8\b|\bq8(?:_0)?\b|\bq[56]_k(?:_[ms])?\b|\bq[56]\b|"
     r"\bllm\.int8\b", "int8"),
    (r"\bint\s?4\b|\b4[- ]?bits?\b|\bawq\b|\bgptq\b|\bq4(?:_k)?(?:_[ms0])?\b|\bq4_0\b|\bnf4\b|\bexl2\b|\bmxfp4\b"
     r"|\bq3_k(?:_[ms])?\b|\bq2_k\b", "int4"),
]  # fmt: skip
_QUANTISED = re.compile(r"\bquanti[sz](?:ed|ation)\b|\bquant\b")


def read_precision(t: str) -> PrecisionRead | None:
    found: list[tuple[int, Precision, str]] = []
    for pattern, value in _PRECISION:
        m = re.search(pattern, t)
        if m:
            found.append((m.start(), value, m.group(0).strip()))
    if found:
        _, value, written = min(found)
        return PrecisionRead(value=value, written=written, confidence=0.95 if len(found) == 1 else 0.7)
    m = _QUANTISED.search(t)
    if m:
        return PrecisionRead(value="int4", written=m.group(0), confidence=0.5)
    return None


# ---- model and size ------------------------------------------------------------------------------------------------

_SIZE = re.compile(
    r"(?<![\w.$€£])(\d+(?:\.\d+)?)\s*-?\s*(b|bn|billion)\b(?:\s*-?\s*(?:param(?:eter)?s?|model|llm|weights))?"
    r"(?!\s*(?:tokens?|rows|records|images|dollars|usd|words|samples|examples|documents|docs|pages|gb|\$))"
)
_SIZE_M = re.compile(r"(?<![\w.$€£])(\d+(?:\.\d+)?)\s*-?\s*(m|million)\s*-?\s*(?:param(?:eter)?s?|model|llm)\b")


def read_model(text: str) -> ModelMatch | None:
    return find_model(text)


def read_params(t: str) -> NumberRead | None:
    m = _SIZE.search(t)
    if m:
        explicit = bool(re.search(r"param|model|llm|weights", m.group(0)))
        return NumberRead(value=_bounded(float(m.group(1))), confidence=0.9 if explicit else 0.75)
    m = _SIZE_M.search(t)
    if m:
        return NumberRead(value=_bounded(float(m.group(1))) / 1000, confidence=0.85)
    return None


# ---- context length ------------------------------------------------------------------------------------------------

_CTX_WORDS = r"(?:context|ctx|context[- ]window|window|context[- ]length|seq(?:uence)?[- ]?len(?:gth)?|prompts?|" \
    r"input|max[_ -]?model[_ -]?len|max[_ -]?seq[_ -]?len|sequence)"  # fmt: skip
_CTX_K = r"(\d+(?:\.\d+)?)\s*(k|m)\b"
_CTX_N = r"(\d{1,3}(?:,\d{3})+|\d{3,7})"
_CONTEXT = [
    re.compile(rf"{_CTX_K}\s*-?\s*(?:tokens?|toks?)?\s*(?:of\s+)?(?:long\s+)?{_CTX_WORDS}"),
    re.compile(rf"{_CTX_N}\s*-?\s*(?:tokens?|toks?)?\s*(?:of\s+)?(?:long\s+)?{_CTX_WORDS}"),
    re.compile(rf"{_CTX_WORDS}\s*(?:length|size|len|window|of|up\s+to|:|=|~|at|is|around|about)*\s*{_CTX_K}"),
    re.compile(rf"{_CTX_WORDS}\s*(?:length|size|len|window|of|up\s+to|:|=|~|at|is|around|about)*\s*{_CTX_N}"),
    re.compile(rf"{_CTX_K}\s*tokens?\b(?!\s*(?:per|/|a|an|each|every))"),
    re.compile(r"(\d{1,3}(?:,\d{3})+|\d{3,7})\s*tokens?\s*(?:long|each|per\s+(?:request|prompt|conversation))"),
]


def _ctx_value(num: str, k: str | None) -> int:
    value = _bounded(float(num.replace(",", "")))
    return int(_bounded(value * {"k": 1024, "m": 1_048_576}[k])) if k else int(value)


def read_context(t: str) -> IntRead | None:
    for i, pattern in enumerate(_CONTEXT):
        m = pattern.search(t)
        if not m:
            continue
        groups = [g for g in m.groups()]
        k = groups[1] if len(groups) > 1 else None
        value = _ctx_value(groups[0], k)
        if 16 <= value <= 2_097_152:
            return IntRead(value=value, confidence=0.9 if i < 4 else 0.7)
    return None


# ---- concurrency and request rate ----------------------------------------------------------------------------------

_PEOPLE = (
    r"(?:users?|people|customers|clients|sessions|connections|streams|chats|agents|employees|seats|visitors|"
    r"developers|devs|engineers|students|analysts|members)"
)
_CONCURRENCY = [
    re.compile(rf"{_NUM}{_MULT}\s*(?:concurrent|simultaneous|parallel|active)\s+(?:{_PEOPLE}|requests|queries|"
               r"conversations|calls|generations|jobs|sequences)"),
    re.compile(r"(?:concurrency|batch[- ]size|batch\s+of|parallel\s+requests|max[_ -]num[_ -]seqs)"
               r"\s*(?:of|:|=|~|is)?\s*"
               r"(\d+)"),
    re.compile(rf"{_NUM}{_MULT}\s*{_PEOPLE}\b(?!\s*(?:per|a|an|/|each|every)\s*(?:day|week|month|hour))"),
    re.compile(rf"{_NUM}{_MULT}\s*(?:requests|queries|prompts|conversations)\s+at\s+(?:once|the\s+same\s+time|a\s+time)"),
    re.compile(r"\bup\s+to\s+(\d+)\s+at\s+(?:once|a\s+time)"),
    re.compile(rf"{_NUM}{_MULT}\s*(?:concurrent|simultaneous|in\s+parallel)\b"),
]  # fmt: skip

_RATE = re.compile(
    rf"{_NUM}{_MULT}\s*(?:requests?|reqs?|queries|calls|prompts|completions|generations|rps|qps|r/s|q/s)"
    r"(?:\s*(?:/|per|an?|each|every)\s*(s|sec|secs|second|seconds|min|mins|minute|minutes|h|hr|hrs|hour|hours|"
    r"day|days))?"
)
_RATE_SECONDS = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "min": 60, "mins": 60, "minute": 60,
                 "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600, "day": 86400,
                 "days": 86400}  # fmt: skip


def read_concurrency(t: str) -> IntRead | None:
    for i, pattern in enumerate(_CONCURRENCY):
        m = pattern.search(t)
        if m:
            scale = m.group(2) if m.lastindex and m.lastindex >= 2 else None
            value = int(_number(m.group(1), scale))
            if value >= 1:
                return IntRead(value=value, confidence=(0.95, 0.9, 0.75, 0.85, 0.8, 0.8)[i])
    return None


def read_rate(t: str) -> NumberRead | None:
    for m in _RATE.finditer(t):
        unit = m.group(3)
        word = m.group(0)
        if unit is None and not re.search(r"rps|qps|r/s|q/s", word):
            continue
        per = _RATE_SECONDS[unit] if unit else 1
        return NumberRead(value=round(_number(m.group(1), m.group(2)) / per, 6), confidence=0.9)
    return None


# ---- quantities ----------------------------------------------------------------------------------------------------

_GPU_WORDS = (
    r"(?:gpus?|cards?|accelerators?|(?:nvidia\s+)?(?:h100|h200|h20|gh200|b200|b300|a100|a10g?|a40|a30|a6000|"
    r"rtx\s?a6000|rtx\s?[3-5]0[6-9]0(?:\s?ti)?|l40s?|l4|t4|v100|mi300x|mi250x?|rtx\s?6000(?:\s?ada)?)"
    r"(?:\s?(?:sxm\d?|pcie|nvl|\d+\s?gb))*s?(?:\s+gpus?|\s+cards?)?)"
)
_COUNT = _NUM.replace("|a|an|", "|")
assert _COUNT != _NUM
_GPU_COUNT = [
    re.compile(rf"{_COUNT}\s*(?:x\s*)?(?:\d+\s?gb\s+)?{_GPU_WORDS}(?![\w-])"),
    re.compile(rf"\b(\d+)\s*x\s*{_GPU_WORDS}"),
    re.compile(r"\b(single|one)\s+gpu\b"),
]
_GPU_NAME = re.compile(
    r"\b(h100|h200|gh200|b200|b300|a100|a10g|a10|a40|a30|l40s|l40|l4|t4|v100|mi300x|rtx\s?4090|rtx\s?5090|"
    r"rtx\s?3090|rtx\s?a6000|a6000|rtx\s?6000\s?ada)s?\b(?:\s?(80|40|94|141)\s?gb)?(?:\s?(sxm\d?|pcie|nvl))?"
)
_QUANTITY_WORDS: list[tuple[str, QuantityUnit, float]] = [
    (r"images?|pictures?|pics|photos?|renders?|avatars?|thumbnails?|illustrations?|imgs?|headshots?|portraits?|"
     r"product\s+(?:shots|photos|images)|frames\s+of\s+art|stickers|icons|logos|wallpapers|banners|artworks?",
     "images", 1.0),
    (r"videos?|clips?|movies|films|episodes|vids|reels|shorts", "videos", 1.0),
    (r"(?:rows?|records?|documents?|docs|lines|samples|examples|entries|sentences|passages|chunks|pages|items|"
     r"pairs|conversations|emails|tickets|reviews|articles|products|files|instructions|descriptions|paragraphs|queries|prompts|transcripts|contracts|invoices|receipts|comments|posts|tweets|messages)(?!\s*(?:per|/|a)\s)",
     "rows", 1.0),
    (r"tokens?|toks?", "tokens", 1.0),
]  # fmt: skip
_DATA_GB = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*(pb|petabytes?|tb|terabytes?|tib|gb|gigabytes?|gib|mb|"
    r"megabytes?)\b(?!\s*(?:of\s+)?(?:vram|gpu|hbm|ram|memory|cards?|per\s+gpu|graphics))"
)
_GB_PER = {"pb": 1e6, "petabyte": 1e6, "petabytes": 1e6, "tb": 1000.0, "terabyte": 1000.0, "terabytes": 1000.0,
           "tib": 1099.5, "gb": 1.0, "gigabyte": 1.0, "gigabytes": 1.0, "gib": 1.074, "mb": 0.001, "megabyte": 0.001,
           "megabytes": 0.001}  # fmt: skip
_FOOTAGE = re.compile(
    rf"{_NUM}{_MULT}\s*(hours?|hrs?|h|minutes?|mins?|seconds?|secs?)\s+(?:of\s+)?(?:\w+\s+){{0,3}}?"
    r"(?:video|footage|audio|recordings?|podcasts?|content|movies?|film|streams?|broadcasts?|lectures?|calls?|"
    r"meetings?|interviews?|clips?|videos|anime|shows?|series|cartoons?|tv|sessions)"
)
_GPU_NOUN = re.compile(r"(?:vram|hbm|memory|gpu|card)")


def _gpu_count(t: str) -> tuple[int, float] | None:
    for i, pattern in enumerate(_GPU_COUNT):
        m = pattern.search(t)
        if m:
            word = m.group(1)
            value = int(_number("one" if word == "single" else word))
            if value < 1 or value > 4096:
                continue
            return value, (0.9, 0.9, 0.8)[i]
    return None


def read_gpu_count(t: str) -> IntRead | None:
    found = _gpu_count(t)
    return IntRead(value=found[0], confidence=found[1]) if found else None


def read_gpu(t: str) -> TextRead | None:
    from gpubroker.domain.gpus import UnknownGpu, canonical_gpu

    m = _GPU_NAME.search(t)
    if not m:
        return None
    raw = " ".join(p for p in (m.group(1), f"{m.group(2)}GB" if m.group(2) else None, m.group(3)) if p)
    try:
        return TextRead(value=canonical_gpu(raw.upper()), confidence=0.9)
    except (UnknownGpu, ValueError):
        return TextRead(value=m.group(1).upper().replace(" ", ""), confidence=0.5)


def _footage(t: str) -> tuple[re.Match[str] | None, QuantityRead | None]:
    m = _FOOTAGE.search(t)
    if not m:
        return None, None
    value = _number(m.group(1), m.group(2))
    unit = m.group(3)
    minutes = value * 60 if unit.startswith("h") else value / 60 if unit.startswith("s") else value
    return m, QuantityRead(value=round(minutes, 4), unit="minutes", confidence=0.9)


def _counted_hits(t: str, words: str) -> list[re.Match[str]]:
    """``N [two words] noun``, ``N 4k noun`` and ``noun: N``, in text order."""
    hits = list(re.finditer(rf"{_NUM}{_MULT}\s*(?:[a-z-]+\s+){{0,2}}?(?:{words})\b", t))
    hits += re.finditer(rf"{_NUM}{_MULT}\s+(?:[48]k|uhd|hd|\d{{3,4}}p)\s+(?:[a-z-]+\s+){{0,2}}?(?:{words})\b", t)
    hits += re.finditer(rf"\b(?:{words})\s*(?::|=|-|x)\s*{_NUM}{_MULT}(?![\w.])", t)
    return sorted(hits, key=lambda h: h.start())


def _counted_ok(t: str, q: re.Match[str], unit: QuantityUnit, kind: WorkloadKind | None) -> bool:
    """Whether ``N noun`` counts the work: a model size ("11b vision on images") or a context length ("4096
    tokens each") does not, nor a small token count outside training and data work."""
    if (q.group(2) or "") in ("b", "bn", "billion") and unit != "tokens":
        return False
    if unit != "tokens" and "token" in q.group(0):
        return False  # "8192-token prompts": a length, not a count of prompts
    value = _number(q.group(1), q.group(2))
    if unit == "tokens":
        if value < 100_000 and re.search(r"context|ctx|window|prompt|long|each|per", t[q.end() : q.end() + 25]):
            return False
        if value < 50_000 and kind not in ("training", "fine_tuning", "data_processing"):
            return False
    return value >= 1


def _counted(t: str, kind: WorkloadKind | None, footage: re.Match[str] | None) -> list[tuple[int, QuantityRead]]:
    out: list[tuple[int, QuantityRead]] = []
    for words, unit, _ in _QUANTITY_WORDS:
        for q in _counted_hits(t, words):
            if unit == "videos" and footage and footage.start() <= q.start() < footage.end():
                continue
            if _counted_ok(t, q, unit, kind):
                value = _number(q.group(1), q.group(2))
                out.append((q.start(), QuantityRead(value=value, unit=unit, confidence=0.85)))
            break
    return out


def _data_size(t: str) -> list[tuple[int, QuantityRead]]:
    """The first size in bytes that is not a GPU's memory (``80GB H100``, ``24 GB of VRAM``)."""
    for g in _DATA_GB.finditer(t):
        after = t[g.end() : g.end() + 12]
        before = t[max(0, g.start() - 14) : g.start()]
        if _GPU_NOUN.search(after) or re.search(r"(?:with|has|have)\s*$|\d\s*x\s*$", before):
            continue
        if re.match(r"\s?(?:sxm|pcie|nvl)", after) or re.search(r"(?:h100|a100|h200|l40s?|card|gpu)\s*$", before):
            continue
        value = _bounded(float(g.group(1).replace(",", "")) * _GB_PER[g.group(2)])
        return [(g.start(), QuantityRead(value=round(value, 6), unit="gb", confidence=0.85))]
    return []


def read_quantity(t: str, kind: WorkloadKind | None) -> QuantityRead | None:
    """The amount of work: the unit the workload type counts in first, then the first in the text; GPUs only
    when nothing else is counted."""
    footage, minutes = _footage(t)
    candidates = [(footage.start(), minutes)] if footage and minutes else []
    candidates += _counted(t, kind, footage) + _data_size(t)
    if not candidates:
        gpus = _gpu_count(t)
        return QuantityRead(value=gpus[0], unit="gpus", confidence=gpus[1]) if gpus else None
    preferred = _PREFERRED_UNITS.get(kind or "", ())
    candidates.sort(key=lambda c: (preferred.index(c[1].unit) if c[1].unit in preferred else 99, c[0]))
    return candidates[0][1]


_PREFERRED_UNITS: dict[str, tuple[QuantityUnit, ...]] = {
    "image_generation": ("images",),
    "video_processing": ("minutes", "videos"),
    "training": ("tokens", "gb", "rows"),
    "fine_tuning": ("tokens", "rows", "gb"),
    "data_processing": ("gb", "tokens", "rows", "minutes"),
    "llm_inference": ("tokens", "rows"),
}


# ---- time ----------------------------------------------------------------------------------------------------------

_HOURS_PER = {"min": 1 / 60, "minute": 1 / 60, "minutes": 1 / 60, "mins": 1 / 60, "h": 1.0, "hr": 1.0, "hrs": 1.0,
              "hour": 1.0, "hours": 1.0, "day": 24.0, "days": 24.0, "d": 24.0, "week": 168.0, "weeks": 168.0,
              "wk": 168.0, "month": 730.0, "months": 730.0}  # fmt: skip
_TIME_UNIT = r"(min|minutes?|mins|h|hrs?|hours?|days?|d|weeks?|wk|months?)\b"
_DEADLINE = [
    re.compile(rf"(?:within|in\s+under|under|in\s+less\s+than|less\s+than|no\s+more\s+than|at\s+most|before|"
               rf"by|in|inside|done\s+in|finish(?:ed)?\s+in|deadline(?:\s+(?:of|is)|:)?|turnaround(?:\s+(?:of|is)|:)?|"
               rf"complete(?:d)?\s+in|ready\s+in|max(?:imum)?)\s+(?:the\s+next\s+)?{_NUM}\s*-?\s*{_TIME_UNIT}"
               r"(?!\s+of\b)"),
    re.compile(rf"{_NUM}\s*-?\s*{_TIME_UNIT}\s+(?:deadline|turnaround|max|or\s+less|tops)"),
]  # fmt: skip
_DEADLINE_WORDS = [
    (re.compile(r"\b(?:by|before)\s+(?:tomorrow|end\s+of\s+(?:the\s+)?day|eod|tonight)\b"), 24.0, 0.6),
    (re.compile(r"\bovernight\b"), 12.0, 0.6),
    (re.compile(r"\b(?:by|before)\s+(?:the\s+)?end\s+of\s+(?:the\s+)?week\b"), 120.0, 0.5),
]
_DURATION = [
    re.compile(rf"(?:for|lasting|over|rent(?:al)?\s+(?:of|for)?|during|duration\s+(?:of|:)?|about|around)\s+"
               rf"(?:the\s+next\s+|another\s+|roughly\s+|about\s+|around\s+)?{_NUM}\s*-?\s*{_TIME_UNIT}"
               r"(?!\s+(?:of\b|deadline|turnaround))"),
    re.compile(rf"{_NUM}\s*-?\s*{_TIME_UNIT}\s+(?:run|job|rental|session|training\s+run|window)"),
    re.compile(rf"{_NUM}\s*-?\s*{_TIME_UNIT}\s+(?:a|per)\s+(?:day|week)"),
]  # fmt: skip
_DURATION_WORDS = [
    (re.compile(r"\bfor\s+(?:a|one)\s+(?:day|week|month|hour)\b|\bfor\s+the\s+(?:day|week|weekend)\b"), None, 0.85),
    (re.compile(r"\bover\s+the\s+weekend\b|\bfor\s+the\s+weekend\b|\bthis\s+weekend\b"), 48.0, 0.6),
    (re.compile(r"\b24/7\b|\baround\s+the\s+clock\b"), 730.0, 0.5),
]


_UNIT_HOURS = {"day": 24.0, "week": 168.0, "month": 730.0, "hour": 1.0, "weekend": 48.0}


def _time_hours(num: str, unit: str) -> float:
    return _number(num) * _HOURS_PER[unit]


def read_deadline(t: str) -> NumberRead | None:
    for pattern in _DEADLINE:
        for m in pattern.finditer(t):
            if re.search(r"\b(?:in|by|max)\s+$", t[m.start() : m.start() + 4]) and re.search(
                r"(?:a|per|an)\s*$", t[max(0, m.start() - 6) : m.start()]
            ):
                continue
            if m.group(0).startswith(("in ", "by ")) and re.match(r"\s+(?:of|a|per)\b", t[m.end() :]):
                continue
            return NumberRead(value=round(_time_hours(m.group(1), m.group(2)), 6), confidence=0.85)
    for wpattern, value, conf in _DEADLINE_WORDS:
        if wpattern.search(t):
            return NumberRead(value=value, confidence=conf)
    return None


def read_duration(t: str, deadline: NumberRead | None) -> NumberRead | None:
    for pattern in _DURATION:
        for m in pattern.finditer(t):
            hours = round(_time_hours(m.group(1), m.group(2)), 6)
            if deadline is not None and abs(hours - deadline.value) < 1e-9:
                continue
            return NumberRead(value=hours, confidence=0.85)
    for wpattern, value, conf in _DURATION_WORDS:
        w = wpattern.search(t)
        if w:
            if value is None:
                unit = w.group(0).split()[-1]
                return NumberRead(value=_UNIT_HOURS[unit], confidence=conf)
            return NumberRead(value=value, confidence=conf)
    return None


# ---- quality -------------------------------------------------------------------------------------------------------

_RESOLUTION = {"8k": (7680, 4320), "4k": (3840, 2160), "uhd": (3840, 2160), "2160p": (3840, 2160),
               "1440p": (2560, 1440), "1080p": (1920, 1080), "full hd": (1920, 1080),
               "fhd": (1920, 1080), "720p": (1280, 720), "480p": (854, 480)}  # fmt: skip
_HIGH = re.compile(r"\b(?:high[- ]quality|hq|best\s+quality|highest\s+quality|top\s+quality|max(?:imum)?\s+quality|"
                   r"photo-?realistic|production[- ]quality|production[- ]grade|print[- ]quality|premium\s+quality|"
                   r"hi-?res|high[- ]res(?:olution)?|ultra[- ]quality|detailed|crisp)\b")  # fmt: skip
_DRAFT = re.compile(r"\b(?:draft|drafts|preview|previews|low[- ]quality|quick\s+and\s+dirty|rough|sketch(?:es)?|"
                    r"low[- ]res(?:olution)?|lq|prototype\s+quality|thumbnail\s+quality|"
                    r"fast\s+previews?)\b")  # fmt: skip
_STANDARD = re.compile(r"\b(?:standard\s+quality|normal\s+quality|medium\s+quality|default\s+quality|decent\s+quality|"
                       r"good\s+enough|average\s+quality)\b")  # fmt: skip
_WXH = re.compile(r"\b(\d{3,5})\s*(?:x|by|\*)\s*(\d{3,5})\b(?:\s*(?:px|pixels?))?")
_STEPS = re.compile(r"\b(\d{1,4})\s*(?:denoising\s+|sampling\s+|inference\s+|diffusion\s+)?steps?\b"
                    r"|\bsteps\s*(?:=|:|of)?\s*(\d{1,4})\b")  # fmt: skip


_COUNTED_AFTER = re.compile(
    r"\s*(?:[a-z-]+\s+)?(?:tokens?|context|ctx|window|seq|sequence|prompts?|rows|images|videos|clips|requests|users|"
    r"thumbnails|pictures|photos|samples|examples|documents|renders|avatars)"
)


def _resolution_words(t: str, kind: WorkloadKind | None) -> list[tuple[int, str]]:
    """Resolution words in text order; ``4k``/``8k`` only for images and video, and not as a count ("2k
    thumbnails", "4k context") unless a number precedes them ("300 4k wallpapers")."""
    hits: list[tuple[int, str]] = []
    for word in _RESOLUTION:
        if word in ("4k", "8k") and kind not in ("image_generation", "video_processing"):
            continue
        for hit in re.finditer(rf"(?<![\w.]){word}\b", t):
            counted = _COUNTED_AFTER.match(t[hit.end() : hit.end() + 16])
            if word.endswith("k") and counted and not re.search(r"\d\s*$", t[: hit.start()]):
                continue
            hits.append((hit.start(), word))
    return sorted(hits)


def _level(t: str) -> QualityLevel | None:
    if _HIGH.search(t):
        return "high"
    if _DRAFT.search(t):
        return "draft"
    if _STANDARD.search(t):
        return "standard"
    return None


def read_quality(t: str, kind: WorkloadKind | None) -> QualityRead | None:
    """The quality words, the (input) resolution (the first one written) and the denoising steps."""
    level = _level(t)
    width = height = steps = None
    visual = kind in ("image_generation", "video_processing", None)
    wxh = _WXH.search(t)
    if wxh and visual:
        width, height = int(wxh.group(1)), int(wxh.group(2))
    else:
        words = _resolution_words(t, kind)
        if words:
            width, height = _RESOLUTION[words[0][1]]
            if level is None and any(w in ("8k", "4k", "uhd", "2160p") for _, w in words):
                level = "high"
    st = _STEPS.search(t)
    if st and visual:
        steps = int(st.group(1) or st.group(2))
    if level is None and width is None and steps is None:
        return None
    return QualityRead(value=level, width=width, height=height, steps=steps, confidence=0.85)


# ---- region --------------------------------------------------------------------------------------------------------

_GROUP_WORDS: dict[str, str] = {
    "eu": "eu", "europe": "eu", "european": "eu", "europe-only": "eu", "emea": "emea", "apac": "apac",
    "asia": "asia", "asian": "asia", "asia-pacific": "apac", "asia pacific": "apac", "north america": "na",
    "south america": "sa", "latin america": "sa", "latam": "sa", "americas": "americas", "middle east": "me",
    "africa": "africa", "oceania": "oceania", "nordics": "eu", "nordic": "eu", "scandinavia": "eu",
    "us": "us", "usa": "us", "u.s.": "us", "u.s.a.": "us", "america": "us", "american": "us", "stateside": "us",
    "united states": "us", "east coast": "us", "west coast": "us", "us-east": "us", "us-west": "us",
    "us east": "us", "us west": "us", "us central": "us", "eu-west": "eu", "eu-central": "eu", "eu west": "eu",
    "eu central": "eu", "eu north": "eu", "uk": "eu", "u.k.": "eu", "britain": "eu", "great britain": "eu",
    "uae": "me", "emirates": "me",
}  # fmt: skip
_COUNTRY_GROUP = {"US": "us"}
_GROUP_COUNTRY = {"uk": "GB", "u.k.": "GB", "britain": "GB", "great britain": "GB", "uae": "AE", "emirates": "AE"}
_CONTINENT_GROUP = {"north-america": "na", "south-america": "sa", "europe": "eu", "middle-east": "me",
                    "africa": "africa", "asia": "asia", "oceania": "oceania"}  # fmt: skip
# short words region_place reads as places but that are ordinary English (or units) in a sentence
_NOT_PLACES = frozenset({"me", "in", "it", "is", "at", "to", "on", "or", "as", "an", "be", "by", "do", "go", "gb",
                         "ice", "fin", "il", "ca", "mx", "cn", "sa", "af", "oc", "au", "no", "id", "so", "us",
                         "turkey", "phoenix", "austin", "chile", "georgia", "jersey", "maine", "washington",
                         "santiago", "portland", "indiana", "ohio", "utah"})  # fmt: skip
_CLOUD_REGION = re.compile(r"\b(?:us|eu|ap|sa|me|af|ca)-(?:east|west|north|south|central|northeast|southeast)-\d\b|"
                           r"\b(?:europe|asia|us|australia|northamerica|southamerica)-[a-z]+\d\b")  # fmt: skip
_US_STATE_CONTEXT = re.compile(r"\b(?:washington|ohio|utah|oregon|indiana)\s+"
                               r"(?:state|dc|region|data\s*cent(?:er|re))\b|"
                               r"\bin\s+(?:ohio|utah|oregon)\b")  # fmt: skip


class _Places:
    """What the region readers found, in text order, and the spans they took."""

    def __init__(self) -> None:
        self.groups: list[str] = []
        self.countries: list[str] = []
        self.written: list[str] = []
        self.taken: list[tuple[int, int]] = []

    def add(self, group: str, country: str | None, word: str) -> None:
        for items, item in ((self.groups, group), (self.countries, country), (self.written, word)):
            if item and item not in items:
                items.append(item)

    def free(self, at: int) -> bool:
        return not any(a <= at < b for a, b in self.taken)

    def place(self, country: str | None, continent: str, word: str) -> None:
        self.add(_COUNTRY_GROUP.get(country or "") or _CONTINENT_GROUP[continent], country, word)


def _cloud_regions(t: str, found: _Places) -> None:
    for m in _CLOUD_REGION.finditer(t):
        place = region_place(m.group(0))
        if place.continent:
            found.place(place.country, place.continent, m.group(0))
            found.taken.append(m.span())


def _group_phrases(t: str, found: _Places) -> None:
    for phrase, group in sorted(_GROUP_WORDS.items(), key=lambda kv: -len(kv[0])):
        for m in re.finditer(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", t):
            if not found.free(m.start()) or (phrase == "us" and not _is_us(t, m.start())):
                continue
            found.taken.append(m.span())
            found.add(group, _GROUP_COUNTRY.get(phrase) or ("US" if group == "us" else None), phrase)
    for m in _US_STATE_CONTEXT.finditer(t):
        found.add("us", "US", m.group(0).removeprefix("in ").split()[0])


def _phrase_place(words: list[str]) -> tuple[str, str] | None:
    """(country, continent) of a place word (or two or three words joined: ``new york``) the tables know."""
    phrase = "".join(words)
    if phrase in _NOT_PLACES or (len(words) > 1 and len(phrase) <= 5):
        return None
    if len(words) == 1 and len(phrase) < 4 and phrase not in ("uk", "uae"):
        return None
    place = region_place(phrase)
    if place.continent and _known_phrase(phrase) and (place.country or len(words) == 1):
        return place.country or "", place.continent
    return None


def _place_words(t: str, found: _Places) -> None:
    words = [(w.group(0), w.start()) for w in re.finditer(r"[a-z]+", t)]
    i = 0
    while i < len(words):
        if not found.free(words[i][1]):
            i += 1
            continue
        for n in (3, 2, 1):
            hit = _phrase_place([w for w, _ in words[i : i + n]]) if i + n <= len(words) else None
            if hit:
                found.place(hit[0] or None, hit[1], " ".join(w for w, _ in words[i : i + n]))
                i += n - 1
                break
        i += 1


def read_region(t: str) -> RegionRead | None:
    """Region groups (and countries) named: cloud region ids, group words ("EU", "US east", "APAC"), countries,
    cities and US states from :mod:`gpubroker.domain.regions`' vocabulary."""
    found = _Places()
    _cloud_regions(t, found)
    _group_phrases(t, found)
    _place_words(t, found)
    if not found.groups:
        return None
    return RegionRead(value=found.groups, countries=found.countries, written=found.written, confidence=0.9)


def _known_phrase(word: str) -> bool:
    """region_place reads a word into a country only through its tables; a word it merely splits is no place."""
    from gpubroker.domain import regions

    return word in regions._COUNTRY_WORDS or word in regions._CONTINENT_WORDS  # the vocabulary, reused as is


def _is_us(t: str, at: int) -> bool:
    """ "us" the country, not the pronoun: upper case in the original is lost, so look at the neighbours."""
    before = t[max(0, at - 12) : at]
    after = t[at + 2 : at + 14]
    if re.search(r"(?:in|the|within|from|only|to|on)\s+(?:the\s+)?$", before) and not re.match(
        r"\s+(?:to|with|a|an|some|know|get|run|help|find|the)\b", after
    ):
        return True
    return bool(re.match(r"\s*(?:-|\s)?(?:east|west|central|based|only|region|regions|data|servers?)\b", after))


# ---- budget --------------------------------------------------------------------------------------------------------

_CURRENCY_SIGN = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
_CURRENCY_WORD = {
    "usd": "USD", "dollars": "USD", "dollar": "USD", "bucks": "USD", "buck": "USD", "us$": "USD", "eur": "EUR",
    "euros": "EUR", "euro": "EUR", "gbp": "GBP", "pounds": "GBP", "pound": "GBP", "quid": "GBP", "chf": "CHF",
    "francs": "CHF", "cad": "CAD", "aud": "AUD", "jpy": "JPY", "yen": "JPY", "inr": "INR", "rupees": "INR",
    "cny": "CNY", "yuan": "CNY", "rmb": "CNY",
}  # fmt: skip
_AMOUNT = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*(k|m)?"
_BUDGET_SIGN = re.compile(rf"(us\$|[$€£¥₹])\s*{_AMOUNT}(?![\w.])")
_BUDGET_WORD = re.compile(
    rf"(?<![\w.]){_AMOUNT}\s*({'|'.join(sorted(_CURRENCY_WORD, key=len, reverse=True))}|[$€£])(?![a-z])"
)
_BUDGET_BARE = re.compile(rf"\bbudget\s*(?:of|is|:|=|around|about|~|up\s+to|under|below|max)?\s*(?:is\s+)?{_AMOUNT}\b")
_PERIOD = re.compile(
    r"^\s*(?:usd|\$)?\s*(?:/|per|an|a|each|every)\s*(?:gpu[- ]?)?(h|hr|hrs|hour|hours|day|days|month|months|mo|week|"
    r"gpu[- ]?hours?)\b|^\s*(hourly|daily|monthly|weekly)\b|"
    r"^\s*(?:in\s+)?(?:total|overall|all[- ]in|max(?:imum)?\s+total)\b"
)
_PERIOD_BEFORE = re.compile(
    r"(hourly|daily|monthly|per[- ]hour|total)\s+(?:budget|rate|price|cap|spend)?\s*(?:of|:|is)?\s*$"
)


def _period(after: str, before: str) -> tuple[BudgetPeriod, float]:
    m = _PERIOD.match(after)
    word = ""
    if m:
        word = (m.group(1) or m.group(2) or "total").replace("-", "").replace(" ", "")
    else:
        b = _PERIOD_BEFORE.search(before)
        if b:
            word = b.group(1).replace("-", "").replace(" ", "")
    if word.startswith(("h", "gpuh", "gpu")) or word in ("perhour", "hourly"):
        return "hour", 0.9
    if word.startswith(("day", "daily")):
        return "day", 0.9
    if word.startswith(("mo", "month")):
        return "month", 0.9
    if word.startswith("week"):
        return "total", 0.5
    if word == "total":
        return "total", 0.9
    return "total", 0.7


def read_budget(t: str) -> BudgetRead | None:
    hits: list[tuple[int, int, str, str, str | None]] = []  # start, end, amount, currency, scale
    for m in _BUDGET_SIGN.finditer(t):
        hits.append((m.start(), m.end(), m.group(2), _CURRENCY_SIGN.get(m.group(1), "USD"), m.group(3)))
    for m in _BUDGET_WORD.finditer(t):
        if any(a <= m.start() < b for a, b, *_ in hits):
            continue
        currency = _CURRENCY_SIGN.get(m.group(3)) or _CURRENCY_WORD[m.group(3)]
        hits.append((m.start(), m.end(), m.group(1), currency, m.group(2)))
    bare_conf = 0.0
    if not hits:
        b = _BUDGET_BARE.search(t)
        if b:
            hits.append((b.start(), b.end(), b.group(1), "USD", b.group(2)))
            bare_conf = 0.6
    if not hits:
        return None
    hits.sort()
    start, end, amount, currency, scale = hits[0]
    value = _bounded(float(amount.replace(",", "")) * {"k": 1e3, "m": 1e6}.get(scale or "", 1.0))
    period, conf = _period(t[end : end + 24], t[max(0, start - 30) : start])
    if value <= 0:
        return None
    return BudgetRead(
        value=round(value * USD_PER[currency], 4),
        period=period,
        amount=value,
        currency=currency,
        confidence=min(conf, bare_conf) if bare_conf else conf,
    )


# ---- compliance ----------------------------------------------------------------------------------------------------

_COMPLIANCE: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"\bgdpr\b|\bdsgvo\b"), "gdpr", "eu-data-residency"),
    (re.compile(r"\b(?:data|everything|it|weights|files|models?|inputs?|datasets?)\s+(?:must|should|has\s+to|have\s+to|"
                r"needs?\s+to|to|can(?:not|'t)\s+leave\s+the|may\s+not\s+leave\s+the|never\s+leaves?\s+the)\s*"
                r"(?:stay|remain|be\s+kept|be\s+stored|be\s+processed|live|reside)?\s*(?:in(?:side)?|within)?\s*"
                r"(?:the\s+)?(?:eu|europe|eea)\b|\b(?:eu|european)\s+data\s+(?:residency|sovereignty)\b|"
                r"\bdata\s+(?:residency|sovereignty)\b[^.]{0,30}\b(?:eu|europe|eea)\b"),
     "eu-residency", "eu-data-residency"),
    (re.compile(r"\bhipaa\b"), "hipaa", "secure-cloud"),
    (re.compile(r"\bsoc\s?-?\s?(?:2|ii)\b|\bsoc2\b"), "soc2", "secure-cloud"),
    (re.compile(r"\biso\s?-?\s?27001\b"), "iso27001", "secure-cloud"),
    (re.compile(r"\bpci(?:[- ]dss)?\b"), "pci-dss", "secure-cloud"),
    (re.compile(r"\bsecure\s+cloud\b|\btier\s?(?:3|iii|4|iv)\s+data\s*cent(?:er|re)s?\b"), "secure-cloud",
     "secure-cloud"),
    (re.compile(r"\bcommunity\s+cloud\b"), "community-cloud", "community-cloud"),
    (re.compile(r"\bdedicated\s+(?:host|hosts|server|servers|hardware|machine|machines|node|nodes)\b|\bbare[- ]metal\b|"
                r"\bsingle[- ]tenant\b"), "dedicated", "dedicated-host"),
]  # fmt: skip


def read_compliance(t: str) -> ComplianceRead | None:
    tags: list[str] = []
    standards: list[str] = []
    for pattern, standard, tag in _COMPLIANCE:
        if pattern.search(t):
            standards.append(standard)
            if tag not in tags:
                tags.append(tag)
    if not tags:
        return None
    return ComplianceRead(value=sorted(tags), standards=standards, confidence=0.9)


# ---- workload type, task, method -----------------------------------------------------------------------------------

_KIND_WORDS: dict[WorkloadKind, re.Pattern[str]] = {
    "fine_tuning": re.compile(r"\bfine[- ]?tun\w*|\bfinetun\w*|\bq?lora\b|\bsft\b|\bpeft\b|\bdpo\b|\brlhf\b|"
                              r"\binstruction[- ]tun\w*|\badapters?\b|\bcontinued\s+pre-?training\b"),
    "training": re.compile(r"\bpre-?train\w*|\btrain(?:ing|ed|s)?\b|\bfrom\s+scratch\b"),
    "image_generation": re.compile(r"\bimages?\b|\bpictures?\b|\bphotos?\b|\btext[- ]to[- ]image\b|\btxt2img\b|"
                                   r"\bimg2img\b|\brenders?\b|\bavatars?\b|\billustrations?\b|\bthumbnails?\b|"
                                   r"\bheadshots?\b|\bportraits?\b|\bartwork\b|\bdiffusion\b|\blogos\b|\bstickers\b|"
                                   r"\bwallpapers\b|\bproduct\s+shots\b|\bpics\b|\bimgs\b"),
    "video_processing": re.compile(r"\bvideos?\b|\bfootage\b|\btranscod\w*|\bclips?\b|\bframes?\b|\bfps\b|\bmovies?\b|"
                                   r"\bh\.?26[45]\b|\bhevc\b|\bav1\b|\bnvenc\b|\bffmpeg\b|\bupscal\w*|\bfilms?\b|"
                                   r"\bslow[- ]motion\b|\breels\b|\bepisodes\b"),
    "data_processing": re.compile(r"\bembed\w*|\bvectori[sz]\w*|\betl\b|\bdedup\w*|\bde-dup\w*|\bduplicates?\b|"
                                  r"\brapids\b|\bcudf\b|\bdataframes?\b|\bparquet\b|\bcsv\b|\bspark\b|\bjoins?\b|"
                                  r"\baggregat\w*|\bclean(?:ing|up)?\b|\bpreprocess\w*|\bdata\s+processing\b|"
                                  r"\bprocess\s+(?:\d[\d,.]*\s*\w+\s+of\s+)?(?:data|logs|records|rows)\b|\blogs\b|"
                                  r"\btranscrib\w*|\btranscription\b|\bspeech[- ]to[- ]text\b|\bindex(?:ing)?\b"),
    "llm_inference": re.compile(r"\bserv(?:e|ing)\b|\binference\b|\bdeploy\w*|\bhost(?:ing)?\b|\bchat\s?bot\w*|"
                                r"\bchat\b|\bapi\b|\bendpoint\b|\bcompletions?\b|\brag\b|\bassistant\b|\bagents?\b|"
                                r"\busers\b|\breq(?:uest)?s?/s\b|\btokens?/s\b|\btok/s\b|\bconcurrent\b|\bvllm\b|"
                                r"\bollama\b|\btgi\b|\bsglang\b|\bllama\.cpp\b|\bsummari[sz]\w*|\bgenerate\s+text\b|"
                                r"\bcopilot\b|\bcode\s+completion\b|\bqa\b|\bq&a\b|\bquestion\s+answering\b|"
                                r"\bcustomer\s+support\b|\brun\b"),
}  # fmt: skip
_VIDEO_TASKS: list[tuple[re.Pattern[str], Task]] = [
    (re.compile(r"\btext[- ]to[- ]video\b|\bt2v\b|\bi2v\b|\bimage[- ]to[- ]video\b|\bgenerat\w*\s+(?:\w+\s+){0,3}"
                r"(?:videos?|clips?|footage|animations?)\b|\bvideo\s+generation\b|\bvideo\s+diffusion\b|\bai\s+videos?\b"),
     "diffusion_video"),
    (re.compile(r"\bupscal\w*|\bsuper[- ]?resolution\b|\benhanc\w*|\breal-?esrgan\b|\bremaster\w*"), "upscale"),
    (re.compile(r"\binterpolat\w*|\bslow[- ]motion\b|\bslow-?mo\b|\brife\b|\bframe[- ]rate\s+conversion\b|"
                r"\b(?:boost|raise|increase|double)\w*\s+(?:the\s+)?(?:frame\s*rate|fps)\b|\b\d+\s*fps\s+to\s+\d+\s*fps\b"),
     "frame_interpolation"),
    (re.compile(r"\btranscod\w*|\bencod\w*|\bre-?encod\w*|\bconvert\w*|\bcompress\w*|\bh\.?26[45]\b|\bhevc\b|\bav1\b|"
                r"\bnvenc\b|\bffmpeg\b|\bstream(?:ing)?\b"), "transcode"),
]  # fmt: skip
_DATA_TASKS: list[tuple[re.Pattern[str], Task]] = [
    (re.compile(r"\bembed\w*|\bvectori[sz]\w*|\bvector\s+(?:search|index|store|db|database)\b|\bindex(?:ing)?\b"),
     "embedding"),
    (re.compile(r"\bdedup\w*|\bde-dup\w*|\bduplicates?\b|\bnear-duplicate\w*|\bminhash\b"), "dedupe"),
    (re.compile(r"\btranscrib\w*|\btranscription\b|\bspeech[- ]to[- ]text\b|\basr\b"), "transcription"),
    (re.compile(r"\betl\b|\bclean\w*|\btransform\w*|\bjoins?\b|\baggregat\w*|\bparquet\b|\bcsv\b|\bdataframes?\b|"
                r"\brapids\b|\bcudf\b|\bspark\b|\bpreprocess\w*|\bfilter\w*|\bprocess\w*|\bparse\b|\blogs\b"), "etl"),
]  # fmt: skip
_METHODS: list[tuple[re.Pattern[str], Method]] = [
    (re.compile(r"\bqlora\b|\bq-lora\b"), "qlora"),
    (re.compile(r"\blora\b|\bpeft\b|\badapters?\b"), "lora"),
    (re.compile(r"\bfull(?:[- ]parameter|[- ]weight)?\s+(?:fine[- ]?tun\w*|finetun\w*|training|sft)\b|"
                r"\bfull[- ]param(?:eter)?s?\b|\ball\s+(?:the\s+)?(?:weights|parameters)\b"), "full"),
]  # fmt: skip
_EPOCHS = re.compile(rf"{_NUM}\s*epochs?\b|\bepochs?\s*(?:=|:|of)?\s*(\d+)\b")


_LLM_FAMILY = re.compile(
    r"\b(?:llama|mistral|mixtral|qwen|deepseek|gemma|phi|falcon|yi|olmo|starcoder|codestral|"
    r"command[- ]r|gpt[- ]?oss|llm)\w*"
)


_TRAINED_MODEL = re.compile(r"\btrain(?:ed|ing)\s+(?:on|with)\b.*\b(?:model|weights)\b")
_TRAIN_VERB = re.compile(r"\bpre-?train\w*|\bfrom\s+scratch\b|\btrain(?:ing)?\s+(?:a|an|my|our|the|\d)")
_SPECIFIC_DATA = re.compile(r"\bembed\w*|\bdedup\w*|\betl\b|\btranscrib\w*|\bvectori[sz]\w*")
_VIDEO_NOUN = re.compile(r"\bvideos?\b|\bfootage\b")
_MAKE_IMAGES = re.compile(r"\bgenerat\w*|\bcreat\w*|\bmak\w*|\brender\w*|\bdraw\w*|\bproduc\w*|\bimages?\b|"
                          r"\bpictures?\b|\bpics\b|\bdiffusion\b")  # fmt: skip
_LLM_CONTEXT = re.compile(r"\bllm\b|\bmodel\b|\btokens?\b|\bchat\w*|\bserv\w*|\binference\b|\bendpoint\b|\bapi\b")
_MODEL_KIND: dict[str, tuple[WorkloadKind, float]] = {
    "image": ("image_generation", 0.9),
    "video": ("video_processing", 0.9),
    "embedding": ("data_processing", 0.9),
    "audio": ("data_processing", 0.7),  # transcription
}
_KindRule = Callable[[dict[WorkloadKind, bool], str | None, str], bool]
_KIND_RULES: list[tuple[WorkloadKind, float, _KindRule]] = [
    ("fine_tuning", 0.9, lambda h, mk, t: h["fine_tuning"]),
    ("training", 0.85, lambda h, mk, t: h["training"] and not (_TRAINED_MODEL.search(t) and not _TRAIN_VERB.search(t))),
    ("data_processing", 0.85, lambda h, mk, t: mk is None and h["data_processing"] and bool(_SPECIFIC_DATA.search(t))),
    ("video_processing", 0.85, lambda h, mk, t: mk is None and h["video_processing"]),
    ("video_processing", 0.85, lambda h, mk, t: mk == "llm" and h["video_processing"] and bool(_VIDEO_NOUN.search(t))),
    ("image_generation", 0.85, lambda h, mk, t: mk is None and h["image_generation"] and bool(_MAKE_IMAGES.search(t))),
    ("data_processing", 0.7, lambda h, mk, t: mk is None and h["data_processing"]),
    ("llm_inference", 0.85, lambda h, mk, t: mk == "llm" and h["llm_inference"]),
    ("llm_inference", 0.7, lambda h, mk, t: mk == "llm" or (h["llm_inference"] and bool(_LLM_CONTEXT.search(t)))),
    ("llm_inference", 0.6, lambda h, mk, t: bool(_LLM_FAMILY.search(t) or _SIZE.search(t))),
]  # fmt: skip


def read_kind(t: str, model: ModelMatch | None) -> KindRead | None:
    """The workload type: training words first (fine-tuning before training), then the named model's kind, then
    the words of each type; the first rule that holds decides."""
    hits: dict[WorkloadKind, bool] = {kind: bool(p.search(t)) for kind, p in _KIND_WORDS.items()}
    mkind = model.model.kind if model else None
    for kind, confidence, rule in _KIND_RULES[:2]:
        if rule(hits, mkind, t):
            return KindRead(value=kind, confidence=confidence)
    if mkind in _MODEL_KIND:
        kind, confidence = _MODEL_KIND[mkind]
        return KindRead(value=kind, confidence=confidence)
    for kind, confidence, rule in _KIND_RULES[2:]:
        if rule(hits, mkind, t):
            return KindRead(value=kind, confidence=confidence)
    return None


def read_task(t: str, kind: WorkloadKind | None) -> TaskRead | None:
    table = _VIDEO_TASKS if kind == "video_processing" else _DATA_TASKS if kind == "data_processing" else None
    if table is None:
        return None
    for pattern, task in table:
        if pattern.search(t):
            return TaskRead(value=task, confidence=0.85)
    return None


def _model_task(found: ModelMatch | None) -> TaskRead | None:
    """A speech model named and no task word: it transcribes."""
    return TaskRead(value="transcription", confidence=0.8) if found and found.model.kind == "audio" else None


def read_method(t: str, kind: WorkloadKind | None, precision: PrecisionRead | None) -> MethodRead | None:
    if kind not in ("fine_tuning", "training"):
        return None
    for pattern, method in _METHODS:
        if pattern.search(t):
            return MethodRead(value=method, confidence=0.9)
    if kind == "fine_tuning" and precision is not None and precision.value == "int4":
        return MethodRead(value="qlora", confidence=0.8)
    return None


def read_epochs(t: str) -> NumberRead | None:
    m = _EPOCHS.search(t)
    if not m:
        return None
    return NumberRead(value=_number(m.group(1) or m.group(2)), confidence=0.9)


# ---- the whole spec ------------------------------------------------------------------------------------------------

Reader = Callable[[str], object]


def parse_spec(text: str) -> WorkloadSpec:
    """Every field ``text`` states. Deterministic; never raises on any string."""
    t = _clean(text)
    found = read_model(text)
    model_read = None
    params = None
    if found is not None:
        m = found.model
        model_read = ModelRead(value=m.name, family=m.family, kind=m.kind, hf_id=m.hf_id, source=m.source,
                               confidence=0.95 if found.length >= 2 else 0.8)  # fmt: skip
        params = NumberRead(value=m.params_b, confidence=model_read.confidence)
    else:
        params = read_params(t)
    kind = read_kind(t, found)
    kind_value = kind.value if kind else None
    precision = read_precision(t)
    deadline = read_deadline(t)
    concurrency = read_concurrency(t) if kind_value in ("llm_inference", None) else None
    return WorkloadSpec(
        workload_type=kind,
        model=model_read,
        model_params_b=params,
        precision=precision,
        context_tokens=read_context(t) if kind_value not in ("image_generation", "video_processing") else None,
        concurrency=concurrency,
        request_rate_per_s=read_rate(t) if kind_value in ("llm_inference", None) else None,
        quantity=read_quantity(t, kind_value),
        gpu_count=read_gpu_count(t),
        gpu=read_gpu(t),
        duration_hours=read_duration(t, deadline),
        deadline_hours=deadline,
        quality=read_quality(t, kind_value),
        region=read_region(t),
        budget_usd=read_budget(t),
        compliance=read_compliance(t),
        task=read_task(t, kind_value) or _model_task(found),
        method=read_method(t, kind_value, precision),
        epochs=read_epochs(t) if kind_value in ("training", "fine_tuning") else None,
    )


def model_tokens(text: str) -> tuple[str, ...]:
    """The model-name tokens of ``text`` (exposed for tests)."""
    return name_tokens(text)
