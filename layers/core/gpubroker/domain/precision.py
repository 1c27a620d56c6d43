"""Number formats: the one ``Precision`` vocabulary of every request that names one (workloads, /math KPIs).

A field that accepts only part of it says so with a subset of these values, never with a vocabulary of its own:
the compute formats (:data:`FLOAT_PRECISIONS`) are checked by the workload models' validators, and the formats the
catalog has a peak figure for (:data:`CatalogPeakPrecision`) by the field's schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeAlias

Precision = Literal["fp32", "fp16", "bf16", "fp8", "int8", "int4"]

# formats that run the arithmetic (int8/int4 are weight-only formats: stored small, computed in fp16)
FLOAT_PRECISIONS: tuple[Precision, ...] = ("fp32", "fp16", "bf16", "fp8")
# formats with a peak in the GPU catalog: fp32 (non-tensor) and fp16/bf16 (dense tensor)
CATALOG_PEAK_PRECISIONS: tuple[Precision, ...] = ("fp16", "bf16", "fp32")

if TYPE_CHECKING:
    CatalogPeakPrecision: TypeAlias = Precision
else:  # a Literal of the subset: the schema's enum and the validation both name exactly these values
    CatalogPeakPrecision = Literal[CATALOG_PEAK_PRECISIONS]
