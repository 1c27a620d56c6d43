"""Response models: they document the API (OpenAPI) and are validated on the way out.

Where a service's result is exactly the answer, the route returns it and the model is the domain's:
``domain.search.OfferPage`` / ``OfferOut`` (GET /offers, GET /offers/{offer_id}), ``domain.market.MarketSummary``,
``domain.price_history.HistoryPage``. The catalog lists are in ``api.catalog_models`` (they import the domain's
GPU and provider models, which a function such as /health should not load at its cold start).
"""

from __future__ import annotations

from pydantic import BaseModel


class Health(BaseModel):
    status: str
    service: str


class Recorded(BaseModel):
    user_id: str
    offer_id: str
    kind: str
    at: str
