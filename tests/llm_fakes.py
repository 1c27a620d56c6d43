"""Test doubles of a language model: a local OpenAI-compatible server (``FakeOpenAI``: http.server on 127.0.0.1,
a thread) whose behaviour each test sets, and Converse answers for botocore's Stubber."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GOOD_SPEC: dict[str, Any] = {
    "workload_type": {"value": "llm_inference", "confidence": 0.9},
    "model": {"value": "llama 3.1 70b instruct", "confidence": 0.9},
    "precision": {"value": "fp16", "written": "fp16", "confidence": 0.9},
    "context_tokens": {"value": 4096, "confidence": 0.9},
    "concurrency": {"value": 8, "confidence": 0.9},
    "budget_usd": {"amount": 10, "currency": "EUR", "period": "hour", "confidence": 0.8},
    "region": {"written": ["Germany"], "confidence": 0.9},
}
"""What a model would answer for TEXT (deliberately unlike the rules engine's reading in one place: the rules engine
reads the same text, so a test can tell which engine answered)."""
TEXT = "serve llama 3.1 70b in fp16 to 8 users, 4k context, in Germany, up to 10 euros an hour"
BAD_SPEC: dict[str, Any] = {"workload_type": {"value": "quantum_computing", "confidence": 2}}


def chat_answer(arguments: dict[str, Any] | str, *, as_text: bool = False) -> dict[str, Any]:
    """An OpenAI chat completion answering with one tool call (or the JSON as text)."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    if as_text:
        message: dict[str, Any] = {"role": "assistant", "content": args}
        return {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": message,
                                                                     "finish_reason": "stop"}]}  # fmt: skip
    call = {"id": "call_1", "type": "function", "function": {"name": "answer", "arguments": args}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return {"id": "x", "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}  # fmt: skip


def converse_answer(arguments: dict[str, Any]) -> dict[str, Any]:
    """A Bedrock Converse response whose one content block is a call of the ``answer`` tool."""
    return {
        "output": {"message": {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "tooluse_1", "name": "answer", "input": arguments}}]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 900, "outputTokens": 120, "totalTokens": 1020},
        "metrics": {"latencyMs": 800},
    }  # fmt: skip


def tool_calls_answer(*calls: tuple[str, dict[str, Any]], text: str | None = None) -> dict[str, Any]:
    """An OpenAI chat completion asking for several tool calls (``(name, arguments)``), ids ``call_<n>``."""
    tool_calls = [{"id": f"call_{k}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
                  for k, (name, args) in enumerate(calls)]  # fmt: skip
    message = {"role": "assistant", "content": text, "tool_calls": tool_calls}
    return {"id": "x", "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}  # fmt: skip


def text_answer(text: str) -> dict[str, Any]:
    """An OpenAI chat completion answering in text (the end of a tool-use loop)."""
    message = {"role": "assistant", "content": text}
    return {"id": "x", "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}  # fmt: skip


def converse_tool_uses(*calls: tuple[str, dict[str, Any]], text: str = "") -> dict[str, Any]:
    """A Bedrock Converse response asking for several tools (``toolUse`` blocks, ids ``tooluse_<n>``)."""
    content: list[dict[str, Any]] = [{"text": text}] if text else []
    content += [{"toolUse": {"toolUseId": f"tooluse_{k}", "name": name, "input": args}}
                for k, (name, args) in enumerate(calls)]  # fmt: skip
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 1500, "outputTokens": 80, "totalTokens": 1580},
        "metrics": {"latencyMs": 700},
    }


def converse_text(text: str) -> dict[str, Any]:
    """A Bedrock Converse response ending the turn with text."""
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 2500, "outputTokens": 150, "totalTokens": 2650},
        "metrics": {"latencyMs": 900},
    }


class FakeOpenAI:
    """``POST /v1/chat/completions``: ``mode`` is ``answer`` (the next of ``script``, a list of answers a
    conversation's requests take in turn; once it is used up, ``body``), ``status`` (answers ``status``), ``hang``
    (sleeps ``hang_s`` before answering) or ``garbage`` (not JSON). Records the requests."""

    def __init__(self) -> None:
        self.mode = "answer"
        self.body: dict[str, Any] = chat_answer(GOOD_SPEC)
        self.script: list[dict[str, Any]] = []
        self.status = 500
        self.hang_s = 30.0
        self.requests: list[dict[str, Any]] = []
        self._stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                auth = self.headers.get("Authorization")
                fake.requests.append({"path": self.path, "body": body, "authorization": auth})
                if fake.mode == "hang":
                    fake._stop.wait(fake.hang_s)
                    if fake._stop.is_set():
                        return
                if fake.mode == "status":
                    self._send(fake.status, b'{"error": {"message": "overloaded"}}')
                elif fake.mode == "garbage":
                    self._send(200, b"<html>not json")
                else:
                    answer = fake.script.pop(0) if fake.script else fake.body
                    self._send(200, json.dumps(answer).encode())

            def _send(self, status: int, data: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (a timeout test)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    try:
        yield fake
    finally:
        fake.close()


def wait_for(predicate: Any, timeout_s: float = 2.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())
