"""Interactions recorded through the API land in DynamoDB; the scheduled training reads them, stores the ALS
factors in S3; the collaborative and ensemble functions then personalise from them. All default wiring."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gpubroker.domain.accounts import Principal
from gpubroker.domain.audit import AUDIT_SHARDS
from gpubroker.wiring import edge
from tests.conftest import CATALOGS
from tests.events import Ctx, rest_event
from tests.integration.conftest import Endpoint, fresh_handler

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("aws")]


def post(module: str, path: str, body: dict[str, Any], user: str) -> tuple[int, dict[str, Any]]:
    """A signed-in ``user``'s request (the authorizer's context), as API Gateway hands it to the function."""
    ev = rest_event(path, path)
    ev["httpMethod"] = "POST"
    ev["requestContext"]["authorizer"] = Principal(user_id=user).to_context()
    ev["body"] = json.dumps(body)
    res = fresh_handler(module).lambda_handler(ev, Ctx())
    return int(res["statusCode"]), json.loads(res["body"])


def test_interactions_train_and_personalise(endpoint: Endpoint) -> None:
    fresh_handler("ingest_offers").lambda_handler(
        {"provider": "lambda", "catalog": str(CATALOGS / "lambda" / "vms.csv")}, Ctx()
    )
    res = fresh_handler("api_list_offers").lambda_handler(rest_event("/offers", "/offers", {"limit": ["30"]}), Ctx())
    offers = [o["offer_id"] for o in json.loads(res["body"])["items"]]
    assert len(offers) == 30
    for u in range(12):
        for j, oid in enumerate(offers):
            if (u + j) % 3 == 0:
                kind = ("view", "save", "book")[(u * j) % 3]
                status, _ = post("api_record_interaction", "/interactions", {"offer_id": oid, "kind": kind}, f"user{u}")
                assert status == 201
    status, err = post("api_record_interaction", "/interactions", {"offer_id": "lambda-0000", "kind": "save"}, "user0")
    assert status == 404 and err["error"]["code"] == "offer_not_found"
    log = edge.audit_log()
    recorded = [e for shard in range(AUDIT_SHARDS) for e in log.all_entries(shard)
                if e.action == "interaction.record"]  # fmt: skip
    assert len(recorded) == 121 and {e.outcome for e in recorded} == {"ok", "refused:404"}
    assert {e.actor for e in recorded} == {f"user:user{u}" for u in range(12)}

    report = fresh_handler("train_collaborative_filter").lambda_handler({"job": "train-collaborative-filter"}, Ctx())
    assert report["trained"] is True and report["users"] == 12 and report["ratings"] == 120

    status, cf = post("api_math_collaborative_filter", "/math/collaborative-filter", {"top": 5}, "user3")
    assert status == 200 and cf["user_id"] == "user3" and cf["known_user"] is True and len(cf["items"]) == 5
    status, rec = post("api_math_ensemble_recommend", "/math/ensemble-recommend", {"limit": 5}, "user3")
    assert status == 200 and rec["path"] == "personalised"
    status, cold = post("api_math_ensemble_recommend", "/math/ensemble-recommend", {"limit": 5}, "newcomer")
    assert status == 200 and cold["path"] == "cold_start"
