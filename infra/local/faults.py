"""Fault injection for the local stack: fail or delay a function's next invocations, from a test or ``make chaos``.

A rule (JSON, ``POST /_local/faults`` on the HTTP front, signed with the run's key like the Invoke API)::

    {"function": "<LogicalId>", "error": "<ErrorType>"?, "message": "..."?, "delay_ms": 0?, "times": 1?,
     "when": "before" | "after"?, "kill": false?}

- ``before`` (the default): the next ``times`` invocations of the function wait ``delay_ms`` in their execution
  environment, then fail with ``error`` without running the handler (or, with no ``error``, run it late).
- ``after``: the handler runs (its side effects happen), then the invocation waits ``delay_ms`` and fails with
  ``error`` (or, with no ``error``, answers what the handler answered, late): a crash after a side effect.
- ``kill``: instead of failing with an error, the execution environment's process is killed (SIGKILL) at that
  point, before or after the handler: the invocation fails with ``Runtime.ExitError`` and the environment is
  replaced, as when Lambda's runtime dies mid-invocation (``make chaos``: a Lambda killed in a saga step).

The delay is spent inside the execution environment, so it counts against the function's ``Timeout``: a delay
longer than the timeout is a Lambda timeout (``Sandbox.Timedout``), the environment discarded, as in AWS. A rule
needs an ``error``, a ``delay_ms`` or ``kill`` (not both ``error`` and ``kill``). Rules apply in the order they
were set; an invocation takes the first rule of its function that has invocations left. ``GET /_local/faults``
lists every rule with how often it fired (``fired``) and how many invocations it has left (``remaining``);
``DELETE /_local/faults`` removes them all (``?function=``: that function's only).

The registry lives in the stack's process (:class:`Faults`, ``Runtime.faults``); :func:`set_fault`,
:func:`list_faults` and :func:`clear_faults` are the client side, for tests.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

from infra.local.sigv4 import LocalCredentials, sign

PATH = "/_local/faults"
MAX_DELAY_MS = 900_000  # Lambda's longest timeout
_ERROR_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,127}$")
_FIELDS = frozenset({"function", "error", "message", "delay_ms", "times", "when", "kill"})


class InvalidFault(ValueError):
    """A rule the registry refuses (the HTTP front answers 400 ``InvalidParameterValueException``, as Lambda does)."""


@dataclass
class Fault:
    id: int
    function: str
    when: str  # "before" | "after"
    times: int
    error: str | None = None
    message: str = ""
    delay_ms: int = 0
    kill: bool = False
    fired: int = 0

    @property
    def remaining(self) -> int:
        return self.times - self.fired

    def action(self) -> dict[str, Any]:
        """What the execution environment does for one invocation (see runtime._serve)."""
        message = self.message or f"injected fault {self.id} ({self.when}) on {self.function}"
        return {"when": self.when, "delay_ms": self.delay_ms, "error": self.error, "message": message,
                "kill": self.kill}  # fmt: skip

    def describe(self) -> dict[str, Any]:
        return {**asdict(self), "remaining": self.remaining}


def parse(raw: Any, functions: Collection[str]) -> dict[str, Any]:
    """A rule's fields checked and defaulted (InvalidFault says what is wrong)."""
    if not isinstance(raw, dict):
        raise InvalidFault("a fault rule is a JSON object")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise InvalidFault(f"unknown fields: {sorted(unknown)}")
    function = raw.get("function")
    if not isinstance(function, str) or function not in functions:
        raise InvalidFault(f"function must be a function of the template (logical id), not {function!r}")
    when = raw.get("when", "before")
    if when not in ("before", "after"):
        raise InvalidFault('when must be "before" or "after"')
    times, delay_ms = raw.get("times", 1), raw.get("delay_ms", 0)
    for name, value, low, high in (("times", times, 1, 1_000_000), ("delay_ms", delay_ms, 0, MAX_DELAY_MS)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidFault(f"{name} must be an integer from {low} to {high}")
    error, message = raw.get("error"), raw.get("message", "")
    if error is not None and (not isinstance(error, str) or not _ERROR_TYPE.match(error)):
        raise InvalidFault("error must be an error type name (letters, digits, '.', '_'; e.g. Sandbox.Timedout)")
    if not isinstance(message, str) or len(message) > 1024:
        raise InvalidFault("message must be a string of at most 1024 characters")
    kill = raw.get("kill", False)
    if not isinstance(kill, bool):
        raise InvalidFault("kill must be true or false")
    if kill and error is not None:
        raise InvalidFault("a rule either kills the environment or fails with an error, not both")
    if error is None and delay_ms == 0 and not kill:
        raise InvalidFault("a rule needs an error, a delay_ms or kill")
    return {"function": function, "when": when, "times": times, "error": error, "message": message,
            "delay_ms": delay_ms, "kill": kill}  # fmt: skip


class Faults:
    """The stack's fault rules (thread-safe)."""

    def __init__(self, functions: Collection[str]) -> None:
        self._functions = frozenset(functions)
        self._rules: list[Fault] = []
        self._next_id = 1
        self._lock = threading.Lock()

    def add(self, raw: Any) -> Fault:
        fields = parse(raw, self._functions)
        with self._lock:
            rule = Fault(id=self._next_id, **fields)
            self._next_id += 1
            self._rules.append(rule)
            return rule

    def take(self, function: str) -> dict[str, Any] | None:
        """The action of the first rule of ``function`` with invocations left, counted as fired; None when none."""
        with self._lock:
            for rule in self._rules:
                if rule.function == function and rule.remaining > 0:
                    rule.fired += 1
                    return rule.action()
        return None

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.describe() for r in self._rules]

    def clear(self, function: str | None = None) -> int:
        with self._lock:
            kept = [r for r in self._rules if function is not None and r.function != function]
            removed = len(self._rules) - len(kept)
            self._rules = kept
            return removed


# ------------------------------------------------------------------------------------------------ the client side


def _call(api: str, method: str, creds: LocalCredentials, body: Any = None, query: str = "") -> Any:
    url = f"{api.rstrip('/')}{PATH}{query}"
    data = json.dumps(body).encode() if body is not None else b""
    headers = sign(creds, "lambda", method, url, data, {"Content-Type": "application/json"})
    req = urllib.request.Request(url, data=data if body is not None else None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # the local stack (http)  # nosec B310
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        raise RuntimeError(f"{method} {PATH}: {err.code} {err.read().decode(errors='replace')}") from None


def set_fault(api: str, rule: dict[str, Any], creds: LocalCredentials) -> dict[str, Any]:
    """Add a rule to the stack at ``api`` (its HTTP front); returns it with its id."""
    answer: dict[str, Any] = _call(api, "POST", creds, rule)
    return answer


def list_faults(api: str, creds: LocalCredentials) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = _call(api, "GET", creds)["faults"]
    return answer


def clear_faults(api: str, creds: LocalCredentials, function: str | None = None) -> int:
    """Remove every rule (or ``function``'s); how many."""
    query = f"?function={quote(function)}" if function else ""
    return int(_call(api, "DELETE", creds, query=query)["removed"])
