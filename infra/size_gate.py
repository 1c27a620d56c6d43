"""The Lambda size gate (issue 16 §3): after ``make build``, each function of ``.aws-sam/build`` with its layers
must stay within Lambda's 250 MB unzipped limit (function code + every layer it names, its own or Globals').

Reads the built template (``.aws-sam/build/template.yaml``: CodeUri/ContentUri are the built folders), prints one
row per function sorted by size (code, layers, total, headroom) and, with ``--summary FILE`` (CI:
``$GITHUB_STEP_SUMMARY``), the same as a Markdown table. Exit 1 when a function is over ``--limit-mb``.

    .venv/bin/python -m infra.size_gate [--build-dir .aws-sam/build] [--limit-mb 250]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from infra.local.template import ROOT, load_template

LIMIT_MB = 250.0


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def _layer_ids(layers: list[Any]) -> list[str]:
    return [str(layer["Ref"]) for layer in layers if isinstance(layer, dict) and "Ref" in layer]


def sizes(build_dir: Path) -> list[tuple[str, float, float]]:
    """(function, code MB, layers MB) for every function of the built template."""
    template = load_template(build_dir / "template.yaml")
    resources = template["Resources"]
    global_layers = _layer_ids(((template.get("Globals") or {}).get("Function") or {}).get("Layers") or [])
    layer_mb = {
        lid: folder_mb(build_dir / str(r["Properties"]["ContentUri"]))
        for lid, r in resources.items()
        if r["Type"] == "AWS::Serverless::LayerVersion"
    }
    out = []
    for lid, r in resources.items():
        if r["Type"] != "AWS::Serverless::Function":
            continue
        props = r["Properties"]
        layers = dict.fromkeys([*global_layers, *_layer_ids(props.get("Layers") or [])])
        out.append((lid, folder_mb(build_dir / str(props["CodeUri"])), sum(layer_mb.get(x, 0.0) for x in layers)))
    return sorted(out, key=lambda row: -(row[1] + row[2]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build")
    parser.add_argument("--limit-mb", type=float, default=LIMIT_MB)
    parser.add_argument("--summary", type=Path, help="append a Markdown table here (GITHUB_STEP_SUMMARY)")
    args = parser.parse_args(argv)
    if not (args.build_dir / "template.yaml").is_file():
        print(f"error: no build in {args.build_dir}: run `make build` first", file=sys.stderr)
        return 2
    rows = sizes(args.build_dir)
    over = [lid for lid, code, layers in rows if code + layers > args.limit_mb]
    lines = [f"{'function':44s} {'code MB':>8s} {'layers MB':>10s} {'total MB':>9s} {'headroom':>9s}"]
    md = ["| function | code MB | layers MB | total MB | headroom MB |", "|---|---:|---:|---:|---:|"]
    for lid, code, layers in rows:
        total = code + layers
        lines.append(f"{lid:44s} {code:8.1f} {layers:10.1f} {total:9.1f} {args.limit_mb - total:9.1f}")
        md.append(f"| {lid}{' **over**' if lid in over else ''} | {code:.1f} | {layers:.1f} | {total:.1f} | "
                  f"{args.limit_mb - total:.1f} |")  # fmt: skip
    print("\n".join(lines))
    verdict = f"{len(rows)} functions, largest {rows[0][1] + rows[0][2]:.1f} MB of {args.limit_mb:.0f} MB unzipped"
    print(verdict if not over else f"over the limit: {', '.join(over)}")
    if args.summary:
        with args.summary.open("a", encoding="utf-8") as fh:
            fh.write(f"### Lambda size gate\n\n{verdict}\n\n" + "\n".join(md) + "\n")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
