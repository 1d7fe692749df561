"""ISDP operators (added by the Polyv issue)."""
