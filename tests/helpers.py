"""Assertions shared by the tests."""

from __future__ import annotations

from typing import Any


def assert_no_secret_in(text: str, *secrets: str) -> None:
    """Fail naming which secret leaked (by position, never by value)."""
    for index, secret in enumerate(secrets):
        assert secret, f"secret #{index} is empty: the test would prove nothing"
        assert secret not in text, f"secret #{index} leaked"


async def first_event(trigger: Any) -> Any:
    """The first event a trigger yields (as the triggerer takes it)."""
    async for event in trigger.run():
        return event
    raise AssertionError("the trigger ended without an event")


def drive(op: Any, context: dict[str, Any] | None = None) -> tuple[Any, list[str]]:
    """Run an operator as Airflow would: execute; on every deferral rebuild the trigger from its
    serialized form (as the triggerer does), run it to its first event and resume the task.
    Returns the task's result and the names of the triggers it waited on."""
    import asyncio

    from airflow.sdk.exceptions import TaskDeferred
    from airflow.sdk.module_loading import import_string

    context = {} if context is None else context
    used: list[str] = []
    step, kwargs = op.execute, {}
    while True:
        try:
            return step(context, **kwargs), used
        except TaskDeferred as deferred:
            classpath, trigger_kwargs = deferred.trigger.serialize()
            used.append(classpath.rsplit(".", 1)[1])
            trigger = import_string(classpath)(**trigger_kwargs)
            event = asyncio.run(first_event(trigger))
            step, kwargs = getattr(op, deferred.method_name), {"event": event.payload}


class WebhookReceiver:
    """A chat webhook on 127.0.0.1:<ephemeral> (threaded ``http.server``): records every request
    (path, query, headers, JSON body) and answers from ``answers`` (status, body), then 200."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.received: list[dict[str, Any]] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                import json
                from urllib.parse import parse_qsl, urlsplit

                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = urlsplit(self.path)
                with receiver._lock:
                    receiver.received.append(
                        {
                            "path": parts.path,
                            "query": dict(parse_qsl(parts.query)),
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "json": json.loads(body or b"null"),
                        }
                    )
                    status, answer = receiver.answers.pop(0) if receiver.answers else (200, {"ok": True})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def assert_refused_before_any_request(server: Any, case: str, call: Any, field: str, fix: str) -> str:
    """``call()`` raises LiveApiInputError naming ``field`` and ``fix``, in a short message, and
    ``server`` (the simulator) received no request; the message, for further checks."""
    import pytest

    from airflow_live_provider.exceptions import LiveApiInputError

    server.clear_requests()
    with pytest.raises(LiveApiInputError) as info:
        call()
    message = str(info.value)
    assert field in message, message
    assert fix in message, message
    assert len(message) < 800, "the message must not echo a huge input"
    assert list(server.requests) == [], f"{case}: a request was sent"
    return message
