"""Polyv client: published signing vectors, then every call against the simulator over HTTP."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from airflow_live_provider.exceptions import (
    LiveApiAuthError,
    LiveApiConnectionError,
    LiveApiError,
    LiveApiInputError,
    LiveApiRateLimitError,
)
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import polyv as sim
from airflow_live_provider.transport import RetryPolicy
from airflow_live_provider.vendors.polyv import (
    CHANNEL_LIVE_STATUS_PATH,
    CHANNEL_SIMPLE_LIST_PATH,
    GROUP_PACKAGE_LIST_PATH,
    TRANSMIT_ASSOCIATIONS_PATH,
    TRANSMIT_BATCH_CREATE_PATH,
    WATCH_TOKEN_PATH,
    PolyvClient,
    PolyvTimestampError,
    clean_params,
    polyv_sign,
)
from tests.helpers import assert_no_secret_in

FAST = RetryPolicy(max_attempts=5, backoff_base=0.01, backoff_max=0.05, total_seconds=20)
T = sim.DEMO_TRANSMIT_CHANNEL_ID

# Polyv's own @polyv/utils test (demo/encrypt.js), quoted in VENDOR-NOTES.
VECTOR_PARAMS = {
    "appId": "g4rqgmmjuo",
    "timestamp": "1660270926732",
    "channelIds": "2477096,2272655",
    "startDay": "2022-05-20",
    "endDay": "2022-06-18",
}
VECTOR_SECRET = "fsq2k5weced1h8vui657xtdva66whf0g"


# -- signing (published vectors) ---------------------------------------------------------------
def test_md5_vector() -> None:
    assert polyv_sign(VECTOR_PARAMS, VECTOR_SECRET) == "0D2BDA2FD04D93A2B8832B91FD973C4D"


def test_sha256_vector_signs_the_signature_method_itself() -> None:
    params = {**VECTOR_PARAMS, "signatureMethod": "SHA256"}
    expected = "C19D35BD44B2BD0A538D420D93F80C17EAD9604042098EA38621A2B5663ECEDF"
    assert polyv_sign(params, VECTOR_SECRET, "SHA256") == expected


def test_sign_ignores_sign_and_blank_values() -> None:
    noisy = {**VECTOR_PARAMS, "sign": "OLD", "nickname": "", "avatar": None, "memo": "   "}
    assert polyv_sign(noisy, VECTOR_SECRET) == "0D2BDA2FD04D93A2B8832B91FD973C4D"
    assert clean_params(noisy).keys() == {*VECTOR_PARAMS, "sign"}


def test_unknown_signature_method_refused() -> None:
    with pytest.raises(LiveApiInputError, match="signature_method"):
        polyv_sign(VECTOR_PARAMS, VECTOR_SECRET, "SHA1")


def test_signed_params_carry_fresh_timestamp_and_sha256_flag() -> None:
    ticks = iter([1_700_000_000_000, 1_700_000_000_500])
    client = PolyvClient(
        "http://127.0.0.1:1", "app", VECTOR_SECRET, signature_method="sha256", now_ms=lambda: next(ticks)
    )
    first, second = client.signed_params({"channelId": 1}), client.signed_params({"channelId": 1})
    assert first["signatureMethod"] == "SHA256" and first["appId"] == "app"
    assert first["timestamp"] != second["timestamp"] and first["sign"] != second["sign"]
    assert first["sign"] == polyv_sign(first, VECTOR_SECRET, "SHA256")


# -- helpers -----------------------------------------------------------------------------------
def client(server: SimulatorServer, **kwargs: Any) -> PolyvClient:
    kwargs.setdefault("retry", FAST)
    return PolyvClient(server.base_url, sim.DEMO_APP_ID, sim.DEMO_APP_SECRET, **kwargs)


def group_client(server: SimulatorServer, **kwargs: Any) -> PolyvClient:
    kwargs.setdefault("retry", FAST)
    return PolyvClient(server.base_url, sim.DEMO_GROUP_APP_ID, sim.DEMO_GROUP_APP_SECRET, **kwargs)


def logs_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


# -- watch token -------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["MD5", "SHA256"])
def test_watch_token_issued_for_the_viewer(simulator: SimulatorServer, method: str) -> None:
    token = client(simulator, signature_method=method).get_watch_api_token(
        sim.DEMO_CHANNEL_ID, "viewer-1", nickname="Ann", avatar=""
    )
    issued = simulator.polyv.watch_tokens[token]
    assert issued["viewerId"] == "viewer-1" and issued["nickname"] == "Ann"
    [logged] = simulator.requests_to(WATCH_TOKEN_PATH)
    assert logged.status == 200


def test_wrong_secret_one_request_and_no_secret_in_error(
    simulator: SimulatorServer, all_logs: pytest.LogCaptureFixture
) -> None:
    wrong = "this-is-the-wrong-app-secret-123"
    bad = PolyvClient(simulator.base_url, sim.DEMO_APP_ID, wrong, retry=FAST)
    with pytest.raises(LiveApiAuthError) as info:
        bad.get_watch_api_token(sim.DEMO_CHANNEL_ID, "viewer-1")
    assert "invalid signature." in str(info.value) and not info.value.retryable
    assert len(simulator.requests_to(WATCH_TOKEN_PATH)) == 1
    assert_no_secret_in(str(info.value) + repr(bad) + logs_text(all_logs), wrong, sim.DEMO_APP_SECRET)


def test_unknown_app_and_group_app_on_channel_call(simulator: SimulatorServer) -> None:
    with pytest.raises(LiveApiAuthError, match="application not found"):
        PolyvClient(simulator.base_url, "nosuchapp", "x" * 32, retry=FAST).get_watch_api_token(
            sim.DEMO_CHANNEL_ID, "v"
        )
    with pytest.raises(LiveApiAuthError, match="access forbidden"):
        next(client(simulator).iter_sub_accounts())  # a normal account on a group endpoint


def test_stale_timestamp_retried_once_with_a_fresh_one(
    simulator: SimulatorServer, all_logs: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def clock() -> int:
        calls.append(1)
        now = int(simulator.now() * 1000)
        return now - 10 * 60 * 1000 if len(calls) == 1 else now  # first attempt 10 minutes late

    token = client(simulator, now_ms=clock).get_watch_api_token(sim.DEMO_CHANNEL_ID, "v1")
    assert token in simulator.polyv.watch_tokens
    assert [r.status for r in simulator.requests_to(WATCH_TOKEN_PATH)] == [400, 200]
    assert "timestamp rejected" in logs_text(all_logs)


def test_skewed_clock_retried_once_only(simulator: SimulatorServer) -> None:
    simulator.clock_skew = 600  # the simulator is 10 minutes ahead: every timestamp looks stale
    with pytest.raises(PolyvTimestampError, match="invalid timestamp"):
        client(simulator).get_watch_api_token(sim.DEMO_CHANNEL_ID, "v1")
    assert len(simulator.requests_to(WATCH_TOKEN_PATH)) == 2
    with pytest.raises(PolyvTimestampError) as info:  # v4: error.code 10003
        next(group_client(simulator).iter_sub_accounts())
    assert info.value.code == 10003 and info.value.http_status == 400
    assert len(simulator.requests_to(GROUP_PACKAGE_LIST_PATH)) == 2


def test_throttled_then_fine(simulator: SimulatorServer) -> None:
    simulator.polyv.throttle(2)
    token = client(simulator).get_watch_api_token(sim.DEMO_CHANNEL_ID, "v1")
    assert token in simulator.polyv.watch_tokens
    assert [r.status for r in simulator.requests_to(WATCH_TOKEN_PATH)] == [400, 400, 200]


def test_throttled_too_long_raises_rate_limit_error(simulator: SimulatorServer) -> None:
    simulator.polyv.throttle(10)
    with pytest.raises(LiveApiRateLimitError, match="qps exceeds"):
        client(
            simulator, retry=RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.02)
        ).get_watch_api_token(sim.DEMO_CHANNEL_ID, "v1")
    assert len(simulator.requests_to(WATCH_TOKEN_PATH)) == 3


@pytest.mark.parametrize("kind", ["429", "503", "reset"])
def test_transport_faults_on_reads_are_retried(simulator: SimulatorServer, kind: str) -> None:
    simulator.faults.add(kind, path=GROUP_PACKAGE_LIST_PATH, times=2)
    assert len(list(group_client(simulator).iter_sub_accounts())) == sim.DEMO_SUB_ACCOUNT_COUNT
    assert len(simulator.requests_to(GROUP_PACKAGE_LIST_PATH)) == 3


def test_non_json_body_is_retryable(simulator: SimulatorServer) -> None:
    from airflow_live_provider.simulator import SimResponse

    original = simulator.routes[("GET", CHANNEL_SIMPLE_LIST_PATH)]
    answers = iter([SimResponse(502, b"<html>bad gateway</html>", {"Content-Type": "text/html"})])
    simulator.routes[("GET", CHANNEL_SIMPLE_LIST_PATH)] = lambda req: next(answers, None) or original(req)
    assert "channel(s)" in client(simulator).probe()
    assert [r.status for r in simulator.requests_to(CHANNEL_SIMPLE_LIST_PATH)] == [502, 200]


# -- sub-accounts ------------------------------------------------------------------------------
def test_250_accounts_in_exactly_three_pages(simulator: SimulatorServer) -> None:
    simulator.polyv.set_sub_account_count(250)
    emails = [a["email"] for a in group_client(simulator).iter_sub_accounts(page_size=100)]
    assert len(emails) == 250 and len(set(emails)) == 250
    pages = simulator.requests_to(GROUP_PACKAGE_LIST_PATH)
    assert [(r.query["pageNumber"], r.query["pageSize"]) for r in pages] == [
        ("1", "100"),
        ("2", "100"),
        ("3", "100"),
    ]


def test_iter_sub_accounts_is_lazy(simulator: SimulatorServer) -> None:
    simulator.polyv.set_sub_account_count(50_000)
    accounts = group_client(simulator).iter_sub_accounts(page_size=100)
    first = [next(accounts) for _ in range(150)]
    assert first[-1]["email"] == sim.sub_account_email(149)
    assert len(simulator.requests_to(GROUP_PACKAGE_LIST_PATH)) == 2  # only what was consumed


def test_more_than_100_emails_split_across_calls(simulator: SimulatorServer) -> None:
    simulator.polyv.set_sub_account_count(300)
    wanted = [sim.sub_account_email(i) for i in range(0, 300, 2)]  # 150 addresses
    got = [a["email"] for a in group_client(simulator).iter_sub_accounts(emails=wanted, page_size=100)]
    assert sorted(got) == sorted(wanted)
    sent = [r.query["emails"].split(",") for r in simulator.requests_to(GROUP_PACKAGE_LIST_PATH)]
    assert [len(chunk) for chunk in sent] == [100, 50]


def test_empty_email_list_sends_nothing(simulator: SimulatorServer) -> None:
    assert list(group_client(simulator).iter_sub_accounts(emails=[])) == []
    assert len(simulator.requests) == 0


# -- transmit receivers ------------------------------------------------------------------------
def test_list_receivers_resolves_names_across_simple_list_pages(simulator: SimulatorServer) -> None:
    for n in range(30):
        simulator.polyv.add_channel(f"filler {n}")
    ids = simulator.polyv.add_receivers(T, ["Hall A", "Hall B"])
    receivers = client(simulator).list_transmit_receivers(T)
    assert receivers == [{"channelId": ids[0], "name": "Hall A"}, {"channelId": ids[1], "name": "Hall B"}]
    simulator.clear_requests()
    # With pages of 10 the names still resolve (pagination, not a lucky first page) and the
    # reading stops as soon as every receiver is named.
    receivers = client(simulator, simple_list_page_size=10).list_transmit_receivers(T)
    assert {r["channelId"]: r["name"] for r in receivers} == {ids[0]: "Hall A", ids[1]: "Hall B"}
    pages = simulator.requests_to(CHANNEL_SIMPLE_LIST_PATH)
    assert [r.query["pageNumber"] for r in pages] == ["1", "2", "3", "4"]  # 37 channels, receivers last


def test_receiver_missing_from_channel_list_has_no_name(simulator: SimulatorServer) -> None:
    [cid] = simulator.polyv.add_receivers(T, ["Gone"])
    del simulator.polyv.channels[cid]
    assert client(simulator).list_transmit_receivers(T) == [{"channelId": cid, "name": None}]


def test_create_is_idempotent(simulator: SimulatorServer) -> None:
    c = client(simulator)
    first = c.create_transmit_channels(T, ["Hall A", "Hall B"])
    assert [r["created"] for r in first] == [True, True]
    second = c.create_transmit_channels(T, ["Hall B", "Hall C", "Hall A"])
    assert [(r["name"], r["created"]) for r in second] == [
        ("Hall B", False),
        ("Hall C", True),
        ("Hall A", False),
    ]
    assert second[0]["channelId"] == first[1]["channelId"] and second[2]["channelId"] == first[0]["channelId"]
    assert sorted(r["name"] for r in simulator.polyv.receivers(T)) == ["Hall A", "Hall B", "Hall C"]
    third = c.create_transmit_channels(T, ["Hall A", "Hall B", "Hall C"])
    assert not any(r["created"] for r in third)
    assert len(simulator.requests_to(TRANSMIT_BATCH_CREATE_PATH)) == 2  # the re-run created nothing


def test_create_result_has_no_channel_password(simulator: SimulatorServer) -> None:
    result = client(simulator).create_transmit_channels(T, ["Hall A"])
    assert set(result[0]) == {"name", "channelId", "created"}
    password = simulator.polyv.receivers(T)[0]["channelPasswd"]
    assert password not in repr(result)


def test_create_in_calls_of_at_most_100(simulator: SimulatorServer) -> None:
    names = [f"Room {n:03d}" for n in range(250)]
    result = client(simulator).create_transmit_channels(T, names)
    assert [r["name"] for r in result] == names and all(r["created"] for r in result)
    assert len({r["channelId"] for r in result}) == 250
    assert len(simulator.requests_to(TRANSMIT_BATCH_CREATE_PATH)) == 3


def test_lost_response_after_commit_creates_nothing_twice(
    simulator: SimulatorServer, all_logs: pytest.LogCaptureFixture
) -> None:
    simulator.faults.add("lost_after_commit", path=TRANSMIT_BATCH_CREATE_PATH)
    result = client(simulator).create_transmit_channels(T, ["Hall A", "Hall B"])
    receivers = simulator.polyv.receivers(T)
    assert sorted(r["name"] for r in receivers) == ["Hall A", "Hall B"]  # exactly once each
    assert [r["created"] for r in result] == [True, True]
    assert {r["channelId"] for r in result} == {str(r["channelId"]) for r in receivers}
    assert [r.status for r in simulator.requests_to(TRANSMIT_BATCH_CREATE_PATH)] == ["lost"]
    assert "re-reading receivers" in logs_text(all_logs)


def test_lost_second_chunk_creates_only_what_is_missing(simulator: SimulatorServer) -> None:
    simulator.polyv.add_receivers(T, ["Room 000"])
    names = [f"Room {n:03d}" for n in range(151)]  # 150 missing: a chunk of 100, then 50
    route = simulator.routes[("POST", TRANSMIT_BATCH_CREATE_PATH)]

    def first_ok_then_arm_loss(req: Any) -> Any:
        response = route(req)
        simulator.faults.add("lost_after_commit", path=TRANSMIT_BATCH_CREATE_PATH)  # the next one
        simulator.routes[("POST", TRANSMIT_BATCH_CREATE_PATH)] = route
        return response

    simulator.routes[("POST", TRANSMIT_BATCH_CREATE_PATH)] = first_ok_then_arm_loss
    result = client(simulator).create_transmit_channels(T, names)
    assert [r["created"] for r in result] == [False] + [True] * 150
    held = [r["name"] for r in simulator.polyv.receivers(T)]
    assert sorted(held) == sorted(names)  # each exactly once
    assert [r.status for r in simulator.requests_to(TRANSMIT_BATCH_CREATE_PATH)] == [200, "lost"]
    assert {r["channelId"] for r in result} == {str(r["channelId"]) for r in simulator.polyv.receivers(T)}


def test_reset_create_is_reconciled_then_created(simulator: SimulatorServer) -> None:
    simulator.faults.add("reset", path=TRANSMIT_BATCH_CREATE_PATH)  # nothing reached the handler
    result = client(simulator).create_transmit_channels(T, ["Hall A"])
    assert result[0]["created"] and [r["name"] for r in simulator.polyv.receivers(T)] == ["Hall A"]
    assert [r.status for r in simulator.requests_to(TRANSMIT_BATCH_CREATE_PATH)] == ["reset", 200]


def test_reconcile_rounds_are_bounded(simulator: SimulatorServer) -> None:
    simulator.faults.add("503", path=TRANSMIT_BATCH_CREATE_PATH, times=10)
    with pytest.raises(LiveApiError) as info:
        client(simulator, max_reconcile_rounds=2).create_transmit_channels(T, ["Hall A"])
    assert info.value.http_status == 503 and info.value.retryable
    assert len(simulator.requests_to(TRANSMIT_BATCH_CREATE_PATH)) == 3  # first try + 2 rounds


def test_500_cap_refused_before_any_create(simulator: SimulatorServer) -> None:
    simulator.polyv.add_receivers(T, [f"old {n}" for n in range(450)])
    with pytest.raises(LiveApiError, match="exceed the limit of 500") as info:
        client(simulator).create_transmit_channels(T, [f"new {n}" for n in range(51)])
    assert "Nothing was created" in str(info.value)
    assert simulator.requests_to(TRANSMIT_BATCH_CREATE_PATH) == []
    assert len(simulator.polyv.receivers(T)) == 450
    # Existing names do not count twice: 450 + 50 new is exactly the limit.
    result = client(simulator).create_transmit_channels(T, ["old 1"] + [f"new {n}" for n in range(50)])
    assert sum(r["created"] for r in result) == 50 and len(simulator.polyv.receivers(T)) == 500


def test_duplicate_receiver_names_resolve_to_the_lowest_id(
    simulator: SimulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Duplicates (made by two hosts at once) are no permanent failure: every caller answers the
    lowest channel id, with a warning naming the extra."""
    ids = simulator.polyv.add_receivers(T, ["Hall A", "Hall A"])
    result = client(simulator).create_transmit_channels(T, ["Hall A", "Hall B"])
    assert result[0] == {"name": "Hall A", "channelId": min(ids, key=int), "created": False}
    assert result[1]["created"] and len(simulator.requests_to(TRANSMIT_BATCH_CREATE_PATH)) == 1
    assert f"extra {max(ids, key=int)}" in logs_text(caplog)
    again = client(simulator).create_transmit_channels(T, ["Hall A", "Hall B"])
    assert again == [dict(r, created=False) for r in result]


def test_concurrent_threads_create_each_name_once(simulator: SimulatorServer) -> None:
    """4 threads x the same 50 names on one transmit channel: 50 receivers, one answer."""
    from concurrent.futures import ThreadPoolExecutor

    simulator.latency = 0.02  # widen the read-then-create window
    names = [f"room {n}" for n in range(50)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: client(simulator).create_transmit_channels(T, names), range(4)))
    assert len(simulator.polyv.receivers(T)) == 50
    answers = [[(r["name"], r["channelId"]) for r in result] for result in results]
    assert all(answer == answers[0] for answer in answers)
    assert sum(r["created"] for result in results for r in result) == 50  # one thread made them


def create_in_another_process(base_url: str, names: list[str], start: Any, out: Any) -> None:
    """A second host: its own process, its own client, no shared lock."""
    c = PolyvClient(base_url, sim.DEMO_APP_ID, sim.DEMO_APP_SECRET)
    start.wait()
    out.put([(r["name"], r["channelId"]) for r in c.create_transmit_channels(T, names)])


def test_concurrent_processes_converge_on_one_channel_per_name(simulator: SimulatorServer) -> None:
    """Two processes race on the same names (the simulator holds each one's first read until
    both have read, so both create): duplicates exist, but both answer the same channel ids, and
    so does every later call, without an error."""
    import multiprocessing
    import threading

    both_read = threading.Barrier(2, timeout=60)
    read = simulator.routes[("GET", TRANSMIT_ASSOCIATIONS_PATH)]
    calls = iter(range(2))

    def read_then_wait(request: Any) -> Any:
        response = read(request)
        if next(calls, None) is not None:  # the first read of each process
            both_read.wait()
        return response

    simulator.routes[("GET", TRANSMIT_ASSOCIATIONS_PATH)] = read_then_wait
    ctx = multiprocessing.get_context("spawn")
    names = [f"stage {n}" for n in range(5)]
    start, out = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=create_in_another_process, args=(simulator.base_url, names, start, out))
        for _ in range(2)
    ]
    for proc in procs:
        proc.start()
    start.set()
    answers = [out.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    assert answers[0] == answers[1]
    assert len(simulator.requests_to(TRANSMIT_BATCH_CREATE_PATH)) == 2  # both created: a real race
    held: dict[str, list[str]] = {}
    for receiver in simulator.polyv.receivers(T):
        held.setdefault(receiver["name"], []).append(str(receiver["channelId"]))
    assert dict(answers[0]) == {name: min(ids, key=int) for name, ids in held.items()}
    later = client(simulator).create_transmit_channels(T, names)
    assert [(r["name"], r["channelId"]) for r in later] == answers[0]
    assert not any(r["created"] for r in later)


def test_vendor_refusal_is_not_retried(simulator: SimulatorServer) -> None:
    with pytest.raises(LiveApiError, match="illegal channel id") as info:
        client(simulator).create_transmit_channels(sim.DEMO_CHANNEL_ID, ["x"])  # not a transmit channel
    assert not info.value.retryable and info.value.http_status == 403
    assert len(simulator.requests_to(TRANSMIT_ASSOCIATIONS_PATH)) == 1
    assert simulator.requests_to(TRANSMIT_BATCH_CREATE_PATH) == []


def test_throttled_create_is_resent(simulator: SimulatorServer) -> None:
    simulator.polyv.throttle(1)  # hits the first read; then one on the create itself
    c = client(simulator)
    simulator.faults.add("429", path=TRANSMIT_BATCH_CREATE_PATH)
    result = c.create_transmit_channels(T, ["Hall A"])
    assert result[0]["created"] and len(simulator.polyv.receivers(T)) == 1
    assert [r.status for r in simulator.requests_to(TRANSMIT_BATCH_CREATE_PATH)] == [429, 200]


# -- bad input: refused before any request ------------------------------------------------------
BAD_INPUTS: list[tuple[str, Callable[[PolyvClient], Any], str]] = [
    ("empty channel", lambda c: c.get_watch_api_token("", "v"), "channel_id"),
    ("non-digit channel", lambda c: c.get_watch_api_token("abc", "v"), "channel_id"),
    ("bool channel", lambda c: c.get_watch_api_token(True, "v"), "channel_id"),  # type: ignore[arg-type]
    ("blank viewer", lambda c: c.get_watch_api_token("1", "  "), "viewer_id"),
    ("long viewer", lambda c: c.get_watch_api_token("1", "v" * 65), "viewer_id"),
    ("page size 0", lambda c: c.iter_sub_accounts(page_size=0), "page_size"),
    ("page size 101", lambda c: c.iter_sub_accounts(page_size=101), "page_size"),
    ("emails as str", lambda c: c.iter_sub_accounts(emails="a@x.com,b@x.com"), "emails"),  # type: ignore[arg-type]
    ("bad email", lambda c: c.iter_sub_accounts(emails=["ok@x.com", "not-an-email"]), "emails[1]"),
    ("names as str", lambda c: c.create_transmit_channels(T, "Hall A"), "names"),  # type: ignore[arg-type]
    ("no names", lambda c: c.create_transmit_channels(T, []), "names"),
    ("blank name", lambda c: c.create_transmit_channels(T, ["Hall A", " "]), "names[1]"),
    ("duplicate name", lambda c: c.create_transmit_channels(T, ["Hall A", "Hall B", "Hall A"]), "names[2]"),
    ("padded name", lambda c: c.create_transmit_channels(T, [" Hall A"]), "names[0]"),
    ("long name", lambda c: c.create_transmit_channels(T, ["x" * 101]), "names[0]"),
    ("501 names", lambda c: c.create_transmit_channels(T, [f"n{i}" for i in range(501)]), "names"),
    ("non-str name", lambda c: c.create_transmit_channels(T, ["a", 7]), "names[1]"),  # type: ignore[list-item]
    ("bad transmit id", lambda c: c.list_transmit_receivers("31513 18"), "channel_id"),
    ("statuses of a str", lambda c: c.get_channel_live_statuses("3151318,3151319"), "channel_ids"),  # type: ignore[arg-type]
    (
        "statuses, bad 31st id",
        lambda c: c.get_channel_live_statuses([str(3_000_000 + n) for n in range(30)] + ["31513 18"]),
        "channel_ids[30]",
    ),
    ("statuses, None id", lambda c: c.get_channel_live_statuses(["3151318", None]), "channel_ids[1]"),  # type: ignore[list-item]
]


@pytest.mark.parametrize(("case", "call", "field"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_refused_before_any_request(
    simulator: SimulatorServer, case: str, call: Callable[[PolyvClient], Any], field: str
) -> None:
    with pytest.raises(LiveApiInputError) as info:
        call(client(simulator))
    assert info.value.field == field, case
    assert len(simulator.requests) == 0


def test_bad_client_settings_refused() -> None:
    with pytest.raises(LiveApiInputError, match="app_secret"):
        PolyvClient("http://127.0.0.1:1", "app", " ")
    with pytest.raises(LiveApiInputError, match="signature_method"):
        PolyvClient("http://127.0.0.1:1", "app", "secret", signature_method="HMAC")


def test_connection_refused_is_a_connection_error() -> None:
    c = PolyvClient(
        "http://127.0.0.1:9", "app", "secret-value", retry=RetryPolicy(max_attempts=2, backoff_base=0.01)
    )
    with pytest.raises(LiveApiConnectionError):
        c.get_transmit_associations(T)


def test_logs_never_hold_query_or_secrets(
    simulator: SimulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    c = client(simulator)
    token = c.get_watch_api_token(sim.DEMO_CHANNEL_ID, "viewer-1")
    accounts = list(group_client(simulator).iter_sub_accounts())
    text = logs_text(caplog)
    assert_no_secret_in(
        text,
        sim.DEMO_APP_SECRET,
        sim.DEMO_GROUP_APP_SECRET,
        token,
        accounts[0]["appSecret"],
        accounts[0]["writeToken"],
    )
    assert "sign=" not in text


def test_normalize_viewers_checks_every_field_before_use() -> None:
    from airflow_live_provider.vendors.polyv import normalize_viewers

    assert normalize_viewers(["v1", {"viewerId": "v2", "nickname": "Ann", "avatar": None}]) == [
        {"viewerId": "v1"},
        {"viewerId": "v2", "nickname": "Ann"},
    ]
    with pytest.raises(LiveApiInputError) as info:
        normalize_viewers(["v1", {"viewerId": "v2", "nickname": 12345}])
    assert info.value.field == "viewer_ids[1].nickname"
    with pytest.raises(LiveApiInputError, match="got a string") as info:
        normalize_viewers("v1,v2")
    assert info.value.field == "viewer_ids"
    assert normalize_viewers(None, "viewers", required=False) == []


def _short_batch_create(simulator: SimulatorServer, *, commit_all: bool) -> None:
    """batch-create answers with one item fewer than asked (all committed, or the last one not)."""
    key = ("POST", TRANSMIT_BATCH_CREATE_PATH)
    original = simulator.routes[key]

    def handler(req: Any) -> Any:
        if not commit_all:
            names = json.loads(req.body)
            req = dataclasses.replace(req, body=json.dumps(names[:-1]).encode())
        response = original(req)
        if commit_all and isinstance(response.body.get("data"), list):
            response.body["data"] = response.body["data"][:-1]
        return response

    simulator.routes[key] = handler


def test_short_batch_create_reply_is_reconciled(simulator: SimulatorServer) -> None:
    _short_batch_create(simulator, commit_all=True)
    result = client(simulator).create_transmit_channels(sim.DEMO_TRANSMIT_CHANNEL_ID, ["a", "b", "c"])
    receivers = {
        r["name"]: str(r["channelId"]) for r in simulator.polyv.receivers(sim.DEMO_TRANSMIT_CHANNEL_ID)
    }
    assert [(r["name"], r["channelId"], r["created"]) for r in result] == [
        (name, receivers[name], True) for name in ("a", "b", "c")
    ]


def test_short_batch_create_with_a_missing_channel_raises(simulator: SimulatorServer) -> None:
    _short_batch_create(simulator, commit_all=False)
    with pytest.raises(LiveApiError, match="returned no channel for 1 name") as info:
        client(simulator).create_transmit_channels(sim.DEMO_TRANSMIT_CHANNEL_ID, ["a", "b", "c"])
    assert "'c'" in str(info.value) and not isinstance(info.value, LiveApiInputError)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.create_transmit_channels(sim.DEMO_TRANSMIT_CHANNEL_ID, "a,b"), "names"),
        (lambda c: c.iter_sub_accounts(emails="a@example.com"), "emails"),
    ],
)
def test_a_string_for_a_list_says_how_to_fix_it(
    simulator: SimulatorServer, call: Callable[[Any], Any], field: str
) -> None:
    with pytest.raises(LiveApiInputError, match="render_template_as_native_obj=True") as info:
        call(client(simulator))
    assert info.value.field == field and "got a string" in str(info.value)
    assert list(simulator.requests) == []


def test_a_gateway_echoing_the_signed_request_leaks_no_sign(simulator: SimulatorServer) -> None:
    """A sign with its timestamp can be replayed for 3 minutes: it never reaches the exception."""
    from airflow_live_provider.simulator import SimResponse
    from airflow_live_provider.vendors.polyv import WATCH_TOKEN_PATH

    received: dict[str, str] = {}

    def echo(req: Any) -> SimResponse:
        received.update(req.form)
        return SimResponse(403, {"code": 403, "status": "error", "message": f"access forbidden: {req.form}"})

    simulator.routes[("POST", WATCH_TOKEN_PATH)] = echo
    with pytest.raises(LiveApiError) as info:
        client(simulator).get_watch_api_token(sim.DEMO_CHANNEL_ID, "viewer-1")
    assert received["sign"] and "access forbidden" in str(info.value)
    assert_no_secret_in(str(info.value), received["sign"])
    assert "'sign': '***REDACTED***'" in str(info.value)


def test_channel_live_status_takes_at_most_20_channels(simulator: SimulatorServer) -> None:
    """The documented limit of the batch live-status call: 21 are refused before any request."""
    ids = [str(3_100_000 + i) for i in range(21)]
    with pytest.raises(LiveApiInputError, match="at most 20"):
        client(simulator).get_channel_live_status(ids)
    with pytest.raises(LiveApiInputError, match="channel_ids"):
        client(simulator).get_channel_live_status("3151318")  # a string, not a list
    assert list(simulator.requests) == []
    simulator.polyv.go_live(sim.DEMO_CHANNEL_ID)
    statuses = client(simulator).get_channel_live_status([sim.DEMO_CHANNEL_ID, sim.DEMO_TRANSMIT_CHANNEL_ID])
    assert statuses == {sim.DEMO_CHANNEL_ID: "live", sim.DEMO_TRANSMIT_CHANNEL_ID: "end"}


# -- batch live status: any number of channels, 20 per call ------------------------------------
def test_live_statuses_of_45_channels_in_three_calls(simulator: SimulatorServer) -> None:
    ids = [simulator.polyv.add_channel(f"Hall {n}") for n in range(45)]
    for channel_id in ids[::3]:
        simulator.polyv.go_live(channel_id)
    simulator.polyv.end_live(ids[3])
    statuses = client(simulator).get_channel_live_statuses(ids + ids[:7])  # duplicates asked once
    assert list(statuses) == ids
    assert {c for c, s in statuses.items() if s == "live"} == set(ids[::3]) - {ids[3]}
    assert set(statuses.values()) == {"live", "end"}
    calls = simulator.requests_to(CHANNEL_LIVE_STATUS_PATH, "POST")
    assert [r.status for r in calls] == [200, 200, 200]
    sizes = [len(ids) for ids in simulator.polyv.live_status_calls]
    assert sizes == [20, 20, 5]


def test_live_statuses_of_no_channel_send_nothing(simulator: SimulatorServer) -> None:
    assert client(simulator).get_channel_live_statuses([]) == {}
    assert len(simulator.requests) == 0


def test_live_statuses_throttled_call_is_resent(simulator: SimulatorServer) -> None:
    simulator.polyv.throttle(1)
    ids = [simulator.polyv.add_channel(f"Hall {n}") for n in range(21)]
    simulator.polyv.go_live(ids[20])
    statuses = client(simulator).get_channel_live_statuses(ids)
    assert statuses[ids[20]] == "live" and len(statuses) == 21
    assert len(simulator.requests_to(CHANNEL_LIVE_STATUS_PATH, "POST")) == 3


def test_live_statuses_error_carries_no_secret(simulator: SimulatorServer) -> None:
    wrong = "wrong-app-secret-for-live-status-01"
    bad = PolyvClient(simulator.base_url, sim.DEMO_APP_ID, wrong, retry=FAST)
    with pytest.raises(LiveApiAuthError) as info:
        bad.get_channel_live_statuses([sim.DEMO_CHANNEL_ID])
    assert_no_secret_in(str(info.value) + repr(info.value), wrong, sim.DEMO_APP_SECRET)


def test_hook_get_channel_live_statuses(sim_connections: SimulatorServer) -> None:
    from airflow_live_provider.hooks.polyv import PolyvHook

    sim_connections.polyv.go_live(sim.DEMO_CHANNEL_ID)
    assert PolyvHook().get_channel_live_statuses([sim.DEMO_CHANNEL_ID]) == {sim.DEMO_CHANNEL_ID: "live"}
