"""Hostile connections and arguments, round three (issue 31): every case is refused before any
request with a LiveApiInputError naming the field and the fix, never retried as a network error,
truncated, signed and sent, or reported as a connection "that isn't defined"."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.hooks.isdp import IsdpHook
from airflow_live_provider.hooks.polyv import PolyvHook
from airflow_live_provider.hooks.volcengine import VolcengineLiveHook
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import isdp as isdp_sim
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.simulator import volcengine as volc_sim
from airflow_live_provider.vendors.isdp import IsdpClient
from airflow_live_provider.vendors.polyv import PolyvClient
from airflow_live_provider.vendors.volcengine import VolcengineLiveClient
from tests.helpers import assert_no_secret_in, assert_refused_before_any_request

Case = Callable[[SimulatorServer, pytest.MonkeyPatch], Any]
HOOKS: dict[str, Any] = {"polyv": PolyvHook, "volcengine_live": VolcengineLiveHook, "isdp": IsdpHook}
DEMO = {
    "polyv": (polyv_sim.DEMO_APP_ID, polyv_sim.DEMO_APP_SECRET),
    "volcengine_live": (volc_sim.DEMO_ACCESS_KEY_ID, volc_sim.DEMO_SECRET_ACCESS_KEY),
    "isdp": (isdp_sim.DEMO_APP_ID, isdp_sim.DEMO_APP_TOKEN),
}
VHOST, APP = volc_sim.DEMO_VHOST, volc_sim.DEMO_APP
CHANNEL = polyv_sim.DEMO_CHANNEL_ID
VOLC = "volcengine_live"


def use(sim: SimulatorServer, mp: pytest.MonkeyPatch, conn_type: str, **fields: Any) -> str:
    """``AIRFLOW_CONN_BAD``: the demo connection of ``conn_type`` with ``fields`` replaced; one
    attempt only, so a case that is (wrongly) sent fails fast instead of retrying."""
    conn: dict[str, Any] = {
        "conn_type": conn_type,
        "host": sim.base_url,
        "login": DEMO[conn_type][0],
        "password": DEMO[conn_type][1],
        "extra": {"max_attempts": 1},
    }
    conn.update(fields)
    mp.setenv("AIRFLOW_CONN_BAD", json.dumps(conn))
    return "bad"


def probe(conn_type: str, **fields: Any) -> Case:
    """The hook's first real call (a token, an auth read, an access token) on that connection."""

    def run(sim: SimulatorServer, mp: pytest.MonkeyPatch) -> Any:
        hook = HOOKS[conn_type](use(sim, mp, conn_type, **fields))
        if conn_type == "polyv":
            return hook.get_watch_api_token(CHANNEL, "viewer-1")
        if conn_type == "volcengine_live":
            return hook.describe_auth("push", vhost=VHOST)
        return hook.get_access_token()

    return run


def demo(conn_type: str, call: Callable[[Any], Any]) -> Case:
    """``call(hook)`` on the simulator's demo connection of ``conn_type``."""

    def run(sim: SimulatorServer, mp: pytest.MonkeyPatch) -> Any:
        return call(HOOKS[conn_type](use(sim, mp, conn_type)))

    return run


def env_value(conn_type: str, text: str) -> Case:
    """``AIRFLOW_CONN_BAD`` set to ``text`` verbatim (what a user typed into a .env file)."""

    def run(sim: SimulatorServer, mp: pytest.MonkeyPatch) -> Any:
        mp.setenv("AIRFLOW_CONN_BAD", text.replace("SIM", sim.base_url))
        return HOOKS[conn_type]("bad").client

    return run


def volc_get(**query: Any) -> Callable[[Any], Any]:
    return lambda hook: hook.call("DescribeLiveStreamInfoByPage", method="GET", query=query)


BIG = "a" * 1_000_000
HUGE = 10**5000
CASES: list[tuple[str, Case, str, str]] = [
    # -- host: a bracketed host must be an IPv6 address ------------------------------------------------
    ("polyv IPvFuture host", probe("polyv", host="[v1.x]"), "API host (host)", "IPv6 address"),
    ("volcengine IPvFuture URL", probe("volcengine_live", host="http://[v1.x]:8080"), "host", "IPv6"),
    ("isdp IPvFuture URL", probe("isdp", host="https://[vff.abc]"), "host", "IPv6 address"),
    # -- port: a whole number 1-65535, never truncated ---------------------------------------------------
    ("polyv port 8080.5", probe("polyv", host="http://127.0.0.1", port=8080.5), "Port (port)", "8080.5"),
    ("volcengine port '1.9'", probe("volcengine_live", host="http://127.0.0.1", port="1.9"), "port", "1.9"),
    ("isdp port true", probe("isdp", host="http://127.0.0.1", port=True), "port", "got a bool"),
    ("polyv port 1e400", env_value("polyv", '{"conn_type": "polyv", "port": 1e400}'), "port", "1-65535"),
    ("isdp port NaN", env_value("isdp", '{"conn_type": "isdp", "port": NaN}'), "port", "1-65535"),
    # -- settings: a length cap and a character rule ------------------------------------------------------
    (
        "volcengine 1,000-character region",
        probe("volcengine_live", extra={"region": "a" * 1000, "max_attempts": 1}),
        "Region (extra.region)",
        "at most 64",
    ),
    (
        "volcengine client built with a 1,000-character region",
        lambda s, m: VolcengineLiveClient(
            s.base_url, volc_sim.DEMO_ACCESS_KEY_ID, volc_sim.DEMO_SECRET_ACCESS_KEY, region="a-" * 500
        ),
        "region",
        "at most 64",
    ),
    (
        "volcengine 1,000-character access key id",
        probe("volcengine_live", login="AK" * 500),
        "Access Key ID (login)",
        "at most 128",
    ),
    ("polyv 1,000-character appId", probe("polyv", login="x" * 1000), "App ID (login)", "at most 128"),
    ("polyv appId with a space", probe("polyv", login="demo0 polyv"), "App ID (login)", "space"),
    (
        "isdp 1,000-character client id",
        probe("isdp", extra={"client_id": "c" * 1000, "max_attempts": 1}),
        "extra.client_id",
        "at most 128",
    ),
    (
        "isdp client built with a 10,000-character token path",
        lambda s, m: IsdpClient(s.base_url, "app", "token", token_path="/" + "p" * 10_000),
        "token_path",
        "at most 255",
    ),
    (
        "isdp client built with a NUL in the token path",
        lambda s, m: IsdpClient(s.base_url, "app", "token", token_path="/oauth2/\x00").get_access_token(),
        "token_path",
        "printable",
    ),
    ("isdp 100,000-character app token", probe("isdp", password="t" * 100_000), "password", "at most 8192"),
    # -- control characters in Volcengine query values ----------------------------------------------------
    ("volcengine CR in a query value", demo(VOLC, volc_get(Stream="s\r")), "query['Stream']", "control"),
    ("volcengine NUL in a query value", demo(VOLC, volc_get(App="a\x00b")), "query['App']", "control"),
    ("volcengine TAB in a query value", demo(VOLC, volc_get(App="a\tb")), "query['App']", "control"),
    (
        "polyv NUL in a query value (the transport)",
        lambda s, m: PolyvClient(s.base_url, polyv_sim.DEMO_APP_ID, polyv_sim.DEMO_APP_SECRET).get(
            "/live/v3/channel/basic/get", {"channelId": "1\x00"}, "x"
        ),
        "query['channelId']",
        "control character",
    ),
    # -- request size caps --------------------------------------------------------------------------------
    ("volcengine 1 MB query value", demo("volcengine_live", volc_get(Stream=BIG)), "query['Stream']", "8192"),
    (
        "volcengine 2 MB body",
        demo("volcengine_live", lambda hook: hook.call("ListDomainDetail", {"Domain": BIG * 2})),
        "body",
        "1 MiB",
    ),
    (
        "polyv 100 KB query string",
        lambda s, m: PolyvClient(s.base_url, polyv_sim.DEMO_APP_ID, polyv_sim.DEMO_APP_SECRET).get(
            "/live/v3/channel/basic/get", {f"k{i}": "v" * 100 for i in range(1000)}, "x"
        ),
        "query",
        "8192",
    ),
    (
        "isdp 2 MB body (no token fetched either)",
        demo("isdp", lambda hook: hook.client.call("/openapi/v1/SaasLive/getTokenBatch", {"x": BIG * 2})),
        "body",
        "1 MiB",
    ),
    # -- IDs that must be positive --------------------------------------------------------------------------
    ("polyv channel id 0", demo("polyv", lambda h: h.get_watch_api_token(0, "v1")), "channel_id", "positive"),
    (
        "polyv channel id '000'",
        demo("polyv", lambda h: h.get_watch_api_token("000", "v1")),
        "channel_id",
        "positive",
    ),
    (
        "polyv live status of channel '0'",
        demo("polyv", lambda h: h.get_channel_live_status(["0"])),
        "channel_ids[0]",
        "positive",
    ),
    (
        "polyv receivers of channel 0",
        demo("polyv", lambda h: h.list_transmit_receivers(0)),
        "channel_id",
        "positive",
    ),
    ("isdp channel id 0", demo("isdp", lambda h: h.get_token_batch([0], "u1")), "channel_ids[0]", "positive"),
    ("isdp channel id -5", demo("isdp", lambda h: h.get_token(-5, "u1")), "channel_id", "positive"),
    ("isdp channel id '-1'", demo("isdp", lambda h: h.get_token("-1", "u1")), "channel_id", "positive"),
    # -- numbers too big to print (str() of an int over 4,300 digits raises ValueError) -----------
    (
        "polyv channel id 10**5000",
        demo("polyv", lambda h: h.get_watch_api_token(HUGE, "v1")),
        "channel_id",
        "digits",
    ),
    (
        "polyv viewer id 10**5000",
        demo("polyv", lambda h: h.get_watch_api_token(CHANNEL, HUGE)),
        "viewer_id",
        "text",
    ),
    ("isdp channel id 10**5000", demo("isdp", lambda h: h.get_token(HUGE, "u1")), "channel_id", "at most 64"),
    ("isdp role -10**5000", demo("isdp", lambda h: h.get_token("10882", "u1", -HUGE)), "role", "40 digits"),
    (
        "volcengine valid_duration 10**5000",
        demo(VOLC, lambda h: h.generate_push_url(VHOST, APP, "s", valid_duration=HUGE)),
        "valid_duration",
        "more than 40 digits",
    ),
    ("volcengine query int 10**5000", demo(VOLC, volc_get(PageNum=HUGE)), "query['PageNum']", "40 digits"),
    (
        "volcengine scene_type 10**5000",
        demo(VOLC, lambda h: h.describe_auth(HUGE, vhost=VHOST)),
        "scene_type",
        "",
    ),
    ("volcengine action 10**5000", demo(VOLC, lambda h: h.call(HUGE)), "action", "not an action name"),
    (
        "isdp call path 10**5000",
        demo("isdp", lambda h: h.client.call(HUGE, {})),
        "path",
        "not an ISDP OpenAPI",
    ),
    (
        "polyv live status of 1.5",
        demo("polyv", lambda h: h.get_channel_live_status(1.5)),
        "channel_ids",
        "list",
    ),
    (
        "polyv read_timeout of 4,000 digits",
        probe("polyv", extra={"read_timeout": 10**4000}),
        "Read timeout (s) (extra.read_timeout)",
        "more than 40 digits",
    ),
    # -- AIRFLOW_CONN_<ID> that Airflow cannot read ---------------------------------------------------
    (
        "polyv JSON with a trailing comma",
        env_value("polyv", '{"conn_type": "polyv", "host": "SIM", "login": "a", "password": "pw0secret0",}'),
        "AIRFLOW_CONN_BAD",
        "not valid JSON (line 1, column",
    ),
    (
        "volcengine JSON with single quotes",
        env_value("volcengine_live", "{'conn_type': 'volcengine_live', 'password': 'pw0secret0'}"),
        "AIRFLOW_CONN_BAD",
        "not valid JSON",
    ),
    (
        "isdp JSON with a misspelt key",
        env_value("isdp", '{"conn_type": "isdp", "hots": "SIM", "password": "pw0secret0"}'),
        "AIRFLOW_CONN_BAD",
        "'hots' is not a connection field; did you mean 'host'?",
    ),
    ("isdp JSON list", env_value("isdp", '[{"conn_type": "isdp"}]'), "AIRFLOW_CONN_BAD", "a JSON object"),
    (
        "volcengine password a number",
        env_value("volcengine_live", '{"conn_type": "volcengine_live", "password": 135792468}'),
        "AIRFLOW_CONN_BAD: password: must be text",
        "got a number",
    ),
    (
        "isdp extra text that is not JSON",
        env_value("isdp", '{"conn_type": "isdp", "extra": "' + "9" * 5000 + '"}'),
        "AIRFLOW_CONN_BAD: extra",
        "give it as a JSON object",
    ),
    (
        "polyv byte-order mark",
        env_value("polyv", '\ufeff{"conn_type": "polyv"}'),
        "AIRFLOW_CONN_BAD",
        "U+FEFF",
    ),
    (
        "polyv URI with a fractional port",
        env_value("polyv", "polyv://demo0polyv:pw0secret0@127.0.0.1:8080.5"),
        "AIRFLOW_CONN_BAD",
        "not a valid connection URI",
    ),
]


@pytest.mark.parametrize(("case", "run", "field", "fix"), CASES, ids=[c[0] for c in CASES])
def test_refused_before_any_request(
    simulator: SimulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    run: Case,
    field: str,
    fix: str,
) -> None:
    message = assert_refused_before_any_request(
        simulator, case, lambda: run(simulator, monkeypatch), field, fix
    )
    assert_no_secret_in(
        message, "pw0secret0", "135792468", polyv_sim.DEMO_APP_SECRET, volc_sim.DEMO_SECRET_ACCESS_KEY
    )


def test_a_bad_connection_variable_fails_test_connection_saying_why(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UI's/CLI's test: the JSON's problem, not "The conn_id `bad` isn't defined"."""
    monkeypatch.setenv("AIRFLOW_CONN_BAD", '{"conn_type": "polyv", "password": "pw0secret0" "login": "a"}')
    ok, message = PolyvHook("bad").test_connection()
    assert not ok
    assert "AIRFLOW_CONN_BAD" in message and "line 1, column" in message
    assert "The conn_id `bad`" not in message
    assert "pw0secret0" not in message


def test_a_connection_that_is_really_missing_is_still_reported_as_missing(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowNotFoundException

    monkeypatch.delenv("AIRFLOW_CONN_NOWHERE", raising=False)
    with pytest.raises(AirflowNotFoundException, match="isn't defined"):
        PolyvHook("nowhere").client  # noqa: B018


@pytest.mark.parametrize("conn_type", ["polyv", "volcengine_live", "isdp"])
def test_a_port_as_digits_with_a_bare_url_host_still_works(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch, conn_type: str
) -> None:
    """The stricter port rule keeps what is valid: the port as a string of digits (a form, a
    rendered template) beside a host URL without one."""
    assert probe(conn_type, host="http://127.0.0.1", port=str(simulator.port))(simulator, monkeypatch)
    assert simulator.requests


def test_the_size_cap_is_on_the_request_line_and_applies_to_any_vendor(simulator: SimulatorServer) -> None:
    """The transport's cap: a 7,000-byte query goes out (the simulator answers 404 for this
    path), an 8,200-byte one is refused before sending, naming the parameter."""
    from airflow_live_provider.transport import HttpRequest, Transport

    transport = Transport("any", simulator.base_url)

    def status(value: str) -> Any:
        return transport.request(
            lambda: HttpRequest("GET", "/nothing", params={"q": value}), lambda r: (r.status_code, None)
        )

    assert status("x" * 7000) == 404 and len(simulator.requests) == 1
    with pytest.raises(LiveApiInputError, match=r"query\['q'\].*8192 bytes"):
        status("x" * 8200)
    assert len(simulator.requests) == 1


@pytest.mark.parametrize("conn_type", ["polyv", "volcengine_live", "isdp"])
def test_the_uri_airflow_writes_for_a_ui_test_is_not_taken_for_a_bad_variable(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch, conn_type: str
) -> None:
    """The UI's Test button puts the connection in ``AIRFLOW_CONN_<ID>`` as Airflow's own URI:
    the variable check must read that form too (host URL and a separate port included)."""
    from airflow.sdk import Connection

    conn = Connection(
        conn_id="uitest",
        conn_type=conn_type,
        host="http://127.0.0.1",
        port=simulator.port,
        login=DEMO[conn_type][0],
        password=DEMO[conn_type][1],
        extra=json.dumps({"max_attempts": 1}),
    )
    monkeypatch.setenv("AIRFLOW_CONN_UITEST", conn.get_uri())
    ok, message = HOOKS[conn_type]("uitest").test_connection()
    assert ok, message


def test_a_hundred_long_e_mails_are_sent_in_calls_under_the_url_cap(sim_connections: SimulatorServer) -> None:
    """Polyv's sub-account filter is a GET: 100 addresses of ~200 characters (one call of 22 KB
    before, past what gateways accept) are split into calls that each fit, none lost."""
    from urllib.parse import quote

    from airflow_live_provider.transport import MAX_URL_BYTES
    from airflow_live_provider.vendors.polyv import GROUP_PACKAGE_LIST_PATH

    first, last = polyv_sim.sub_account_email(0), polyv_sim.sub_account_email(1)
    filler = [f"{'a' * 60}{n}@{'b' * 60}.{'c' * 60}.example.com" for n in range(98)]
    accounts = list(PolyvHook("polyv_group_default").iter_sub_accounts(emails=[first, *filler, last]))
    assert {a["email"] for a in accounts} == {first, last}
    calls = sim_connections.requests_to(GROUP_PACKAGE_LIST_PATH)
    assert len(calls) >= 3
    for call in calls:
        url = (
            GROUP_PACKAGE_LIST_PATH
            + "?"
            + "&".join(f"{k}={quote(v, safe='')}" for k, v in call.query.items())
        )
        assert len(url) <= MAX_URL_BYTES
