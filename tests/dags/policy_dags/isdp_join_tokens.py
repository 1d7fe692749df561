"""A user's DAG: ISDP join tokens with the provider's retry policy; a failure is told to live ops
through the notifier's async path (built with the task's context and awaited, as Airflow awaits a
Deadline ``AsyncCallback``)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG

from airflow_live_provider.notifications.live_ops import LiveOpsNotifier
from airflow_live_provider.operators.isdp import IsdpTokenBatchOperator
from airflow_live_provider.retry_policy import LiveRetryPolicy


def tell_live_ops_async(context: Any) -> None:
    notifier = LiveOpsNotifier(http_conn_id="live_ops_webhook", context=context)

    async def send() -> None:
        await notifier

    asyncio.run(send())


with DAG(
    dag_id="isdp_join_tokens",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
):
    IsdpTokenBatchOperator(
        task_id="join_tokens",
        channel_ids=["10882", "10883"],
        user_account="135965565",
        retries=2,
        retry_delay=timedelta(seconds=1),
        retry_policy=LiveRetryPolicy(base_delay=timedelta(seconds=1), max_delay=timedelta(seconds=2)),
        on_failure_callback=tell_live_ops_async,
    )
