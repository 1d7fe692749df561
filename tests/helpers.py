"""Assertions shared by the tests."""

from __future__ import annotations


def assert_no_secret_in(text: str, *secrets: str) -> None:
    """Fail naming which secret leaked (by position, never by value)."""
    for index, secret in enumerate(secrets):
        assert secret, f"secret #{index} is empty: the test would prove nothing"
        assert secret not in text, f"secret #{index} leaked"
