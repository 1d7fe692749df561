"""Returned credentials are masked in one batch (linear), and never sent value by value."""

from __future__ import annotations

import re
import secrets
import types
from typing import Any

import pytest
from airflow.sdk._shared.secrets_masker import _secrets_masker

from airflow_live_provider import redaction


def test_two_thousand_values_masked_with_one_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    compiles: list[int] = []

    def counting_compile(pattern: str, *args: Any) -> re.Pattern[str]:
        compiles.append(pattern.count("|") + 1)
        return re.compile(pattern, *args)

    monkeypatch.setattr(redaction, "re", types.SimpleNamespace(escape=re.escape, compile=counting_compile))
    values = [secrets.token_urlsafe(24) for _ in range(2000)]
    redaction.mask_all(values + values[:10])  # repeats cost nothing
    assert len(compiles) == 1 and compiles[0] >= 2000
    masker = _secrets_masker()
    line = f"token {values[0]} and {values[-1]} and {values[1000]}"
    assert not any(v in masker.redact(line) for v in values)
    redaction.mask_all(values[:50])  # already known: no new compile
    assert len(compiles) == 1


def test_the_supervisor_is_not_sent_values_one_message_per_batch_or_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Airflow 3.3.2's supervisor registers a MaskSecret batch value by value (quadratic); the
    provider keeps returned credentials off stdout/stderr by construction and masks them in the
    task process only."""
    from airflow.sdk.execution_time import task_runner

    sent: list[Any] = []
    monkeypatch.setattr(
        task_runner, "SUPERVISOR_COMMS", types.SimpleNamespace(send=sent.append), raising=False
    )
    redaction.mask_all([secrets.token_urlsafe(24) for _ in range(300)])
    assert sent == []
