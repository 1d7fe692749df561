"""One error family for every vendor.

Every error carries what an on-call engineer needs to open a vendor ticket (vendor, code,
HTTP status, request id) and whether retrying could help. Messages are built by our code
from vendor codes/messages only: they never include request parameters, headers or bodies,
so credentials cannot leak through them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from airflow_live_provider.redaction import scrub

T = TypeVar("T")


class LiveApiError(Exception):
    """A vendor call failed (or could not be made)."""

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        code: str | int | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.vendor = vendor
        self.code = code
        self.http_status = http_status
        self.request_id = request_id
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(str(self))

    def scrub(self, secrets: Iterable[str | None]) -> None:
        """Replace every credential value in the vendor-supplied parts (message, code, request
        id): vendors and gateways echo what they were sent, sometimes without a key name."""
        self.message = scrub(self.message, secrets)
        if isinstance(self.code, str):
            self.code = scrub(self.code, secrets)
        if self.request_id:
            self.request_id = scrub(str(self.request_id), secrets)
        self.args = (str(self),)

    def __str__(self) -> str:
        details = [
            f"{name}={value}"
            for name, value in (
                ("code", self.code),
                ("http_status", self.http_status),
                ("request_id", self.request_id),
            )
            if value not in (None, "")
        ]
        suffix = f" ({', '.join(details)})" if details else ""
        return f"[{self.vendor}] {self.message}{suffix}"


#: The fix to suggest when a list parameter arrives as one string: usually a rendered template.
STRING_GIVEN_FOR_LIST = (
    "got a string (a rendered template?); pass a list, or set render_template_as_native_obj=True on the DAG"
)


class LiveApiInputError(LiveApiError, ValueError):
    """Bad input caught before any request was sent. Names the field and the fix."""

    def __init__(self, field: str, problem: str, *, vendor: str = "live_provider") -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}", vendor=vendor, code="invalid_input")


class InputProblems:
    """Collects every bad field of one connection so the user fixes them all in one go, instead
    of one per attempt."""

    def __init__(self) -> None:
        self.errors: list[LiveApiInputError] = []

    def check(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """``func(...)``, or None after noting the LiveApiInputError it raised."""
        try:
            return func(*args, **kwargs)
        except LiveApiInputError as exc:
            self.errors.append(exc)
            return None

    def add(self, field: str, problem: str) -> None:
        self.errors.append(LiveApiInputError(field, problem))

    def raise_all(self, subject: str, fix: str, describe: Callable[[str], str] = str) -> None:
        """One error naming every problem (``describe`` turns a field into what the user sees)."""
        if not self.errors:
            return
        if len(self.errors) == 1:
            only = self.errors[0]
            raise LiveApiInputError(
                subject, f"{describe(only.field)}: {only.problem}. {fix}", vendor=only.vendor
            )
        listed = "; ".join(f"{describe(e.field)}: {e.problem}" for e in self.errors)
        raise LiveApiInputError(subject, f"{len(self.errors)} problems: {listed}. {fix}")


class LiveApiAuthError(LiveApiError):
    """Credentials, signature or permission rejected. Never retried: it will not get better."""


class LiveApiRateLimitError(LiveApiError):
    """The vendor throttled us. The request was not processed, so it is safe to resend."""

    def __init__(self, message: str, **kwargs: object) -> None:
        kwargs.setdefault("retryable", True)
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class LiveApiResponseError(LiveApiError):
    """The vendor answered, but not in the shape its documentation gives (a list where an object
    belongs, a flag that is not a boolean, no token). Not retried: the same answer would come."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("code", "bad_answer")
        super().__init__(message, **kwargs)


class LiveApiConnectionError(LiveApiError):
    """The network failed (reset, timeout, refused). Whether the vendor processed it is unknown."""
