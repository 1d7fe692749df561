"""The one redaction helper: which returned fields are secrets, and how to hide them.

Airflow's ``mask_secret(dict)`` only masks keys that *look* sensitive; vendor keys such as
``writeToken``, ``vodSecretKey`` or ``channelPasswd`` slip through, so we name them here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

REDACTED = "***REDACTED***"

#: Secret fields the vendors return (Polyv sub-accounts/channels, Volcengine auth, ISDP tokens).
SECRET_KEYS: frozenset[str] = frozenset(
    {
        # Polyv sub-account secrets and channel passwords
        "appSecret",
        "vodSecretKey",
        "vodBakSecretKey",
        "writeToken",
        "readToken",
        "channelPasswd",
        # Volcengine DescribeAuth / GeneratePushURL
        "SecretKey",
        # tokens of every kind
        "token",
        "access_token",
        "refresh_token",
        "password",
        "client_secret",
        "session_token",
    }
)


def redact(value: Any, keys: Iterable[str] = SECRET_KEYS) -> Any:
    """A deep copy of ``value`` with the values under ``keys`` replaced by :data:`REDACTED`."""
    keyset = frozenset(keys)
    if isinstance(value, dict):
        return {
            k: (REDACTED if k in keyset and v not in (None, "") else redact(v, keyset))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item, keyset) for item in value]
    return value


def strip_secrets(value: Any, keys: Iterable[str] = SECRET_KEYS) -> Any:
    """A deep copy of ``value`` with the keys in ``keys`` removed altogether."""
    keyset = frozenset(keys)
    if isinstance(value, dict):
        return {k: strip_secrets(v, keyset) for k, v in value.items() if k not in keyset}
    if isinstance(value, list | tuple):
        return [strip_secrets(item, keyset) for item in value]
    return value


def secret_values(value: Any, keys: Iterable[str] = SECRET_KEYS) -> Iterator[str]:
    """Every non-empty string found under ``keys`` anywhere in ``value`` (for log masking)."""
    keyset = frozenset(keys)
    if isinstance(value, dict):
        for k, v in value.items():
            if k in keyset and isinstance(v, str) and v:
                yield v
            else:
                yield from secret_values(v, keyset)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from secret_values(item, keyset)


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every known credential value replaced: vendor error messages sometimes echo
    what they were sent (a token, a canonical request holding the STS token)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text
