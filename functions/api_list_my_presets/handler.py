"""GET /me/presets (signed in): every preset with its top offer; for-you ranked for the caller from their own
interactions (the ensemble, cold start while they have none)."""

from __future__ import annotations

from gpubroker.api.identity import acting_user
from gpubroker.api.math_models import PresetList
from gpubroker.api.resolver import NoQuery, api_handler, ensure_known_query, new_resolver, responses
from gpubroker.config import PersonalSettings
from gpubroker.services.presets import presets_for
from gpubroker.wiring import personal_deps

Settings = PersonalSettings
app = new_resolver()


@app.get("/me/presets", responses=responses(PresetList, 400, 401, 503))
def my_presets() -> PresetList:
    ensure_known_query(app, NoQuery)
    deps = app.context["deps"]
    user_id = acting_user(app)
    model = deps.models.get() if deps.models else None
    history = deps.interactions.history(user_id) if deps.interactions else None
    presets = presets_for(offers=deps.offers, user_id=user_id, model=model, history=history)
    return PresetList.model_validate({"items": [p.model_dump() for p in presets]})


lambda_handler = api_handler(app, personal_deps)
