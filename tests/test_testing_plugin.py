"""The pytest plugin users get with the package: a user's test file, run by a real pytest."""

from __future__ import annotations

import pytest

USER_TESTS = """
import pytest
from airflow_live_provider.exceptions import LiveApiError
from airflow_live_provider.hooks.polyv import PolyvHook
from airflow_live_provider.simulator.polyv import DEMO_CHANNEL_ID

WATCH = "/live/v3/channel/watch/get-watch-api-token"


def test_my_dag_code_gets_a_real_token(live_connections):
    token = PolyvHook().get_watch_api_token(DEMO_CHANNEL_ID, "viewer-1")
    assert live_connections.polyv.watch_tokens[token]["viewerId"] == "viewer-1"


def test_my_retry_handling(live_connections):
    live_connections.faults.add("503", path=WATCH, times=2)
    assert PolyvHook().get_watch_api_token(DEMO_CHANNEL_ID, "viewer-2")
    assert [r.status for r in live_connections.requests_to(WATCH)] == [503, 503, 200]


def test_my_failure_handling(live_connections):
    with pytest.raises(LiveApiError, match="illegal channel id"):
        PolyvHook().get_watch_api_token("999", "viewer-3")


def test_env_for_subprocesses(live_connection_env, live_simulator):
    assert live_simulator.base_url in live_connection_env["AIRFLOW_CONN_POLYV_DEFAULT"]
    assert set(live_connection_env) >= {"AIRFLOW_CONN_POLYV_DEFAULT", "AIRFLOW_CONN_ISDP_DEFAULT"}
"""


def test_the_plugin_serves_the_simulator_to_a_users_tests(pytester: pytest.Pytester) -> None:
    """Loaded through the ``pytest11`` entry point: the user's file imports nothing of the plugin."""
    pytester.makepyfile(test_user_dag=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
