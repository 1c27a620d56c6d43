"""Money: integer minor units, exact arithmetic, one rounding rule (ROUND_HALF_UP), pro-rata refunds."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gpubroker.domain.money import CurrencyMismatch, Money, from_major, price_for_hours, prorate, split

amounts = st.integers(min_value=-(10**15), max_value=10**15)
non_negative = st.integers(min_value=0, max_value=10**15)
currencies = st.sampled_from(["usd", "eur", "jpy", "kwd"])


def usd(n: int) -> Money:
    return Money(n, "usd")


@given(amounts, amounts, amounts)
def test_addition_is_associative_and_commutative(a: int, b: int, c: int) -> None:
    assert (usd(a) + usd(b)) + usd(c) == usd(a) + (usd(b) + usd(c))
    assert usd(a) + usd(b) == usd(b) + usd(a)
    assert usd(a) + usd(b) - usd(b) == usd(a)


def test_currencies_do_not_mix() -> None:
    with pytest.raises(CurrencyMismatch):
        _ = Money(1, "usd") + Money(1, "eur")
    with pytest.raises(CurrencyMismatch):
        _ = Money(1, "usd") - Money(1, "eur")
    with pytest.raises(CurrencyMismatch):
        _ = Money(1, "usd") < Money(1, "eur")


@pytest.mark.parametrize("bad", [1.5, True, "12", None])
def test_amount_is_an_int(bad: object) -> None:
    with pytest.raises(TypeError):
        Money(bad, "usd")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["us", "usdd", "12a", "", "€€€"])
def test_currency_is_an_iso_code(bad: str) -> None:
    with pytest.raises(ValueError):
        Money(1, bad)


def test_currency_is_stored_lower_case() -> None:
    assert Money(5, "USD") == Money(5, "usd")


def test_float_quantity_refused() -> None:
    with pytest.raises(TypeError):
        usd(100).times(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        usd(100).times(Decimal("NaN"))


@pytest.mark.parametrize(
    ("amount", "qty", "expected"),
    [(1, Decimal("0.5"), 1), (3, Decimal("0.5"), 2), (-1, Decimal("0.5"), -1), (1, Decimal("0.49"), 0),
     (199, Decimal("1.5"), 299), (10, 3, 30)],
)  # fmt: skip
def test_multiplication_rounds_half_up(amount: int, qty: int | Decimal, expected: int) -> None:
    assert usd(amount) * qty == usd(expected)
    assert qty * usd(amount) == usd(expected)


@given(amounts, st.integers(-1000, 1000))
def test_int_multiplication_is_exact(a: int, k: int) -> None:
    assert usd(a).times(k).amount_minor == a * k
    assert usd(a).times(Decimal(k)).amount_minor == a * k


@given(amounts, st.decimals(min_value=-1000, max_value=1000, allow_nan=False, places=6))
def test_decimal_multiplication_is_within_half_a_unit(a: int, q: Decimal) -> None:
    got = usd(a).times(q).amount_minor
    assert abs(Decimal(got) - Decimal(a) * q) <= Decimal("0.5")


@pytest.mark.parametrize(
    ("price", "currency", "expected"),
    [(0.1, "usd", 10), (2.495, "usd", 250), (2.494999, "usd", 249), (1.005, "usd", 101), (0.29, "usd", 29),
     (Decimal("3.14159"), "usd", 314), (150, "jpy", 150), (1.2345, "kwd", 1235), ("0.015", "usd", 2), (0, "usd", 0)],
)  # fmt: skip
def test_from_major_uses_the_decimal_form(price: float | Decimal | str, currency: str, expected: int) -> None:
    # 1.005 as a float is 1.00499999999999989...: float arithmetic (1.005 * 100 = 100.49999...) would round to 100
    assert from_major(price, currency) == Money(expected, currency)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "abc", Decimal("1e30"), True])
def test_from_major_refuses_non_prices(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        from_major(bad)  # type: ignore[arg-type]


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_from_major_of_a_float_matches_its_repr(price: float) -> None:
    expected = int(Decimal(repr(price)) * 100 + Decimal("0.5")) if price >= 0 else None
    assert from_major(price).amount_minor == expected


def test_price_for_hours() -> None:
    assert price_for_hours(from_major(1.99), 3, gpu_count=2) == usd(1194)
    with pytest.raises(ValueError):
        price_for_hours(usd(1), -1)


@given(non_negative, st.integers(0, 800), st.integers(1, 720))
@example(total=1, used=1, booked=3)
@example(total=5, used=1, booked=2)
def test_prorate_never_exceeds_the_total_and_parts_sum_to_it(total: int, used: int, booked: int) -> None:
    refund = prorate(usd(total), used, booked)
    kept = usd(total) - refund
    assert usd(0) <= refund <= usd(total)
    assert kept + refund == usd(total)
    assert usd(0) <= kept


@given(non_negative, st.integers(1, 720))
def test_prorate_is_monotonic_in_used_hours(total: int, booked: int) -> None:
    refunds = [prorate(usd(total), used, booked).amount_minor for used in range(booked + 2)]
    assert refunds == sorted(refunds, reverse=True)
    assert refunds[0] == total
    assert refunds[booked] == 0 and refunds[booked + 1] == 0


@pytest.mark.parametrize(
    ("total", "used", "booked", "refund"), [(1000, 0, 4, 1000), (1000, 1, 4, 750), (1000, 1, 3, 667), (5, 1, 2, 3)]
)
def test_prorate_examples(total: int, used: int, booked: int, refund: int) -> None:
    assert prorate(usd(total), used, booked) == usd(refund)


def test_prorate_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        prorate(usd(10), 0, 0)
    with pytest.raises(ValueError):
        prorate(usd(10), -1, 2)


@given(amounts, st.integers(1, 50))
def test_split_sums_to_the_total(total: int, parts: int) -> None:
    pieces = split(usd(total), parts)
    assert len(pieces) == parts
    assert sum((p.amount_minor for p in pieces), 0) == total
    assert max(p.amount_minor for p in pieces) - min(p.amount_minor for p in pieces) <= 1


@given(amounts, currencies)
def test_json_round_trip(a: int, currency: str) -> None:
    m = Money(a, currency)
    text = json.dumps(m.to_json())
    assert json.loads(text) == {"amount": a, "currency": currency}
    assert Money.from_json(json.loads(text)) == m


@pytest.mark.parametrize(
    "bad", [{"amount": 1.5, "currency": "usd"}, {"amount": 1}, [], {"amount": 1, "currency": "usd", "x": 1}]
)
def test_json_refuses_bad_shapes(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        Money.from_json(bad)


def test_str() -> None:
    assert str(usd(123456)) == "1234.56 USD"
    assert str(Money(150, "jpy")) == "150 JPY"
    assert str(usd(-5)) == "-0.05 USD"
