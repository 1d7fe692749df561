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
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_live_provider.reports.pages import (
    BAD_COLOUR,
    FINE_COLOUR,
    document,
    esc,
    fmt_number,
    fmt_time,
    table,
)
from airflow_live_provider.times import optional_instant


@dataclass(frozen=True)
class ResourceField:
    """A remaining-resource field of a Polyv sub-account: its threshold parameter and its label."""

    param: str  # the operator argument and DAG param holding its threshold
    label: str  # what every page, XCom message and alert calls it
    consumable: bool = True  # used up over time (a runway makes sense); concurrency is a cap


#: The one table of remaining-resource fields (operator, report and snapshot DAG all read it).
RESOURCE_FIELDS: dict[str, ResourceField] = {
    "remainMinutes": ResourceField("min_remaining_minutes", "Live minutes"),
    "remainConcurrent": ResourceField("min_remaining_concurrency", "Concurrency", consumable=False),
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


#: No account holds more than this of any resource: a larger number is a broken answer.
MAX_RESOURCE_VALUE = 1e15


def number(value: Any) -> float | None:
    """A resource amount as a finite float from 0 to :data:`MAX_RESOURCE_VALUE`; None for blanks,
    booleans, anything not numeric, NaN/Infinity (which would poison every total they were added
    to), negative amounts (a "remaining" below zero is not an amount: summed, it would hide
    another account's minutes) and text that is not ASCII (``"１２"`` is not read as 12)."""
    kind = type(value)  # the common cases first (called per resource per account)
    if kind is int:
        return float(value) if 0 <= value <= MAX_RESOURCE_VALUE else None
    if kind is float:
        return value if 0 <= value <= MAX_RESOURCE_VALUE else None  # NaN compares False
    if kind is not str or not value.isascii():
        return None
    try:
        result = float(value)
    except ValueError:
        return None
    return result if 0 <= result <= MAX_RESOURCE_VALUE else None


def label(name: str) -> str:
    """The one label of a resource field (``remainMinutes`` -> ``Live minutes``)."""
    spec = RESOURCE_FIELDS.get(name)
    return spec.label if spec else name


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
        #: Vendor values that could not be used (a NaN minute count, an expireDate of "永久"):
        #: left out of totals and expiry checks, counted, the first few named.
        self.unusable: list[dict[str, str]] = []
        self.unusable_count = 0
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
            self.snapshot_time = row_time(row.get("snapshotTime"), "snapshotTime")
        if self._reference is None:
            self._reference = self.snapshot_time or self._now or datetime.now(UTC)
        if self._track_status:
            self.status_by_id[user_id or email] = status
        below: list[str] = []
        totals, heaps, limits, top_n = self.totals, self._heaps, self._limits, self._top_n  # per row
        for name in RESOURCE_FIELDS:
            raw = row.get(name)
            value = number(raw)
            if value is None:
                if raw not in (None, ""):
                    self._unusable(user_id or email, name, raw)
                continue
            totals[name] += value
            heap = heaps[name]
            if len(heap) < top_n:
                heapq.heappush(heap, (-value, -seq, email, user_id))
            elif -value >= heap[0][0]:  # else it cannot displace the highest kept (most rows)
                item = (-value, -seq, email, user_id)
                if item > heap[0]:
                    heapq.heapreplace(heap, item)
            limit = limits.get(name)
            if limit is not None and value < limit:
                below.append(name)
        if below:
            self.below_threshold_count += 1
            if len(self.below_threshold) < LIST_CAP:
                self.below_threshold.append({"email": email, "userId": user_id, "fields": below})
        try:
            expire = row_time(row.get("expireDate"), "expireDate")
        except ValueError:
            expire = None
            self._unusable(user_id or email, "expireDate", row.get("expireDate"))
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

    def _unusable(self, account: str, field: str, value: Any) -> None:
        self.unusable_count += 1
        if len(self.unusable) < LIST_CAP:
            self.unusable.append({"account": account, "field": field, "value": repr(value)[:40]})

    def unusable_text(self, shown: int = 5) -> str:
        """``3 vendor value(s) ... : u1 expireDate '永久', ...`` for a log line; "" if none."""
        if not self.unusable_count:
            return ""
        listed = ", ".join(f"{u['account']} {u['field']} {u['value']}" for u in self.unusable[:shown])
        more = " ..." if self.unusable_count > shown else ""
        return (
            f"{self.unusable_count} vendor value(s) are not usable numbers or dates and were left out "
            f"of totals and expiry checks: {listed}{more}"
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


def row_time(value: Any, field: str) -> datetime | None:
    """A snapshot row's time: ISO-8601 text or Polyv's epoch milliseconds (or None when empty)."""
    return optional_instant(value, field, vendor="polyv", epoch=True, naive_zone=UTC)


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
def svg_bar_chart(
    items: list[AccountValue], *, title: str, threshold: float | None = None, width: int = 400
) -> str:
    """A bar chart as inline SVG: per account a label line (name, value) over a bar scaled to the
    largest value. Drawn 400 units wide so a phone shows it near full size; it scales to the
    screen (``viewBox``, ``max-width:100%``). Bars below ``threshold`` are red, the others blue.
    """
    row_h, bar_h, top = 34, 12, 26
    height = top + len(items) * row_h + 4
    span = max((item.value for item in items), default=0.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{esc(title)}">',
        f'<text x="8" y="18" font-weight="bold">{esc(title)}</text>',
    ]
    if not items:
        parts.append(f'<text x="8" y="{top + 14}">no data</text>')
    for index, item in enumerate(items):
        y = top + index * row_h
        bar_w = max(0.0, item.value) / span * (width - 16)
        below = threshold is not None and item.value < threshold
        name = item.email or item.user_id
        if len(name) > 40:
            name = name[:39] + "\u2026"
        state = "below threshold" if below else "fine"
        parts.append(
            f'<text x="8" y="{y + 12}">{esc(name)}</text>'
            f'<text x="{width - 8}" y="{y + 12}" text-anchor="end">{esc(fmt_number(item.value))}</text>'
            f'<rect class="bar {"below" if below else "fine"}" x="8" y="{y + 16}" width="{bar_w:.1f}" '
            f'height="{bar_h}" rx="2" fill="{BAD_COLOUR if below else FINE_COLOUR}">'
            f"<title>{esc(item.email)} ({esc(item.user_id)}): {esc(fmt_number(item.value))}, {state}"
            f"</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _legend(threshold: float | None) -> str:
    if threshold is None:
        return "<p class='muted legend'>No threshold set for this resource.</p>"
    return (
        "<p class='muted legend'>"
        f"<span><i class='swatch' style='background:{BAD_COLOUR}'></i>"
        f"below {esc(fmt_number(threshold))}</span>"
        f"<span><i class='swatch' style='background:{FINE_COLOUR}'></i>at or above it</span></p>"
    )


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
    title = f"Polyv sub-account snapshot {fmt_time(summary.snapshot_time)}"
    active = {k: float(v) for k, v in (thresholds or {}).items() if v is not None}
    out = [
        f"<h1>{esc(title)}</h1>",
        f"<p>Snapshot taken {esc(fmt_time(summary.snapshot_time))}: {summary.count} sub-accounts "
        f"<span class='muted'>(file <code>{esc(snapshot_name)}</code>)</span>.</p>",
        (f"<p class='warn'>{esc(summary.unusable_text())}.</p>" if summary.unusable_count else ""),
        "<h2>Totals</h2>",
        table(
            ["Resource", "Remaining (all accounts)"],
            [[spec.label, fmt_number(summary.totals[name])] for name, spec in RESOURCE_FIELDS.items()],
            numeric=[1],
        ),
    ]
    if active:
        out.append(f"<h2>Below threshold ({summary.below_threshold_count})</h2>")
        limits = ", ".join(f"{esc(label(k))} &lt; {esc(fmt_number(v))}" for k, v in active.items())
        out.append(f"<p>Thresholds: {limits}. Accounts below: {summary.below_threshold_count}.</p>")
        out.append(
            table(
                ["E-mail", "User id", "Below on"],
                [
                    [a["email"], a["userId"], ", ".join(label(f) for f in a["fields"])]
                    for a in summary.below_threshold
                ],
                total=summary.below_threshold_count,
                empty="",
            )
        )
    out.append("<h2>Least remaining</h2><div class='charts'>")
    lowest = summary.lowest
    for name, spec in RESOURCE_FIELDS.items():
        chart = svg_bar_chart(lowest.get(name, []), title=spec.label, threshold=active.get(name))
        out.append(f"<div class='chart'>{chart}{_legend(active.get(name))}</div>")
    out.append("</div>")
    out.append(f"<h2>Expired or frozen ({summary.inactive_count})</h2>")
    out.append(
        table(
            ["E-mail", "User id", "Status", "Expires"],
            [[a["email"], a["userId"], a["status"], fmt_time(a["expireDate"])] for a in summary.inactive],
            total=summary.inactive_count,
        )
    )
    out.append(
        f"<h2>Expiring within {esc(fmt_number(expiring_within_days))} days ({summary.expiring_count})</h2>"
    )
    out.append(
        table(
            ["E-mail", "User id", "Expires", "Days left"],
            [
                [a["email"], a["userId"], fmt_time(a["expireDate"]), f"{a['daysLeft']:.1f}"]
                for a in summary.expiring
            ],
            total=summary.expiring_count,
            numeric=[3],
        )
    )
    out.append("<h2>Change since the previous snapshot</h2>")
    if change is None:
        out.append("<p>No previous snapshot: this is the first one.</p>")
    else:
        out.append(
            f"<p>Previous snapshot taken {esc(fmt_time(change.previous_time))} "
            f"<span class='muted'>(file <code>{esc(previous_name or '')}</code>)</span>. "
            f"Accounts: {change.count_delta:+d} ({change.added} added, {change.removed} removed).</p>"
        )
        rows = []
        for name, spec in RESOURCE_FIELDS.items():
            delta = change.totals_delta[name]
            rows.append(
                [spec.label, fmt_number(summary.totals[name]), ("+" if delta > 0 else "") + fmt_number(delta)]
            )
        out.append(table(["Resource", "Now", "Change"], rows, numeric=[1, 2]))
        out.append(f"<p>Newly expired or frozen: {change.newly_inactive_count}.</p>")
        out.append(
            table(
                ["Account", "Status"],
                [[a["id"], a["status"]] for a in change.newly_inactive],
                total=change.newly_inactive_count,
                empty="",
            )
        )
    return document(title, out)


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
