"""template.yaml <-> the web app's CloudFront edge (issue 15): the REST origin adds the origin secret the functions
compare (api.client_ip) and its behaviours forward CloudFront-Viewer-Address, cookies and query strings; live prices
are at /ws on the same distribution, reaching the WebSocket API's stage with what $connect reads (the token, the
fingerprint cookie, the handshake headers) and never the viewer's Host; the CloudFront functions, run under Node,
route /ws to the stage path and answer /app/config.json with wss://<the page's host>/ws."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from gpubroker.api.client_ip import ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER
from gpubroker.api.cookies import FINGERPRINT_COOKIE
from gpubroker.config import EdgeSettings
from infra.local.template import read_app

APP = read_app()
RESOURCES: dict[str, Any] = APP.template["Resources"]
CONFIG: dict[str, Any] = RESOURCES["WebDistribution"]["Properties"]["DistributionConfig"]
ORIGINS = {o["Id"]: o for o in CONFIG["Origins"]}
BEHAVIOURS = [CONFIG["DefaultCacheBehavior"], *CONFIG["CacheBehaviors"]]
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
# Managed-AllViewerExceptHostHeader: every viewer header but Host, all cookies and query strings, and the CloudFront
# headers, CloudFront-Viewer-Address among them (the policy meant for API Gateway and function URL origins)
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
SECRET_REF = {"Fn::Sub": "{{resolve:secretsmanager:${EdgeOriginSecret}:SecretString:value}}"}


def test_the_api_origin_adds_the_generated_secret_the_functions_compare() -> None:
    headers = {h["HeaderName"]: h["HeaderValue"] for h in ORIGINS["api"].get("OriginCustomHeaders", [])}
    assert headers == {ORIGIN_VERIFY_HEADER: SECRET_REF}
    assert APP.global_env["EDGE_ORIGIN_SECRET"] == SECRET_REF  # every function, the same secret
    assert "EDGE_ORIGIN_SECRET" in EdgeSettings.model_fields
    secret = RESOURCES["EdgeOriginSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    generated = secret["Properties"]["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "value" and int(generated["PasswordLength"]) >= 32
    assert "SecretString" not in secret["Properties"]  # generated, never written in the template or a parameter


@pytest.mark.front_door
def test_the_front_door_reads_the_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from gpubroker.wiring import edge

    monkeypatch.setenv("EDGE_ORIGIN_SECRET", "from-the-template")
    monkeypatch.setenv("REDIS_URL", "")
    edge.front_door.cache_clear()
    try:
        door = edge.front_door()
        assert door.origin_secret == "from-the-template" and "from-the-template" not in repr(door)
    finally:
        edge.front_door.cache_clear()


def test_every_rest_behaviour_forwards_the_viewer_address_cookies_and_query_but_not_host() -> None:
    rest = [b for b in BEHAVIOURS if b["TargetOriginId"] == "api"]
    assert rest and all(b["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST for b in rest)
    assert all(b["CachePolicyId"] == CACHING_DISABLED for b in rest)
    assert VIEWER_ADDRESS_HEADER == "CloudFront-Viewer-Address"


def test_live_prices_are_at_ws_on_the_same_distribution() -> None:
    (ws,) = [b for b in BEHAVIOURS if b.get("PathPattern") == "/ws"]
    assert ws["TargetOriginId"] == "ws" and ws["CachePolicyId"] == CACHING_DISABLED
    assert "GET" in ws["AllowedMethods"] and ws["ViewerProtocolPolicy"] == "https-only"
    origin = ORIGINS["ws"]
    assert origin["DomainName"] == {"Fn::Sub": "${WebSocketApi}.execute-api.${AWS::Region}.amazonaws.com"}
    assert origin["OriginPath"] == {"Fn::Sub": "/${Stage}"}
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    (assoc,) = ws["FunctionAssociations"]
    assert assoc["EventType"] == "viewer-request"
    assert assoc["FunctionARN"] == {"Fn::GetAtt": ["WebSocketPathFunction", "FunctionMetadata.FunctionARN"]}
    assert ws["OriginRequestPolicyId"] == {"Ref": "WebSocketOriginRequestPolicy"}


def test_the_websocket_policy_forwards_what_connect_reads_and_never_host() -> None:
    policy = RESOURCES["WebSocketOriginRequestPolicy"]["Properties"]["OriginRequestPolicyConfig"]
    headers = policy["HeadersConfig"]
    assert headers["HeaderBehavior"] == "whitelist"
    assert {"Sec-WebSocket-Key", "Sec-WebSocket-Version"} <= set(headers["Headers"])  # CloudFront's WebSocket needs
    assert "host" not in {h.lower() for h in headers["Headers"]}
    assert policy["CookiesConfig"] == {"CookieBehavior": "whitelist", "Cookies": [FINGERPRINT_COOKIE]}
    assert policy["QueryStringsConfig"] == {"QueryStringBehavior": "whitelist", "QueryStrings": ["token"]}
    connect = (APP.functions["WsConnectFunction"].code_uri / "handler.py").read_text()
    assert '.get("token")' in connect and 'fingerprint_from(event.get("headers"))' in connect


NODE = shutil.which("node")


def run_function(lid: str, event: dict[str, Any]) -> dict[str, Any]:
    code = RESOURCES[lid]["Properties"]["FunctionCode"]
    assert isinstance(code, str), f"{lid}: no substitution left in the code"
    script = f"{code}\nprocess.stdout.write(JSON.stringify(handler({json.dumps(event)})));"
    out = subprocess.run([str(NODE), "-e", script], capture_output=True, text=True, check=True, timeout=30)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def viewer_request(uri: str, host: str = "d111111abcdef8.cloudfront.net", query: str = "") -> dict[str, Any]:
    qs = {k: {"value": v} for k, v in (p.split("=", 1) for p in query.split("&") if p)}
    return {
        "version": "1.0",
        "context": {"distributionDomainName": "d111111abcdef8.cloudfront.net", "eventType": "viewer-request"},
        "viewer": {"ip": "192.0.2.1"},
        "request": {"method": "GET", "uri": uri, "querystring": qs, "headers": {"host": {"value": host}},
                    "cookies": {}},
    }  # fmt: skip


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_ws_path_function_sends_the_handshake_to_the_stage_path_with_its_query() -> None:
    request = run_function("WebSocketPathFunction", viewer_request("/ws", query="token=abc"))
    assert request["uri"] == "/" and request["querystring"] == {"token": {"value": "abc"}}


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_app_config_names_ws_on_the_host_the_page_came_from() -> None:
    answer = run_function("WebRouterFunction", viewer_request("/app/config.json", host="app.example.com"))
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]["data"]) == {"ws": "wss://app.example.com/ws"}
    assert run_function("WebRouterFunction", viewer_request("/app/offers"))["uri"] == "/app/index.html"
    assert run_function("WebRouterFunction", viewer_request("/app/assets/a.js"))["uri"] == "/app/assets/a.js"
