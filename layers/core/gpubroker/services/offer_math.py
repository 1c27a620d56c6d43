"""Per-offer columns the math services share: GPU spec figures joined onto the snapshot, ranking criteria,
content features, reliability. Built once per snapshot version and cached with it (a warm container pays once).

Imports NumPy: only math functions import this module.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from gpubroker.domain.errors import ValidationFailed
from gpubroker.domain.gpus import GpuSpec, bundled_catalog
from gpubroker.domain.providers import in_eea, is_marketplace
from gpubroker.domain.regions import region_predicate
from gpumath.arrays import F64, I64, B
from gpumath.columns import OfferColumns
from gpumath.groups import GroupStats, group_stats
from gpumath.similarity import build_features

if TYPE_CHECKING:  # built on first use: the workload functions import this module for prices_by_gpu only
    from gpubroker.domain.math_results import OfferSummary


# Reliability (a documented heuristic, in [0, 1]): provider-run data centres 1.0, marketplace hosts 0.6;
# RunPod community tier x0.8; dedicated (bare-metal) hosts +0.1 (capped); offers from a provider whose last run
# failed (stale) x0.5; unavailable offers 0.
MARKETPLACE_RELIABILITY = 0.6
COMMUNITY_FACTOR = 0.8
DEDICATED_BONUS = 0.1
STALE_FACTOR = 0.5


@dataclass(frozen=True)
class Criterion:
    name: str
    benefit: bool
    unit: str
    description: str


CRITERIA: dict[str, Criterion] = {
    c.name: c
    for c in (
        Criterion("price_per_gpu_hour", False, "USD/GPU-h", "price per GPU-hour"),
        Criterion("price_per_hour", False, "USD/h", "price of the whole instance per hour"),
        Criterion("gpu_memory_gb", True, "GB", "memory per GPU"),
        Criterion("total_gpu_memory_gb", True, "GB", "memory of all GPUs of the instance"),
        Criterion("gpu_count", True, "GPUs", "GPUs in the instance"),
        Criterion("fp16_tflops", True, "TFLOPS", "dense FP16/BF16 tensor TFLOPS per GPU"),
        Criterion("total_fp16_tflops", True, "TFLOPS", "dense FP16/BF16 tensor TFLOPS of the instance"),
        Criterion("memory_bandwidth_gbps", True, "GB/s", "memory bandwidth per GPU"),
        Criterion("tflops_per_usd", True, "TFLOPS per USD/h", "FP16 TFLOPS per USD of GPU-hour"),
        Criterion("tflops_per_watt", True, "TFLOPS/W", "FP16 TFLOPS per watt of TDP"),
        Criterion("reliability", True, "0..1", "reliability heuristic (provider type, tier, freshness)"),
    )
}


@dataclass
class OfferMath:
    """Derived columns over one snapshot (n offers)."""

    cols: OfferColumns
    columns: dict[str, F64]
    features: F64
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def n(self) -> int:
        return self.cols.n

    def criteria_matrix(self, names: Sequence[str], idx: NDArray[np.int64]) -> tuple[F64, B]:
        """(m, k) criteria-major matrix for the offers at ``idx`` and the benefit flags (m,)."""
        unknown = [n for n in names if n not in CRITERIA]
        if unknown:
            raise ValidationFailed(f"unknown criterion {unknown[0]!r}", details={"known": sorted(CRITERIA)})
        x = np.vstack([self.columns[n][idx] for n in names]) if names else np.zeros((0, idx.shape[0]))
        benefit = np.array([CRITERIA[n].benefit for n in names], dtype=np.bool_)
        return x, benefit

    @cached_property
    def id_rank(self) -> I64:
        """Each offer's position in offer-id order (ids are unique): the tie-break of every ranking as an integer
        key, so a sort does not compare strings (a lexsort over 100k ids took ~20 ms)."""
        rank = np.empty(self.n, dtype=np.int64)
        rank[np.argsort(self.cols.offer_id, kind="stable")] = np.arange(self.n, dtype=np.int64)
        return rank

    @cached_property
    def live_price_stats(self) -> GroupStats:
        """Per gpu_model code: live offers, and their mean, median and cheapest price per GPU-hour (the market
        median the presets' savings are measured against; the market summary computes the same figures)."""
        live = self.cols.bools["available"]
        codes = self.cols.codes["gpu_model"][live]
        return group_stats(codes, self.cols.floats["price_per_gpu_hour"][live], len(self.cols.vocab["gpu_model"]))

    def index_of(self, offer_id: str) -> int | None:
        hit = np.flatnonzero(self.cols.offer_id == offer_id)
        return int(hit[0]) if hit.size else None


def _spec_lut(cols: OfferColumns, specs: Mapping[str, GpuSpec], attr: str) -> F64:
    lut = np.array([float(getattr(specs[m], attr)) if m in specs else np.nan for m in cols.vocab["gpu_model"]])
    out: F64 = lut[cols.codes["gpu_model"]] if lut.size else np.zeros(cols.n)
    return out


def _spec_flag(cols: OfferColumns, specs: Mapping[str, GpuSpec], test: Callable[[GpuSpec], bool]) -> F64:
    """1.0 where the offer's GPU passes ``test``, else 0.0 (also for a GPU the catalog lacks)."""
    lut = np.array([1.0 if m in specs and test(specs[m]) else 0.0 for m in cols.vocab["gpu_model"]])
    out: F64 = lut[cols.codes["gpu_model"]] if lut.size else np.zeros(cols.n)
    return out


def _reliability(cols: OfferColumns) -> F64:
    marketplace = np.array([is_marketplace(p, cols.meta) for p in cols.vocab["provider"]], dtype=np.bool_)
    base = np.where(marketplace[cols.codes["provider"]], MARKETPLACE_RELIABILITY, 1.0)
    bit = {t: 1 << i for i, t in enumerate(cols.compliance_vocab)}
    community = (cols.compliance & bit.get("community-cloud", 0)) != 0
    dedicated = (cols.compliance & bit.get("dedicated-host", 0)) != 0
    score = np.where(community & ~marketplace[cols.codes["provider"]], base * COMMUNITY_FACTOR, base)
    score = np.minimum(1.0, score + np.where(dedicated, DEDICATED_BONUS, 0.0))
    score = np.where(cols.bools["stale"], score * STALE_FACTOR, score)
    out: F64 = np.where(cols.bools["available"], score, 0.0)
    return out


def build_offer_math(cols: OfferColumns, specs: Mapping[str, GpuSpec] | None = None) -> OfferMath:
    specs = specs or bundled_catalog().by_model()
    f = cols.floats
    count = cols.ints["gpu_count"].astype(np.float64)
    tflops = _spec_lut(cols, specs, "fp16_tensor_tflops")
    bandwidth = _spec_lut(cols, specs, "memory_bandwidth_gbps")
    tdp = _spec_lut(cols, specs, "tdp_w")
    columns = {
        "price_per_gpu_hour": f["price_per_gpu_hour"],
        "price_per_hour": f["price_per_hour"],
        "gpu_memory_gb": f["gpu_memory_gb"],
        "total_gpu_memory_gb": f["gpu_memory_gb"] * count,
        "gpu_count": count,
        "fp16_tflops": tflops,
        "total_fp16_tflops": tflops * count,
        "memory_bandwidth_gbps": bandwidth,
        "tflops_per_usd": tflops / f["price_per_gpu_hour"],
        "tflops_per_watt": tflops / tdp,
        "reliability": _reliability(cols),
        "tdp_w": tdp,
        "hbm_memory": _spec_flag(cols, specs, lambda s: s.memory_type.upper().startswith("HBM")),
    }
    columns = {k: np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0) for k, v in columns.items()}
    eea = np.array([in_eea(r) for r in cols.vocab["region"]], dtype=np.int32)[cols.codes["region"]]
    features = build_features(
        {
            k: columns[k]
            for k in ("price_per_gpu_hour", "gpu_memory_gb", "gpu_count", "fp16_tflops", "memory_bandwidth_gbps")
        },
        [
            (cols.codes["gpu_vendor"], len(cols.vocab["gpu_vendor"])),
            (cols.codes["provider"], len(cols.vocab["provider"])),
            (cols.codes["form_factor"], len(cols.vocab["form_factor"])),
            (eea, 2),
        ],
    )
    return OfferMath(cols=cols, columns=columns, features=features)


class OfferMathCache:
    """OfferMath per snapshot version, next to the snapshot cache (rebuilt only when the version changes)."""

    def __init__(self, current: Callable[[], OfferColumns]) -> None:
        self._current = current
        self._built: tuple[str, OfferMath] | None = None
        self._lock = threading.Lock()

    def get(self) -> OfferMath:
        cols = self._current()
        version = str(cols.meta.get("version"))
        with self._lock:
            if self._built is None or self._built[0] != version:
                self._built = (version, build_offer_math(cols))
            return self._built[1]


def offer_summary(offer_math: OfferMath, i: int) -> OfferSummary:
    """The fields of offer ``i`` a ranking shows."""
    from gpubroker.domain.math_results import OfferSummary

    return OfferSummary.model_validate(offer_math.cols.record(i))


def ranked(scores: F64, idx: NDArray[np.int64], offer_math: OfferMath) -> NDArray[np.int64]:
    """Positions into ``idx`` (the candidates, with their ``scores``) by score descending, ties by offer id: the
    one deterministic order of every ranking (TOPSIS, collaborative, ensemble, presets)."""
    order = np.lexsort((offer_math.id_rank[idx], -scores))
    out: NDArray[np.int64] = order.astype(np.int64)
    return out


def candidate_mask(
    offer_math: OfferMath,
    *,
    gpu: Sequence[str] = (),
    provider: Sequence[str] = (),
    region: Sequence[str] = (),
    max_price_per_gpu_hour: float | None = None,
    min_gpu_memory_gb: float | None = None,
    available_only: bool = True,
) -> B:
    cols = offer_math.cols
    mask = np.ones(cols.n, dtype=np.bool_)
    if available_only:
        mask &= cols.bools["available"]
    if gpu:
        mask &= cols.in_values("gpu_model", gpu)
    if provider:
        mask &= cols.in_values("provider", provider)
    if region:
        mask &= cols.in_values_casefold("region", region)
    if max_price_per_gpu_hour is not None:
        mask &= cols.range_mask("price_per_gpu_hour", None, max_price_per_gpu_hour)
    if min_gpu_memory_gb is not None:
        mask &= cols.range_mask("gpu_memory_gb", min_gpu_memory_gb, None)
    return mask


def prices_by_gpu(
    offer_math: OfferMath, *, region: Sequence[str] = (), among: B | None = None
) -> dict[str, tuple[float, str]]:
    """Cheapest live offer per GPU model: ``{gpu_model: (USD per GPU-hour, offer_id)}`` (ties: smallest id);
    with ``region`` (region names or groups: ``eu``, ``us``, as the offer search reads them), among those there;
    with ``among`` (a mask over the snapshot, e.g. ``services.search.filter_mask``), among those offers only."""
    cols = offer_math.cols
    mask = cols.bools["available"]
    if among is not None:
        mask = mask & among
    if region:
        mask = mask & cols.vocab_mask("region", region_predicate(region))
    live = np.flatnonzero(mask)
    if live.size == 0:
        return {}
    codes = cols.codes["gpu_model"][live]
    order = np.lexsort((cols.offer_id[live], cols.floats["price_per_gpu_hour"][live], codes))
    first = order[np.r_[True, codes[order][1:] != codes[order][:-1]]]
    return {
        cols.vocab["gpu_model"][int(codes[j])]: (
            float(cols.floats["price_per_gpu_hour"][live[j]]),
            str(cols.offer_id[live[j]]),
        )
        for j in first
    }
