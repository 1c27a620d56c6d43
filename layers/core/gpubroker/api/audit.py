"""The audit API: the middleware that appends one audit entry per mutating request, and the bodies of
``GET /audit`` and ``GET /audit/verify``.

A function that changes something declares its action once::

    app = new_resolver()
    app.use([audit_middleware(action="auth.login")])

After the route has run, one entry is appended to the audit log (``gpubroker.domain.audit``):

- ``actor``: ``user:<user_id>`` of the authorizer's Principal, else ``anon:<source ip>``;
- ``action``: the name the function declared (``auth.login``, ``auth.mfa.enroll``, ...);
- ``resource``: what the route put in ``app.context["audit_resource"]`` when it knows better (``booking/<id>``),
  else the request path (``/auth/login``). The resource also picks the shard, so a busy path is a busy shard;
- ``request_id``: API Gateway's ``requestContext.requestId`` (the key to the access and function logs);
- ``outcome``: ``ok`` (status < 400), ``refused:<status>`` (4xx), ``error:<status>`` (5xx); a refusal whose
  reason the client is not told (``DomainError.audit_reason``, e.g. a refused refresh) records it after the
  status: ``refused:401:fingerprint_missing``. The outcome is in the hash chain, so the reason is tamper-evident.

An exception raised by the route is turned into its response here, by the app's own exception handler (the one
the resolver would call), so the outcome is the status the client receives. Requests answered before the route
runs are not audited, as nothing was attempted: the front door's 429, request validation's 422, a non-JSON body's
415 (``api_handler``). Their traces are the access logs and the rate-limit metrics.

If the append fails (DynamoDB unavailable, ``AuditContention`` after its retries), the response still goes out:
the action has already happened, and answering 503 would hide its result from the client and invite a retry
that repeats it. Nothing is lost: the complete entry (every field but its sequence number and hash, which the log
assigns) goes to the audit spool (an SQS queue, ``AuditTrail.spool``), from which the checkpoint
function re-appends it with its original time within 5 minutes; the metric ``AuditAppendFailed`` counts these.
Only if the spool cannot take it either is the entry left in the function's log at ERROR (``audit entry lost``
with ``audit_entry``) and counted in ``AuditEntryUnspooled`` (alarm on > 0).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.metrics import MetricUnit

from gpubroker.api.client_ip import request_ip
from gpubroker.api.identity import current_principal
from gpubroker.domain.audit import utc_iso
from gpubroker.domain.errors import DomainError
from gpubroker.observability import logger, metrics

if TYPE_CHECKING:
    from gpubroker.api.deps import AuditTrail
    from gpubroker.ports import AuditSpool

Middleware = Callable[[APIGatewayRestResolver, NextMiddleware], Response[Any]]
APPENDS_METRIC = "AuditAppends"
APPEND_FAILED_METRIC = "AuditAppendFailed"
UNSPOOLED_METRIC = "AuditEntryUnspooled"


def outcome_of(status: int, reason: str | None = None) -> str:
    """``ok`` below 400, ``refused:<status>`` for 4xx, ``error:<status>`` for 5xx; ``:<reason>`` after a refusal
    or error when the audit alone is told why."""
    if status < 400:
        return "ok"
    outcome = f"refused:{status}" if status < 500 else f"error:{status}"
    return f"{outcome}:{reason}" if reason else outcome


def actor_of(app: APIGatewayRestResolver) -> str:
    principal = current_principal(app)
    if principal is not None:
        return f"user:{principal.user_id}"
    return f"anon:{request_ip(app)}"


def audit_middleware(*, action: str) -> Middleware:
    """Append one entry per request that reached the route; see the module docstring. The log and the spool are
    the function's ``Deps.audit`` (``gpubroker.api.deps.AuditTrail``), which ``api_handler`` put in the context."""

    def audit(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
        trail: AuditTrail = app.context["deps"].audit  # read before the route runs: it is this request's
        reason: str | None = None
        try:
            response = next_middleware(app)
        except Exception as exc:
            handler = app.exception_handler_manager.lookup_exception_handler(type(exc))
            reason = exc.audit_reason if isinstance(exc, DomainError) else None
            if handler is None:
                _append(app, trail, action, 500, reason)
                raise
            response = handler(exc)
        _append(app, trail, action, response.status_code, reason)
        return response

    audit.__name__ = f"audit[{action}]"
    return audit


def _append(
    app: APIGatewayRestResolver, trail: AuditTrail, action: str, status: int, reason: str | None = None
) -> None:
    entry = {
        "ts": utc_iso(datetime.now(UTC)),
        "actor": actor_of(app),
        "action": action,
        "resource": str(app.context.get("audit_resource") or app.current_event.path),
        "request_id": app.current_event.request_context.request_id or "",
        "outcome": outcome_of(status, reason),
    }
    try:
        trail.log.append(**entry)
        metrics.add_metric(name=APPENDS_METRIC, unit=MetricUnit.Count, value=1)
    except Exception:  # any failure: the response goes out, the entry goes to the spool
        logger.warning("audit append failed: spooled", exc_info=True, extra={"audit_entry": entry})
        metrics.add_metric(name=APPEND_FAILED_METRIC, unit=MetricUnit.Count, value=1)
        _spool(trail.spool, entry)


def _spool(spool: AuditSpool, entry: dict[str, str]) -> None:
    try:
        spool.put(entry)
    except Exception:  # the spool is down too: the function's log is the last copy
        logger.exception("audit entry lost", extra={"audit_entry": entry})
        metrics.add_metric(name=UNSPOOLED_METRIC, unit=MetricUnit.Count, value=1)


def audit_also(app: APIGatewayRestResolver, action: str, status: int = 200) -> None:
    """One more entry for this request, beside the middleware's (``booking.refund`` after ``booking.cancel``): same
    actor, resource and request id, appended now with the same spool fallback."""
    _append(app, app.context["deps"].audit, action, status)
