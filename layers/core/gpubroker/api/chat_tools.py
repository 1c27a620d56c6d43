"""The assistant's tools: each one calls an existing service for the calling user only.

A tool takes plain arguments (what a dialogue engine, rules or a language model, produces) and validates them with
the HTTP API's own model before the service sees them (``OfferSearchQuery`` of ``GET /offers``,
``WorkloadRequest`` of ``POST /math/map-workload-to-gpu``, ``EnsembleRequest``, ``CreateBookingBody`` of ``POST
/bookings``): an argument the API would refuse raises ``ValidationFailed`` here too. The caller's user id is bound
when the tools are built, from the request's verified identity; no tool takes a user id, so nothing in a message, an
offer or an earlier turn can make a tool act for someone else. ``draft_booking`` returns a prefilled body and a
link: it never places a booking (no tool can), the user posts it to ``/bookings`` themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, TypeAdapter, ValidationError

from gpubroker.api import chat_tool_calls
from gpubroker.api.booking_models import CreateBookingBody
from gpubroker.api.offer_query import OfferSearchQuery
from gpubroker.domain.chat import BookingDraft, Card, ChatContext
from gpubroker.domain.errors import OfferNotFound, ValidationFailed
from gpubroker.domain.gpus import bundled_catalog
from gpubroker.domain.llm import ToolSpec
from gpubroker.domain.math_requests import EnsembleRequest, PresetName
from gpubroker.domain.math_results import PresetResult, Recommendation
from gpubroker.domain.price_history import HistoryPage
from gpubroker.domain.providers import provider_names
from gpubroker.domain.search import OfferFilters, OfferPage
from gpubroker.domain.types import OfferId, r4
from gpubroker.domain.workload_spec import ParseAnswer, ParseRequest
from gpubroker.domain.workloads import WorkloadMapping, WorkloadRequest
from gpubroker.ports import OfferRepository, PriceHistoryReader
from gpubroker.services.assistant import parse_workload as parse_text
from gpubroker.services.assistant.cards import CHAT_CRITERIA, Ranked, booking_link, one_line
from gpubroker.services.assistant.dialogue import ToolOutcome
from gpubroker.services.history import offer_history
from gpubroker.services.offer_filters import resolve_gpu_filter
from gpubroker.services.offer_math import OfferMath, offer_summary, prices_by_gpu
from gpubroker.services.presets import run_preset
from gpubroker.services.recommend import ensemble_recommend
from gpubroker.services.search import SnapshotCache, filter_mask, normalise_query, search_offers
from gpubroker.services.workloads import map_workload_to_gpu
from gpumath.ensemble import criterion_strengths
from gpumath.topsis import topsis

M = TypeVar("M", bound=BaseModel)
_WORKLOAD: TypeAdapter[WorkloadRequest] = TypeAdapter(WorkloadRequest)
_PRESETS: TypeAdapter[PresetName] = TypeAdapter(PresetName)
_OFFER_IDS: TypeAdapter[list[str]] = TypeAdapter(list[OfferId])


def _offer_ids(ids: Sequence[str]) -> list[str]:
    """Offer ids as the ``{offer_id}`` path parameters take them (``domain.types.OfferId``)."""
    try:
        return _OFFER_IDS.validate_python(list(ids))
    except ValidationError:
        raise ValidationFailed("not an offer id", details={"field": "offer_id"}) from None


def _validated(model: type[M], args: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(dict(args))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or model.__name__
        raise ValidationFailed(f"{where}: {first['msg']}", details={"field": where}) from None


@dataclass(frozen=True)
class ChatTools:
    """The tools, bound to one caller (``user_id``: None for an anonymous caller)."""

    snapshots: SnapshotCache
    offer_math: Callable[[], OfferMath]
    offers: OfferRepository
    history: PriceHistoryReader
    user_id: str | None = None

    # ---- search and workloads ----------------------------------------------------------------------------------

    def search_offers(self, filters: Mapping[str, Any], *, limit: int = 50) -> OfferPage:
        """``GET /offers`` with these filters (its query model validates them)."""
        query = _validated(OfferSearchQuery, {**filters, "limit": limit})
        return search_offers(query, snapshots=self.snapshots)

    def parse_workload(self, text: str) -> ParseAnswer:
        _validated(ParseRequest, {"text": text})
        return parse_text(text)

    def map_workload(
        self,
        workload: Mapping[str, Any] | WorkloadRequest,
        *,
        top: int = 5,
        filters: Mapping[str, Any] | None = None,
    ) -> WorkloadMapping:
        """``POST /math/map-workload-to-gpu`` priced from the live offers; with ``filters`` (``GET /offers``
        filters: provider, region, budget, ...) from the offers they allow only, so a GPU that market does not
        offer is a ``no_offers`` plan and the feasible plans are what it can actually rent."""
        try:
            request = _WORKLOAD.validate_python(workload if isinstance(workload, BaseModel) else dict(workload))
        except ValidationError as exc:
            raise ValidationFailed(f"workload: {exc.errors()[0]['msg']}") from None
        om = self.offer_math()
        among = None
        if filters:
            query = _validated(OfferSearchQuery, {**filters, "limit": 1})
            among = filter_mask(om.cols, normalise_query(query, known_providers=provider_names(om.cols.meta)))
        prices = prices_by_gpu(om, among=among)
        return map_workload_to_gpu(request, specs=bundled_catalog().gpus, prices=prices, top=top)

    # ---- rankings ----------------------------------------------------------------------------------------------

    def recommend(
        self, filters: Mapping[str, Any] | None = None, *, preset: str | None = None, limit: int = 5
    ) -> Recommendation | PresetResult:
        """The ensemble recommender for the caller (never another user: ``user_id`` is the bound caller's), or one
        public preset's ranking when ``preset`` names one."""
        if preset is not None:
            try:
                name = _PRESETS.validate_python(preset)
            except ValidationError:
                raise ValidationFailed(f"unknown preset {preset!r}") from None
            return run_preset(name, offer_math=self.offer_math(), limit=limit, user_id=None, model=None, history=None)
        f = dict(filters or {})
        if f.get("gpu"):  # the ensemble takes canonical ids: a family spelling (H100) as GET /offers reads it
            f["gpu"] = resolve_gpu_filter(tuple(f["gpu"]))
        body = {"filters": f, "limit": limit, "user_id": self.user_id}
        request = _validated(EnsembleRequest, body)
        return ensemble_recommend(request, offer_math=self.offer_math(), cf=None, history=None)

    def rank(self, offer_ids: Sequence[str]) -> Ranked:
        """TOPSIS over the given offers (those in the live snapshot), best first, with per-criterion contributions."""
        return rank_offers(self.offer_math(), offer_ids)

    def compare_offers(self, offer_ids: Sequence[str], *, among: Sequence[str] = ()) -> list[dict[str, Any]]:
        """2-4 offers side by side: their summaries, TOPSIS score and contributions, scored among ``among`` too
        (the search they came from: two offers alone always score 1 and 0)."""
        ids = _offer_ids(list(dict.fromkeys(offer_ids)))
        if not 2 <= len(ids) <= 4:
            raise ValidationFailed("compare 2 to 4 offers", details={"field": "offer_ids"})
        om = self.offer_math()
        for oid in ids:
            if om.index_of(oid) is None:
                raise OfferNotFound(f"no offer {oid!r}")
        pool = self.rank([*ids, *among])
        keep = [k for k, oid in enumerate(pool.offer_ids) if oid in ids]
        ranked = Ranked([pool.offer_ids[k] for k in keep], [pool.scores[k] for k in keep],
                        [pool.contributions[k] for k in keep])  # fmt: skip
        rows = []
        for rank, (oid, score, contrib) in enumerate(
            zip(ranked.offer_ids, ranked.scores, ranked.contributions, strict=True), start=1
        ):
            i = om.index_of(oid)
            assert i is not None
            rows.append({"rank": rank, "score": score, "contributions": contrib,
                         **offer_summary(om, i).model_dump()})  # fmt: skip
        return rows

    def explain_ranking(self, offer_ids: Sequence[str]) -> Ranked:
        """Each TOPSIS criterion's contribution to each offer's place among ``offer_ids``."""
        return self.rank(offer_ids)

    def analyze_current_search(self, filters: OfferFilters, visible_offer_ids: Sequence[str]) -> dict[str, Any]:
        """The client's current search: how many offers match its filters, their price range, and the visible offers
        ranked (ids not in the live snapshot are reported, not ranked)."""
        page = self.search_offers(filters.model_dump(exclude_defaults=True), limit=100)
        prices = [o.price_per_gpu_hour for o in page.items]
        om = self.offer_math()
        gone = [oid for oid in visible_offer_ids if om.index_of(oid) is None]
        visible = [oid for oid in visible_offer_ids if oid not in gone]
        return {
            "count": page.count,
            "cheapest": page.items[0] if page.items else None,
            "price_range": (min(prices), max(prices)) if prices else None,
            "ranked": self.rank(visible or [o.offer_id for o in page.items[:20]]),
            "gone": gone,
        }

    # ---- one offer ---------------------------------------------------------------------------------------------

    def price_history(self, offer_id: str, *, limit: int = 100) -> HistoryPage:
        [offer_id] = _offer_ids([offer_id])
        return offer_history(offer_id, offers=self.offers, history=self.history, limit=limit)

    def draft_booking(self, offer_id: str, hours: int, *, gpu_count: int | None = None) -> BookingDraft:
        """A prefilled ``POST /bookings`` body (validated by its model) and a link. Never placed."""
        body = _validated(CreateBookingBody, {"offer_id": offer_id, "hours": hours, "gpu_count": gpu_count})
        _offer_ids([body.offer_id])
        om = self.offer_math()
        i = om.index_of(body.offer_id)
        if i is None:
            raise OfferNotFound(f"no offer {offer_id!r}")
        summary = offer_summary(om, i)
        per_hour = summary.price_per_hour
        if body.gpu_count is not None and summary.gpu_count:
            per_hour = summary.price_per_gpu_hour * body.gpu_count
        return BookingDraft(
            offer_id=body.offer_id,
            hours=body.hours,
            gpu_count=body.gpu_count,
            estimated_total_usd=round(per_hour * body.hours, 2),
            link=booking_link(body.offer_id, body.hours),
        )

    # ---- by name, for a language model (gpubroker.api.chat_tool_calls) ----------------------------------------

    def tool_specs(self) -> Sequence[ToolSpec]:
        return chat_tool_calls.tool_specs()

    def call_tool(self, name: str, arguments: Mapping[str, Any], *, context: ChatContext | None) -> ToolOutcome:
        return chat_tool_calls.call_tool(self, name, arguments, context)

    # ---- cards -------------------------------------------------------------------------------------------------

    def cards(self, ranked: Ranked, *, limit: int = 5, why: str = "") -> list[Card]:
        om = self.offer_math()
        out: list[Card] = []
        for rank, (oid, score, contrib) in enumerate(
            zip(ranked.offer_ids, ranked.scores, ranked.contributions, strict=True), start=1
        ):
            if rank > limit:
                break
            i = om.index_of(oid)
            if i is None:
                continue
            s = offer_summary(om, i)
            out.append(
                Card(
                    rank=rank,
                    offer_id=s.offer_id,
                    provider=s.provider,
                    gpu=s.gpu_model,
                    count=s.gpu_count,
                    price_per_hour=round(s.price_per_hour, 4),
                    region=s.region,
                    score=score,
                    explanation=one_line(s.price_per_gpu_hour, contrib, why),
                    booking_link=booking_link(s.offer_id),
                )
            )
        return out


def rank_offers(om: OfferMath, offer_ids: Sequence[str]) -> Ranked:
    """The chat's own ranking of a handful of offers (those in the live snapshot): TOPSIS over
    :data:`CHAT_CRITERIA`, best first, with each criterion's contribution per offer (``criterion_strengths``: weight
    x position toward the best candidate)."""
    pairs = [(oid, om.index_of(oid)) for oid in dict.fromkeys(offer_ids)]
    known = [(oid, i) for oid, i in pairs if i is not None]
    if not known:
        return Ranked([], [], [])
    idx = np.array([i for _, i in known], dtype=np.int64)
    names = list(CHAT_CRITERIA)
    weights = np.array([CHAT_CRITERIA[n] for n in names], dtype=np.float64)
    x, benefit = om.criteria_matrix(names, idx)
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    scores = topsis(x, weights, benefit) if idx.size > 1 else np.ones(1)
    scores = np.nan_to_num(scores, nan=0.5)
    strengths = criterion_strengths(x, weights, benefit)
    order = np.argsort(-scores, kind="stable")
    return Ranked(
        offer_ids=[known[int(j)][0] for j in order],
        scores=[r4(float(scores[j])) for j in order],
        contributions=[{n: r4(float(strengths[k, j])) for k, n in enumerate(names)} for j in order],
    )
