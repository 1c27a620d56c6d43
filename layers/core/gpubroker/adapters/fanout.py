"""The fan-out queue (SQS): delivery chunks from the broadcaster to the workers that post them."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from gpubroker.adapters.aws import client

BATCH = 10  # SendMessageBatch's limit
SENDERS = 8  # SendMessageBatch calls at once: 100,000 subscribers are 500 chunks, 50 calls


class SqsFanoutQueue:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def send(self, bodies: Sequence[str]) -> None:
        """Queue every body; raises when SQS refuses one twice (the stream batch is then retried)."""
        batches = [bodies[i : i + BATCH] for i in range(0, len(bodies), BATCH)]
        if len(batches) <= 1:
            for batch in batches:
                self._send(batch)
            return
        with ThreadPoolExecutor(max_workers=min(SENDERS, len(batches))) as pool:
            list(pool.map(self._send, batches))

    def _send(self, batch: Sequence[str]) -> None:
        sqs = client("sqs")
        entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(batch)]
        for attempt in range(2):
            failed = sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries).get("Failed") or []
            if not failed:
                return
            ids = {f["Id"] for f in failed}
            entries = [e for e in entries if e["Id"] in ids]
            if attempt == 1:
                raise RuntimeError(f"SQS refused {len(entries)} fan-out chunks: {failed[0].get('Message')}")
