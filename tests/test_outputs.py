"""Output helpers: one timestamp format, private and atomic local files, clear hand-off errors."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.outputs import (
    handed_off,
    open_for_write,
    output_path,
    path_segment,
    utc_iso,
    writable_output,
    write_json,
)
from airflow_live_provider.simulator import SimulatorServer


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
    assert path_segment("..") == "run" and path_segment("manual__2026") == "manual__2026"


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        (lambda tmp: str(tmp), "is a folder"),
        (lambda tmp: f"{tmp}/a\x00b.json", "control characters"),
        (lambda tmp: f"{tmp}/{'发' * 90}.json", "file systems allow 255"),
        (lambda tmp: f"{tmp}/plain-file/sheet.json", "is a file where a folder should be"),
        (lambda tmp: f"{tmp}/locked/sheet.json", "is not writable"),
        (lambda tmp: "nosuchscheme://bucket/sheet.json", "scheme is not available"),
    ],
)
def test_bad_output_locations_are_refused_up_front(tmp_path: Path, where: Any, problem: str) -> None:
    (tmp_path / "plain-file").write_text("x")
    (tmp_path / "locked").mkdir(mode=0o500)
    if os.geteuid() == 0 and problem == "is not writable":
        pytest.skip("root writes anywhere: the permission check cannot be shown as root")
    with pytest.raises(LiveApiInputError, match="output_uri") as info:
        writable_output(where(tmp_path))
    assert problem in str(info.value)


def test_a_good_output_location_passes(tmp_path: Path) -> None:
    assert writable_output(f"file://{tmp_path}/new/deeper/sheet.json").name == "sheet.json"


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
    """On an object store (fsspec's in-memory one here), a write that fails half-way leaves no
    object under the final name, nor a temporary; a complete write leaves just the final object."""
    import fsspec
    from airflow.sdk.io import attach

    from airflow_live_provider.outputs import open_for_write, output_path, write_text

    attach(protocol="memory", fs=fsspec.filesystem("memory"))  # what the amazon provider does for s3
    target = output_path("memory://live-provider-test/atomic/sheet.json")
    write_text(target, "previous\n")
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
