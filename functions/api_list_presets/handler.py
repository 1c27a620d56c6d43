"""GET /presets: every preset with its top offer, savings against the market median and a confidence score
(for-you: the cold-start ensemble; signed in, GET /me/presets personalises it)."""

from __future__ import annotations

from gpubroker.api.math_models import PresetList
from gpubroker.api.resolver import NoQuery, api_handler, ensure_known_query, new_resolver, responses
from gpubroker.config import ModelSettings
from gpubroker.services.presets import presets_for
from gpubroker.wiring import model_deps

Settings = ModelSettings
app = new_resolver()


@app.get("/presets", responses=responses(PresetList, 400, 503))
def presets() -> PresetList:
    ensure_known_query(app, NoQuery)
    deps = app.context["deps"]
    model = deps.models.get() if deps.models else None
    presets = presets_for(offers=deps.offers, user_id=None, model=model, history=None)
    return PresetList.model_validate({"items": [p.model_dump() for p in presets]})


lambda_handler = api_handler(app, model_deps)
