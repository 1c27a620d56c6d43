"""GET /presets/{name}: one preset's ranked offers (for-you: the cold-start ensemble; signed in, GET
/me/presets/{name} personalises it)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from gpubroker.api.math_models import PresetOut
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import ModelSettings
from gpubroker.domain.math_requests import PresetName
from gpubroker.services.presets import preset_for
from gpubroker.wiring.math import ModelDeps, model_deps

Settings = ModelSettings
Deps = ModelDeps
app = new_resolver()


@app.get("/presets/<name>", responses=responses(PresetOut, 400, 404, 503))
def preset(name: Annotated[PresetName, Path()], limit: Annotated[int, Query(ge=1, le=50)] = 10) -> PresetOut:
    deps: Deps = app.context["deps"]
    result = preset_for(name, limit=limit, offers=deps.offers, user_id=None, model=deps.models.get(), history=None)
    return PresetOut.model_validate(result.model_dump())


lambda_handler = api_handler(app, model_deps)
