"""The console's HTML building blocks: escaping, tables, bars, times, and the page frame.

Pages are rendered on the server from plain data: no template engine beyond these few functions (the
pages are tables and bars), every value that came from a cluster or a person (topic names, reasons,
messages) passed through `esc`, and no script but the vendored uPlot and the console's own chart file.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Sequence

from kafka_medic.units import MB

STATIC = "/kafka-medic/_static"  # `_` starts no cluster name, so no cluster page can shadow it

STYLE = """
body{font:14px system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:24px}
table{border-collapse:collapse;margin:4px 0}th,td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f4f4f4}td.n{text-align:right}.load{white-space:nowrap}
.bar{position:relative;width:140px;height:12px;background:#eee;display:inline-block;vertical-align:middle}
.bar .fill{position:absolute;left:0;top:0;bottom:0;background:#4a90d9}
.bar .fill.hot{background:#d9534f}
.bar .band{position:absolute;top:-2px;bottom:-2px;border-left:1px dashed #333;border-right:1px dashed #333}
.bad{color:#b00;font-weight:600}.ok{color:#080}.muted{color:#777}
.chart{display:inline-block;margin-right:16px}
nav a{margin-right:12px}
button.stop{background:#d9534f;color:#fff;border:0;padding:6px 14px;cursor:pointer}
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, body: str, scripts: Sequence[str] = ()) -> str:
    head_scripts = "".join(f'<script src="{STATIC}/{name}"></script>' for name in scripts)
    css = f'<link rel="stylesheet" href="{STATIC}/uPlot.min.css">' if scripts else ""
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{esc(title)}</title>{css}'
            f"<style>{STYLE}</style>{head_scripts}</head><body>"
            f'<nav><a href="/kafka-medic/">all clusters</a></nav><h1>{esc(title)}</h1>{body}</body></html>')


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """`rows` are cells already rendered (escaped) as HTML."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def bar(pct: float, band: tuple[float, float] | None = None, limit_pct: float = 100.0) -> str:
    """A bar of `pct` % of capacity, red past `limit_pct`, with the balance band drawn over it."""
    width = max(0.0, min(pct, 100.0))
    hot = " hot" if pct > limit_pct else ""
    marks = ""
    if band is not None:
        low, high = (max(0.0, min(v, 100.0)) for v in band)
        marks = f'<span class="band" style="left:{low:.1f}%;width:{high - low:.1f}%"></span>'
    return (f'<span class="load"><span class="bar" title="{pct:.1f}%"><span class="fill{hot}" '
            f'style="width:{width:.1f}%"></span>{marks}</span> {pct:.1f}%</span>')


def when(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def size(n_bytes: float) -> str:
    return f"{n_bytes / MB:,.1f} MB"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, s = divmod(int(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m:02d}m" if hours else f"{m}m{s:02d}s"
