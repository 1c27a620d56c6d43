"""Property: offer normalisation consistency (idempotent, complete and typed, plausible numbers)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from gpubroker.domain.gpus import bundled_catalog
from gpubroker.domain.offers import (
    MAX_PRICE_PER_HOUR,
    MIN_PRICE_PER_HOUR,
    Offer,
    RawOffer,
    RejectedRow,
    normalise,
    to_raw,
)
from gpubroker.domain.providers import COMPLIANCE_TAGS, PROVIDERS

SPECS = bundled_catalog().by_model()
SPELLINGS = {
    "RTX-A6000": ["A6000", "RTXA6000", "RTX-A6000"],
    "H100-SXM": ["H100-SXM", "H100 SXM5"],
    "A100-80GB": ["A100-80GB-SXM", "A100 SXM4 80GB", "NVIDIA A100-SXM4-80GB"],
    "A100-80GB-PCIe": ["A100-80GB-PCIe", "NVIDIA A100 80GB PCIe", "A100_PCIE_80GB"],
    "RTX-4090": ["RTX4090", "RTX 4090", "GeForce RTX 4090"],
    "L40S": ["L40S"],
    "MI300X": ["MI300X", "AMD Instinct MI300X"],
}

raw_offers = st.builds(
    RawOffer,
    provider=st.sampled_from(sorted(PROVIDERS)),
    instance_type=st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=30),
    region=st.sampled_from(
        ["us-east-1", "Germany, DE, EU", "FIN-01", "CA", "RU", "frankfurt-germany-5", "Oregon, US, NA"]
    ),
    gpu_name=st.one_of(st.none(), st.sampled_from([s for v in SPELLINGS.values() for s in v] + ["TPUv5", "H100"])),
    gpu_count=st.one_of(st.none(), st.sampled_from([0.0, 1.0, 2.0, 4.0, 8.0, 1.5, 100.0])),
    gpu_memory_gb=st.one_of(st.none(), st.floats(min_value=1, max_value=400)),
    vcpus=st.one_of(st.none(), st.floats(min_value=0, max_value=512)),
    ram_gb=st.one_of(st.none(), st.floats(min_value=0, max_value=4096)),
    price_per_hour=st.one_of(st.none(), st.floats(min_value=-5, max_value=5000, allow_nan=False), st.floats(0, 0.01)),
    spot_price_per_hour=st.one_of(st.none(), st.floats(min_value=0, max_value=100), st.floats(0, 0.01)),
)
NOW = datetime(2026, 11, 26, 8, tzinfo=UTC)


def _check_offer(o: Offer) -> None:
    # every required field present and typed (the model re-validates a dump of itself)
    assert Offer.model_validate(o.model_dump()) == o
    assert o.gpu_model in SPECS
    assert o.provider in PROVIDERS
    assert isinstance(o.gpu_count, int) and 1 <= o.gpu_count <= 64
    assert MIN_PRICE_PER_HOUR <= o.price_per_hour <= MAX_PRICE_PER_HOUR and o.price_per_gpu_hour > 0
    assert abs(o.price_per_gpu_hour * o.gpu_count - o.price_per_hour) <= 1e-9 * o.price_per_hour
    spec = SPECS[o.gpu_model]
    assert 0.5 * spec.memory_gb <= o.gpu_memory_gb <= 2.1 * spec.memory_gb
    assert o.spot_price_per_hour is None or o.spot_price_per_hour > 0
    assert set(o.compliance) <= set(COMPLIANCE_TAGS) and list(o.compliance) == sorted(o.compliance)
    assert o.as_of.tzinfo is not None and not o.stale


@settings(max_examples=400, deadline=None)
@given(raw_offers)
def test_normalisation_is_idempotent_complete_and_plausible(raw: RawOffer) -> None:
    try:
        first = normalise(raw, as_of=NOW, specs=SPECS)
    except RejectedRow as rejected:
        assert rejected.reason  # every refusal has a reason for the run report
        return
    _check_offer(first)
    again = normalise(to_raw(first), as_of=NOW, specs=SPECS)
    assert again == first
    assert again.content_hash() == first.content_hash()


@given(st.sampled_from(sorted(SPELLINGS)), st.data())
def test_spellings_of_one_gpu_normalise_to_one_offer_model(model: str, data: st.DataObject) -> None:
    base = dict(provider="lambda", instance_type="x1", region="us-east-1", gpu_count=1.0, price_per_hour=1.0)
    a = normalise(RawOffer(gpu_name=data.draw(st.sampled_from(SPELLINGS[model])), **base), as_of=NOW, specs=SPECS)
    b = normalise(RawOffer(gpu_name=data.draw(st.sampled_from(SPELLINGS[model])), **base), as_of=NOW, specs=SPECS)
    assert a.gpu_model == b.gpu_model == model
    assert a.offer_id == b.offer_id
