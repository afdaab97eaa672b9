"""The servers' status pages as plain server-rendered HTML: a page frame, tables, bars and
escaping, no scripts and no build step. A page that refreshes itself says so in its head."""

from __future__ import annotations

import datetime
import html
from collections.abc import Iterable
from urllib.parse import quote

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .2em} h2{font-size:1.1em;margin:1.4em 0 .4em}
table{border-collapse:collapse;margin:.3em 0} td,th{padding:.2em .7em;text-align:left;
border-bottom:1px solid #ddd} th{background:#f3f3f3} td.n{text-align:right}
.bar{display:inline-block;width:10em;height:.8em;background:#e6e6e6;vertical-align:middle}
.bar span{display:block;height:100%;background:#4a7fc1}
.alive{color:#17803d} .dead{color:#b3261e;font-weight:bold} .warn{color:#a15c00}
.muted{color:#777} nav a{margin-right:1em}
"""


def e(value: object) -> str:
    return html.escape(str(value))


def page(title: str, body: str, refresh: float | None = None, nav: str = "") -> str:
    meta = f'<meta http-equiv="refresh" content="{refresh:g}">' if refresh else ""
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>{e(title)}</title>{meta}<style>{STYLE}</style></head>"
        f"<body><nav>{nav}</nav><h1>{e(title)}</h1>{body}</body></html>"
    )


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], empty: str = "none") -> str:
    """A table of cells already made HTML (escape text with `e`)."""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        return f"<p class=muted>{e(empty)}</p>"
    names = list(headers)
    head = "<tr>" + "".join(f"<th>{e(h)}</th>" for h in names) + "</tr>" if any(names) else ""
    return f"<table>{head}{body}</table>"


def bar(part: float, whole: float) -> str:
    share = 0.0 if whole <= 0 else max(0.0, min(1.0, part / whole))
    return f'<span class=bar title="{share:.0%}"><span style="width:{share:.0%}"></span></span>'


def size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def when(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


def link(href: str, text: str) -> str:
    return f'<a href="{e(href)}">{e(text)}</a>'


def query_path(path: str) -> str:
    return quote(path, safe="/")
