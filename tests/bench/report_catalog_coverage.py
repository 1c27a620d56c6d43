"""Per-cloud GPU coverage of every SkyPilot v8 catalog: rows with a GPU, given a specific board, given a board-unstated
model (``H100-80GB-Any``: the provider does not say which board), ambiguous, unknown, % specific, % resolved
(specific or board-unstated), wrong.

Run: ``.venv/bin/python tests/bench/report_catalog_coverage.py [--details]`` from the repository root.
Catalogs: ``tests/fixtures/skypilot_v8/<cloud>/`` and ``../shared/data/catalogs/{vast,lambda,shadeform,verda}``.
Definitions in ``tests/catalog_coverage.py``. Exits 1 when coverage (specific or board-unstated) is under 99 % or any
row resolves wrongly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for extra in (ROOT / "layers" / "core", ROOT):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from tests.catalog_coverage import measure_all, table  # noqa: E402

TARGET_PCT = 99.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--details", action="store_true", help="list unresolved spellings and wrong rows")
    args = parser.parse_args()
    figures = measure_all()
    print(table(figures))
    if args.details:
        for f in figures:
            for spelling, n in f.unresolved.most_common():
                print(f"  {f.label}: {n:>4} x {spelling}")
            for w in f.wrong[:20]:
                print(f"  {f.label}: WRONG {w}")
    rows = sum(f.gpu_rows for f in figures)
    resolved = sum(f.resolved for f in figures)
    wrong = sum(len(f.wrong) for f in figures)
    pct = 100.0 * resolved / rows if rows else 100.0
    return 0 if pct >= TARGET_PCT and wrong == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
