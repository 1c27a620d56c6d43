"""TOTP and recovery codes (gpubroker.domain.mfa): RFC 6238's own vectors, the drift window, replay refusal, and
recovery codes that are stored hashed and work once."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpubroker.domain import mfa

# RFC 6238 Appendix B: the SHA1 seed is the ASCII string "12345678901234567890", 8-digit codes, 30-s steps
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]
SECRET = mfa.new_secret()
NOW = datetime(2026, 11, 26, 12, 0, 7, tzinfo=UTC)
T = mfa.step_at(NOW)


@pytest.mark.parametrize(("unix_time", "expected"), RFC_VECTORS)
def test_rfc6238_appendix_b_sha1_vectors(unix_time: int, expected: str) -> None:
    assert mfa.totp(RFC_SECRET, digits=8).at(unix_time) == expected
    assert mfa.code_at(RFC_SECRET, mfa.step_at(unix_time), digits=8) == expected
    # and our acceptance rule agrees at that instant (6 digits: the low six of the same HOTP value)
    assert mfa.matching_step(RFC_SECRET, expected[-6:], unix_time, None) == unix_time // 30


def test_configuration_is_what_authenticator_apps_assume() -> None:
    gen = mfa.totp(SECRET)
    assert (gen.digits, gen.interval, gen.digest().name) == (6, 30, "sha1")
    assert len(SECRET) == 32 and len(base64.b32decode(SECRET)) == 20  # 160 bits
    assert mfa.new_secret() != SECRET


def test_otpauth_uri_names_the_issuer_and_the_account() -> None:
    uri = mfa.otpauth_uri(SECRET, "ada+mfa@example.com")
    parsed = urlparse(uri)
    assert (parsed.scheme, parsed.netloc) == ("otpauth", "totp")
    assert unquote(parsed.path) == "/GPUBroker:ada+mfa@example.com"
    query = parse_qs(parsed.query)
    assert query["secret"] == [SECRET] and query["issuer"] == ["GPUBroker"]
    png = mfa.qr_png_data_uri(uri)
    assert png.startswith("data:image/png;base64,")
    assert base64.b64decode(png.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")


def test_one_step_of_drift_either_way_is_accepted_two_are_not() -> None:
    for offset in (-1, 0, 1):
        assert mfa.matching_step(SECRET, mfa.code_at(SECRET, T + offset), NOW, None) == T + offset
    for offset in (-3, -2, 2, 3):  # a code from a minute ago or a minute ahead: refused
        code = mfa.code_at(SECRET, T + offset)
        if code not in {mfa.code_at(SECRET, T + d) for d in (-1, 0, 1)}:  # a 1-in-10^6 coincidence is not drift
            assert mfa.matching_step(SECRET, code, NOW, None) is None
    assert mfa.matching_step(SECRET, mfa.code_at(SECRET, 0), 10, None) == 0  # no step -1 at the epoch


def test_replay_the_same_step_or_an_older_one_is_refused() -> None:
    code = mfa.code_at(SECRET, T)
    step = mfa.matching_step(SECRET, code, NOW, None)
    assert step == T
    assert mfa.matching_step(SECRET, code, NOW, last_step=step) is None  # the same code again
    assert mfa.matching_step(SECRET, mfa.code_at(SECRET, T - 1), NOW, last_step=step) is None  # an older one
    assert mfa.matching_step(SECRET, mfa.code_at(SECRET, T + 1), NOW, last_step=step) == T + 1  # the next one


def test_only_six_ascii_digits_are_a_code() -> None:
    code = mfa.code_at(SECRET, T)
    fullwidth = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    arabic_indic = code.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for bad in (fullwidth, arabic_indic, f" {code}", f"{code}\n", code[:5], code + "0", "", "12345a"):
        assert mfa.matching_step(SECRET, bad, NOW, None) is None, repr(bad)


@settings(max_examples=60, deadline=None)
@given(
    t=st.integers(min_value=150, max_value=2**33),
    offset=st.integers(min_value=-4, max_value=4),
    last=st.one_of(st.none(), st.integers(min_value=-3, max_value=3)),
)
def test_property_a_code_is_accepted_iff_within_one_step_and_later_than_the_last(
    t: int, offset: int, last: int | None
) -> None:
    now_step = t // 30
    code = mfa.code_at(SECRET, now_step + offset)
    last_step = None if last is None else now_step + last
    got = mfa.matching_step(SECRET, code, t, last_step)
    window = [s for s in range(now_step - 1, now_step + 2) if last_step is None or s > last_step]
    # the earliest acceptable step whose code this is (normally now_step + offset; a collision may match earlier)
    expected = next((s for s in window if mfa.code_at(SECRET, s) == code), None)
    assert got == expected
    if got is not None:
        assert abs(got - now_step) <= 1 and (last_step is None or got > last_step)


def test_recovery_codes_are_random_distinct_and_stored_only_hashed() -> None:
    codes = mfa.new_recovery_codes()
    assert len(codes) == mfa.RECOVERY_CODES == len(set(codes))
    for code in codes:
        groups = code.split("-")
        assert len(groups) == 4 and all(
            len(g) == 4 and set(g) <= set("abcdefghijklmnopqrstuvwxyz234567") for g in groups
        )
        stored = mfa.recovery_hash(code)
        assert stored != code and code.replace("-", "") not in stored and len(stored) == 64
    assert mfa.new_recovery_codes() != codes


def test_a_recovery_code_matches_its_hash_whatever_the_case_or_hyphens_and_nothing_else() -> None:
    codes = mfa.new_recovery_codes()
    hashes = frozenset(mfa.recovery_hash(c) for c in codes)
    code = codes[3]
    assert mfa.matching_recovery_hash(code, hashes) == mfa.recovery_hash(code)
    assert mfa.matching_recovery_hash(code.upper().replace("-", ""), hashes) == mfa.recovery_hash(code)
    assert mfa.matching_recovery_hash(mfa.recovery_hash(code), hashes) is None  # the stored value is not a code
    assert mfa.matching_recovery_hash("aaaa-aaaa-aaaa-aaaa", hashes) is None
    assert mfa.matching_recovery_hash("123456", hashes) is None
    # single use is the store's conditional delete; once the hash is gone the code matches nothing
    assert mfa.matching_recovery_hash(code, hashes - {mfa.recovery_hash(code)}) is None


def test_challenges_expire_after_five_minutes() -> None:
    ch = mfa.new_challenge("login", user_id="u_1", email="a@b.io", now=NOW)
    assert len(ch.challenge_id) >= 43 and ch.attempts == 0
    assert not ch.expired(NOW) and ch.expires_at == int(NOW.timestamp()) + mfa.CHALLENGE_TTL_S == ch.expires_at
    assert ch.expired(datetime.fromtimestamp(ch.expires_at, UTC))
    assert mfa.new_challenge("login", user_id="u_1", email="a@b.io", now=NOW).challenge_id != ch.challenge_id
