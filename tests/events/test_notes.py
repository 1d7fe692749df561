"""The note a planned ``live_event`` run carries: name, start in its zone and UTC, vendors."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_live_provider.events.calendar import validate_event
from airflow_live_provider.events.notes import MAX_NOTE_CHARS, run_note
from airflow_live_provider.events.planner import plan_event_runs

ISDP = {"channel_ids": ["10882"], "user_account": "135965565"}
POLYV = {"channel_id": "3151318", "viewers": ["viewer-1"]}
VOLC = {"vhost": "live.example.com", "app": "live", "stream": "keynote"}


def _conf(**event: Any) -> dict[str, Any]:
    return {"event": validate_event(event, 0), "definition": "x", "calendar": "c", "output_dir": ""}


def test_name_local_start_utc_and_vendors_in_the_steps_order() -> None:
    conf = _conf(
        name="Keynote",
        start="2026-12-01T19:30:00",
        timezone="Asia/Shanghai",
        isdp=ISDP,
        polyv=POLYV,
        volcengine=VOLC,
    )
    assert run_note(conf) == (
        "**Keynote** · Tue 01 Dec 2026 19:30 (Asia/Shanghai) · 11:30 UTC · "
        "Volcengine Live, Polyv, Huawei ISDP"
    )


def test_a_start_without_zone_is_shown_in_utc() -> None:
    conf = _conf(name="Brief", start="2026-07-01T09:00:00+02:00", isdp=ISDP)
    assert run_note(conf) == "**Brief** · Wed 01 Jul 2026 07:00 UTC · Huawei ISDP"


def test_a_dst_zone_shows_the_wall_clock_of_that_day() -> None:
    summer = run_note(_conf(name="W", start="2026-07-01T19:30:00", timezone="Europe/Berlin", isdp=ISDP))
    winter = run_note(_conf(name="W", start="2026-12-01T19:30:00", timezone="Europe/Berlin", isdp=ISDP))
    assert "19:30 (Europe/Berlin) · 17:30 UTC" in summer and "19:30 (Europe/Berlin) · 18:30 UTC" in winter


def test_markdown_in_a_name_is_shown_as_written() -> None:
    note = run_note(
        _conf(name="<img src=x> *big* [launch](http://x) `x` # | ~", start="2026-12-01T10:00:00Z", isdp=ISDP)
    )
    assert note.startswith(r"**\<img src=x\> \*big\* \[launch\](http://x) \`x\` \# \| \~** · ")


def test_long_names_keep_the_note_within_airflows_limit() -> None:
    note = run_note(_conf(name="n" * 5000, start="2026-12-01T10:00:00Z", isdp=ISDP))
    assert len(note) <= MAX_NOTE_CHARS and note.endswith("· Huawei ISDP") and "…**" in note


@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        (None, "Live event run (no event in its conf)"),
        ({"event": "text"}, "Live event run (no event in its conf)"),
        ({"event": {"name": "X", "start": "soon"}}, "**X** · starts soon · no vendor"),
        ({"event": {"name": "X", "start": "2026-12-01T10:00:00Z", "timezone": "Mars/Olympus"}}, None),
    ],
)
def test_any_conf_gets_a_note_never_an_error(conf: Any, expected: str | None) -> None:
    note = run_note(conf)
    assert note and len(note) <= MAX_NOTE_CHARS
    if expected is not None:
        assert note == expected


def test_every_planned_run_gets_its_own_note() -> None:
    import pendulum

    events = [
        validate_event({"name": "A", "start": "2026-12-01T10:00:00Z", "isdp": ISDP}, 0),
        validate_event({"name": "B", "start": "2026-12-01T11:00:00Z", "polyv": POLYV}, 1),
    ]
    planned = plan_event_runs(
        events, pendulum.datetime(2026, 12, 1, 9), pendulum.duration(hours=24), calendar="c", output_dir=None
    )
    assert [run_note(p["conf"]) for p in planned] == [
        "**A** · Tue 01 Dec 2026 10:00 UTC · Huawei ISDP",
        "**B** · Tue 01 Dec 2026 11:00 UTC · Polyv",
    ]
