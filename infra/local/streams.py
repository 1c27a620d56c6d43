"""DynamoDB stream event sources of the local stack: poll the table's moto stream, invoke the mapped function.

What Lambda's event-source mapping does, read from the template (``Events: {Type: DynamoDB}``): shards from
``describe_stream``, iterators at LATEST, ``get_records`` every ~50 ms, batches of ``BatchSize`` in the real
stream event shape, one batch of a shard at a time, in order. A failed batch is handled as AWS documents it
(docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html and services-dynamodb-errors.html):

* **partial batch response** (``FunctionResponseTypes: [ReportBatchItemFailures]``): ``batchItemFailures``
  empty or null is a success; otherwise the lowest reported sequence number is the checkpoint, the records before
  it are done and the batch is retried from it (a retry). An entry without a non-empty ``itemIdentifier`` naming a
  record of the batch makes the whole batch a failure. Without the setting the answer is ignored (a success).
* **function error** (the handler raised): with ``BisectBatchOnFunctionError`` a batch of more than one record is
  split in two halves, each retried on its own (splitting does not use the retry quota); else it is a retry.
* **retries** wait 20 ms, doubling up to 2 s, between attempts (so ``-1`` does not spin the CPU);
* **retries exhausted** (``MaximumRetryAttempts``; -1 never) or records older than ``MaximumRecordAgeInSeconds``:
  the records left are skipped and, when ``DestinationConfig.OnFailure`` names an SQS queue, Lambda's invocation
  record is sent there: ``requestContext`` (``condition`` RetryAttemptsExhausted or RecordAgeExceeded,
  ``approximateInvokeCount``), ``responseContext`` (``functionError`` when the handler raised), ``version``,
  ``timestamp`` and ``DDBStreamBatchInfo`` (shard, first and last sequence numbers, arrival times, batch size,
  stream ARN): enough to read the records back from the stream (``python -m infra.local.dead_letters``). Without a
  destination they are logged as dropped.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import boto3

from infra.local.runtime import FunctionError, Runtime
from infra.local.template import StreamTrigger

log = logging.getLogger("gpubroker.local.streams")

RETRY_BASE_S, RETRY_CAP_S = 0.02, 2.0
"""Back-off between retries of a failed batch (doubling): with MaximumRetryAttempts -1 (retry until the records
expire) a failing function must not spin the worker's CPU."""


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
        on_failure_url: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.trigger = trigger
        self.interval_s = interval_s
        self.region = region
        self.on_failure_url = on_failure_url  # the SQS queue of the trigger's DestinationConfig.OnFailure
        self._sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=region)
        self.discarded: list[dict[str, Any]] = []  # the invocation records of skipped records (also in the queue)
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
            got = self.poll_once()
            polls += 1
            if polls % 200 == 0:
                self._refresh_shards()
            if not got:
                self._stop.wait(self.interval_s)

    def poll_once(self) -> int:
        """Read every shard once and deliver what it holds, batch by batch; the number of records read."""
        got = 0
        for shard_id, iterator in list(self._iterators.items()):
            try:
                page = self._streams.get_records(ShardIterator=iterator, Limit=1000)
            except Exception:  # the endpoint is going away (stop) or hiccuped: try again next poll
                log.debug("get_records failed", exc_info=True)
                continue
            if page.get("NextShardIterator"):
                self._iterators[shard_id] = page["NextShardIterator"]
            records = page.get("Records") or []
            got += len(records)
            for start in range(0, len(records), self.trigger.batch_size):
                self._deliver(shard_id, records[start : start + self.trigger.batch_size])
        return got

    def _deliver(self, shard_id: str, batch: list[dict[str, Any]]) -> None:
        """One batch until it succeeds, or its records are skipped (and reported to the on-failure destination)."""
        retries = 0
        invokes = 0
        while batch:
            batch = self._expire(shard_id, batch, invokes)
            if not batch:
                return
            invokes += 1
            self.invocations += 1
            error: FunctionError | None = None
            try:
                result = self.runtime.invoke(self.trigger.function, stream_event(batch, self.stream_arn))
            except FunctionError as exc:
                error = exc
                log.warning("%s failed on %d records: %s", self.trigger.function, len(batch), exc)
            else:
                checkpoint = self._checkpoint(batch, result)
                if checkpoint is None:
                    return
                batch = batch[checkpoint:]  # the records before it are done
            if error is not None and self.trigger.bisect_on_error and len(batch) > 1:
                half = len(batch) // 2
                self._deliver(shard_id, batch[:half])
                self._deliver(shard_id, batch[half:])
                return
            retries += 1
            if 0 <= self.trigger.max_retries < retries:
                self._discard(shard_id, batch, "RetryAttemptsExhausted", invokes, error)
                return
            if self._stop.wait(min(RETRY_BASE_S * 2 ** (retries - 1), RETRY_CAP_S)):
                return  # stopping: the shard stays where it is, as an event-source mapping that is disabled

    def _checkpoint(self, batch: list[dict[str, Any]], result: Any) -> int | None:
        """Where a batch that returned ``result`` resumes: None when it succeeded, else the index of the first
        record to retry (0: the whole batch)."""
        if not self.trigger.report_failures or not isinstance(result, Mapping):
            return None
        failures = result.get("batchItemFailures")
        if not failures:
            return None
        index = {r["dynamodb"]["SequenceNumber"]: i for i, r in enumerate(batch)}
        found: list[int] = []
        for failure in failures if isinstance(failures, list) else [failures]:
            identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
            if not isinstance(identifier, str) or identifier not in index:
                log.warning("%s: invalid batchItemFailures entry %r: the whole batch failed", self.trigger.function,
                            failure)  # fmt: skip
                return 0
            found.append(index[identifier])
        log.warning("%s reported record %d of %d failed", self.trigger.function, min(found), len(batch))
        return min(found)

    def _expire(self, shard_id: str, batch: list[dict[str, Any]], invokes: int) -> list[dict[str, Any]]:
        """The batch without its records older than ``MaximumRecordAgeInSeconds`` (skipped and reported)."""
        limit = self.trigger.max_record_age_s
        if limit < 0:
            return batch
        now = datetime.now(UTC).timestamp()
        fresh = [r for r in batch if now - _arrival(r).timestamp() <= limit]
        if len(fresh) < len(batch):
            self._discard(shard_id, [r for r in batch if r not in fresh], "RecordAgeExceeded", invokes, None)
        return fresh

    def _discard(
        self, shard_id: str, batch: list[dict[str, Any]], condition: str, invokes: int, error: FunctionError | None
    ) -> None:
        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
        record = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{self.region}:123456789012:function:{self.trigger.function}",
                "condition": condition,
                "approximateInvokeCount": invokes,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                **({"functionError": "Unhandled"} if error is not None else {}),
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(_arrival(batch[0])),
                "approximateArrivalOfLastRecord": _iso(_arrival(batch[-1])),
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
        self.discarded.append(record)
        if self.on_failure_url is None:
            log.error("%s: dropped %d records (%s): %s", self.trigger.function, len(batch), condition, record)
            return
        log.error("%s: %d records to the on-failure destination (%s)", self.trigger.function, len(batch), condition)
        self._sqs.send_message(QueueUrl=self.on_failure_url, MessageBody=json.dumps(record))


def _arrival(record: Mapping[str, Any]) -> datetime:
    """When DynamoDB took the write (boto3 parses ``ApproximateCreationDateTime`` as a datetime)."""
    value = record["dynamodb"].get("ApproximateCreationDateTime")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), UTC) if value is not None else datetime.now(UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
