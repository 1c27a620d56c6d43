"""``gpubroker``: GPUBroker from the terminal, over the public API (the local stack by default).

Exit codes: 0 done; 1 the API refused or failed (a conflict, a failed booking, a server error); 2 bad input (a
usage error, an unknown name, a value the API rejects); 3 the API cannot be reached; 4 not signed in (or the
session ended); 130 interrupted.
"""

from __future__ import annotations

import math
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

import typer
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from gpubroker_client import models as m
from gpubroker_client._core import DEFAULT_API
from gpubroker_client.calls import OfferQuery, Sort
from gpubroker_client.client import SETTLED, Client
from gpubroker_client.errors import ApiError, ApiUnreachable, GpuBrokerError, NotSignedIn
from gpubroker_client.query import QueryError, parse
from gpubroker_client.render import Col, Output, Printer, attr, fmt
from gpubroker_client.session import token_store
from gpubroker_client.stream import PriceChange, Removed, Snapshot, StreamMessage

EXIT_API, EXIT_INPUT, EXIT_UNREACHABLE, EXIT_AUTH, EXIT_INTERRUPTED = 1, 2, 3, 4, 130
INPUT_STATUSES = frozenset({400, 404, 413, 414, 422})

app = typer.Typer(
    name="gpubroker",
    help=__doc__,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class Ctx:
    api: str
    ws: str | None
    color: bool

    def client(self) -> Client:
        return Client(self.api, ws_url=self.ws, store=token_store())

    def printer(self, output: Output) -> Printer:
        return Printer(output, color=self.color)


OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="table (fits the terminal), json or csv")]


@app.callback()
def _options(
    ctx: typer.Context,
    api: Annotated[str, typer.Option("--api", envvar="GPUBROKER_API", help="the API's URL")] = DEFAULT_API,
    ws: Annotated[
        str | None,
        typer.Option(
            "--ws",
            envvar="GPUBROKER_WS",
            help="the WebSocket API's URL (default: the API's port + 1, the local stack's)",
        ),
    ] = None,
    no_color: Annotated[bool, typer.Option("--no-color", help="no colours even on a terminal")] = False,
) -> None:
    ctx.obj = Ctx(api=api.rstrip("/"), ws=ws, color=not no_color)


def _ctx(ctx: typer.Context) -> Ctx:
    obj: Ctx = ctx.find_root().obj
    return obj


# ---- errors: one line, a trustworthy exit code -----------------------------------------------------------------------


def exit_code(err: Exception) -> int:
    if isinstance(err, ApiUnreachable):
        return EXIT_UNREACHABLE
    if isinstance(err, NotSignedIn) or (isinstance(err, ApiError) and err.status == 401):
        return EXIT_AUTH
    if isinstance(err, QueryError) or (isinstance(err, ApiError) and err.status in INPUT_STATUSES):
        return EXIT_INPUT
    return EXIT_API


def one_line(err: Exception) -> str:
    if isinstance(err, ApiError):
        text = f"{err.code}: {err.message}"
        if isinstance(err.details, list):
            bits = [
                f"{'.'.join(str(p) for p in d.get('loc', [])[-1:])}: {d.get('msg')}"
                for d in err.details
                if isinstance(d, dict)
            ]
            text += f" ({'; '.join(bits)})" if bits else ""
        hint = HINTS.get(err.code)
        text += f" ({hint})" if hint else ""
    else:
        text = str(err)
    return " ".join(text.split())


HINTS = {
    "gpu_not_found": "gpubroker gpus lists the catalog",
    "email_not_verified": "follow the link in the verification mail first",
    "rate_limited": "the retries ran out; try again in a moment",
}


def fail(printer: Printer | None, err: Exception) -> NoReturn:
    line = f"error: {one_line(err)}"
    if printer is not None:
        printer.err.print(line, markup=False, style="red", soft_wrap=True)
    else:
        print(line, file=sys.stderr)
    raise typer.Exit(exit_code(err))


@contextmanager
def handled(printer: Printer) -> Iterator[None]:
    try:
        yield
    except (GpuBrokerError, QueryError) as err:
        fail(printer, err)
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_INTERRUPTED) from None


@contextmanager
def spinner(printer: Printer, text: str) -> Iterator[Callable[[str], None]]:
    """A spinner on a terminal (nothing otherwise); the yielded function changes its text."""
    if not printer.err.is_terminal:
        yield lambda _: None
        return
    with printer.err.status(text) as status:
        yield status.update


# ---- offers --------------------------------------------------------------------------------------------------------

OFFER_COLS = [
    attr("offer_id", drop=0),
    attr("provider", drop=2),
    attr("gpu_model", drop=0),
    Col("gpus", lambda o: o.gpu_count, "int", 0),
    Col("GB/gpu", lambda o: o.gpu_memory_gb, "num", 4),
    attr("region", drop=3),
    Col("$/h", lambda o: o.price_per_hour, "usd", 2),
    Col("$/gpu-h", lambda o: o.price_per_gpu_hour, "usd", 0),
    Col("spot $/h", lambda o: o.spot_price_per_hour, "usd", 5),
]

ListOpt = Annotated[list[str] | None, typer.Option(help="repeatable")]
NumOpt = Annotated[float | None, typer.Option()]
IntOpt = Annotated[int | None, typer.Option()]


@app.command()
def offers(
    ctx: typer.Context,
    query: Annotated[
        list[str] | None,
        typer.Argument(
            help='a query expression: "gpu=H100 count>=2 price_per_gpu_hour<3 region=eu"', show_default=False
        ),
    ] = None,
    gpu: ListOpt = None,
    provider: ListOpt = None,
    region: ListOpt = None,
    compliance: ListOpt = None,
    gpu_vendor: ListOpt = None,
    min_gpu_memory_gb: NumOpt = None,
    max_gpu_memory_gb: NumOpt = None,
    min_total_gpu_memory_gb: NumOpt = None,
    max_total_gpu_memory_gb: NumOpt = None,
    min_gpu_count: IntOpt = None,
    max_gpu_count: IntOpt = None,
    min_vcpus: NumOpt = None,
    max_vcpus: NumOpt = None,
    min_ram_gb: NumOpt = None,
    max_ram_gb: NumOpt = None,
    min_price_per_hour: NumOpt = None,
    max_price_per_hour: NumOpt = None,
    min_price_per_gpu_hour: NumOpt = None,
    max_price_per_gpu_hour: NumOpt = None,
    spot: Annotated[bool | None, typer.Option("--spot/--no-spot", help="only offers with a spot price")] = None,
    min_spot_price_per_hour: NumOpt = None,
    max_spot_price_per_hour: NumOpt = None,
    available: Annotated[
        bool | None, typer.Option("--available/--gone", help="live offers (default) or vanished")
    ] = None,
    q: Annotated[str | None, typer.Option("--q", "-q", help="full text: 'a6000 secure'")] = None,
    sort: Annotated[
        str | None, typer.Option(help="price, price_per_gpu_hour, gpu_memory, spot_price; '-' descends")
    ] = None,
    limit: Annotated[int, typer.Option(help="offers per page (1-100)")] = 20,
    all_pages: Annotated[bool, typer.Option("--all", help="every page (a progress bar on a terminal)")] = False,
    output: OutputOpt = Output.table,
) -> None:
    """Search offers: every filter of GET /offers, and a query expression."""
    printer = _ctx(ctx).printer(output)
    options = {k: v for k, v in locals().items() if k in OfferQuery.__annotations__ and v is not None}
    with handled(printer), _ctx(ctx).client() as api:
        filters: dict[str, Any] = dict(parse(query or []))
        for name, value in options.items():
            filters[name] = [*filters.get(name, []), *value] if isinstance(value, list) else value
        pages = api.iter_offer_pages(sort=_sort(sort), limit=limit, **filters)
        first = next(pages)
        items = list(first.items)
        if all_pages and first.next_cursor:
            items += _rest(printer, pages, first.count, len(items))
        caption = f"{len(items)} of {first.count} offers" + (
            "" if all_pages or not first.next_cursor else " (--all for every page)"
        )
        if first.interpreted is not None and first.interpreted.gpu:
            caption += "; " + "; ".join(f"{k} = {', '.join(v)}" for k, v in first.interpreted.gpu.items())
        data = first.model_copy(update={"items": items, "next_cursor": None if all_pages else first.next_cursor})
        printer.emit(data, items, OFFER_COLS, caption=caption)


def _sort(value: str | None) -> Sort | None:
    allowed = ("price", "price_per_gpu_hour", "gpu_memory", "spot_price")
    if value is not None and value.lstrip("-") not in allowed:
        raise QueryError(f"--sort {value!r}: one of {', '.join(allowed)} (a '-' prefix descends)")
    return value  # type: ignore[return-value]


def _rest(printer: Printer, pages: Iterator[m.OfferPage], total: int, done: int) -> list[m.OfferOut]:
    items: list[m.OfferOut] = []
    columns = (SpinnerColumn(), TextColumn("offers"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=printer.err, transient=True, disable=not printer.err.is_terminal) as bar:
        task = bar.add_task("offers", total=total, completed=done)
        for page in pages:
            items += page.items
            bar.update(task, advance=len(page.items))
    return items


# ---- the catalog and the market ------------------------------------------------------------------------------------

GPU_COLS = [
    attr("model", drop=0),
    attr("vendor", drop=3),
    attr("architecture", drop=4),
    Col("GB", lambda g: g.memory_gb, "num", 0),
    attr("memory_type", drop=2),
    Col("GB/s", lambda g: g.memory_bandwidth_gbps, "num"),
    Col("fp16 TFLOPS", lambda g: g.fp16_tensor_tflops, "num"),
    Col("TDP W", lambda g: g.tdp_w, "num", 2),
    Col("year", lambda g: g.release_year, "int", 3),
]


@app.command()
def gpus(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """The GPU catalog: memory, bandwidth, tensor TFLOPS, TDP."""
    printer = _ctx(ctx).printer(output)
    with handled(printer), _ctx(ctx).client() as api:
        answer = api.gpus()
        printer.emit(answer, answer.items, GPU_COLS, caption=f"{len(answer.items)} GPU models")


@app.command()
def gpu(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="any spelling: A6000, 'NVIDIA H100 80GB HBM3'")],
    output: OutputOpt = Output.table,
) -> None:
    """One GPU model, each figure with its source."""
    printer = _ctx(ctx).printer(output)
    with handled(printer), _ctx(ctx).client() as api:
        spec = api.gpu(name)
        fields = [
            (k, fmt(v, "num" if isinstance(v, float) else "text"))
            for k, v in spec.model_dump().items()
            if k != "sources"
        ]
        fields += [(f"source: {k}", v) for k, v in spec.sources.items()]
        printer.pairs(spec, fields, title=f"{spec.model} ({spec.name})")


MARKET_COLS = [
    attr("gpu_model", drop=0),
    Col("offers", lambda g: g.offers, "int"),
    Col("gpus", lambda g: g.gpus, "int", 2),
    Col("best $/gpu-h", lambda g: g.best_price_per_gpu_hour, "usd", 0),
    Col("median $/gpu-h", lambda g: g.median_price_per_gpu_hour, "usd", 0),
    Col("avg $/gpu-h", lambda g: g.avg_price_per_gpu_hour, "usd", 3),
    Col("saving %", lambda g: g.savings_potential_pct, "num", 1),
]


@app.command()
def market(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """The market: live offers, providers, prices per GPU model."""
    printer = _ctx(ctx).printer(output)
    with handled(printer), _ctx(ctx).client() as api, spinner(printer, "reading the market"):
        s = api.market_summary()
        title = (
            f"{s.live_offers} live offers from {len(s.active_providers)} providers; average "
            f"{fmt(s.avg_price_per_gpu_hour, 'usd')}/GPU-hour (snapshot {s.snapshot_version})"
        )
        printer.emit(s, s.by_gpu, MARKET_COLS, title=title, caption="saving %: (median - best) / median")


# ---- planning and recommendations ----------------------------------------------------------------------------------

PLAN_COLS = [
    attr("gpu_model", drop=0),
    Col("gpus", lambda p: p.gpus_needed, "int", 0),
    Col("tokens/s", lambda p: p.est_tokens_per_s, "num", 2),
    Col("$/gpu-h", lambda p: p.price_per_gpu_hour, "usd", 0),
    Col("$/h", lambda p: _times(p.price_per_gpu_hour, p.gpus_needed), "usd", 1),
    Col("run $", lambda p: p.est_cost_usd, "usd", 2),
    Col("run h", lambda p: p.est_hours, "num", 3),
    attr("bottleneck", drop=4),
    attr("offer_id", drop=0),
]


def _times(price: float | None, count: int | None) -> float | None:
    return None if price is None or count is None else price * count


@app.command()
def plan(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help='"serve Llama 3 70B for 8 users in the EU"')],
    top: Annotated[int | None, typer.Option(help="plans to show")] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Describe a workload in words: the assistant's parser, then the GPUs that can run it and what it costs."""
    printer = _ctx(ctx).printer(output)
    with handled(printer), _ctx(ctx).client() as api, spinner(printer, "reading the description") as say:
        parsed = api.parse_workload(text)
        if parsed.workload is None:
            missing = ", ".join(parsed.missing) or "the workload"
            question = f" {parsed.question}" if parsed.question else ""
            raise QueryError(f"the description does not say enough ({missing}).{question}")
        say("mapping the workload to GPUs")
        mapping = api.map_workload(parsed.workload.model_dump(mode="json", exclude_none=True), top=top)
    read = parsed.workload.model_dump(mode="json", exclude_none=True)
    caption = (
        f"{len(mapping.plans)} feasible GPU models ({mapping.more_feasible} more), {len(mapping.infeasible)} "
        f"cannot; read as " + " ".join(f"{k}={v}" for k, v in read.items() if v not in ([], {}))
    )
    printer.emit({"parse": parsed, "mapping": mapping}, mapping.plans, PLAN_COLS, caption=caption)


PRESET_COLS = [
    attr("offer_id", drop=0),
    attr("provider", drop=2),
    attr("gpu_model", drop=0),
    Col("gpus", lambda p: p.gpu_count, "int", 0),
    Col("$/gpu-h", lambda p: p.price_per_gpu_hour, "usd", 0),
    Col("vs median", lambda p: p.price_vs_median_pct, "pct"),
    Col("score", lambda p: p.score, "num", 3),
    Col("confidence", lambda p: p.confidence, "num", 4),
]


@app.command()
def recommend(
    ctx: typer.Context,
    preset: Annotated[
        str,
        typer.Option(
            help="best-value, highest-performance, most-reliable, budget-friendly, "
            "enterprise-grade, for-you (signed in: yours)"
        ),
    ] = "for-you",
    limit: Annotated[int | None, typer.Option(help="offers to show")] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Recommended offers: a preset (signed in, for-you is ranked from your history)."""
    printer = _ctx(ctx).printer(output)
    with handled(printer), _ctx(ctx).client() as api:
        answer = api.preset(preset, limit=limit, personal=api.session is not None and preset == "for-you")
        printer.emit(
            answer, answer.items, PRESET_COLS, title=f"{answer.name}: {answer.description}", caption=answer.promise
        )


# ---- live prices -----------------------------------------------------------------------------------------------------


@dataclass
class Board:
    """The watched offers and when each price last moved (for the highlight)."""

    rows: dict[str, dict[str, Any]]
    moved: dict[str, tuple[float, str]]  # offer_id -> (monotonic time, "up" | "down" | "gone")
    changes: int = 0

    def take(self, message: StreamMessage) -> None:
        now = time.monotonic()
        if isinstance(message, Snapshot):
            for o in message.offers:
                self.rows[o.offer_id] = o.model_dump()
        elif isinstance(message, PriceChange) and message.offer_id in self.rows:
            row = self.rows[message.offer_id]
            old = row["price_per_gpu_hour"]
            row["price_per_gpu_hour"] = message.new_price
            self.moved[message.offer_id] = (now, "up" if message.new_price > old else "down")
            self.changes += 1
        elif isinstance(message, Removed) and message.offer_id in self.rows:
            self.moved[message.offer_id] = (now, "gone")
            self.changes += 1


HIGHLIGHT = {"up": "bold red", "down": "bold green", "gone": "dim strike"}
WATCH_COLS = [
    Col("offer_id", lambda r: r["offer_id"], drop=0),
    Col("provider", lambda r: r["provider"], drop=2),
    Col("gpu_model", lambda r: r["gpu_model"], drop=0),
    Col("gpus", lambda r: r["gpu_count"], "int"),
    Col("region", lambda r: r["region"], drop=3),
    Col("$/gpu-h", lambda r: r["price_per_gpu_hour"], "usd", 0),
]


@app.command()
def watch(
    ctx: typer.Context,
    gpu: ListOpt = None,
    provider: ListOpt = None,
    region: ListOpt = None,
    max_price_per_gpu_hour: NumOpt = None,
    rows: Annotated[int, typer.Option(help="rows shown (cheapest first)")] = 20,
    duration: Annotated[float | None, typer.Option(help="stop after this many seconds")] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Live prices over the WebSocket: a table on a terminal (moved prices highlighted: red up, green down), one
    JSON object or CSV line per message otherwise."""
    printer = _ctx(ctx).printer(output)
    filters = {"gpu": gpu, "provider": provider, "region": region, "max_price_per_gpu_hour": max_price_per_gpu_hour}
    deadline = None if duration is None else time.monotonic() + duration
    board = Board({}, {})
    with handled(printer), _ctx(ctx).client() as api:
        feed = _until(api.prices({k: v for k, v in filters.items() if v is not None}), deadline)
        if not printer.interactive:
            for message in feed:
                _stream_line(printer, message)
            return
        with Live(console=printer.out, auto_refresh=False, transient=False) as live:
            live.update(_board_table(printer, board, rows, filters), refresh=True)
            for message in feed:
                board.take(message)
                live.update(_board_table(printer, board, rows, filters), refresh=True)


def _until(feed: Iterator[StreamMessage], deadline: float | None) -> Iterator[StreamMessage]:
    """The feed until ``deadline`` (checked between messages and on the feed's own 1-s ticks)."""
    import threading
    from queue import Empty, Queue

    if deadline is None:
        yield from feed
        return
    box: Queue[StreamMessage | BaseException | None] = Queue()

    def pump() -> None:
        try:
            for message in feed:
                box.put(message)
        except BaseException as exc:
            box.put(exc)
        box.put(None)

    threading.Thread(target=pump, daemon=True).start()
    while (left := deadline - time.monotonic()) > 0:
        try:
            item = box.get(timeout=left)
        except Empty:
            return
        if item is None:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


def _stream_line(printer: Printer, message: StreamMessage) -> None:
    import json

    if printer.output is Output.csv:
        if isinstance(message, PriceChange | Removed):
            new = message.new_price if isinstance(message, PriceChange) else ""
            print(f"{message.type},{message.seq},{message.offer_id},{message.old_price},{new},{message.ts}")
        elif isinstance(message, Snapshot):
            for o in message.offers:
                print(f"snapshot,{message.seq},{o.offer_id},,{o.price_per_gpu_hour},")
        return
    print(json.dumps(message.model_dump(mode="json")), flush=True)


def _board_table(printer: Printer, board: Board, limit: int, filters: dict[str, Any]) -> Any:
    now = time.monotonic()
    ordered = sorted(board.rows.values(), key=lambda r: (r["price_per_gpu_hour"], r["offer_id"]))[:limit]
    styles = []
    for r in ordered:
        when, how = board.moved.get(r["offer_id"], (0.0, ""))
        styles.append(HIGHLIGHT[how] if how and (how == "gone" or now - when < 5) else None)
    shown = {k: v for k, v in filters.items() if v}
    return printer.table(
        ordered,
        WATCH_COLS,
        styles=styles,
        title=f"live prices {shown or ''} (Ctrl-C stops)",
        caption=f"{len(board.rows)} offers, {board.changes} changes",
    )


# ---- session -------------------------------------------------------------------------------------------------------


@app.command()
def login(
    ctx: typer.Context,
    email: Annotated[str | None, typer.Option(envvar="GPUBROKER_EMAIL", help="asked for when not given")] = None,
    password: Annotated[str | None, typer.Option(envvar="GPUBROKER_PASSWORD", help="asked for (hidden)")] = None,
    code: Annotated[str | None, typer.Option("--code", help="the TOTP code (asked for when MFA is on)")] = None,
) -> None:
    """Sign in (email, password, and a TOTP code when MFA is on); the session is kept owner-only (0600) or in the
    OS keyring (GPUBROKER_TOKEN_STORE=keyring). Without a terminal, the answers are read from standard input, one
    a line."""
    c = _ctx(ctx)
    printer = c.printer(Output.table)
    with handled(printer), c.client() as api:
        email = email or ask("Email")
        answer = api.login(email, password or ask("Password", hide=True))
        if isinstance(answer, m.MfaRequired):
            answer = api.verify_mfa(answer.challenge, (code or ask("TOTP code (or a recovery code)")).strip())
        where = getattr(api.store, "path", "the OS keyring")
        until = time.strftime("%Y-%m-%d %H:%M", time.localtime(answer.refresh_expires_at))
        printer.note(f"signed in to {c.api} as {email} until {until}; session kept in {where}")


def ask(question: str, *, hide: bool = False) -> str:
    """A prompt on standard error at a terminal; a line of standard input otherwise (scripts, tests)."""
    if sys.stdin.isatty():
        return str(typer.prompt(question, hide_input=hide, err=True))
    line = sys.stdin.readline()
    if not line:
        raise QueryError(f"{question.lower()} needed: none given and standard input is empty")
    return line.rstrip("\n")


@app.command()
def logout(ctx: typer.Context) -> None:
    """End the session (every token of it) and forget it."""
    c = _ctx(ctx)
    printer = c.printer(Output.table)
    with handled(printer), c.client() as api:
        if api.session is None:
            printer.note("not signed in")
            return
        api.logout()
        printer.note("signed out")


# ---- bookings ------------------------------------------------------------------------------------------------------

BOOKING_COLS = [
    attr("booking_id", drop=0),
    attr("status", drop=0),
    attr("provider", drop=3),
    attr("gpu_model", drop=2),
    Col("gpus", lambda b: b.gpu_count, "int", 2),
    Col("hours", lambda b: b.hours, "int", 0),
    Col("amount", lambda b: _usd(b.amount), "usd", 1),
    Col("created", lambda b: b.created_at.strftime("%Y-%m-%d %H:%M"), drop=4),
    attr("offer_id", drop=5),
]


def _usd(money: Any) -> float | None:
    return None if money is None else money.amount / 100


@app.command()
def book(
    ctx: typer.Context,
    offer: Annotated[str, typer.Argument(help="the offer_id (gpubroker offers)")],
    hours: Annotated[int, typer.Option(min=1, max=720, help="1 to 720")],
    gpus_: Annotated[int | None, typer.Option("--gpus", help="fewer GPUs than the offer's (per-GPU providers)")] = None,
    max_price: Annotated[
        float | None, typer.Option(help="the most you pay per hour, USD (default: the offer's)")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="no confirmation question")] = False,
    key: Annotated[str | None, typer.Option("--idempotency-key", help="repeat a booking request safely")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="follow the booking until it settles")] = True,
    output: OutputOpt = Output.table,
) -> None:
    """Book an offer for N hours (asks first; an idempotency key makes a retry safe)."""
    printer = _ctx(ctx).printer(output)
    with handled(printer), _ctx(ctx).client() as api:
        if api.session is None:
            raise NotSignedIn("not signed in: gpubroker login")
        o = api.offer(offer)
        count = gpus_ or o.gpu_count
        per_hour = max_price if max_price is not None else o.price_per_gpu_hour * count
        summary = (
            f"{o.provider} {count}x {o.gpu_model} in {o.region} for {hours} h at {fmt(per_hour, 'usd')}/h: "
            f"at most {fmt(per_hour * hours, 'usd')}"
        )
        if not yes:
            if not sys.stdin.isatty():
                raise QueryError(f"book {summary}? pass --yes to confirm without a terminal")
            typer.confirm(f"Book {summary}?", abort=True, err=True)
        idem = key or str(uuid.uuid4())
        cents = math.ceil(round(per_hour * 100, 6))  # a ceiling never below the price (cents rounded up)
        accepted = api.book(offer, hours, idempotency_key=idem, gpu_count=gpus_, max_price_per_hour_cents=cents)
        printer.note(f"booking {accepted.booking_id} {accepted.status} (Idempotency-Key {idem})")
        view = api.booking(accepted.booking_id)
        if wait:
            with spinner(printer, f"{accepted.booking_id}: {view.status}") as say:
                for view in api.wait_for_booking(accepted.booking_id, until=SETTLED | {"awaiting_payment"}):
                    say(f"{accepted.booking_id}: {view.status}")
        _show_booking(printer, view)
        if view.status in {"failed", "needs_attention"}:
            raise typer.Exit(EXIT_API)


def _show_booking(printer: Printer, view: m.BookingView) -> None:
    printer.emit(view, [view], BOOKING_COLS)
    if view.status == "awaiting_payment" and view.checkout_url:
        printer.note(f"pay to confirm it: {view.checkout_url}")
    if view.refunded is not None:
        printer.note(f"refunded {fmt(_usd(view.refunded), 'usd')}")
    if view.reason:
        printer.note(f"reason: {view.reason}")


@app.command()
def bookings(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="bookings per page")] = 20,
    all_pages: Annotated[bool, typer.Option("--all", help="every page")] = False,
    output: OutputOpt = Output.table,
) -> None:
    """Your bookings, newest first."""
    printer = _ctx(ctx).printer(output)
    with handled(printer), _ctx(ctx).client() as api:
        if all_pages:
            items = list(api.iter_bookings(limit=limit))
            page = m.BookingPage(items=items, next_cursor=None)
        else:
            page = api.bookings(limit=limit)
        printer.emit(
            page,
            page.items,
            BOOKING_COLS,
            caption=f"{len(page.items)} bookings" + (" (--all for more)" if page.next_cursor else ""),
        )


@app.command()
def cancel(
    ctx: typer.Context,
    booking_id: Annotated[str, typer.Argument(help="bk_... (gpubroker bookings)")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="no confirmation question")] = False,
    output: OutputOpt = Output.table,
) -> None:
    """Cancel a booking: the hours not started are refunded and the instance released."""
    printer = _ctx(ctx).printer(output)
    with handled(printer), _ctx(ctx).client() as api:
        if not yes:
            if not sys.stdin.isatty():
                raise QueryError(f"cancel {booking_id}? pass --yes to confirm without a terminal")
            typer.confirm(f"Cancel {booking_id}?", abort=True, err=True)
        _show_booking(printer, api.cancel_booking(booking_id))


def main() -> None:
    """The console script: Typer's parsing (usage errors exit 2), our errors in one line."""
    os.environ.setdefault("TYPER_USE_RICH", "1")
    app()


if __name__ == "__main__":
    main()
