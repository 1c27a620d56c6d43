"""The local stack's execution environments over real HTTP: the HTTP front and the runtime serving a test-only
function (tests/integration/lambda_fixtures/slow_echo) from a template of its own.

Overlap is shown by a rendezvous, not by timing: each request leaves a file in a folder and waits until the others
have left theirs (the function's docstring). Requests served one at a time, as the in-process runtime served every
REST function under one lock, never meet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from infra.local.http_front import make_server
from infra.local.runtime import FunctionError, Runtime, Throttled
from infra.local.sigv4 import LocalCredentials, sign
from infra.local.template import ROOT, App, read_app

pytestmark = pytest.mark.integration

CODE = ROOT / "tests" / "integration" / "lambda_fixtures" / "slow_echo"


def _function(prefix: str, reserved: int | None = None) -> str:
    events = "".join(
        f"""
        {name.capitalize()}:
          Type: Api
          Properties: {{Path: /{prefix}/{name}, Method: get}}"""
        for name in ("meet", "fail", "exit")
    )
    extra = f"\n      ReservedConcurrentExecutions: {reserved}" if reserved is not None else ""
    return f"""
  {prefix.capitalize()}Function:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {CODE}
      Handler: handler.lambda_handler
      Timeout: 60{extra}
      Events:{textwrap.indent(textwrap.dedent(events), "        ")}"""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.yaml"
    path.write_text("Resources:" + _function("one") + _function("two") + _function("reserved", reserved=1))
    return path


@pytest.fixture(scope="module")
def app(template: Path) -> App:
    return read_app(template)


class Front:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.creds = LocalCredentials.generate()  # its Invoke API takes only what this run's key signed
        self.server = make_server("127.0.0.1", 0, runtime, "local", credentials=self.creds)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        return self._call(urllib.request.Request(f"{self.url}{path}"))[:2]

    def invoke(self, function: str, event: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        url = f"{self.url}/2015-03-31/functions/{function}/invocations"
        data = json.dumps(event).encode()
        headers = sign(self.creds, "lambda", "POST", url, data, {"Content-Type": "application/json"})
        return self._call(urllib.request.Request(url, data=data, method="POST", headers=headers))

    @staticmethod
    def _call(req: urllib.request.Request) -> tuple[int, dict[str, Any], dict[str, str]]:
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read()), dict(resp.headers)
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read()), dict(err.headers)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.runtime.close()


@pytest.fixture
def front(app: App) -> Iterator[Callable[..., Front]]:
    made: list[Front] = []

    def make(**kwargs: Any) -> Front:
        made.append(Front(Runtime(app, **{"isolated": True, **kwargs})))
        return made[-1]

    yield make
    for f in made:
        f.close()


def meet(folder: Path, n: int, timeout_s: float = 20) -> str:
    return f"meet?dir={folder}&n={n}&timeout={timeout_s}"


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda c: c(), calls))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.mark.parametrize("paths", [("/one", "/one"), ("/one", "/two")], ids=["one function", "two functions"])
def test_two_slow_requests_overlap_each_in_an_environment_of_its_own(
    front: Callable[..., Front], tmp_path: Path, paths: tuple[str, str]
) -> None:
    f = front()
    answers = at_once(*(lambda p=p: f.get(f"{p}/{meet(tmp_path, 2)}") for p in paths))
    assert [status for status, _ in answers] == [200, 200]
    assert [a["met"] for _, a in answers] == [True, True]  # both were running at once
    assert answers[0][1]["pid"] != answers[1][1]["pid"]
    # each read its own request after the other had started (Powertools keeps it at class level)
    assert [a["path"] for _, a in answers] == [f"{p}/meet" for p in paths]
    assert answers[0][1]["request_id"] != answers[1][1]["request_id"]


def test_the_in_process_runtime_served_them_one_at_a_time(front: Callable[..., Front], tmp_path: Path) -> None:
    """The peer the pools replace (GPUBROKER_LOCAL_INPROCESS=1): the first request waits alone, then the second."""
    f = front(isolated=False)
    answers = at_once(*(lambda p=p: f.get(f"{p}/{meet(tmp_path, 2, timeout_s=1)}") for p in ("/one", "/two")))
    assert sorted(a["met"] for _, a in answers) == [False, True]


def test_a_warm_environment_is_reused_with_its_module_state(front: Callable[..., Front], tmp_path: Path) -> None:
    f = front()
    answers = [f.get(f"/one/{meet(tmp_path, 1)}")[1] for _ in range(3)]
    assert len({a["pid"] for a in answers}) == 1 and [a["served"] for a in answers] == [1, 2, 3]
    assert f.runtime.stats()["OneFunction"]["cold_starts"] == 1


def test_beyond_the_local_concurrency_an_invocation_waits_for_a_free_environment(
    front: Callable[..., Front], tmp_path: Path
) -> None:
    """No reserved concurrency: Lambda would scale out; locally the third of three waits (not refused)."""
    for limit, folder in ((2, tmp_path / "two"), (3, tmp_path / "three")):
        folder.mkdir()
        f = front(concurrency=limit)
        answers = at_once(*(lambda: f.get(f"/one/{meet(folder, 3, timeout_s=2)}") for _ in range(3)))
        assert [status for status, _ in answers] == [200] * 3
        met = [a["met"] for _, a in answers]
        assert all(met) if limit == 3 else not all(met)  # three at once only when three environments may run
        assert len({a["pid"] for _, a in answers}) == f.runtime.stats()["OneFunction"]["environments"] == limit


def test_beyond_reserved_concurrency_lambda_throttles(front: Callable[..., Front], tmp_path: Path) -> None:
    """ReservedConcurrentExecutions: 1 and one invocation running: a second synchronous one is refused without
    running: the Invoke API answers 429 TooManyRequestsException, API Gateway answers its caller 500 (Lambda
    developer guide, "Handling Lambda errors with an API Gateway API"). Capacity comes back when the first ends."""
    f = front()
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(f.get, f"/reserved/{meet(tmp_path, 2, timeout_s=30)}")
        while not any(tmp_path.iterdir()):  # the first is in its environment
            time.sleep(0.01)
        status, body = f.get("/reserved/meet?dir=/nonexistent&n=1")
        assert (status, body["error"]["code"]) == (500, "internal_error")
        status, body, headers = f.invoke("ReservedFunction", {"hello": 1})
        assert status == 429 and headers["x-amzn-ErrorType"] == "TooManyRequestsException"
        assert body["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        with pytest.raises(Throttled):
            f.runtime.invoke("ReservedFunction", {"hello": 2})
        (tmp_path / "second").touch()  # lets the first one finish
        assert first.result()[0] == 200 and first.result()[1]["met"]
    pid = first.result()[1]["pid"]
    assert f.invoke("ReservedFunction", {"hello": 3})[:2] == (200, {"echo": {"hello": 3}, "pid": pid})
    assert f.runtime.stats()["ReservedFunction"]["throttles"] == 3


def test_make_ingest_retries_a_throttled_invocation(front: Callable[..., Front], tmp_path: Path) -> None:
    """``make ingest`` while a scheduled run holds the ingestion function's one reserved environment: it retries
    the 429 as the AWS SDKs retry TooManyRequestsException, and gets the function's answer once it is free."""
    from infra.local import ingest

    f = front()
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(f.get, f"/reserved/{meet(tmp_path, 2, timeout_s=30)}")
        while not any(tmp_path.iterdir()):
            time.sleep(0.01)
        later = pool.submit(ingest.invoke, f.url, "ReservedFunction", {"hello": 4}, f.creds)
        while f.runtime.stats()["ReservedFunction"]["throttles"] < 1:  # it was refused at least once
            time.sleep(0.01)
        (tmp_path / "second").touch()
        assert first.result()[0] == 200
        assert later.result() == (False, {"echo": {"hello": 4}, "pid": first.result()[1]["pid"]})


def test_asynchronous_callers_wait_for_reserved_capacity(front: Callable[..., Front], tmp_path: Path) -> None:
    """A schedule or the seeding (``throttle=False``): Lambda retries a throttled asynchronous event; here the call
    waits until the one environment is free."""
    f = front()
    calls = [lambda: f.runtime.invoke("ReservedFunction", {"dir": str(tmp_path), "n": 2, "timeout": 1},
                                      throttle=False)] * 2  # fmt: skip
    answers = at_once(*calls)
    assert sorted(a["met"] for a in answers) == [False, True] and answers[0]["pid"] == answers[1]["pid"]


def test_idle_environments_are_stopped_and_the_next_call_starts_a_fresh_one(
    front: Callable[..., Front], tmp_path: Path
) -> None:
    f = front(idle_s=0.3)
    first = f.get(f"/one/{meet(tmp_path, 1)}")[1]
    deadline = time.monotonic() + 30
    while f.runtime.stats()["OneFunction"]["environments"] or _alive(first["pid"]):
        assert time.monotonic() < deadline, "the idle environment was not stopped"
        time.sleep(0.05)
    again = f.get(f"/one/{meet(tmp_path, 1)}")[1]
    assert again["pid"] != first["pid"] and again["served"] == 1  # a cold start: fresh module state


def test_environments_run_with_the_stacks_environment(
    front: Callable[..., Front], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCAL_RUNTIME_TEST_VALUE", "from the stack")
    assert front().get(f"/two/{meet(tmp_path, 1)}")[1]["env"] == "from the stack"


def test_a_handler_error_is_a_function_error(front: Callable[..., Front]) -> None:
    f = front()
    status, body = f.get("/one/fail")
    assert (status, body["error"]["code"]) == (502, "internal_error")
    status, body, headers = f.invoke("OneFunction", {"raise": "bad event"})
    assert (status, headers["X-Amz-Function-Error"]) == (200, "Unhandled")
    assert body == {"errorType": "ValueError", "errorMessage": "bad event"}
    with pytest.raises(FunctionError) as err:
        f.runtime.invoke("OneFunction", {"raise": "again"})
    assert (err.value.error_type, err.value.error_message) == ("ValueError", "again")
    assert f.invoke("NoSuchFunction", {})[0] == 404


def test_an_environment_that_dies_is_replaced(front: Callable[..., Front], tmp_path: Path) -> None:
    f = front()
    pid = f.get(f"/one/{meet(tmp_path, 1)}")[1]["pid"]
    status, body = f.get("/one/exit")
    assert (status, body["error"]["code"]) == (502, "internal_error")
    with pytest.raises(FunctionError) as err:
        f.runtime.invoke("OneFunction", {"httpMethod": "GET", "path": "/one/exit", "requestContext": {}})
    assert err.value.error_type == "Runtime.ExitError"
    status, again = f.get(f"/one/{meet(tmp_path, 1)}")
    assert status == 200 and again["pid"] != pid


def test_a_handler_error_and_its_traceback_reach_the_stacks_log(template: Path) -> None:
    """What Lambda's runtime logs for an unhandled error, on the stack's own stderr (make dev's output)."""
    script = f"""
from infra.local.runtime import FunctionError, Runtime
from pathlib import Path
from infra.local.template import read_app
runtime = Runtime(read_app(Path({str(template)!r})), isolated=True)
try:
    runtime.invoke("TwoFunction", {{"raise": "logged"}})
except FunctionError:
    print("raised", flush=True)
runtime.close()
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'layers/core'}"})  # fmt: skip
    assert out.stdout.strip() == "raised", out.stderr
    assert "[ERROR] TwoFunction: ValueError: logged" in out.stderr
    assert "Traceback (most recent call last)" in out.stderr and 'raise ValueError(event["raise"])' in out.stderr


def test_in_process_and_isolated_runtimes_agree_on_errors(app: App) -> None:
    with pytest.raises(KeyError):
        Runtime(app, isolated=True).invoke("Nope", {})
    with pytest.raises(FunctionError) as err:
        Runtime(app, isolated=False).invoke("OneFunction", {"raise": "here"})
    assert (err.value.error_type, err.value.error_message) == ("ValueError", "here")


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_kill_rule_kills_the_environment_mid_invocation_and_the_next_one_is_fresh(
    front: Callable[..., Front], tmp_path: Path, when: str
) -> None:
    """``kill`` (make chaos: a Lambda killed in a saga step): the environment's process dies by SIGKILL, the
    invocation fails with Runtime.ExitError, after the handler's side effect when ``after``, and a new environment
    serves the next one. In the stack's own process the rule only answers the error."""
    f = front()
    pid = f.get(f"/one/{meet(tmp_path, 1)}")[1]["pid"]
    f.runtime.faults.add({"function": "OneFunction", "kill": True, "when": when})
    side = tmp_path / "side"
    side.mkdir()
    with pytest.raises(FunctionError) as err:
        query = {"dir": str(side), "n": "1", "timeout": "5"}
        f.runtime.invoke("OneFunction", {"httpMethod": "GET", "path": "/one/meet", "requestContext": {},
                                         "queryStringParameters": query})  # fmt: skip
    assert err.value.error_type == "Runtime.ExitError" and "status -9" in err.value.error_message
    assert not _alive(pid)
    assert len(list(side.iterdir())) == (1 if when == "after" else 0)  # the side effect happened only after
    status, again = f.get(f"/one/{meet(tmp_path, 1)}")
    assert status == 200 and again["pid"] != pid
    here = Runtime(f.runtime.app, isolated=False)
    here.faults.add({"function": "TwoFunction", "kill": True})
    with pytest.raises(FunctionError) as err:
        here.invoke("TwoFunction", {"raise": "never run"})
    assert err.value.error_type == "Runtime.ExitError"


@pytest.mark.parametrize(
    "rule",
    [{"function": "OneFunction", "kill": True, "error": "X"}, {"function": "OneFunction", "kill": "yes"},
     {"function": "OneFunction"}],
)  # fmt: skip
def test_a_kill_rule_is_refused_with_an_error_or_when_not_a_boolean(app: App, rule: dict[str, Any]) -> None:
    from infra.local.faults import Faults, InvalidFault

    with pytest.raises(InvalidFault):
        Faults(app.functions).add(rule)
