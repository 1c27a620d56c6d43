"""What a chat ranking is made of, without NumPy (the dialogue engines import it): the criteria and their weights,
the ranked offers with each criterion's contribution, a card's one-line explanation and its booking link. The
ranking itself is :func:`gpubroker.services.assistant.ranking.rank_offers`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# What a chat ranking weighs (the TOPSIS criteria of /math/topsis): price first, then speed, memory, reliability.
CHAT_CRITERIA: dict[str, float] = {
    "price_per_gpu_hour": 0.4,
    "fp16_tflops": 0.25,
    "total_gpu_memory_gb": 0.15,
    "reliability": 0.2,
}
# what each criterion is, in a card's words (services.offer_math.CRITERIA's descriptions)
CRITERION_WORDS = {
    "price_per_gpu_hour": "price per GPU-hour",
    "fp16_tflops": "FP16 speed",
    "total_gpu_memory_gb": "total GPU memory",
    "reliability": "provider reliability",
}


def booking_link(offer_id: str, hours: int | None = None) -> str:
    return f"/bookings?offer_id={offer_id}" + (f"&hours={hours}" if hours else "")


@dataclass(frozen=True)
class Ranked:
    """Offers ranked by TOPSIS over :data:`CHAT_CRITERIA`, with each criterion's contribution per offer."""

    offer_ids: list[str]
    scores: list[float]
    contributions: list[dict[str, float]]  # per offer: criterion -> weight x position toward the best (sums <= 1)


def one_line(price_per_gpu_hour: float, contributions: Mapping[str, float], why: str = "") -> str:
    top = [n for n, v in sorted(contributions.items(), key=lambda kv: -kv[1]) if v > 0][:2]
    strong = " and ".join(CRITERION_WORDS.get(n, n) for n in top) if top else "the only candidate"
    line = f"${price_per_gpu_hour:.2f}/GPU-h; strongest on {strong}"
    return f"{line}; {why}" if why else line
