"""The one way our HTML pages are built: a self-contained document that reads on a phone.

Every page (snapshot report, resource trend, event run sheet) is a single file with no scripts and
no external assets, opened from a bucket or a shared folder. They share the head (viewport meta,
so a 390 px phone does not render the page at desktop width), the base style (charts scale,
tables scroll sideways) and the escaping/formatting helpers below.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

BASE_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:16px;color:#1d2733;
background:#f5f7fa;max-width:960px}
h1{font-size:1.35rem;margin:0 0 6px}h2{font-size:1.1rem;margin:22px 0 8px}
.muted{color:#5b6776;font-size:.9rem}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%}
table{border-collapse:collapse;margin:.4em 0;background:#fff}
td,th{border:1px solid #d5dbe3;padding:.3em .6em;text-align:left;white-space:nowrap}
th{background:#eef1f5}td.num,th.num{text-align:right}
svg{width:100%;max-width:100%;height:auto;display:block;background:#fff;border:1px solid #e1e6ec;
border-radius:6px}
svg text{font-size:12px;font-family:inherit;fill:#1d2733}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,400px),1fr));gap:12px}
.chart{margin:4px 0 10px;min-width:0}
.ok{color:#17663a}.warn{color:#9a5b00}.bad{color:#b3261e}
.legend span{display:inline-block;margin-right:1em}
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.3em;vertical-align:-1px}
"""

#: Status colours shared by every chart: below a threshold / running out vs fine.
BAD_COLOUR = "#c0392b"
FINE_COLOUR = "#3a7bd5"


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt_number(value: float) -> str:
    """Whole numbers with thousands separators, others to two decimals."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def fmt_time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "n/a"


def document(title: str, body: Iterable[str], *, css: str = "") -> str:
    """The whole page: head (charset, viewport, style) and the given body parts."""
    head = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{BASE_CSS}{css}</style></head><body>"
    )
    return "\n".join([head, *(part for part in body if part), "</body></html>\n"])


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    total: int | None = None,
    empty: str = "None.",
    numeric: Iterable[int] = (),
) -> str:
    """A table that scrolls sideways on a narrow screen; ``numeric`` column indexes align right.

    ``total`` larger than the rows shown adds "Showing N of M." An empty table renders ``empty``
    (give "" where a count already says it).
    """
    if not rows:
        return f"<p>{esc(empty)}</p>" if empty else ""
    right = set(numeric)

    def cell(tag: str, index: int, value: Any) -> str:
        cls = ' class="num"' if index in right else ""
        return f"<{tag}{cls}>{esc(value)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>" for row in rows)
    more = f"<p class='muted'>Showing {len(rows)} of {total}.</p>" if total and total > len(rows) else ""
    grid = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{grid}</div>{more}'
