"""The audit spool: an SQS queue holding audit entries whose append failed, until the checkpoint function
re-appends them (``services.audit.replay_spooled``).

A message body is the entry's fields as JSON (``ts, actor, action, resource, request_id, outcome``). Delivery is
at least once: a message is deleted only after its entry is in the log, so a crash between the two re-appends it
(a duplicate entry, visible as such: same request id and time), never loses it.
"""

from __future__ import annotations

import json
from typing import Any

from gpubroker.adapters.aws import client


class SqsAuditSpool:
    def __init__(self, queue_url: str, *, visibility_s: int = 120) -> None:
        self.queue_url = queue_url
        self.visibility_s = visibility_s

    def put(self, entry: dict[str, str]) -> None:
        client("sqs").send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(entry, sort_keys=True))

    def take(self, max_n: int = 10) -> list[tuple[dict[str, Any], str]]:
        """Up to ``max_n`` (at most 10) spooled entries with their receipts; they stay hidden from other readers
        for ``visibility_s`` and come back if not ``done`` by then."""
        got = client("sqs").receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=min(max_n, 10),
                                            VisibilityTimeout=self.visibility_s, WaitTimeSeconds=0)  # fmt: skip
        return [(json.loads(m["Body"]), m["ReceiptHandle"]) for m in got.get("Messages", [])]

    def done(self, receipt: str) -> None:
        client("sqs").delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)
