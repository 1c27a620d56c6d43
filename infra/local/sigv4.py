"""What AWS puts in front of the Lambda Invoke API and a WebSocket API's ``@connections`` endpoint, for the local
stack: IAM authentication by Signature Version 4, with credentials made for one run, and the refusal of requests a
web browser sent.

In AWS neither endpoint answers a request that is not signed by an IAM principal allowed to call it. The local
stack makes one access key per run (:meth:`LocalCredentials.generate`): its processes hold it as their
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, so every boto3 client in a handler signs with it as it would with
the execution role's credentials in Lambda (no code path of the functions knows it is local), and the state file
(``.local/stack.json``, mode 0600) gives it to ``make ingest``, ``make remove-provider``, the tests and the
benchmarks. A request that is not signed with it is refused (403, an AWS error code in ``x-amzn-ErrorType`` and in
the body).

A browser cannot sign (a page never learns the key), and the refusal of browser-originated requests comes first,
before the signature is looked at: a request with an ``Origin`` header, a ``Sec-Fetch-Site`` other than ``none``,
or a content type a page may send without a CORS preflight (``text/plain``, ``application/x-www-form-urlencoded``,
``multipart/form-data``) is ``BrowserRequestRefused``. No SDK sends any of these.

The verifier follows the SigV4 specification (canonical request, string to sign, derived key; the canonical path
normalised and encoded as botocore does for every service but S3) and is tested against AWS's published example
and against requests boto3 signed. Signatures older or newer than 5 minutes are refused, as AWS does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

REGION = "us-east-1"
MAX_SKEW_S = 300.0
"""How far a signature's time may be from the verifier's clock (AWS: 5 minutes, then "Signature expired")."""
ALGORITHM = "AWS4-HMAC-SHA256"
SIMPLE_CONTENT_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
"""The content types a web page may POST anywhere without a CORS preflight."""
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_AMZ_DATE_RE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class LocalCredentials:
    """One run's access key: what the stack's processes sign with, and what its fronts accept."""

    access_key_id: str
    secret_access_key: str

    @classmethod
    def generate(cls) -> LocalCredentials:
        alphabet = string.ascii_uppercase + string.digits
        key_id = "LOCAL" + "".join(secrets.choice(alphabet) for _ in range(15))  # 20 characters, as AWS's
        return cls(access_key_id=key_id, secret_access_key=secrets.token_urlsafe(30))

    def environment(self) -> dict[str, str]:
        """The variables that make every boto3 client of a process sign with this key."""
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}

    def state(self) -> dict[str, str]:
        return {"access_key_id": self.access_key_id, "secret_access_key": self.secret_access_key}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> LocalCredentials:
        """The credentials in a stack's state file (``state["credentials"]``); KeyError when it has none."""
        creds = state["credentials"]
        return cls(access_key_id=str(creds["access_key_id"]), secret_access_key=str(creds["secret_access_key"]))


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str

    def body(self) -> bytes:
        """The local front's error shape, with AWS's ``message`` beside it (what an SDK shows; it reads the code
        from the ``x-amzn-ErrorType`` header)."""
        return json.dumps({"error": {"code": self.code, "message": self.message}, "message": self.message}).encode()


def _refused(code: str, message: str) -> Refusal:
    return Refusal(403, code, message)


# ---------------------------------------------------------------------------------------------- the canonical form
def canonical_path(raw_path: str) -> str:
    """The path as sent (percent-encoded), dot segments and repeated slashes removed, encoded once more."""
    segments: list[str] = []
    for part in raw_path.split("/"):
        if part == "..":
            if segments:
                segments.pop()
        elif part and part != ".":
            segments.append(part)
    path = "/" + "/".join(segments) + ("/" if raw_path.endswith("/") and segments else "")
    return quote(path, safe="/~")


def canonical_query(raw_query: str) -> str:
    """The query as sent, its ``key=value`` pairs sorted."""
    if not raw_query:
        return ""
    pairs = [(k, v) for k, _, v in (p.partition("=") for p in raw_query.split("&"))]
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_request(method: str, target: str, headers: Mapping[str, str], signed: list[str], body_sha256: str) -> str:
    """``target``: the request line's path and query as sent; ``headers``: lower-case names; ``signed``: the
    lower-case names of the signed headers, sorted."""
    url = urlsplit(target)
    lines = [f"{name}:{' '.join(headers[name].split())}" for name in signed]
    return "\n".join(
        [method.upper(), canonical_path(url.path or "/"), canonical_query(url.query), "\n".join(lines) + "\n",
         ";".join(signed), body_sha256]
    )  # fmt: skip


@lru_cache(maxsize=64)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(secret: str, amz_date: str, region: str, service: str, canonical: str) -> str:
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    return hmac.new(_signing_key(secret, amz_date[:8], region, service), to_sign.encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------------------------- the client side
def sign(
    creds: LocalCredentials,
    service: str,
    method: str,
    url: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    region: str = REGION,
    now: float | None = None,
) -> dict[str, str]:
    """The headers to send with a request (``headers`` plus ``X-Amz-Date`` and ``Authorization``), as an SDK signs
    it: ``host``, ``x-amz-date`` and every header given are signed. For clients without boto3 (``urllib``)."""
    parts = urlsplit(url)
    amz_date = datetime.fromtimestamp(time.time() if now is None else now, UTC).strftime(_AMZ_DATE)
    out = {**(headers or {}), "X-Amz-Date": amz_date}
    lower = {k.lower(): v for k, v in out.items()}
    lower["host"] = parts.netloc
    signed = sorted(lower)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    canonical = canonical_request(method, target, lower, signed, hashlib.sha256(body).hexdigest())
    sig = signature(creds.secret_access_key, amz_date, region, service, canonical)
    scope = f"{creds.access_key_id}/{amz_date[:8]}/{region}/{service}/aws4_request"
    out["Authorization"] = f"{ALGORITHM} Credential={scope}, SignedHeaders={';'.join(signed)}, Signature={sig}"
    return out


# ---------------------------------------------------------------------------------------------- the server side
def browser_refusal(headers: Mapping[str, str]) -> Refusal | None:
    """``headers``: lower-case names. A refusal when a web browser (a page, a form, a navigation from a site)
    sent the request."""
    why = None
    if "origin" in headers:
        why = "an Origin header"
    elif headers.get("sec-fetch-site", "none").strip().lower() != "none":
        why = f"Sec-Fetch-Site: {headers['sec-fetch-site']}"
    else:
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media in SIMPLE_CONTENT_TYPES:
            why = f"Content-Type: {media}"
    if why is None:
        return None
    return _refused("BrowserRequestRefused", f"a browser-originated request ({why}) is refused: this endpoint takes "
                    "only requests signed with the local stack's credentials (.local/stack.json)")  # fmt: skip


def _epoch(amz_date: str) -> float | None:
    """``YYYYMMDDTHHMMSSZ`` as epoch seconds (``strptime`` was a third of the check's time)."""
    if not _AMZ_DATE_RE.fullmatch(amz_date):
        return None
    try:
        d = datetime(int(amz_date[:4]), int(amz_date[4:6]), int(amz_date[6:8]), int(amz_date[9:11]),
                     int(amz_date[11:13]), int(amz_date[13:15]), tzinfo=UTC)  # fmt: skip
    except ValueError:  # month 13, ...
        return None
    return d.timestamp()


def _authorization(value: str) -> dict[str, str] | None:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        return None
    fields = {}
    for item in rest.split(","):
        name, sep, val = item.strip().partition("=")
        if not sep:
            return None
        fields[name] = val
    return fields if {"Credential", "SignedHeaders", "Signature"} <= fields.keys() else None


def verify(
    creds: LocalCredentials,
    service: str,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
) -> Refusal | None:
    """None when the request is signed with ``creds`` for ``service``, within :data:`MAX_SKEW_S` of ``now``; else
    AWS's refusal. ``target``: the request line's path and query as received; ``headers``: lower-case names."""
    raw = headers.get("authorization")
    if not raw:
        return _refused("MissingAuthenticationTokenException", "Missing Authentication Token")
    auth = _authorization(raw)
    scope = auth["Credential"].split("/") if auth else []
    if auth is None or len(scope) != 5 or scope[4] != "aws4_request":
        form = "Credential=<key>/<date>/<region>/<service>/aws4_request, SignedHeaders=..., Signature=..."
        return _refused("IncompleteSignatureException", f"the Authorization header is not {ALGORITHM} {form}")
    key_id, date, region, scoped_service, _ = scope
    if not hmac.compare_digest(key_id.encode(), creds.access_key_id.encode()):
        return _refused("UnrecognizedClientException", "The security token included in the request is invalid.")
    if scoped_service != service:
        return _refused("InvalidSignatureException", f"Credential should be scoped to correct service: '{service}'.")
    signed = auth["SignedHeaders"].split(";")
    amz_date = headers.get("x-amz-date", "")
    if not {"host", "x-amz-date"} <= set(signed) or signed != sorted(signed):
        return _refused("InvalidSignatureException", "SignedHeaders must list host and x-amz-date, sorted.")
    if any(h not in headers for h in signed):
        return _refused("InvalidSignatureException", "a header named in SignedHeaders is missing.")
    when = _epoch(amz_date)
    if when is None:
        return _refused("IncompleteSignatureException", f"X-Amz-Date is not {_AMZ_DATE}.")
    if date != amz_date[:8]:
        return _refused("InvalidSignatureException", "Credential should be scoped to the date of X-Amz-Date.")
    clock = time.time() if now is None else now
    if abs(clock - when) > MAX_SKEW_S:
        return _refused("InvalidSignatureException", f"Signature expired: {amz_date} is more than "
                        f"{MAX_SKEW_S:.0f} s from the stack's time.")  # fmt: skip
    body_sha256 = hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256
    claimed = headers.get("x-amz-content-sha256")
    if claimed is not None and claimed != body_sha256:
        return _refused("InvalidSignatureException", "X-Amz-Content-SHA256 is not the body's SHA-256.")
    canonical = canonical_request(method, target, headers, signed, body_sha256)
    expected = signature(creds.secret_access_key, amz_date, region, service, canonical)
    if not hmac.compare_digest(expected.encode(), auth["Signature"].encode()):
        return _refused("InvalidSignatureException", "The request signature we calculated does not match the "
                        "signature you provided.")  # fmt: skip
    return None


def refusal(
    creds: LocalCredentials,
    service: str,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    clock: Callable[[], float] = time.time,
) -> Refusal | None:
    """Both checks, the browser's first: None when the request may go on."""
    return browser_refusal(headers) or verify(creds, service, method, target, headers, body, now=clock())
