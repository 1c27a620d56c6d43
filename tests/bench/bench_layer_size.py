"""Benchmark: the math layer's unzipped size (target <= 80 MB) and what SciPy would add.

Builds the layer the way `sam build` does for the Lambda runtime (python3.12, arm64 wheels from the lock's
NumPy pin) into a temporary folder, adds gpumath, byte-compiles it with python3.12 when one exists (the layers
keep bytecode: `make build` compiles them), and reports the size with and without bytecode. The same for
numpy + scipy, to show what SciPy would cost. Prints a table and a JSON line; exit 0 when <= 80 MB.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench.common import add_quick, verdict  # noqa: E402

TARGET_MB = 80.0


def size_mb(path: Path, *, bytecode: bool) -> float:
    total = 0
    for f in path.rglob("*"):
        if f.is_file() and (bytecode or "__pycache__" not in f.parts):
            total += f.stat().st_size
    return total / 1e6


def python312() -> str | None:
    for cand in ["python3.12", *sorted(str(p) for p in Path("/root/.pyenv/versions").glob("3.12*/bin/python3.12"))]:
        try:
            out = subprocess.run(
                [cand, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, check=True
            )
            return out.stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            continue
    return None


def build(dest: Path, packages: list[str], py312: str | None) -> None:
    uv = shutil.which("uv") or str(ROOT / ".tools/bin/uv")
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--target", str(dest), "--python-platform", "aarch64-manylinux_2_28",
         "--python-version", "3.12", "--only-binary", ":all:", *packages],
        check=True,
    )  # fmt: skip
    shutil.copytree(ROOT / "layers/math/gpumath", dest / "gpumath", ignore=shutil.ignore_patterns("__pycache__"))
    if py312:
        subprocess.run(
            [py312, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(dest)], check=False
        )


def build_local(dest: Path) -> None:
    """--quick: the layer from this venv's NumPy (no download, no arm64 wheels, no byte-compiling)."""
    import numpy

    site = Path(numpy.__file__).resolve().parent.parent
    for name in ("numpy", "numpy.libs"):
        if (site / name).is_dir():
            shutil.copytree(site / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "layers/math/gpumath", dest / "gpumath", ignore=shutil.ignore_patterns("__pycache__"))


def main(argv: list[str] | None = None) -> int:
    quick = add_quick(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args(argv).quick
    req = (ROOT / "layers/math/requirements.txt").read_text()
    pin = re.search(r"^numpy==([\w.]+)\s*;\s*python_full_version >= '3.12'", req, re.M) or re.search(
        r"^numpy==([\w.]+)", req, re.M
    )
    numpy = f"numpy=={pin.group(1)}" if pin else "numpy"
    py312 = None if quick else python312()
    rows = {}
    sides = [("math layer (numpy + gpumath)", [numpy])]
    if not quick:
        sides.append(("with scipy (for comparison)", [numpy, "scipy"]))
    with tempfile.TemporaryDirectory() as tmp:
        for label, pkgs in sides:
            dest = Path(tmp) / label.split()[0]
            if quick:
                build_local(dest)
            else:
                build(dest, pkgs, py312)
            rows[label] = {"with_bytecode_mb": round(size_mb(dest, bytecode=True), 1),
                           "without_bytecode_mb": round(size_mb(dest, bytecode=False), 1)}  # fmt: skip
    source = "this venv's NumPy (--quick)" if quick else f"linux arm64 wheels for python 3.12 ({numpy})"
    print(f"layer sizes, unzipped, {source}; bytecode by {py312 or 'none found'}")
    print(f"{'':<32}{'with .pyc MB':>14}{'without MB':>12}")
    for label, r in rows.items():
        print(f"{label:<32}{r['with_bytecode_mb']:>14}{r['without_bytecode_mb']:>12}")
    layer = rows["math layer (numpy + gpumath)"]
    ok = layer["with_bytecode_mb"] <= TARGET_MB
    print(f"target math layer <= {TARGET_MB} MB: {'PASS' if ok else 'FAIL'}")
    print(json.dumps({"bench": "layer_size", **{k.split()[0]: v for k, v in rows.items()}, "quick": quick, "pass": ok}))
    return verdict(ok, quick=quick)


if __name__ == "__main__":
    sys.exit(main())
