"""Assertions shared by the tests."""

from __future__ import annotations

from typing import Any


def assert_no_secret_in(text: str, *secrets: str) -> None:
    """Fail naming which secret leaked (by position, never by value)."""
    for index, secret in enumerate(secrets):
        assert secret, f"secret #{index} is empty: the test would prove nothing"
        assert secret not in text, f"secret #{index} leaked"


async def first_event(trigger: Any) -> Any:
    """The first event a trigger yields (as the triggerer takes it)."""
    async for event in trigger.run():
        return event
    raise AssertionError("the trigger ended without an event")


def drive(op: Any, context: dict[str, Any] | None = None) -> tuple[Any, list[str]]:
    """Run an operator as Airflow would: execute; on every deferral rebuild the trigger from its
    serialized form (as the triggerer does), run it to its first event and resume the task.
    Returns the task's result and the names of the triggers it waited on."""
    import asyncio

    from airflow.sdk.exceptions import TaskDeferred
    from airflow.sdk.module_loading import import_string

    context = {} if context is None else context
    used: list[str] = []
    step, kwargs = op.execute, {}
    while True:
        try:
            return step(context, **kwargs), used
        except TaskDeferred as deferred:
            classpath, trigger_kwargs = deferred.trigger.serialize()
            used.append(classpath.rsplit(".", 1)[1])
            trigger = import_string(classpath)(**trigger_kwargs)
            event = asyncio.run(first_event(trigger))
            step, kwargs = getattr(op, deferred.method_name), {"event": event.payload}
