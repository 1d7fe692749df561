"""A user's DAG: wait (deferred, in the triggerer) for a Volcengine stream to go live."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from airflow_live_provider.sensors.volcengine import VolcengineStreamLiveSensor

with DAG(
    dag_id="stream_live_check",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"stream": Param("launch", type="string"), "timeout": Param(60, type="integer")},
):
    VolcengineStreamLiveSensor(
        task_id="wait_for_live",
        vhost="live.demo.example.com",
        app="live",
        stream="{{ params.stream }}",
        deferrable=True,
        poke_interval=5,
        timeout=20,
    )
