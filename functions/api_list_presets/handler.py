"""GET /presets: every preset with its top offer, savings against the market median and a confidence score
(for-you: the cold-start ensemble; signed in, GET /me/presets personalises it)."""

from __future__ import annotations

from gpubroker.api.math_models import PresetList
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import ModelSettings
from gpubroker.services.presets import presets_for
from gpubroker.wiring.math import ModelDeps, model_deps

Settings = ModelSettings
Deps = ModelDeps
app = new_resolver()


@app.get("/presets", responses=responses(PresetList, 400, 503))
def presets() -> PresetList:
    deps: Deps = app.context["deps"]
    presets = presets_for(offers=deps.offers, user_id=None, model=deps.models.get(), history=None)
    return PresetList.model_validate({"items": [p.model_dump() for p in presets]})


lambda_handler = api_handler(app, model_deps)
