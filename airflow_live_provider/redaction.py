"""The one redaction helper: which returned fields are secrets, and how to hide them.

Airflow's ``mask_secret(dict)`` only masks keys that *look* sensitive; vendor keys such as
``writeToken``, ``vodSecretKey`` or ``channelPasswd`` slip through, so we name them here.
:func:`mask_all` registers values with Airflow's log masker (imported lazily: the vendor clients
use this module without Airflow).
"""

from __future__ import annotations

import re
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


def mask_all(values: Iterable[str]) -> None:
    """Register returned credentials with the task process's log masker: one batch, one compile.

    Why not ``mask_secret`` per value: Airflow's masker recompiles one regex of every pattern for
    each new value, so N values cost O(N^2) (2,000 tokens: ~90 s; 50,000 snapshot secrets: hours).
    Here the batch is added to the pattern set and compiled once: O(N).

    Why not Airflow's supervisor: it registers a ``MaskSecret`` batch value by value (quadratic
    again), and all it masks is what the task writes raw to stdout/stderr. This provider never
    writes a returned credential to any log, stdout, exception or XCom (tokens go to private
    files; errors are scrubbed): the in-process masker is defence in depth for the task's own
    log records. A user's code that ``print()``s a token is not covered; do not.
    Values shorter than the masker's minimum are skipped, as ``mask_secret`` does.
    """
    batch = [v for v in dict.fromkeys(values) if isinstance(v, str) and v]
    if not batch:
        return
    try:
        from airflow.sdk._shared.secrets_masker import _secrets_masker

        masker = _secrets_masker()
        minimum = int(masker.min_length_to_mask)
        patterns: set[str] = masker.patterns
    except (ImportError, AttributeError, TypeError):  # another Airflow layout: the public, slow way
        from airflow.sdk.log import mask_secret

        for value in batch:
            mask_secret(value)
        return
    fresh = {re.escape(v) for v in batch if len(v) >= minimum} - patterns
    if fresh:
        patterns.update(fresh)
        masker.replacer = re.compile("|".join(patterns))


def mask_returned_secrets(payload: Any, keys: Iterable[str] = SECRET_KEYS) -> None:
    """Mask vendor secrets Airflow's key heuristics would miss (``writeToken``, ``SecretKey``...)."""
    mask_all(secret_values(payload, keys))


#: A credential written as ``key=value`` or ``"key": "value"`` in free text (a gateway echoing a
#: request, a library quoting a URL): the value is cut, the key kept so the text still reads.
_KEYED_SECRET = re.compile(
    r"(?i)\b(sign|signature|secret\w*|app_?secret|\w*token|password|passwd|access_?key\w*|key)"
    r"""(["']?\s*[:=]\s*["']?)([^\s&"',;]{6,})"""
)


def redact_text(text: str, *, limit: int | None = None) -> str:
    """Free text (an exception's message) fit to leave Airflow, e.g. in a notification.

    Every value registered with the task process's log masker is replaced (connection passwords
    read in this process, credentials registered with :func:`mask_all`), then every
    ``key=value`` credential (``sign=``, ``token=``, ``appSecret":"...``). ``limit`` cuts the
    result to that many characters (``...`` marks the cut).
    """
    try:
        from airflow.sdk._shared.secrets_masker import redact as airflow_redact

        masked = airflow_redact(text)
        text = masked if isinstance(masked, str) else text
    except ImportError:  # another Airflow layout: the patterns below still apply
        pass
    text = _KEYED_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 3, 0)] + "..."
    return text
