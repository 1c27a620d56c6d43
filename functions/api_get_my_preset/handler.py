"""GET /me/presets/{name} (signed in): one preset's ranked offers; for-you ranked for the caller from their own
interactions."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from gpubroker.api.identity import acting_user
from gpubroker.api.math_models import PresetOut, PresetQuery
from gpubroker.api.resolver import api_handler, ensure_known_query, new_resolver, responses
from gpubroker.config import PersonalSettings
from gpubroker.services.presets import PresetName, preset_for
from gpubroker.wiring import personal_deps

Settings = PersonalSettings
app = new_resolver()


@app.get("/me/presets/<name>", responses=responses(PresetOut, 400, 401, 404, 503))
def my_preset(name: Annotated[PresetName, Path()], limit: Annotated[int, Query(ge=1, le=50)] = 10) -> PresetOut:
    ensure_known_query(app, PresetQuery)
    deps = app.context["deps"]
    user_id = acting_user(app)
    model = deps.models.get() if deps.models else None
    history = deps.interactions.history(user_id) if deps.interactions else None
    result = preset_for(name, limit=limit, offers=deps.offers, user_id=user_id, model=model, history=history)
    return PresetOut.model_validate(result.model_dump())


lambda_handler = api_handler(app, personal_deps)
