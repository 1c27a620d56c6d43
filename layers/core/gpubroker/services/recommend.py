"""The /math rankings: TOPSIS (matrix and live offers), content similarity, collaborative scores and the ensemble
recommender with its cold-start path (the KPIs are in ``services.kpis``). Vectorised over offers through gpumath;
no Python loop over offers except to render the few returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from gpubroker.domain.errors import OfferNotFound, ValidationFailed
from gpubroker.domain.math_requests import (
    CollaborativeRequest,
    EnsembleRequest,
    OfferFilters,
    PairwiseSimilarity,
    SimilarityRequest,
    TopsisMatrix,
    TopsisRequest,
    WeightedCriterion,
)
from gpubroker.domain.math_results import (
    CollaborativeScores,
    EnsembleOffer,
    Recommendation,
    ScoredOffer,
    SimilarityMatrix,
    SimilarityResult,
    SimilarOffer,
    SimilarOffers,
    TopsisOffer,
    TopsisRanking,
    TopsisResult,
    TopsisScores,
)
from gpubroker.domain.types import r4
from gpubroker.services.collab import CfModel
from gpubroker.services.kpis import gpu_spec
from gpubroker.services.offer_math import CRITERIA, OfferMath, candidate_mask, offer_summary, ranked
from gpumath.arrays import F64, I64
from gpumath.ensemble import criterion_strengths, ensemble, popularity
from gpumath.similarity import cosine_matrix, cosine_to, top_k
from gpumath.topsis import topsis

# ---- TOPSIS --------------------------------------------------------------------------------------------------


def _checked_criteria(criteria: Sequence[WeightedCriterion]) -> tuple[list[str], F64]:
    names = [c.name for c in criteria]
    if len(set(names)) != len(names):
        raise ValidationFailed("each criterion may appear once")
    unknown = [n for n in names if n not in CRITERIA]
    if unknown:
        raise ValidationFailed(f"unknown criterion {unknown[0]!r}", details={"known": sorted(CRITERIA)})
    return names, np.array([c.weight for c in criteria], dtype=np.float64)


def _candidates(offer_math: OfferMath, f: OfferFilters) -> I64:
    gpus = [gpu_spec(g).model for g in f.gpu]
    mask = candidate_mask(
        offer_math,
        gpu=gpus,
        provider=f.provider,
        region=f.region,
        max_price_per_gpu_hour=f.max_price_per_gpu_hour,
        min_gpu_memory_gb=f.min_gpu_memory_gb,
    )
    return np.flatnonzero(mask).astype(np.int64)


def _top_criteria(strengths: F64, names: Sequence[str], j: int, n: int = 3) -> list[str]:
    col = strengths[:, j]
    order = np.argsort(-col, kind="stable")
    return [names[k] for k in order[:n] if col[k] > 0]


def topsis_rank(req: TopsisRequest, *, offer_math: OfferMath | None) -> TopsisResult:
    if isinstance(req, TopsisMatrix):
        x = np.asarray(req.matrix, dtype=np.float64).T.copy()  # alternatives x criteria -> criteria-major
        benefit = np.array([t == "benefit" for t in req.types], dtype=np.bool_)
        try:
            scores = topsis(x, np.asarray(req.weights, dtype=np.float64), benefit)
        except ValueError as exc:
            raise ValidationFailed(str(exc)) from None
        order = np.argsort(-scores, kind="stable")
        return TopsisScores(scores=[r4(s) for s in scores], ranking=[int(i) for i in order])
    if offer_math is None:
        raise ValidationFailed("no offer snapshot available")
    names, weights = _checked_criteria(req.criteria)
    idx = _candidates(offer_math, req.filters)
    if idx.size == 0:
        return TopsisRanking(criteria=names, count=0, items=[])
    x, benefit = offer_math.criteria_matrix(names, idx)
    scores = topsis(x, weights, benefit)
    order = ranked(scores, idx, offer_math)[: req.limit]
    strengths = criterion_strengths(x, weights, benefit)
    items = [
        TopsisOffer(
            **offer_summary(offer_math, int(idx[j])).model_dump(),
            score=r4(scores[j]),
            top_criteria=_top_criteria(strengths, names, int(j)),
        )
        for j in order
    ]
    return TopsisRanking(criteria=names, count=int(idx.size), items=items)


# ---- content similarity --------------------------------------------------------------------------------------


def _indices(offer_math: OfferMath, offer_ids: Sequence[str]) -> I64:
    out = []
    for oid in offer_ids:
        i = offer_math.index_of(oid)
        if i is None:
            raise OfferNotFound(f"no offer {oid!r}")
        out.append(i)
    return np.array(out, dtype=np.int64)


def similarity(req: SimilarityRequest, *, offer_math: OfferMath) -> SimilarityResult:
    if isinstance(req, PairwiseSimilarity):
        idx = _indices(offer_math, req.offer_ids)
        m = cosine_matrix(offer_math.features, idx)
        return SimilarityMatrix(offer_ids=list(req.offer_ids), matrix=[[r4(v) for v in row] for row in m])
    return similar_offers(req.offer_id, req.top, offer_math=offer_math)


def similar_offers(offer_id: str, limit: int, *, offer_math: OfferMath) -> SimilarOffers:
    i = offer_math.index_of(offer_id)
    if i is None:
        raise OfferNotFound(f"no offer {offer_id!r}")
    sims = cosine_to(offer_math.features, i)
    best = top_k(sims, limit, exclude=np.array([i], dtype=np.int64), mask=offer_math.cols.bools["available"])
    items = [SimilarOffer(**offer_summary(offer_math, int(j)).model_dump(), similarity=r4(sims[j])) for j in best]
    return SimilarOffers(offer_id=offer_id, items=items)


# ---- collaborative + ensemble --------------------------------------------------------------------------------


def collaborative(
    req: CollaborativeRequest, *, user_id: str, offer_math: OfferMath, cf: CfModel | None
) -> CollaborativeScores:
    """``user_id``: whom the request is for (the handler resolves ``req.user_id`` against the caller)."""
    idx = np.flatnonzero(offer_math.cols.bools["available"]).astype(np.int64)
    if req.offer_ids:
        idx = _indices(offer_math, req.offer_ids)
    ids = offer_math.cols.offer_id[idx]
    scores = cf.scores_for(user_id, ids) if cf is not None else None
    known = scores is not None
    if scores is None:
        scores = popularity(cf.popularity_for(ids)) if cf is not None else np.full(idx.shape[0], 0.5)
    order = ranked(scores, idx, offer_math)[: req.top]
    return CollaborativeScores(
        user_id=user_id,
        known_user=known,
        path="collaborative" if known else "cold_start_popularity",
        model=cf.meta if cf is not None else None,
        items=[ScoredOffer(**offer_summary(offer_math, int(idx[j])).model_dump(), score=r4(scores[j])) for j in order],
    )


def ensemble_recommend(
    req: EnsembleRequest,
    *,
    offer_math: OfferMath,
    cf: CfModel | None,
    history: Mapping[str, Mapping[str, int]] | None,
) -> Recommendation:
    """0.4 TOPSIS + 0.3 collaborative + 0.3 content by default, each rescaled to [0, 1] over the candidates.

    Cold start (no user, or a user the model and the history do not know): popularity replaces the
    collaborative component, and content similarity is measured against the most popular offers instead of
    the user's own history. The response names the path and why.
    """
    names, cweights = _checked_criteria(req.criteria)
    idx = _candidates(offer_math, req.filters)
    if idx.size == 0:
        return Recommendation(
            path="empty", reason="no offer matches the filters", weights=req.weights, count=0, items=[]
        )
    x, benefit = offer_math.criteria_matrix(names, idx)
    t_scores = topsis(x, cweights, benefit)
    ids = offer_math.cols.offer_id[idx]
    cf_scores = cf.scores_for(req.user_id, ids) if (cf is not None and req.user_id) else None
    liked = [oid for oid, c in (history or {}).items() if c] if req.user_id else []
    liked_idx = np.array([i for i in (offer_math.index_of(o) for o in liked) if i is not None], dtype=np.int64)
    pop = popularity(cf.popularity_for(ids)) if cf is not None else np.full(idx.shape[0], 0.5)
    if cf_scores is not None or liked_idx.size:
        path: Literal["personalised", "cold_start"] = "personalised"
        reason = "collaborative factors and the user's own history"
        collab = cf_scores if cf_scores is not None else pop
        anchors = liked_idx if liked_idx.size else idx[np.argsort(-pop, kind="stable")[:5]]
    else:
        path = "cold_start"
        reason = "anonymous user" if not req.user_id else "no interactions recorded for this user yet"
        reason += ": popularity replaces collaborative filtering; content is similarity to the most popular offers"
        collab = pop
        anchors = idx[np.argsort(-pop, kind="stable")[:5]]
    features = offer_math.features
    content = (features[:, anchors].T @ features[:, idx]).max(axis=0) if anchors.size else np.zeros(idx.size)
    score, scaled = ensemble(
        {"topsis": t_scores, "collaborative": collab, "content": content}, req.weights.model_dump()
    )
    order = ranked(score, idx, offer_math)[: req.limit]
    strengths = criterion_strengths(x, cweights, benefit)
    items = [
        EnsembleOffer(
            **offer_summary(offer_math, int(idx[j])).model_dump(),
            score=r4(score[j]),
            components={k: r4(v[j]) for k, v in scaled.items()},
            top_criteria=_top_criteria(strengths, names, int(j)),
        )
        for j in order
    ]
    return Recommendation(path=path, reason=reason, weights=req.weights, count=int(idx.size), items=items)
