"""A vastai-like query expression over ``GET /offers``' filters: ``"gpu=H100 count>=2 price_per_gpu_hour<3 region=eu"``.

Each term is ``field OP value`` with OP one of ``= == != < <= > >=`` (no spaces inside a term); list fields take
``=`` with comma-separated values (``provider=runpod,vast``). The API's bounds are inclusive: ``<`` and ``>`` on a
whole number (GPU count) move by one, on a decimal they mean ``<=`` and ``>=``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from gpubroker_client.calls import OfferQuery


class QueryError(ValueError):
    """A term the expression language does not accept (the CLI exits 2 with its message)."""


@dataclass(frozen=True)
class Field:
    kind: str  # "list" | "int" | "float" | "bool" | "text"
    name: str  # the API's name (list/bool/text) or the stem of min_/max_ (int/float)


_GROUPS: tuple[tuple[tuple[str, ...], Field], ...] = (
    (("gpu", "gpu_name", "gpu_model", "model"), Field("list", "gpu")),
    (("provider", "cloud"), Field("list", "provider")),
    (("region", "geo", "geolocation"), Field("list", "region")),
    (("compliance",), Field("list", "compliance")),
    (("vendor", "gpu_vendor"), Field("list", "gpu_vendor")),
    (("count", "num_gpus", "gpu_count", "gpus"), Field("int", "gpu_count")),
    (("gpu_memory", "gpu_memory_gb", "gpu_ram", "vram"), Field("float", "gpu_memory_gb")),
    (("total_gpu_memory", "total_gpu_memory_gb", "total_vram"), Field("float", "total_gpu_memory_gb")),
    (("vcpus", "cpu_cores", "cpus"), Field("float", "vcpus")),
    (("ram", "ram_gb", "cpu_ram"), Field("float", "ram_gb")),
    (("price", "price_per_hour", "dph"), Field("float", "price_per_hour")),
    (("price_per_gpu_hour", "gpu_price", "dph_per_gpu"), Field("float", "price_per_gpu_hour")),
    (("spot_price", "spot_price_per_hour"), Field("float", "spot_price_per_hour")),
    (("spot",), Field("bool", "spot")),
    (("available", "rentable"), Field("bool", "available")),
    (("q", "text", "search"), Field("text", "q")),
)
FIELDS: dict[str, Field] = {alias: field for aliases, field in _GROUPS for alias in aliases}
NAMES = ", ".join(aliases[0] for aliases, _ in _GROUPS)

TERM = re.compile(r"^(?P<field>[A-Za-z_]+)\s*(?P<op>==|!=|<=|>=|=|<|>)\s*(?P<value>.+)$")
TRUE, FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}


def parse(expression: str | list[str]) -> OfferQuery:
    """The filters an expression asks for (several strings are one expression)."""
    text = " ".join(expression) if isinstance(expression, list) else expression
    out: dict[str, Any] = {}
    for term in re.findall(r"\S+", text):
        _apply(term, out)
    return cast(OfferQuery, out)


def _apply(term: str, out: dict[str, Any]) -> None:
    match = TERM.match(term)
    if not match:
        raise QueryError(f"cannot read {term!r}: write field=value, field<value, field>=value ...")
    name, op, raw = match["field"].lower(), match["op"], match["value"]
    spec = FIELDS.get(name)
    if spec is None:
        raise QueryError(f"unknown field {name!r} in {term!r}; fields: {NAMES}")
    if op == "!=":
        raise QueryError(f"{term!r}: '!=' is not supported (the API filters by inclusion and bounds)")
    if spec.kind in {"list", "text", "bool"} and op not in {"=", "=="}:
        raise QueryError(f"{term!r}: {name} takes '=' only")
    if spec.kind == "list":
        out.setdefault(spec.name, []).extend(v for v in raw.split(",") if v)
    elif spec.kind == "text":
        out[spec.name] = raw.replace("_", " ")
    elif spec.kind == "bool":
        if raw.lower() not in TRUE | FALSE:
            raise QueryError(f"{term!r}: {name} is true or false")
        out[spec.name] = raw.lower() in TRUE
    else:
        _bound(spec, op, raw, term, out)


def _bound(spec: Field, op: str, raw: str, term: str, out: dict[str, Any]) -> None:
    try:
        value: float = int(raw) if spec.kind == "int" else float(raw)
    except ValueError:
        kind = "a whole number" if spec.kind == "int" else "a number"
        raise QueryError(f"{term!r}: {raw!r} is not {kind}") from None
    step = 1 if spec.kind == "int" else 0
    if op in {"=", "=="}:
        out[f"min_{spec.name}"] = out[f"max_{spec.name}"] = value
    elif op in {">=", ">"}:
        out[f"min_{spec.name}"] = value + (step if op == ">" else 0)
    else:
        out[f"max_{spec.name}"] = value - (step if op == "<" else 0)
