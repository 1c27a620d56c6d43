"""The local stack's web front (infra/local/web_front.py): the built app under /app/, a page reload answered with
the app's index.html, config.json, and nothing outside the build folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.local.web_front import WebApp


@pytest.fixture
def web(tmp_path: Path) -> WebApp:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><div id=root></div>")
    (dist / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("not the app's")
    return WebApp(dist, {"ws": "ws://127.0.0.1:3001"})


def test_owns_the_app_paths_only() -> None:
    assert all(WebApp.owns(p) for p in ("/", "/app", "/app/", "/app/offers", "/app/assets/x.js"))
    assert not any(WebApp.owns(p) for p in ("/offers", "/apple", "/market/summary", "/health"))


def test_root_redirects_to_the_app(web: WebApp) -> None:
    for path in ("/", "/app"):
        answer = web.answer("GET", path)
        assert (answer.status, answer.headers["Location"]) == (302, "/app/")


def test_pages_are_the_index_and_assets_are_cached_for_good(web: WebApp) -> None:
    for page in ("/app/", "/app/offers", "/app/offers/verda-1a2b", "/app/planner/deep/link"):
        answer = web.answer("GET", page)
        assert answer.status == 200 and answer.body.startswith(b"<!doctype html>"), page
        assert (
            answer.headers["Cache-Control"] == "no-cache"
            and "script-src 'self'" in answer.headers["Content-Security-Policy"]
        )
    asset = web.answer("GET", "/app/assets/index-abc123.js")
    assert (asset.status, asset.body) == (200, b"console.log(1)")
    assert asset.headers["Content-Type"] in {"text/javascript", "application/javascript"}
    assert "immutable" in asset.headers["Cache-Control"]


def test_config_names_the_websocket(web: WebApp) -> None:
    answer = web.answer("GET", "/app/config.json")
    assert answer.status == 200 and json.loads(answer.body) == {"ws": "ws://127.0.0.1:3001"}


def test_missing_files_other_methods_and_escapes_are_refused(web: WebApp, tmp_path: Path) -> None:
    assert web.answer("GET", "/app/assets/gone.js").status == 404
    assert web.answer("GET", "/app/favicon.ico").status == 404
    escaped = web.answer("GET", "/app/../secret.txt")
    assert escaped.status == 404 and b"not the app's" not in escaped.body
    refused = web.answer("POST", "/app/offers")
    assert (refused.status, refused.headers["Allow"]) == (405, "GET, HEAD")
    unbuilt = WebApp(tmp_path / "nothing", {}).answer("GET", "/app/")
    assert unbuilt.status == 503 and json.loads(unbuilt.body)["error"]["code"] == "web_app_not_built"
