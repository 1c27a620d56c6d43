"""Collaborative filtering around the ALS kernel: the trained artifact, training from interactions, scoring.

Interactions become explicit ratings: the strongest signal a user gave an offer (view 1, save 3, book 5).
Training runs on a schedule (TrainCollaborativeFilterFunction) and stores the factors as one ``.npz``; query
functions load it once per warm container (re-checked every few seconds like the offer snapshot).
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from gpubroker.domain.interactions import INTERACTION_WEIGHTS
from gpubroker.ports import Clock, InteractionRepository, ModelStore
from gpumath.arrays import F64

MODEL_NAME = "cf"


def rating(counts: dict[str, int]) -> float:
    """The strongest signal: view 1, save 3, book 5; no signal 0."""
    return max((INTERACTION_WEIGHTS[k] for k, n in counts.items() if n > 0 and k in INTERACTION_WEIGHTS), default=0.0)


@dataclass(frozen=True)
class CfModel:
    user_ids: NDArray[np.str_]
    offer_ids: NDArray[np.str_]
    user_factors: F64
    item_factors: F64
    item_counts: F64  # interactions per offer (popularity prior for cold start)
    mean: float
    meta: dict[str, Any]

    def user_index(self, user_id: str) -> int | None:
        hit = np.flatnonzero(self.user_ids == user_id)
        return int(hit[0]) if hit.size else None

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(
            buf,
            allow_pickle=False,
            user_ids=self.user_ids,
            offer_ids=self.offer_ids,
            user_factors=self.user_factors,
            item_factors=self.item_factors,
            item_counts=self.item_counts,
            header=np.array(json.dumps({"mean": self.mean, "meta": self.meta})),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> CfModel:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            return cls(
                user_ids=z["user_ids"],
                offer_ids=z["offer_ids"],
                user_factors=z["user_factors"],
                item_factors=z["item_factors"],
                item_counts=z["item_counts"],
                mean=float(header["mean"]),
                meta=header["meta"],
            )

    def scores_for(self, user_id: str, offer_ids: NDArray[np.str_]) -> F64 | None:
        """Predicted ratings of ``user_id`` for ``offer_ids`` (offers unknown to the model get the mean);
        None for a user the model has never seen (cold start)."""
        u = self.user_index(user_id)
        if u is None:
            return None
        pos = _positions(self.offer_ids, offer_ids)
        known = pos >= 0
        out = np.full(offer_ids.shape[0], self.mean, dtype=np.float64)
        out[known] = self.item_factors[pos[known]] @ self.user_factors[u]
        return out

    def popularity_for(self, offer_ids: NDArray[np.str_]) -> F64:
        pos = _positions(self.offer_ids, offer_ids)
        out = np.zeros(offer_ids.shape[0], dtype=np.float64)
        out[pos >= 0] = self.item_counts[pos[pos >= 0]]
        return out


def _positions(sorted_ids: NDArray[np.str_], wanted: NDArray[np.str_]) -> NDArray[np.int64]:
    """Index of each wanted id in ``sorted_ids`` (sorted ascending), -1 when absent."""
    if sorted_ids.size == 0:
        return np.full(wanted.shape[0], -1, dtype=np.int64)
    pos = np.searchsorted(sorted_ids, wanted)
    pos = np.minimum(pos, sorted_ids.shape[0] - 1)
    out: NDArray[np.int64] = np.where(sorted_ids[pos] == wanted, pos, -1).astype(np.int64)
    return out


class CfModelCache:
    def __init__(
        self, store: ModelStore, *, ttl_s: float = 30.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._ttl = ttl_s
        self._now = monotonic
        self._loaded: CfModel | None = None
        self._checked = -float("inf")
        self._lock = threading.Lock()

    def get(self) -> CfModel | None:
        with self._lock:
            if self._now() - self._checked >= self._ttl:
                data = self._store.load(MODEL_NAME)
                self._loaded = CfModel.from_bytes(data) if data else None
                self._checked = self._now()
            return self._loaded


class TrainingReport(BaseModel):
    """A training run: what it read, and (when there was a rating to learn from) the model it stored. The fields
    of an untrained run's model are None (``model_dump(exclude_none=True)`` leaves them out)."""

    users: int
    offers: int
    ratings: int
    trained: bool
    k: int | None = None
    sweeps: int | None = None
    converged: bool | None = None
    seconds: float | None = None


def _triples(rows: Iterable[tuple[str, str, dict[str, int]]]) -> tuple[list[str], list[str], list[float]]:
    users, items, values = [], [], []
    for user_id, offer_id, counts in rows:
        r = rating(counts)
        if r > 0:
            users.append(user_id)
            items.append(offer_id)
            values.append(r)
    return users, items, values


def train_cf(
    *,
    interactions: InteractionRepository,
    models: ModelStore,
    clock: Clock,
    k: int = 50,
    lam: float = 0.1,
    seed: int = 0,
    max_sweeps: int = 50,
) -> TrainingReport:
    """Train ALS-WR on every interaction and store the factors. Returns a small report."""
    from gpumath.als import als_wr, csr_from_coo

    started = time.monotonic()
    users, items, values = _triples(interactions.scan_all())
    user_ids = np.unique(np.array(users, dtype=np.str_))
    offer_ids = np.unique(np.array(items, dtype=np.str_))
    read = {"users": int(user_ids.size), "offers": int(offer_ids.size), "ratings": len(values)}
    if not values:
        return TrainingReport(**read, trained=False)
    u = np.searchsorted(user_ids, np.array(users, dtype=np.str_))
    i = np.searchsorted(offer_ids, np.array(items, dtype=np.str_))
    v = np.array(values, dtype=np.float64)
    indptr, indices, data = csr_from_coo(u, i, v, int(user_ids.size), int(offer_ids.size))
    k_eff = int(min(k, max(1, min(user_ids.size, offer_ids.size))))
    result = als_wr(
        indptr,
        indices,
        data,
        int(offer_ids.size),
        k=k_eff,
        lam=lam,
        max_sweeps=max_sweeps,
        rng=np.random.default_rng(seed),
    )
    counts = np.bincount(i, minlength=offer_ids.size).astype(np.float64)
    trained_at: datetime = clock.now()
    model = CfModel(
        user_ids=user_ids,
        offer_ids=offer_ids,
        user_factors=np.asarray(result.user_factors, dtype=np.float64),
        item_factors=np.asarray(result.item_factors, dtype=np.float64),
        item_counts=counts,
        mean=float(v.mean()),
        meta={"trained_at": trained_at.isoformat(), "k": k_eff, "lambda": lam, "sweeps": int(result.sweeps)},
    )
    models.save(MODEL_NAME, model.to_bytes(), model.meta)
    return TrainingReport(
        **read,
        trained=True,
        k=k_eff,
        sweeps=int(result.sweeps),
        converged=bool(result.converged),
        seconds=round(time.monotonic() - started, 3),
    )
