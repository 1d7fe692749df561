"""Polyv operators (added by the Polyv issue)."""
