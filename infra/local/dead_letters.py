"""``make dead-letters``: what the live prices could not deliver, read from LivePricesDeadLetterQueue (or, with
``--queue BookingPushDeadLetterQueue``, the bookings-stream batches whose status pushes failed for good).

Two kinds of message land there (template.yaml): the **invocation records** of offers-stream batches the
broadcaster failed on after its retries (the stream mapping's ``DestinationConfig.OnFailure``: Lambda sends the
batch's shard and sequence numbers, never the records) and **fan-out chunks** that failed ``maxReceiveCount``
times (the fan-out queue's redrive policy: the chunk itself). Prints one JSON object per message; for a stream
batch it reads the records back from the stream (``AT_SEQUENCE_NUMBER``, up to the batch's last sequence number:
DynamoDB Streams keeps them 24 hours), so the failed offers' images are shown.

Against the running local stack by default (its state file names the queue and the endpoint); against AWS with
``--queue-url`` (the stack's queue) and the ambient credentials. Messages stay in the queue (they are hidden for
``--visibility`` seconds while read) unless ``--delete`` is given. Exit status 0; 2 with no stack and no URL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3

from infra.local.streams import _lambda_shape
from infra.local.template import ROOT

QUEUE = "LivePricesDeadLetterQueue"


def stream_records(streams: Any, info: dict[str, Any], *, limit: int = 1000) -> list[dict[str, Any]]:
    """The records of a failed batch (``DDBStreamBatchInfo``), read back from the stream."""
    iterator = streams.get_shard_iterator(
        StreamArn=info["streamArn"], ShardId=info["shardId"], ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=info["startSequenceNumber"],
    )["ShardIterator"]  # fmt: skip
    last, out = int(info["endSequenceNumber"]), list[dict[str, Any]]()
    while iterator and len(out) < limit:
        page = streams.get_records(ShardIterator=iterator, Limit=min(1000, limit))
        for record in page.get("Records") or []:
            if int(record["dynamodb"]["SequenceNumber"]) > last:
                return out
            out.append(_lambda_shape(record))
        if not page.get("Records"):
            return out
        iterator = page.get("NextShardIterator")
    return out


def describe(body: str, streams: Any) -> dict[str, Any]:
    """One dead letter as a report: a stream batch with its records, a fan-out chunk's size, or the raw body."""
    try:
        message = json.loads(body)
    except json.JSONDecodeError:
        return {"kind": "unknown", "body": body}
    if isinstance(message, dict) and "DDBStreamBatchInfo" in message:
        info = message["DDBStreamBatchInfo"]
        error: str | None = None
        try:
            records = stream_records(streams, info)
        except Exception as exc:  # trimmed from the stream (older than 24 h), or another stream
            records, error = [], f"{type(exc).__name__}: {exc}"
        return {
            "kind": "stream-batch",
            "condition": message.get("requestContext", {}).get("condition"),
            "function_error": message.get("responseContext", {}).get("functionError"),
            "invokes": message.get("requestContext", {}).get("approximateInvokeCount"),
            "timestamp": message.get("timestamp"),
            "batch": info,
            "records": [
                {
                    "sequence": r["dynamodb"]["SequenceNumber"],
                    "event": r.get("eventName"),
                    "keys": r["dynamodb"].get("Keys"),
                    "new_image": r["dynamodb"].get("NewImage"),
                    "old_image": r["dynamodb"].get("OldImage"),
                }
                for r in records
            ],
            **({"read_error": error} if error else {}),
        }
    if isinstance(message, dict) and {"at", "messages", "to"} <= set(message):
        return {"kind": "fanout-chunk", "at": message["at"], "messages": len(message["messages"]),
                "connections": len(message["to"])}  # fmt: skip
    return {"kind": "unknown", "body": message}


def read(sqs: Any, streams: Any, queue_url: str, *, visibility: int = 30, delete: bool = False) -> list[dict[str, Any]]:
    """Every message of the queue, described; each read once (hidden ``visibility`` s), deleted if ``delete``."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=visibility,
            AttributeNames=["All"],
        ).get("Messages") or []  # fmt: skip
        fresh = [m for m in got if m["MessageId"] not in seen]
        if not fresh:
            return out
        for m in fresh:
            seen.add(m["MessageId"])
            out.append({"message_id": m["MessageId"], "sent": m.get("Attributes", {}).get("SentTimestamp"),
                        **describe(m["Body"], streams)})  # fmt: skip
            if delete:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue", default=QUEUE,
                        help="its logical id in the local stack (default: %(default)s; BookingPushDeadLetterQueue:"
                             " the booking status pushes)")  # fmt: skip
    parser.add_argument("--queue-url", help="the queue's URL (default: the running local stack's)")
    parser.add_argument("--endpoint-url", help="an AWS-compatible endpoint (default: the local stack's, else AWS)")
    parser.add_argument("--state-file", default=str(ROOT / ".local/stack.json"))
    parser.add_argument("--visibility", type=int, default=30, help="seconds each message stays hidden once read")
    parser.add_argument("--delete", action="store_true", help="delete each message once printed")
    args = parser.parse_args(argv)
    url, endpoint = args.queue_url, args.endpoint_url
    if url is None:
        state_file = Path(args.state_file)
        if not state_file.exists():
            print(f"no local stack running ({state_file} missing): start `make dev`, or give --queue-url",
                  file=sys.stderr)  # fmt: skip
            return 2
        state = json.loads(state_file.read_text())
        url, endpoint = state["names"][args.queue], endpoint or state["aws_endpoint"]
        for key, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}.items():
            os.environ.setdefault(key, value)  # moto takes any credentials
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=region)
    streams = boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name=region)
    letters = read(sqs, streams, url, visibility=args.visibility, delete=args.delete)
    for letter in letters:
        print(json.dumps(letter, default=str))
    print(f"{len(letters)} dead letter(s) in {url}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
