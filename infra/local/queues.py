"""SQS event sources of the local stack: poll the queue in moto, invoke the mapped function, delete what it handled.

What Lambda's SQS event-source mapping does, read from the template (``Events: {Type: SQS}``): long-poll batches
of ``BatchSize`` in the real SQS event shape; on success every message is deleted except those the function lists
in ``batchItemFailures`` (``ReportBatchItemFailures``); a function error deletes nothing, nor does an invalid
partial response (an entry without a non-empty ``itemIdentifier``, or one naming no message of the batch: AWS
then treats the whole batch as failed, docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html), so
the messages come back after the queue's visibility timeout and, past its redrive policy's ``maxReceiveCount``,
moto moves them to the dead-letter queue.
Concurrency is ``min(ScalingConfig.MaximumConcurrency, GPUBROKER_QUEUE_WORKERS)``
pollers, each in a process of its own (infra/local/stream_worker.py ``serve``): one Lambda execution environment
each, as concurrent invocations in AWS never share an interpreter.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any

import boto3

from infra.local.runtime import FunctionError, Runtime
from infra.local.template import QueueTrigger

log = logging.getLogger("gpubroker.local.queues")

DEFAULT_LOCAL_CONCURRENCY = 3  # the machines this runs on have 2 cores; measured in docs/decisions.md


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str = "us-east-1") -> dict[str, Any]:
    """Lambda's SQS event for ``messages`` as ``receive_message`` returned them."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes") or {},
                "messageAttributes": m.get("MessageAttributes") or {},
                "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class QueuePoller:
    def __init__(
        self,
        runtime: Runtime,
        trigger: QueueTrigger,
        queue_url: str,
        queue_arn: str,
        *,
        endpoint_url: str,
        region: str = "us-east-1",
        wait_s: int = 1,
    ) -> None:
        self.runtime = runtime
        self.trigger = trigger
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.wait_s = wait_s
        self._sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=region)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.invocations = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"queue-{self.trigger.function}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.wait_s + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                got = self._sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=min(self.trigger.batch_size, 10),
                    WaitTimeSeconds=self.wait_s,
                    AttributeNames=["All"],
                )
            except Exception:  # the endpoint is going away (stop) or hiccuped: try again
                log.debug("receive_message failed", exc_info=True)
                self._stop.wait(0.5)
                continue
            messages = got.get("Messages") or []
            if messages:
                self.deliver(messages)

    def deliver(self, messages: list[dict[str, Any]]) -> None:
        self.invocations += 1
        try:
            result = self.runtime.invoke(self.trigger.function, sqs_event(messages, self.queue_arn))
        except FunctionError as exc:  # nothing deleted: the batch comes back after the visibility timeout
            log.warning("%s failed on %d messages: %s", self.trigger.function, len(messages), exc)
            return
        failed = self.failed_ids(messages, result)
        if failed is None:
            log.warning("%s: invalid batchItemFailures %r: the whole batch failed", self.trigger.function, result)
            return
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )

    def failed_ids(self, messages: list[dict[str, Any]], result: Any) -> set[str] | None:
        """The message ids a partial batch response reports failed; None when the response is invalid (the whole
        batch failed). Without ``ReportBatchItemFailures`` the response is ignored."""
        if not self.trigger.report_failures or not isinstance(result, dict):
            return set()
        failures = result.get("batchItemFailures")
        if not failures:
            return set()
        ids = {m["MessageId"] for m in messages}
        failed: set[str] = set()
        for failure in failures if isinstance(failures, list) else [failures]:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not isinstance(identifier, str) or identifier not in ids:
                return None
            failed.add(identifier)
        return failed


def trigger_for(triggers: list[QueueTrigger], function: str) -> QueueTrigger:
    return next(t for t in triggers if t.function == function)
