"""Small parsing helpers shared by the provider adapters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gpubroker.adapters.providers.http import HttpClient
from gpubroker.adapters.secrets import Credentials
from gpubroker.domain.errors import SourceError
from gpubroker.domain.offers import RejectedRow

MIB_PER_GB = 1024.0
MAX_PAGES = 1000  # a paginated source longer than this is looping

# A trailing form-factor token in a GPU name ("A100 SXM4", "H100 PCIe", "V100 FHHL"). Adapters move it to the
# instance type, where normalisation reads the form factor and the H100 variant; the name then canonicalises.
_FORM_FACTOR = re.compile(r"[\s_-]+(?P<ff>SXM\d?|PCIE|FHHL)(?=$|[\s_-])", re.IGNORECASE)


def split_form_factor(name: str) -> tuple[str, str | None]:
    """``"A100 SXM4"`` -> ``("A100", "SXM4")``; ``"V100 SXM2 32GB"`` -> ``("V100 32GB", "SXM2")``; else unchanged."""
    match = _FORM_FACTOR.search(name)
    if match is None:
        return name.strip(), None
    return (name[: match.start()] + name[match.end() :]).strip(), match.group("ff")


def num(value: Any) -> float | None:
    """A number from a JSON value (numbers or numeric strings); None when absent; RejectedRow when garbled."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RejectedRow("malformed_row")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise RejectedRow("malformed_row") from None
    raise RejectedRow("malformed_row")


def positive(value: Any) -> float | None:
    """Like :func:`num`, but 0 and negatives mean "none" (providers write 0 for "not offered")."""
    parsed = num(value)
    return parsed if parsed is not None and parsed > 0 else None


def obj(value: Any) -> Mapping[str, Any]:
    """A JSON object field, or RejectedRow when the row has something else there."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RejectedRow("malformed_row")
    return value


def expect_list(value: Any, *, provider: str, what: str) -> list[Any]:
    """The top-level list of an answer; a different shape means the API changed: the run fails."""
    if not isinstance(value, list):
        raise SourceError(f"{provider}: unexpected answer shape ({what} is {type(value).__name__}, not a list)")
    return value


def expect_dict(value: Any, *, provider: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SourceError(f"{provider}: unexpected answer shape ({what} is {type(value).__name__}, not an object)")
    return value


class ApiSource:
    """What every live-API adapter shares: its provider name, credentials, base URL and HTTP client."""

    provider: str = ""
    default_base_url: str = ""

    def __init__(
        self, *, credentials: Credentials | None = None, base_url: str | None = None, http: HttpClient | None = None
    ) -> None:
        self._credentials = credentials
        self._base = base_url or self.default_base_url
        self._http = (http or HttpClient()).with_provider(self.provider)
