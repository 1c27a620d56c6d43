"""The caller's IP address, for the anonymous rate-limit bucket, login throttling and the audit log's actor.

Called directly, API Gateway's ``requestContext.identity.sourceIp`` is the caller. Behind the web app's CloudFront
distribution (template.yaml, ``WebDistribution``) it is an edge server's address, shared by every viewer of that
edge: there the viewer is in ``CloudFront-Viewer-Address`` (``<ip>:<port>``, added by the behaviour's origin
request policy). That header is believed only when the same request carries the origin secret CloudFront adds to
every request it sends the API (``X-GPUBroker-Origin-Verify``, a custom origin header whose value is the generated
``EdgeOriginSecret``; the functions get it as ``EDGE_ORIGIN_SECRET``), compared in constant time. A client calling
the API directly cannot know the secret, so a forged ``CloudFront-Viewer-Address`` leaves it at its ``sourceIp``;
a viewer who sends either header through CloudFront has it replaced by CloudFront's own (a custom origin header
overrides the viewer's header of that name; CloudFront sets its ``CloudFront-Viewer-*`` headers itself).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from typing import Any

VIEWER_ADDRESS_HEADER = "CloudFront-Viewer-Address"
ORIGIN_VERIFY_HEADER = "X-GPUBroker-Origin-Verify"
UNKNOWN = "unknown"


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header's value, whatever the case of its name (API Gateway passes them as the client sent them)."""
    wanted = name.lower()
    return next((v for k, v in (headers or {}).items() if k.lower() == wanted), None)


def parse_viewer_address(value: str | None) -> str | None:
    """The IP of a ``CloudFront-Viewer-Address`` value, normalised: ``198.51.100.10:46532`` -> ``198.51.100.10``,
    ``2001:db8::1:46532`` (IPv6 without brackets, as CloudFront writes it) -> ``2001:db8::1``, ``[2001:db8::1]:443``
    too; None for anything else (no port, a port out of range, not an address)."""
    text = (value or "").strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def from_edge(headers: Mapping[str, str] | None, origin_secret: str) -> bool:
    """Whether the request carries the origin secret (so it came through the distribution). No secret configured
    (the local stack, a stack without the distribution): never."""
    if not origin_secret:
        return False
    presented = header(headers, ORIGIN_VERIFY_HEADER)
    return presented is not None and hmac.compare_digest(presented.encode(), origin_secret.encode())


def client_ip(source_ip: str | None, headers: Mapping[str, str] | None, origin_secret: str) -> str:
    """The viewer's address when the request came through the distribution and names one; else ``sourceIp``."""
    if from_edge(headers, origin_secret):
        viewer = parse_viewer_address(header(headers, VIEWER_ADDRESS_HEADER))
        if viewer is not None:
            return viewer
    return source_ip or UNKNOWN


def request_ip(app: Any, origin_secret: str | None = None) -> str:
    """:func:`client_ip` of the resolver's current request; the secret is the front door's of the function's
    ``Deps`` (``app.context["deps"]``) unless given."""
    if origin_secret is None:
        door = getattr(app.context.get("deps"), "front_door", None)
        origin_secret = getattr(door, "origin_secret", "")
    event = app.current_event
    return client_ip(event.request_context.identity.source_ip, event.headers, origin_secret or "")
