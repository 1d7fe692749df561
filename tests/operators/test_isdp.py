"""IsdpTokenBatchOperator against the simulator (execute() called directly, no DB needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.log import _secrets_masker

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.operators.isdp import IsdpTokenBatchOperator
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator.isdp import DEMO_APP_TOKEN, DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT
from tests.helpers import assert_no_secret_in


class _TI:
    map_index = -1


def context(run_id: str = "manual__2026-11-23T10:00:00+00:00") -> dict[str, Any]:
    return {"run_id": run_id, "ti": _TI(), "dag": None}


def logs_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


def masked(value: str) -> bool:
    return value not in _secrets_masker().redact(f"value {value}")


def test_tokens_written_with_expiry_and_only_a_summary_in_xcom(
    sim_connections: SimulatorServer, tmp_path: Path, all_logs: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "tokens.json"
    op = IsdpTokenBatchOperator(
        task_id="join", channel_ids=DEMO_CHANNEL_IDS, user_account=DEMO_USER_ACCOUNT, output_uri=str(out)
    )
    before = datetime.now(UTC)
    xcom = op.execute(context())
    after = datetime.now(UTC)
    doc = json.loads(out.read_text())
    [entry] = doc["tokens"]
    token = entry["token"]
    assert token.startswith("006") and entry["channelIds"] == DEMO_CHANNEL_IDS
    expires = datetime.fromisoformat(entry["validUntil"].replace("Z", "+00:00"))
    # expirationTime (120 s) counted from before the request was sent.
    assert before + timedelta(seconds=119) <= expires <= after + timedelta(seconds=120)
    assert doc["expiresAt"] == entry["validUntil"]
    assert datetime.fromisoformat(entry["validFrom"]) <= expires - timedelta(seconds=119)
    assert (doc["channelIds"], doc["userAccount"], doc["role"]) == (DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT, 1)
    assert entry["tokenBegin"] and entry["tokenEnd"] and entry["publishUrl"]
    assert xcom == {
        "channel_ids": DEMO_CHANNEL_IDS,
        "count": 1,
        "output_uri": f"file://{out}",
        "expires_at": entry["validUntil"],
    }
    assert masked(token), "join tokens must be registered with the masker"
    assert_no_secret_in(json.dumps(xcom) + logs_text(all_logs), token, DEMO_APP_TOKEN)


def test_tokens_in_xcom_on_request(sim_connections: SimulatorServer, tmp_path: Path) -> None:
    op = IsdpTokenBatchOperator(
        task_id="join",
        channel_ids=[DEMO_CHANNEL_IDS[0]],
        user_account=DEMO_USER_ACCOUNT,
        output_uri=f"file://{tmp_path}/t.json",
        tokens_in_xcom=True,
    )
    xcom = op.execute(context())
    written = json.loads((tmp_path / "t.json").read_text())
    assert xcom["tokens"] == written["tokens"] and xcom["tokens"][0]["token"]


def test_list_data_gives_one_entry_per_channel(sim_connections: SimulatorServer, tmp_path: Path) -> None:
    sim_connections.isdp.batch_data_as_list = True
    op = IsdpTokenBatchOperator(
        task_id="join",
        channel_ids=DEMO_CHANNEL_IDS,
        user_account=DEMO_USER_ACCOUNT,
        output_uri=str(tmp_path / "l.json"),
    )
    xcom = op.execute(context())
    doc = json.loads((tmp_path / "l.json").read_text())
    assert xcom["count"] == 2
    assert [e["channelIds"] for e in doc["tokens"]] == [[c] for c in DEMO_CHANNEL_IDS]
    assert all(masked(e["token"]) for e in doc["tokens"])


def test_default_output_uri_under_airflow_home(sim_connections: SimulatorServer) -> None:
    op = IsdpTokenBatchOperator(task_id="join", channel_ids=DEMO_CHANNEL_IDS, user_account=DEMO_USER_ACCOUNT)
    xcom = op.execute(context("scheduled__2026-11-23T10:00:00+00:00"))
    uri = xcom["output_uri"]
    assert "/live_provider/isdp_tokens/" in uri and uri.endswith(
        "/scheduled__2026-11-23T10_00_00_00_00~968d32acd10a/join.json"
    )
    assert json.loads(Path(uri.removeprefix("file://")).read_text())["tokens"][0]["token"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"channel_ids": []}, "channel_ids"),
        ({"channel_ids": ["10882", " "]}, "channel_ids[1]"),
        ({"user_account": ""}, "user_account"),
        ({"role": "one"}, "role"),
        ({"output_uri": "relative/path.json"}, "output_uri"),
    ],
)
def test_bad_input_refused_before_any_request(
    sim_connections: SimulatorServer, tmp_path: Path, kwargs: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {
        "channel_ids": DEMO_CHANNEL_IDS,
        "user_account": DEMO_USER_ACCOUNT,
        "output_uri": str(tmp_path / "x.json"),
        **kwargs,
    }
    op = IsdpTokenBatchOperator(task_id="join", **args)
    with pytest.raises(LiveApiInputError) as info:
        op.execute(context())
    assert info.value.field == field
    assert list(sim_connections.requests) == []
    assert not (tmp_path / "x.json").exists()


def test_templated_fields_render(sim_connections: SimulatorServer, tmp_path: Path) -> None:
    op = IsdpTokenBatchOperator(
        task_id="join",
        channel_ids=["{{ params.channel }}", "10883"],
        user_account="{{ params.user }}",
        role="{{ params.role }}",
        output_uri=f"file://{tmp_path}/{{{{ ds }}}}.json",
    )
    ctx = {
        **context(),
        "params": {"channel": "10882", "user": DEMO_USER_ACCOUNT, "role": 1},
        "ds": "2026-11-23",
    }
    op.render_template_fields(ctx)
    xcom = op.execute(ctx)
    assert xcom["channel_ids"] == DEMO_CHANNEL_IDS
    assert xcom["output_uri"].endswith("/2026-11-23.json")
