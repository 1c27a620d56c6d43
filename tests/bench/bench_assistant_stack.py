"""Issue 13 §5 "AI response time bound" on the local stack (``python -m infra.local``): real HTTP requests to
``POST /ai/parse-workload`` and ``POST /ai/chat`` through the local API front, each function in its execution
environments, as a client sees them (tests/bench/bench_assistant.py measures the parse handler in process).

1. The rules engine (``ASSISTANT_ENGINE=rules``, the default), warm: p50/p95/p99 of anonymous and signed-in parse
   over the tuned texts (tests/fixtures/assistant/parse_cases.jsonl) and of anonymous and signed-in chat, every
   chat script of tests/fixtures/assistant/chat_scripts.json played turn by turn in one conversation (the
   ``conversation_id`` of its first answer), all ``--rounds`` times (default 2). Target: p95 <= 300 ms for each.
   Peers in the same run, on the same stack and client: ``POST /math/map-workload-to-gpu`` on the workloads the
   parse answers built (the route the assistant builds on) and ``GET /offers`` (the search the chat's tools use),
   signed in.
2. A language model that hangs: a second stack with ``ASSISTANT_ENGINE=openai``, ``ASSISTANT_ENDPOINT`` at a local
   OpenAI-compatible server that never answers (tests/llm_fakes.py) and ``ASSISTANT_TIMEOUT_SECONDS`` (default 3),
   set through the stack's environment (infra/local/stack.py, ``assistant_parameters``). Signed-in parse, 4
   concurrent callers (the function's 4 local execution environments). Target: p99 <= timeout + 300 ms and every
   answer 200 with ``fallback: "timeout"``. The ``llm`` breaker (5 failures in 30 s open it) is closed again
   before every wave of 4, so every request waits for the model (the worst case); this stack has a Redis database
   of its own (``--redis-db``) so no other stack on the machine shares its breaker. Then 8 requests with the real
   breaker show it opening (counted, not a target). Chat is played there too, signed in: its answers carry no
   ``fallback`` while the chat has no language-model engine, and the row is labelled so (no target then).

Anonymous requests come from a loopback address of this run's own (127.x.y.z): the free plan allows 10 requests
a second per address, so they are paced at 8 a second and no other client on the machine shares their limit.
``--state-file`` measures part 1 on a running seeded stack instead of starting one; part 2 always starts its own.
Run: ``.venv/bin/python tests/bench/bench_assistant_stack.py`` from the repository root. Prints a table and a final
JSON line; exits 0 when the targets are met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
for _p in (ROOT, ROOT / "layers" / "core", ROOT / "layers" / "math"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from tests.bench.bench_assistant import summary  # noqa: E402
from tests.bench.common import BadAnswer, add_quick, assert_2xx, verdict  # noqa: E402
from tests.e2e.conftest import session  # noqa: E402
from tests.e2e.stack_process import local_stack  # noqa: E402

TARGET_RULES_P95_MS = 300.0
TARGET_HANG_MARGIN_MS = 300.0
FIXTURES = ROOT / "tests" / "fixtures" / "assistant"
ANON_INTERVAL_S = 1 / 8  # the free plan's 10 requests a second per address, with room
BREAKER_KEY = "{breaker:llm}"  # the llm breaker's key (gpubroker.adapters.breaker), after the stack's prefix
CONCURRENCY = 4


class Client:
    """Keep-alive HTTP/1.1 to the stack from one loopback address; every answer checked (2xx) and timed."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, *, paced: bool = False) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.source = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"
        self.headers = {"content-type": "application/json", **(headers or {})}
        self.interval_s = ANON_INTERVAL_S if paced else 0.0
        self._conn: http.client.HTTPConnection | None = None
        self._last = 0.0

    def call(self, method: str, path: str, body: Any = None) -> tuple[float, dict[str, Any]]:
        """(milliseconds, JSON answer) of one request; raises BadAnswer on an answer outside 2xx."""
        wait = self._last + self.interval_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last = time.monotonic()
        data = None if body is None else json.dumps(body).encode()
        for attempt in (0, 1):  # a keep-alive connection the server closed is opened again, once
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=60,
                                                        source_address=(self.source, 0))  # fmt: skip
            start = time.perf_counter()
            try:
                self._conn.request(method, path, body=data, headers=self.headers)
                resp = self._conn.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt:
                    raise
                continue
            ms = (time.perf_counter() - start) * 1000
            if resp.getheader("connection", "").lower() == "close":
                self.close()
            answer = json.loads(raw or b"{}")
            assert_2xx(resp.status, answer, f"{method} {path}")
            return ms, answer
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@dataclass
class Row:
    name: str
    ms: list[float] = field(default_factory=list)
    note: str = ""


def parse_texts() -> list[str]:
    lines = (FIXTURES / "parse_cases.jsonl").read_text().splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def chat_scripts() -> list[list[str]]:
    return [[t["say"] for t in s["turns"]] for s in json.loads((FIXTURES / "chat_scripts.json").read_text())]


def check(ok: bool, what: str, answer: Any) -> None:
    if not ok:
        raise BadAnswer(f"{what}: {json.dumps(answer, default=str)[:500]}")


def parse(client: Client, text: str, *, fallback: str | None) -> tuple[float, dict[str, Any]]:
    ms, answer = client.call("POST", "/ai/parse-workload", {"text": text})
    expected = answer.get("engine") == "rules" and answer.get("fallback") == fallback and "spec" in answer
    check(expected, f"POST /ai/parse-workload: expected the rules engine's answer, fallback {fallback!r}", answer)
    return ms, answer


def play(client: Client, turns: list[str]) -> Iterator[tuple[float, dict[str, Any]]]:
    """One chat script, turn by turn, in one conversation."""
    conversation: str | None = None
    for say in turns:
        body: dict[str, Any] = {"message": say} | ({"conversation_id": conversation} if conversation else {})
        ms, answer = client.call("POST", "/ai/chat", body)
        check(isinstance(answer.get("text"), str) and bool(answer.get("conversation_id"))
              and answer["conversation_id"] == (conversation or answer["conversation_id"]),
              "POST /ai/chat: expected an answer in the same conversation", answer)  # fmt: skip
        conversation = answer["conversation_id"]
        yield ms, answer


def signed_in(url: str, state_file: Path) -> dict[str, str]:
    """A fresh enterprise user's session headers (its rate, 1,000 a second, is never what is measured)."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # the session helper's boto3 calls to moto
        os.environ.setdefault(key, "local")
    return session(url, state_file, plan="enterprise", roles=("user",))[0]


# ------------------------------------------------------------------------------------------------ 1. rules engine


def rules_part(url: str, state_file: Path, *, quick: bool, rounds: int) -> list[Row]:
    texts, scripts = parse_texts() * rounds, chat_scripts() * rounds
    if quick:
        texts, scripts = texts[:6], scripts[:2]
    anon, user = Client(url, paced=True), Client(url, signed_in(url, state_file))
    # warm: every function's environments up (the rules run in 1 to 4 of them), each route's first call done
    for client in (anon, user):
        for text in texts[:8]:
            parse(client, text, fallback=None)
        for _ in play(client, scripts[0]):
            pass
    rows = {n: Row(n) for n in ("parse, anonymous", "parse, signed in", "chat, anonymous", "chat, signed in")}
    workloads: list[dict[str, Any]] = []
    for text in texts:
        rows["parse, anonymous"].ms.append(parse(anon, text, fallback=None)[0])
        ms, answer = parse(user, text, fallback=None)
        rows["parse, signed in"].ms.append(ms)
        if answer["workload"]:
            workloads.append(answer["workload"])
    for turns in scripts:
        rows["chat, anonymous"].ms += [ms for ms, _ in play(anon, turns)]
        rows["chat, signed in"].ms += [ms for ms, _ in play(user, turns)]
    check(bool(workloads), "no parse answer built a workload", texts)
    peers = {"peer: POST /math/map-workload-to-gpu": Row("peer: POST /math/map-workload-to-gpu", note="signed in"),
             "peer: GET /offers": Row("peer: GET /offers", note="signed in, H100-SXM by price, 20")}  # fmt: skip
    user.call("POST", "/math/map-workload-to-gpu", workloads[0])  # warm
    user.call("GET", "/offers?gpu=H100-SXM&sort=price&limit=20")
    for workload in workloads:
        peers["peer: POST /math/map-workload-to-gpu"].ms.append(user.call("POST", "/math/map-workload-to-gpu",
                                                                          workload)[0])  # fmt: skip
        peers["peer: GET /offers"].ms.append(user.call("GET", "/offers?gpu=H100-SXM&sort=price&limit=20")[0])
    anon.close()
    user.close()
    return [*rows.values(), *peers.values()]


# ------------------------------------------------------------------------------------------- 2. a hanging model


@contextmanager
def hanging_stack(timeout_s: float, redis_db: int, *, seeded: bool) -> Iterator[tuple[str, Path, Callable[[], None]]]:
    """A stack whose assistant calls a model that never answers: (its URL, its state file, close its breaker)."""
    import redis

    from tests.llm_fakes import fake_openai

    redis_url = f"redis://127.0.0.1:6379/{redis_db}"
    env = {
        "ASSISTANT_ENGINE": "openai",
        "ASSISTANT_TIMEOUT_SECONDS": f"{timeout_s:g}",
        "GPUBROKER_REDIS_URL": redis_url,
    }
    client = redis.Redis.from_url(redis_url)
    with fake_openai() as fake, tempfile.TemporaryDirectory() as tmp:
        fake.mode, fake.hang_s = "hang", 600.0
        args = () if seeded else ("--no-seed",)

        with local_stack(Path(tmp), *args, env={**env, "ASSISTANT_ENDPOINT": fake.url}) as up:
            prefix = json.loads(up.state_file.read_text())["assistant_redis_prefix"]

            def close_breaker() -> None:
                client.delete(prefix + BREAKER_KEY)

            close_breaker()
            yield up.url, up.state_file, close_breaker
    client.close()


def hang_part(timeout_s: float, redis_db: int, *, quick: bool) -> tuple[list[Row], list[str], bool]:
    """The rows (parse, chat), the real breaker's sequence, and whether the chat used the model."""
    waves, scripts = (1, chat_scripts()[:1]) if quick else (25, chat_scripts()[:8])
    texts = parse_texts()
    with hanging_stack(timeout_s, redis_db, seeded=not quick) as (url, state_file, close_breaker):
        headers = signed_in(url, state_file)
        clients = [Client(url, headers) for _ in range(CONCURRENCY)]

        def wave(start: int) -> list[float]:
            close_breaker()  # 4 timeouts stay under the breaker's 5: every request of the wave waits
            with ThreadPoolExecutor(CONCURRENCY) as pool:
                got = pool.map(lambda i: parse(clients[i], texts[(start + i) % len(texts)], fallback="timeout"),
                               range(CONCURRENCY))  # fmt: skip
                return [ms for ms, _ in got]

        wave(0)  # warm: the 4 execution environments started
        row = Row("parse, signed in, model hangs", note=f"{CONCURRENCY} concurrent")
        for w in range(waves):
            row.ms += wave(CONCURRENCY * (w + 1))
        close_breaker()
        sequence = []
        for text in texts[:8]:  # the real breaker: 5 timeouts in 30 s open it
            ms, answer = clients[0].call("POST", "/ai/parse-workload", {"text": text})
            sequence.append(f"{answer.get('fallback')}:{ms:.0f}ms")
        chat = Row("chat, signed in, model hangs")
        used_model = False
        if not quick:  # the chat needs the seeded offers
            close_breaker()
            for _ in play(clients[0], scripts[0]):  # warm: the chat's first call on this stack
                close_breaker()
            for turns in scripts:
                close_breaker()
                for ms, answer in play(clients[0], turns):
                    used_model |= "fallback" in answer or answer.get("engine") != "rules"
                    check("fallback" not in answer or answer["fallback"] == "timeout",
                          "POST /ai/chat with a hanging model: expected fallback 'timeout'", answer)  # fmt: skip
                    chat.ms.append(ms)
                    close_breaker()
            chat.note = "uses the model" if used_model else "rules: the chat calls no model yet"
        for c in clients:
            c.close()
    return [row, *([chat] if chat.ms else [])], sequence, used_model


# ------------------------------------------------------------------------------------------------------ the run


def main(argv: list[str] | None = None) -> int:
    parser = add_quick(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--state-file", type=Path, help="part 1 on this running seeded stack (its state file)")
    parser.add_argument("--rounds", type=int, default=2, help="part 1 plays the texts and scripts this often")
    parser.add_argument("--timeout", type=float, default=3.0, help="ASSISTANT_TIMEOUT_SECONDS of part 2")
    parser.add_argument("--redis-db", type=int, default=11, help="part 2's stack's own Redis database")
    args = parser.parse_args(argv)
    timeout_s = 1.0 if args.quick else args.timeout
    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load avg {load[0]:.2f}; real HTTP to the local stack; hanging model: timeout "
          f"{timeout_s:g} s")  # fmt: skip
    if args.state_file:
        state = json.loads(args.state_file.read_text())
        rules = rules_part(state["api"], args.state_file, quick=args.quick, rounds=args.rounds)
    else:
        with tempfile.TemporaryDirectory() as tmp, local_stack(Path(tmp)) as up:
            rules = rules_part(up.url, up.state_file, quick=args.quick, rounds=args.rounds)
    hang, sequence, chat_used_model = hang_part(timeout_s, args.redis_db, quick=args.quick)
    bound = timeout_s * 1000 + TARGET_HANG_MARGIN_MS
    figures = {r.name: summary(r.ms) for r in [*rules, *hang]}
    verdicts: dict[str, bool] = {}
    print(f"{'requests':<40}{'n':>5}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}  target")
    for r in [*rules, *hang]:
        f = figures[r.name]
        if r.name.startswith(("parse, a", "parse, s", "chat, a", "chat, signed in")) and "hangs" not in r.name:
            verdicts[r.name] = f["p95_ms"] <= TARGET_RULES_P95_MS
            target = f"p95 <= {TARGET_RULES_P95_MS:.0f}: {'PASS' if verdicts[r.name] else 'FAIL'}"
        elif "hangs" in r.name and (r.name.startswith("parse") or chat_used_model):
            verdicts[r.name] = f["p99_ms"] <= bound
            target = f"p99 <= {bound:.0f}: {'PASS' if verdicts[r.name] else 'FAIL'}"
        else:
            target = "-"
        print(f"{r.name:<40}{f['n']:>5}{f['p50_ms']:>10.1f}{f['p95_ms']:>10.1f}{f['p99_ms']:>10.1f}"
              f"{f['max_ms']:>10.1f}  {target}{'  (' + r.note + ')' if r.note else ''}")  # fmt: skip
    print(f"real breaker, model hanging (fallback:time): {' '.join(sequence)}")
    ok = all(verdicts.values())
    print(f"targets: rules p95 <= {TARGET_RULES_P95_MS:.0f} ms (parse and chat, anonymous and signed in); model "
          f"hanging: parse p99 <= {bound:.0f} ms, every answer 200 with fallback 'timeout' -> "
          f"{'PASS' if ok else 'FAIL'}")  # fmt: skip
    print(json.dumps({"bench": "assistant_stack", "timeout_s": timeout_s, "figures": figures,
                      "real_breaker": sequence, "chat_uses_model": chat_used_model, "verdicts": verdicts,
                      "load_avg": round(load[0], 2), "quick": args.quick, "pass": ok}))  # fmt: skip
    return verdict(ok, quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
