"""Helpers the operators share: masking credentials in logs and writing results to storage."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import ObjectStoragePath
from airflow.sdk.log import mask_secret

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.redaction import SECRET_KEYS, secret_values


def mask_all(values: Iterable[str]) -> None:
    """Register every credential value with Airflow's masker (which skips values under 5 chars)."""
    for value in values:
        if value:
            mask_secret(value)


def mask_returned_secrets(payload: Any, keys: Iterable[str] = SECRET_KEYS) -> None:
    """Mask vendor secrets Airflow's key heuristics would miss (``writeToken``, ``SecretKey``...)."""
    mask_all(secret_values(payload, keys))


def utc_iso(moment: datetime | None = None) -> str:
    """The one timestamp format of every output file: UTC ISO-8601 to the second, ``Z``-suffixed
    (``2026-11-23T10:00:00Z``). Truncating to the second makes expiry times err early, never late."""
    return (moment or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def default_output_root() -> str:
    """``$AIRFLOW_HOME/live_provider`` as a file:// URI: where outputs go unless told otherwise."""
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    return f"file://{os.path.abspath(home)}/live_provider"


def path_segment(text: str) -> str:
    """A dag id, run id or task id made safe as one path segment."""
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", text).strip("_") or "run"


def task_output_uri(kind: str, task: Any, context: Mapping[str, Any], suffix: str = ".json") -> str:
    """``{root}/{kind}/{dag_id}/{run_id}/{task_id}[-{map_index}]{suffix}``: one file per task
    instance, so reruns and mapped instances never overwrite each other's credentials."""
    ti = context.get("ti")
    dag_id = getattr(ti, "dag_id", None) or getattr(task, "dag_id", None) or "dag"
    run_id = str(context.get("run_id") or getattr(ti, "run_id", None) or "manual")
    map_index = getattr(ti, "map_index", -1)
    mapped = f"-{map_index}" if isinstance(map_index, int) and map_index >= 0 else ""
    parts = "/".join(path_segment(str(part)) for part in (dag_id, run_id, task.task_id))
    return f"{default_output_root()}/{kind}/{parts}{mapped}{suffix}"


def output_path(uri: str, field: str = "output_uri") -> ObjectStoragePath:
    """Validate a (rendered) output URI before any vendor call is made."""
    if not isinstance(uri, str) or not uri.strip():
        raise LiveApiInputError(field, "is empty; give a file://, s3://, gs://... URI for the output file")
    if "://" not in uri:
        if not uri.startswith("/"):
            raise LiveApiInputError(
                field, f"{uri!r} is neither an absolute path nor a URI such as file:///..."
            )
        uri = f"file://{uri}"
    return ObjectStoragePath(uri)


def write_json(path: ObjectStoragePath, payload: Any) -> str:
    """Write one JSON document atomically enough for a task: parent made, whole file written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        json.dump(payload, fh, ensure_ascii=False, indent=2, default=str)
        fh.write("\n")
    return str(path)
