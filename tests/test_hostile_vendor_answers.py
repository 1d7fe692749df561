"""Hostile round three, vendor answers read wrongly: numbers with the wrong sign or range, times
outside any real range, shapes that are not the documented ones. Each row came from a run that
summed, wrote or passed the value on; each vendor answers over HTTP from the simulator.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_live_provider.events.sessions import Seen, observe
from airflow_live_provider.exceptions import LiveApiError, LiveApiResponseError
from airflow_live_provider.reports.snapshot_report import summarize
from airflow_live_provider.simulator import SimRequest, SimResponse, SimulatorServer
from airflow_live_provider.simulator import isdp as isdp_sim
from airflow_live_provider.simulator import volcengine as volc_sim
from airflow_live_provider.vendors import isdp, polyv
from airflow_live_provider.workflow.vendor_steps import token_entries
from tests.test_vendor_answers import isdp_client, isdp_ok, page, polyv_client, v3, volc, volc_client


def answer(simulator: SimulatorServer, route: tuple[str, str], body: Any) -> None:
    def reply(_: SimRequest) -> SimResponse:
        return SimResponse(200, body)

    simulator.routes[route] = reply


# -- Polyv ----------------------------------------------------------------------------------------
def account(email: str, **resources: Any) -> dict[str, Any]:
    return {"email": email, "userId": email.split("@")[0], "status": "normal", **resources}


@pytest.mark.parametrize("bad", [-500, -0.5, "-5", "１２", float("nan"), 10**30])
def test_polyv_a_remaining_amount_below_zero_or_absurd_is_not_summed(
    simulator: SimulatorServer, bad: Any
) -> None:
    """A negative remainMinutes used to be added to the total, hiding another account's minutes;
    full-width digits were read as a number. Now: left out of the totals and listed as unusable."""
    rows = [account("a@x.com", remainMinutes=100), account("b@x.com", remainMinutes=bad)]
    answer(simulator, ("GET", polyv.GROUP_PACKAGE_LIST_PATH), page(rows))
    fetched = list(polyv_client(simulator).iter_sub_accounts())
    summary = summarize(fetched)
    assert summary.totals["remainMinutes"] == 100
    assert summary.unusable_count == 1 and summary.unusable[0]["field"] == "remainMinutes"


@pytest.mark.parametrize("status", ["LIVE", "Live", "living", "", None, 1])
def test_polyv_a_live_status_outside_live_and_end_is_a_broken_answer(
    simulator: SimulatorServer, status: Any
) -> None:
    """'LIVE' used to be passed on: every check for "live" then read a live channel as ended."""
    answer(
        simulator, ("POST", polyv.CHANNEL_LIVE_STATUS_PATH), v3([{"channelId": "3151318", "status": status}])
    )
    with pytest.raises(LiveApiResponseError, match=r"data\[0\]\.status .*not one of live, end"):
        polyv_client(simulator).get_channel_live_status(["3151318"])


def test_polyv_documented_statuses_still_read(simulator: SimulatorServer) -> None:
    answer(
        simulator,
        ("POST", polyv.CHANNEL_LIVE_STATUS_PATH),
        v3([{"channelId": "1", "status": "live"}, {"channelId": 2, "status": "end"}]),
    )
    assert polyv_client(simulator).get_channel_live_status(["1", "2"]) == {"1": "live", "2": "end"}


@pytest.mark.parametrize("expire", [253402214400000, -1, "永久", "0001-01-01T00:00:00Z", 1e999])
def test_polyv_an_expire_date_outside_any_real_time_is_unusable_not_a_crash(
    simulator: SimulatorServer, expire: Any
) -> None:
    """Year 9999 in epoch milliseconds, a negative epoch, Go's zero time: listed as unusable."""
    answer(simulator, ("GET", polyv.GROUP_PACKAGE_LIST_PATH), page([account("a@x.com", expireDate=expire)]))
    summary = summarize(polyv_client(simulator).iter_sub_accounts())
    assert summary.unusable_count == 1 and summary.unusable[0]["field"] == "expireDate"
    assert summary.expiring_count == 0


# -- Volcengine -----------------------------------------------------------------------------------
@pytest.mark.parametrize("result", [{}, {"Other": []}])
def test_volcengine_describe_auth_without_an_auth_list_is_a_broken_answer(
    simulator: SimulatorServer, result: dict[str, Any]
) -> None:
    """``Result: {}`` used to read as "no auth setting" (the event then failed as "auth off")."""
    answer(simulator, ("POST", "/"), volc(result))
    with pytest.raises(LiveApiResponseError, match="Result has no AuthList"):
        volc_client(simulator).describe_auth("push", vhost=volc_sim.DEMO_VHOST)


def test_volcengine_an_empty_auth_list_still_means_no_setting(simulator: SimulatorServer) -> None:
    answer(simulator, ("POST", "/"), volc({"AuthList": []}))
    assert volc_client(simulator).describe_auth("push", vhost=volc_sim.DEMO_VHOST) == []


@pytest.mark.parametrize(
    "vendor_start", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-13-45T00:00:00Z", "yesterday"]
)
def test_volcengine_a_session_start_that_is_no_real_time_gives_way_to_first_sight(vendor_start: str) -> None:
    """Go's zero time is a real vendor value: it used to become the session's start (a session
    of 2,025 years, filed under 0001-01). The first poll that saw the stream live is used."""
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    identity = {"kind_of": "stream"}
    seen = Seen(live=True, session_id="1@x", started_at=vendor_start)
    _, fired = observe(None, seen, now, 60, identity=identity)
    assert [e["started_at"] for e in fired] == ["2026-12-01T10:00:00.000Z"]


# -- ISDP -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("lifetime", [1e999, 10**30, 10**400, "9" * 5000, -5, 0, "soon", True, float("nan")])
def test_isdp_a_join_token_lifetime_that_is_no_lifetime_never_leaves_a_token_without_expiry(
    simulator: SimulatorServer, lifetime: Any
) -> None:
    """expirationTime 1e999, 10^30 or -5 with no tokenEnd: tokens used to be written with no
    expiry (kept and handed out after they died). Now the vendor example's 120 s, counted from
    before the request: errs early."""
    items = [
        {"channelId": c, "token": f"tok-{c}", "expirationTime": lifetime} for c in isdp_sim.DEMO_CHANNEL_IDS
    ]
    answer(simulator, ("POST", isdp.GET_TOKEN_BATCH_PATH), isdp_ok(items))
    requested = datetime.now(UTC).replace(microsecond=0)
    data = isdp_client(simulator).get_token_batch(isdp_sim.DEMO_CHANNEL_IDS, isdp_sim.DEMO_USER_ACCOUNT)
    entries = token_entries(data, isdp_sim.DEMO_CHANNEL_IDS, requested)
    expected = (requested + timedelta(seconds=isdp.JOIN_TOKEN_TTL_SECONDS)).isoformat().replace("+00:00", "Z")
    assert [e["validUntil"] for e in entries] == [expected] * len(items)


@pytest.mark.parametrize("theirs", [["garbage", 17], ["2026-12-01T10:00:00Z", 5], [None, "x"]])
def test_isdp_a_valid_until_in_the_answer_never_replaces_ours(
    simulator: SimulatorServer, theirs: list[Any]
) -> None:
    """A vendor item carrying its own validUntil (garbage text, or numbers among texts) used to
    overwrite ours and crash min() with TypeError; the earliest expiry is ours, comparable."""
    channels = isdp_sim.DEMO_CHANNEL_IDS[:2]
    items = [
        {"channelId": c, "token": f"tok-{c}", "expirationTime": 60 * (i + 1), "validUntil": theirs[i]}
        for i, c in enumerate(channels)
    ]
    answer(simulator, ("POST", isdp.GET_TOKEN_BATCH_PATH), isdp_ok(items))
    requested = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    data = isdp_client(simulator).get_token_batch(channels, isdp_sim.DEMO_USER_ACCOUNT)
    entries = token_entries(data, channels, requested)
    assert [e["validUntil"] for e in entries] == ["2026-12-01T10:01:00Z", "2026-12-01T10:02:00Z"]
    assert min(e["validUntil"] for e in entries) == "2026-12-01T10:01:00Z"


def test_no_builtin_exception_escapes_any_of_these_answers(simulator: SimulatorServer) -> None:
    """The same hostile shapes together: only the provider's own errors."""
    hostile = [
        (("POST", polyv.CHANNEL_LIVE_STATUS_PATH), v3([{"channelId": {"id": 1}, "status": ["live"]}])),
        (("POST", "/"), volc({"AuthList": {"AuthStatus": True}})),
    ]
    calls = [
        lambda: polyv_client(simulator).get_channel_live_status(["1"]),
        lambda: volc_client(simulator).describe_auth("push", vhost=volc_sim.DEMO_VHOST),
    ]
    for (route, body), call in zip(hostile, calls, strict=True):
        answer(simulator, route, body)
        with pytest.raises(LiveApiError):
            call()


@pytest.mark.parametrize("pages", [10**400, "9" * 5000])
def test_polyv_a_page_count_too_large_for_python_is_a_broken_answer(
    simulator: SimulatorServer, pages: Any
) -> None:
    """float(10**400) raises OverflowError and int("9" * 5000) a bare ValueError: both used to
    escape from the check meant to refuse them."""
    answer(simulator, ("GET", polyv.GROUP_PACKAGE_LIST_PATH), page([account("a@x.com")], total_pages=pages))
    with pytest.raises(LiveApiResponseError, match="totalPages"):
        list(polyv_client(simulator).iter_sub_accounts())
