"""Every bad output location is refused before the first vendor call: one table, one row each.

Each row runs an operator that issues credentials (Polyv watch tokens, Volcengine push URLs) with
a bad ``output_uri`` and asserts: ``LiveApiInputError``, the field named, the fix or reason in the
message, no request at all to the vendor simulator, and a bounded time. These locations used to
pass the pre-flight check and fail only when the file was written, after the vendor had issued
the credentials (a dangling symlink, a link loop, /proc, an over-long path, memory://), or were
silently reinterpreted (a line break removed, ``file://host/x`` written under the working
directory, ``dir/`` written as a file, a dot-file that every reader skips).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.operators.polyv import PolyvWatchTokenOperator
from airflow_live_provider.operators.volcengine import VolcengineGeneratePushUrlOperator
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.simulator import volcengine as volc_sim

Where = Callable[[Path], str]


def polyv_tokens(uri: str) -> Any:
    return PolyvWatchTokenOperator(
        task_id="tokens", channel_id=polyv_sim.DEMO_CHANNEL_ID, viewer_ids=["v1"], output_uri=uri
    ).execute({})


def volc_push_urls(uri: str) -> Any:
    return VolcengineGeneratePushUrlOperator(
        task_id="push",
        vhost=volc_sim.DEMO_VHOST,
        app=volc_sim.DEMO_APP,
        stream="main",
        output_uri=uri,
    ).execute({})


def prepared(tmp: Path) -> None:
    """What the rows point at: links that lead nowhere, a file where a folder should be."""
    (tmp / "dangling").symlink_to(tmp / "no" / "such" / "folder")
    (tmp / "loop").symlink_to(tmp / "loop")
    (tmp / "plain-file").write_text("x")
    (tmp / "folder").mkdir()
    os.mkfifo(tmp / "pipe")


LONG = "/".join(["d" * 200] * 25)  # 25 names within 255 bytes each, 5,024 bytes in all

CASES: list[tuple[str, Where, str]] = [
    ("dangling symlink folder", lambda t: f"{t}/dangling/sheet.json", "symbolic link that leads nowhere"),
    ("symlink loop", lambda t: f"{t}/loop/sheet.json", "symbolic link that leads nowhere"),
    ("/proc", lambda t: "/proc/sheet.json", "is in /proc, the kernel's virtual file system"),
    ("over-long path", lambda t: f"{t}/{LONG}/sheet.json", "paths have at most 4095"),
    ("memory:// (nothing attached)", lambda t: "memory://bucket/sheet.json", "gone when the task ends"),
    ("unknown scheme", lambda t: "nosuchscheme://bucket/sheet.json", "scheme is not available here"),
    ("line break in a path", lambda t: f"{t}/a\nb.json", "refused, never removed"),
    ("CR in a file URI", lambda t: f"file://{t}/a\rb.json", "'\\r' at position"),
    ("tab in a folder", lambda t: f"{t}/a\tb/sheet.json", "'\\t' at position"),
    ("Unicode line separator", lambda t: f"{t}/a\u2028b.json", "'\\u2028' at position"),
    ("file:// with another host", lambda t: f"file://otherhost{t}/sheet.json", "names the host 'otherhost'"),
    ("file:// host, two slashes", lambda t: "file://tmp/sheet.json", "three slashes"),
    ("trailing slash", lambda t: f"file://{t}/folder/new/", "ends with '/', which names a folder"),
    ("trailing slash, plain path", lambda t: f"{t}/sheet.json/", "ends with '/'"),
    ("dot-file name", lambda t: f"{t}/.sheet.json", "starts with a dot: readers skip dot-files"),
    ("'..' as the name", lambda t: f"{t}/folder/..", "starts with a dot"),
    ("an existing folder", lambda t: f"{t}/folder", "is a folder; give a file name"),
    ("a file as a folder", lambda t: f"{t}/plain-file/sheet.json", "is a file where a folder should be"),
    # A pipe of our own, never /dev/null: a regression would replace the node it points at.
    ("a pipe as the file", lambda t: f"{t}/pipe", "is a device, pipe or socket"),
    ("name over 255 bytes", lambda t: f"{t}/{'发' * 90}.json", "file systems allow 255"),
    ("relative path", lambda t: "out/sheet.json", "neither an absolute path nor a URI"),
    ("blank", lambda t: "   ", "is empty"),
]


@pytest.mark.parametrize("operator", [polyv_tokens, volc_push_urls], ids=["polyv", "volcengine"])
@pytest.mark.parametrize(("case", "where", "reason"), CASES, ids=[c[0] for c in CASES])
def test_refused_before_any_vendor_request(
    sim_connections: SimulatorServer,
    tmp_path: Path,
    operator: Callable[[str], Any],
    case: str,
    where: Where,
    reason: str,
) -> None:
    prepared(tmp_path)
    sim_connections.clear_requests()
    started = time.monotonic()
    with pytest.raises(LiveApiInputError) as info:
        operator(where(tmp_path))
    message = str(info.value)
    assert "output_uri: " in message, message
    assert reason in message, message
    assert len(message) < 800, "the message must not echo a huge input"
    assert list(sim_connections.requests) == [], f"{case}: a vendor request was sent"
    assert time.monotonic() - started < 20


def test_nothing_is_left_behind_by_a_refused_location(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    """The probe of a refused location leaves no file; an over-long path creates no folder."""
    prepared(tmp_path)
    before = sorted(os.listdir(tmp_path))
    for _case, where, _reason in CASES:
        with pytest.raises(LiveApiInputError):
            polyv_tokens(where(tmp_path))
    assert sorted(os.listdir(tmp_path)) == before
    assert os.listdir(tmp_path / "folder") == []


def test_localhost_is_this_worker(sim_connections: SimulatorServer, tmp_path: Path) -> None:
    """``file://localhost/path`` (RFC 8089) is the local path, not ``./localhost/path``."""
    result = polyv_tokens(f"file://localhost{tmp_path}/sheet.json")
    assert result["count"] == 1
    assert (tmp_path / "sheet.json").is_file()
    assert not (Path.cwd() / "localhost").exists()
