"""GET /me/presets/{name} (signed in): one preset's ranked offers; for-you ranked for the caller from their own
interactions."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from gpubroker.api.identity import acting_user
from gpubroker.api.math_models import PresetOut
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import PersonalSettings
from gpubroker.domain.math_requests import PresetName
from gpubroker.services.presets import preset_for
from gpubroker.wiring.math import PersonalDeps, personal_deps

Settings = PersonalSettings
Deps = PersonalDeps
app = new_resolver()


@app.get("/me/presets/<name>", responses=responses(PresetOut, 400, 401, 404, 503))
def my_preset(name: Annotated[PresetName, Path()], limit: Annotated[int, Query(ge=1, le=50)] = 10) -> PresetOut:
    deps: Deps = app.context["deps"]
    user_id = acting_user(app)
    result = preset_for(name, limit=limit, offers=deps.offers, user_id=user_id, model=deps.models.get(),
                        history=deps.interactions.history(user_id))  # fmt: skip
    return PresetOut.model_validate(result.model_dump())


lambda_handler = api_handler(app, personal_deps)
