"""Every bad value is refused clearly, before any request: one table, one row per input.

Each row runs the input through what a user calls (a hook built from an ``AIRFLOW_CONN_*``
connection, an operator's ``execute``, the calendar parser, a vendor client) and asserts: the
exception type, that the message names the field (and the fix, where there is one), and that the
simulator received no request at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pendulum
import pytest

from airflow_live_provider.events.calendar import lead_window, parse_calendar
from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.hooks.isdp import IsdpHook
from airflow_live_provider.hooks.polyv import PolyvHook
from airflow_live_provider.hooks.volcengine import VolcengineLiveHook
from airflow_live_provider.operators.polyv import PolyvCreateTransmitChannelsOperator, PolyvWatchTokenOperator
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import isdp as isdp_sim
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.simulator import volcengine as volc_sim
from tests.helpers import assert_refused_before_any_request

Case = Callable[[SimulatorServer, pytest.MonkeyPatch], Any]


def connection(monkeypatch: pytest.MonkeyPatch, sim: SimulatorServer, conn_type: str, **fields: Any) -> str:
    """An ``AIRFLOW_CONN_BAD`` connection of ``conn_type``: the demo one with ``fields`` replaced."""
    demo = {
        "polyv": (polyv_sim.DEMO_APP_ID, polyv_sim.DEMO_APP_SECRET),
        "volcengine_live": (volc_sim.DEMO_ACCESS_KEY_ID, volc_sim.DEMO_SECRET_ACCESS_KEY),
        "isdp": (isdp_sim.DEMO_APP_ID, isdp_sim.DEMO_APP_TOKEN),
    }[conn_type]
    conn: dict[str, Any] = {
        "conn_type": conn_type,
        "host": sim.base_url,
        "login": demo[0],
        "password": demo[1],
        "extra": {},
    }
    conn.update(fields)
    monkeypatch.setenv("AIRFLOW_CONN_BAD", json.dumps(conn))
    return "bad"


def polyv_call(**fields: Any) -> Case:
    def run(sim: SimulatorServer, mp: pytest.MonkeyPatch) -> Any:
        return PolyvHook(connection(mp, sim, "polyv", **fields)).get_watch_api_token(
            polyv_sim.DEMO_CHANNEL_ID, "viewer-1"
        )

    return run


def volc_call(**fields: Any) -> Case:
    def run(sim: SimulatorServer, mp: pytest.MonkeyPatch) -> Any:
        return VolcengineLiveHook(connection(mp, sim, "volcengine_live", **fields)).describe_auth(
            "push", vhost=volc_sim.DEMO_VHOST
        )

    return run


def isdp_call(**fields: Any) -> Case:
    def run(sim: SimulatorServer, mp: pytest.MonkeyPatch) -> Any:
        return IsdpHook(connection(mp, sim, "isdp", **fields)).get_token_batch(
            isdp_sim.DEMO_CHANNEL_IDS, isdp_sim.DEMO_USER_ACCOUNT
        )

    return run


def calendar(**overrides: Any) -> Case:
    """A one-event calendar with ``overrides`` merged into the event."""

    def run(_sim: SimulatorServer, _mp: pytest.MonkeyPatch) -> Any:
        event = {
            "name": "Launch",
            "start": "2026-12-01T19:30:00+08:00",
            "isdp": {"channel_ids": ["10882"], "user_account": "u1"},
        }
        event.update(overrides)
        return parse_calendar({"events": [event]})

    return run


def demo_hook(kind: str, method: str, *args: Any, **kwargs: Any) -> Case:
    hooks = {"polyv": PolyvHook, "volcengine": VolcengineLiveHook, "isdp": IsdpHook}

    def run(sim: SimulatorServer, mp: pytest.MonkeyPatch) -> Any:
        for name, value in sim.connection_env().items():
            mp.setenv(name, value)
        return getattr(hooks[kind](), method)(*args, **kwargs)

    return run


def in_future(days: int) -> str:
    return pendulum.now("UTC").add(days=days).isoformat()


VHOST, APP = volc_sim.DEMO_VHOST, volc_sim.DEMO_APP
CASES: list[tuple[str, Case, str, str]] = [
    # -- connections: what the UI form saves, what a hand-written AIRFLOW_CONN_ holds -------------
    (
        "isdp form saved unchanged",
        isdp_call(extra={"client_secret": "***", "token_path": "***"}),
        "OAuth client secret",
        "re-enter this value",
    ),
    (
        "isdp masked path",
        isdp_call(extra={"oauth_path": "***"}),
        "OAuth token URL path (extra.oauth_path)",
        "re-enter",
    ),
    ("masked login", polyv_call(login="***"), "App ID (login)", "re-enter this value"),
    ("host with a bad port", polyv_call(host="127.0.0.1:abc"), "API host (host)", "not a valid URL"),
    ("port out of range", polyv_call(host="http://127.0.0.1:99999"), "API host (host)", "not a valid URL"),
    ("broken IPv6 host", polyv_call(host="http://[::1"), "API host (host)", "not a valid URL"),
    ("host with CRLF", polyv_call(host="api.polyv.net\r\nX-Evil: 1"), "API host (host)", "control character"),
    ("host with a space", volc_call(host="live volcengineapi.com"), "API host (host)", "space"),
    ("extra is a JSON list", polyv_call(extra=[1, 2]), "extra", "must be a JSON object"),
    ("extra is a JSON number", isdp_call(extra=5), "extra", "must be a JSON object"),
    (
        "two bad extras at once",
        polyv_call(extra={"read_timeout": 0, "max_attempts": 1.5}),
        "2 problems: Read timeout (s) (extra.read_timeout)",
        "Max attempts (extra.max_attempts)",
    ),
    ("read timeout too long", polyv_call(extra={"read_timeout": 10**6}), "Read timeout (s)", "<= 3600"),
    (
        "dict STS token",
        volc_call(extra={"session_token": {"a": 1}}),
        "STS session token (extra.session_token)",
        "must be text",
    ),
    ("list client secret", isdp_call(extra={"client_secret": ["x"]}), "OAuth client secret", "must be text"),
    ("region with a space", volc_call(extra={"region": "cn north"}), "Region (extra.region)", "cn-north-1"),
    ("empty app secret", polyv_call(password=""), "App Secret (password)", "is empty"),
    # -- the calendar ------------------------------------------------------------------------------
    (
        "misspelt receive_channel_names",
        calendar(polyv={"channel_id": "1", "receive_channel_name": ["a"]}),
        "polyv.receive_channel_name",
        "did you mean 'receive_channel_names'",
    ),
    (
        "misspelt viewers",
        calendar(polyv={"channel_id": "1", "viewer": ["v"]}),
        "polyv.viewer",
        "did you mean 'viewers'",
    ),
    (
        "misspelt role",
        calendar(isdp={"channel_ids": ["1"], "user_account": "u", "rol": 2}),
        "isdp.rol",
        "did you mean 'role'",
    ),
    (
        "misspelt section",
        calendar(volcengin={"vhost": VHOST}),
        "event 'Launch'.volcengin",
        "did you mean 'volcengine'",
    ),
    (
        "offset disagrees with zone",
        calendar(start="2026-12-01T19:30:00+08:00", timezone="Europe/Berlin"),
        "start",
        "has offset +0800 but Europe/Berlin",
    ),
    (
        "event names with one folder",
        lambda s, m: parse_calendar(
            [
                {
                    "name": "!!!",
                    "start": "2026-12-01T10:00:00Z",
                    "isdp": {"channel_ids": ["1"], "user_account": "u"},
                },
                {
                    "name": "???",
                    "start": "2026-12-01T10:00:00Z",
                    "isdp": {"channel_ids": ["1"], "user_account": "u"},
                },
            ]
        ),
        "event '???'.name",
        "make the same folder name",
    ),
    ("lead 1e10 hours", lambda s, m: lead_window(1e10), "lead_hours", "at most 8784"),
    ("lead NaN", lambda s, m: lead_window(float("nan")), "lead_hours", "number of hours"),
    # -- names ----------------------------------------------------------------------------------------
    (
        "stream with a newline",
        demo_hook("volcengine", "generate_push_url", VHOST, APP, "abc\n"),
        "stream",
        "letters",
    ),
    (
        "vhost with a control char",
        demo_hook("volcengine", "describe_auth", "push", vhost="live\x07.example.com"),
        "vhost",
        "control character",
    ),
    ("int vhost", demo_hook("volcengine", "describe_auth", "push", vhost=123), "vhost", "must be text"),
    (
        "10k-character vhost",
        demo_hook("volcengine", "describe_auth", "push", vhost="a" * 10_000),
        "vhost",
        "at most 253",
    ),
    (
        "NUL in a viewer id",
        demo_hook("polyv", "get_watch_api_token", polyv_sim.DEMO_CHANNEL_ID, "v\x00"),
        "viewer_id",
        "control character",
    ),
    (
        "int viewer id",
        demo_hook("polyv", "get_watch_api_token", polyv_sim.DEMO_CHANNEL_ID, 42),
        "viewer_id",
        "must be text",
    ),
    (
        "zero-width space name",
        lambda s, m: PolyvCreateTransmitChannelsOperator(
            task_id="t", channel_id=polyv_sim.DEMO_TRANSMIT_CHANNEL_ID, names=["Hall\u200bA"]
        ).execute({}),
        "names[0]",
        "zero-width",
    ),
    (
        "control-only channel name",
        demo_hook("polyv", "create_transmit_channels", polyv_sim.DEMO_TRANSMIT_CHANNEL_ID, ["\x01\x02"]),
        "names[0]",
        "control character",
    ),
    (
        "e-mail '@'",
        lambda s, m: list(demo_hook("polyv", "iter_sub_accounts", emails=["@"])(s, m)),
        "emails[0]",
        "not an e-mail address",
    ),
    (
        "NUL ISDP channel",
        demo_hook("isdp", "get_token_batch", ["\x00"], "u1"),
        "channel_ids[0]",
        "control character",
    ),
    # -- bounds -----------------------------------------------------------------------------------------
    (
        "valid_duration 1e20",
        demo_hook("volcengine", "generate_push_url", VHOST, APP, "s", valid_duration=10**20),
        "valid_duration",
        "from 1 to 31536000",
    ),
    ("role 1e30", demo_hook("isdp", "get_token_batch", ["10882"], "u1", 10**30), "role", "from 0 to 99"),
    (
        "100k ISDP channels",
        demo_hook("isdp", "get_token_batch", [str(n) for n in range(100_000)], "u1"),
        "channel_ids",
        "at most 100 per request",
    ),
    (
        "expired_time in the past",
        demo_hook(
            "volcengine", "generate_push_url", VHOST, APP, "s", expired_time="2020-01-01T00:00:00+08:00"
        ),
        "expired_time",
        "in the past",
    ),
    (
        "NaN in a body",
        demo_hook("volcengine", "call", "ListDomainDetail", {"PageNum": float("nan")}),
        "body",
        "not valid JSON",
    ),
    (
        "a set as a body value",
        demo_hook("volcengine", "call", "ListDomainDetail", {"Domains": {"a"}}),
        "body",
        "not valid JSON",
    ),
    (
        "ISDP body with NaN",
        lambda s, m: IsdpHook().client.call("/openapi/v1/SaasLive/getTokenBatch", {"role": float("nan")}),
        "body",
        "not valid JSON",
    ),
    (
        "threshold Infinity",
        lambda s, m: (
            __import__("airflow_live_provider.operators.polyv", fromlist=["x"])
            .PolyvSubAccountSnapshotOperator(task_id="t", min_remaining_minutes=float("inf"))
            .execute({})
        ),
        "min_remaining_minutes",
        "from 0 to 1e+09",
    ),
    # -- outputs ------------------------------------------------------------------------------------------
    (
        "int output_uri",
        lambda s, m: PolyvWatchTokenOperator(
            task_id="t", channel_id=polyv_sim.DEMO_CHANNEL_ID, viewer_ids=["v"], output_uri=7
        ).execute({}),
        "output_uri",
        "'7' is an int, not text",
    ),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("case", "run", "field", "fix"), CASES, ids=[c[0] for c in CASES])
def test_refused_before_any_request(
    sim_connections: SimulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    run: Case,
    field: str,
    fix: str,
) -> None:
    assert_refused_before_any_request(
        sim_connections, case, lambda: run(sim_connections, monkeypatch), field, fix
    )


def test_a_host_with_a_password_and_a_bad_port_never_echoes_the_password(
    sim_connections: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user-info check comes before any message that quotes the host."""
    for host in ("http://user:hunter2pw@127.0.0.1:abc", "http://user:hunter2pw@[::1"):
        with pytest.raises(LiveApiInputError, match="must not contain a user name or password") as info:
            polyv_call(host=host)(sim_connections, monkeypatch)
        assert "hunter2pw" not in str(info.value)
    assert list(sim_connections.requests) == []


def test_every_bad_field_of_a_connection_at_once(
    sim_connections: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One pass: host, login and two extras wrong -> one error naming all four by form label."""
    conn_id = connection(
        monkeypatch,
        sim_connections,
        "volcengine_live",
        host="live volcengineapi.com",
        login="",
        extra={"region": "cn north", "max_attempts": 0},
    )
    with pytest.raises(LiveApiInputError) as info:
        VolcengineLiveHook(conn_id).describe_auth("push", vhost=VHOST)
    message = str(info.value)
    assert "connection 'bad': 4 problems" in message
    for label in (
        "API host (host)",
        "Access Key ID (login)",
        "Region (extra.region)",
        "Max attempts (extra.max_attempts)",
    ):
        assert label in message
    assert list(sim_connections.requests) == []


def test_the_old_token_path_extra_still_works(
    sim_connections: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """oauth_path replaced token_path (Airflow hides "token" fields); the old name is still read."""
    conn_id = connection(
        monkeypatch, sim_connections, "isdp", extra={"token_path": "/oauth2/oauth/rest_token"}
    )
    assert IsdpHook(conn_id).get_token_batch(isdp_sim.DEMO_CHANNEL_IDS, isdp_sim.DEMO_USER_ACCOUNT)


def test_a_wrong_token_path_is_named_as_such(
    sim_connections: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 404 from the token URL points at oauth_path, not at the application credentials."""
    from airflow_live_provider.exceptions import LiveApiAuthError

    conn_id = connection(monkeypatch, sim_connections, "isdp", extra={"oauth_path": "/oauth2/wrong"})
    with pytest.raises(LiveApiAuthError, match="oauth_path") as info:
        IsdpHook(conn_id).get_access_token()
    assert "application token" not in str(info.value)


def test_exhausted_retries_say_so(sim_connections: SimulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_live_provider.exceptions import LiveApiError
    from airflow_live_provider.vendors.polyv import WATCH_TOKEN_PATH

    conn_id = connection(
        monkeypatch, sim_connections, "polyv", extra={"max_attempts": 3, "total_retry_seconds": 30}
    )
    sim_connections.faults.add("503", path=WATCH_TOKEN_PATH, times=10)
    with pytest.raises(LiveApiError, match=r"retries exhausted after 3 attempts \(max_attempts=3\)"):
        PolyvHook(conn_id).get_watch_api_token(polyv_sim.DEMO_CHANNEL_ID, "viewer-1")
    assert len(sim_connections.requests_to(WATCH_TOKEN_PATH)) == 3


def test_odd_vendor_data_is_counted_and_named_never_summed(
    sim_connections: SimulatorServer, tmp_path: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    """expireDate "2026/12/01", "永久" or a 20-digit number and NaN/Infinity/"1e400" minutes: the
    snapshot completes, totals stay finite, the warning names account and field, the file is JSON."""
    import math

    from airflow_live_provider.operators.polyv import PolyvSubAccountSnapshotOperator

    polyv = sim_connections.polyv
    polyv.set_sub_account_count(6)
    polyv.set_sub_account_fields(0, expireDate="2026/12/01")
    polyv.set_sub_account_fields(1, expireDate="永久", remainMinutes=float("nan"))
    polyv.set_sub_account_fields(3, expireDate=10**19, remainFlow=float("inf"))
    polyv.set_sub_account_fields(5, remainSpace="1e400")
    out = tmp_path / "s.jsonl"
    xcom = PolyvSubAccountSnapshotOperator(task_id="s", output_uri=str(out)).execute({})
    assert xcom["count"] == 6 and xcom["unusable_values_count"] == 6
    assert all(math.isfinite(v) for v in xcom["totals"].values())
    printed = capfd.readouterr()
    warning = next(line for line in (printed.out + printed.err).splitlines() if "not usable" in line)
    assert "u000000002 expireDate '永久'" in warning and "u000000001 expireDate '2026/12/01'" in warning
    for line in out.read_text().splitlines():
        json.loads(line, parse_constant=lambda name: pytest.fail(f"non-standard JSON {name}"))


# -- round two (issue 25): connections and arguments -----------------------------------------------
from airflow_live_provider.vendors.polyv import PolyvClient  # noqa: E402
from airflow_live_provider.vendors.volcengine import VolcengineLiveClient  # noqa: E402

CHANNEL = polyv_sim.DEMO_CHANNEL_ID
ROUND_TWO: list[tuple[str, Case, str, str]] = [
    # connections: misspelt extras are refused with the closest known name, never ignored
    ("misspelt read_timout", polyv_call(extra={"read_timout": 5}), "extra.read_timout", "'read_timeout'?"),
    ("misspelt regoin", volc_call(extra={"regoin": "cn-north-1"}), "extra.regoin", "did you mean 'region'?"),
    (
        "misspelt signature_methd",
        polyv_call(extra={"signature_methd": "SHA256"}),
        "extra.signature_methd",
        "did you mean 'signature_method'?",
    ),
    ("extra with no near name", isdp_call(extra={"zzz": 1}), "extra.zzz", "known keys: client_id"),
    ("host http:/127.0.0.1", polyv_call(host="http:/127.0.0.1"), "API host (host)", "'/' missing after"),
    ("host a..b", polyv_call(host="a..b"), "API host (host)", "not a bare host name"),
    ("5,000-character host", polyv_call(host="a" * 5000), "API host (host)", "at most 253"),
    ("host ending in ':'", polyv_call(host="http://127.0.0.1:"), "API host (host)", "no port"),
    ("wildcard host", volc_call(host="*.volcengineapi.com"), "API host (host)", "not a bare host name"),
    ("port contradicts the URL", polyv_call(port=1), "Port (port)", "keep one"),
    # arguments: nothing stripped, converted or ignored
    (
        "channel id with a line break",
        demo_hook("polyv", "get_watch_api_token", CHANNEL + "\n", "v1"),
        "channel_id",
        "control character",
    ),
    (
        "channel id with a trailing space",
        demo_hook("polyv", "get_watch_api_token", CHANNEL + " ", "v1"),
        "channel_id",
        "leading or trailing spaces",
    ),
    (
        "full-width channel id",
        demo_hook("polyv", "get_watch_api_token", "３６００", "v1"),
        "channel_id",
        "digits",
    ),
    (
        "list as a channel id",
        demo_hook("polyv", "get_watch_api_token", [CHANNEL], "v1"),
        "channel_id",
        "must be a channel ID as text or a whole number",
    ),
    (
        "ISDP account with a line break",
        demo_hook("isdp", "get_token_batch", ["10882"], "135965565\n"),
        "user_account",
        "control character",
    ),
    (
        "ISDP channel with a space",
        demo_hook("isdp", "get_token_batch", [" 10882"], "u1"),
        "channel_ids[0]",
        "leading or trailing spaces",
    ),
    (
        "full-width role",
        demo_hook("isdp", "get_token_batch", ["10882"], "u1", "１"),
        "role",
        "whole-number role",
    ),
    (
        "full-width page size",
        demo_hook("polyv", "iter_sub_accounts", page_size="１０"),
        "page_size",
        "whole-number",
    ),
    (
        "full-width valid_duration",
        demo_hook("volcengine", "generate_push_url", VHOST, APP, "s", valid_duration="３６００"),
        "valid_duration",
        "whole-number",
    ),
    (
        "valid_duration with a line break",
        demo_hook("volcengine", "generate_push_url", VHOST, APP, "s", valid_duration="3600\n"),
        "valid_duration",
        "got a str",
    ),
    ("e-mail a@@b.com", demo_hook("polyv", "iter_sub_accounts", emails=["a@@b.com"]), "emails[0]", "e-mail"),
    ("e-mail a@b", demo_hook("polyv", "iter_sub_accounts", emails=["a@b"]), "emails[0]", "not an e-mail"),
    ("e-mail .a@b.com", demo_hook("polyv", "iter_sub_accounts", emails=[".a@b.com"]), "emails[0]", "e-mail"),
    (
        "vhost *.example.com",
        demo_hook("volcengine", "describe_auth", "push", vhost="*.example.com"),
        "vhost",
        "not a bare host name",
    ),
    ("vhost x;y", demo_hook("volcengine", "describe_auth", "push", vhost="x;y"), "vhost", "bare host name"),
    (
        "domain with a port",
        demo_hook("volcengine", "describe_auth", "pull", domain="pull.example.com:80"),
        "domain",
        "bare host name",
    ),
    (
        "expired_time year 9999",
        demo_hook(
            "volcengine", "generate_push_url", VHOST, APP, "s", expired_time="9999-12-31T00:00:00+08:00"
        ),
        "expired_time",
        "outside the years 2000-2100",
    ),
    (
        "expired_time basic ISO form",
        demo_hook("volcengine", "generate_push_url", VHOST, APP, "s", expired_time="20991201T000000+0800"),
        "expired_time",
        "not an RFC 3339 time",
    ),
    (
        "expired_time without a T",
        demo_hook(
            "volcengine", "generate_push_url", VHOST, APP, "s", expired_time="2026-12-20 00:00:00+08:00"
        ),
        "expired_time",
        "not an RFC 3339 time",
    ),
    (
        "expired_time a number",
        demo_hook("volcengine", "generate_push_url", VHOST, APP, "s", expired_time=1_900_000_000),
        "expired_time",
        "must be text",
    ),
    ("app a number", demo_hook("volcengine", "generate_push_url", VHOST, 5, "s"), "app", "must be text"),
    (
        "stream missing",
        demo_hook("volcengine", "generate_push_url", VHOST, APP, None),
        "stream",
        "got nothing",
    ),
    (
        "client built with no access key",
        lambda s, m: VolcengineLiveClient(s.base_url, None, volc_sim.DEMO_SECRET_ACCESS_KEY),
        "access_key_id",
        "must be text (the Access Key ID), got nothing",
    ),
    (
        "client built with an int appId",
        lambda s, m: PolyvClient(s.base_url, 5, polyv_sim.DEMO_APP_SECRET),
        "app_id",
        "must be text (the Polyv appId), got a int",
    ),
]


@pytest.mark.parametrize(("case", "run", "field", "fix"), ROUND_TWO, ids=[c[0] for c in ROUND_TWO])
def test_round_two_refused_before_any_request(
    sim_connections: SimulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    run: Case,
    field: str,
    fix: str,
) -> None:
    test_refused_before_any_request(sim_connections, monkeypatch, case, run, field, fix)


def test_the_port_field_is_used_with_a_url_host(
    sim_connections: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """host 'http://127.0.0.1' + port: the port used to be dropped (requests went to port 80)."""
    conn_id = connection(
        monkeypatch, sim_connections, "polyv", host="http://127.0.0.1", port=sim_connections.port
    )
    assert PolyvHook(conn_id).get_watch_api_token(CHANNEL, "viewer-1")


def test_a_channel_id_as_an_int_and_a_future_rfc3339_time_still_work(
    sim_connections: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stricter checks keep what is documented: int channel IDs, RFC 3339 with Z or offset."""
    for name, value in sim_connections.connection_env().items():
        monkeypatch.setenv(name, value)
    assert PolyvHook().get_watch_api_token(int(CHANNEL), "viewer-1")
    expiry = pendulum.now("UTC").add(days=2).format("YYYY-MM-DDTHH:mm:ss") + "Z"
    assert VolcengineLiveHook().generate_push_url(VHOST, APP, "s1", expired_time=expiry)
