"""How the command prints: tables that fit the terminal (Rich), JSON, or CSV; colours only on a terminal."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from rich import box
from rich.console import Console
from rich.table import Table


class Output(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


@dataclass(frozen=True)
class Col:
    header: str
    get: Callable[[Any], Any]
    kind: str = "text"  # text | usd | num | int | pct
    drop: int = 1  # 0: always shown, never shortened (an id); higher: hidden first when the terminal is narrow
    fold: bool = False  # long text folded onto more lines (never hidden)

    @property
    def numeric(self) -> bool:
        return self.kind != "text"


def attr(name: str, kind: str = "text", drop: int = 1) -> Col:
    return Col(name, lambda row: getattr(row, name, None), kind, drop)


def key(name: str, kind: str = "text", drop: int = 1) -> Col:
    """A column of dict rows."""
    return Col(name, lambda row: row[name], kind, drop)


def jsonable(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if isinstance(data, list | tuple):
        return [jsonable(d) for d in data]
    if isinstance(data, dict):
        return {k: jsonable(v) for k, v in data.items()}
    return data


def _usd(value: float) -> str:
    if abs(value) >= 1:
        return f"${value:,.2f}"
    return f"${value:.3f}" if abs(value) >= 0.01 or value == 0 else f"${value:.2g}"


def _num(value: float) -> str:
    if isinstance(value, float):
        return f"{value:.2g}" if 0 < abs(value) < 1 else f"{value:,.1f}"
    return f"{value:,}"


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


FORMATS: dict[str, Callable[[Any], str]] = {"usd": _usd, "num": _num, "int": str, "pct": lambda v: f"{v:+.1f}%"}


def fmt(value: Any, kind: str) -> str:
    """A cell: USD with cents (three digits below a dollar), thousands separated, '-' for nothing."""
    return "-" if value is None else FORMATS.get(kind, _text)(value)


class Printer:
    """Standard output for results, standard error for messages. ``Console`` turns colours off when the stream is
    not a terminal (and honours NO_COLOR); ``--no-color`` forces it off."""

    def __init__(self, output: Output, *, color: bool = True) -> None:
        self.output = output
        self.out = Console(highlight=False, no_color=not color or None)
        self.err = Console(stderr=True, highlight=False, no_color=not color or None)

    @property
    def interactive(self) -> bool:
        return self.out.is_terminal and self.output is Output.table

    def emit(
        self,
        data: Any,
        rows: Sequence[Any],
        cols: Sequence[Col],
        *,
        title: str | None = None,
        caption: str | None = None,
    ) -> None:
        """``data`` whole as JSON; ``rows`` x ``cols`` as CSV or a table (a terminal's width)."""
        if self.output is Output.json:
            sys.stdout.write(json.dumps(jsonable(data), indent=2) + "\n")
        elif self.output is Output.csv:
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow([c.header for c in cols])
            for row in rows:
                writer.writerow(["" if (v := c.get(row)) is None else fmt(v, "text") for c in cols])
        else:
            self.out.print(self.table(rows, cols, title=title, caption=caption))

    def table(
        self,
        rows: Sequence[Any],
        cols: Sequence[Col],
        *,
        title: str | None = None,
        caption: str | None = None,
        styles: Sequence[str | None] | None = None,
    ) -> Table:
        """A table as wide as the terminal: columns hidden by their ``drop`` rank until the rest fit (said in the
        caption), then text columns shortened with an ellipsis; ids (``drop`` 0) are never shortened."""
        cells = [[fmt(c.get(row), c.kind) for c in cols] for row in rows]
        widths = [max([len(c.header), *(len(r[i]) for r in cells)]) for i, c in enumerate(cols)]
        widths = [min(w, 24) if c.fold else w for w, c in zip(widths, cols, strict=True)]
        shown = list(range(len(cols)))
        by_rank = sorted((i for i, c in enumerate(cols) if c.drop and not c.fold), key=lambda i: (-cols[i].drop, -i))
        while sum(widths[i] + 3 for i in shown) > self.out.width and by_rank:
            shown.remove(by_rank.pop(0))
        hidden = [cols[i].header for i in range(len(cols)) if i not in shown]
        if hidden:
            note = f"hidden to fit {self.out.width} columns: {', '.join(hidden)} (-o json has everything)"
            caption = f"{caption}; {note}" if caption else note
        table = Table(
            title=title,
            caption=caption,
            box=box.SIMPLE_HEAD,
            header_style="bold",
            title_justify="left",
            caption_justify="left",
            pad_edge=False,
            show_edge=False,
        )
        for i in shown:
            c = cols[i]
            table.add_column(
                c.header,
                justify="right" if c.numeric else "left",
                overflow="fold" if c.fold else "ellipsis",
                no_wrap=not c.fold,
                min_width=widths[i] if c.numeric or not c.drop else min(widths[i], 6),
            )
        for n, row in enumerate(cells):
            table.add_row(*(row[i] for i in shown), style=styles[n] if styles else None)
        return table

    def pairs(self, data: BaseModel, fields: Sequence[tuple[str, Any]], *, title: str | None = None) -> None:
        """One record as field/value lines (a table of two columns; CSV: a header row and one row)."""
        rows = [{"field": k, "value": v} for k, v in fields]
        if self.output is Output.csv:
            self.emit(data, [dict(fields)], [key(k) for k, _ in fields])
            return
        self.emit(data, rows, [key("field", drop=0), Col("value", lambda r: r["value"], fold=True)], title=title)

    def note(self, text: str) -> None:
        """A message for people (standard error, one line), never mixed into JSON or CSV."""
        self.err.print(text, markup=False, soft_wrap=True)
