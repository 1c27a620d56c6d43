"""The web app on the API's origin, as CloudFront serves it in AWS (template.yaml, ``WebDistribution``): the built
app (``web/dist``, ``make dev`` builds it) under ``/app/``, ``/`` redirected there, and any other ``/app/...`` page
answered with the app's ``index.html`` so that a browser reload of a page works. ``/app/config.json`` tells the
app where the live-price WebSocket is. API paths (``/offers``...) never start with ``/app``, so nothing collides.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path

PREFIX = "/app"
CONFIG = f"{PREFIX}/config.json"
# what the app needs and nothing more: its own scripts, Mantine's inline style attributes, the WebSocket, data: icons
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]


def _json(status: int, payload: object, **headers: str) -> Answer:
    return Answer(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **headers})


class WebApp:
    def __init__(self, dist: Path, config: dict[str, object]) -> None:
        self.dist = dist.resolve()
        self.config = config

    @staticmethod
    def owns(path: str) -> bool:
        return path == "/" or path == PREFIX or path.startswith(f"{PREFIX}/")

    def answer(self, method: str, path: str) -> Answer:
        """The answer to ``method path`` for a path it ``owns``."""
        if method not in ("GET", "HEAD"):
            refusal = {"code": "method_not_allowed", "message": f"{method} is not allowed on {path}"}
            return _json(405, {"error": refusal}, Allow="GET, HEAD")
        if path in ("/", PREFIX):
            return Answer(302, b"", {"Location": f"{PREFIX}/", "Content-Type": "text/plain"})
        if path == CONFIG:
            return _json(200, self.config, **{"Cache-Control": "no-cache"})
        index = self.dist / "index.html"
        if not index.is_file():
            message = "the web app is not built: `make dev` builds it (or: cd web && npm ci && npm run build)"
            return _json(503, {"error": {"code": "web_app_not_built", "message": message}})
        relative = path[len(PREFIX) + 1 :]
        target = (self.dist / relative).resolve()
        if relative and target.is_file() and target.is_relative_to(self.dist):
            kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            hashed = relative.startswith("assets/")  # file names carry their content hash: cached for good
            cache = "public, max-age=31536000, immutable" if hashed else "no-cache"
            return Answer(200, target.read_bytes(), {"Content-Type": kind, "Cache-Control": cache})
        if relative.startswith("assets/") or "." in relative.rsplit("/", 1)[-1]:  # a file that is not there
            return _json(404, {"error": {"code": "route_not_found", "message": f"no file {path}"}})
        html = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache", "Content-Security-Policy": CSP}
        return Answer(200, index.read_bytes(), html)
