"""Airflow plugins shipped by this provider (registered under ``plugins`` in the provider info)."""
