"""Sensors of this provider (registered in get_provider_info)."""
