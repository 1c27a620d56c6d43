"""Tokens and fingerprints that are not ASCII (a lone surrogate from a hostile header or cookie) are refused like any
malformed one, never raised through: the fuzz test found GET /health answering 500 to ``Bearer \\ud800``
(PyJWT's ``UnicodeEncodeError``)."""

from __future__ import annotations

import pytest

from gpubroker.domain.errors import InvalidToken
from gpubroker.domain.tokens import issue, verify
from tests.unit.test_tokens import FP, NOW, POLICY, RING


@pytest.mark.parametrize("token", ["\ud800", "\ud800.e30.x", "eyJ\udfff.eyJ.sig", "é.é.é"])
def test_a_token_that_is_not_ascii_is_malformed(token: str) -> None:
    with pytest.raises(InvalidToken) as refused:
        verify(token, "access", ring=RING, policy=POLICY, now=NOW, fingerprint=FP)
    assert refused.value.details == {"reason": "malformed"}


def test_a_fingerprint_with_a_lone_surrogate_does_not_match() -> None:
    token, _ = issue("access", ring=RING, policy=POLICY, now=NOW, subject="u1", family="f1", fingerprint=FP)
    with pytest.raises(InvalidToken) as refused:
        verify(token, "access", ring=RING, policy=POLICY, now=NOW, fingerprint="\ud800" + FP)
    assert refused.value.details == {"reason": "fingerprint"}
