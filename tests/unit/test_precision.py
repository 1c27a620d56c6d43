"""One ``Precision`` vocabulary: every request field that names a precision takes its values from it, and a field
that accepts only part of it still shows exactly that part in its schema (the API enums did not change)."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from pydantic import BaseModel, ValidationError

from gpubroker.domain import workloads as w
from gpubroker.domain.math_requests import CostPerGflopRequest, EstimatedCostPerToken
from gpubroker.domain.precision import CATALOG_PEAK_PRECISIONS, FLOAT_PRECISIONS, Precision

ALL = list(get_args(Precision))
WORKLOADS: list[type[BaseModel]] = [w.LlmInference, w.Training, w.ImageGeneration, w.VideoProcessing, w.DataProcessing]


def _enum(model: type[BaseModel]) -> Any:
    return model.model_json_schema()["properties"]["precision"]["enum"]


def test_subsets_are_subsets() -> None:
    assert ALL == ["fp32", "fp16", "bf16", "fp8", "int8", "int4"]
    assert set(FLOAT_PRECISIONS) < set(ALL) and set(CATALOG_PEAK_PRECISIONS) < set(FLOAT_PRECISIONS)


@pytest.mark.parametrize("model", [*WORKLOADS, EstimatedCostPerToken])
def test_workloads_and_cost_per_token_accept_every_precision(model: type[BaseModel]) -> None:
    assert _enum(model) == ALL


def test_cost_per_gflop_takes_the_precisions_the_catalog_has_a_peak_for() -> None:
    assert _enum(CostPerGflopRequest) == ["fp16", "bf16", "fp32"]
    for precision in CATALOG_PEAK_PRECISIONS:
        assert CostPerGflopRequest(gpu_model="H100-SXM", precision=precision).precision == precision
    for precision in ("fp8", "int8", "int4"):
        with pytest.raises(ValidationError):
            CostPerGflopRequest.model_validate({"gpu_model": "H100-SXM", "precision": precision})
