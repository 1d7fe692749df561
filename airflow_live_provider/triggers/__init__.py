"""Triggers of this provider: they run in Airflow's triggerer (registered in get_provider_info)."""
