"""Subscription filters, the matching rule, change detection from stream images, and the wire messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from gpubroker.domain.providers import provider_names
from gpubroker.domain.subscriptions import (
    ALL_KEY,
    PriceChange,
    SubscribeMessage,
    SubscriptionFilters,
    candidate_keys,
    error_message,
    matches,
    pong_message,
    price_change,
    price_message,
    sub_key,
)

TS = datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=UTC)


def change(**kw: object) -> PriceChange:
    base: dict[str, object] = {
        "offer_id": "runpod-0123456789abcdef",
        "provider": "runpod",
        "gpu_model": "H100-SXM",
        "region": "US",
        "old_price": 2.5,
        "new_price": 2.25,
        "ts": TS,
    }
    return PriceChange.model_validate({**base, **kw})


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, True),
        ({"gpu_model": "H100-SXM"}, True),
        ({"gpu_model": "A100-80GB"}, False),
        ({"provider": "runpod", "region": "US"}, True),
        ({"provider": "vast"}, False),
        ({"region": "EU"}, False),
        ({"max_price_per_gpu_hour": 2.25}, True),  # the ceiling is inclusive
        ({"max_price_per_gpu_hour": 2.24}, False),
        ({"gpu_model": "H100-SXM", "provider": "runpod", "region": "US", "max_price_per_gpu_hour": 3}, True),
    ],
)
def test_matches(filters: dict[str, object], expected: bool) -> None:
    assert matches(SubscriptionFilters.model_validate(filters), change()) is expected


@pytest.mark.parametrize(
    "filters",
    [
        {"provider": "nope"},
        {"provider": "No Such!"},
        {"provider": "x"},
        {"provider": "a" * 33},
        {"max_price_per_gpu_hour": 0},
        {"max_price_per_gpu_hour": -1},
        {"max_price_per_gpu_hour": "cheap"},
        {"gpu_model": ""},
        {"gpu_model": "H100 SXM; drop"},
        {"colour": "red"},
        {"region": "x" * 200},
    ],
)
def test_bad_filters_are_refused(filters: dict[str, object]) -> None:
    # validated as the subscribe service does: with the registry of the snapshot (here the built-ins)
    with pytest.raises(ValidationError):
        SubscribeMessage.model_validate(
            {"action": "subscribe", "filters": filters}, context={"providers": provider_names(None)}
        )


def test_a_provider_is_known_by_the_registry_given_and_stored_filters_keep_their_shape_check() -> None:
    registry = provider_names({"registry": {"nebius": {"display_name": "Nebius"}}})
    msg = SubscribeMessage.model_validate(
        {"action": "subscribe", "filters": {"provider": "nebius"}}, context={"providers": registry}
    )
    assert msg.filters.provider == "nebius"
    # read back from the connections table (no registry at hand): only the name's shape is checked
    assert SubscriptionFilters.model_validate({"provider": "nebius"}).provider == "nebius"
    with pytest.raises(ValidationError):
        SubscriptionFilters.model_validate({"provider": "Nebius Cloud"})


def test_subscribe_without_filters_means_everything() -> None:
    msg = SubscribeMessage.model_validate({"action": "subscribe"})
    assert msg.filters == SubscriptionFilters() and sub_key(msg.filters) == ALL_KEY


def test_sub_key_picks_the_most_selective_indexed_dimension() -> None:
    assert sub_key(SubscriptionFilters(gpu_model="H100-SXM", provider="runpod")) == "gpu#H100-SXM"
    assert sub_key(SubscriptionFilters(provider="runpod", region="US")) == "provider#runpod"
    assert sub_key(SubscriptionFilters(region="US")) == ALL_KEY


_filters = st.builds(
    SubscriptionFilters,
    gpu_model=st.none() | st.sampled_from(["H100-SXM", "A100-80GB"]),
    provider=st.none() | st.sampled_from(["runpod", "vast"]),
    region=st.none() | st.sampled_from(["US", "EU"]),
    max_price_per_gpu_hour=st.none() | st.floats(0.01, 10),
)
_changes = st.builds(
    change,
    gpu_model=st.sampled_from(["H100-SXM", "A100-80GB"]),
    provider=st.sampled_from(["runpod", "vast"]),
    region=st.sampled_from(["US", "EU"]),
    new_price=st.floats(0.01, 10),
)


@given(_filters, _changes)
def test_a_matching_subscription_is_always_under_a_key_the_broadcaster_queries(
    filters: SubscriptionFilters, c: PriceChange
) -> None:
    """The index design is complete: no matching connection can hide in a partition nobody reads."""
    if matches(filters, c):
        assert sub_key(filters) in candidate_keys(c)


OLD = {
    "offer_id": "vast-1",
    "provider": "vast",
    "gpu_model": "H200",
    "region": "EU",
    "price_per_gpu_hour": 2.5,
    "available": True,
}


def test_price_change_from_stream_images() -> None:
    moved = price_change(OLD, {**OLD, "price_per_gpu_hour": 2.0}, TS)
    assert moved is not None and (moved.old_price, moved.new_price) == (2.5, 2.0)
    appeared = price_change(None, OLD, TS)
    assert appeared is not None and (appeared.old_price, appeared.new_price) == (None, 2.5)
    back = price_change({**OLD, "available": False}, OLD, TS)
    assert back is not None and back.old_price is None
    # same price (other fields changed), a removal, an offer going unavailable: nothing to say
    assert price_change(OLD, {**OLD, "region": "EU", "vcpus": 8}, TS) is None
    assert price_change(OLD, None, TS) is None
    assert price_change(OLD, {**OLD, "available": False}, TS) is None


def test_messages() -> None:
    assert price_message(change()) == {
        "type": "price",
        "offer_id": "runpod-0123456789abcdef",
        "old_price": 2.5,
        "new_price": 2.25,
        "ts": "2026-11-26T12:00:00.123Z",
    }
    assert pong_message(TS).model_dump() == {"type": "pong", "ts": "2026-11-26T12:00:00.123Z"}
    assert error_message("validation_error", "bad").model_dump(exclude_none=True) == {
        "type": "error", "code": "validation_error", "message": "bad"}  # fmt: skip
