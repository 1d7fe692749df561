"""Resource trends across sub-account snapshots: totals over time, burn rates and runways.

"Which sub-accounts will run out, and when?" needs several snapshots. This module reads them one
line at a time, oldest first, and keeps per account only a fixed-size record (numbers in typed
arrays: when it was first and last seen; per consumable resource its latest remaining value,
what it used over its measured steps and their length, the latest step's use and length), never a
row. Memory therefore grows by ~0.35 KB per
account whatever the row width or the number of snapshots (measured in ``benchmarks/``).

Arithmetic, all from the snapshots' own ``snapshotTime`` (so gaps and snapshots minutes apart are
measured, never assumed to be a day). A *step* is the time between two consecutive sightings of
an account; it is *measured* for a resource when the value is known at both ends (a blank, a
non-number, NaN/Infinity is unknown). Only measured steps count:
- *used* = the sum of the decreases over measured steps (an increase is a top-up and counts as
  nothing used);
- *burn rate* = used / the total length of the measured steps, per day;
- *runway* = latest remaining / burn rate (0 when nothing remains; none when nothing is being
  used); none at all when the latest value is unknown;
- *jump*: the latest step is measured, used at least :data:`JUMP_MIN_USED` of the resource and
  at least :data:`JUMP_FACTOR` times the rate measured before it over at least
  :data:`JUMP_MIN_BEFORE_DAYS` days (so a minute used after an idle stretch is not a jump);
- *group*: remaining and rate summed over the accounts of the latest snapshot whose latest value
  is known and that have a measured rate; the others are counted and named on the page.

Airflow-free (the DAG hands it openers), like :mod:`airflow_live_provider.reports.snapshot_report`.
"""

from __future__ import annotations

import heapq
import itertools
import math
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from airflow_live_provider.reports.pages import (
    FINE_COLOUR,
    document,
    esc,
    fmt_number,
    fmt_time,
    table,
)
from airflow_live_provider.reports.snapshot_report import (
    LIST_CAP,
    RESOURCE_FIELDS,
    iter_rows,
    label,
    number,
    row_time,
)

#: Resources that are used up over time (concurrency is a cap, not a stock).
CONSUMABLE = tuple(name for name, spec in RESOURCE_FIELDS.items() if spec.consumable)
#: The latest step's rate, as a multiple of the rate before it, that counts as a jump.
JUMP_FACTOR = 3.0
#: A jump compares with a rate measured over at least this many days (a shorter one is no baseline).
JUMP_MIN_BEFORE_DAYS = 3.0
#: ...and its latest step used at least this much (an hour of live, a GB of flow or space).
JUMP_MIN_USED: dict[str, float] = {"remainMinutes": 60.0, "remainFlow": 1.0, "remainSpace": 1.0}
DAY_SECONDS = 86_400.0

Opener = Callable[[], AbstractContextManager[IO[str]]]


@dataclass(frozen=True)
class SnapshotPoint:
    """One snapshot as a point on the totals chart."""

    name: str
    taken: datetime
    count: int
    totals: dict[str, float]


@dataclass(frozen=True)
class Runway:
    """One account's forecast for one resource."""

    email: str
    user_id: str
    field: str
    remaining: float
    per_day: float
    days: float  # 0: already ran out

    def as_xcom(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "userId": self.user_id,
            "resource": label(self.field),
            "remaining": round(self.remaining, 3),
            "perDay": round(self.per_day, 3),
            "runwayDays": round(self.days, 1),
        }


@dataclass(frozen=True)
class Jump:
    """An account whose latest step used a resource much faster than before."""

    email: str
    user_id: str
    field: str
    per_day_before: float
    per_day_latest: float


@dataclass
class GroupFigure:
    """The group's figures for one resource, and who they leave out."""

    remaining: float = 0.0  # summed over the counted accounts
    per_day: float = 0.0
    counted: int = 0  # latest value known and a measured rate
    blank: int = 0  # left out: latest value unknown
    unmeasured: int = 0  # left out: latest value known, no measured step yet

    @property
    def runway(self) -> float | None:
        """Days until the counted accounts' total runs out; None when unknown or not running out."""
        if not self.counted:
            return None
        if self.remaining <= 0:
            return 0.0
        return self.remaining / self.per_day if self.per_day > 0 else None

    def left_out_text(self) -> str:
        """``1 account left out: latest value blank``; empty when none is."""
        reasons = [(self.blank, "latest value blank"), (self.unmeasured, "no measured step yet")]
        present = [(count, why) for count, why in reasons if count]
        total = self.blank + self.unmeasured
        if not total:
            return ""
        head = f"{total:,} account{'s' if total > 1 else ''} left out: "
        if len(present) == 1:
            return head + present[0][1]
        return head + ", ".join(f"{count:,} {why}" for count, why in present)


@dataclass
class Trend:
    """Everything the trend page and the XCom summary show."""

    points: list[SnapshotPoint]
    runway_days: float
    accounts: int = 0
    added: int = 0
    removed: int = 0
    running_out: list[Runway] = field(default_factory=list)
    running_out_count: int = 0
    jumps: list[Jump] = field(default_factory=list)
    jumps_count: int = 0
    group: dict[str, GroupFigure] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # empty or duplicate snapshots, with why

    @property
    def span_days(self) -> float:
        if len(self.points) < 2:
            return 0.0
        return (self.points[-1].taken - self.points[0].taken).total_seconds() / DAY_SECONDS

    def group_runway(self, name: str) -> float | None:
        """Days until the group's total of ``name`` runs out at the summed burn rates (counted
        accounts only); None when no account is counted or none is using it."""
        figure = self.group.get(name)
        return figure.runway if figure else None


class TrendBuilder:
    """Feed snapshots oldest first with :meth:`add_snapshot`; :meth:`result` does the arithmetic."""

    def __init__(self, *, runway_days: float = 30, list_cap: int = LIST_CAP) -> None:
        self.runway_days = runway_days
        self.points: list[SnapshotPoint] = []
        self.skipped: list[str] = []
        self._cap = list_cap
        self._index: dict[str, int] = {}  # userId (else e-mail) -> slot; insertion order = slot order
        self._emails: list[str] = []
        self._first = array("d")  # epoch seconds of the first and the last sighting
        self._last = array("d")
        # Per resource: the latest remaining (NaN: unknown), used and seconds over measured steps,
        # and the latest step's use and length (length 0: the latest step was not measured).
        self._value = {name: array("d") for name in CONSUMABLE}
        self._used = {name: array("d") for name in CONSUMABLE}
        self._measured = {name: array("d") for name in CONSUMABLE}
        self._step_used = {name: array("d") for name in CONSUMABLE}
        self._step = {name: array("d") for name in CONSUMABLE}

    def add_snapshot(self, name: str, rows: Iterable[Mapping[str, Any]]) -> SnapshotPoint | None:
        """Count one snapshot; None (and a note in ``skipped``) if it is empty or not newer than
        the previous one (a duplicate taken at the same instant would make a zero-length step)."""
        rows = iter(rows)
        first = next(rows, None)
        taken = row_time(first.get("snapshotTime"), "snapshotTime") if first else None
        if first is None or taken is None:
            self.skipped.append(f"{name}: empty or without snapshotTime")
            return None
        if self.points and taken <= self.points[-1].taken:
            self.skipped.append(f"{name}: taken {fmt_time(taken)}, not after {self.points[-1].name}")
            return None
        now = taken.timestamp()
        totals = dict.fromkeys(RESOURCE_FIELDS, 0.0)
        count = 0
        for row in itertools.chain([first], rows):
            count += 1
            for total in RESOURCE_FIELDS:
                value = number(row.get(total))
                if value is not None:
                    totals[total] += value
            self._sight(row, now)
        point = SnapshotPoint(name, taken, count, totals)
        self.points.append(point)
        return point

    def _sight(self, row: Mapping[str, Any], now: float) -> None:
        email = str(row.get("email") or "")
        key = str(row.get("userId") or "") or email
        slot = self._index.get(key)
        if slot is None:
            self._index[key] = len(self._emails)
            self._emails.append(email)
            self._first.append(now)
            self._last.append(now)
            for name in CONSUMABLE:
                value = number(row.get(name))
                self._value[name].append(math.nan if value is None else value)
                for numbers in (self._used, self._measured, self._step_used, self._step):
                    numbers[name].append(0.0)
            return
        step = now - self._last[slot]
        if step <= 0:  # listed twice in one snapshot: the first sighting counts
            return
        self._last[slot] = now
        for name in CONSUMABLE:
            value = number(row.get(name))
            before = self._value[name][slot]
            self._value[name][slot] = math.nan if value is None else value
            if value is None or math.isnan(before):  # an end is unknown: a step nobody measured
                self._step[name][slot] = 0.0
                self._step_used[name][slot] = 0.0
                continue
            used = max(0.0, before - value)
            self._used[name][slot] += used
            self._measured[name][slot] += step
            self._step_used[name][slot] = used
            self._step[name][slot] = step

    def result(self) -> Trend:
        trend = Trend(points=list(self.points), runway_days=self.runway_days, skipped=list(self.skipped))
        if not self.points:
            return trend
        start, latest = self.points[0].taken.timestamp(), self.points[-1].taken.timestamp()
        trend.group = {name: GroupFigure() for name in CONSUMABLE}
        running: list[tuple[float, int, Runway]] = []  # max-heap on runway (negated) of size cap
        jumps: list[tuple[float, int, Jump]] = []  # min-heap on the rate increase of size cap
        for slot, key in enumerate(self._index):
            if self._last[slot] != latest:
                trend.removed += 1
                continue
            trend.accounts += 1
            if self._first[slot] > start:
                trend.added += 1
            for name in CONSUMABLE:
                remaining, group = self._value[name][slot], trend.group[name]
                measured = self._measured[name][slot]
                if math.isnan(remaining):
                    group.blank += 1
                    continue
                if measured <= 0:
                    group.unmeasured += 1
                    continue  # seen once, or never with both ends of a step known: no rate yet
                used = self._used[name][slot]
                per_day = used / measured * DAY_SECONDS
                group.counted += 1
                group.remaining += remaining
                group.per_day += per_day
                days = 0.0 if remaining <= 0 else (remaining / per_day if per_day > 0 else math.inf)
                if days <= self.runway_days:
                    trend.running_out_count += 1
                    item = Runway(self._emails[slot], key, name, remaining, per_day, days)
                    _keep(running, (-days, -slot, item), self._cap)
                jump = self._jump(slot, key, name, measured, used)
                if jump is not None:
                    trend.jumps_count += 1
                    _keep(jumps, (jump.per_day_latest - jump.per_day_before, -slot, jump), self._cap)
        trend.running_out = [item for _, _, item in sorted(running, key=lambda t: (-t[0], -t[1]))]
        trend.jumps = [item for _, _, item in sorted(jumps, key=lambda t: (-t[0], -t[1]))]
        return trend

    def _jump(self, slot: int, key: str, name: str, measured: float, used: float) -> Jump | None:
        """A jump: see the module docstring (latest step measured, above the floor, 3x before)."""
        step, step_used = self._step[name][slot], self._step_used[name][slot]
        before_span = measured - step
        if (
            step <= 0
            or before_span < JUMP_MIN_BEFORE_DAYS * DAY_SECONDS
            or step_used <= 0
            or step_used < JUMP_MIN_USED.get(name, 0.0)
        ):
            return None
        latest = step_used / step * DAY_SECONDS
        before = (used - step_used) / before_span * DAY_SECONDS
        if latest < JUMP_FACTOR * before:
            return None
        return Jump(self._emails[slot], key, name, before, latest)


def _keep(heap: list[Any], item: tuple[Any, ...], cap: int) -> None:
    """Keep the ``cap`` largest items of a min-heap."""
    if len(heap) < cap:
        heapq.heappush(heap, item)
    elif item[:2] > heap[0][:2]:
        heapq.heapreplace(heap, item)


# -- choosing and reading snapshots --------------------------------------------------------------
def snapshot_names(
    names: Iterable[str], *, prefix: str, suffix: str, last: int, until: str | None = None
) -> list[str]:
    """The ``last`` snapshot names (sorted) up to ``until``; temporaries (dot-files) never count."""
    chosen = sorted(
        n
        for n in names
        if n.startswith(prefix)
        and n.endswith(suffix)
        and not n.startswith(".")
        and (until is None or n <= until)
    )
    return chosen[-last:] if last > 0 else []


def build_trend(snapshots: Sequence[tuple[str, Opener]], *, runway_days: float = 30) -> Trend:
    """Read each snapshot's first line to order them by when they were really taken, then stream
    them oldest first through a :class:`TrendBuilder`."""
    dated: list[tuple[datetime, str, Opener]] = []
    builder = TrendBuilder(runway_days=runway_days)
    for name, opener in snapshots:
        with opener() as fh:
            first = next(iter_rows(fh), None)
        taken = row_time(first.get("snapshotTime"), "snapshotTime") if first else None
        if taken is None:
            builder.skipped.append(f"{name}: empty or without snapshotTime")
            continue
        dated.append((taken, name, opener))
    for _, name, opener in sorted(dated, key=lambda item: (item[0], item[1])):
        with opener() as fh:
            builder.add_snapshot(name, iter_rows(fh))
    return builder.result()


# -- the page ---------------------------------------------------------------------------------------
def runway_text(days: float) -> str:
    """``ran out`` / ``~5 hours`` / ``~9 days``: what a resource owner reads."""
    if days <= 0:
        return "ran out"
    if math.isinf(days):
        return "not running out"
    if days < 1:
        hours = max(1, round(days * 24))
        return f"~{hours} hour{'s' if hours > 1 else ''}"
    whole = round(days)
    return f"~{whole:,} day{'s' if whole > 1 else ''}"


def _compact(value: float) -> str:
    """An axis label that fits 60 units: ``1.91M``, ``56.8k``, ``950``."""
    for above, scale, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(value) >= above:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.4g}"


def _duration(seconds: float) -> str:
    if seconds >= DAY_SECONDS:
        return f"{seconds / DAY_SECONDS:,.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    if seconds >= 60:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} seconds"


def svg_line_chart(points: Sequence[tuple[datetime, float]], *, title: str, width: int = 400) -> str:
    """Totals over time as an inline SVG line: real time on x (gaps show as gaps), value on y.
    400 units wide, like the report's bars, so it reads at phone size."""
    height, left, right, top, bottom = 190, 56, 12, 28, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{esc(title)}">',
        f'<text x="8" y="18" font-weight="bold">{esc(title)}</text>',
    ]
    if not points:
        parts.append(f'<text x="{left}" y="{top + 20}">no data</text></svg>')
        return "".join(parts)
    times = [t.timestamp() for t, _ in points]
    values = [v for _, v in points]
    t0, t1 = min(times), max(times)
    low, high = min(values), max(values)
    if high == low:  # a flat line sits in the middle
        low, high = low - 1, high + 1

    def x(t: float) -> float:
        return left + (plot_w / 2 if t1 == t0 else (t - t0) / (t1 - t0) * plot_w)

    def y(v: float) -> float:
        return top + (high - v) / (high - low) * plot_h

    line = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(times, values, strict=True))
    parts += [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#9aa5b1"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#9aa5b1"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{esc(_compact(high))}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">{esc(_compact(low))}</text>',
        f'<text x="{left}" y="{height - 10}">{esc(points[0][0].strftime("%Y-%m-%d %H:%M"))}</text>',
        f'<text x="{left + plot_w}" y="{height - 10}" text-anchor="end">'
        f"{esc(points[-1][0].strftime('%Y-%m-%d %H:%M'))}</text>",
        f'<polyline class="trend" fill="none" stroke="{FINE_COLOUR}" stroke-width="2" points="{line}"/>',
    ]
    for (moment, value), t in zip(points, times, strict=True):
        parts.append(
            f'<circle cx="{x(t):.1f}" cy="{y(value):.1f}" r="3" fill="{FINE_COLOUR}">'
            f"<title>{esc(fmt_time(moment))}: {esc(fmt_number(value))}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_trend_html(trend: Trend) -> str:
    """The trend page: one self-contained HTML document (no scripts, no external assets)."""
    title = "Polyv resource trend"
    out = [f"<h1>{esc(title)}</h1>"]
    points = trend.points
    if not points:
        out.append("<p>No snapshot to read yet.</p>")
        out += [f"<p class='muted'>Skipped {esc(s)}.</p>" for s in trend.skipped]
        return document(title, out)
    latest = points[-1]
    if len(points) == 1:
        out.append(
            f"<p>Only one snapshot so far (taken {esc(fmt_time(latest.taken))}, {latest.count} accounts): "
            "no trend yet. Burn rates and runways appear after the next snapshot.</p>"
        )
    else:
        span_text = _duration(trend.span_days * DAY_SECONDS)
        out.append(
            f"<p>{len(points)} snapshots over {esc(span_text)}: {esc(fmt_time(points[0].taken))} to "
            f"{esc(fmt_time(latest.taken))}. {trend.accounts} accounts now "
            f"({trend.added} added, {trend.removed} removed in that time).</p>"
        )
    out.append("<h2>Totals over time</h2><div class='charts'>")
    rows = []
    for name, spec in RESOURCE_FIELDS.items():
        series = [(p.taken, p.totals[name]) for p in points]
        out.append(f"<div class='chart'>{svg_line_chart(series, title=spec.label)}</div>")
        group = trend.group.get(name)
        if spec.consumable and len(points) > 1 and group is not None:
            runway = group.runway
            if not group.counted:
                runway_cell = "unknown"
            else:
                runway_cell = runway_text(math.inf if runway is None else runway)
            rows.append(
                [
                    spec.label,
                    fmt_number(group.remaining),
                    fmt_number(round(group.per_day, 2)),
                    runway_cell,
                    group.left_out_text() or "none",
                ]
            )
    out.append("</div>")
    if rows:
        out.append("<h2>Group burn rate</h2>")
        out.append(
            "<p class='muted'>Summed over the accounts of the latest snapshot whose latest value is "
            "known and whose rate was measured (steps with a value known at both ends); the others "
            "are left out and counted.</p>"
        )
        out.append(
            table(["Resource", "Remaining", "Used per day", "Runway", "Left out"], rows, numeric=[1, 2])
        )
    out.append(
        f"<h2>Running out within {esc(fmt_number(trend.runway_days))} days ({trend.running_out_count})</h2>"
    )
    if len(points) > 1:
        out.append(
            "<p class='muted'>At each account's own rate over its measured steps (a value known at "
            "both ends); accounts whose latest value is blank have no runway. Soonest first.</p>"
        )
        out.append(
            table(
                ["E-mail", "User id", "Resource", "Remaining", "Used per day", "Runway"],
                [
                    [
                        r.email,
                        r.user_id,
                        label(r.field),
                        fmt_number(r.remaining),
                        fmt_number(round(r.per_day, 2)),
                        runway_text(r.days),
                    ]
                    for r in trend.running_out
                ],
                total=trend.running_out_count,
                empty="No account runs out in that time at its current rate.",
                numeric=[3, 4],
            )
        )
        out.append(f"<h2>Usage jumped ({trend.jumps_count})</h2>")
        floor = ", ".join(f"{label(n)} {fmt_number(v)}" for n, v in JUMP_MIN_USED.items())
        out.append(
            f"<p class='muted'>The latest step (measured) used at least {fmt_number(JUMP_FACTOR)}x the "
            f"daily rate measured before it over at least {fmt_number(JUMP_MIN_BEFORE_DAYS)} days, and "
            f"at least this much in that step: {esc(floor)}.</p>"
        )
        out.append(
            table(
                ["E-mail", "User id", "Resource", "Per day before", "Per day now"],
                [
                    [
                        j.email,
                        j.user_id,
                        label(j.field),
                        fmt_number(round(j.per_day_before, 2)),
                        fmt_number(round(j.per_day_latest, 2)),
                    ]
                    for j in trend.jumps
                ],
                total=trend.jumps_count,
                empty="No jump.",
                numeric=[3, 4],
            )
        )
    else:
        out.append("<p>Needs a second snapshot.</p>")
    out.append("<h2>Snapshots read</h2>")
    snapshot_rows = []
    for before, point in zip([None, *points[:-1]], points, strict=True):
        gap = "" if before is None else _duration((point.taken - before.taken).total_seconds())
        snapshot_rows.append([fmt_time(point.taken), point.count, gap, point.name])
    out.append(table(["Taken", "Accounts", "Since previous", "File"], snapshot_rows, numeric=[1, 2]))
    out += [f"<p class='muted'>Skipped {esc(s)}.</p>" for s in trend.skipped]
    return document(title, out)


def trend_summary(trend: Trend, *, page: str, worst: int = 5) -> dict[str, Any]:
    """The XCom: counts, the worst runways and the page's URI. No secret can be in it: it is built
    from e-mails, ids and numbers only."""
    return {
        "page": page,
        "snapshots": len(trend.points),
        "first": trend.points[0].taken.isoformat() if trend.points else None,
        "last": trend.points[-1].taken.isoformat() if trend.points else None,
        "accounts": trend.accounts,
        "added": trend.added,
        "removed": trend.removed,
        "running_out_count": trend.running_out_count,
        "worst_runways": [r.as_xcom() for r in trend.running_out[:worst]],
        "jumped_count": trend.jumps_count,
        "skipped": trend.skipped,
    }
