"""Cost per token for every offer the local stack seeds (issue 15, the offer page's KPIs): every GPU name an offer
carries in the real catalogs (../shared/data/catalogs, board-unstated ``-Any`` models included) is accepted by the
KPI request models and resolves to its catalog entry, and the by-offer form answers every seeded offer with an
estimate at its own price; where the figure cannot exist (a model too large for one GPU, a format the GPU lacks) it
answers ``not_applicable`` with the reason, for exactly those cases."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpubroker.domain.gpus import bundled_catalog
from gpubroker.domain.math_requests import CostPerGflopRequest, CostPerTokenByOffer, EstimatedCostPerToken
from gpubroker.domain.math_results import EstimatedCost, NotApplicableCost
from gpubroker.domain.precision import BYTES_PER_PARAM, Precision, precision_supported
from gpubroker.services.kpis import WEIGHT_FORMATS, cost_per_token, gpu_spec
from gpubroker.services.offer_math import OfferMath, OfferMathCache
from gpubroker.services.search import SnapshotCache
from tests.component.conftest import seeded_world
from tests.conftest import CATALOGS  # noqa: F401  (the real catalogs: this module needs ../shared)

SPECS = bundled_catalog().by_model()


@pytest.fixture(scope="module")
def offer_math() -> OfferMath:
    return OfferMathCache(SnapshotCache(seeded_world().snapshots, ttl_s=60).current).get()


def offers_gpu(offer_math: OfferMath) -> list[tuple[str, str, float]]:
    """(offer id, GPU model, price per GPU-hour) of every seeded offer."""
    cols = offer_math.cols
    models = np.asarray(cols.vocab["gpu_model"], dtype=object)[cols.codes["gpu_model"]]
    return [(str(o), str(m), float(p)) for o, m, p in zip(cols.offer_id, models, cols.floats["price_per_gpu_hour"],
                                                           strict=True)]  # fmt: skip


def test_every_seeded_gpu_name_is_a_catalog_model_the_kpi_requests_accept(offer_math: OfferMath) -> None:
    names = sorted({m for _, m, _ in offers_gpu(offer_math)})
    assert len(names) >= 40 and {"V100-16GB-Any", "H100-80GB-Any", "RTX-PRO-6000-Any"} <= set(names)
    for name in names:
        assert gpu_spec(name).model == name
        EstimatedCostPerToken.model_validate({"gpu_model": name, "model_params_b": 1, "price_per_hour": 1.0})
        CostPerGflopRequest.model_validate({"gpu_model": name, "price_per_gpu_hour": 1.0})


def test_every_seeded_offer_has_a_cost_per_token_at_its_own_price(offer_math: OfferMath) -> None:
    offers = offers_gpu(offer_math)
    assert len(offers) >= 1200
    formats: dict[str, int] = {}
    for offer_id, model, price in offers:
        out = cost_per_token(CostPerTokenByOffer(offer_id=offer_id), offer_math=offer_math)
        assert isinstance(out, EstimatedCost), (offer_id, model, out)
        assert out.gpu_model == model and out.offer_id == offer_id
        assert out.price_per_hour == pytest.approx(price, rel=1e-3) and out.usd_per_million_tokens > 0
        formats[out.precision] = formats.get(out.precision, 0) + 1
    # the 8 GB and 12 GB cards (Quadro M4000, P4000 x2, RTX 3060, 3070: 5 offers) fit an 8B model at int8 only
    assert formats["fp16"] > 1000 and formats.get("int8", 0) == 5 and set(formats) <= set(WEIGHT_FORMATS)


@settings(max_examples=300, deadline=None)
@given(
    pick=st.integers(min_value=0),
    params_b=st.floats(min_value=0.01, max_value=2000, allow_nan=False),
    precision=st.none() | st.sampled_from(get_args(Precision)),
    batch=st.integers(min_value=1, max_value=1024),
)
def test_a_by_offer_answer_is_an_estimate_or_says_why_not(
    offer_math: OfferMath, pick: int, params_b: float, precision: Precision | None, batch: int
) -> None:
    cols = offer_math.cols
    i = pick % cols.n
    offer_id = str(cols.offer_id[i])
    spec = SPECS[str(cols.vocab["gpu_model"][int(cols.codes["gpu_model"][i])])]
    req = CostPerTokenByOffer(offer_id=offer_id, model_params_b=params_b, precision=precision, batch_size=batch)
    out = cost_per_token(req, offer_math=offer_math)
    tried = WEIGHT_FORMATS if precision is None else (precision,)
    fitting = [p for p in tried if params_b * BYTES_PER_PARAM[p] <= spec.memory_gb]
    if precision is not None and not precision_supported(spec.architecture, precision):
        assert isinstance(out, NotApplicableCost) and out.reason == "precision_unsupported"
        assert spec.model in out.explanation and precision in out.explanation
    elif not fitting:
        assert isinstance(out, NotApplicableCost) and out.reason == "insufficient_memory"
        assert f"{spec.memory_gb:g} GB" in out.explanation
    else:
        assert isinstance(out, EstimatedCost) and out.precision == fitting[0]
        assert np.isfinite(out.usd_per_million_tokens) and out.usd_per_million_tokens > 0
