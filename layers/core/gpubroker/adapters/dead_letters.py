"""The booking dead-letter queue (``BOOKING_DLQ_URL``): a booking whose compensation failed after its retries, for
an operator (``BookingDeadLetterAlarm`` fires while a message is visible). A message body is the booking's ids,
the saga's record (instance, PaymentIntent, refund) and the ASL error, as JSON: never connection details."""

from __future__ import annotations

import json
from typing import Any

from gpubroker.adapters.aws import client


class SqsBookingDeadLetters:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def put(self, message: dict[str, Any]) -> None:
        client("sqs").send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(message, sort_keys=True))
