"""The layers' requirements files are what ``sam build`` installs into /opt/python: they must be the lock's export
(``make layers-deps``), and every third-party module the code imports must be in them.

A stale ``layers/deps/requirements.txt`` (no PyJWT, cryptography, argon2-cffi, pyotp, segno) once made a plain
``sam build`` ship an authorizer that could not import; the tests import from the venv, so nothing else noticed.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.local.template import ROOT

DEPS = ROOT / "layers/deps/requirements.txt"
MATH = ROOT / "layers/math/requirements.txt"
FIRST_PARTY = {"gpubroker", "gpumath", "functions"}


def makefile_variable(name: str) -> str:
    """The value of a simple ``NAME = value`` line of the Makefile (what ``make`` would expand it from)."""
    text = (ROOT / "Makefile").read_text()
    found = re.search(rf"^{name}\s*:?=\s*(.+)$", text, re.MULTILINE)
    assert found, f"Makefile: no {name}"
    return found.group(1).strip()


def find_uv() -> Path:
    """The uv the Makefile uses: one on PATH that runs (a pyenv shim for an inactive version is on PATH but fails),
    else the one ``make`` bootstraps into .tools/bin (``make venv`` / ``make test`` do on a fresh machine)."""
    for candidate in (shutil.which("uv"), ROOT / ".tools/bin/uv"):
        if candidate is None or not Path(candidate).exists():
            continue
        ok = subprocess.run([str(candidate), "--version"], capture_output=True, check=False)
        if ok.returncode == 0:
            return Path(candidate)
    pytest.fail("no working uv: run `make venv` (it bootstraps uv into .tools/bin when none is on PATH)")


def lock_export() -> list[str]:
    """``$(LOCK_EXPORT)``: the Makefile's own command line, run with the uv it would use."""
    command = makefile_variable("LOCK_EXPORT")
    assert command.startswith("$(UV) "), command
    args = shlex.split(command.removeprefix("$(UV) "))
    out = subprocess.run([str(find_uv()), *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)
    return [line for line in out.stdout.splitlines() if line.strip()]


def generated_header() -> str:
    return makefile_variable("GENERATED").replace("\\#", "#", 1)


def test_layer_requirements_are_the_lock_export() -> None:
    """What ``make layers-deps`` writes: the header, then the export less numpy (deps) / numpy alone (math)."""
    export = lock_export()
    header = generated_header()
    expected = {
        DEPS: [header, *(line for line in export if not line.startswith("numpy=="))],
        MATH: [header, *(line for line in export if line.startswith("numpy=="))],
    }
    for path, lines in expected.items():
        assert path.read_text().splitlines() == lines, (
            f"{path.relative_to(ROOT)} is not uv.lock's export: run `make layers-deps` and commit it"
        )


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(_normalise(re.split(r"[\s=<>!~;\[]", line, maxsplit=1)[0]))
    return names


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(source: str) -> set[str]:
    """The top-level names of the absolute imports Lambda would execute: every import anywhere (module level,
    inside functions: a lazy import still runs in Lambda), except the ones under ``if TYPE_CHECKING:``."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def third_party_imports(paths: list[Path]) -> dict[str, list[str]]:
    """module -> the files importing it, for every module that is neither the standard library nor ours."""
    out: dict[str, list[str]] = {}
    for path in paths:
        for name in runtime_imports(path.read_text()):
            if name not in sys.stdlib_module_names and name not in FIRST_PARTY and name != "__future__":
                out.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return out


def code_paths() -> list[Path]:
    return sorted((ROOT / "layers/core").rglob("*.py")) + sorted((ROOT / "functions").glob("*/*.py"))


def uncovered(imports: dict[str, list[str]], allowed: set[str]) -> list[str]:
    """The imported modules whose distribution (as installed in this venv) is not among ``allowed``."""
    owners = importlib.metadata.packages_distributions()
    missing = []
    for module, files in sorted(imports.items()):
        dists = {_normalise(d) for d in owners.get(module, [])}
        if not dists & allowed:
            missing.append(f"{module} (distribution {sorted(dists) or 'unknown'}; imported by {files[0]})")
    return missing


def test_every_third_party_import_is_in_a_layer() -> None:
    """Each module the core layer and the functions import is shipped by the deps layer (numpy: the math layer),
    so a dependency missing from pyproject.toml is caught here even when the lock and its export agree."""
    imports = third_party_imports(code_paths())
    assert {"aws_lambda_powertools", "pydantic", "jwt", "argon2", "pyotp", "segno"} <= set(imports)
    assert uncovered(imports, requirement_names(DEPS) | requirement_names(MATH)) == []
    math_only = uncovered({m: f for m, f in imports.items() if m != "numpy"}, requirement_names(DEPS))
    assert math_only == [], "only numpy may come from the math layer"


def test_the_import_check_sees_a_missing_distribution(tmp_path: Path) -> None:
    """Lazy imports count, type-only ones do not; a module whose distribution is absent is reported."""
    code = "if TYPE_CHECKING:\n    import mypy_boto3_s3\nelse:\n    import jwt\ndef f():\n    from argon2 import x\n"
    assert runtime_imports(code) == {"jwt", "argon2"}
    stale = tmp_path / "requirements.txt"
    stale.write_text("# old\naws-lambda-powertools==3.37.0\npydantic==2.14.4 ; python_full_version >= '3.11'\n")
    assert requirement_names(stale) == {"aws-lambda-powertools", "pydantic"}
    missing = uncovered({"jwt": ["x.py"], "pydantic": ["y.py"]}, requirement_names(stale))
    assert len(missing) == 1 and missing[0].startswith("jwt (distribution ['pyjwt']")
