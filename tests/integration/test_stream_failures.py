"""Nothing on the live-price path is lost without a trace: the local stack's event-source pollers handle failures
as Lambda does (partial batch responses, bisection, retries, the on-failure destination, the queue's redrive), and
the broadcaster reports the record it cannot read.

The stream pollers read the offers table's real (moto) stream and invoke either the real broadcaster or the small
functions of this module (``Function`` entries pointing here), so each rule of the event-source mapping is seen
through real records and a real SQS destination.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from gpubroker.adapters.connections import DynamoConnectionRepository
from gpubroker.adapters.price_feed import DynamoPriceFeed
from gpubroker.services.broadcast import UnreadableStreamRecord
from infra.local.dead_letters import read as dead_letters_read
from infra.local.queues import QueuePoller, sqs_event
from infra.local.runtime import Runtime
from infra.local.streams import StreamPoller
from infra.local.template import ROOT, App, Function, QueueTrigger, StreamTrigger
from tests.component.test_ws_handlers import filters
from tests.conftest import clear_wiring_caches
from tests.fakes_live import offer
from tests.integration.conftest import Endpoint

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("aws")]

# ---- functions the pollers invoke (this module, by name, as the runtime imports a handler) -----------------------

CALLS: list[list[str]] = []  # the offer ids of each invocation's records
ANSWER: dict[str, Any] = {}  # what report_handler answers: {"fail": offer id} or {"raw": any response}


def _ids(event: dict[str, Any]) -> list[str]:
    return [r["dynamodb"]["Keys"]["offer_id"]["S"] for r in event["Records"]]


def _seq(event: dict[str, Any], offer_id: str) -> str:
    return str(next(r["dynamodb"]["SequenceNumber"] for r in event["Records"] if _ids({"Records": [r]})[0] == offer_id))


def report_handler(event: dict[str, Any], context: Any) -> Any:
    """Reports the record ``ANSWER["fail"]`` failed each time it is in the batch, or answers ``ANSWER["raw"]``."""
    CALLS.append(_ids(event))
    if "raw" in ANSWER:
        return ANSWER["raw"]
    failing = ANSWER.get("fail")
    if failing in _ids(event):
        return {"batchItemFailures": [{"itemIdentifier": _seq(event, failing)}]}
    return {"batchItemFailures": []}


def raising_handler(event: dict[str, Any], context: Any) -> Any:
    """Raises while the record ``ANSWER["fail"]`` is in the batch."""
    CALLS.append(_ids(event))
    if ANSWER.get("fail") in _ids(event):
        raise ValueError("poison")
    return None


QUEUE_CALLS: list[list[str]] = []


def queue_handler(event: dict[str, Any], context: Any) -> Any:
    """An SQS function answering ``ANSWER["raw"]``."""
    QUEUE_CALLS.append([r["body"] for r in event["Records"]])
    return ANSWER.get("raw")


def local_app(*names: str) -> App:
    functions = {n: Function(n, ROOT / "tests" / "integration", f"test_stream_failures.{n}") for n in names}
    return App(template={"Resources": {}}, functions=functions, routes=[], schedules=[], global_env={})


# ---- fixtures ------------------------------------------------------------------------------------------------------


@pytest.fixture
def offers(endpoint: Endpoint) -> Iterator[Any]:
    table = boto3.resource("dynamodb", endpoint_url=endpoint.url).Table(endpoint.names["OffersTable"])
    written: list[str] = []
    yield table, written
    for offer_id in written:
        table.delete_item(Key={"offer_id": offer_id})


@pytest.fixture
def feed_restored(endpoint: Endpoint) -> Iterator[None]:
    """The price feed as it was before the test (other modules number their changes from 1)."""
    table = boto3.resource("dynamodb", endpoint_url=endpoint.url).Table(endpoint.names["PriceFeedTable"])
    before = table.scan(ConsistentRead=True)["Items"]
    yield
    keys = {(i["feed"], i["seq"]) for i in before}
    for item in table.scan(ConsistentRead=True)["Items"]:
        if (item["feed"], item["seq"]) not in keys:
            table.delete_item(Key={"feed": item["feed"], "seq": item["seq"]})
    for item in before:
        table.put_item(Item=item)


@pytest.fixture
def dead_letters(endpoint: Endpoint) -> Iterator[Any]:
    """The on-failure queue of the offers stream (LivePricesDeadLetterQueue), emptied before and after."""
    sqs = boto3.client("sqs", endpoint_url=endpoint.url)
    url = endpoint.names["LivePricesDeadLetterQueue"]
    drain(sqs, url)
    yield sqs, url
    drain(sqs, url)


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages") or []
        if not got:
            return out
        for m in got:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def put(offers: tuple[Any, list[str]], offer_id: str, price: Any) -> None:
    table, written = offers
    item: dict[str, Any] = json.loads(json.dumps(offer(offer_id, 1.0, gpu_count=1)), parse_float=Decimal)
    item["price_per_gpu_hour"] = price
    table.put_item(Item=item)
    written.append(offer_id)


def poller(endpoint: Endpoint, runtime: Runtime, trigger: StreamTrigger, on_failure: str | None) -> StreamPoller:
    p = StreamPoller(runtime, trigger, endpoint.names["OffersTable"], endpoint_url=endpoint.url,
                     on_failure_url=on_failure)  # fmt: skip
    p._refresh_shards()  # iterators at LATEST: the writes of the test from here on
    return p


def template_trigger(endpoint: Endpoint) -> StreamTrigger:
    return next(t for t in endpoint.app.stream_triggers if t.function == "StreamPushPricesFunction")


# ---- the broadcaster on the real stream ------------------------------------------------------------------------------


class ConnectionsEndpoint:
    """The WebSocket API's ``@connections`` endpoint on 127.0.0.1: records what is posted to whom."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.posts.append((self.path.rsplit("/", 1)[-1], json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/local"

    def offer_ids(self, connection_id: str) -> list[str]:
        out = []
        for to, frame in self.posts:
            if to == connection_id:
                out += [m["offer_id"] for m in frame.get("messages", [frame]) if m.get("type") == "price"]
        return out


def test_an_unreadable_record_goes_to_the_on_failure_queue_with_its_batch_info_and_the_others_are_delivered(
    endpoint: Endpoint, offers: Any, dead_letters: Any, feed_restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs, dlq = dead_letters
    sockets = ConnectionsEndpoint()
    monkeypatch.setenv("WEBSOCKET_ENDPOINT", sockets.url)
    monkeypatch.setenv("BROADCAST_CONCURRENCY", "1")
    clear_wiring_caches()
    connections = DynamoConnectionRepository(endpoint.names["ConnectionsTable"])
    now = datetime.now(UTC)
    connections.connect("it-sf-1", at=now, user_id=None)
    connections.subscribe("it-sf-1", filters(provider="runpod"), at=now)
    feed = DynamoPriceFeed(endpoint.names["PriceFeedTable"])
    head = feed.head()

    trigger = template_trigger(endpoint)
    assert trigger.report_failures and trigger.bisect_on_error and trigger.on_failure == "LivePricesDeadLetterQueue"
    stream = poller(endpoint, Runtime(endpoint.app, isolated=False), trigger, endpoint.names[trigger.on_failure])
    put(offers, "runpod-it-sf-good-1", Decimal("1.10"))
    put(offers, "runpod-it-sf-poison", "one dollar")  # a writer's bug: the broadcaster cannot read this price
    put(offers, "runpod-it-sf-good-2", Decimal("1.20"))
    try:
        assert stream.poll_once() == 3  # one batch of three, one shard
    finally:
        connections.delete("it-sf-1")
        sockets.server.shutdown()

    # the readable records are delivered once each, in order, numbered in the feed
    assert sockets.offer_ids("it-sf-1") == ["runpod-it-sf-good-1", "runpod-it-sf-good-2"]
    assert feed.head() == head + 2
    # the unreadable one is in the on-failure queue: Lambda's invocation record, alone in its batch info, which
    # is enough to read the record back from the stream (`make dead-letters`)
    streams = boto3.client("dynamodbstreams", endpoint_url=endpoint.url)
    (letter,) = dead_letters_read(sqs, streams, dlq, delete=True)
    assert letter["kind"] == "stream-batch" and letter["condition"] == "RetryAttemptsExhausted"
    assert letter["invokes"] == 1 + trigger.max_retries and letter["function_error"] == "Unhandled"
    info = letter["batch"]
    assert info["batchSize"] == 1 and info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["streamArn"] == stream.stream_arn
    (back,) = letter["records"]
    assert back["new_image"]["offer_id"] == {"S": "runpod-it-sf-poison"}
    assert back["new_image"]["price_per_gpu_hour"] == {"S": "one dollar"}
    (record,) = stream.discarded  # the message as sent: Lambda's invocation record
    assert set(record) == {"requestContext", "responseContext", "version", "timestamp", "DDBStreamBatchInfo"}
    assert record["requestContext"]["functionArn"].endswith(":function:StreamPushPricesFunction")
    assert drain(sqs, dlq) == []


def test_the_broadcaster_reports_the_first_unreadable_record_and_raises_when_it_comes_first(
    endpoint: Endpoint, offers: Any, feed_restored: None
) -> None:
    """The partial batch response itself: records before the poison are broadcast, its sequence number is
    reported; a batch that starts with it raises (so that Lambda bisects)."""
    clear_wiring_caches()
    import functions.stream_push_prices.handler as mod
    from tests.events import Ctx

    records: list[dict[str, Any]] = []

    class Capture:
        def invoke(self, name: str, event: dict[str, Any]) -> Any:
            records.extend(event["Records"])
            return None

    stream = poller(endpoint, Capture(), replace(template_trigger(endpoint), report_failures=False), None)  # type: ignore[arg-type]
    put(offers, "runpod-it-sf-a", Decimal("1.10"))
    put(offers, "runpod-it-sf-b", "n/a")
    put(offers, "runpod-it-sf-c", Decimal("1.30"))
    stream.poll_once()
    assert len(records) == 3
    raw = {"Records": records}
    feed = DynamoPriceFeed(endpoint.names["PriceFeedTable"])
    head = feed.head()
    out = mod.lambda_handler(raw, Ctx())
    assert out["batchItemFailures"] == [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]
    assert out["changes"] == 1 and feed.head() == head + 1  # only the record before the poison
    with pytest.raises(UnreadableStreamRecord):
        mod.lambda_handler({"Records": raw["Records"][1:]}, Ctx())
    assert mod.lambda_handler({"Records": raw["Records"][2:]}, Ctx())["batchItemFailures"] == []


# ---- the event-source mapping's rules, with this module's functions ----------------------------------------------


@pytest.fixture
def calls() -> Iterator[list[list[str]]]:
    CALLS.clear()
    ANSWER.clear()
    yield CALLS
    ANSWER.clear()


def synthetic(name: str, **kw: Any) -> StreamTrigger:
    base = StreamTrigger(function=name, table="OffersTable", batch_size=100, bisect_on_error=False, max_retries=2,
                         report_failures=True)  # fmt: skip
    return replace(base, **kw)


def test_a_partial_batch_response_checkpoints_before_the_failed_record_and_retries_from_it(
    endpoint: Endpoint, offers: Any, dead_letters: Any, calls: list[list[str]]
) -> None:
    sqs, dlq = dead_letters
    ANSWER["fail"] = "x-3"
    stream = poller(endpoint, Runtime(local_app("report_handler"), isolated=False), synthetic("report_handler"), dlq)
    for i in range(1, 6):
        put(offers, f"x-{i}", Decimal(i))
    stream.poll_once()
    # x-1, x-2 are done at the first answer; x-3.. are retried (2 retries), then skipped to the destination
    assert calls == [["x-1", "x-2", "x-3", "x-4", "x-5"], ["x-3", "x-4", "x-5"], ["x-3", "x-4", "x-5"]]
    (record,) = drain(sqs, dlq)
    assert record["DDBStreamBatchInfo"]["batchSize"] == 3
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert "functionError" not in record["responseContext"]  # it answered; it did not raise


@pytest.mark.parametrize(
    "answer",
    [
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"identifier": "1"}]},
        {"batchItemFailures": [{"itemIdentifier": "999999999999"}]},  # no such record in the batch
    ],
)
def test_an_invalid_partial_response_fails_the_whole_batch(
    endpoint: Endpoint, offers: Any, dead_letters: Any, calls: list[list[str]], answer: dict[str, Any]
) -> None:
    sqs, dlq = dead_letters
    ANSWER["raw"] = answer
    stream = poller(
        endpoint, Runtime(local_app("report_handler"), isolated=False), synthetic("report_handler", max_retries=1), dlq
    )
    put(offers, "y-1", Decimal(1))
    put(offers, "y-2", Decimal(2))
    stream.poll_once()
    assert calls == [["y-1", "y-2"], ["y-1", "y-2"]]
    assert drain(sqs, dlq)[0]["DDBStreamBatchInfo"]["batchSize"] == 2


def test_without_report_batch_item_failures_the_answer_is_ignored(
    endpoint: Endpoint, offers: Any, dead_letters: Any, calls: list[list[str]]
) -> None:
    sqs, dlq = dead_letters
    ANSWER["fail"] = "z-1"
    trigger = synthetic("report_handler", report_failures=False)
    stream = poller(endpoint, Runtime(local_app("report_handler"), isolated=False), trigger, dlq)
    put(offers, "z-1", Decimal(1))
    stream.poll_once()
    assert calls == [["z-1"]] and drain(sqs, dlq) == []


def test_a_function_error_bisects_until_the_poison_record_is_alone(
    endpoint: Endpoint, offers: Any, dead_letters: Any, calls: list[list[str]]
) -> None:
    sqs, dlq = dead_letters
    ANSWER["fail"] = "w-3"
    trigger = synthetic("raising_handler", bisect_on_error=True, max_retries=1)
    stream = poller(endpoint, Runtime(local_app("raising_handler"), isolated=False), trigger, dlq)
    for i in range(1, 5):
        put(offers, f"w-{i}", Decimal(i))
    stream.poll_once()
    assert calls == [["w-1", "w-2", "w-3", "w-4"], ["w-1", "w-2"], ["w-3", "w-4"], ["w-3"], ["w-3"], ["w-4"]]
    (record,) = drain(sqs, dlq)
    assert record["DDBStreamBatchInfo"]["batchSize"] == 1
    assert record["responseContext"]["functionError"] == "Unhandled"


def test_records_older_than_the_maximum_age_are_skipped_to_the_destination(
    endpoint: Endpoint, offers: Any, dead_letters: Any, calls: list[list[str]]
) -> None:
    sqs, dlq = dead_letters
    trigger = synthetic("report_handler", max_record_age_s=0)
    stream = poller(endpoint, Runtime(local_app("report_handler"), isolated=False), trigger, dlq)
    put(offers, "v-1", Decimal(1))
    time.sleep(1.1)
    stream.poll_once()
    assert calls == []
    (record,) = drain(sqs, dlq)
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"


# ---- the SQS poller -------------------------------------------------------------------------------------------------


@pytest.fixture
def queue(endpoint: Endpoint) -> Iterator[tuple[Any, str, str]]:
    """A queue with a dead-letter queue after 2 receives and a 1 s visibility timeout (the fan-out queue's shape)."""
    sqs = boto3.client("sqs", endpoint_url=endpoint.url)
    stem = f"it-sf-{int(time.time() * 1000)}"
    dlq = sqs.create_queue(QueueName=f"{stem}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url = sqs.create_queue(QueueName=stem, Attributes={"VisibilityTimeout": "1", "RedrivePolicy": redrive})["QueueUrl"]
    QUEUE_CALLS.clear()
    ANSWER.clear()
    yield sqs, url, dlq
    ANSWER.clear()
    sqs.delete_queue(QueueUrl=url)
    sqs.delete_queue(QueueUrl=dlq)


def queue_poller(endpoint: Endpoint, url: str) -> QueuePoller:
    trigger = QueueTrigger(function="queue_handler", queue="Q", batch_size=10, max_concurrency=1, report_failures=True)
    runtime = Runtime(local_app("queue_handler"), isolated=False)
    return QueuePoller(runtime, trigger, url, "arn:aws:sqs:us-east-1:123456789012:q",
                       endpoint_url=endpoint.url, wait_s=0)  # fmt: skip


def receive_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"])
    return list(got.get("Messages") or [])


@pytest.mark.parametrize(
    "answer",
    [
        {"batchItemFailures": [{"itemIdentifier": "not-a-message-of-the-batch"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"id": "x"}]},
    ],
)
def test_sqs_an_invalid_partial_response_deletes_nothing(
    endpoint: Endpoint, queue: tuple[Any, str, str], answer: dict[str, Any]
) -> None:
    sqs, url, _ = queue
    sqs.send_message(QueueUrl=url, MessageBody="a")
    sqs.send_message(QueueUrl=url, MessageBody="b")
    ANSWER["raw"] = answer
    p = queue_poller(endpoint, url)
    p.deliver(receive_all(sqs, url))
    time.sleep(1.1)
    assert sorted(m["Body"] for m in receive_all(sqs, url)) == ["a", "b"]  # both came back


def test_sqs_a_reported_message_comes_back_and_lands_in_the_dead_letter_queue(
    endpoint: Endpoint, queue: tuple[Any, str, str]
) -> None:
    sqs, url, dlq = queue
    sqs.send_message(QueueUrl=url, MessageBody="ok")
    sqs.send_message(QueueUrl=url, MessageBody="bad")
    p = queue_poller(endpoint, url)
    for _ in range(3):
        messages = receive_all(sqs, url)
        bad = [m["MessageId"] for m in messages if m["Body"] == "bad"]
        ANSWER["raw"] = {"batchItemFailures": [{"itemIdentifier": i} for i in bad]}
        if messages:
            p.deliver(messages)
        time.sleep(1.1)
    assert [b for call in QUEUE_CALLS for b in call] == ["ok", "bad", "bad"]  # "ok" deleted at once
    (dead,) = receive_all(sqs, dlq)
    assert dead["Body"] == "bad"
    assert receive_all(sqs, url) == []
    assert sqs_event(receive_all(sqs, url), "arn") == {"Records": []}


def test_dead_letters_describes_a_fanout_chunk_and_needs_a_stack_or_a_url(tmp_path: Any) -> None:
    from gpubroker.domain.subscriptions import DeliveryChunk
    from infra.local.dead_letters import describe, main

    chunk = DeliveryChunk(at=datetime.now(UTC), messages=['{"type":"price"}'], to=[("c-1", [0]), ("c-2", [0])])
    assert describe(chunk.model_dump_json(), None) == {
        "kind": "fanout-chunk", "at": chunk.model_dump(mode="json")["at"], "messages": 1, "connections": 2,
    }  # fmt: skip
    assert describe("not json", None) == {"kind": "unknown", "body": "not json"}
    assert main(["--state-file", str(tmp_path / "none.json")]) == 2
