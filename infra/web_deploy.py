"""``make deploy-web``: upload the built web app (web/dist) to the deployed stack's WebBucket under ``app/``, where
CloudFront serves it (template.yaml, ``WebDistribution``). Hashed assets are cached for good; ``index.html`` is
revalidated on every load, so a new build shows on the next page load. Earlier builds' assets stay (a tab still
open on one keeps loading its chunks)."""

from __future__ import annotations

import argparse
import mimetypes
import sys
from pathlib import Path

import boto3

from infra.local.template import ROOT

DIST = ROOT / "web/dist"
IMMUTABLE = "public, max-age=31536000, immutable"


def outputs(stack_name: str, region: str) -> dict[str, str]:
    cfn = boto3.client("cloudformation", region_name=region)
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def upload(bucket: str, region: str, dist: Path = DIST) -> int:
    """Every file of ``dist`` under ``app/``: the assets first, index.html last (it names them)."""
    s3 = boto3.client("s3", region_name=region)
    built = (p for p in dist.rglob("*") if p.is_file() and ".vite" not in p.parts)
    files = sorted(built, key=lambda p: p.name == "index.html")
    for path in files:
        key = f"app/{path.relative_to(dist).as_posix()}"
        hashed = path.parent.name == "assets"
        s3.upload_file(str(path), bucket, key, ExtraArgs={
            "ContentType": mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            "CacheControl": IMMUTABLE if hashed else "no-cache",
        })  # fmt: skip
    return len(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.web_deploy", description=__doc__)
    parser.add_argument("--stack-name", default="gpubroker-dev")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    if not (DIST / "index.html").is_file():
        print("web/dist is missing: make web builds it", file=sys.stderr)
        return 2
    out = outputs(args.stack_name, args.region)
    count = upload(out["WebBucketName"], args.region)
    print(f"{count} files uploaded; the app: {out['WebAppUrl']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
