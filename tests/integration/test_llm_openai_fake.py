"""The OpenAI-compatible adapter against a local fake server on 127.0.0.1 (tests/llm_fakes.py): the request it
sends (forced tool, the schema), answers as a tool call or as JSON text, errors, and a server that hangs past the
timeout."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gpubroker.adapters.llm.openai_compat import OpenAICompatibleModel
from gpubroker.domain.llm import LlmBadAnswer, LlmError, LlmTimeout
from gpubroker.services.assistant.parse_llm import llm_schema
from tests.llm_fakes import GOOD_SPEC, FakeOpenAI, chat_answer, fake_openai


@pytest.fixture
def openai() -> Iterator[FakeOpenAI]:
    with fake_openai() as fake:
        yield fake


def test_openai_forces_the_tool_and_parses_its_arguments(openai: FakeOpenAI) -> None:
    model = OpenAICompatibleModel(openai.url, "mistral")
    assert model.complete_json("sys", "text", llm_schema(), timeout_s=3) == GOOD_SPEC
    sent = openai.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    body = sent["body"]
    assert body["model"] == "mistral" and body["messages"][0] == {"role": "system", "content": "sys"}
    assert body["tool_choice"] == {"type": "function", "function": {"name": "answer"}}
    assert body["tools"][0]["function"]["parameters"] == llm_schema()


def test_openai_accepts_the_json_as_text(openai: FakeOpenAI) -> None:
    openai.body = chat_answer(GOOD_SPEC, as_text=True)
    assert OpenAICompatibleModel(openai.url).complete_json("s", "t", {}, timeout_s=3) == GOOD_SPEC


@pytest.mark.parametrize(
    ("mode", "body", "error"),
    [("status", None, LlmError), ("garbage", None, LlmBadAnswer), ("answer", {"choices": []}, LlmBadAnswer),
     ("answer", chat_answer("{not json"), LlmBadAnswer), ("answer", chat_answer("[1, 2]"), LlmBadAnswer)],
)  # fmt: skip
def test_openai_failures_are_llm_errors(openai: FakeOpenAI, mode: str, body: Any, error: type[Exception]) -> None:
    openai.mode = mode
    if body is not None:
        openai.body = body
    with pytest.raises(error):
        OpenAICompatibleModel(openai.url).complete_json("s", "t", {}, timeout_s=3)


def test_openai_that_hangs_times_out_on_time(openai: FakeOpenAI) -> None:
    openai.mode = "hang"
    start = time.monotonic()
    with pytest.raises(LlmTimeout):
        OpenAICompatibleModel(openai.url).complete_json("s", "t", {}, timeout_s=0.3)
    assert time.monotonic() - start < 0.3 + 0.3


def test_openai_unreachable_is_an_error_and_never_names_the_prompt() -> None:
    with pytest.raises(LlmError) as info:
        OpenAICompatibleModel("http://127.0.0.1:9/v1").complete_json("s", "secret words", {}, timeout_s=1)
    assert "secret" not in str(info.value)


def test_the_api_key_is_sent_as_a_bearer_token(openai: FakeOpenAI) -> None:
    OpenAICompatibleModel(openai.url, api_key="k-123").complete_json("s", "t", {}, timeout_s=3)
    assert openai.requests[-1]["authorization"] == "Bearer k-123"
    assert "k-123" not in json.dumps(openai.requests[-1]["body"])


def test_an_endpoint_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        OpenAICompatibleModel("file:///etc/passwd")
