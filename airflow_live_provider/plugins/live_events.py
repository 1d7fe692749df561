"""The "Live events" plugin: a page in Airflow's UI listing every event instance and its run sheet.

Registered through the ``airflow.plugins`` entry point (pyproject.toml), so installing the package is
enough: the api-server mounts the app at ``/live-events`` behind Airflow's own login, the UI's
navigation gets a **Live events** entry that shows it inside the UI, and every DAG run's page a
**Run sheet** tab (the sheet of a ``live_event`` run; "not an event run" elsewhere).

Airflow imports every plugin in every task process too (for macros), so this module stays light:
the FastAPI app (FastAPI, Airflow's API security, the ORM) is built on the first request the
api-server hands it (:mod:`airflow_live_provider.plugins.live_events_app`).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_live_provider.plugins import URL_PREFIX

#: Where the api-server mounts the app (the navigation entry and the pages' links use it).
#: The run page tab's route in the UI (``/dags/<dag>/runs/<run>/plugin/<route>``), unique across plugins.
RUN_TAB_ROUTE = "live-event-run-sheet"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class LazyLiveEventsApp:
    """An ASGI app that builds the real one on first use (only the api-server ever calls it)."""

    def __init__(self) -> None:
        self._app: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None
        self._lock = threading.Lock()

    def _real(self) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        with self._lock:
            if self._app is None:
                from airflow_live_provider.plugins.live_events_app import build_app

                self._app = build_app()
            return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._real()(scope, receive, send)


app = LazyLiveEventsApp()


class LiveEventsPlugin(AirflowPlugin):
    """Live events: the ``live_event`` runs as events (where each stands) and their run sheets."""

    name = "live_events"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "Live events"}]
    external_views = [
        {
            "name": "Live events",
            "href": f"{URL_PREFIX}/",
            # Shown inside the UI (same origin, so the UI's session cookie goes along).
            "url_route": "live-events",
            "destination": "nav",
        },
        {
            # A tab on every DAG run's page (Airflow has no per-DAG tabs): a live_event run's tab
            # opens its run sheet, any other run's says it is not an event run.
            "name": "Run sheet",
            "href": f"{URL_PREFIX}/dags/{{DAG_ID}}/runs/{{RUN_ID}}/tab",
            "url_route": RUN_TAB_ROUTE,
            "destination": "dag_run",
        },
    ]
