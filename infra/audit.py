"""``make audit``: bandit on the code we ship and pip-audit on the locked runtime dependencies.

- bandit (``.venv-audit/bin/bandit``) over ``layers``, ``functions`` and ``infra`` with the ``[tool.bandit]`` of
  pyproject.toml, failing on findings of medium severity and confidence or above;
- pip-audit over the requirements ``uv export`` makes from uv.lock (``--requirements``, one line a pin), against
  the PyPI advisory data (the JSON API of the package index). It fails on any known vulnerability. A dependency
  the index has no record of cannot be audited: pip-audit says "not found" and reports nothing, which is not a
  pass. When no dependency could be audited (no index, or an index without the JSON API, e.g. a plain mirror) the
  audit is skipped with a note saying so; with ``--strict`` (CI: ``AUDIT_STRICT=1``) that, and any dependency left
  unaudited, is an error.

Exit status: 0 clean or skipped with a note, 1 findings (or, strict, an incomplete audit).
"""

from __future__ import annotations

import argparse
import json
import subprocess  # the pinned tools of .venv-audit  # nosec B404
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".venv-audit" / "bin"


def bandit() -> int:
    cmd = [str(TOOLS / "bandit"), "-q", "-c", "pyproject.toml", "-r", "layers", "functions", "infra",
           "--severity-level", "medium", "--confidence-level", "medium"]  # fmt: skip
    code = subprocess.run(cmd, cwd=ROOT, check=False).returncode  # noqa: S603  # nosec B603
    print("bandit: no finding of medium severity or above" if code == 0 else "bandit: findings above")
    return 0 if code == 0 else 1


def pip_audit(requirements: Path, *, strict: bool) -> int:
    cmd = [str(TOOLS / "pip-audit"), "--progress-spinner", "off", "--no-deps", "--disable-pip", "--format", "json",
           "-r", str(requirements)]  # fmt: skip
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603  # nosec B603
    try:
        report = json.loads(run.stdout)
    except ValueError:
        detail = (run.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"{'error' if strict else 'note'}: pip-audit could not run ({detail}): the dependencies were not audited")
        return 1 if strict else 0
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if d.get("skip_reason")]
    for d in vulnerable:
        for v in d["vulns"]:
            fixes = ", ".join(v.get("fix_versions") or []) or "no fix yet"
            print(f"pip-audit: {d['name']} {d['version']}: {v['id']} (fixed in {fixes})")
    audited = len(deps) - len(skipped)
    print(f"pip-audit: {audited} of {len(deps)} locked dependencies audited, {len(vulnerable)} vulnerable")
    if vulnerable:
        return 1
    if skipped:
        names = ", ".join(sorted(d["name"] for d in skipped)[:8]) + (" ..." if len(skipped) > 8 else "")
        kind = "error" if strict else "note"
        print(f"{kind}: the package index holds no advisory record of {len(skipped)} ({names}); pip-audit needs "
              "PyPI's JSON API (https://pypi.org/pypi/<name>/<version>/json)")  # fmt: skip
        return 1 if strict else 0
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", type=Path, required=True)
    parser.add_argument("--strict", action="store_true")
    parser.add_argument("--skip-pip-audit", action="store_true", help="the index is unreachable (make says so)")
    args = parser.parse_args(argv)
    failed = bandit()
    if not args.skip_pip_audit:
        failed |= pip_audit(args.requirements, strict=args.strict)
    return failed


if __name__ == "__main__":
    sys.exit(main())
