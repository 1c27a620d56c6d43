"""``make chaos``'s DynamoDB throttle (tests/chaos/tools.py) against moto: what it answers is what botocore takes
for DynamoDB throttling (its real retries run, ``adapters.aws.throttled`` recognises what is left), everything else
passes through, and the project's client settings retry a throttle exactly ``TOTAL_ATTEMPTS - 1`` times."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from gpubroker.adapters import aws
from gpubroker.domain.errors import throttled
from tests.chaos.tools import DynamoThrottle
from tests.integration.conftest import Endpoint

pytestmark = pytest.mark.integration


@pytest.fixture
def throttle(endpoint: Endpoint) -> Iterator[DynamoThrottle]:
    url = urlparse(endpoint.url)
    if url.hostname not in ("127.0.0.1", "localhost") or url.port is None:
        pytest.skip("the throttle fronts a local moto server")
    front = DynamoThrottle(url.port)
    yield front
    front.close()


def ddb(front: DynamoThrottle, config: Any) -> Any:
    return boto3.client("dynamodb", endpoint_url=front.url, region_name="us-east-1", config=config)


def test_a_throttled_request_is_dynamodbs_throttling_error_and_the_rest_pass_through(
    endpoint: Endpoint, throttle: DynamoThrottle
) -> None:
    client = ddb(throttle, Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    table = endpoint.names["BookingsTable"]
    assert client.describe_table(TableName=table)["Table"]["TableName"] == table
    throttle.throttle(n=1, ops=frozenset({"DescribeTable"}))
    with pytest.raises(ClientError) as err:
        client.describe_table(TableName=table)
    assert err.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert throttled(err.value) and throttle.throttled == 1
    assert client.list_tables()["TableNames"]  # another operation: passed through
    assert client.describe_table(TableName=table)["Table"]["TableName"] == table  # the throttle is spent


def test_the_projects_settings_retry_a_throttle_total_attempts_minus_one_times(
    endpoint: Endpoint, throttle: DynamoThrottle
) -> None:
    client = ddb(throttle, aws._config())
    table = endpoint.names["BookingsTable"]
    throttle.throttle(n=aws.TOTAL_ATTEMPTS - 1)
    assert client.describe_table(TableName=table)["Table"]["TableName"] == table  # the last attempt got through
    assert throttle.throttled == aws.TOTAL_ATTEMPTS - 1
    throttle.throttle(n=aws.TOTAL_ATTEMPTS)
    with pytest.raises(ClientError) as err:
        client.describe_table(TableName=table)
    assert throttled(err.value) and throttle.throttled == aws.TOTAL_ATTEMPTS
