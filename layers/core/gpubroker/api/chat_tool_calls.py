"""The assistant's tools as a language model calls them: by name, with JSON arguments.

Each tool's argument schema is derived from the HTTP API's own pydantic models (``SearchFilters``, the ``GET
/offers`` filters as a JSON body takes them; ``ParseRequest``; ``WorkloadRequest`` of ``POST
/math/map-workload-to-gpu``; the ensemble's ``OfferFilters`` and the preset names; ``OfferId``; ``CreateBookingBody``
of ``POST /bookings``), composed into one small model per tool: there is no second schema to drift. The same models
validate the model's arguments before the bound :class:`~gpubroker.api.chat_tools.ChatTools` method runs (which
validates again with the route's model). Arguments that do not validate, or a tool that does not exist, are an
outcome with ``invalid`` set and an error message for the model, never an exception; no tool takes a user id
(``extra="forbid"``: a ``user_id`` argument is refused), and ``draft_booking`` only drafts.

What goes back to the model is compact JSON (the offers a tool found as the cards the cards code built from them,
ranked and scored; the plans of an estimate without their details); the engine cuts it to size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gpubroker.api.booking_models import CreateBookingBody
from gpubroker.domain.chat import Card, ChatContext, SearchFilters
from gpubroker.domain.errors import DomainError, ValidationFailed
from gpubroker.domain.llm import ToolSpec, inline_refs
from gpubroker.domain.math_requests import PresetName
from gpubroker.domain.search import OfferFilters
from gpubroker.domain.types import OfferId
from gpubroker.domain.workload_spec import ParseRequest
from gpubroker.domain.workloads import WorkloadRequest
from gpubroker.services.assistant.cards import Ranked
from gpubroker.services.assistant.dialogue import ToolOutcome, Tools

CARDS_SHOWN = 5


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SearchArgs(_Args):
    filters: SearchFilters = Field(default_factory=SearchFilters, description="the GET /offers filters")


class MapWorkloadArgs(_Args):
    workload: WorkloadRequest = Field(description="the POST /math/map-workload-to-gpu request")
    top: int = Field(default=5, ge=1, le=10, description="how many feasible GPU plans")
    filters: SearchFilters | None = Field(
        default=None,
        description="the user's constraints on the offers (GET /offers filters: provider, region, "
        "max_price_per_hour, compliance): plans only for GPUs those offers have, priced from them",
    )


class RecommendArgs(_Args):
    filters: OfferFilters | None = Field(default=None, description="the ensemble's filters (POST /math/ensemble)")
    preset: PresetName | None = Field(default=None, description="a public preset's ranking instead of the ensemble")


class OffersArgs(_Args):
    offer_ids: list[OfferId] = Field(min_length=2, max_length=4, description="2 to 4 offer ids")


class RankArgs(_Args):
    offer_ids: list[OfferId] = Field(min_length=1, max_length=20, description="the offers whose ranking to explain")


class NoArgs(_Args):
    pass


class OfferArgs(_Args):
    offer_id: OfferId


_TOOLS: dict[str, tuple[type[BaseModel], str]] = {
    "search_offers": (SearchArgs, "Search the live GPU offers (GET /offers filters); returns the best offers "
                      "ranked by price, speed, memory and reliability, as the cards the user sees."),
    "parse_workload": (ParseRequest, "Read a workload described in plain words into a workload spec; also returns "
                       "the map_workload request built from it and what is still missing."),
    "map_workload": (MapWorkloadArgs, "Which GPUs can run a workload, how many, how long and at what cost "
                     "(POST /math/map-workload-to-gpu)."),
    "recommend": (RecommendArgs, "Recommend offers for this user (the ensemble of TOPSIS, popularity and "
                  "similarity), or one public preset's ranking."),
    "compare_offers": (OffersArgs, "Compare 2 to 4 offers side by side (price, memory, region, TOPSIS score)."),
    "explain_ranking": (RankArgs, "Each TOPSIS criterion's contribution to each offer's place."),
    "analyze_current_search": (NoArgs, "Analyse the search the user has on screen (their filters and visible "
                               "offers, sent by their page): matches, price range, the best visible offers."),
    "price_history": (OfferArgs, "One offer's recorded prices: now, lowest, highest, first."),
    "draft_booking": (CreateBookingBody, "Prepare a booking draft (POST /bookings body and a link). It never books: "
                      "the user reviews and confirms it themselves."),
}  # fmt: skip


@cache
def tool_specs() -> tuple[ToolSpec, ...]:
    """Every tool, its schema the argument model's (``$ref``-free, ``title`` keys dropped)."""
    return tuple(ToolSpec(name=name, description=words, schema=_schema(model))
                 for name, (model, words) in _TOOLS.items())  # fmt: skip


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if not (k == "title" and isinstance(v, str))}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    out: dict[str, Any] = strip(inline_refs(model.model_json_schema()))
    out.setdefault("properties", {})
    return out


def call_tool(tools: Tools, name: str, arguments: Mapping[str, Any], context: ChatContext | None) -> ToolOutcome:
    """Run one model tool call (see the module docstring); exceptions other than domain errors propagate."""
    entry = _TOOLS.get(name)
    if entry is None:
        return _refused(f"no tool named {name[:60]!r}; the tools are {', '.join(_TOOLS)}", invalid=True)
    try:
        args = entry[0].model_validate(dict(arguments))
        return _RUN[name](tools, args, context)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or name
        return _refused(f"invalid arguments: {where}: {first['msg']}", invalid=True)
    except ValidationFailed as exc:
        return _refused(f"invalid arguments: {exc}", invalid=True)
    except DomainError as exc:  # an offer that is gone, a search with nothing to analyse, ...
        return _refused(str(exc))


def _refused(message: str, *, invalid: bool = False) -> ToolOutcome:
    return ToolOutcome(content={"error": message[:500]}, ok=False, invalid=invalid)


def _card_rows(cards: list[Card]) -> list[dict[str, Any]]:
    return [c.model_dump(exclude={"booking_link"}) for c in cards]


def _ranked_outcome(tools: Tools, ranked: Ranked, extra: dict[str, Any], why: str = "") -> ToolOutcome:
    cards = tools.cards(ranked, limit=CARDS_SHOWN, why=why)
    return ToolOutcome(content={**extra, "offers": _card_rows(cards)}, cards=cards)


def _search(tools: Tools, args: SearchArgs, _: ChatContext | None) -> ToolOutcome:
    page = tools.search_offers(args.filters.model_dump(exclude_defaults=True), limit=50)
    return _ranked_outcome(tools, tools.rank([o.offer_id for o in page.items]), {"count": page.count})


def _parse(tools: Tools, args: ParseRequest, _: ChatContext | None) -> ToolOutcome:
    answer = tools.parse_workload(args.text)
    return ToolOutcome(
        content=answer.model_dump(mode="json", exclude_none=True, include={"spec", "workload", "missing", "question"})
    )


def _map(tools: Tools, args: MapWorkloadArgs, _: ChatContext | None) -> ToolOutcome:
    market = args.filters.model_dump(exclude_defaults=True) if args.filters else None
    mapping = tools.map_workload(args.workload, top=args.top, filters=market or None)
    keep = {"gpu_model", "gpus_needed", "est_hours", "est_cost_usd", "price_per_gpu_hour", "memory_required_gb",
            "bottleneck", "offer_id"}  # fmt: skip
    plans = [p.model_dump(mode="json", include=keep) for p in mapping.plans]
    if market:  # the GPUs the constrained market rents and why they cannot run it (not the whole catalog's)
        rented = [p for p in mapping.infeasible if p.offer_id is not None]
        infeasible = [f"{p.gpu_model}: {p.reason}" for p in rented[:5]]
        if not plans and not rented:
            infeasible = ["no live offer matches the filters"]
    else:
        infeasible = [f"{p.gpu_model}: {p.reason}" for p in mapping.infeasible[:5]]
    return ToolOutcome(content={"plans": plans, "infeasible": infeasible, "priced": mapping.priced})


def _recommend(tools: Tools, args: RecommendArgs, _: ChatContext | None) -> ToolOutcome:
    filters = args.filters.model_dump(exclude_defaults=True) if args.filters else None
    result = tools.recommend(filters, preset=args.preset, limit=CARDS_SHOWN)
    items = result.items[:CARDS_SHOWN]
    contrib = tools.rank([o.offer_id for o in items])
    by_id = dict(zip(contrib.offer_ids, contrib.contributions, strict=True))
    ranked = Ranked([o.offer_id for o in items], [o.score for o in items], [by_id.get(o.offer_id, {}) for o in items])
    why = f"the {args.preset} preset" if args.preset else "ensemble of TOPSIS, popularity and similarity"
    return _ranked_outcome(tools, ranked, {"count": len(items)}, why)


def _compare(tools: Tools, args: OffersArgs, _: ChatContext | None) -> ToolOutcome:
    rows = tools.compare_offers(args.offer_ids)
    ranked = Ranked([r["offer_id"] for r in rows], [r["score"] for r in rows], [r["contributions"] for r in rows])
    keep = ("rank", "offer_id", "provider", "gpu_model", "gpu_count", "gpu_memory_gb", "region", "price_per_hour",
            "price_per_gpu_hour", "score", "contributions")  # fmt: skip
    cards = tools.cards(ranked, limit=4)
    return ToolOutcome(content={"rows": [{k: r[k] for k in keep if k in r} for r in rows]}, cards=cards)


def _explain(tools: Tools, args: RankArgs, _: ChatContext | None) -> ToolOutcome:
    ranked = tools.explain_ranking(args.offer_ids)
    rows = [{"rank": k + 1, "offer_id": oid, "score": ranked.scores[k], "contributions": ranked.contributions[k]}
            for k, oid in enumerate(ranked.offer_ids)]  # fmt: skip
    return ToolOutcome(content={"criteria": "TOPSIS share per criterion (weight x closeness to the best)",
                                "ranking": rows}, cards=tools.cards(ranked, limit=CARDS_SHOWN))  # fmt: skip


def _analyze(tools: Tools, _: NoArgs, context: ChatContext | None) -> ToolOutcome:
    if context is None:
        raise ValidationFailed("the page sent no current search with this message")
    result = tools.analyze_current_search(context.filters, context.visible_offer_ids)
    extra = {"count": result["count"], "price_range_per_gpu_hour": result["price_range"],
             "no_longer_live": len(result["gone"])}  # fmt: skip
    return _ranked_outcome(tools, result["ranked"], extra)


def _history(tools: Tools, args: OfferArgs, _: ChatContext | None) -> ToolOutcome:
    page = tools.price_history(args.offer_id, limit=500)
    prices = [p.price_per_hour for p in page.points if p.price_per_hour is not None]
    summary: dict[str, Any] = {"offer_id": args.offer_id, "points": len(prices)}
    if prices:
        summary |= {"now": prices[-1], "lowest": min(prices), "highest": max(prices), "first": prices[0]}
    return ToolOutcome(content=summary)


def _draft(tools: Tools, args: CreateBookingBody, _: ChatContext | None) -> ToolOutcome:
    draft = tools.draft_booking(args.offer_id, args.hours, gpu_count=args.gpu_count)
    content = {**draft.model_dump(mode="json"), "note": "a draft only: nothing is booked until the user confirms it"}
    return ToolOutcome(content=content, draft=draft)


_RUN: dict[str, Callable[[Tools, Any, ChatContext | None], ToolOutcome]] = {
    "search_offers": _search,
    "parse_workload": _parse,
    "map_workload": _map,
    "recommend": _recommend,
    "compare_offers": _compare,
    "explain_ranking": _explain,
    "analyze_current_search": _analyze,
    "price_history": _history,
    "draft_booking": _draft,
}
