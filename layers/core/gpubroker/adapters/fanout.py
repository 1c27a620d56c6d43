"""The fan-out queue (SQS): delivery chunks from the broadcaster to the workers that post them."""

from __future__ import annotations

from collections.abc import Sequence

from gpubroker.adapters.aws import client

BATCH = 10  # SendMessageBatch's limit


class SqsFanoutQueue:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def send(self, bodies: Sequence[str]) -> None:
        """Queue every body; raises when SQS refuses one twice (the stream batch is then retried)."""
        sqs = client("sqs")
        for start in range(0, len(bodies), BATCH):
            entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + BATCH])]
            for attempt in range(2):
                failed = sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries).get("Failed") or []
                if not failed:
                    break
                ids = {f["Id"] for f in failed}
                entries = [e for e in entries if e["Id"] in ids]
                if attempt == 1:
                    raise RuntimeError(f"SQS refused {len(entries)} fan-out chunks: {failed[0].get('Message')}")
