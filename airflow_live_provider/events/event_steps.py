"""The steps of a ``live_event`` run, declared once: the DAG builds its tasks from this, the run
sheets name and order their records by it, the Live events page labels its cards with it.

Airflow-free (plain data): every layer may read it.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class EventStep(NamedTuple):
    """One step: its task id, the vendor it calls (None: none), what it gives the crew, the
    just-in-time vendor it issues for (None: issued ahead or not a credential), and the name
    of its record on the run sheet."""

    task_id: str
    vendor: str | None
    label: str
    kind: str  # "provision", "credentials", "go_live" or "summary"
    jit_vendor: str | None = None
    record: str = ""

    @property
    def record_name(self) -> str:
        return self.record or self.task_id


EVENT_STEPS: tuple[EventStep, ...] = (
    EventStep("volcengine", "volcengine", "Push auth and push URLs", "provision"),
    EventStep("polyv_channels", "polyv", "Polyv receive channels", "provision"),
    EventStep("polyv_tokens", "polyv", "Polyv watch tokens", "credentials", jit_vendor="polyv"),
    EventStep("isdp_tokens", "isdp", "ISDP join tokens", "credentials", jit_vendor="isdp"),
    EventStep("go_live", "volcengine", "Stream live", "go_live"),
    EventStep("summary", None, "After the event", "summary", record="outcome"),
)
#: Task ids, in the order the DAG lists them and the page shows them.
TASK_IDS = tuple(step.task_id for step in EVENT_STEPS)
#: Record names on a run sheet, in the order a sheet shows them (the summary's is ``outcome``).
RECORDS = tuple(step.record_name for step in EVENT_STEPS)
#: What each record or task is, in the crew's words (both names of the summary).
LABELS = {name: step.label for step in EVENT_STEPS for name in {step.task_id, step.record_name}}
#: The just-in-time step of each vendor.
JIT_STEP = {step.jit_vendor: step.task_id for step in EVENT_STEPS if step.jit_vendor}


def steps_for(event: dict[str, Any]) -> list[str]:
    """The steps that apply to an instance (a section it lacks has no step; the summary always
    runs and is not listed)."""
    polyv = event.get("polyv") or {}
    applies = {
        "volcengine": bool(event.get("volcengine")),
        "polyv_channels": bool(polyv.get("receive_channel_names")),
        "polyv_tokens": bool(polyv.get("viewers")),
        "isdp_tokens": bool(event.get("isdp")),
        "go_live": bool(event.get("volcengine")),
    }
    return [step.task_id for step in EVENT_STEPS if applies.get(step.task_id)]
