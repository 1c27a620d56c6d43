"""Money: an integer count of a currency's minor units (cents), never a float. Pure, no I/O.

Every amount in booking and billing is a :class:`Money`. Arithmetic is exact: addition and subtraction only within
one currency (:class:`CurrencyMismatch` otherwise), multiplication by an ``int`` or a ``Decimal`` quantity rounds
once, ROUND_HALF_UP to the minor unit. A catalog price (USD per hour, a float or a ``Decimal``) becomes money once,
through ``Decimal(str(price))`` (:func:`from_major`): the float's shortest repr, so ``0.1`` is 10 cents and not
``0.1000000000000000055...``. The refund rule "pro rata by started hour" is :func:`prorate`.

JSON form: ``{"amount": 1234, "currency": "usd"}`` (:meth:`Money.to_json`, :meth:`Money.from_json`); currencies
are ISO 4217 codes, stored lower case as Stripe writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_UP, Decimal, Inexact, InvalidOperation, localcontext
from typing import Any, Final

# ISO 4217 exponents that are not 2 (the zero-decimal and three-decimal currencies Stripe lists)
_ZERO_DECIMAL: Final = [
    "bif",
    "clp",
    "djf",
    "gnf",
    "jpy",
    "kmf",
    "krw",
    "mga",
    "pyg",
    "rwf",
    "ugx",
    "vnd",
    "vuv",
    "xaf",
    "xof",
    "xpf",
]
_THREE_DECIMAL: Final = ["bhd", "jod", "kwd", "omr", "tnd"]
_EXPONENTS: Final[dict[str, int]] = {**dict.fromkeys(_ZERO_DECIMAL, 0), **dict.fromkeys(_THREE_DECIMAL, 3)}


_MAX_MAJOR_DIGITS: Final = 15
"""A major amount of 10**16 or more is refused as a price (no catalog price is near; keeps the ints small)."""


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were combined."""


def exponent(currency: str) -> int:
    """The number of minor-unit digits of an ISO 4217 currency (2 unless listed otherwise)."""
    return _EXPONENTS.get(currency, 2)


def _currency(value: str) -> str:
    code = value.strip().lower() if isinstance(value, str) else ""
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ValueError(f"a currency is a 3-letter ISO 4217 code, not {value!r}")
    return code


def _round(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def _exact(fn: Any, *args: Any) -> Decimal:
    """``fn(*args)`` in a Decimal context wide enough that a product of two Decimals never rounds before ours."""
    with localcontext() as ctx:
        ctx.prec = 400
        ctx.Emax = MAX_EMAX
        ctx.Emin = MIN_EMIN
        ctx.traps[Inexact] = False
        result: Decimal = fn(*args)
        return result


def _div_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` (denominator > 0) rounded half away from zero, in integers only."""
    sign = -1 if numerator < 0 else 1
    return sign * ((2 * abs(numerator) + denominator) // (2 * denominator))


@dataclass(frozen=True, slots=True)
class Money:
    """``amount_minor`` minor units (cents for usd) of ``currency`` (lower-case ISO 4217). May be negative."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise TypeError(f"amount_minor must be an int, not {type(self.amount_minor).__name__}")
        object.__setattr__(self, "currency", _currency(self.currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency}")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount_minor + self._same(other).amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount_minor - self._same(other).amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount_minor < self._same(other).amount_minor

    def __le__(self, other: Money) -> bool:
        return self.amount_minor <= self._same(other).amount_minor

    def __gt__(self, other: Money) -> bool:
        return self.amount_minor > self._same(other).amount_minor

    def __ge__(self, other: Money) -> bool:
        return self.amount_minor >= self._same(other).amount_minor

    def times(self, quantity: int | Decimal) -> Money:
        """This amount times ``quantity`` (an int, or a Decimal rounded once ROUND_HALF_UP to the minor unit).

        A float quantity is refused: convert it deliberately with ``Decimal(str(x))`` first."""
        if isinstance(quantity, bool) or not isinstance(quantity, int | Decimal):
            raise TypeError(f"multiply Money by an int or a Decimal, not {type(quantity).__name__}")
        if isinstance(quantity, int):
            return Money(self.amount_minor * quantity, self.currency)
        if not quantity.is_finite():
            raise ValueError(f"cannot multiply Money by {quantity}")
        return Money(_round(_exact(Decimal.__mul__, Decimal(self.amount_minor), quantity)), self.currency)

    __mul__ = times
    __rmul__ = times

    def to_json(self) -> dict[str, Any]:
        return {"amount": self.amount_minor, "currency": self.currency}

    @classmethod
    def from_json(cls, value: object) -> Money:
        if not isinstance(value, dict) or set(value) != {"amount", "currency"}:
            raise ValueError('money is {"amount": <int minor units>, "currency": "<iso code>"}')
        return cls(value["amount"], value["currency"])

    def __str__(self) -> str:
        digits = exponent(self.currency)
        major = Decimal(self.amount_minor).scaleb(-digits)
        return f"{major:.{digits}f} {self.currency.upper()}"


def from_major(value: float | int | str | Decimal, currency: str = "usd") -> Money:
    """A price in major units (e.g. the catalog's USD per hour) as Money, ROUND_HALF_UP to the minor unit.

    The one place a float becomes money: through ``Decimal(str(value))``, the float's shortest decimal form, so no
    float arithmetic ever touches the amount. NaN, infinities and non-numbers are refused with ``ValueError``."""
    if isinstance(value, bool):
        raise TypeError("a price is not a bool")
    code = _currency(currency)
    try:
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a price: {value!r}") from exc
    if not dec.is_finite() or (dec and dec.adjusted() > _MAX_MAJOR_DIGITS):
        raise ValueError(f"not a price: {value!r}")
    return Money(_round(_exact(Decimal.scaleb, dec, exponent(code))), code)


def price_for_hours(price_per_hour: Money, hours: int, gpu_count: int = 1) -> Money:
    """The amount of a booking: the hourly price (already rounded to the minor unit) times hours times GPUs."""
    if hours < 0 or gpu_count < 0:
        raise ValueError("hours and gpu_count are not negative")
    return price_per_hour.times(hours * gpu_count)


def prorate(total: Money, used_hours: int, booked_hours: int) -> Money:
    """The refund of a booking of ``booked_hours`` cancelled after ``used_hours`` started hours.

    Refund = ``total * (booked - used) / booked``, rounded ROUND_HALF_UP to the minor unit, so the charge kept
    (``total - refund``) plus the refund is exactly the total, the refund is never more than the total nor
    negative for a non-negative total, and a booking not started is refunded whole. ``used_hours`` beyond the
    booking counts as the whole booking (nothing refunded)."""
    if booked_hours <= 0:
        raise ValueError("booked_hours must be positive")
    if used_hours < 0:
        raise ValueError("used_hours must not be negative")
    remaining = max(booked_hours - min(used_hours, booked_hours), 0)
    return Money(_div_half_up(total.amount_minor * remaining, booked_hours), total.currency)


def split(total: Money, parts: int) -> list[Money]:
    """``total`` in ``parts`` near-equal amounts that sum exactly to it (the first ones take the leftover units)."""
    if parts <= 0:
        raise ValueError("parts must be positive")
    base, extra = divmod(total.amount_minor, parts)
    return [Money(base + (1 if i < extra else 0), total.currency) for i in range(parts)]
