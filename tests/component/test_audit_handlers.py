"""The audit log's functions with in-memory ports: GET /audit and GET /audit/verify (admins only), the checkpoint
function, and the middleware that appends one entry per mutating request (the /auth functions)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gpubroker.domain.accounts import Principal
from gpubroker.domain.audit import AuditTampered, shard_for
from gpubroker.services.audit import write_checkpoints
from gpubroker.wiring.audit import CheckpointDeps
from tests.component.conftest import handler_module
from tests.events import Ctx, rest_event
from tests.fakes import UNLIMITED, FixedClock, trail
from tests.fakes_audit import FailingLog, LocalSigner, MemoryArchive, MemoryAuditLog, MemorySpool
from tests.fakes_auth import auth_api, auth_world

list_mod = handler_module("api_list_audit")
verify_mod = handler_module("api_verify_audit")
checkpoint_mod = handler_module("audit_checkpoint")
register_mod = handler_module("api_auth_register")
login_mod = handler_module("api_auth_login")
logout_mod = handler_module("api_auth_logout")

PASSWORD = "correct horse battery staple"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _principal(*roles: str) -> Principal:
    # a plan with room: the front door's rate limit is per principal and these tests call in quick succession
    return Principal(user_id=f"u-{uuid.uuid4().hex[:8]}", plan="enterprise", roles=frozenset(roles))


def admin() -> Principal:
    return _principal("admin", "user")


def get(path: str, principal: Principal | None, query: dict[str, str] | None = None) -> dict[str, Any]:
    ev = rest_event(path, path, {k: [v] for k, v in (query or {}).items()} or None)
    ev["requestContext"]["authorizer"] = principal.to_context() if principal else None
    return ev


def call(mod: Any, event: dict[str, Any], deps: Any) -> tuple[int, dict[str, Any]]:
    res = mod.lambda_handler(event, Ctx(), deps=deps)
    return int(res["statusCode"]), json.loads(res["body"])


def filled_log(n: int = 40, shards: int = 4) -> MemoryAuditLog:
    log = MemoryAuditLog(shards=shards)
    for i in range(n):
        log.append(f"user:u{i % 3}", "booking.create", f"booking/{i}", f"req-{i}", "ok", ts=NOW)
    return log


# ---- GET /audit -------------------------------------------------------------------------------------------------


def test_an_admin_pages_through_every_entry_shard_by_shard() -> None:
    log, who = filled_log(), admin()
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": "7", **({"cursor": cursor} if cursor else {})}
        status, body = call(list_mod, get("/audit", who, query), deps=list_mod.Deps(log=log, front_door=UNLIMITED))
        assert status == 200, body
        assert len(body["items"]) <= 7
        seen.extend(body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    expected = [e.to_dict() for shard in range(log.shards) for e in log.stored(shard)]
    assert seen == expected and len(seen) == 40  # every entry once, shard 0 first, then by seq
    assert pages >= 40 // 7
    assert all(s["shard"] == 0 for s in seen[: len(log.stored(0))])


def test_default_page_is_100_entries() -> None:
    status, body = call(
        list_mod, get("/audit", admin()), deps=list_mod.Deps(log=filled_log(150, shards=1), front_door=UNLIMITED)
    )
    assert status == 200 and len(body["items"]) == 100 and body["next_cursor"]


def test_list_needs_a_signed_in_admin() -> None:
    status, body = call(
        list_mod, get("/audit", _principal("user")), deps=list_mod.Deps(log=filled_log(), front_door=UNLIMITED)
    )
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = call(list_mod, get("/audit", None), deps=list_mod.Deps(log=filled_log(), front_door=UNLIMITED))
    assert (status, body["error"]["code"]) == (401, "unauthorized")


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ({"cursor": "not-a-cursor!"}, 400, "invalid_cursor"),
        ({"cursor": "eyJzIjo5OSwiYSI6bnVsbH0"}, 400, "invalid_cursor"),  # {"s":99,"a":null}: no shard 99
        ({"page": "2"}, 400, "unknown_parameter"),
        ({"limit": "0"}, 422, "validation_error"),
        ({"limit": "1001"}, 422, "validation_error"),
    ],
)
def test_bad_list_queries(query: dict[str, str], status: int, code: str) -> None:
    got, body = call(
        list_mod, get("/audit", admin(), query), deps=list_mod.Deps(log=filled_log(), front_door=UNLIMITED)
    )
    assert (got, body["error"]["code"]) == (status, code)


def varied_log(shards: int = 4) -> MemoryAuditLog:
    """60 entries: three actors, actions of two families, outcomes of three classes, one minute apart."""
    log = MemoryAuditLog(shards=shards)
    actions = ("auth.login", "auth.mfa.enroll", "booking.create", "authz.check")
    outcomes = ("ok", "refused:401", "refused:401:reused", "error:503", "okay")
    for i in range(60):
        log.append(
            f"user:u{i % 3}", actions[i % 4], f"booking/{i % 10}", f"req-{i}", outcomes[i % 5],
            ts=NOW + timedelta(minutes=i),
        )  # fmt: skip
    return log


def listed(log: MemoryAuditLog, query: dict[str, str], *, limit: int = 7) -> tuple[list[dict[str, Any]], int]:
    """Every entry GET /audit answers for ``query``, following the cursor; and the number of calls."""
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    calls = 0
    while True:
        q = {"limit": str(limit), **query, **({"cursor": cursor} if cursor else {})}
        status, body = call(list_mod, get("/audit", admin(), q), deps=list_mod.Deps(log=log, front_door=UNLIMITED))
        assert status == 200, body
        assert len(body["items"]) <= limit
        seen.extend(body["items"])
        calls += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, calls


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"actor": "user:u1"}, lambda e: e.actor == "user:u1"),
        ({"action": "auth"}, lambda e: e.action in {"auth.login", "auth.mfa.enroll"}),  # not authz.check
        ({"action": "auth.login"}, lambda e: e.action == "auth.login"),
        ({"outcome": "refused"}, lambda e: e.outcome.startswith("refused:")),
        ({"outcome": "refused:401"}, lambda e: e.outcome in {"refused:401", "refused:401:reused"}),
        ({"outcome": "ok"}, lambda e: e.outcome == "ok"),  # not "okay"
        ({"resource": "booking/3"}, lambda e: e.resource == "booking/3"),
        ({"request_id": "req-42"}, lambda e: e.request_id == "req-42"),
        (
            {"since": "2025-03-01T12:10:00Z", "until": "2025-03-01T14:20:00+02:00"},  # 12:10 <= ts < 12:20 UTC
            lambda e: "2025-03-01T12:10:00" <= e.ts < "2025-03-01T12:20:00",
        ),
        (
            {"actor": "user:u2", "action": "booking", "outcome": "ok"},
            lambda e: e.actor == "user:u2" and e.action.startswith("booking.") and e.outcome == "ok",
        ),
        ({"actor": "user:nobody"}, lambda e: False),
    ],
)
def test_a_filtered_list_answers_exactly_the_matching_entries_in_order(
    query: dict[str, str], expected: Callable[[Any], bool]
) -> None:
    log = varied_log()
    want = [e.to_dict() for shard in range(log.shards) for e in log.stored(shard) if expected(e)]
    seen, _ = listed(log, query)
    assert seen == want  # every match once, in the unfiltered list's order
    if query.get("actor") != "user:nobody":
        assert want  # the case is not vacuous


def test_a_resource_filter_reads_only_the_resources_shard() -> None:
    log = varied_log()
    status, body = call(
        list_mod, get("/audit", admin(), {"resource": "booking/3", "limit": "100"}),
        deps=list_mod.Deps(log=log, front_door=UNLIMITED),
    )  # fmt: skip
    shard = shard_for("booking/3", log.shards)
    assert status == 200 and body["next_cursor"] is None
    assert body["scanned"] == len(log.stored(shard)) < 60
    assert {e["shard"] for e in body["items"]} == {shard} and len(body["items"]) == 6


def test_a_rare_match_is_found_across_short_pages_within_the_read_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import gpubroker.services.audit as audit_service

    monkeypatch.setattr(audit_service, "SEARCH_BUDGET", 4)  # each call reads at most 4 entries
    log = varied_log()
    seen, calls = listed(log, {"request_id": "req-59"})
    assert [e["request_id"] for e in seen] == ["req-59"]
    assert calls >= 60 // 4  # each call read at most 4 entries: short (mostly empty) pages, each with a cursor


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"since": "yesterday"}, "invalid_time_range"),
        ({"until": "2025-03-01T12:00:00"}, "invalid_time_range"),  # no zone: ambiguous
        ({"since": "0001-01-01T00:00:00+01:00"}, "invalid_time_range"),  # before year 1 in UTC
        ({"since": "0999-01-01T00:00:00Z"}, "invalid_time_range"),  # not a 4-digit year as the log writes them
        ({"until": "9999-12-31T23:00:00-05:00"}, "invalid_time_range"),  # past 9999 in UTC
        ({"actor": ""}, "validation_error"),
        ({"action": "a" * 129}, "validation_error"),
    ],
)
def test_bad_filters_are_refused_with_a_code(query: dict[str, str], code: str) -> None:
    deps = list_mod.Deps(log=varied_log(), front_door=UNLIMITED)
    got, body = call(list_mod, get("/audit", admin(), query), deps=deps)
    assert got in {400, 422} and body["error"]["code"] == code, body


# ---- GET /audit/verify ------------------------------------------------------------------------------------------


def test_verify_reports_ok_then_the_first_broken_seq_after_tampering(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # AuditTampered feeds AuditVerifyFailureAlarm
    log, signer = filled_log(), LocalSigner()
    write_checkpoints(log, signer, NOW)
    deps = verify_mod.Deps(log=log, signer=signer, front_door=UNLIMITED)
    status, body = call(verify_mod, get("/audit/verify", admin()), deps=deps)
    assert status == 200 and body["ok"] is True and body["first_broken_seq"] is None
    assert [s["checkpoint_size"] for s in body["shards"]] == [len(log.stored(s)) for s in range(log.shards)]
    assert '"AuditTampered"' not in capsys.readouterr().out

    entries = log.stored(2)
    victim = entries[3]
    log.restore(2, [*entries[:3], type(victim)(**{**victim.to_dict(), "outcome": "refused:403"}), *entries[4:]])
    status, body = call(verify_mod, get("/audit/verify", admin(), {"from": "genesis"}), deps=deps)
    assert status == 200 and body["ok"] is False
    assert (body["first_broken_shard"], body["first_broken_seq"]) == (2, 3)
    assert [s["ok"] for s in body["shards"]] == [True, True, False, True]
    assert '"AuditTampered":[1.0]' in capsys.readouterr().out


def test_verify_needs_a_signed_in_admin_and_takes_no_query() -> None:
    deps = verify_mod.Deps(log=filled_log(), signer=LocalSigner(), front_door=UNLIMITED)
    assert call(verify_mod, get("/audit/verify", _principal("user")), deps=deps)[0] == 403
    assert call(verify_mod, get("/audit/verify", None), deps=deps)[0] == 401
    assert call(verify_mod, get("/audit/verify", admin(), {"shard": "1"}), deps=deps)[0] == 400


class ShortOnTime(Ctx):
    """A Lambda context whose remaining time runs out after ``calls`` looks (the verifier asks before each page)."""

    def __init__(self, calls: int) -> None:
        self.calls = calls

    def get_remaining_time_in_millis(self) -> int:
        self.calls -= 1
        return 20_000 if self.calls >= 0 else 1_000


def test_verify_stops_before_the_time_runs_out_and_the_cursor_goes_on() -> None:
    log, signer, archive = filled_log(n=3500, shards=2), LocalSigner(), MemoryArchive()
    deps = verify_mod.Deps(log=log, signer=signer, archive=archive, front_door=UNLIMITED)
    query: dict[str, str] = {"from": "genesis"}
    bodies = []
    while True:
        res = verify_mod.lambda_handler(get("/audit/verify", admin(), query), ShortOnTime(calls=1), deps=deps)
        assert res["statusCode"] == 200
        body = json.loads(res["body"])
        bodies.append(body)
        if body["complete"]:
            break
        assert body["ok"] is False and body["next_cursor"]  # not ok until every shard is done
        query = {"cursor": body["next_cursor"]}
    assert len(bodies) >= 4 and body["ok"] is True and body["mode"] == "genesis"
    assert sum(b["entries_read"] for b in bodies) == 3500
    assert [s["size"] for s in body["shards"]] == [len(log.stored(s)) for s in range(2)]


def test_verify_refuses_a_forged_cursor_and_an_unknown_start() -> None:
    deps = verify_mod.Deps(log=filled_log(), signer=LocalSigner(), front_door=UNLIMITED)
    status, body = call(verify_mod, get("/audit/verify", admin(), {"cursor": "eyJ2IjoxfQ"}), deps=deps)
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")
    status, body = call(verify_mod, get("/audit/verify", admin(), {"from": "yesterday"}), deps=deps)
    assert (status, body["error"]["code"]) == (422, "validation_error")  # the project's request-validation status


# ---- the checkpoint function ------------------------------------------------------------------------------------


def test_checkpoint_function_signs_grown_shards_once_and_refuses_a_tampered_tail() -> None:
    log, signer = filled_log(), LocalSigner()
    deps = CheckpointDeps(log=log, signer=signer, clock=FixedClock())
    report = checkpoint_mod.lambda_handler({"job": "audit-checkpoint"}, Ctx(), deps=deps)
    assert sorted(w["shard"] for w in report["written"]) == [0, 1, 2, 3]
    assert checkpoint_mod.lambda_handler({"job": "audit-checkpoint"}, Ctx(), deps=deps) == {
        "replayed": 0,
        "written": [],
    }

    log.append("user:x", "booking.create", "booking/new", "req-new", "ok", ts=NOW)
    shard = next(s for s in range(log.shards) if log.stored(s) and log.stored(s)[-1].request_id == "req-new")
    entries = log.stored(shard)
    log.restore(shard, [*entries[:-1], type(entries[-1])(**{**entries[-1].to_dict(), "prev_hash": "0" * 64})])
    with pytest.raises(AuditTampered):
        checkpoint_mod.lambda_handler({"job": "audit-checkpoint"}, Ctx(), deps=deps)


# ---- the middleware on the /auth functions ----------------------------------------------------------------------


def post(path: str, body: dict[str, Any], *, ip: str, principal: Principal | None = None) -> dict[str, Any]:
    ev = rest_event(path, path)
    ev["httpMethod"] = "POST"
    ev["body"] = json.dumps(body)
    ev["headers"] = {"Content-Type": "application/json"}
    ev["multiValueHeaders"] = {"Content-Type": ["application/json"]}
    ev["requestContext"]["identity"]["sourceIp"] = ip
    ev["requestContext"]["requestId"] = f"req-{uuid.uuid4().hex[:12]}"
    ev["requestContext"]["authorizer"] = principal.to_context() if principal else None
    return ev


def _ip() -> str:
    n = uuid.uuid4().int
    return f"198.51.{n % 250}.{(n >> 8) % 250 + 1}"


def entries(log: MemoryAuditLog) -> list[dict[str, Any]]:
    return [e.to_dict() for shard in range(log.shards) for e in log.stored(shard)]


def test_each_mutating_request_appends_exactly_one_entry_with_its_outcome() -> None:
    deps, _ = auth_world()
    log, ip = MemoryAuditLog(), _ip()
    email = f"a-{uuid.uuid4().hex[:6]}@example.com"

    ev = post("/auth/register", {"email": email, "password": PASSWORD}, ip=ip)
    assert call(register_mod, ev, auth_api(deps, log))[0] == 202
    [entry] = entries(log)
    assert {k: entry[k] for k in ("actor", "action", "resource", "request_id", "outcome")} == {
        "actor": f"anon:{ip}",
        "action": "auth.register",
        "resource": "/auth/register",
        "request_id": ev["requestContext"]["requestId"],
        "outcome": "ok",
    }

    wrong = post("/auth/login", {"email": email, "password": PASSWORD + "!"}, ip=ip)
    assert call(login_mod, wrong, auth_api(deps, log))[0] == 401
    right = post("/auth/login", {"email": email, "password": PASSWORD}, ip=ip)
    assert call(login_mod, right, auth_api(deps, log))[0] == 200
    logged = {e["request_id"]: e for e in entries(log)}
    assert len(logged) == 3
    assert logged[wrong["requestContext"]["requestId"]]["outcome"] == "refused:401"
    assert logged[right["requestContext"]["requestId"]]["outcome"] == "ok"
    assert {e["action"] for e in logged.values()} == {"auth.register", "auth.login"}


def test_the_actor_is_the_authorizers_user_when_there_is_one() -> None:
    deps, _ = auth_world()
    log, who = MemoryAuditLog(), _principal("user")
    ev = post("/auth/logout", {"refresh_token": "x" * 40}, ip=_ip(), principal=who)
    assert call(logout_mod, ev, auth_api(deps, log))[0] == 401
    [entry] = entries(log)
    # the refusal's reason is in the audit entry only (issue 11: logout refuses like refresh, one code to the client)
    assert (entry["actor"], entry["action"], entry["outcome"]) == (
        f"user:{who.user_id}",
        "auth.logout",
        "refused:401:malformed",
    )


def test_a_server_error_is_recorded_as_error_500() -> None:
    deps, _ = auth_world()

    class BrokenUsers:
        def by_email(self, email: str) -> Any:
            raise RuntimeError("the user store is down")

    deps.users = BrokenUsers()  # type: ignore[assignment]
    log = MemoryAuditLog()
    ev = post("/auth/login", {"email": "b@example.com", "password": PASSWORD}, ip=_ip())
    assert call(login_mod, ev, auth_api(deps, log))[0] == 500
    assert [e["outcome"] for e in entries(log)] == ["error:500"]


def test_a_request_refused_before_the_route_runs_is_not_audited() -> None:
    deps, _ = auth_world()
    log = MemoryAuditLog()
    ev = post("/auth/login", {"email": "not-an-email", "password": PASSWORD}, ip=_ip())
    assert call(login_mod, ev, auth_api(deps, log))[0] == 422  # request validation, before the route
    assert entries(log) == []


def _metric_names(capsys: pytest.CaptureFixture[str]) -> set[str]:
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    return {m["Name"] for r in emf for d in r["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


def test_a_failing_log_lets_the_response_out_and_spools_the_whole_entry_then_the_checkpoint_re_appends_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    spool = MemorySpool()
    deps, _ = auth_world()
    ev = post("/auth/register", {"email": f"c-{uuid.uuid4().hex[:6]}@example.com", "password": PASSWORD}, ip=_ip())
    assert (
        call(register_mod, ev, auth_api(deps, FailingLog(), spool))[0] == 202
    )  # the account exists: the client learns it
    [entry] = spool.messages.values()
    assert (entry["request_id"], entry["action"], entry["outcome"]) == (
        ev["requestContext"]["requestId"],
        "auth.register",
        "ok",
    )
    assert set(entry) == {"ts", "actor", "action", "resource", "request_id", "outcome"}  # enough to re-append
    assert "AuditAppendFailed" in _metric_names(capsys)
    # the next checkpoint run re-appends it with its original time, drops what is not an entry, then signs
    spool.put({"ts": 1})
    log = MemoryAuditLog(shards=4)
    report = checkpoint_mod.lambda_handler({"job": "audit-checkpoint"}, Ctx(),
                                           deps=CheckpointDeps(log=log, signer=LocalSigner(), spool=spool))  # fmt: skip
    assert report["replayed"] == 1 and len(report["written"]) == 1 and spool.messages == {}
    [appended] = entries(log)
    assert {k: appended[k] for k in entry} == entry


def test_when_the_spool_fails_too_the_entry_is_in_the_function_log_with_an_alarm_metric(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    spool = MemorySpool(fail=True)
    deps, _ = auth_world()
    ev = post("/auth/register", {"email": f"d-{uuid.uuid4().hex[:6]}@example.com", "password": PASSWORD}, ip=_ip())
    assert call(register_mod, ev, auth_api(deps, FailingLog(), spool))[0] == 202
    [lost] = [r for r in caplog.records if r.getMessage() == "audit entry lost"]
    assert lost.levelname == "ERROR" and lost.exc_info is not None
    assert lost.__dict__["audit_entry"]["request_id"] == ev["requestContext"]["requestId"]
    assert {"AuditAppendFailed", "AuditEntryUnspooled"} <= _metric_names(capsys)


def test_a_route_may_name_its_resource_and_the_log_is_the_functions_deps_audit() -> None:
    from gpubroker.api.audit import audit_middleware
    from gpubroker.api.deps import AuditedApiDeps
    from gpubroker.api.resolver import api_handler, new_resolver

    log = MemoryAuditLog()
    app = new_resolver()
    app.use([audit_middleware(action="booking.create")])
    handler = api_handler(app, lambda: AuditedApiDeps(front_door=UNLIMITED, audit=trail(log)))

    @app.post("/bookings")
    def create() -> dict[str, str]:
        app.context["audit_resource"] = "booking/b-1"
        return {"booking_id": "b-1"}

    ev = post("/bookings", {}, ip=_ip(), principal=_principal("user"))
    assert handler(ev, Ctx())["statusCode"] == 200
    [entry] = entries(log)
    assert (entry["resource"], entry["action"], entry["outcome"]) == ("booking/b-1", "booking.create", "ok")
