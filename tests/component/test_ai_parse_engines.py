"""POST /ai/parse-workload with each engine configured through the environment and the default wiring
(``ASSISTANT_ENGINE``): rules; bedrock (its boto3 client under botocore's Stubber); openai (a local fake server).
A signed-in caller (the authorizer's context) gets the model's answer; an anonymous one the rules engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from gpubroker.wiring.assistant_llm import parse_deps
from tests.component.conftest import handler_module
from tests.events import Ctx, rest_event
from tests.llm_fakes import BAD_SPEC, GOOD_SPEC, TEXT, FakeOpenAI, converse_answer, fake_openai

PATH = "/ai/parse-workload"


def post(text: str, *, user: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    ev = rest_event(PATH, PATH)
    ev["httpMethod"] = ev["requestContext"]["httpMethod"] = "POST"
    ev["body"] = json.dumps({"text": text})
    if user is not None:
        ev["requestContext"]["authorizer"] = user
    res = handler_module("api_ai_parse_workload").lambda_handler(ev, Ctx())
    return int(res["statusCode"]), json.loads(res["body"])


ALICE = {"user_id": "alice", "plan": "pro"}


@pytest.fixture(autouse=True)
def no_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "")  # the per-container breaker and budget: each test its own (caches cleared)


@pytest.fixture
def openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    with fake_openai() as fake:
        monkeypatch.setenv("ASSISTANT_ENGINE", "openai")
        monkeypatch.setenv("ASSISTANT_ENDPOINT", fake.url)
        monkeypatch.setenv("ASSISTANT_MODEL_ID", "mistral")
        monkeypatch.setenv("ASSISTANT_TIMEOUT_SECONDS", "0.5")
        yield fake


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    monkeypatch.setenv("ASSISTANT_ENGINE", "bedrock")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    engine = parse_deps().llm
    assert engine is not None and engine.model.engine == "bedrock"
    client = engine.model.client(engine.timeout_s)  # type: ignore[attr-defined]
    with Stubber(client) as stub:
        yield stub


def test_rules_is_the_default_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSISTANT_ENGINE", raising=False)
    assert parse_deps().llm is None
    status, answer = post(TEXT, user=ALICE)
    assert status == 200 and (answer["engine"], answer["fallback"]) == ("rules", None)


def test_openai_answers_a_signed_in_user(openai: FakeOpenAI) -> None:
    status, answer = post(TEXT, user=ALICE)
    assert status == 200, answer
    assert (answer["engine"], answer["fallback"]) == ("openai", None)
    assert answer["spec"]["model"]["value"] == "Llama 3.1 70B" and answer["workload"]["n_layers"] == 80
    assert openai.requests[-1]["body"]["model"] == "mistral"


def test_openai_anonymous_gets_rules_without_a_call(openai: FakeOpenAI) -> None:
    status, answer = post(TEXT)
    assert status == 200 and (answer["engine"], answer["fallback"]) == ("rules", "anonymous")
    assert openai.requests == []


@pytest.mark.parametrize(("mode", "reason"), [("hang", "timeout"), ("status", "error"), ("garbage", "invalid")])
def test_openai_failures_fall_back_to_rules(openai: FakeOpenAI, mode: str, reason: str) -> None:
    openai.mode = mode
    status, answer = post(TEXT, user=ALICE)
    assert status == 200 and (answer["engine"], answer["fallback"]) == ("rules", reason)
    assert answer["spec"]["model"]["value"] == "Llama 3.1 70B"  # the rules engine's reading


def test_bedrock_answers_a_signed_in_user(bedrock: Stubber) -> None:
    bedrock.add_response("converse", converse_answer(GOOD_SPEC))
    status, answer = post(TEXT, user=ALICE)
    assert status == 200 and (answer["engine"], answer["fallback"]) == ("bedrock", None)
    assert answer["spec"]["budget_usd"]["currency"] == "EUR"


def test_bedrock_error_and_invalid_answers_fall_back(bedrock: Stubber) -> None:
    bedrock.add_client_error("converse", service_error_code="ThrottlingException", http_status_code=429)
    bedrock.add_response("converse", converse_answer(BAD_SPEC))
    assert post(TEXT, user=ALICE)[1]["fallback"] == "error"
    status, answer = post(TEXT, user=ALICE)
    assert status == 200 and (answer["engine"], answer["fallback"]) == ("rules", "invalid")


def test_make_dev_takes_the_engine_from_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``ASSISTANT_ENGINE=openai ASSISTANT_ENDPOINT=http://127.0.0.1:11434/v1 make dev``: the local stack passes them
    as the template parameters the function's environment refers to."""
    from infra.local.stack import assistant_parameters
    from infra.local.template import NO_VALUE, read_app, resolve

    monkeypatch.setenv("ASSISTANT_ENGINE", "openai")
    monkeypatch.setenv("ASSISTANT_ENDPOINT", "http://127.0.0.1:11434/v1")
    monkeypatch.delenv("ASSISTANT_MODEL_ID", raising=False)
    params = assistant_parameters()
    assert params == {"AssistantEngine": "openai", "AssistantEndpoint": "http://127.0.0.1:11434/v1"}
    app = read_app()
    fn = app.functions["ApiAiParseWorkloadFunction"]
    conditions = app.template.get("Conditions") or {}  # as provision.py resolves them (the FIS/OTel wrappers are !If)
    resolved = {
        k: resolve(v, {}, {**app.parameter_defaults(), **params}, None, conditions) for k, v in fn.environment.items()
    }
    env = {k: v for k, v in resolved.items() if v != NO_VALUE}
    assert "AWS_LAMBDA_EXEC_WRAPPER" not in env  # neither chaos nor OpenTelemetry by default
    assert env["ASSISTANT_ENGINE"] == "openai" and env["ASSISTANT_ENDPOINT"] == "http://127.0.0.1:11434/v1"
    assert env["ASSISTANT_TIMEOUT_SECONDS"] == "3"
