"""moto's DynamoDB writes made atomic (infra.local.moto_server.serialise_writes), as DynamoDB's are: of concurrent
conditional writes on one item exactly one wins, even with moto's window between checking the condition and
writing widened to 20 ms (without the lock: 7 winners of 20 in the first round)."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import boto3
import pytest

from tests.integration.conftest import Endpoint

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("aws")]


def test_concurrent_conditional_updates_on_one_item_have_exactly_one_winner(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    import moto.dynamodb.models as models

    parser = models.create_condition_expression_parser  # type: ignore[attr-defined]

    class SlowCondition:  # 20 ms between moto's check of the condition and its write
        def __init__(self, op: Any) -> None:
            self.op = op

        def expr(self, item: Any) -> Any:
            holds = self.op.expr(item)
            time.sleep(0.02)
            return holds

    class SlowParser:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def parse(self) -> SlowCondition:
            return SlowCondition(self.inner.parse())

    def slow_parser(*args: Any, **kwargs: Any) -> SlowParser:
        return SlowParser(parser(*args, **kwargs))

    monkeypatch.setattr(models, "create_condition_expression_parser", slow_parser)
    name = f"atomic-{uuid.uuid4().hex[:8]}"
    ddb = boto3.client("dynamodb", endpoint_url=endpoint.url)
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")  # fmt: skip
    clients = [boto3.client("dynamodb", endpoint_url=endpoint.url) for _ in range(20)]
    for round_ in range(3):
        key = {"pk": {"S": f"token-{round_}"}}
        ddb.put_item(TableName=name, Item={**key, "spent": {"BOOL": False}})
        wins: list[int] = []
        barrier = threading.Barrier(len(clients))

        def spend(client: Any) -> None:
            barrier.wait()
            try:
                client.update_item(TableName=name, Key=key, UpdateExpression="SET spent = :t",
                                   ConditionExpression="spent = :f",
                                   ExpressionAttributeValues={":t": {"BOOL": True}, ":f": {"BOOL": False}})  # fmt: skip
                wins.append(1)
            except client.exceptions.ConditionalCheckFailedException:
                pass

        threads = [threading.Thread(target=spend, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1
    ddb.delete_table(TableName=name)
