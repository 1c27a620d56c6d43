"""The services that left the handlers (issue 9 part 3): the stream batch -> price changes, dated by DynamoDB or
else by the Clock port; recording an interaction for the caller."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gpubroker.domain.errors import OfferNotFound
from gpubroker.domain.interactions import InteractionRequest
from gpubroker.services.broadcast import stream_changes
from gpubroker.services.interactions import record_interaction
from tests.component.test_ws_handlers import _image, stream_record
from tests.fakes import FixedClock, ListSource, MemoryInteractions, World
from tests.unit.test_ingestion import raw

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_a_change_is_dated_by_dynamodb_else_by_the_clock() -> None:
    dated = stream_record("MODIFY", _image("runpod-a", 2.0), _image("runpod-a", 1.5), 1, at=1795694400.25)
    undated = stream_record("INSERT", None, _image("runpod-b", 3.0), 2)
    del undated["dynamodb"]["ApproximateCreationDateTime"]
    same_price = stream_record("MODIFY", _image("runpod-c", 2.0), _image("runpod-c", 2.0), 3)
    changes = stream_changes({"Records": [dated, undated, same_price]}, clock=FixedClock(NOW))
    got = [(c.offer_id, c.old_price, c.new_price) for c in changes]
    assert got == [("runpod-a", 2.0, 1.5), ("runpod-b", None, 3.0)]
    assert changes[0].ts == datetime.fromtimestamp(1795694400.25, UTC)
    assert changes[1].ts == NOW  # no time from DynamoDB: the Clock port's, not the wall clock's


def test_an_interaction_is_recorded_for_the_caller_and_an_unknown_offer_writes_nothing() -> None:
    world = World()
    world.run(ListSource("runpod", [raw("1x_A6000", 0.49)]))
    interactions = MemoryInteractions()
    offer_id = next(iter(world.offers.items))
    clock = FixedClock(NOW)
    recorded = record_interaction("alice", InteractionRequest(offer_id=offer_id, kind="book"),
                                  offers=world.offers, interactions=interactions, clock=clock)  # fmt: skip
    assert (recorded.user_id, recorded.offer_id, recorded.kind) == ("alice", offer_id, "book")
    assert recorded.at == NOW.isoformat()
    assert interactions.history("alice") == {offer_id: {"view": 0, "save": 0, "book": 1}}
    with pytest.raises(OfferNotFound):
        record_interaction("alice", InteractionRequest(offer_id="runpod-none", kind="view"), offers=world.offers,
                           interactions=interactions, clock=clock)  # fmt: skip
    assert len(interactions.items) == 1
