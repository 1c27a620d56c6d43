"""The request metrics middleware, the business metric helpers and the correlation id (issue 16 §1), and the local
stack's metrics page (infra/local/metrics.py). Metrics are switched on per test and read back from stdout as the
EMF documents CloudWatch would receive."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from gpubroker.adapters.breaker import report_state
from gpubroker.adapters.llm.timed import TimedLanguageModel
from gpubroker.domain.breaker import BreakerState
from gpubroker.observability import SAGA_CORRELATION_PATH, count, event_handler, logger, publish, request_metrics
from infra.local.metrics import EmfSink, as_text, summarize
from infra.local.template import condition, resolve
from tests.events import Ctx, rest_event


@pytest.fixture
def emf(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """EMF documents printed since the last call (metrics on)."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")

    def read() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]

    return read


def dims(doc: dict[str, Any]) -> list[list[str]]:
    return [sorted(d) for d in doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"]]


def test_one_request_is_counted_timed_and_classed_by_route_for_each_dimension_set(emf: Any) -> None:
    answer = {"statusCode": 503, "body": "{}"}

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return answer

    handler = request_metrics(handle)
    assert handler(rest_event("/bookings/{booking_id}", "/bookings/bk_1"), Ctx()) is answer
    (doc,) = emf()
    assert doc["route"] == "GET /bookings/{booking_id}" and doc["status_class"] == "5xx"  # the template, not the id
    assert dims(doc) == [["route", "service", "status_class"], ["route", "service"], ["service"]]
    assert (doc["Requests"], doc["Errors"], doc["ClientErrors"]) == ([1.0], [1.0], [0.0])
    (latency,) = doc["Latency"]
    assert 0 <= latency < 1000
    units = {m["Name"]: m["Unit"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {"Requests": "Count", "Latency": "Milliseconds", "Errors": "Count", "ClientErrors": "Count"}


@pytest.mark.parametrize(("status", "klass", "errors", "client"), [(200, "2xx", 0, 0), (404, "4xx", 0, 1)])
def test_status_classes(emf: Any, status: int, klass: str, errors: int, client: int) -> None:
    request_metrics(lambda e, c: {"statusCode": status})(rest_event("/offers", "/offers"), Ctx())
    (doc,) = emf()
    assert (doc["status_class"], doc["Errors"], doc["ClientErrors"]) == (klass, [float(errors)], [float(client)])


def test_a_handler_that_raises_is_counted_as_a_5xx_and_the_error_still_propagates(emf: Any) -> None:
    def boom(event: Any, context: Any) -> Any:
        raise RuntimeError("x")

    with pytest.raises(RuntimeError):
        request_metrics(boom)(rest_event("/offers", "/offers"), Ctx())
    (doc,) = emf()
    assert doc["status_class"] == "5xx" and doc["Errors"] == [1.0]


def test_every_api_function_answers_with_its_correlation_id_and_is_measured(emf: Any) -> None:
    """Through the real ``api_handler`` of a function: the id is API Gateway's request id, in the response header
    and the logger; the request's metrics are published once."""
    from functions.api_health import handler as health

    event = rest_event("/health", "/health")
    result = health.lambda_handler(event, Ctx())
    headers = result.get("multiValueHeaders") or {k: [v] for k, v in result["headers"].items()}
    assert headers["X-Correlation-Id"] == [event["requestContext"]["requestId"]]
    (doc,) = [d for d in emf() if "Requests" in d]
    assert (doc["route"], doc["status_class"]) == ("GET /health", "2xx")


def test_publish_rolls_up_to_the_service_and_never_fails_the_caller(emf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    count("OffersRejected", 3, provider="vast")
    (doc,) = emf()
    assert doc["provider"] == "vast" and doc["OffersRejected"] == [3.0]
    assert dims(doc) == [["provider", "service"], ["service"]]
    publish({"Bad": ("NotAUnit", 1.0)}, dimensions={"x": "y"})  # type: ignore[dict-item]  # logged, not raised
    assert emf() == []


def test_breaker_state_is_a_gauge_per_breaker(emf: Any) -> None:
    report_state("vast", BreakerState.OPEN)
    report_state("llm", BreakerState.HALF_OPEN)
    opened, half = emf()
    assert (opened["breaker"], opened["BreakerOpen"]) == ("vast", [1.0])
    assert (half["breaker"], half["BreakerOpen"]) == ("llm", [0.0])


class _Model:
    engine = "openai"

    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def complete_json(self, system: str, user: str, schema: Any, *, timeout_s: float) -> dict[str, Any]:
        if self.fail:
            raise TimeoutError("slow")
        return {"ok": True}

    def converse(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def test_llm_calls_are_timed_and_failures_counted_then_reraised(emf: Any) -> None:
    assert TimedLanguageModel(_Model(fail=False)).complete_json("s", "u", {}, timeout_s=1) == {"ok": True}
    with pytest.raises(TimeoutError):
        TimedLanguageModel(_Model(fail=True)).complete_json("s", "u", {}, timeout_s=1)
    ok, failed = emf()
    assert (ok["engine"], ok["LlmCalls"], ok["LlmErrors"]) == ("openai", [1.0], [0.0])
    assert failed["LlmErrors"] == [1.0] and failed["LlmLatency"][0] >= 0


def test_a_saga_step_logs_under_the_creating_requests_correlation_id() -> None:
    seen: list[str | None] = []

    @event_handler(lambda: None, correlation_id_path=SAGA_CORRELATION_PATH)
    def step(event: dict[str, Any], context: Any, deps: Any) -> None:
        seen.append(logger.get_correlation_id())

    step({"booking_id": "bk_1", "user_id": "u", "correlation_id": "req-1"}, Ctx())
    step({"booking_id": "bk_2", "user_id": "u"}, Ctx())  # an execution started before the id was carried
    assert seen == ["req-1", "bk_2"]


# ------------------------------------------------------------------------------------------- the local stack's page


def test_the_sink_sends_emf_lines_to_the_file_and_the_rest_to_the_terminal(tmp_path: Path) -> None:
    out, path = io.StringIO(), tmp_path / "m.jsonl"
    sink = EmfSink(out, str(path))
    doc = '{"_aws":{"CloudWatchMetrics":[]},"X":[1]}'
    sink.write("hello\n" + doc[:10])
    sink.write(doc[10:] + "\nbye\n")
    assert out.getvalue() == "hello\nbye\n"
    assert path.read_text() == doc + "\n"


def _doc(route: str, latency: float, status_class: str = "2xx") -> str:
    directive = {
        "Namespace": "GPUBroker",
        "Dimensions": [["route", "service", "status_class"], ["route", "service"]],
        "Metrics": [{"Name": "Requests", "Unit": "Count"}, {"Name": "Latency", "Unit": "Milliseconds"}],
    }
    values = {"service": "gpubroker", "route": route, "status_class": status_class, "Requests": [1.0]}
    return json.dumps({"_aws": {"Timestamp": 0, "CloudWatchMetrics": [directive]}, **values, "Latency": [latency]})


def test_summary_aggregates_series_as_cloudwatch_would(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    lines = [_doc("GET /offers", float(ms)) for ms in range(1, 101)] + [_doc("GET /offers", 5.0, "4xx"), "not json"]
    path.write_text("\n".join(lines) + "\n")
    by_route = summarize(path, name="Latency", dimension="route")
    assert [(s["dimensions"]["route"], s["count"]) for s in by_route] == [("GET /offers", 101)]
    (latency,) = by_route
    assert (latency["min"], latency["max"], latency["p50"], latency["p99"]) == (1.0, 100.0, 50.0, 99.0)
    per_class = summarize(path, name="Requests", dimension="route,status_class")
    classes = {s["dimensions"]["status_class"]: s["count"] for s in per_class}
    assert classes == {"2xx": 100, "4xx": 1}
    assert "route=GET /offers" in as_text(by_route)
    assert summarize(tmp_path / "none.jsonl") == []


def test_the_local_template_reader_resolves_if_by_the_conditions() -> None:
    conditions = {"FromSecret": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Secret"}, ""]}]}}
    value = {"Fn::If": ["FromSecret", {"Fn::Sub": "{{resolve:secretsmanager:${Secret}:SecretString:url}}"},
                        {"Ref": "RedisUrl"}]}  # fmt: skip
    params = {"Secret": "", "RedisUrl": "redis://x"}
    assert resolve(value, {}, params, conditions=conditions) == "redis://x"
    assert condition("FromSecret", conditions, {**params, "Secret": "s"}) is True


def test_a_per_process_breaker_reports_its_state_and_its_opening(emf: Any) -> None:
    """Without Redis (``REDIS_URL`` empty) the per-container breaker feeds ``BreakerOpenAlarm`` too; as the Redis
    breaker's fallback it stays silent (the Redis breaker reports)."""
    from gpubroker.adapters.breaker import MemoryCircuitBreaker
    from gpubroker.domain.breaker import BreakerConfig

    breaker = MemoryCircuitBreaker("vast", config=BreakerConfig(failures=2))
    assert breaker.allow()
    breaker.record_failure()
    breaker.record_failure()
    assert not breaker.allow()
    docs = emf()
    assert [(d.get("BreakerOpen"), d.get("BreakerOpened")) for d in docs] == [
        ([0.0], None),
        (None, [1.0]),
        ([1.0], None),
    ]
    silent = MemoryCircuitBreaker("llm", config=BreakerConfig(failures=1), reports=False)
    silent.allow()
    silent.record_failure()
    assert emf() == []
