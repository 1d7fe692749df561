"""Volcengine operators (added by the Polyv issue)."""
