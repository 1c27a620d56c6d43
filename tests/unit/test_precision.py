"""One ``Precision`` vocabulary: every request field that names a precision takes its values from it, and a field
that accepts only part of it still shows exactly that part in its schema. One rule for which GPU runs which format
(``domain.precision``), the same refusal on the KPI and the workload routes, the fp8 rate, and rounding that keeps
significant figures.

Before (issue 10, part 4): the KPI routes priced a T4 at bf16 with its fp16 figure while the workload routes said
``precision_unsupported``; fp8 was priced at the fp16 rate (cost-per-token) or refused outright (cost-per-gflop); and
a cost of 9.3e-06 USD per 1M tokens was answered as 0.0."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from gpubroker.domain import workloads as w
from gpubroker.domain.errors import PrecisionUnsupported
from gpubroker.domain.gpus import bundled_catalog
from gpubroker.domain.math_requests import (
    CostPerGflopRequest,
    EfficiencyByGpu,
    EfficiencyByOffer,
    EstimatedCostPerToken,
)
from gpubroker.domain.precision import (
    ARCHITECTURE_FORMATS,
    FLOAT_PRECISIONS,
    Precision,
    fp8_tflops,
    peak_tflops,
    precision_supported,
)
from gpubroker.domain.types import r4
from gpubroker.services.kpis import cost_per_gflop, cost_per_token, efficiency
from gpubroker.services.workloads import estimate_workload, map_workload_to_gpu
from gpubroker.services.workloads.common import GpuColumns

ALL = list(get_args(Precision))
WORKLOADS: list[type[BaseModel]] = [w.LlmInference, w.Training, w.ImageGeneration, w.VideoProcessing, w.DataProcessing]


def _enum(model: type[BaseModel]) -> Any:
    return model.model_json_schema()["properties"]["precision"]["enum"]


def test_subsets_are_subsets() -> None:
    assert ALL == ["fp32", "fp16", "bf16", "fp8", "int8", "int4"]
    assert set(FLOAT_PRECISIONS) < set(ALL)


@pytest.mark.parametrize("model", [*WORKLOADS, EstimatedCostPerToken])
def test_workloads_and_cost_per_token_accept_every_precision(model: type[BaseModel]) -> None:
    assert _enum(model) == ALL


@pytest.mark.parametrize("model", [CostPerGflopRequest, EfficiencyByGpu, EfficiencyByOffer])
def test_the_kpis_that_need_a_peak_take_the_float_formats(model: type[BaseModel]) -> None:
    # fp8 joined: the catalog's architectures give its rate (it was refused: "no peak in the catalog")
    assert _enum(model) == ["fp32", "fp16", "bf16", "fp8"]
    for precision in ("int8", "int4"):
        with pytest.raises(ValidationError):
            CostPerGflopRequest.model_validate({"gpu_model": "H100-SXM", "precision": precision})


# ---- one rule for which GPU runs which format ------------------------------------------------------------------------

SPECS = bundled_catalog().by_model()


def _kpi_and_workload_calls(gpu: str, precision: Precision) -> dict[str, Callable[[], object]]:
    """The five routes' services asked for ``precision`` on ``gpu`` alone."""
    return {
        "cost-per-token": lambda: cost_per_token(
            EstimatedCostPerToken(gpu_model=gpu, model_params_b=1, precision=precision, price_per_hour=1.0),
            offer_math=None,
        ),
        "cost-per-gflop": lambda: cost_per_gflop(
            CostPerGflopRequest.model_validate({"gpu_model": gpu, "precision": precision, "price_per_gpu_hour": 1.0}),
            offer_math=None,
        ),
        "efficiency-score": lambda: efficiency(
            EfficiencyByGpu.model_validate({"gpu_model": gpu, "precision": precision, "price_per_gpu_hour": 1.0}),
            offer_math=None,
        ),
        "estimate-workload": lambda: estimate_workload(
            w.LlmInference(params_b=1, precision=precision, gpus=[gpu]), specs=list(SPECS.values()), prices=None
        ),
        "map-workload-to-gpu": lambda: map_workload_to_gpu(
            w.LlmInference(params_b=1, precision=precision, gpus=[gpu]), specs=list(SPECS.values()), prices=None
        ),
    }


@pytest.mark.parametrize(("gpu", "precision"), [("T4", "bf16"), ("V100-16GB", "bf16"), ("A100-80GB", "fp8")])
def test_a_format_the_gpu_lacks_is_refused_alike_on_every_route(gpu: str, precision: Precision) -> None:
    for route, call in _kpi_and_workload_calls(gpu, precision).items():
        with pytest.raises(PrecisionUnsupported) as refused:
            call()
        assert refused.value.code == "precision_unsupported", route
        assert refused.value.details["gpu_models"] == [gpu] and precision not in refused.value.details["supported"][gpu]
    # surveyed among GPUs the caller did not name, the same GPU is a plan with the same code as its reason
    survey = estimate_workload(w.LlmInference(params_b=1, precision=precision), specs=list(SPECS.values()), prices=None)
    assert {g.gpu_model: g.reason for g in survey.gpus}[gpu] == "precision_unsupported"


@pytest.mark.parametrize(("gpu", "precision"), [("T4", "fp16"), ("A100-80GB", "bf16"), ("H100-SXM", "fp8"),
                                                ("L40S", "fp8"), ("MI300X", "fp8"), ("T4", "fp32")])  # fmt: skip
def test_a_format_the_gpu_has_is_answered_on_every_route(gpu: str, precision: Precision) -> None:
    for route, call in _kpi_and_workload_calls(gpu, precision).items():
        assert call() is not None, route


def test_every_catalog_architecture_has_a_precision_rule() -> None:
    """A GPU of an unlisted architecture would run only fp32/fp16 (and weight-only int8/int4): list it."""
    assert {s.architecture for s in SPECS.values()} <= set(ARCHITECTURE_FORMATS)


def test_fp8_is_twice_the_dense_fp16_tensor_rate_where_the_architecture_has_it() -> None:
    for spec in SPECS.values():
        has_fp8 = precision_supported(spec.architecture, "fp8")
        assert fp8_tflops(spec) == (2 * spec.fp16_tensor_tflops if has_fp8 else 0.0), spec.model
        if has_fp8:
            assert peak_tflops(spec, "fp8") == 2 * spec.fp16_tensor_tflops
    fp8 = cost_per_gflop(
        CostPerGflopRequest(gpu_model="H100-SXM", precision="fp8", price_per_gpu_hour=2.5), offer_math=None
    )
    fp16 = cost_per_gflop(
        CostPerGflopRequest(gpu_model="H100-SXM", precision="fp16", price_per_gpu_hour=2.5), offer_math=None
    )
    assert fp8.tflops == 2 * 989.4 and fp8.usd_per_pflop_hour == pytest.approx(fp16.usd_per_pflop_hour / 2, rel=1e-3)


def test_cost_per_token_at_fp8_uses_the_fp8_rate_when_compute_bound() -> None:
    def tps(precision: Precision) -> float:
        req = EstimatedCostPerToken(gpu_model="H100-SXM", model_params_b=0.5, precision=precision, batch_size=1024,
                                    price_per_hour=2.5)  # fmt: skip
        out = cost_per_token(req, offer_math=None)
        assert out.method == "estimated" and out.bottleneck == "compute"
        return out.tokens_per_second

    assert tps("fp8") == pytest.approx(2 * tps("fp16"), rel=1e-3)  # it was the fp16 rate for both


def test_workload_peaks_follow_the_same_rule() -> None:
    gpus = GpuColumns.of(list(SPECS.values()))
    for precision in FLOAT_PRECISIONS:
        expected = [peak_tflops(s, precision) if precision_supported(s.architecture, precision) else None
                    for s in SPECS.values()]  # fmt: skip
        got = gpus.tflops(precision)
        assert all(e is None or g == e for g, e in zip(got, expected, strict=True)), precision


# ---- a real cost never rounds to 0.0 ---------------------------------------------------------------------------------


def test_a_tiny_real_cost_keeps_its_significant_figures() -> None:
    req = EstimatedCostPerToken(gpu_model="H100-SXM", model_params_b=0.5, precision="fp8", batch_size=64,
                                price_per_hour=0.01)  # fmt: skip
    cost = cost_per_token(req, offer_math=None)
    assert cost.usd_per_million_tokens == pytest.approx(0.01 / (cost.tokens_per_second * 3600) * 1e6, rel=1e-3)
    assert cost.usd_per_million_tokens > 0  # answered 0.0 before


@given(st.floats(1e-12, 1e6, allow_nan=False) | st.floats(-1e6, -1e-12, allow_nan=False))
def test_r4_never_rounds_a_real_figure_to_zero_and_keeps_four_significant_figures(x: float) -> None:
    rounded = r4(x)
    assert rounded != 0 and math.copysign(1, rounded) == math.copysign(1, x)
    assert abs(rounded - x) <= 5e-4 * abs(x) or abs(rounded - x) <= 5e-5  # 4 significant figures, or 4 decimals
    if abs(x) >= 1e-3:
        assert rounded == round(x, 4) or abs(rounded - x) < abs(round(x, 4) - x)  # never coarser than 4 decimals
