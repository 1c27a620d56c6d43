"""The `gpubroker` command's pieces that need no API: the query expression, exit codes and one-line errors, tables
fitted to the width, CSV, and the price feed's frames."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import pytest
from gpubroker_client.cli import EXIT_API, EXIT_AUTH, EXIT_INPUT, EXIT_UNREACHABLE, exit_code, one_line
from gpubroker_client.errors import ApiError, ApiUnreachable, NotSignedIn
from gpubroker_client.query import QueryError, parse
from gpubroker_client.render import Col, Output, Printer
from gpubroker_client.stream import PriceChange, Snapshot, decode, default_ws_url
from rich.console import Console


def test_a_vastai_like_expression_becomes_the_apis_filters() -> None:
    assert parse("gpu=H100 count>=2 price_per_gpu_hour<3 region=eu") == {
        "gpu": ["H100"],
        "min_gpu_count": 2,
        "max_price_per_gpu_hour": 3.0,
        "region": ["eu"],
    }
    assert parse(["num_gpus>1", "num_gpus<8", "provider=runpod,vast", "gpu=A100", "gpu=L40S"]) == {
        "min_gpu_count": 2,
        "max_gpu_count": 7,
        "provider": ["runpod", "vast"],
        "gpu": ["A100", "L40S"],
    }
    assert parse("count=4 vram>=40 spot=true q=a6000_secure dph<=2.5") == {
        "min_gpu_count": 4,
        "max_gpu_count": 4,
        "min_gpu_memory_gb": 40.0,
        "spot": True,
        "q": "a6000 secure",
        "max_price_per_hour": 2.5,
    }
    assert parse("") == {}


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("gpux=H100", "unknown field 'gpux'"),
        ("gpu>=2", "gpu takes '=' only"),
        ("count>=two", "'two' is not a whole number"),
        ("price<cheap", "'cheap' is not a number"),
        ("spot=maybe", "spot is true or false"),
        ("H100", "cannot read 'H100'"),
        ("gpu!=H100", "'!=' is not supported"),
    ],
)
def test_a_bad_term_is_named(expression: str, says: str) -> None:
    with pytest.raises(QueryError, match=says.replace("(", r"\(")):
        parse(expression)


def test_exit_codes_scripts_can_trust() -> None:
    assert exit_code(ApiError(404, "gpu_not_found", "no GPU model 'H900'")) == EXIT_INPUT == 2
    assert exit_code(ApiError(422, "validation_error", "x")) == EXIT_INPUT
    assert exit_code(QueryError("x")) == EXIT_INPUT
    assert exit_code(ApiUnreachable("http://x", "refused")) == EXIT_UNREACHABLE == 3
    assert exit_code(NotSignedIn("x")) == exit_code(ApiError(401, "unauthorized", "x")) == EXIT_AUTH == 4
    assert exit_code(ApiError(409, "booking_not_cancellable", "x")) == exit_code(ApiError(503, "x", "y")) == EXIT_API


def test_an_error_is_one_line_with_the_apis_code_and_the_fields_at_fault() -> None:
    err = ApiError(
        422,
        "validation_error",
        "request parameters failed validation",
        [{"loc": ["query", "min_gpu_count"], "msg": "Input should be greater than or equal to 1"}],
    )
    assert one_line(err) == (
        "validation_error: request parameters failed validation (min_gpu_count: Input should be "
        "greater than or equal to 1)"
    )
    assert one_line(ApiError(404, "gpu_not_found", "no GPU model 'H900'\nin the catalog")) == (
        "gpu_not_found: no GPU model 'H900' in the catalog (gpubroker gpus lists the catalog)"
    )


ROWS = [
    {"id": f"offer-{i:02d}", "provider": "shadeform", "region": "helsinki-finland-3", "price": 1.5 + i}
    for i in range(3)
]
COLS = [
    Col("id", lambda r: r["id"], drop=0),
    Col("provider", lambda r: r["provider"], drop=2),
    Col("region", lambda r: r["region"], drop=3),
    Col("$/h", lambda r: r["price"], "usd", 0),
]


def render(width: int) -> str:
    printer = Printer(Output.table, color=False)
    printer.out = Console(width=width, file=io.StringIO(), no_color=True)
    printer.out.print(printer.table(ROWS, COLS))
    return printer.out.file.getvalue()  # type: ignore[attr-defined, no-any-return]


def test_a_table_fits_the_width_hiding_the_least_needed_columns_first_never_an_id() -> None:
    wide, narrow, tiny = render(120), render(40), render(20)
    assert "helsinki-finland-3" in wide and "shadeform" in wide
    header = narrow.splitlines()[0]
    assert "region" not in header and "provider" in header
    assert "hidden to fit 40 columns: region" in " ".join(narrow.split())
    assert all(len(line) <= 40 for line in narrow.splitlines())
    assert "offer-02" in tiny and "$3.50" in tiny  # the id and the price stay whole


def test_csv_has_every_column_whatever_the_width() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        Printer(Output.csv).emit(ROWS, ROWS, COLS)
    assert out.getvalue().splitlines() == [
        "id,provider,region,$/h",
        "offer-00,shadeform,helsinki-finland-3,1.5",
        "offer-01,shadeform,helsinki-finland-3,2.5",
        "offer-02,shadeform,helsinki-finland-3,3.5",
    ]


def test_a_feed_frame_is_unpacked_into_typed_messages_and_unknown_types_are_skipped() -> None:
    price = {
        "type": "price",
        "seq": 7,
        "offer_id": "o-1",
        "old_price": 2.0,
        "new_price": 1.8,
        "ts": "2026-12-05T10:00:00Z",
    }
    snap = {
        "type": "snapshot",
        "seq": 6,
        "count": 1,
        "page": 1,
        "more": False,
        "next_cursor": None,
        "offers": [
            {
                "offer_id": "o-1",
                "provider": "vast",
                "gpu_model": "H100-SXM",
                "gpu_count": 1,
                "region": "eu",
                "price_per_hour": 2.0,
                "price_per_gpu_hour": 2.0,
            }
        ],
    }
    messages = decode(json.dumps({"type": "batch", "messages": [snap, price, {"type": "future_thing"}]}))
    assert [type(m) for m in messages] == [Snapshot, PriceChange]
    assert decode(json.dumps(price))[0] == PriceChange(**price)


def test_the_local_stacks_websocket_is_the_next_port() -> None:
    assert default_ws_url("http://127.0.0.1:3000") == "ws://127.0.0.1:3001"
    assert default_ws_url("https://api.example.com") == "wss://api.example.com"


def test_watch_highlights_a_moved_price_and_a_removed_offer() -> None:
    from gpubroker_client.cli import WATCH_COLS, Board, _board_table

    snap = {"type": "snapshot", "seq": 1, "count": 2, "page": 1, "more": False, "offers": [
        {"offer_id": f"o-{i}", "provider": "vast", "gpu_model": "H100-SXM", "gpu_count": 1, "region": "eu",
         "price_per_hour": 2.0 + i, "price_per_gpu_hour": 2.0 + i} for i in range(3)]}  # fmt: skip
    ts = "2026-12-05T10:00:00Z"
    board = Board({}, {})
    for frame in (
        snap,
        {"type": "price", "seq": 2, "offer_id": "o-1", "old_price": 3.0, "new_price": 1.5, "ts": ts},
        {"type": "price", "seq": 3, "offer_id": "o-0", "old_price": 2.0, "new_price": 2.5, "ts": ts},
        {"type": "removed", "seq": 4, "offer_id": "o-2", "old_price": 4.0, "reason": "unavailable", "ts": ts},
    ):
        for message in decode(json.dumps(frame)):
            board.take(message)
    table = _board_table(Printer(Output.table, color=False), board, 10, {"gpu": ["H100-SXM"]})
    assert [board.rows[r]["price_per_gpu_hour"] for r in ("o-1", "o-0")] == [1.5, 2.5] and board.changes == 3
    assert [row.style for row in table.rows] == ["bold green", "bold red", "dim strike"]  # down, up, gone
    assert table.columns[0].header == WATCH_COLS[0].header and "3 offers, 3 changes" in str(table.caption)
