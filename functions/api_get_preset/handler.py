"""GET /presets/{name}: one preset's ranked offers (for-you is personalised when a user_id is given)."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from gpubroker.api.math_models import PresetOut
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import PersonalSettings
from gpubroker.services.presets import run_preset
from gpubroker.wiring import MathDeps, personal_deps

Settings = PersonalSettings
app = new_resolver()

PresetName = Literal[
    "best-value", "highest-performance", "most-reliable", "budget-friendly", "enterprise-grade", "for-you"
]


@app.get("/presets/<name>", responses=responses(PresetOut, 404, 503))
def preset(
    name: Annotated[PresetName, Path()],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    user_id: Annotated[str | None, Query(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@:-]+$")] = None,
) -> PresetOut:
    deps: MathDeps = app.context["deps"]
    model = deps.models.get() if deps.models else None
    history = deps.interactions.history(user_id) if deps.interactions and user_id else None
    return PresetOut.model_validate(
        run_preset(name, om=deps.offers.get(), limit=limit, user_id=user_id, cf=model, history=history)
    )


lambda_handler = api_handler(app, personal_deps)
