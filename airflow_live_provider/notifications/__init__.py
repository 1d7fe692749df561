"""Notifiers (Airflow's ``BaseNotifier``): :mod:`.live_ops` tells the live-ops crew what failed."""
