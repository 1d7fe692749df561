"""One local HTTP server that speaks the three vendors' APIs on one port.

Each vendor module (``polyv``, ``volcengine``, ``isdp``) owns its state and registers routes;
this module owns the socket, routing, the request log and fault injection. It binds 127.0.0.1
only: it is a test double, never a service to expose.
"""

from __future__ import annotations

import ipaddress
import json
import random
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from airflow_live_provider.simulator.base import Handler, SimRequest, SimResponse
from airflow_live_provider.simulator.isdp import IsdpSimulator
from airflow_live_provider.simulator.polyv import PolyvSimulator
from airflow_live_provider.simulator.volcengine import VolcengineSimulator

__all__ = ["FAULT_KINDS", "HOSTILE_FAULT_KINDS", "Handler", "SimRequest", "SimResponse", "SimulatorServer"]

#: Transient faults a client must ride out (random fault soaks draw from these).
FAULT_KINDS = ("429", "503", "reset", "lost_after_commit")
#: Hostile answers (the request is processed, the answer is not what a client expects): a client
#: must fail clearly and in bounded time. Scheduled with ``faults.add(kind)`` only.
HOSTILE_FAULT_KINDS = (
    "trickle",  # the real answer, one byte every TRICKLE_SECONDS
    "trickle_headers",  # the status line and headers, one byte every TRICKLE_SECONDS
    "endless",  # HTTP 200 with a chunked body that never ends
    "not_json",  # HTTP 200, an HTML page
    "deep_json",  # HTTP 200, JSON nested 100,000 levels
    "huge_number",  # HTTP 200, JSON holding 1e999
)
#: Seconds between two bytes of a trickled answer.
TRICKLE_SECONDS = 0.5
#: An endless body stops anyway after this many bytes (a client without a cap would read on).
ENDLESS_LIMIT_BYTES = 2 * 1024 * 1024 * 1024
#: The canned bodies of the malformed-answer faults.
MALFORMED_BODIES = {
    "not_json": b"<html><body>502 Bad Gateway</body></html>",
    "deep_json": b"[" * 100_000 + b"]" * 100_000,
    "huge_number": b'{"code": 200, "status": "success", "data": {"totalPages": 1e999}, "value": 1e999}',
}


@dataclass
class Fault:
    kind: str
    path_prefix: str = ""
    remaining: int = 1
    retry_after: float | None = None


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int | str
    #: ``time.monotonic()`` when it was answered (requests-per-interval counts).
    at: float = field(default_factory=time.monotonic)


class FaultInjector:
    """Scheduled faults (the next N matching requests) and a seeded random fault rate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scheduled: list[Fault] = []
        self.rate = 0.0
        self.kinds: tuple[str, ...] = FAULT_KINDS
        self.rate_path_prefix = ""
        self._random = random.Random(0)
        self.injected: list[tuple[str, str]] = []

    def add(self, kind: str, *, path: str = "", times: int = 1, retry_after: float | None = None) -> None:
        if kind not in FAULT_KINDS + HOSTILE_FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; choose from {FAULT_KINDS + HOSTILE_FAULT_KINDS}")
        with self._lock:
            self._scheduled.append(Fault(kind, path, times, retry_after))

    def set_random(
        self, rate: float, *, kinds: tuple[str, ...] = FAULT_KINDS, seed: int = 0, path: str = ""
    ) -> None:
        """Fail ``rate`` of matching requests with a fault drawn from ``kinds`` (0 disables)."""
        with self._lock:
            self.rate, self.kinds, self.rate_path_prefix = rate, kinds, path
            self._random = random.Random(seed)

    def clear(self) -> None:
        with self._lock:
            self._scheduled.clear()
            self.rate = 0.0

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._scheduled:
                if path.startswith(fault.path_prefix) and fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._scheduled.remove(fault)
                    self.injected.append((fault.kind, path))
                    return fault
            if self.rate and path.startswith(self.rate_path_prefix) and self._random.random() < self.rate:
                fault = Fault(self._random.choice(self.kinds), path)
                self.injected.append((fault.kind, path))
                return fault
        return None


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost; ``""`` and ``0.0.0.0`` mean every interface: not loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _IPv4Server(ThreadingHTTPServer):
    #: Connections waiting to be accepted (socketserver's 5 made sequential connects stall ~1 s).
    request_queue_size = 128


class _IPv6Server(_IPv4Server):
    address_family = socket.AF_INET6


CONNECTION_TIMEOUT = 30.0


class SimulatorServer:
    """The server; ``polyv``, ``volcengine`` and ``isdp`` hold each vendor's state."""

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        seed_demo: bool = True,
        allow_non_loopback: bool = False,
    ) -> None:
        if not is_loopback(host) and not allow_non_loopback:
            raise ValueError(
                f"the simulator binds loopback only, not {host!r} (allow_non_loopback is for containers)"
            )
        self.host = host
        self.faults = FaultInjector()
        #: Seconds added to the simulator's clock: a positive skew makes clients look late.
        self.clock_skew = 0.0
        #: Seconds every request waits before it is answered: a vendor's round trip over the
        #: internet (requests are served concurrently, so it costs latency, not throughput).
        self.latency = 0.0
        self.requests: deque[LoggedRequest] = deque(maxlen=200_000)
        self._log_lock = threading.Lock()
        #: Requests being served right now, and the most at once (tests check concurrency with it).
        self.in_flight = 0
        self.max_in_flight = 0
        self.polyv = PolyvSimulator(self)
        self.volcengine = VolcengineSimulator(self)
        self.isdp = IsdpSimulator(self)
        self.routes: dict[tuple[str, str], Handler] = {}
        for vendor in (self.polyv, self.volcengine, self.isdp):
            self.routes.update(vendor.routes())
            if seed_demo:
                vendor.seed_demo()
        server_class = _IPv6Server if ":" in host else _IPv4Server
        self._httpd = server_class((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        if ":" in self.host:
            return f"http://[{'::1' if self.host == '::' else self.host}]:{self.port}"
        return f"http://{'127.0.0.1' if self.host in ('', '0.0.0.0', 'localhost') else self.host}:{self.port}"

    def start(self) -> SimulatorServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # shutdown() waits one poll: keep test teardown short
            name="vendor-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def now(self) -> float:
        """The simulator's wall clock (epoch seconds), including any injected skew."""
        return time.time() + self.clock_skew

    # -- inspection ------------------------------------------------------------------------
    def requests_to(self, path: str, method: str | None = None) -> list[LoggedRequest]:
        with self._log_lock:
            return [r for r in self.requests if r.path == path and (method is None or r.method == method)]

    def max_requests_in_window(
        self, predicate: Callable[[LoggedRequest], bool], window_seconds: float
    ) -> int:
        """The most logged requests matching ``predicate`` within any ``window_seconds`` (a
        half-open interval): the "requests per interval" a quota is about."""
        with self._log_lock:
            times = sorted(r.at for r in self.requests if predicate(r))
        best = first = 0
        for last, at in enumerate(times):
            while at - times[first] >= window_seconds:
                first += 1
            best = max(best, last - first + 1)
        return best

    def clear_requests(self) -> None:
        with self._log_lock:
            self.requests.clear()

    def secrets(self) -> list[str]:
        """Every credential the simulator holds or issued (6+ characters), for leak searches."""
        found = {s for vendor in (self.polyv, self.volcengine, self.isdp) for s in vendor.secrets()}
        return sorted(s for s in found if s and len(s) >= 6)

    def connection_env(self, base_url: str | None = None) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` values pointing every default connection at this server."""
        env: dict[str, str] = {}
        for vendor in (self.polyv, self.volcengine, self.isdp):
            for conn_id, conn in vendor.connections(base_url or self.base_url).items():
                env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
        return env

    # -- request handling ------------------------------------------------------------------
    def _dispatch(self, req: SimRequest) -> SimResponse:
        handler = self.routes.get((req.method, req.path))
        if handler is None:
            return SimResponse(404, {"error": f"no simulated endpoint {req.method} {req.path}"})
        try:
            return handler(req)
        except Exception as exc:  # a simulator bug must surface as a 500, not a hang
            return SimResponse(500, {"error": f"simulator error: {type(exc).__name__}: {exc}"})

    def _record(self, req: SimRequest, status: int | str) -> None:
        with self._log_lock:
            self.requests.append(LoggedRequest(req.method, req.path, dict(req.query), status))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            #: Seconds a connection may sit idle or half-sent before its thread is freed.
            timeout = CONNECTION_TIMEOUT

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                return

            def setup(self) -> None:
                super().setup()
                # Headers and body go out as separate writes: without NODELAY, Nagle plus
                # delayed ACK adds ~40 ms to every keep-alive response.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _handle(self) -> None:
                with server._log_lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._serve()
                finally:
                    with server._log_lock:
                        server.in_flight -= 1

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                raw_length = (self.headers.get("Content-Length") or "0").strip()
                if not raw_length.isdigit():
                    self.send_error(400, "Content-Length is not a number")
                    return
                length = int(raw_length)
                body = self.rfile.read(length) if length else b""
                req = SimRequest(
                    method=self.command,
                    path=parts.path,
                    query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    raw_query=parts.query,
                )
                if server.latency > 0:
                    time.sleep(server.latency)
                fault = server.faults.take(req.path)
                if fault is not None and fault.kind == "reset":
                    server._record(req, "reset")
                    self._reset()
                    return
                if fault is not None and fault.kind in ("429", "503"):
                    status = int(fault.kind)
                    headers = (
                        {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                    )
                    server._record(req, status)  # before answering: a test reads the log right after
                    self._send(SimResponse(status, {"error": "injected fault", "code": status}, headers))
                    return
                if fault is not None and fault.kind in MALFORMED_BODIES:
                    server._record(req, fault.kind)
                    self._send(SimResponse(200, MALFORMED_BODIES[fault.kind]))
                    return
                response = server._dispatch(req)
                if fault is not None and fault.kind == "lost_after_commit":
                    server._record(req, "lost")
                    self._reset()
                    return
                server._record(req, response.status if fault is None else fault.kind)
                if fault is not None and fault.kind == "endless":
                    self._send_endless()
                elif fault is not None and fault.kind.startswith("trickle"):
                    self._send(response, trickle=fault.kind)
                else:
                    self._send(response)

            def _send(self, response: SimResponse, trickle: str = "") -> None:
                payload = response.encode()
                self.send_response(response.status)
                headers = {"Content-Type": "application/json; charset=utf-8", **response.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                if trickle == "trickle_headers":
                    buffered: list[bytes] = getattr(self, "_headers_buffer", [])
                    head = b"".join(buffered) + b"\r\n"
                    buffered.clear()
                    self._trickle(head)
                    try:
                        self.wfile.write(payload)
                    except OSError:  # the client gave up, as it should
                        pass
                    return
                self.end_headers()
                if trickle:
                    self._trickle(payload)
                else:
                    self.wfile.write(payload)

            def _trickle(self, data: bytes) -> None:
                """One byte every TRICKLE_SECONDS; stops when the client hangs up."""
                self.close_connection = True
                try:
                    for index in range(len(data)):
                        self.wfile.write(data[index : index + 1])
                        self.wfile.flush()
                        time.sleep(TRICKLE_SECONDS)
                except OSError:
                    pass

            def _send_endless(self) -> None:
                """A chunked body that never ends (until the client hangs up or 2 GB)."""
                self.close_connection = True
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b" " * 65536
                framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
                sent = 0
                try:
                    self.wfile.write(b'a\r\n{"data": "\r\n')  # a 10-byte chunk, then spaces
                    while sent < ENDLESS_LIMIT_BYTES:
                        self.wfile.write(framed)
                        sent += len(chunk)
                except OSError:
                    pass

            def _reset(self) -> None:
                """Close with RST: the client sees a connection reset and no response."""
                self.close_connection = True
                try:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass

            do_GET = _handle
            do_POST = _handle

        return _Handler
