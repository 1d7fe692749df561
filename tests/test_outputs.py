"""Output helpers: one timestamp format, private and atomic local files (folder synced, leftovers
of killed writes removed), object stores written once to the final key, the permission check run
as an unprivileged user even under root, clear hand-off errors."""

from __future__ import annotations

import io
import json
import os
import pwd
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.outputs import (
    handed_off,
    open_for_write,
    output_path,
    path_segment,
    writable_output,
    write_json,
    write_text,
)
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.times import utc_iso

# The S3-like test store below has no universal_pathlib class of its own: the generic one serves.
pytestmark = pytest.mark.filterwarnings("ignore:UPath 'uploadstore' filesystem not explicitly:UserWarning")


def test_utc_iso_is_utc_to_the_second_with_z() -> None:
    beijing = timezone(timedelta(hours=8))
    assert utc_iso(datetime(2026, 11, 23, 18, 0, 5, 999_999, tzinfo=beijing)) == "2026-11-23T10:00:05Z"
    now = datetime.fromisoformat(utc_iso().replace("Z", "+00:00"))
    assert now.tzinfo is not None and abs(datetime.now(UTC) - now) < timedelta(minutes=1)


def test_local_outputs_are_private(tmp_path: Path) -> None:
    """Credential files: 0o600 in 0o700 folders, even when the umask would allow more."""
    old = os.umask(0o002)
    try:
        target = tmp_path / "new" / "deeper" / "sheet.json"
        write_json(output_path(f"file://{target}"), {"token": "t"})
        existing = tmp_path / "old.json"
        existing.write_text("{}")
        existing.chmod(0o644)
        write_json(output_path(str(existing)), {"token": "t"})
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new" / "deeper").stat().st_mode) == 0o700
    assert json.loads(target.read_text()) == {"token": "t"}


def test_snapshot_file_is_private(sim_connections: SimulatorServer, tmp_path: Path) -> None:
    from airflow_live_provider.operators.polyv import PolyvSubAccountSnapshotOperator

    sim_connections.polyv.set_sub_account_count(3)
    target = tmp_path / "snaps" / "s.jsonl"
    op = PolyvSubAccountSnapshotOperator(task_id="s", output_uri=str(target), include_secrets=True)
    op.execute({"ts_nodash": "20261123T100000"})
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700


def test_a_failed_write_leaves_the_old_file_and_no_partial_one(tmp_path: Path) -> None:
    target = tmp_path / "latest.json"
    write_json(output_path(str(target)), {"v": 1})
    with pytest.raises(RuntimeError), open_for_write(output_path(str(target))) as fh:
        fh.write('{"v": 2, "half')
        raise RuntimeError("killed half-way")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["latest.json"]  # no temporary file left


def test_a_planted_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sheet.json").symlink_to(victim)
    write_json(output_path(str(tmp_path / "out" / "sheet.json")), {"token": "t"})
    assert victim.read_text() == "keep me"
    assert not (tmp_path / "out" / "sheet.json").is_symlink()


def test_an_output_missing_on_this_worker_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"output_dir must be storage every worker can read"):
        handed_off(f"file://{tmp_path}/snapshots/polyv_subaccounts_20261130T000000.jsonl")
    present = tmp_path / "here.jsonl"
    present.write_text("{}\n")
    assert handed_off(str(present)).name == "here.jsonl"


def test_a_run_id_never_climbs_out_of_its_folder() -> None:
    """Airflow accepts a run id of '..'; as a path segment it must stay inside the folder."""
    for text in ("..", ".", "../../etc", ".hidden", "a/b", "run/../.."):
        segment = path_segment(text)
        assert "/" not in segment and not segment.startswith("."), (text, segment)
    assert path_segment("..").startswith("run~") and path_segment("manual__2026") == "manual__2026"


def test_two_run_ids_never_share_a_folder() -> None:
    """Airflow accepts ':', '~', '+' in run ids: their safe forms must stay apart (they were all 'a_b')."""
    texts = ["a:b", "a~b", "a+b", "a_b", "a__b", "_a_b", "a_b_", "a/b", "a b"]
    segments = [path_segment(text) for text in texts]
    assert len(set(segments)) == len(texts), segments
    assert path_segment("a_b") == "a_b"  # an already safe id keeps its folder (existing run sheets)


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        (lambda tmp: str(tmp), "is a folder"),
        (lambda tmp: f"{tmp}/a\x00b.json", "control characters"),
        (lambda tmp: f"{tmp}/{'发' * 90}.json", "file systems allow 255"),
        (lambda tmp: f"{tmp}/plain-file/sheet.json", "is a file where a folder should be"),
        (lambda tmp: "nosuchscheme://bucket/sheet.json", "scheme is not available"),
    ],
)
def test_bad_output_locations_are_refused_up_front(tmp_path: Path, where: Any, problem: str) -> None:
    (tmp_path / "plain-file").write_text("x")
    with pytest.raises(LiveApiInputError, match="output_uri") as info:
        writable_output(where(tmp_path))
    assert problem in str(info.value)


def as_unprivileged(action: Callable[[], str]) -> str:
    """``action()`` as a user who cannot write everywhere: here when this process is not root;
    as root (CI) in a forked child that drops to ``nobody`` (no exec: the interpreter lives
    under /root, which nobody may not enter). Returns what ``action`` returned or raised."""
    if os.geteuid() != 0:
        return action()
    nobody = pwd.getpwnam("nobody")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: reports through the pipe, never returns into pytest
        status, answer = 1, "no answer"
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            answer, status = action(), 0
        except BaseException as exc:
            answer = f"{type(exc).__name__}: {exc}"
        finally:
            os.write(write_end, answer.encode()[:60_000])
            os._exit(status)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 60)  # generous: the child hangs only on a bug
        answer = os.read(read_end, 65_536).decode() if ready else "no answer within 60 s"
    finally:
        os.close(read_end)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return answer


def test_a_folder_this_worker_cannot_write_is_refused_up_front() -> None:
    """Runs as an unprivileged user even when the suite runs as root (CI does): root writes
    anywhere, so the check would otherwise never be exercised. The same location becomes
    acceptable once the folder belongs to that user: the refusal is about the permission."""
    base = Path(tempfile.mkdtemp(prefix="live-provider-perm-", dir="/tmp"))  # reachable by nobody
    try:
        base.chmod(0o755)
        locked = base / "locked"
        locked.mkdir(mode=0o555)
        locked.chmod(0o555)  # root's, read-only for everyone else; 0o555 even for its owner

        def attempt() -> str:
            try:
                writable_output(f"{locked}/sheets/sheet.json")
            except LiveApiInputError as exc:
                return str(exc)
            return "accepted"

        answer = as_unprivileged(attempt)
        assert "output_uri: folder" in answer and "is not writable by this worker" in answer, answer
        if os.geteuid() == 0:
            os.chown(locked, pwd.getpwnam("nobody").pw_uid, -1)
            locked.chmod(0o755)
            assert as_unprivileged(attempt) == "accepted"
            assert os.listdir(locked) == []  # the probe left nothing, not even the folder
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_good_output_location_passes_and_nothing_is_left(tmp_path: Path) -> None:
    """The pre-flight probes and cleans up: folders appear only when the output is written (a
    run that fails validation later leaves no trace), and no probe stays behind."""
    assert writable_output(f"file://{tmp_path}/new/deeper/sheet.json").name == "sheet.json"
    assert os.listdir(tmp_path) == []
    (tmp_path / "new").mkdir()
    assert writable_output(f"file://{tmp_path}/new/sheet.json").name == "sheet.json"
    assert os.listdir(tmp_path / "new") == []


def test_output_root_from_airflow_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``[live_provider] output_root`` moves every default location (a cluster sets it to a bucket)."""
    from airflow_live_provider.assets import snapshot_folder
    from airflow_live_provider.outputs import default_output_root

    monkeypatch.setenv("AIRFLOW__LIVE_PROVIDER__OUTPUT_ROOT", "s3://aws_default@bucket/live/")
    assert default_output_root() == "s3://aws_default@bucket/live"
    assert snapshot_folder() == "s3://aws_default@bucket/live/snapshots"
    monkeypatch.setenv("AIRFLOW__LIVE_PROVIDER__OUTPUT_ROOT", str(tmp_path))
    assert default_output_root() == f"file://{tmp_path}"
    monkeypatch.delenv("AIRFLOW__LIVE_PROVIDER__OUTPUT_ROOT")
    assert default_output_root().endswith("/live_provider")


def test_object_store_write_publishes_only_a_complete_body() -> None:
    """On a store that shows objects while they are written (fsspec's in-memory one): a write that
    fails half-way leaves no object under the final name, nor a temporary; a complete write leaves
    just the final object, and removes the temporary a killed attempt left."""
    import fsspec
    from airflow.sdk.io import attach

    from airflow_live_provider.outputs import open_for_write, output_path, write_text

    attach(protocol="memory", fs=fsspec.filesystem("memory"))  # what the amazon provider does for s3
    target = output_path("memory://live-provider-test/atomic/sheet.json")
    leftover = target.parent / ".sheet.json.0123456789ab.tmp"  # a killed attempt's temporary
    leftover.write_text("old credentials")
    write_text(target, "previous\n")
    assert not leftover.exists()
    with pytest.raises(RuntimeError), open_for_write(target) as fh:
        fh.write("half of a ")
        raise RuntimeError("killed half-way")
    assert target.read_text() == "previous\n"
    assert [p.name for p in target.parent.iterdir()] == ["sheet.json"]
    write_text(target, "complete\n")
    assert target.read_text() == "complete\n"
    assert [p.name for p in target.parent.iterdir()] == ["sheet.json"]


def test_loose_folders_of_the_providers_own_tree_are_tightened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An existing 0o755 folder under the provider's root becomes 0o700 when written to; a folder
    the user chose elsewhere keeps its mode."""
    from airflow_live_provider.outputs import output_path, write_text

    root = tmp_path / "root"
    monkeypatch.setenv("AIRFLOW__LIVE_PROVIDER__OUTPUT_ROOT", str(root))
    (root / "run_sheets" / "event").mkdir(parents=True)
    for folder in (root, root / "run_sheets", root / "run_sheets" / "event"):
        folder.chmod(0o755)
    write_text(output_path(f"{root}/run_sheets/event/latest.html"), "<p>e-mails</p>")
    for folder in (root, root / "run_sheets", root / "run_sheets" / "event"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    shared.chmod(0o750)
    write_text(output_path(f"{shared}/report.html"), "<p>x</p>")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o750
    assert stat.S_IMODE((shared / "report.html").stat().st_mode) == 0o600


def test_the_folder_is_synced_after_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rename lives in the folder: until the folder is flushed to disk, a power loss can bring
    the old file back (or none at all). Seen through os.fsync, which still does its work."""
    target = tmp_path / "sheet.json"
    real_fsync = os.fsync
    synced: list[tuple[bool, int, bool]] = []

    def watched(fd: int) -> None:
        info = os.fstat(fd)
        synced.append((stat.S_ISDIR(info.st_mode), info.st_ino, target.exists()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", watched)
    write_json(output_path(str(target)), {"token": "t"})
    folder = (True, tmp_path.stat().st_ino, True)  # the folder, after the file got its name
    assert synced[-1] == folder, synced
    assert synced[0][0] is False and synced[0][2] is False  # the file itself, before the rename


KILLED_WRITER = """
import os, signal, sys
from airflow_live_provider.outputs import open_for_write, output_path
with open_for_write(output_path(sys.argv[1])) as fh:
    fh.write("half of the credentials")
    fh.flush()
    if sys.argv[2] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    print("writing", flush=True)
    sys.stdin.readline()  # the test says when to finish
    fh.write(" and the rest")
"""


def writer(target: Path, how: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(target), how],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_the_next_write_removes_what_a_killed_attempt_left(tmp_path: Path) -> None:
    """A write killed with SIGKILL leaves its temporary (credentials, 0o600): the next write of the
    same file removes it. Other dot-files, and temporaries of other files, are left alone."""
    target = tmp_path / "sheet.json"
    proc = writer(target, "kill")
    assert proc.wait(timeout=120) == -signal.SIGKILL
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".sheet.json.") and leftovers[0].endswith(".tmp")
    (tmp_path / ".sheet.json.notes").write_text("a user's own dot-file")
    (tmp_path / ".other.json.abcd1234.tmp").write_text("another file's")
    write_json(output_path(str(target)), {"v": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".other.json.abcd1234.tmp",
        ".sheet.json.notes",
        "sheet.json",
    ]
    assert json.loads(target.read_text()) == {"v": 2}


def test_a_temporary_being_written_is_not_taken_for_a_leftover(tmp_path: Path) -> None:
    """Two writers of one file (two runs updating ``latest``): the one that finishes first must not
    delete the other's temporary; the last one to finish wins, whole."""
    target = tmp_path / "latest.json"
    proc = writer(target, "slow")
    try:
        assert proc.stdout is not None
        assert "writing\n" in iter(proc.stdout.readline, "")  # after Airflow's own start-up lines
        write_text(output_path(str(target)), "the quick writer\n")
        assert len([p for p in tmp_path.iterdir() if p.name.startswith(".latest.json.")]) == 1
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.wait(timeout=120) == 0
    finally:
        proc.kill()
        proc.wait()
    assert target.read_text() == "half of the credentials and the rest"
    assert [p.name for p in tmp_path.iterdir()] == ["latest.json"]


class UploadFile(AbstractBufferedFile):  # type: ignore[misc]
    """S3's upload contract (what s3fs does): a body under the block size is one PUT when the
    file closes; a larger one is a multipart upload whose parts nobody sees until it is completed
    on close; ``discard()`` aborts it."""

    upload_id: str | None = None

    def _initiate_upload(self) -> None:
        """Called at the first flush; the upload itself starts only when a part must go."""

    def _upload_chunk(self, final: bool = False) -> bool:
        body = self.buffer.getvalue()
        if final and self.upload_id is None:
            self.fs.put_object(self.path, body)
            return True
        if self.upload_id is None:
            self.upload_id = self.fs.create_upload(self.path)
        self.fs.uploads[self.upload_id][1].append(body)
        if final:
            key, parts = self.fs.uploads.pop(self.upload_id)
            self.fs.put_object(key, b"".join(parts))
        return True

    def discard(self) -> None:
        if self.upload_id is not None:
            self.fs.abort_mpu("", "", self.upload_id)


class UploadStore(AbstractFileSystem):  # type: ignore[misc]
    """An in-memory object store with S3's upload semantics, under its own scheme; it also
    answers s3fs's ``list_multipart_uploads``/``abort_mpu``. Every PUT is recorded."""

    protocol = "uploadstore"
    root_marker = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reset()

    def reset(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.uploads: dict[str, tuple[str, list[bytes]]] = {}
        self.puts: list[str] = []
        self.read_only = False

    def put_object(self, key: str, body: bytes) -> None:
        if self.read_only:
            raise PermissionError(f"AccessDenied: PutObject on {key}")
        self.puts.append(key)
        self.objects[key] = body

    def create_upload(self, key: str) -> str:
        upload_id = f"upload-{len(self.uploads)}-{key}"
        self.uploads[upload_id] = (key, [])
        return upload_id

    def list_multipart_uploads(self, bucket: str) -> list[dict[str, str]]:
        return [
            {"Key": key.partition("/")[2], "UploadId": upload_id}
            for upload_id, (key, _parts) in self.uploads.items()
            if key.partition("/")[0] == bucket
        ]

    def abort_mpu(self, bucket: str, key: str, upload_id: str) -> None:
        self.uploads.pop(upload_id, None)

    def _open(self, path: str, mode: str = "rb", block_size: Any = None, **kwargs: Any) -> Any:
        if "r" in mode:
            return io.BytesIO(self.objects[path])
        return UploadFile(self, path, mode, block_size=64)  # a tiny block size: parts come early

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path).rstrip("/")
        found: dict[str, dict[str, Any]] = {}
        for key, body in self.objects.items():
            if key.startswith(path + "/"):
                rest = key[len(path) + 1 :]
                name = f"{path}/{rest.split('/')[0]}"
                found[name] = {
                    "name": name,
                    "size": len(body),
                    "type": "directory" if "/" in rest else "file",
                }
        if not found and path in self.objects:
            found[path] = {"name": path, "size": len(self.objects[path]), "type": "file"}
        if not found:
            raise FileNotFoundError(path)
        return list(found.values()) if detail else sorted(found)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """S3's CopyObject: the body written a second time (what a "move" is on S3)."""
        self.put_object(self._strip_protocol(path2), self.objects[self._strip_protocol(path1)])

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Keys need no folders."""

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Keys need no folders."""

    def rm(self, path: Any, recursive: bool = False, maxdepth: Any = None) -> None:
        for item in [path] if isinstance(path, str) else path:
            del self.objects[self._strip_protocol(item)]


@pytest.fixture
def upload_store(monkeypatch: pytest.MonkeyPatch) -> UploadStore:
    """The S3-like store, registered with fsspec and taken for one that publishes uploads whole
    (s3fs and moto are not in the dev venv; ``make cluster-test`` checks the same on moto's S3)."""
    import fsspec
    from airflow.sdk.io import attach

    from airflow_live_provider import outputs

    fsspec.register_implementation("uploadstore", UploadStore, clobber=True)
    store = fsspec.filesystem("uploadstore")
    store.reset()
    attach(protocol="uploadstore", fs=store)  # what the amazon provider does for s3
    atomic = getattr(outputs, "ATOMIC_UPLOAD_PROTOCOLS", frozenset())
    monkeypatch.setattr(outputs, "ATOMIC_UPLOAD_PROTOCOLS", atomic | {"uploadstore"}, raising=False)
    return store


def test_s3_outputs_are_uploaded_once_to_the_final_key(upload_store: UploadStore) -> None:
    """No temporary key, no copy: each write is one upload to the final key (a copy + delete
    "move" wrote every output twice). A failed write publishes nothing and aborts its multipart
    upload, also after garbage collection, which would otherwise close the file and publish."""
    import gc

    key = "bucket/out/sheet.json"
    target = output_path(f"uploadstore://{key}")
    write_text(target, "previous\n")
    assert upload_store.puts == [key]
    for size in (10, 1_000):  # one PUT pending / a multipart upload with parts already sent
        with pytest.raises(RuntimeError), open_for_write(target) as fh:
            fh.write("x" * size)
            fh.flush()
            raise RuntimeError("killed half-way")
        gc.collect()
        assert upload_store.objects == {key: b"previous\n"}
        assert upload_store.uploads == {}
    write_text(target, "y" * 1_000)
    assert upload_store.objects == {key: b"y" * 1_000}
    assert upload_store.puts == [key, key]
    assert target.read_text() == "y" * 1_000


def test_s3_leftovers_of_earlier_attempts_go_with_the_next_write(upload_store: UploadStore) -> None:
    """What a killed attempt left: a temporary dot-key (every object-store write before) and an
    unfinished multipart upload of the key, both holding credentials. The pre-flight probe
    leaves nothing; the write removes both; other files' temporaries and uploads stay."""
    upload_store.objects.update(
        {
            "bucket/out/.sheet.json.0123456789ab.tmp": b"old credentials",
            "bucket/out/.other.json.0123456789ab.tmp": b"another file's",
            "bucket/out/.notes": b"a user's dot-file",
        }
    )
    upload_store.create_upload("bucket/out/sheet.json")
    upload_store.create_upload("bucket/out/other.json")
    target = writable_output("uploadstore://bucket/out/sheet.json")
    assert len(upload_store.objects) == 3 and len(upload_store.uploads) == 2  # the probe: gone again
    write_text(target, "new\n")
    assert sorted(upload_store.objects) == [
        "bucket/out/.notes",
        "bucket/out/.other.json.0123456789ab.tmp",
        "bucket/out/sheet.json",
    ]
    assert [key for key, _parts in upload_store.uploads.values()] == ["bucket/out/other.json"]


def test_an_object_store_that_refuses_writes_fails_the_pre_flight(upload_store: UploadStore) -> None:
    """Credentials that may read but not write (a read-only role) pass a look at the folder; the
    probe upload catches them before any vendor call."""
    upload_store.objects["bucket/out/old.json"] = b"{}"
    upload_store.read_only = True
    with pytest.raises(
        LiveApiInputError, match="output_uri: cannot reach uploadstore://bucket/out/sheet.json"
    ) as info:
        writable_output("uploadstore://bucket/out/sheet.json")
    assert "AccessDenied" in str(info.value)


def test_a_write_never_replaces_a_device_or_pipe(tmp_path: Path) -> None:
    """Run as root, renaming a temporary over ``/dev/null`` replaces the device with a file (this
    happened in a test run, breaking every program on the machine). Shown with a pipe of our own."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    with pytest.raises(FileExistsError, match="is a device, pipe or socket"):
        write_text(output_path(str(pipe)), "x")
    assert stat.S_ISFIFO(pipe.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_records_on_a_workers_own_disk_are_refused_under_a_distributed_executor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Step records on each Celery worker's own disk would each say "not issued yet": refused at
    plan time when nothing shared is configured, a loud warning for a local path (maybe a shared
    volume), nothing for an object store or a one-host executor."""
    from airflow_live_provider.outputs import worker_local_storage

    monkeypatch.delenv("AIRFLOW__LIVE_PROVIDER__OUTPUT_ROOT", raising=False)
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    assert worker_local_storage("", "output_dir") is None
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    with pytest.raises(
        LiveApiInputError, match=r"output_dir: is empty and \[live_provider\] output_root is not set"
    ):
        worker_local_storage("", "output_dir")
    assert worker_local_storage("s3://aws_default@bucket/sheets", "output_dir") is None
    warning = worker_local_storage("/mnt/sheets", "output_dir")
    assert warning is not None and "must be a volume every worker shares" in warning
    monkeypatch.setenv("AIRFLOW__LIVE_PROVIDER__OUTPUT_ROOT", "s3://aws_default@bucket/live")
    assert worker_local_storage("", "output_dir") is None


def test_a_temporary_removed_as_a_leftover_before_its_writer_locked_it_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers of one file at once (two steps of a run publishing its sheet): the second
    writer's clean-up could take the first's brand-new temporary, not yet locked, for a killed
    task's leftover and remove it; the first then failed its rename with FileNotFoundError.
    Played deterministically: the other writer's clean-up runs in that window."""
    from airflow_live_provider import outputs

    target = output_path(str(tmp_path / "sheet.json"))
    real_mkstemp = tempfile.mkstemp
    raced: list[str] = []

    def mkstemp_then_another_writer_cleans(*args: Any, **kwargs: Any) -> tuple[int, str]:
        fd, name = real_mkstemp(*args, **kwargs)
        if not raced:
            outputs._remove_local_leftovers(str(tmp_path), "sheet.json")
            raced.append(name)
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp_then_another_writer_cleans)
    write_text(target, "complete\n")
    assert raced and not os.path.exists(raced[0])  # the first temporary was removed in the window
    assert target.read_text() == "complete\n"
    assert [p.name for p in tmp_path.iterdir()] == ["sheet.json"]
