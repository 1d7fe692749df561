"""Airflow plugins shipped by this provider (the ``airflow.plugins`` entry point): the Live
events page (``live_events.py``, light; its app in ``live_events_app.py``, built on first request)."""

#: Where the Live events app is mounted in Airflow's api-server (both modules read it here).
URL_PREFIX = "/live-events"
