"""The caller's IP behind the web app's CloudFront (api.client_ip): CloudFront-Viewer-Address is believed only with
the origin secret CloudFront adds; otherwise, and for anything malformed, API Gateway's sourceIp. Then the same
rule through the rate-limit middleware: a forged header cannot move a direct caller to another bucket, and two
viewers behind one edge address get two buckets."""

from __future__ import annotations

from typing import Any

import pytest

from gpubroker.adapters.ratelimit import MemoryRateLimiter
from gpubroker.api.client_ip import (
    ORIGIN_VERIFY_HEADER,
    VIEWER_ADDRESS_HEADER,
    client_ip,
    from_edge,
    parse_viewer_address,
)
from gpubroker.api.deps import ApiDeps, FrontDoor
from gpubroker.api.resolver import new_resolver
from tests.events import Ctx, rest_event

SECRET = "s3cr3t-0f-th3-d1str1but10n-4b9f1c2d7e8a"
EDGE_IP = "130.176.1.10"  # a CloudFront edge: API Gateway's sourceIp for every viewer of that edge


@pytest.mark.parametrize(
    ("value", "ip"),
    [
        ("198.51.100.10:46532", "198.51.100.10"),
        ("2001:db8::1:443", "2001:db8::1"),  # IPv6 as CloudFront writes it: no brackets, the port after the last ':'
        ("2001:0db8:85a3:0000:0000:8a2e:0370:7334:46532", "2001:db8:85a3::8a2e:370:7334"),  # normalised: one bucket
        ("[2001:db8::2]:8080", "2001:db8::2"),
        (" 203.0.113.9:1 ", "203.0.113.9"),
        ("198.51.100.10", None),  # no port
        ("198.51.100.10:", None),
        ("198.51.100.10:70000", None),
        ("198.51.100.10:-1", None),
        ("2001:db8::1", None),  # an IPv6 address without its port is read as host '2001:db8:' and port 1: refused
        ("example.com:443", None),
        ("", None),
        (None, None),
    ],
)
def test_viewer_address_parsing(value: str | None, ip: str | None) -> None:
    assert parse_viewer_address(value) == ip


def test_forged_viewer_address_without_the_secret_is_ignored() -> None:
    forged = {VIEWER_ADDRESS_HEADER: "192.0.2.55:1234"}
    assert client_ip("203.0.113.7", forged, SECRET) == "203.0.113.7"
    wrong = {**forged, ORIGIN_VERIFY_HEADER: SECRET[:-1] + "x"}
    assert client_ip("203.0.113.7", wrong, SECRET) == "203.0.113.7"
    assert client_ip("203.0.113.7", {**forged, ORIGIN_VERIFY_HEADER: ""}, SECRET) == "203.0.113.7"


def test_with_the_secret_the_viewer_address_counts_whatever_the_header_case() -> None:
    headers = {"cloudfront-viewer-address": "192.0.2.55:1234", "x-gpubroker-origin-verify": SECRET}
    assert client_ip(EDGE_IP, headers, SECRET) == "192.0.2.55"
    v6 = {VIEWER_ADDRESS_HEADER: "2001:db8:abcd::7:50123", ORIGIN_VERIFY_HEADER: SECRET}
    assert client_ip(EDGE_IP, v6, SECRET) == "2001:db8:abcd::7"


def test_with_the_secret_but_a_missing_or_malformed_address_the_source_ip_stays() -> None:
    assert client_ip(EDGE_IP, {ORIGIN_VERIFY_HEADER: SECRET}, SECRET) == EDGE_IP
    bad = {ORIGIN_VERIFY_HEADER: SECRET, VIEWER_ADDRESS_HEADER: "not-an-ip:80"}
    assert client_ip(EDGE_IP, bad, SECRET) == EDGE_IP


def test_no_secret_configured_never_trusts_the_header() -> None:
    """The local stack and a stack without the distribution: an empty secret matches nothing, not even ''."""
    headers = {VIEWER_ADDRESS_HEADER: "192.0.2.55:1234", ORIGIN_VERIFY_HEADER: ""}
    assert not from_edge(headers, "")
    assert client_ip("203.0.113.7", headers, "") == "203.0.113.7"
    assert client_ip(None, None, "") == "unknown"


# --- through the rate-limit middleware ------------------------------------------------------------------------


def served(secret: str) -> Any:
    app = new_resolver()

    @app.get("/ping")
    def ping() -> dict[str, bool]:
        return {"ok": True}

    door = FrontDoor(limiter=MemoryRateLimiter(lambda: 1000.0), origin_secret=secret)

    def call(source_ip: str, headers: dict[str, str] | None = None) -> int:
        ev = rest_event("/ping", "/ping")
        ev["requestContext"]["identity"]["sourceIp"] = source_ip
        ev["headers"] = {**(ev.get("headers") or {}), **(headers or {})}
        ev["multiValueHeaders"] = {k: [v] for k, v in ev["headers"].items()}
        resolver: Any = app
        resolver.append_context(deps=ApiDeps(front_door=door))
        return int(resolver.resolve(ev, Ctx())["statusCode"])

    return call


def test_viewers_behind_one_edge_get_their_own_buckets_only_with_the_secret() -> None:
    call = served(SECRET)
    alice = {VIEWER_ADDRESS_HEADER: "192.0.2.1:5000", ORIGIN_VERIFY_HEADER: SECRET}
    bob = {VIEWER_ADDRESS_HEADER: "192.0.2.2:5000", ORIGIN_VERIFY_HEADER: SECRET}
    assert [call(EDGE_IP, alice) for _ in range(11)][-1] == 429  # free plan: 10 per second
    assert call(EDGE_IP, bob) == 200  # same edge address, another viewer: another bucket
    assert call(EDGE_IP) == 200  # nor is the edge's own address the viewer's bucket


def test_a_direct_caller_cannot_escape_its_bucket_by_forging_the_viewer_address() -> None:
    call = served(SECRET)
    assert [call("203.0.113.7") for _ in range(10)] == [200] * 10
    forged = {VIEWER_ADDRESS_HEADER: "192.0.2.99:1", ORIGIN_VERIFY_HEADER: "guess"}
    assert call("203.0.113.7", forged) == 429
    assert call("203.0.113.7", {VIEWER_ADDRESS_HEADER: "192.0.2.100:1"}) == 429


def test_the_local_stack_has_no_origin_secret() -> None:
    """template.yaml resolves EDGE_ORIGIN_SECRET from the generated EdgeOriginSecret (a dynamic reference); the local
    stack, which has no CloudFront, gives the functions an empty one, so it always rate-limits by sourceIp."""
    from infra.local.provision import function_environment
    from infra.local.template import read_app

    app = read_app()
    resources = app.template["Resources"]
    names = {**{lid: lid for lid in resources}, **{f"{lid}.Arn": lid for lid in resources}}
    names.update({f"{lid}.{attr}": lid for lid in resources for attr in ("StreamArn", "Name", "QueueName")})
    env = function_environment(app, names)
    assert env["EDGE_ORIGIN_SECRET"] == ""
    assert not any(value.startswith("{{resolve:") for value in env.values())
