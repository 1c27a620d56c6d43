"""What API Gateway itself does in front of a protected route: the Lambda authorizer, its cache, its answers.

For a route whose event names an authorizer (``Auth.Authorizer``), as API Gateway REST does with a REQUEST
authorizer: every identity-source header must be present (else the UNAUTHORIZED gateway response, and the
authorizer is not called); the authorizer's answer is cached per identity-source values for ``ReauthorizeEvery``
seconds; an authorizer that raises "Unauthorized" gives UNAUTHORIZED (401), a policy that does not allow the
method ARN gives ACCESS_DENIED (403), any other failure AUTHORIZER_FAILURE (500). Allowed requests carry the
policy's ``context`` and ``principalId`` in ``requestContext.authorizer``. Answers use the template's
``GatewayResponses`` where it customises them.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.local.runtime import FunctionError, Runtime
from infra.local.template import App, GatewayResponse, Route

_DEFAULTS = {
    "UNAUTHORIZED": GatewayResponse(401, {}, json.dumps({"message": "Unauthorized"})),
    "ACCESS_DENIED": GatewayResponse(
        403, {}, json.dumps({"message": "User is not authorized to access this resource"})
    ),
    "AUTHORIZER_FAILURE": GatewayResponse(500, {}, json.dumps({"message": None})),
}
REGION, ACCOUNT = "us-east-1", "123456789012"


@dataclass(frozen=True)
class Decision:
    policy: dict[str, Any]
    principal_id: str
    context: dict[str, Any]


def _allows(policy: dict[str, Any], method_arn: str) -> bool:
    allowed = False
    for st in policy.get("Statement") or []:
        resources = st.get("Resource") or []
        resources = [resources] if isinstance(resources, str) else resources
        if any(fnmatch.fnmatchcase(method_arn, r) for r in resources):
            if st.get("Effect") == "Deny":
                return False
            allowed = allowed or st.get("Effect") == "Allow"
    return allowed


class Gate:
    def __init__(self, app: App, runtime: Runtime, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.runtime = runtime
        self._clock = clock
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[float, Decision]] = {}
        self._lock = threading.Lock()

    def response(self, kind: str) -> GatewayResponse:
        return self.app.gateway_responses.get(kind) or _DEFAULTS[kind]

    def enter(self, route: Route, event: dict[str, Any]) -> GatewayResponse | None:
        """Run the route's authorizer for ``event`` (a proxy event); None when the request may go on (its
        ``requestContext.authorizer`` is then filled), else the gateway's answer."""
        if route.authorizer is None:
            return None
        spec = self.app.authorizers[route.authorizer]
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        values = tuple(headers.get(h.lower()) or "" for h in spec.headers)
        if not all(values):
            return self.response("UNAUTHORIZED")
        ctx = event["requestContext"]
        method_arn = (f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{ctx['apiId']}/{ctx['stage']}/"
                      f"{event['httpMethod']}{event['path']}")  # fmt: skip
        key = (spec.name, values)
        with self._lock:
            hit = self._cache.get(key)
        decision = hit[1] if hit and hit[0] > self._clock() else None
        if decision is None:
            try:
                decision = self._invoke(spec.function, {**event, "type": "REQUEST", "methodArn": method_arn})
            except FunctionError as exc:
                return self.response("UNAUTHORIZED" if exc.error_message == "Unauthorized" else "AUTHORIZER_FAILURE")
            except (KeyError, TypeError, ValueError):
                return self.response("AUTHORIZER_FAILURE")
            if spec.ttl_s > 0:
                with self._lock:
                    self._cache[key] = (self._clock() + spec.ttl_s, decision)
        if not _allows(decision.policy, method_arn):
            return self.response("ACCESS_DENIED")
        ctx["authorizer"] = {**decision.context, "principalId": decision.principal_id}
        return None

    def _invoke(self, function: str, event: dict[str, Any]) -> Decision:
        answer = self.runtime.invoke(function, event)
        return Decision(policy=answer["policyDocument"], principal_id=str(answer["principalId"]),
                        context=dict(answer.get("context") or {}))  # fmt: skip
