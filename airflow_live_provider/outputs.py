"""Output files: where they go, their one timestamp format, and writing them safely.

Every output location a user gives (an operator's ``output_uri``, an ``output_dir``, the
``[live_provider] output_root`` setting) passes one check, :func:`check_output_location`. Before
the first vendor call, :func:`writable_output` proves a location writable end to end (a
probe file is created and removed where the output will go), so nothing is issued only to fail at
the end. Every output is then published whole or not at all, a reader never sees half a file, and
a task killed outright leaves nothing under the final name:

- local files: a private temporary dot-file in the target folder, fsynced, renamed over the target,
  then the folder fsynced so a power loss cannot undo the rename;
- object stores whose upload becomes visible only once complete (S3's PUT and multipart upload,
  GCS): written directly to the final key, once; a failed write is discarded, never published;
- any other store: a temporary dot-key, moved to the final key once complete.

Leftovers of an earlier attempt that was killed (local dot-files, dot-keys, S3 multipart uploads
of the same key) are removed by the next write of the same file.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import IO, Any
from urllib.parse import urlsplit

from airflow.sdk import ObjectStoragePath

from airflow_live_provider.exceptions import LiveApiInputError

log = logging.getLogger(__name__)


def default_output_root() -> str:
    """Where outputs go unless a task is told otherwise: ``[live_provider] output_root`` (env
    ``AIRFLOW__LIVE_PROVIDER__OUTPUT_ROOT``, e.g. ``s3://bucket/live``: what a cluster whose tasks
    run on several hosts needs), else ``$AIRFLOW_HOME/live_provider`` as a file:// URI."""
    from airflow.sdk import conf

    configured = (conf.get("live_provider", "output_root", fallback="") or "").strip().rstrip("/")
    if configured:
        if "://" not in configured:
            configured = os.path.abspath(configured)  # a relative setting is taken from here
        checked = check_output_location(configured, OUTPUT_ROOT_FIELD, folder=True)
        assert checked is not None
        return checked if "://" in checked else f"file://{checked}"
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    return f"file://{os.path.abspath(home)}/live_provider"


#: Executors whose tasks may run on several hosts (a task's files must be on shared storage).
DISTRIBUTED_EXECUTORS = ("CeleryExecutor", "KubernetesExecutor", "EdgeExecutor", "CeleryKubernetesExecutor")


def worker_local_storage(location: str | None, field: str) -> str | None:
    """Why ``location`` (empty: the default root) would be one worker's own disk under this
    cluster's executor, or None when it is shared (an object store) or every task runs on this
    host. The default root under a distributed executor raises: step records kept per worker
    would break "issued once"; an explicit local path may be a shared volume, so it is a warning."""
    from airflow.sdk import conf

    executor = conf.get("core", "executor", fallback="") or ""
    if not any(name in executor for name in DISTRIBUTED_EXECUTORS):
        return None
    configured = (conf.get("live_provider", "output_root", fallback="") or "").strip()
    chosen = (location or "").strip() or configured
    if not chosen:
        raise LiveApiInputError(
            field,
            f"is empty and [live_provider] output_root is not set, so records would go to "
            f"{default_output_root()} on each worker's own disk, while {executor} runs a run's "
            "steps on several hosts (each would issue again). Set output_root (or this field) to "
            "storage every worker reads: s3://<conn id>@bucket/prefix or a shared volume",
        )
    if "://" not in chosen or chosen.startswith("file://"):
        return (
            f"WARNING: {field} {chosen!r} is a local path while {executor} runs tasks on several "
            "hosts: it must be a volume every worker shares, or credentials are issued once per host"
        )
    return None


#: How errors name the setting every default location is under.
OUTPUT_ROOT_FIELD = "[live_provider] output_root"
#: The kernel's virtual file systems: processes, devices, kernel objects. Never storage (as root a
#: write there would even succeed: ``/dev/x`` is a file in memory, gone at the next boot).
VIRTUAL_FOLDERS = ("/proc", "/sys", "/dev")
_TEMPLATE = re.compile(r"\{[{%#]")


def check_output_location(
    value: Any,
    field: str,
    *,
    folder: bool = False,
    optional: bool = False,
    templated: bool = False,
    follow_links: bool = True,
) -> str | None:
    """The one check of an output location (a file or a folder) a user gives, before any vendor
    call or write: every operator's ``output_uri``, an event run's ``output_dir``, the session
    records' and the snapshots' folders, ``[live_provider] output_root``; :func:`output_path` (so
    every probe and write) applies it too. Refused, naming ``field``:

    - a value that is not text (a number, a list: named as such), or empty (unless ``optional``:
      then None or blank is None, "use the default");
    - a control or other non-printable character (refused, never removed);
    - an unrendered Jinja template (``{{ ds }}``, ``{% ... %}``) written literally; ``templated``
      says whether ``field`` is a template field (then the value came from somewhere Airflow does
      not render: a param, a conf, an XCom);
    - a ``?query`` or ``#fragment``: it names no file, and fsspec kept it in the file name;
    - a relative path, a ``file://`` URI naming another host;
    - a local path in ``/proc``, ``/sys`` or ``/dev`` (symbolic links followed, unless not
      ``follow_links``: :func:`output_path`, on every read and write, leaves that to the entry
      points and the probe).

    Returns the location: as given for a file; without surrounding spaces and trailing ``/`` for a
    ``folder``. Whether it can be written is proven by :func:`writable_output`'s probe.
    """
    if optional and (value is None or (isinstance(value, str) and not value.strip())):
        return None
    if value is not None and not isinstance(value, str):
        kind = type(value).__name__
        raise LiveApiInputError(
            field,
            f"{str(value)[:60]!r} is {'an' if kind[0] in 'aeiou' else 'a'} {kind}, not text: give a "
            "path or a file://, s3://... URI",
        )
    if not value or not value.strip():
        raise LiveApiInputError(field, "is empty; give a path or a file://, s3://, gs://... URI")
    bad = next((i for i, ch in enumerate(value) if not ch.isprintable()), None)
    if bad is not None:  # the character and where, not the URI: it may hold a user name
        raise LiveApiInputError(
            field,
            f"contains control characters or other non-printable ones (a line break...; first: "
            f"{value[bad]!r} at position {bad}); they are refused, never removed: give the location "
            "without them",
        )
    location = (value.strip().rstrip("/") or "/") if folder else value
    if template := _TEMPLATE.search(location):
        shown = location[template.start() :]
        shown = repr(shown if len(shown) <= 40 else f"{shown[:40]}...")
        where = (
            f"{field} is a template field, but this value was never rendered: Airflow renders a "
            "template field once, and a template inside a param, a conf or an XCom it takes stays "
            "as written; render the value where it is made, or write the location itself"
            if templated
            else f"{field} is not a template field, so nothing renders it; write the location "
            "itself, or pass the template through a templated field (an operator's output_uri)"
        )
        raise LiveApiInputError(field, f"holds an unrendered Jinja template ({shown}): {where}")
    for mark, what in (("?", "query"), ("#", "fragment")):
        if mark in location:
            raise LiveApiInputError(
                field,
                f"contains {mark!r} (at position {location.index(mark)}), which starts a URI {what}: "
                f"a location names a file or folder, and the {what} would end up in the file name; "
                f"remove it (a folder whose name has a {mark!r}: rename it)",
            )
    if "://" not in location:
        if not location.startswith("/"):
            raise LiveApiInputError(
                field, f"{location[:120]!r} is neither an absolute path nor a URI such as file:///..."
            )
        local: str | None = location
    else:
        uri = _local_uri(location, field)
        scheme, _, rest = uri.partition("://")
        local = rest if scheme.lower() in ("file", "local") else None
    if local is not None:
        _refuse_kernel_folder(local, field, follow_links=follow_links)
    return location


def _kernel_folder(path: str) -> str | None:
    return next((f for f in VIRTUAL_FOLDERS if path == f or path.startswith(f + "/")), None)


def _refuse_kernel_folder(local: str, field: str, *, follow_links: bool = True) -> None:
    """A local path in ``/proc``, ``/sys`` or ``/dev``, as written or (``follow_links``, ~11 us)
    through symbolic links, is refused."""
    given = os.path.normpath(local)
    real = os.path.realpath(local) if follow_links else given
    system = _kernel_folder(given) or _kernel_folder(real)
    if system:
        via = "" if _kernel_folder(given) else f" (through symbolic links: {_shown(real)})"
        raise LiveApiInputError(
            field,
            f"{_shown(local)} is in {system}{via}, the kernel's virtual file system of processes, "
            "devices and kernel objects: not storage, files cannot be kept there; choose a folder "
            "on disk, a shared volume or s3://...",
        )


def task_output(given: Any, default: Callable[[], str], field: str = "output_uri") -> ObjectStoragePath:
    """The file a task writes, proven writable before its first vendor call
    (:func:`writable_output`): ``given``, a template field (None or empty: the task's default,
    ``default()``, under the output root, whose errors then name ``[live_provider] output_root``)."""
    if given is None or given == "":
        return writable_output(default(), OUTPUT_ROOT_FIELD)
    return writable_output(given, field, templated=True)


def path_segment(text: str) -> str:
    """A dag id, run id or task id made safe as one path segment: never ``.``/``..`` nor hidden
    (Airflow accepts a run id of ``..``, which would otherwise climb out of its folder).

    One-to-one: a text that is already safe is kept as it is; any other gets its safe form plus
    a hash of the original, so ``a:b`` and ``a~b`` (both accepted by Airflow) never share a folder.
    """
    safe = re.sub(r"[^A-Za-z0-9_.\-]+", "_", text).strip("_").lstrip(".") or "run"
    if safe == text:
        return safe
    import hashlib

    return f"{safe}~{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


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


def output_path(uri: str, field: str = "output_uri", *, templated: bool = False) -> ObjectStoragePath:
    """Parse a (rendered) output URI strictly, before any vendor call: checked by
    :func:`check_output_location`, and nothing in it is removed or reinterpreted (``urlsplit``
    drops line breaks; ``file://host/x`` would be a relative path)."""
    checked = check_output_location(uri, field, templated=templated, follow_links=False)
    assert checked is not None
    uri = _local_uri(checked if "://" in checked else f"file://{checked}", field)
    try:
        path = ObjectStoragePath(uri)
    except (ImportError, ValueError) as exc:
        scheme = uri.split("://", 1)[0]
        raise LiveApiInputError(
            field, f"the {scheme}:// scheme is not available here ({exc}); use file:// or s3://..."
        ) from None
    return path


def _local_uri(uri: str, field: str) -> str:
    """``file://`` (and fsspec's ``local://``) URIs name this worker's own files: ``file:///path``,
    or ``file://localhost/path`` (RFC 8089), returned as ``file:///path``. Any other host is refused:
    fsspec would take ``file://otherhost/x`` as ``otherhost/x`` under the working directory."""
    scheme, _, rest = uri.partition("://")
    if scheme.lower() not in ("file", "local"):
        return uri
    host, _, tail = rest.partition("/")
    if host.lower() == "localhost":
        return f"{scheme}:///{tail}"
    if host:
        shown = host.rpartition("@")[2][:60]
        raise LiveApiInputError(
            field,
            f"{scheme}://{shown}/... names the host {shown!r}, but only this worker's own files can be "
            f"written: give a local path with three slashes ({scheme}:///{tail[:40]}...) or shared "
            "storage such as s3://...",
        )
    return uri


#: Most file systems refuse longer names (bytes, UTF-8: 85 Chinese characters already exceed it).
MAX_NAME_BYTES = 255
#: Linux's PATH_MAX (4096, with the final NUL): a longer path cannot be opened at all.
MAX_PATH_BYTES = 4095

#: Stores whose upload becomes visible only once complete (S3: a PUT, or a multipart upload when
#: it is completed; GCS: a simple or resumable upload when finalised): outputs go straight to the
#: final key there, and a failed write is discarded (``discard()``: the multipart upload aborted).
ATOMIC_UPLOAD_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs"})


def writable_output(uri: str, field: str = "output_uri", *, templated: bool = False) -> ObjectStoragePath:
    """An output location proven writable end to end before the first vendor call, so nothing is
    issued or created only to fail at the end.

    The URI is parsed strictly (:func:`output_path`) and must name a file readers will see (no
    trailing ``/``, no leading dot). Then a probe is created and removed where the output will
    go: a temporary file in the target folder, made as the write makes its own; where folders
    are still missing, a probe folder in the nearest existing one (nothing is left behind, and no
    folder another task is about to use is removed). So a folder this worker cannot write, a
    symbolic link that leads nowhere or loops, ``/proc``, a read-only mount or a full disk fail
    here. On an object store the probe object proves that the store answers and that the
    connection may write there.
    """
    path = output_path(uri, field, templated=templated)  # an unknown scheme fails here
    _check_file_name(uri, path, field)
    local = _local_file(path)
    if local is None:
        if "memory" in _protocols(path):
            raise LiveApiInputError(
                field,
                "memory:// keeps files in this task's own memory: they are gone when the task ends; "
                "use storage the readers share (a file:// volume, s3://...)",
            )
        _probe_store(path, uri, field)
        return path
    _refuse_kernel_folder(local, field)  # symbolic links followed (output_path did not)
    too_long = [part for part in local.split("/") if len(part.encode()) > MAX_NAME_BYTES]
    if too_long:
        raise LiveApiInputError(
            field, f"has a name of {len(too_long[0].encode())} bytes; file systems allow {MAX_NAME_BYTES}"
        )
    if len(os.fsencode(local)) > MAX_PATH_BYTES:
        raise LiveApiInputError(
            field, f"is {len(os.fsencode(local))} bytes long; paths have at most {MAX_PATH_BYTES}"
        )
    if os.path.isdir(local):
        raise LiveApiInputError(field, f"{_shown(local)} is a folder; give a file name inside it")
    with suppress(OSError):
        mode = os.lstat(local).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):  # the rename would replace a device node
            raise LiveApiInputError(field, f"{_shown(local)} is a device, pipe or socket, not a file")
    folder, _missing = _nearest_existing(os.path.dirname(local))
    if not os.path.isdir(folder):
        raise LiveApiInputError(field, f"{_shown(folder)} is a file where a folder should be")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise LiveApiInputError(field, f"folder {_shown(folder)} is not writable by this worker")
    _probe_local(local, field)
    return path


def _check_file_name(uri: str, path: ObjectStoragePath, field: str) -> None:
    """The location names a file, and one that readers do not skip."""
    if uri.endswith("/"):
        raise LiveApiInputError(
            field, "ends with '/', which names a folder; add the file name (.../sheet.json)"
        )
    name = path.name
    if not name:
        raise LiveApiInputError(field, "names no file; add the file name (.../sheet.json)")
    if name.startswith("."):
        raise LiveApiInputError(
            field,
            f"the file name {name[:60]!r} starts with a dot: readers skip dot-files (they are the "
            "temporaries of unfinished writes); choose a name without the leading dot",
        )


def _shown(text: str) -> str:
    """A path short enough for an error message."""
    return text if len(text) <= 160 else f"{text[:80]}...{text[-60:]}"


_REASONS = {
    errno.ENAMETOOLONG: "the path is too long for the file system",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "this worker may not write there",
    errno.EPERM: "this worker may not write there",
    errno.ENOSPC: "the file system is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.ELOOP: "symbolic links in the path loop",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENOENT: "it does not accept new files (a virtual file system such as /proc?)",
}


def _probe_local(local: str, field: str) -> None:
    """A probe where the write will create its first entry: its temporary file in the target
    folder, or the first missing folder (as a dot-named probe folder) in the nearest existing one."""
    import secrets

    folder, name = os.path.split(local)
    existing, missing = _nearest_existing(folder)
    broken = next((item for item in missing if os.path.islink(item)), None)
    try:
        if broken:
            raise FileNotFoundError(errno.ENOENT, "a symbolic link that leads nowhere", broken)
        if not missing:
            fd, probe = _new_temp(folder, name)
            os.close(fd)
            with suppress(FileNotFoundError):
                os.unlink(probe)
        else:
            first = os.path.basename(missing[0])
            probe = os.path.join(existing, f"{_temp_prefix(first)}{secrets.token_hex(4)}.tmp")
            os.mkdir(probe, 0o700)
            os.rmdir(probe)
    except OSError as exc:
        link = broken or _broken_link(folder)
        if link:
            raise LiveApiInputError(
                field,
                f"{_shown(link)} is a symbolic link that leads nowhere (its target is missing, or links "
                "loop); point it at a folder or choose another location",
            ) from None
        where = folder if not missing else existing
        reason = _REASONS.get(exc.errno or 0, exc.strerror or type(exc).__name__)
        raise LiveApiInputError(
            field, f"cannot create a file in {_shown(where)}: {reason}; choose another location"
        ) from None


def _broken_link(folder: str) -> str | None:
    """The first part of ``folder`` that is a symbolic link leading nowhere, if any."""
    current = "/"
    for part in folder.strip("/").split("/"):
        current = os.path.join(current, part)
        if os.path.islink(current) and not os.path.exists(current):
            return current
        if not os.path.exists(current):
            return None
    return None


def _probe_store(path: ObjectStoragePath, uri: str, field: str) -> None:
    """Object stores: write and remove an empty probe beside the target. Proves that the store
    answers and that the connection's credentials may write there (an unreachable ``ftp://``
    host, a wrong key, a missing bucket, a read-only role), before any vendor call. Stores that
    need folders get them here, as the write would."""
    import secrets

    probe = path.parent / f"{_temp_prefix(path.name)}{secrets.token_hex(6)}.tmp"
    try:
        if not _publishes_whole(path):
            path.parent.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except Exception as exc:  # each filesystem has its own errors
        parts = urlsplit(uri)
        where = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"  # no userinfo
        raise LiveApiInputError(
            field,
            f"cannot reach {_shown(where)} or cannot write there ({type(exc).__name__}: {str(exc)[:200]}); "
            "check the storage and the connection it uses",
        ) from None


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


def _protocols(path: ObjectStoragePath) -> set[str]:
    protocol = path.protocol
    return set(protocol) if isinstance(protocol, tuple | list) else {protocol}


def _local_file(path: ObjectStoragePath) -> str | None:
    """The OS path of a ``file://`` location, None for any other scheme."""
    return str(path.path) if {"file", "local"} & _protocols(path) else None


def _publishes_whole(path: ObjectStoragePath) -> bool:
    """Whether the store shows an upload only once it is complete (see ATOMIC_UPLOAD_PROTOCOLS)."""
    return bool(ATOMIC_UPLOAD_PROTOCOLS & _protocols(path))


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
    try:
        root = _local_file(output_path(default_output_root(), OUTPUT_ROOT_FIELD))
    except LiveApiInputError:  # a bad root fails the tasks that write under it, not this one
        return
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


def _temp_prefix(name: str) -> str:
    """Temporaries (and probes) of ``name`` are ``.{name[:80]}.{random}.tmp``: dot-names, which
    every reader skips, and within the 255-byte name limit."""
    return f".{name[:80]}."


def _is_temp_of(entry: str, prefix: str) -> bool:
    """Whether ``entry`` is a temporary made for the target whose :func:`_temp_prefix` is ``prefix``
    (``tempfile`` adds 8 random characters, the object-store code 12 hex digits)."""
    return (
        entry.startswith(prefix)
        and entry.endswith(".tmp")
        and re.fullmatch(r"[A-Za-z0-9_]{6,16}", entry[len(prefix) : -len(".tmp")]) is not None
    )


#: Attempts at a temporary that another writer's clean-up does not remove first (one is enough
#: unless many writers of one file start at the same instant).
_NEW_TEMP_TRIES = 20


def _new_temp(folder: str, name: str) -> tuple[int, str]:
    """A private (0o600, created exclusively, so a planted symlink is never followed) temporary
    for ``name`` in ``folder``, locked while its writer lives: the lock is how a later write tells
    a temporary being written from the leftover of a killed task (the kernel drops the lock)."""
    import fcntl
    import tempfile  # here, not at the top: DAG files import this module at every parse

    for _ in range(_NEW_TEMP_TRIES):
        fd, temp = tempfile.mkstemp(dir=folder, prefix=_temp_prefix(name), suffix=".tmp")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # a file system without locks: no leftover is ever removed there
            return fd, temp
        # Between mkstemp and flock the file is unlocked: another writer of the same file may
        # have taken it for a killed task's leftover and removed it. Ours only if still there.
        with suppress(FileNotFoundError):
            if os.stat(temp, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                return fd, temp
        os.close(fd)
    raise OSError(
        errno.EAGAIN, f"could not keep a temporary file in {folder} (removed {_NEW_TEMP_TRIES} times)"
    )


def _remove_local_leftovers(folder: str, name: str) -> None:
    """Temporaries of ``name`` in ``folder`` whose writer is gone (killed with SIGKILL, a lost
    host): they hold the same credentials as the file. One still locked is being written: kept."""
    import fcntl

    prefix = _temp_prefix(name)
    try:
        entries = [entry for entry in os.listdir(folder) if _is_temp_of(entry, prefix)]
    except OSError:
        return
    for entry in entries:
        item = os.path.join(folder, entry)
        try:
            fd = os.open(item, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue  # gone already, or a symlink: not ours
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(item)
        except OSError:
            pass  # locked: its writer is alive
        finally:
            os.close(fd)


def _fsync_folder(folder: str) -> None:
    """Make a rename in ``folder`` durable: without it a power loss can bring the old file back."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # a file system that cannot sync folders
            raise
    finally:
        os.close(fd)


@contextmanager
def open_for_write(path: ObjectStoragePath) -> Iterator[IO[str]]:
    """A text file for writing credentials, published only when the block ends without error.

    Local files: written to a private temporary file (0o600, created exclusively, so a planted
    symlink is never followed) in the target folder (0o700 folders created as needed, the
    provider's own folders tightened), flushed to disk, renamed over the target, and the folder
    flushed to disk: readers see the old file or the new one, never half of one, and a killed
    task leaves only a dot-file, which the next write of the same file removes.
    Object stores: see :func:`_upload` (S3, GCS) and :func:`_via_temp_key` (others). Access is
    the bucket's.
    """
    local = _local_file(path)
    if local is None:
        with _upload(path) if _publishes_whole(path) else _via_temp_key(path) as fh:
            yield fh
        _remove_store_leftovers(path)
        return
    with suppress(FileNotFoundError):  # as root, the rename would replace /dev/null itself
        if not stat.S_ISREG(mode := os.lstat(local).st_mode) and not stat.S_ISLNK(mode):
            raise FileExistsError(f"{local} is a device, pipe or socket: not replaced by an output file")
    folder, name = os.path.split(local)
    _make_private_dirs(folder)
    _tighten_own_folders(folder)
    fd, temp_name = _new_temp(folder, name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
            os.replace(temp_name, local)  # while still locked: never taken for a leftover
        _fsync_folder(folder)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp_name)
        raise
    _remove_local_leftovers(folder, name)


@contextmanager
def _upload(path: ObjectStoragePath) -> Iterator[IO[str]]:
    """Straight to the final key: the store shows the object only when the upload completes (one
    PUT for a body under the block size, else a multipart upload completed on close). On an error
    the upload is discarded (a multipart upload aborted) and the file is never closed, because
    closing, or garbage collection, would publish the partial body."""
    raw = path.fs.open(path.path, "wb")  # the connection's filesystem, as ObjectStoragePath.open uses
    fh = io.TextIOWrapper(raw, encoding="utf-8")
    try:
        yield fh
        fh.close()  # the PUT, or the multipart upload's completion
    except BaseException:
        with suppress(Exception):
            fh.detach()  # so the wrapper never closes the raw file later
        with suppress(Exception):
            raw.discard()
        raw.closed = True
        raise
    _abort_earlier_uploads(raw.fs, str(path.path))


def _abort_earlier_uploads(fs: Any, bucket_key: str) -> None:
    """S3 (s3fs): unfinished multipart uploads of this key, left by an attempt killed while it
    uploaded a large body. Their parts hold the same credentials: invisible in listings, but kept
    and billed until aborted. A concurrent writer of the same key loses its upload and fails; the
    object under the final name stays whole either way."""
    list_uploads, abort = getattr(fs, "list_multipart_uploads", None), getattr(fs, "abort_mpu", None)
    if not (callable(list_uploads) and callable(abort)):
        return
    bucket, _, key = bucket_key.partition("/")
    try:
        for upload in list_uploads(bucket):
            if upload.get("Key") == key:
                abort(bucket, key, upload["UploadId"])
    except Exception as exc:
        log.warning("Could not abort unfinished uploads of s3://%s (%s)", bucket_key, type(exc).__name__)


@contextmanager
def _via_temp_key(path: ObjectStoragePath) -> Iterator[IO[str]]:
    """Stores that show an object while it is written (fsspec's ``memory://``, FTP...): a
    temporary dot-key beside the target, moved to the final key once complete; one interrupted by
    an error is deleted, one killed outright is removed by the next write."""
    import secrets

    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f"{_temp_prefix(path.name)}{secrets.token_hex(6)}.tmp"
    try:
        with temp.open("w", encoding="utf-8") as fh:
            yield fh
        temp.rename(path)
    except BaseException:
        with suppress(Exception):
            temp.unlink()
        raise


def _remove_store_leftovers(path: ObjectStoragePath) -> None:
    """Temporary dot-keys and probes that earlier attempts of this file left when killed outright
    (every object-store write made one before 2026-12). A concurrent writer of the same file whose
    temporary goes fails; the object under the final name stays whole either way. Failures are
    logged, not raised: the output itself is written, and no reader takes a dot-key for it."""
    prefix = _temp_prefix(path.name)
    try:
        for child in path.parent.iterdir():
            if _is_temp_of(child.name, prefix):
                child.unlink()
    except Exception as exc:
        log.warning("Could not remove earlier temporaries beside %s (%s)", path, type(exc).__name__)


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
