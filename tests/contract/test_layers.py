"""Dependencies point one way: domain <- services <- adapters/api <- wiring <- functions. Read from the source
with ``ast`` (every import: module level, inside functions, under ``TYPE_CHECKING``), so no layer reaches back up
even lazily."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from infra.local.template import ROOT

CORE = ROOT / "layers/core/gpubroker"
FORBIDDEN = {
    "domain": ("services", "adapters", "api", "wiring"),
    "services": ("adapters", "api", "wiring"),
    "adapters": ("services", "api", "wiring"),
    "api": ("adapters", "wiring"),
}


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute (relative imports resolved against its package)."""
    base_dir = ROOT / "layers/core" if path.is_relative_to(ROOT / "layers/core") else ROOT
    package = ".".join(path.relative_to(base_dir).with_suffix("").parts[:-1])
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return out


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "gpubroker" else None


def violations(layer: str) -> list[str]:
    found = []
    for path in sorted((CORE / layer).rglob("*.py")):
        for module in sorted(imported_modules(path)):
            if _layer_of(module) in FORBIDDEN[layer]:
                found.append(f"{path.relative_to(ROOT)} imports {module}")
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_import_runs_back_up_the_layers(layer: str) -> None:
    assert violations(layer) == []


def test_only_the_composition_root_builds_adapters() -> None:
    """Handlers and the shared top-level modules take their ports from ``gpubroker.wiring``; none imports an
    adapter."""
    outside = [*sorted((ROOT / "functions").glob("*/handler.py")), *sorted(CORE.glob("*.py"))]
    found = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in outside
        for module in sorted(imported_modules(path))
        if _layer_of(module) == "adapters"
    ]
    assert found == []


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    """The reader catches every form of import: lazy, type-only, relative."""
    sample = ROOT / "layers/core/gpubroker/domain/_probe_.py"
    code = "if TYPE_CHECKING:\n    from gpubroker.wiring import edge\ndef f():\n    from ..services import auth\n"
    try:
        sample.write_text(code)
        assert {"gpubroker.wiring", "gpubroker.services", "gpubroker.services.auth"} <= imported_modules(sample)
        assert len([v for v in violations("domain") if "_probe_" in v]) >= 2
    finally:
        sample.unlink()
