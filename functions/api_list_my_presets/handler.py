"""GET /me/presets (signed in): every preset with its top offer; for-you ranked for the caller from their own
interactions (the ensemble, cold start while they have none)."""

from __future__ import annotations

from gpubroker.api.identity import acting_user
from gpubroker.api.math_models import PresetList
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import PersonalSettings
from gpubroker.services.presets import presets_for
from gpubroker.wiring.math import PersonalDeps, personal_deps

Settings = PersonalSettings
Deps = PersonalDeps
app = new_resolver()


@app.get("/me/presets", responses=responses(PresetList, 400, 401, 503))
def my_presets() -> PresetList:
    deps: Deps = app.context["deps"]
    user_id = acting_user(app)
    presets = presets_for(offers=deps.offers, user_id=user_id, model=deps.models.get(),
                          history=deps.interactions.history(user_id))  # fmt: skip
    return PresetList.model_validate({"items": [p.model_dump() for p in presets]})


lambda_handler = api_handler(app, personal_deps)
