"""Plain-text tables and printable names: the CLI prints them, and proposal summaries (Airflow logs, Slack)
embed them.

Names come from clusters and model files, where a topic can be called "\x1b[2J" or "a\nb": `printable`
escapes what a terminal would act on, so every printer shows such a name instead of obeying it. JSON output
(`--json`) is not escaped, as JSON encodes these characters exactly.
Kept out of `kafka_medic.cli` so the optimizer's summaries need not import the command layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def printable(text: str) -> str:
    """`text` with control characters (C0, DEL, C1: ANSI escapes, newlines), line separators, bidi and
    other format characters and lone surrogates written as Python escapes, e.g. "\\x1b[2J"."""
    if text.isprintable():  # the common case, at C speed
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def format_table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> str:
    """Left-aligned text columns of printable text; floats get two decimals."""
    cells = [[_cell(v) for v in row] for row in rows]
    headers = [printable(h) for h in headers]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return printable(str(value))
