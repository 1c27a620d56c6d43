"""GET /openapi.json: the document the generator wrote (``python -m infra.openapi``), read once per cold start."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gpubroker.api.deps import ApiDeps
from gpubroker.config import OpenApiSettings, load_settings
from gpubroker.wiring import edge


@dataclass(frozen=True, kw_only=True)
class OpenApiDeps(ApiDeps):
    """The front door, and the OpenAPI document as JSON text."""

    document: str


@cache
def openapi_deps(folder: Path) -> OpenApiDeps:
    """``OPENAPI_DOCUMENT`` read relative to ``folder`` (the function's own, where the build put the file; an
    absolute path stands alone). A missing file fails the cold start loudly: the build did not generate it."""
    path = folder / load_settings(OpenApiSettings).OPENAPI_DOCUMENT
    return OpenApiDeps(front_door=edge.front_door(), document=path.read_text(encoding="utf-8"))
