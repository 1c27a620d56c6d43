"""The HTTP answer that hands a session to the client: tokens in the body, the fingerprint in a hardened cookie."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from gpubroker.api.auth_models import Tokens
from gpubroker.api.cookies import fingerprint_cookie
from gpubroker.services.auth import Session


def session_response(session: Session) -> Response[Any]:
    body = Tokens(access_token=session.access_token, expires_in=session.access_expires_in,
                  refresh_token=session.refresh_token, refresh_expires_in=session.refresh_expires_in)  # fmt: skip
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body.model_dump(),
                    headers={"Cache-Control": "no-store"},
                    cookies=[fingerprint_cookie(session.fingerprint, session.refresh_expires_in)])  # fmt: skip
