"""DynamoDB stream event sources of the local stack: poll the table's moto stream, invoke the mapped function.

What Lambda's event-source mapping does, read from the template (``Events: {Type: DynamoDB}``): shards from
``describe_stream``, iterators at LATEST, ``get_records`` every ~50 ms, batches of ``BatchSize`` in the real
stream event shape, a failed batch retried ``MaximumRetryAttempts`` times and bisected when
``BisectBatchOnFunctionError`` is set.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import boto3

from infra.local.runtime import FunctionError, Runtime
from infra.local.template import StreamTrigger

log = logging.getLogger("gpubroker.local.streams")


def _lambda_shape(value: Any) -> Any:
    """boto3's parsed record -> the JSON Lambda receives (bytes as base64, datetimes as epoch seconds)."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, Mapping):
        return {k: _lambda_shape(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_lambda_shape(v) for v in value]
    return value


def stream_event(records: list[dict[str, Any]], stream_arn: str) -> dict[str, Any]:
    return {"Records": [{**_lambda_shape(r), "eventSourceARN": stream_arn} for r in records]}


class StreamPoller:
    def __init__(
        self,
        runtime: Runtime,
        trigger: StreamTrigger,
        table_name: str,
        *,
        endpoint_url: str,
        region: str = "us-east-1",
        interval_s: float = 0.05,
    ) -> None:
        self.runtime = runtime
        self.trigger = trigger
        self.interval_s = interval_s
        ddb = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=region)
        self.stream_arn: str = ddb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self._streams = boto3.client("dynamodbstreams", endpoint_url=endpoint_url, region_name=region)
        self._iterators: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.invocations = 0

    def _refresh_shards(self) -> None:
        shards = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            if shard["ShardId"] not in self._iterators:
                it = self._streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
                )
                self._iterators[shard["ShardId"]] = it["ShardIterator"]

    def start(self) -> None:
        self._refresh_shards()  # iterators taken now: every write after start() is delivered
        self._thread = threading.Thread(target=self._run, name=f"stream-{self.trigger.function}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        polls = 0
        while not self._stop.is_set():
            got = False
            for shard_id, iterator in list(self._iterators.items()):
                try:
                    page = self._streams.get_records(ShardIterator=iterator, Limit=1000)
                except Exception:  # the endpoint is going away (stop) or hiccuped: try again next poll
                    log.debug("get_records failed", exc_info=True)
                    continue
                if page.get("NextShardIterator"):
                    self._iterators[shard_id] = page["NextShardIterator"]
                records = page.get("Records") or []
                for start in range(0, len(records), self.trigger.batch_size):
                    got = True
                    self._deliver(records[start : start + self.trigger.batch_size])
            polls += 1
            if polls % 200 == 0:
                self._refresh_shards()
            if not got:
                self._stop.wait(self.interval_s)

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        for attempt in range(self.trigger.max_retries + 1):
            try:
                self.invocations += 1
                self.runtime.invoke(self.trigger.function, stream_event(batch, self.stream_arn))
                return
            except FunctionError as exc:
                log.warning("%s failed on %d records (attempt %d): %s", self.trigger.function, len(batch), attempt, exc)
                if self.trigger.bisect_on_error and len(batch) > 1:
                    half = len(batch) // 2
                    self._deliver(batch[:half])
                    self._deliver(batch[half:])
                    return
        log.error(
            "%s: dropped %d records after %d retries", self.trigger.function, len(batch), self.trigger.max_retries
        )
