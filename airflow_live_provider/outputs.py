"""Output files: where they go, their one timestamp format, and writing them safely.

Every output is written atomically: to a temporary dot-name in the same folder, then renamed
into place (local: fsync + ``os.replace``; object stores: moved to the final key once complete),
so a reader never sees half a file and a killed task leaves no partial file under the final name.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import urlsplit

from airflow.sdk import ObjectStoragePath

from airflow_live_provider.exceptions import LiveApiInputError


def utc_iso(moment: datetime | None = None) -> str:
    """The one timestamp format of every output file: UTC ISO-8601 to the second, ``Z``-suffixed
    (``2026-11-23T10:00:00Z``). Truncating to the second makes expiry times err early, never late."""
    return (moment or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    """An ISO-8601 time with an offset or ``Z`` (what :func:`utc_iso` and the calendar write)."""
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return moment


def default_output_root() -> str:
    """Where outputs go unless a task is told otherwise: ``[live_provider] output_root`` (env
    ``AIRFLOW__LIVE_PROVIDER__OUTPUT_ROOT``, e.g. ``s3://bucket/live``: what a cluster whose tasks
    run on several hosts needs), else ``$AIRFLOW_HOME/live_provider`` as a file:// URI."""
    from airflow.sdk import conf

    configured = (conf.get("live_provider", "output_root", fallback="") or "").strip().rstrip("/")
    if configured:
        return configured if "://" in configured else f"file://{os.path.abspath(configured)}"
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    return f"file://{os.path.abspath(home)}/live_provider"


def path_segment(text: str) -> str:
    """A dag id, run id or task id made safe as one path segment: never ``.``/``..`` nor hidden
    (Airflow accepts a run id of ``..``, which would otherwise climb out of its folder)."""
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", text).strip("_").lstrip(".") or "run"


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
    if not isinstance(uri, str):
        raise LiveApiInputError(
            field, f"must be text (a path or a file://, s3://... URI), got {type(uri).__name__}"
        )
    if not uri.strip():
        raise LiveApiInputError(field, "is empty; give a file://, s3://, gs://... URI for the output file")
    if "://" not in uri:
        if not uri.startswith("/"):
            raise LiveApiInputError(
                field, f"{uri!r} is neither an absolute path nor a URI such as file:///..."
            )
        uri = f"file://{uri}"
    try:
        return ObjectStoragePath(uri)
    except (ImportError, ValueError) as exc:
        scheme = uri.split("://", 1)[0]
        raise LiveApiInputError(
            field, f"the {scheme}:// scheme is not available here ({exc}); use file:// or s3://..."
        ) from None


#: Most file systems refuse longer names (bytes, UTF-8: 85 Chinese characters already exceed it).
MAX_NAME_BYTES = 255


def writable_output(uri: str, field: str = "output_uri") -> ObjectStoragePath:
    """An output location checked before the first vendor call, so nothing is issued or created
    only to fail at the end: known scheme; locally, no control characters, names within
    :data:`MAX_NAME_BYTES`, not a folder, under a folder this worker can create or write."""
    path = output_path(uri, field)  # an unknown scheme fails here
    local = _local_file(path)
    if local is None:
        return _reachable(path, uri, field)
    if not local.isprintable():
        raise LiveApiInputError(field, f"{local!r} contains control characters")
    too_long = [part for part in local.split("/") if len(part.encode()) > MAX_NAME_BYTES]
    if too_long:
        raise LiveApiInputError(
            field, f"has a name of {len(too_long[0].encode())} bytes; file systems allow {MAX_NAME_BYTES}"
        )
    if os.path.isdir(local):
        raise LiveApiInputError(field, f"{local} is a folder; give a file name inside it")
    folder, _missing = _nearest_existing(os.path.dirname(local))
    if not os.path.isdir(folder):
        raise LiveApiInputError(field, f"{folder} is a file where a folder should be")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LiveApiInputError(field, f"folder {folder} is not writable by this worker")
    return path


def _reachable(path: ObjectStoragePath, uri: str, field: str) -> ObjectStoragePath:
    """Object stores: one look at the target's folder proves the store answers and the
    connection's credentials work (an unreachable ``ftp://`` host, a wrong key), before any
    vendor call. A folder that does not exist yet is fine: writing creates it."""
    try:
        path.parent.exists()
    except Exception as exc:  # each filesystem has its own errors
        parts = urlsplit(uri)
        where = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"  # no userinfo
        raise LiveApiInputError(
            field,
            f"cannot reach {where} ({type(exc).__name__}: {str(exc)[:200]}); check the storage and "
            "the connection it uses",
        ) from None
    return path


def handed_off(uri: str, field: str = "path") -> ObjectStoragePath:
    """An output an upstream task wrote, as the downstream task finds it, or a clear error.

    Tasks of one DAG run may run on different workers: a local path written on one host does not
    exist on another, which otherwise surfaces as a baffling ``NotADirectoryError``.
    """
    path = output_path(uri, field)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} (written by an upstream task) is not readable on this worker: output_dir must be "
            "storage every worker can read: a shared volume or s3://…"
        )
    return path


def _local_file(path: ObjectStoragePath) -> str | None:
    """The OS path of a ``file://`` location, None for any other scheme."""
    protocol = path.protocol
    protocols = protocol if isinstance(protocol, tuple | list) else (protocol,)
    return str(path.path) if {"file", "local"} & set(protocols) else None


def _nearest_existing(folder: str) -> tuple[str, list[str]]:
    """The closest existing ancestor of ``folder`` (itself included) and the folders below it that
    do not exist yet, outermost first."""
    missing: list[str] = []
    while folder and not os.path.exists(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return folder, list(reversed(missing))


def _make_private_dirs(folder: str) -> None:
    """Create each missing folder with mode 0o700 (``os.makedirs`` applies it to the last only)."""
    for item in _nearest_existing(folder)[1]:
        try:
            os.mkdir(item, 0o700)
        except FileExistsError:
            pass


def _tighten_own_folders(folder: str) -> None:
    """Folders of the provider's own default tree (``[live_provider] output_root`` or
    ``$AIRFLOW_HOME/live_provider``) that this worker owns and that others can read (made by an
    older version, or by hand) become 0o700. Folders a user chose elsewhere are left alone: a
    shared volume may need group access."""
    root = _local_file(output_path(default_output_root(), "output_root"))
    if root is None:
        return
    root = os.path.abspath(root)
    current = os.path.abspath(folder)
    while current == root or current.startswith(root + os.sep):
        with suppress(OSError):
            info = os.lstat(current)
            if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and info.st_mode & 0o077:
                os.chmod(current, 0o700)
        if current == root:
            break
        current = os.path.dirname(current)


@contextmanager
def open_for_write(path: ObjectStoragePath) -> Iterator[IO[str]]:
    """A text file for writing credentials, published only when the block ends without error.

    Local files: written to a private temporary file (0o600, created exclusively, so a planted
    symlink is never followed) in the target folder (0o700 folders created as needed, the
    provider's own folders tightened), flushed to disk, then renamed over the target: readers see
    the old file or the new one, never half of one, and a killed task leaves only a dot-file.
    Object stores: the body goes to a temporary dot-key beside the target, moved to the final key
    only once complete (an upload interrupted by an error is deleted; one killed outright never
    becomes an object under the final key). Readers skip dot-names. Access is the bucket's.
    """
    import secrets
    import tempfile  # here, not at the top: DAG files import this module at every parse

    local = _local_file(path)
    if local is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.parent / f".{path.name[:80]}.{secrets.token_hex(6)}.tmp"
        try:
            with temp.open("w", encoding="utf-8") as fh:
                yield fh
            temp.rename(path)
        except BaseException:
            with suppress(Exception):
                temp.unlink()
            raise
        return
    folder, name = os.path.split(local)
    _make_private_dirs(folder)
    _tighten_own_folders(folder)
    fd, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{name[:80]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp_name, local)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp_name)
        raise


def write_text(path: ObjectStoragePath, text: str) -> str:
    """Write one text document the same way (atomic and private when local)."""
    with open_for_write(path) as fh:
        fh.write(text)
    return str(path)


def write_json(path: ObjectStoragePath, payload: Any) -> str:
    """Write one JSON document (parent folders made); local files are private (see open_for_write)."""
    with open_for_write(path) as fh:
        json.dump(payload, fh, ensure_ascii=False, indent=2, default=str)
        fh.write("\n")
    return str(path)
