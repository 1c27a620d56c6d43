"""Smoke test of a deployed stage (deploy.yml, after ``sam deploy``): the documented public routes answer, with
the correlation id and the security header, and an unknown route is a JSON 404.

    .venv/bin/python -m infra.smoke --url https://<api>.execute-api.<region>.amazonaws.com/<stage>
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request

CHECKS = [("/health", 200), ("/health/ready", 200), ("/offers?limit=1", 200), ("/openapi.json", 200),
          ("/no-such-route", 404)]  # fmt: skip


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=15) as resp:  # the stage's https URL  # nosec B310
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def check(base: str, path: str, expected: int) -> str | None:
    status, headers, body = get(base.rstrip("/") + path)
    if status != expected:
        return f"{path}: {status}, expected {expected}: {body[:200]!r}"
    json.loads(body)
    if headers.get("x-content-type-options") != "nosniff":
        return f"{path}: no X-Content-Type-Options: nosniff"
    if expected == 200 and not headers.get("x-correlation-id"):
        return f"{path}: no X-Correlation-Id"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--wait-s", type=float, default=120, help="how long /health/ready may take (first ingest)")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.wait_s
    while get(args.url.rstrip("/") + "/health/ready")[0] != 200 and time.monotonic() < deadline:
        time.sleep(5)
    failures = [f for path, expected in CHECKS if (f := check(args.url, path, expected))]
    for f in failures:
        print(f"smoke: FAIL {f}")
    print(f"smoke: {len(CHECKS) - len(failures)}/{len(CHECKS)} checks passed against {args.url}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
