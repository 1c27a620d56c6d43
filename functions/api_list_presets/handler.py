"""GET /presets: every preset with its top offer, savings against the market median and a confidence score."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from gpubroker.api.math_models import PresetList
from gpubroker.api.resolver import api_handler, new_resolver, responses
from gpubroker.config import PersonalSettings
from gpubroker.services.presets import list_presets
from gpubroker.wiring import MathDeps, personal_deps

Settings = PersonalSettings
app = new_resolver()


@app.get("/presets", responses=responses(PresetList, 503))
def presets(
    user_id: Annotated[str | None, Query(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@:-]+$")] = None,
) -> PresetList:
    deps: MathDeps = app.context["deps"]
    model = deps.models.get() if deps.models else None
    history = deps.interactions.history(user_id) if deps.interactions and user_id else None
    items = list_presets(om=deps.offers.get(), user_id=user_id, cf=model, history=history)
    return PresetList.model_validate({"items": items})


lambda_handler = api_handler(app, personal_deps)
