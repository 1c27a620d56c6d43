"""Every field of a decoded pagination cursor is checked before it is used: a ``/offers`` cursor whose snapshot
version held control characters answered 500 (the version became an S3 key unchecked; only ``NoSuchKey`` is
caught). A forged field is a 400 ``invalid_cursor`` and never reaches a port."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from gpubroker.services.search import SnapshotCache
from tests.component.conftest import handler_module
from tests.events import Ctx, rest_event
from tests.fakes import UNLIMITED, World

offers_mod = handler_module("api_list_offers")
history_mod = handler_module("api_get_offer_history")


def _search(world: World, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
    deps = offers_mod.Deps(front_door=UNLIMITED, snapshots=SnapshotCache(world.snapshots, ttl_s=0))
    res = offers_mod.lambda_handler(rest_event("/offers", "/offers", query), Ctx(), deps=deps)
    return int(res["statusCode"]), json.loads(res["body"])


def _token(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _fields(token: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    return data


FORGED = [
    {"v": "\x00\x01\r\n"},
    {"v": "../../secrets"},
    {"v": "20261126T110000000000Z-0000000a\x00"},
    {"v": "20261126T110000000000Z-0000000a/x"},
    {"h": "ZZZZZZZZZZZZZZZZ"},
    {"h": "0123456789abcde\x00"},
    {"r": 10**40},
    {"r": -1},
]


@pytest.mark.parametrize("forged", FORGED, ids=repr)
def test_a_forged_offers_cursor_field_is_a_400_that_reaches_no_store(
    forged: dict[str, Any], world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, first = _search(world, {"limit": ["2"]})
    assert status == 200 and first["next_cursor"]
    read: list[str] = []
    real_load = world.snapshots.load

    def load(version: str) -> bytes | None:
        read.append(version)
        return real_load(version)

    monkeypatch.setattr(world.snapshots, "load", load)
    status, body = _search(world, {"limit": ["2"], "cursor": [_token({**_fields(first["next_cursor"]), **forged})]})
    assert (status, body["error"]["code"]) == (400, "invalid_cursor"), body
    assert read == []


def test_the_genuine_cursor_still_pages(world: World) -> None:
    status, first = _search(world, {"limit": ["2"]})
    status, second = _search(world, {"limit": ["2"], "cursor": [first["next_cursor"]]})
    assert status == 200 and second["items"] and second["items"][0] != first["items"][0]


@pytest.mark.parametrize("ts", ["2026\x00\x01", "2026-11-26T11:00:00+00:00\n", "2026-13-45T99:99:99", "2026/../x"])
def test_a_forged_history_cursor_is_a_400(ts: str, world: World) -> None:
    offer = next(iter(world.offers.items.values()))
    deps = history_mod.Deps(front_door=UNLIMITED, offers=world.offers, history=world.history)
    cursor = base64.urlsafe_b64encode(ts.encode()).decode().rstrip("=")
    ev = rest_event(
        "/offers/{offer_id}/history", f"/offers/{offer.offer_id}/history", {"cursor": [cursor]},
        {"offer_id": offer.offer_id},
    )  # fmt: skip
    res = history_mod.lambda_handler(ev, Ctx(), deps=deps)
    assert (res["statusCode"], json.loads(res["body"])["error"]["code"]) == (400, "invalid_cursor")
