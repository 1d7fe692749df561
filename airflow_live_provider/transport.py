"""The one HTTP core every vendor client uses.

Vendor clients pass two callbacks per call:

* ``build()`` returns a fresh :class:`HttpRequest` and runs once per attempt, so every retry
  carries a new timestamp and signature (Polyv timestamps and Volcengine X-Date expire);
* ``parse(response)`` returns ``(value, request_id)`` or raises a :class:`LiveApiError` whose
  ``retryable`` flag says whether another attempt could help.

The transport owns everything else: keep-alive session, timeouts, a client-side token bucket,
exponential backoff with jitter, ``Retry-After``, a bound on attempts and on total time, and one
log line per attempt that never includes a query string, header or body.

A vendor is treated as hostile: an answer must arrive whole within ``read_timeout`` (and the
call's time budget) even if it trickles a byte at a time, and may not exceed
:data:`DEFAULT_MAX_BODY_BYTES`; :func:`json_body` refuses JSON nested deeper than
:data:`MAX_JSON_DEPTH`; every error text from ``parse`` is scrubbed of the client's credentials
by value.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import json
import logging
import math
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from airflow_live_provider.exceptions import (
    InputProblems,
    LiveApiConnectionError,
    LiveApiError,
    LiveApiInputError,
    LiveApiRateLimitError,
    LiveApiResponseError,
)
from airflow_live_provider.redaction import scrub
from airflow_live_provider.validation import control_characters, did_you_mean, host_name_problem, shown

if TYPE_CHECKING:
    # Imported where first needed (a client being built): DAG files import operators, and
    # `requests` alone would double a sample DAG's parse time.
    import requests

log = logging.getLogger("airflow_live_provider.transport")


class _StripQueryStrings(logging.Filter):
    """urllib3 logs every request line at DEBUG, query string included; Polyv and others sign
    in the query, so cut it before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.split("?", 1)[0] + "?<query hidden>" if isinstance(arg, str) and "?" in arg else arg
                for arg in record.args
            )
        return True


#: Logger filters see only records logged on that very logger, so each urllib3 module that
#: logs a URL gets one (``connection`` warns "Failed to parse headers (url=...)" with the query).
URLLIB3_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
)
for _name in URLLIB3_LOGGERS:
    logging.getLogger(_name).addFilter(_StripQueryStrings())

T = TypeVar("T")

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 30.0
USER_AGENT = "airflow-live-provider/0.1"
#: Ours: the largest answer read (decoded). The biggest documented page (1,000 channels) is well
#: under 1 MB; past this a vendor or proxy is streaming something that is not an answer.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
#: Ours: the deepest JSON nesting accepted. Vendor answers nest 4-5 levels; deeper JSON would
#: crash recursive code (``RecursionError``) downstream.
MAX_JSON_DEPTH = 32
_BODY_CHUNK = 64 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. ``total_seconds`` bounds sleeps plus requests across all attempts."""

    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    total_seconds: float = 120.0

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the sleep after ``attempt`` (1-based)."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)


@dataclass
class HttpRequest:
    """One signed request, as a vendor client builds it for one attempt."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    data: Mapping[str, Any] | bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


#: Ours, as common gateways (nginx's 8 KB request-line buffers; others answer HTTP 414 past
#: 8 KB): the largest path plus query string sent.
MAX_URL_BYTES = 8192
#: Ours, as nginx's default ``client_max_body_size``: the largest request body sent.
MAX_BODY_BYTES = 1024 * 1024


def check_request(req: HttpRequest, vendor: str) -> None:
    """Refuse a request no vendor could take, before it is sent (every vendor's every call goes
    through here): a control character (CR, LF, NUL, TAB...) in a query value, a URL over
    :data:`MAX_URL_BYTES` or a body over :data:`MAX_BODY_BYTES`. Names the parameter, never
    quotes its value (a query may carry a signature or a token)."""
    from urllib.parse import quote_plus, urlencode

    if control_characters(req.path):
        raise LiveApiInputError("path", "contains a control character; remove it", vendor=vendor)
    params = dict(req.params or {})
    bound = 4 * len(req.path)  # UTF-8 bytes, at most 4 a character
    for key, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(item, str) and control_characters(item) for item in values):
            raise LiveApiInputError(
                f"query[{key!r}]",
                "contains a control character (CR, LF, NUL, TAB...); remove it",
                vendor=vendor,
            )
        # percent-encoded, a character is at most 12 bytes (4 UTF-8 bytes as %XX each)
        if isinstance(value, str):
            bound += 12 * (len(str(key)) + len(value)) + 2
        elif isinstance(value, int) and abs(value) < 10**20:
            bound += 12 * len(str(key)) + 24
        else:  # a list, a float, a huge int: counted exactly below
            bound += MAX_URL_BYTES + 1
    if bound <= MAX_URL_BYTES:  # the common case: nothing near the cap, no encoding needed
        check_body_size(req.data, vendor)
        return
    encoded: dict[str, int] = {}
    for key, value in params.items():
        encoded[key] = (
            len(quote_plus(str(key))) + 1 + len(quote_plus(value))
            if isinstance(value, str)
            else len(urlencode({key: value}, doseq=True))  # what requests sends for a list or a number
        )
    size = len(req.path.encode("utf-8")) + sum(encoded.values()) + len(encoded)  # '?' and '&'s
    if size > MAX_URL_BYTES:
        largest = max(encoded, key=encoded.__getitem__)
        one = encoded[largest] * 2 >= size  # one parameter makes most of it: name that one
        raise LiveApiInputError(
            f"query[{largest!r}]" if one else "query",
            f"makes the request URL {size} bytes"
            + (f" ({encoded[largest]} of them this parameter)" if one else f" ({len(encoded)} parameters)")
            + f"; at most {MAX_URL_BYTES} bytes are sent (gateways answer longer URLs with HTTP 414): "
            "shorten it or split the call",
            vendor=vendor,
        )
    check_body_size(req.data, vendor)


def check_body_size(data: Mapping[str, Any] | bytes | None, vendor: str) -> None:
    """Refuse a body over :data:`MAX_BODY_BYTES` (1 MiB) before it is sent."""
    from urllib.parse import urlencode

    if data is None:
        return
    size = len(data) if isinstance(data, bytes) else len(urlencode(dict(data), doseq=True))
    if size > MAX_BODY_BYTES:
        raise LiveApiInputError(
            "body",
            f"is {size} bytes; at most {MAX_BODY_BYTES} bytes (1 MiB) are sent in one request: "
            "send less per call",
            vendor=vendor,
        )


class TransportObserver(Protocol):
    """Told about every attempt; :mod:`airflow_live_provider.metrics` implements it, so the
    transport (and every vendor client) stays free of Airflow. Must not raise."""

    def attempt(
        self,
        vendor: str,
        request: HttpRequest,
        *,
        attempt: int,
        seconds: float,
        error: LiveApiError | None,
        quota_wait: float | None,
    ) -> None: ...


_TOKEN_EPSILON = 1e-9


class RateLimiter:
    """Thread-safe token bucket: ``rate`` requests per second, bursts of at most ``burst``.

    ``sleep`` and ``monotonic`` are injectable so tests can drive a fake clock.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise LiveApiInputError("rate_limit", f"must be > 0 requests/s, got {rate}")
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self._sleep = sleep
        self._monotonic = monotonic
        self._tokens = self.capacity
        self._updated = monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until a token is available; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                # Tolerate float dust: refilling by exactly the slept time can leave 0.999999999999
                # tokens and ask for a sleep below the clock's resolution, forever.
                if self._tokens >= 1 - _TOKEN_EPSILON:
                    self._tokens -= 1
                    return waited
                delay = (1 - self._tokens) / self.rate
            self._sleep(delay)
            waited += delay


def resolve_base_url(host: str | None, default_host: str, *, field_name: str = "host") -> str:
    """Turn a connection's host into a base URL.

    A bare host name means HTTPS (``api.polyv.net``); a full URL keeps its scheme and port
    (``http://127.0.0.1:8999``), which is how tests and the demo reach the simulator.
    """
    if host is not None and not isinstance(host, str):
        raise LiveApiInputError(field_name, f"must be text, got {type(host).__name__}")
    value = (host or "").strip() or default_host
    if not value.isprintable() or any(ch.isspace() for ch in value):
        raise LiveApiInputError(
            field_name, "contains a space or a control character (a line break?); remove it"
        )
    if "://" not in value:
        if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:/", value):
            raise LiveApiInputError(
                field_name,
                "looks like a URL with a '/' missing after the scheme; write e.g. 'http://127.0.0.1:8999'",
            )
        value = f"https://{value}"
    if "@" in value.partition("://")[2].partition("/")[0]:
        # Checked first and said without echoing the value: it would hold the password.
        raise LiveApiInputError(
            field_name, "must not contain a user name or password; put credentials in login/password"
        )
    try:
        parts = urlsplit(value)
        port = parts.port  # raises on a port that is not 0-65535 digits
    except ValueError as exc:
        raise LiveApiInputError(
            field_name,
            f"{value!r} is not a valid URL ({exc}); use e.g. {default_host!r} or 'http://127.0.0.1:8999'",
        ) from None
    if port == 0:
        raise LiveApiInputError(field_name, "has port 0; give a TCP port 1-65535 or none")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LiveApiInputError(
            field_name,
            f"{value!r} is not a host name or an http(s) URL; use e.g. {default_host!r} "
            "or 'http://127.0.0.1:8999'",
        )
    if parts.query or parts.fragment:
        raise LiveApiInputError(field_name, "must not contain a query string or fragment")
    if parts.netloc.endswith(":"):
        raise LiveApiInputError(field_name, "ends in ':' with no port; give the port or drop the ':'")
    if "[" in parts.netloc and not _is_ipv6(parts.hostname):
        # urlsplit accepts an RFC 3986 IPvFuture literal ("[v1.x]"): no client can connect to it.
        raise LiveApiInputError(
            field_name,
            "has a bracketed host that is not an IPv6 address (such as [::1]); "
            f"write a host name or an IP address, e.g. {default_host!r} or 'http://[::1]:8999'",
        )
    problem = host_name_problem(parts.hostname)
    if problem:
        raise LiveApiInputError(
            field_name, f"{problem}; use e.g. {default_host!r} or 'http://127.0.0.1:8999'"
        )
    return value.rstrip("/")


def _is_ipv6(host: str) -> bool:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class TransportExtra:
    """One connection extra that tunes the transport; the parser and the UI forms share these."""

    name: str
    label: str
    description: str
    default: float
    integer: bool = False
    #: Where the value goes: a ``Transport`` keyword, or ``retry.<RetryPolicy field>``.
    target: str = ""
    maximum: float = 3600  # ours: past it a task would hang for hours on one call

    @property
    def problem(self) -> str:
        low = "a whole number >= 1" if self.integer else "a number > 0"
        return f"must be {low} and <= {self.maximum:g}"


#: Connection extras every vendor connection understands (all optional).
TRANSPORT_EXTRAS: tuple[TransportExtra, ...] = (
    TransportExtra(
        "connect_timeout",
        "Connect timeout (s)",
        "Seconds to wait for a TCP connection.",
        DEFAULT_CONNECT_TIMEOUT,
        target="connect_timeout",
    ),
    TransportExtra(
        "read_timeout",
        "Read timeout (s)",
        "Seconds to wait for a response.",
        DEFAULT_READ_TIMEOUT,
        target="read_timeout",
    ),
    TransportExtra(
        "max_attempts",
        "Max attempts",
        "Attempts per call, the first included, before a retryable error is raised.",
        RetryPolicy.max_attempts,
        integer=True,
        target="retry.max_attempts",
        maximum=20,
    ),
    TransportExtra(
        "total_retry_seconds",
        "Total retry time (s)",
        "Bound on requests plus backoff sleeps across all attempts of one call.",
        RetryPolicy.total_seconds,
        target="retry.total_seconds",
        maximum=86_400,
    ),
)


def transport_settings(
    host: str | None,
    port: int | str | None,
    extra: Mapping[str, Any],
    *,
    default_host: str,
    field_prefix: str,
    known_extras: Sequence[str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Base URL and ``Transport`` keyword arguments from connection fields, validated up front.

    ``known_extras`` (every extra the connection type has, transport ones included): any other
    key is refused with the closest known one, since a misspelt ``read_timout`` would otherwise
    be ignored silently.

    Lives here, not in the hooks, so hooks know nothing of HTTP. Errors name the connection
    field (``f"{field_prefix}.host"``, ``f"{field_prefix}.extra.read_timeout"``) so the user
    knows what to fix. The port field is used whether the host is a bare name or a URL; a port
    in both that differs is refused, never silently dropped.
    """
    problems = InputProblems()
    base_url = problems.check(resolve_base_url, host, default_host, field_name=f"{field_prefix}.host")
    if base_url is not None and port not in (None, "", 0):
        number = problems.check(port_number, port, f"{field_prefix}.port")
        parts = urlsplit(base_url)
        if number is None:
            pass
        elif parts.port is None:
            base_url = urlunsplit(parts._replace(netloc=f"{parts.netloc}:{number}"))
        elif parts.port != number:
            problems.add(
                f"{field_prefix}.port", f"is {number} but the host already says port {parts.port}; keep one"
            )
    options: dict[str, Any] = {}
    retry: dict[str, Any] = {}
    if known_extras is not None:
        for key in extra:
            if key not in known_extras:
                problems.add(
                    f"{field_prefix}.extra.{key}",
                    f"is not an extra of this connection type; {did_you_mean(str(key), known_extras)}",
                )
    for spec in TRANSPORT_EXTRAS:
        raw = extra.get(spec.name)
        if raw is None or raw == "":
            continue
        value = problems.check(_extra_number, raw, spec, f"{field_prefix}.extra.{spec.name}")
        if value is None:
            continue
        target, _, retry_field = spec.target.partition("retry.")
        if retry_field:
            retry[retry_field] = value
        else:
            options[target] = value
    if problems.errors:
        raise ConnectionProblemsError(problems.errors)
    if retry:
        options["retry"] = RetryPolicy(**retry)
    assert base_url is not None
    return base_url, options


class ConnectionProblemsError(LiveApiInputError):
    """Several bad connection fields at once (the hook adds its own and reports them together)."""

    def __init__(self, errors: list[LiveApiInputError]) -> None:
        self.errors = errors
        super().__init__(
            errors[0].field if len(errors) == 1 else "connection", "; ".join(str(e) for e in errors)
        )


def _extra_number(value: Any, spec: TransportExtra, field_name: str) -> float | int:
    """A positive number (or whole number >= 1) from an extra that may be a JSON number or text."""
    number: float | None
    try:
        number = None if isinstance(value, bool) else float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int of 400+ digits
        number = None
    if number is None or number != number or number in (float("inf"), float("-inf")):
        raise LiveApiInputError(field_name, f"{spec.problem}, got {shown(value)}")
    if number > spec.maximum:
        raise LiveApiInputError(field_name, f"{spec.problem}, got {shown(value)}")
    if spec.integer:
        if not number.is_integer() or number < 1:
            raise LiveApiInputError(field_name, f"{spec.problem}, got {shown(value)}")
        return int(number)
    if number <= 0:
        raise LiveApiInputError(field_name, f"{spec.problem}, got {shown(value)}")
    return number


#: Ours: ``"0" * 5000`` is digits too, and ``int()`` of it raises past 4,300 digits.
_MAX_PORT_DIGITS = 5


def port_number(value: Any, field_name: str) -> int:
    """A TCP port 1-65535: an int, or ASCII digits (a form, a template). A fraction (``8080.5``,
    ``"1.9"``) is refused, never truncated; so are ``true`` (Python's ``int(True)`` is 1),
    ``NaN`` and ``1e400``."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        digits = value.strip()
        if digits.isascii() and digits.isdigit() and len(digits) <= _MAX_PORT_DIGITS:
            number = int(digits)
    if number is None or not 1 <= number <= 65535:
        got = f"a {type(value).__name__} ({value})" if isinstance(value, bool) else shown(value)
        raise LiveApiInputError(field_name, f"must be a whole-number TCP port 1-65535 (e.g. 8443), got {got}")
    return number


def _exhausted(error: LiveApiError, how: str) -> LiveApiError:
    """The last error, saying that retrying stopped and why (it stays retryable: a later task
    try may succeed)."""
    error.message = f"{error.message} (retries exhausted {how})"
    return error


def retry_after_seconds(response: requests.Response) -> float | None:
    """``Retry-After`` in seconds, from either form RFC 9110 allows (seconds or an HTTP date); None
    when absent or not a finite time (``inf``, ``nan``)."""
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:  # "inf" and "nan" parse as floats: no usable wait
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# -- hostile answers: a deadline on the whole answer, a cap on its size, JSON we can handle ---------
class _Watchdog:
    """One daemon thread for the whole process that runs each armed action at its moment (a
    ``threading.Timer`` per attempt would start a thread per request)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Attempt]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, when: float, attempt: _Attempt) -> None:
        with self._cond:
            # Wake the thread only if this moment comes before the one it waits for: deadlines
            # mostly arrive in order, so a request costs a heap push, not a thread switch.
            sooner = not self._heap or when < self._heap[0][0]
            heapq.heappush(self._heap, (when, next(self._order), attempt))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="live-transport-watchdog", daemon=True)
                self._thread.start()
            elif sooner:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)  # finished in time: dropped lazily
                if not self._heap:
                    self._cond.wait()
                    continue
                when = self._heap[0][0]
                wait = when - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                attempt = heapq.heappop(self._heap)[2]
            attempt.expire()


_WATCHDOG = _Watchdog()
_CURRENT = threading.local()


class _Attempt:
    """One attempt's answer deadline. The connection reports its socket once the request is
    sent (:meth:`watch`); if the answer is not complete ``seconds`` later, the socket is shut
    down, which ends any blocked read: a per-read timeout alone lets a trickled answer (one byte
    every 0.5 s) run forever."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds  # refined when the request has been sent
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.expired = False
        self.done = False
        self._armed = False

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            if self.done:
                return
            self._sock = sock
            if not self._armed:
                self._armed = True
                self.deadline = time.monotonic() + self.seconds
                _WATCHDOG.arm(self.deadline, self)
            if self.expired:
                self._shutdown()

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            try:
                # socket.socket's own shutdown even for TLS: SSLSocket.shutdown drops its SSL
                # object under the reading thread's feet.
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def overdue(self) -> bool:
        return self.expired or time.monotonic() > self.deadline

    def finish(self) -> None:
        with self._lock:
            self.done = True
            self._sock = None


_ADAPTER_CLASS: Any = None


def _guarded_adapter_class() -> Any:
    """An ``HTTPAdapter`` whose connections report their socket to the current :class:`_Attempt`
    (built on first use: ``requests`` is imported lazily)."""
    global _ADAPTER_CLASS
    if _ADAPTER_CLASS is not None:
        return _ADAPTER_CLASS
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def report(conn: Any) -> None:
        attempt = getattr(_CURRENT, "attempt", None)
        if attempt is not None:
            attempt.watch(conn.sock)

    class GuardedHTTPConnection(HTTPConnection):
        def getresponse(self) -> Any:  # the request is sent: the answer's clock starts
            report(self)
            return super().getresponse()

    class GuardedHTTPSConnection(HTTPSConnection):
        def getresponse(self) -> Any:
            report(self)
            return super().getresponse()

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    pools = {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools

        def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:  # HTTPS_PROXY from the env
            manager = super().proxy_manager_for(proxy, **kwargs)
            if type(manager).__name__ == "ProxyManager":  # not SOCKS: its pools are its own
                manager.pool_classes_by_scheme = pools
            return manager

    _ADAPTER_CLASS = GuardedAdapter
    return GuardedAdapter


def _seconds(value: float) -> str:
    """``2``, ``0.1``, ``120``: seconds as people write them."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


class _AnswerUnreadable(Exception):
    """The answer could not be read whole: too slow or too big (``reason`` says which)."""

    def __init__(self, reason: str, *, too_big: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_big = too_big


def _read_body(response: requests.Response, attempt: _Attempt, limit: int) -> None:
    """Read the whole answer into ``response`` (so ``parse`` may call ``.content``/``.json()``),
    within the attempt's deadline and at most ``limit`` decoded bytes."""
    declared = response.headers.get("Content-Length", "")
    if declared.strip().isdigit() and int(declared) > limit:
        raise _AnswerUnreadable(f"declares {int(declared)} bytes, more than the {limit} read", too_big=True)
    body = bytearray()
    for chunk in response.iter_content(_BODY_CHUNK):
        body += chunk
        if len(body) > limit:
            raise _AnswerUnreadable(f"is larger than the {limit} bytes read", too_big=True)
        if attempt.overdue():
            break
    if attempt.overdue():
        raise _AnswerUnreadable(f"was not complete within {_seconds(attempt.seconds)} s")
    response._content = bytes(body)
    response._content_consumed = True  # type: ignore[attr-defined]


#: What a parser may raise on an answer it did not foresee (a list where a dict belongs...).
_PARSE_CRASHES = (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError, RecursionError)


class _SendFailed(Exception):
    """One attempt failed before ``parse`` could see an answer."""

    def __init__(self, error: LiveApiError, status: str, *, not_sent: bool = False) -> None:
        super().__init__(error.message)
        self.error = error
        self.status = status
        self.not_sent = not_sent


class _JsonProblem(ValueError):
    pass


_JSON_SCALARS = frozenset((str, int, float, bool, type(None)))
_JSON_CONTAINERS = (dict, list)


def _too_deep(value: Any, limit: int) -> bool:
    """Nesting deeper than ``limit``, found without recursion."""
    # Run on every answer (a 100-account page has 2,000 values): scalars are skipped by a set
    # lookup of their exact type, and ``(dict, list)`` is a tuple (``dict | list`` built a union
    # per value): 3x faster than before.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        deeper = depth + 1
        stack.extend(
            [
                (child, deeper)
                for child in children
                if type(child) not in _JSON_SCALARS and isinstance(child, _JSON_CONTAINERS)
            ]
        )
    return False


def json_body(response: requests.Response, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The answer's JSON, or ``ValueError`` saying what is wrong with it.

    Stricter than ``response.json()``: nesting deeper than ``max_depth`` is refused (deeper JSON
    raised ``RecursionError``, not ``ValueError``, and would crash recursive code later). Like
    Python's ``json``, ``NaN``, ``Infinity`` and ``1e999`` (``inf``) are read as floats: one odd
    informational field must not fail a whole page, so every number the provider relies on is
    checked where it is used (:mod:`airflow_live_provider.vendors.shapes`).
    """
    try:
        value = json.loads(response.content)
    except RecursionError:
        raise _JsonProblem(f"is nested deeper than {max_depth} levels") from None
    except _JsonProblem:
        raise
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an int of 5,000 digits
        raise _JsonProblem(f"is not JSON ({type(exc).__name__})") from None
    if isinstance(value, dict | list) and _too_deep(value, max_depth):
        raise _JsonProblem(f"is nested deeper than {max_depth} levels")
    return value


class Transport:
    """Session + retries + rate limit for one vendor client."""

    #: Set by the hooks layer when Airflow's metrics are on; None costs one comparison per attempt.
    observer: TransportObserver | None = None

    def __init__(
        self,
        vendor: str,
        base_url: str,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        pool_size: int = 16,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        secrets: Callable[[], Iterable[str | None]] | None = None,
    ) -> None:
        """``secrets`` returns the client's credentials (read at each error, so tokens fetched
        later count too): their values are scrubbed from every error ``parse`` raises."""
        self.vendor = vendor
        self.max_body_bytes = max_body_bytes
        self._secrets = secrets
        # Injectable so tests assert the sleeps the policy asks for, not wall time.
        self._sleep = sleep
        self._monotonic = monotonic
        self.base_url = base_url.rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.retry = retry or RetryPolicy()
        self.rate_limiter = rate_limiter
        #: Monotonic time after which no call may keep retrying (see :meth:`give_up_at`).
        self._give_up_at: float | None = None
        import requests

        self.session = requests.Session()
        adapter = _guarded_adapter_class()(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = USER_AGENT
        # The signed Host header must equal what is sent: port only when not the default.
        parts = urlsplit(self.base_url)
        default_port = {"http": 80, "https": 443}[parts.scheme]
        self.host_header = parts.hostname if parts.port in (None, default_port) else parts.netloc
        self.host_header = self.host_header or ""

    def close(self) -> None:
        self.session.close()

    def deadline(self) -> float:
        """When a call starting now must give up: now + the policy's total time, or the moment
        set with :meth:`give_up_at` if that comes first."""
        own = self._monotonic() + self.retry.total_seconds
        return own if self._give_up_at is None else min(own, self._give_up_at)

    def give_up_at(self, epoch_seconds: float | None) -> None:
        """Stop retrying any call at this wall-clock moment (None: no such bound).

        For calls that are useless after a moment: a token for an event that has started. The
        call then fails while there is still time to act, instead of succeeding too late.
        """
        self._give_up_at = (
            None if epoch_seconds is None else self._monotonic() + (epoch_seconds - time.time())
        )

    def request(
        self,
        build: Callable[[], HttpRequest],
        parse: Callable[[requests.Response], tuple[T, str | None]],
        *,
        idempotent: bool = True,
        rate_limiter: RateLimiter | None = None,
        deadline: float | None = None,
    ) -> T:
        """Send ``build()`` until ``parse`` accepts the response or retrying stops making sense.

        ``idempotent=False`` (a create): only failures that prove the request was not processed
        (throttling, a refused connection) are resent here. Anything ambiguous (reset, read
        timeout, 5xx) is raised with ``retryable=True`` so the caller can read state first.
        ``deadline`` (from :meth:`deadline`) lets a caller that sends a call twice (a fresh
        timestamp, a fresh token) keep both within one time budget.
        """
        policy = self.retry
        limiter = rate_limiter or self.rate_limiter
        own_deadline = self.deadline()
        deadline = own_deadline if deadline is None else min(deadline, own_deadline)
        attempt = 0
        while True:
            attempt += 1
            waited = limiter.acquire() if limiter is not None else None
            req = build()
            check_request(req, self.vendor)
            started = self._monotonic()
            remaining = max(0.1, deadline - started)
            status: int | str = "-"
            request_id: str | None = None
            error: LiveApiError
            try:
                response = self._send(req, remaining)
            except _SendFailed as failed:
                error, status = failed.error, failed.status
                resendable = error.retryable and (idempotent or failed.not_sent)
            else:
                status = response.status_code
                try:
                    value, request_id = parse(response)
                except LiveApiError as exc:
                    error = self.scrub_error(exc)
                    request_id = exc.request_id
                    if exc.retry_after is None and exc.retryable:
                        exc.retry_after = retry_after_seconds(response)
                    resendable = exc.retryable and (idempotent or isinstance(exc, LiveApiRateLimitError))
                except _PARSE_CRASHES as exc:
                    # A vendor answer our parser did not foresee: a clear error, never a crash.
                    error = LiveApiResponseError(
                        f"{req.method} {req.path} answered in a shape that could not be read "
                        f"({type(exc).__name__})",
                        vendor=self.vendor,
                        http_status=response.status_code,
                    )
                    resendable = False
                else:
                    self._log(req, status, started, request_id, attempt, waited)
                    return value
            self._log(req, status, started, request_id, attempt, waited, error)
            if not resendable:
                raise error
            if attempt >= policy.max_attempts:
                raise _exhausted(error, f"after {attempt} attempts (max_attempts={policy.max_attempts})")
            delay = error.retry_after if error.retry_after is not None else policy.backoff(attempt)
            if self._monotonic() + delay >= deadline:
                raise _exhausted(
                    error,
                    f"after {attempt} attempt(s): the next would pass the time budget "
                    "(total_retry_seconds, or the event's start)",
                )
            self._sleep(delay)

    def _send(self, req: HttpRequest, remaining: float) -> requests.Response:
        """One attempt: the request, and its whole answer read within ``read_timeout`` (and the
        ``remaining`` time budget) and within ``max_body_bytes``. Raises :class:`_SendFailed`."""
        import requests

        guard = _Attempt(min(self.read_timeout, remaining))
        _CURRENT.attempt = guard
        response: requests.Response | None = None
        try:
            response = self.session.request(
                req.method,
                self.base_url + req.path,
                params=req.params,
                data=req.data,
                headers=dict(req.headers),
                timeout=(min(self.connect_timeout, remaining), min(self.read_timeout, remaining)),
                allow_redirects=False,
                stream=True,  # read below, against the deadline and the size cap
            )
            _read_body(response, guard, self.max_body_bytes)
            return response
        except _AnswerUnreadable as exc:
            raise _SendFailed(self._unreadable(req, exc.reason, too_big=exc.too_big), "unreadable") from None
        except (requests.RequestException, OSError) as exc:
            if guard.expired:  # the watchdog cut the socket: say so, not "ConnectionError"
                raise _SendFailed(
                    self._unreadable(req, f"was not complete within {_seconds(guard.seconds)} s"), "deadline"
                ) from None
            # Only the exception class name: its text can contain the full URL and query.
            not_sent = isinstance(exc, requests.ConnectTimeout) or _is_refused(exc)
            error = LiveApiConnectionError(
                f"{req.method} {req.path} failed: {type(exc).__name__}", vendor=self.vendor, retryable=True
            )
            raise _SendFailed(error, type(exc).__name__, not_sent=not_sent) from None
        finally:
            guard.finish()
            _CURRENT.attempt = None
            if response is not None and not getattr(response, "_content_consumed", False):
                response.close()  # a half-read connection must not go back to the pool

    def _unreadable(self, req: HttpRequest, reason: str, *, too_big: bool = False) -> LiveApiConnectionError:
        """Answer cut short by us: the vendor may have acted on the request (ambiguous for a create)."""
        limit = "max_body_bytes" if too_big else "read_timeout or total_retry_seconds"
        return LiveApiConnectionError(
            f"{req.method} {req.path} failed: the answer {reason} ({limit}); stopped reading it",
            vendor=self.vendor,
            code="answer_too_large" if too_big else "answer_too_slow",
            retryable=not too_big,  # the same oversized answer would come again
        )

    def scrub_error(self, error: LiveApiError) -> LiveApiError:
        """``error`` with every credential value of this client replaced (message, code, request id)."""
        if self._secrets is not None:
            error.scrub(tuple(self._secrets()))
        return error

    def scrub(self, text: str) -> str:
        """``text`` without this client's credential values (for vendor text outside ``parse``)."""
        return text if self._secrets is None else scrub(text, tuple(self._secrets()))

    def _log(
        self,
        req: HttpRequest,
        status: int | str,
        started: float,
        request_id: str | None,
        attempt: int,
        waited: float | None,
        error: LiveApiError | None = None,
    ) -> None:
        seconds = self._monotonic() - started
        log.info(
            "%s %s %s -> %s in %.0f ms (request_id=%s, attempt=%d)",
            self.vendor,
            req.method,
            req.path,
            status,
            seconds * 1000,
            request_id or "-",
            attempt,
        )
        if self.observer is not None:
            self.observer.attempt(
                self.vendor, req, attempt=attempt, seconds=seconds, error=error, quota_wait=waited
            )


RETRYABLE_HTTP_STATUSES = frozenset({429, 500, 502, 503, 504})


def is_retryable_status(status: int) -> bool:
    """HTTP statuses worth another attempt, whatever the vendor."""
    return status in RETRYABLE_HTTP_STATUSES


def _is_refused(exc: BaseException) -> bool:
    """A refused connection never reached the server, so resending a create is safe."""
    seen: list[BaseException] = [exc]
    for current in seen:
        if isinstance(current, ConnectionRefusedError):
            return True
        if len(seen) > 12:
            break
        for nxt in (
            current.__cause__,
            current.__context__,
            getattr(current, "reason", None),
            *(arg for arg in current.args if isinstance(arg, BaseException)),
        ):
            if isinstance(nxt, BaseException) and all(nxt is not s for s in seen):
                seen.append(nxt)
    return False
