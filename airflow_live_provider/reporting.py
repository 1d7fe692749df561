"""The sub-account snapshot report: a self-contained HTML page built from the JSON Lines snapshot.

Airflow-free on purpose (the DAG hands it open files), and streaming: the snapshot is read one
line at a time, keeping only bounded lists (the N lowest accounts per resource, capped lists of
expired/expiring accounts) plus one ``userId -> status`` map for the comparison with the previous
snapshot. 50,000 accounts therefore cost a few megabytes, never the whole file.

The report reads the *stripped* snapshot and only ever shows ids, e-mails, statuses and numbers:
it has no way to print a secret even if one were present, because it never renders other fields.
"""

from __future__ import annotations

import heapq
import html
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class ResourceField:
    """A remaining-resource field of a Polyv sub-account: its threshold parameter and its label."""

    param: str  # the operator argument and DAG param holding its threshold
    label: str  # what the report shows


#: The one table of remaining-resource fields (operator, report and snapshot DAG all read it).
RESOURCE_FIELDS: dict[str, ResourceField] = {
    "remainMinutes": ResourceField("min_remaining_minutes", "Live minutes"),
    "remainConcurrent": ResourceField("min_remaining_concurrency", "Concurrency"),
    "remainFlow": ResourceField("min_remaining_flow", "VOD flow (GB)"),
    "remainSpace": ResourceField("min_remaining_space", "VOD space (GB)"),
}
INACTIVE_STATUSES = ("expired", "frozen")
#: Upper bound of every account list the summary keeps (the counts stay exact).
LIST_CAP = 100


@dataclass(frozen=True)
class AccountValue:
    """One account's value of one resource (what a bar in the chart shows)."""

    email: str
    user_id: str
    value: float


def number(value: Any) -> float | None:
    """A resource value as a float; None for blanks, booleans and anything not numeric."""
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class SnapshotSummary:
    """Totals, N lowest per resource, inactive, expiring and below-threshold accounts of a snapshot,
    updated one row at a time with :meth:`add` (the operator while streaming, the report while
    reading). Memory is bounded by the capped lists, plus one ``userId -> status`` entry per
    account when ``track_status`` (needed only to compare two snapshots).

    "Expiring" is measured from the snapshot's own ``snapshotTime`` (falling back to ``now``), so
    re-rendering an old snapshot gives the same report.
    """

    def __init__(
        self,
        *,
        top_n: int = 10,
        expiring_within_days: float = 7,
        thresholds: Mapping[str, float | None] | None = None,
        now: datetime | None = None,
        track_status: bool = True,
    ) -> None:
        self.count = 0
        self.snapshot_time: datetime | None = None
        self.totals: dict[str, float] = dict.fromkeys(RESOURCE_FIELDS, 0.0)
        self.inactive: list[dict[str, Any]] = []
        self.inactive_count = 0
        self.expiring_count = 0
        self.below_threshold: list[dict[str, Any]] = []
        self.below_threshold_count = 0
        self.status_by_id: dict[str, str] = {}
        self._top_n = top_n
        self._window = timedelta(days=expiring_within_days)
        self._limits = {
            k: float(v) for k, v in (thresholds or {}).items() if v is not None and k in RESOURCE_FIELDS
        }
        self._now = now
        self._track_status = track_status
        self._reference: datetime | None = None  # the instant "expiring within N days" counts from
        # Max-heaps (negated values) of size top_n keep the lowest values seen so far.
        self._heaps: dict[str, list[tuple[float, int, str, str]]] = {name: [] for name in RESOURCE_FIELDS}
        self._expiring: list[dict[str, Any]] = []

    def add(self, row: Mapping[str, Any]) -> None:
        """Count one account."""
        seq = self.count
        self.count += 1
        email, user_id = str(row.get("email") or ""), str(row.get("userId") or "")
        status = str(row.get("status") or "")
        if self.snapshot_time is None:
            self.snapshot_time = parse_time(row.get("snapshotTime"))
        if self._reference is None:
            self._reference = self.snapshot_time or self._now or datetime.now(UTC)
        if self._track_status:
            self.status_by_id[user_id or email] = status
        below: list[str] = []
        for name in RESOURCE_FIELDS:
            value = number(row.get(name))
            if value is None:
                continue
            self.totals[name] += value
            heap = self._heaps[name]
            item = (-value, -seq, email, user_id)
            if len(heap) < self._top_n:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
            if name in self._limits and value < self._limits[name]:
                below.append(name)
        if below:
            self.below_threshold_count += 1
            if len(self.below_threshold) < LIST_CAP:
                self.below_threshold.append({"email": email, "userId": user_id, "fields": below})
        expire = parse_time(row.get("expireDate"))
        if status in INACTIVE_STATUSES:
            self.inactive_count += 1
            if len(self.inactive) < LIST_CAP:
                self.inactive.append(
                    {"email": email, "userId": user_id, "status": status, "expireDate": expire}
                )
        elif expire is not None and self._reference <= expire <= self._reference + self._window:
            self.expiring_count += 1
            if len(self._expiring) < LIST_CAP:
                days_left = (expire - self._reference).total_seconds() / 86400
                self._expiring.append(
                    {"email": email, "userId": user_id, "expireDate": expire, "daysLeft": days_left}
                )

    @property
    def expiring(self) -> list[dict[str, Any]]:
        """Accounts expiring within the window, soonest first (capped)."""
        return sorted(self._expiring, key=lambda item: item["expireDate"])

    @property
    def lowest(self) -> dict[str, list[AccountValue]]:
        """The N accounts with the least remaining, per resource, lowest first."""
        out: dict[str, list[AccountValue]] = {}
        for name, heap in self._heaps.items():
            ordered = sorted(heap, key=lambda item: (-item[0], -item[1]))
            out[name] = [AccountValue(email, uid, -neg) for neg, _, email, uid in ordered]
        return out

    def totals_rounded(self) -> dict[str, float | int]:
        """Whole numbers as ints (minutes, concurrency); GB figures to 3 decimals (XCom-ready)."""
        return {k: int(v) if float(v).is_integer() else round(v, 3) for k, v in self.totals.items()}


@dataclass
class SnapshotChange:
    """The difference between two snapshots (current minus previous)."""

    previous_time: datetime | None
    count_delta: int
    totals_delta: dict[str, float]
    added: int
    removed: int
    newly_inactive: list[dict[str, str]]
    newly_inactive_count: int


def iter_rows(lines: Iterable[str | bytes]) -> Iterator[dict[str, Any]]:
    """Parse JSON Lines lazily; a broken line is reported by number, never by content."""
    for number, line in enumerate(lines, start=1):
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"snapshot line {number} is not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ValueError(f"snapshot line {number} is not a JSON object")
        yield row


def parse_time(value: Any) -> datetime | None:
    """ISO-8601 text or a 13-digit epoch-milliseconds number as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        number = float(value)
        return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, tz=UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def summarize(
    rows: Iterable[Mapping[str, Any]],
    *,
    top_n: int = 10,
    expiring_within_days: float = 7,
    thresholds: Mapping[str, float | None] | None = None,
    now: datetime | None = None,
) -> SnapshotSummary:
    """One pass over the rows (see :class:`SnapshotSummary`)."""
    summary = SnapshotSummary(
        top_n=top_n, expiring_within_days=expiring_within_days, thresholds=thresholds, now=now
    )
    for row in rows:
        summary.add(row)
    return summary


def compare(current: SnapshotSummary, previous: SnapshotSummary) -> SnapshotChange:
    """What changed since the previous snapshot: counts, totals, accounts added/removed/deactivated."""
    cur_ids, prev_ids = current.status_by_id, previous.status_by_id
    newly: list[dict[str, str]] = []
    newly_count = 0
    for key, status in cur_ids.items():
        if status in INACTIVE_STATUSES and prev_ids.get(key) not in INACTIVE_STATUSES:
            newly_count += 1
            if len(newly) < LIST_CAP:
                newly.append({"id": key, "status": status})
    return SnapshotChange(
        previous_time=previous.snapshot_time,
        count_delta=current.count - previous.count,
        totals_delta={k: current.totals[k] - previous.totals[k] for k in RESOURCE_FIELDS},
        added=sum(1 for key in cur_ids if key not in prev_ids),
        removed=sum(1 for key in prev_ids if key not in cur_ids),
        newly_inactive=newly,
        newly_inactive_count=newly_count,
    )


# -- rendering -------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _label(name: str) -> str:
    spec = RESOURCE_FIELDS.get(name)
    return spec.label if spec else name


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _fmt_time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "n/a"


def svg_bar_chart(items: list[AccountValue], *, title: str, width: int = 640) -> str:
    """A horizontal bar chart as inline SVG: one bar per account, scaled to the largest value."""
    bar_h, gap, label_w, value_w, top = 18, 6, 230, 80, 26
    height = top + len(items) * (bar_h + gap) + 4
    span = max((item.value for item in items), default=0.0) or 1.0
    plot_w = width - label_w - value_w
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{_e(title)}">',
        f'<text x="0" y="16" font-weight="bold">{_e(title)}</text>',
    ]
    if not items:
        parts.append(f'<text x="0" y="{top + 14}">no data</text>')
    for index, item in enumerate(items):
        y = top + index * (bar_h + gap)
        bar_w = max(0.0, item.value) / span * plot_w
        label = item.email or item.user_id
        if len(label) > 32:
            label = label[:31] + "\u2026"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_e(label)}</text>'
            f'<rect class="bar" x="{label_w}" y="{y}" width="{bar_w:.1f}" height="{bar_h}" fill="#d9534f">'
            f"<title>{_e(item.email)} ({_e(item.user_id)}): {_e(_fmt(item.value))}</title></rect>"
            f'<text x="{label_w + bar_w + 4:.1f}" y="{y + 13}">{_e(_fmt(item.value))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(headers: list[str], rows: list[list[Any]], total: int) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    more = f"<p>Showing {len(rows)} of {total}.</p>" if total > len(rows) else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}.bar{fill:#d9534f}svg text{font-size:12px;font-family:inherit}
.up{color:#2a7}.down{color:#c33}
"""


def render_html(
    summary: SnapshotSummary,
    *,
    change: SnapshotChange | None = None,
    snapshot_name: str = "",
    previous_name: str | None = None,
    expiring_within_days: float = 7,
    thresholds: Mapping[str, float | None] | None = None,
) -> str:
    """The whole report as one HTML document: no scripts, no external assets."""
    title = f"Polyv sub-account snapshot {_fmt_time(summary.snapshot_time)}"
    out = [
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>",
        f"<p>Snapshot <code>{_e(snapshot_name)}</code>: {summary.count} sub-accounts.</p>",
        "<h2>Totals</h2>",
        _table(
            ["Resource", "Remaining (all accounts)"],
            [[spec.label, _fmt(summary.totals[name])] for name, spec in RESOURCE_FIELDS.items()],
            len(RESOURCE_FIELDS),
        ),
    ]
    active = {k: v for k, v in (thresholds or {}).items() if v is not None}
    if active:
        out.append("<h2>Below threshold</h2>")
        limits = ", ".join(f"{_label(k)} &lt; {_e(_fmt(float(v)))}" for k, v in active.items())
        out.append(f"<p>Thresholds: {limits}. Accounts below: {summary.below_threshold_count}.</p>")
        out.append(
            _table(
                ["E-mail", "User id", "Below on"],
                [
                    [a["email"], a["userId"], ", ".join(_label(f) for f in a["fields"])]
                    for a in summary.below_threshold
                ],
                summary.below_threshold_count,
            )
        )
    out.append("<h2>Least remaining</h2>")
    lowest = summary.lowest
    for name, spec in RESOURCE_FIELDS.items():
        out.append(f"<div>{svg_bar_chart(lowest.get(name, []), title=spec.label)}</div>")
    out.append(f"<h2>Expired or frozen ({summary.inactive_count})</h2>")
    out.append(
        _table(
            ["E-mail", "User id", "Status", "Expires"],
            [[a["email"], a["userId"], a["status"], _fmt_time(a["expireDate"])] for a in summary.inactive],
            summary.inactive_count,
        )
    )
    out.append(f"<h2>Expiring within {_e(_fmt(expiring_within_days))} days ({summary.expiring_count})</h2>")
    out.append(
        _table(
            ["E-mail", "User id", "Expires", "Days left"],
            [
                [a["email"], a["userId"], _fmt_time(a["expireDate"]), f"{a['daysLeft']:.1f}"]
                for a in summary.expiring
            ],
            summary.expiring_count,
        )
    )
    out.append("<h2>Change since the previous snapshot</h2>")
    if change is None:
        out.append("<p>No previous snapshot: this is the first one.</p>")
    else:
        out.append(
            f"<p>Previous snapshot <code>{_e(previous_name or '')}</code> taken "
            f"{_e(_fmt_time(change.previous_time))}. Accounts: {change.count_delta:+d} "
            f"({change.added} added, {change.removed} removed).</p>"
        )
        rows = []
        for name, spec in RESOURCE_FIELDS.items():
            delta = change.totals_delta[name]
            rows.append([spec.label, _fmt(summary.totals[name]), ("+" if delta > 0 else "") + _fmt(delta)])
        out.append(_table(["Resource", "Now", "Change"], rows, len(rows)))
        out.append(f"<p>Newly expired or frozen: {change.newly_inactive_count}.</p>")
        out.append(
            _table(
                ["Account", "Status"],
                [[a["id"], a["status"]] for a in change.newly_inactive],
                change.newly_inactive_count,
            )
        )
    out.append("</body></html>\n")
    return "\n".join(out)


def build_report(
    snapshot_lines: Iterable[str | bytes],
    previous_lines: Iterable[str | bytes] | None = None,
    *,
    snapshot_name: str = "",
    previous_name: str | None = None,
    top_n: int = 10,
    expiring_within_days: float = 7,
    thresholds: Mapping[str, float | None] | None = None,
    now: datetime | None = None,
) -> tuple[str, SnapshotSummary, SnapshotChange | None]:
    """Summarize the snapshot (and the previous one, if given) and render the report."""
    options: dict[str, Any] = {
        "top_n": top_n,
        "expiring_within_days": expiring_within_days,
        "thresholds": thresholds,
        "now": now,
    }
    summary = summarize(iter_rows(snapshot_lines), **options)
    change = None
    if previous_lines is not None:
        change = compare(summary, summarize(iter_rows(previous_lines), **options))
    page = render_html(
        summary,
        change=change,
        snapshot_name=snapshot_name,
        previous_name=previous_name,
        expiring_within_days=expiring_within_days,
        thresholds=thresholds,
    )
    return page, summary, change


def previous_snapshot_name(current: str, names: Iterable[str], *, prefix: str, suffix: str) -> str | None:
    """The latest ``prefix...suffix`` name sorting before ``current`` (timestamps sort as text)."""
    candidates = [n for n in names if n.startswith(prefix) and n.endswith(suffix) and n < current]
    return max(candidates, default=None)
