"""Task retries decided by what the vendor answered (Airflow 3.3 ``retry_policy``).

Airflow's ``retries`` treat every failure alike: a wrong appSecret is retried as patiently as a
429. :class:`LiveRetryPolicy` reads the provider's error (:mod:`airflow_live_provider.exceptions`)
on the worker when a task fails and decides:

- **fail at once**: credentials, signature or permission refused (``LiveApiAuthError``), bad input
  (``LiveApiInputError``), an answer not in the documented shape (``LiveApiResponseError``) and any
  other error the vendor client marked not retryable (a business refusal): the same call would get
  the same answer;
- **throttled** (``LiveApiRateLimitError``): retry after at least the vendor's ``Retry-After``
  (when it sent one), else after the backoff below;
- **transient** (5xx, connection errors, an ambiguous create, a cut answer): retry with full-jitter
  exponential backoff from ``base_delay`` (doubling per try, at most ``max_delay``);
- anything else (not a vendor error): Airflow's own rules (``retries``, ``retry_delay``).

The policy can only shorten or delay retries: a task still needs ``retries`` for any retry to
happen (Airflow counts them). The transport has already retried each call within its own budget
(``max_attempts``, ``total_retry_seconds``); this is the second, slower layer.

Light on purpose: DAG files build the policy at parse time (``airflow.sdk`` only).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from airflow.sdk import RetryDecision, RetryPolicy

from airflow_live_provider.exceptions import (
    LiveApiAuthError,
    LiveApiError,
    LiveApiInputError,
    LiveApiRateLimitError,
    LiveApiResponseError,
)

#: How deep to look for the vendor error behind wrapping exceptions (``raise X from err``, groups).
MAX_CAUSE_DEPTH = 8


def vendor_errors(exception: BaseException) -> list[LiveApiError]:
    """Every :class:`LiveApiError` in ``exception``: itself, its causes and context, and the
    members of an exception group (steps that call vendors concurrently raise groups)."""
    found: list[LiveApiError] = []
    seen: set[int] = set()

    def walk(exc: BaseException | None, depth: int) -> Iterator[LiveApiError]:
        if exc is None or depth > MAX_CAUSE_DEPTH or id(exc) in seen:
            return
        seen.add(id(exc))
        if isinstance(exc, LiveApiError):
            yield exc
            return
        if isinstance(exc, BaseExceptionGroup):
            for member in exc.exceptions:
                yield from walk(member, depth + 1)
        yield from walk(exc.__cause__ or exc.__context__, depth + 1)

    found.extend(walk(exception, 0))
    return found


def _kind(error: LiveApiError) -> str:
    if isinstance(error, LiveApiInputError):
        return "input"
    if isinstance(error, LiveApiAuthError):
        return "auth"
    if isinstance(error, LiveApiResponseError):
        return "answer"
    if isinstance(error, LiveApiRateLimitError):
        return "throttled"
    return "transient" if error.retryable else "refused"


_FAIL_REASONS = {
    "input": "bad input: fix the field named in the error, a retry sends the same",
    "auth": "credentials, signature or permission refused: fix the connection, a retry would fail the same",
    "answer": "the vendor's answer is not in its documented shape: the same answer would come again",
    "refused": "the vendor refused the call for good (not retryable)",
}


class LiveRetryPolicy(RetryPolicy):
    """Retry decisions from the provider's errors; see the module docstring.

    ``retry_policy=LiveRetryPolicy()`` on an operator, or in a DAG's ``default_args``.

    :param base_delay: the first transient retry's delay ceiling (doubles per try, jittered).
    :param max_delay: the largest delay for transient errors and unhinted throttling; a vendor's
        ``Retry-After`` above it is still honoured.
    """

    def __init__(
        self,
        base_delay: timedelta = timedelta(seconds=30),
        max_delay: timedelta = timedelta(minutes=10),
    ) -> None:
        if not isinstance(base_delay, timedelta) or base_delay <= timedelta(0):
            raise LiveApiInputError("base_delay", f"must be a timedelta > 0, got {base_delay!r}")
        if not isinstance(max_delay, timedelta) or max_delay < base_delay:
            raise LiveApiInputError(
                "max_delay", f"must be a timedelta >= base_delay ({base_delay}), got {max_delay!r}"
            )
        self.base_delay = base_delay
        self.max_delay = max_delay

    def backoff(self, try_number: int) -> timedelta:
        """Full-jitter exponential backoff after try ``try_number`` (1-based): a delay between half
        and all of ``min(max_delay, base_delay * 2 ** (try_number - 1))``."""
        exponent = min(max(try_number, 1) - 1, 30)
        ceiling = min(self.max_delay.total_seconds(), self.base_delay.total_seconds() * 2**exponent)
        return timedelta(seconds=random.uniform(ceiling / 2, ceiling))

    def evaluate(
        self,
        exception: BaseException,
        try_number: int,
        max_tries: int,
        context: Any = None,
    ) -> RetryDecision:
        errors = vendor_errors(exception)
        if not errors:
            return RetryDecision.default()
        kinds = [(_kind(error), error) for error in errors]
        for kind, error in kinds:
            if kind in _FAIL_REASONS:
                return RetryDecision.fail(reason=f"{_FAIL_REASONS[kind]} ({_label(error)})")
        backoff = self.backoff(try_number)
        hints = [e.retry_after for k, e in kinds if k == "throttled" and e.retry_after is not None]
        if hints:
            # At least what the vendor asked for, plus up to 10% so retries of many tasks spread.
            wait = max(hints)
            delay = timedelta(seconds=wait + random.uniform(0, wait * 0.1))
            return RetryDecision.retry(
                delay=delay,
                reason=f"throttled: the vendor asked to wait {wait:g} s (Retry-After); "
                f"retrying in {delay.total_seconds():.1f} s ({_label(errors[0])})",
            )
        kind = "throttled" if any(k == "throttled" for k, _ in kinds) else "transient"
        return RetryDecision.retry(
            delay=backoff,
            reason=f"{kind}: retrying in {backoff.total_seconds():.1f} s (backoff after try "
            f"{try_number}) ({_label(errors[0])})",
        )

    def serialize(self) -> dict[str, Any]:
        return {
            "__type": type(self).__name__,
            "base_delay": self.base_delay.total_seconds(),
            "max_delay": self.max_delay.total_seconds(),
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> LiveRetryPolicy:
        return cls(
            base_delay=timedelta(seconds=float(data["base_delay"])),
            max_delay=timedelta(seconds=float(data["max_delay"])),
        )

    def __repr__(self) -> str:
        return f"LiveRetryPolicy(base_delay={self.base_delay!r}, max_delay={self.max_delay!r})"


def _label(error: LiveApiError) -> str:
    """Vendor, class, code and HTTP status: enough to tell the case, never a message text."""
    parts = [error.vendor, type(error).__name__]
    if error.code not in (None, ""):
        parts.append(f"code={error.code}")
    if error.http_status is not None:
        parts.append(f"http_status={error.http_status}")
    return " ".join(str(p) for p in parts)
