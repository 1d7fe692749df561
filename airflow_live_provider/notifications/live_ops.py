"""``LiveOpsNotifier``: tell the live-ops crew what failed, through a webhook they already have.

One message per failure: which event (and when it starts), which step failed, the vendor's error
(scrubbed of credentials), and links to the run in Airflow and to its run sheet on the Live events
page. It is sent as JSON to the URL of an Airflow **HTTP connection** (conn type ``http``: the
chat or paging webhook a team already keeps there), through the provider's one transport
(timeouts, a bounded retry on throttling or a refused connection, never a second post after an
ambiguous failure). No dependency is added: not the HTTP provider, not a chat SDK.

- ``notify(context)``: task and DAG callbacks (``on_failure_callback=LiveOpsNotifier(...)``).
- ``async_notify(context)``: awaited where Airflow runs async callbacks (a Deadline
  ``AsyncCallback`` in the triggerer); the post runs in a worker thread, off the event loop.

The connection: ``host`` is the webhook URL (``https://hooks.example.com/services/T/B/X``) or a
bare host name (then ``schema`` is the scheme, https by default, and ``endpoint`` the path);
``login``/``password`` become HTTP basic auth when given; ``extra`` may hold ``{"headers": {...}}``.
Other extras are not sent (Airflow's HttpHook would send each as a header). The webhook's path
and query often are its secret: they are registered with the log masker, and no log line or
error of the notifier names them.

The sample DAG ``live_event`` attaches it when ``[live_provider] live_ops_conn_id`` is set
(:func:`airflow_live_provider.notifications.live_ops_failure_callback`, which imports this module
only then: 3.5 ms at every parse otherwise).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from airflow.sdk import BaseNotifier

from airflow_live_provider.exceptions import LiveApiInputError

#: Where the facts are, for the message template: ``{{ live_ops.event }}`` and so on.
CONTEXT_KEY = "live_ops"
DEFAULT_MESSAGE = (
    "Live event {{ live_ops.event }} (starts {{ live_ops.start }}): step {{ live_ops.failed_step }} "
    "failed{% if live_ops.try_number %} (try {{ live_ops.try_number }}){% endif %}.\n"
    "Error: {{ live_ops.error }}\n"
    "Run: {{ live_ops.run_url }}"
    "{% if live_ops.run_sheet_url %}\nRun sheet: {{ live_ops.run_sheet_url }}{% endif %}"
)
#: The JSON bodies of the webhooks teams use: ``generic`` carries the text and every fact (Slack,
#: Mattermost, Rocket.Chat and most incoming webhooks read ``text``).
PAYLOADS = ("generic", "dingtalk", "wecom", "feishu")
#: Ours: the longest error text sent (a vendor message is a line; a traceback is not wanted).
MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class FailureFacts:
    """What a message says, from the callback's context (never a credential)."""

    event: str
    start: str
    failed_step: str
    try_number: int | None
    error: str
    dag_id: str
    run_id: str
    run_url: str
    run_sheet_url: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _get(obj: Any, *names: str) -> Any:
    """The first present attribute or key of ``obj`` (a DagRun object, or the dict a Deadline
    callback gets)."""
    for name in names:
        value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
        if value not in (None, ""):
            return value
    return None


def _start_text(event: Mapping[str, Any]) -> str:
    """``2026-12-01 19:30 Asia/Shanghai (2026-12-01T11:30:00Z)``, or the UTC time alone."""
    from airflow_live_provider.times import parse_instant, utc_iso

    raw = event.get("start")
    if not isinstance(raw, str) or not raw:
        return "unknown"
    try:
        moment = parse_instant(raw)
    except ValueError:
        return raw
    zone = event.get("timezone")
    if isinstance(zone, str) and zone:
        try:
            import pendulum

            local = pendulum.instance(moment).in_timezone(zone)
            return f"{local.format('YYYY-MM-DD HH:mm')} {zone} ({utc_iso(moment)})"
        except Exception:  # an unknown zone: the UTC time is still right
            pass
    return utc_iso(moment)


def error_text(exception: BaseException | None) -> str:
    """The vendor's error as the crew should read it: scrubbed, one paragraph at most."""
    from airflow_live_provider.exceptions import LiveApiError
    from airflow_live_provider.redaction import redact_text

    if exception is None:
        return "none given"
    text = (
        str(exception) if isinstance(exception, LiveApiError) else f"{type(exception).__name__}: {exception}"
    )
    return redact_text(" ".join(text.split()), limit=MAX_ERROR_CHARS)


def failure_facts(context: Mapping[str, Any], base_url: str | None = None) -> FailureFacts:
    """The facts of a failure callback's context (a task's, a DAG's, or a Deadline's)."""
    from airflow_live_provider.events.planner import EVENT_DAG_ID
    from airflow_live_provider.plugins import URL_PREFIX

    dag_run = context.get("dag_run")
    ti = context.get("task_instance") or context.get("ti")
    dag = context.get("dag")
    dag_id = str(_get(dag, "dag_id") or _get(dag_run, "dag_id") or _get(ti, "dag_id") or "unknown")
    run_id = str(context.get("run_id") or _get(dag_run, "run_id", "dag_run_id") or _get(ti, "run_id") or "")
    conf = _get(dag_run, "conf")
    event = conf.get("event") if isinstance(conf, Mapping) else None
    event = event if isinstance(event, Mapping) else {}
    if ti is not None and _get(ti, "task_id"):
        step = str(_get(ti, "task_id"))
        map_index = _get(ti, "map_index")
        if isinstance(map_index, int) and map_index >= 0:
            step += f"[{map_index}]"
        try_number = _get(ti, "try_number")
    elif isinstance(context.get("deadline"), Mapping):
        step = f"the run missed its deadline ({context['deadline'].get('deadline_time')})"
        try_number = None
    else:
        step = f"the run ({context.get('reason') or 'failed'})"
        try_number = None
    if base_url is None:
        from airflow.sdk import conf as airflow_conf

        base_url = airflow_conf.get("api", "base_url", fallback="http://localhost:8080/")
    root = (base_url or "").rstrip("/")
    quoted = quote(run_id, safe="")
    return FailureFacts(
        event=str(event.get("name") or dag_id),
        start=_start_text(event) if event else "not an event run",
        failed_step=step,
        try_number=try_number if isinstance(try_number, int) else None,
        error=error_text(context.get("exception")),
        dag_id=dag_id,
        run_id=run_id,
        run_url=f"{root}/dags/{quote(dag_id, safe='')}/runs/{quoted}",
        run_sheet_url=f"{root}{URL_PREFIX}/runs/{quoted}/sheet"
        if dag_id == EVENT_DAG_ID and run_id
        else None,
    )


def payload_body(payload: str, text: str, facts: FailureFacts) -> dict[str, Any]:
    """The JSON body for the webhook's shape."""
    if payload == "dingtalk" or payload == "wecom":
        return {"msgtype": "text", "text": {"content": text}}
    if payload == "feishu":
        return {"msg_type": "text", "content": {"text": text}}
    return {"text": text, **facts.as_dict()}


class LiveOpsNotifier(BaseNotifier):
    """Post what failed to an HTTP webhook connection (see the module docstring).

    :param http_conn_id: an Airflow connection holding the webhook (conn type ``http``).
    :param endpoint: appended to the connection's URL (path and query), e.g. ``/robot/send``.
    :param message: a Jinja template; ``live_ops`` holds the facts (``event``, ``start``,
        ``failed_step``, ``try_number``, ``error``, ``dag_id``, ``run_id``, ``run_url``,
        ``run_sheet_url``) and the callback's whole context is there too.
    :param payload: the body's shape: ``generic`` (``text`` plus every fact), ``dingtalk``,
        ``wecom`` or ``feishu``.
    :param base_url: the Airflow UI address the links use (default ``[api] base_url``).
    :param timeout: seconds for the webhook to answer (connect and read, each).
    """

    template_fields: Sequence[str] = ("http_conn_id", "endpoint", "message")

    def __init__(
        self,
        *,
        http_conn_id: str,
        endpoint: str = "",
        message: str = DEFAULT_MESSAGE,
        payload: str = "generic",
        base_url: str | None = None,
        timeout: float = 10.0,
        context: Any = None,
    ) -> None:
        if not isinstance(http_conn_id, str) or not http_conn_id.strip():
            raise LiveApiInputError(
                "http_conn_id", "is empty; give the id of an HTTP connection (the webhook)"
            )
        if payload not in PAYLOADS:
            raise LiveApiInputError("payload", f"{payload!r} is not one of {', '.join(PAYLOADS)}")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 300:
            raise LiveApiInputError("timeout", f"must be a number of seconds in (0, 300], got {timeout!r}")
        super().__init__(context=context)
        self.http_conn_id = http_conn_id.strip()
        self.endpoint = endpoint
        self.message = message
        self.payload = payload
        self.base_url = base_url
        self.timeout = float(timeout)
        # Rendering replaces the fields in place; one notifier serves every task of a DAG
        # (default_args), so each message is rendered from these.
        self._templates = {name: getattr(self, name) for name in self.template_fields}

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Put the facts in the context as ``live_ops``, then render the fields afresh."""
        for name, template in self._templates.items():
            setattr(self, name, template)
        context[CONTEXT_KEY] = failure_facts(context, self.base_url)
        super().render_template_fields(context, jinja_env)

    def notify(self, context: Any) -> None:
        facts = context.get(CONTEXT_KEY) or failure_facts(context, self.base_url)
        self.send(payload_body(self.payload, str(self.message), facts))
        self.log.info(
            "Told live ops (%s) that %s failed for %r", self.http_conn_id, facts.failed_step, facts.event
        )

    async def async_notify(self, context: Any) -> None:
        """The same message, posted from a worker thread so the event loop keeps running."""
        await asyncio.to_thread(self.notify, context)

    def send(self, body: Mapping[str, Any]) -> None:
        """POST ``body`` as JSON to the connection's webhook; raises ``LiveApiError`` on failure."""
        import json

        from airflow.sdk import BaseHook

        from airflow_live_provider.redaction import mask_all
        from airflow_live_provider.transport import HttpRequest, RetryPolicy, Transport

        conn = BaseHook.get_connection(self.http_conn_id)
        target = webhook_target(conn, self.endpoint, self.http_conn_id)
        mask_all(target.secrets())
        transport = Transport(
            "live_ops",
            target.url,
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            retry=RetryPolicy(max_attempts=3, total_seconds=3 * self.timeout),
            secrets=target.secrets,
        )
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", **target.headers}

        def build() -> HttpRequest:
            return HttpRequest("POST", "", params=target.query, data=data, headers=headers)

        try:
            with _urllib3_logs_scrubbed(target.secrets()):
                transport.request(build, _parse_webhook_answer, idempotent=False)
        finally:
            transport.close()


class _ScrubSecrets(logging.Filter):
    """urllib3 logs each request line (the webhook's path) at DEBUG: cut the webhook's secrets
    from those records before any handler sees them."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = sorted(secrets, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        from airflow_live_provider.redaction import scrub

        if isinstance(record.args, tuple):
            record.args = tuple(scrub(a, self.secrets) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg, self.secrets)
        return True


@contextmanager
def _urllib3_logs_scrubbed(secrets: Sequence[str]) -> Iterator[None]:
    from airflow_live_provider.transport import URLLIB3_LOGGERS

    guard = _ScrubSecrets(secrets)
    loggers = [logging.getLogger(name) for name in URLLIB3_LOGGERS]
    for logger in loggers:
        logger.addFilter(guard)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(guard)


@dataclass(frozen=True)
class WebhookTarget:
    """The webhook's URL (path included: ``Transport`` logs only the request's own path, which is
    empty here), query and headers. The path, query values and password are its secrets."""

    url: str
    query: dict[str, str]
    headers: dict[str, str]
    password: str | None

    def secrets(self) -> list[str]:
        path = urlsplit(self.url).path
        found = [self.url, path, *self.query.values(), *(p for p in path.split("/") if len(p) >= 8)]
        if self.password:
            found.append(self.password)
        return [s for s in found if s]


def webhook_target(conn: Any, endpoint: str, conn_id: str) -> WebhookTarget:
    """The webhook from an HTTP connection (and ``endpoint``), checked before anything is sent.
    Errors name the field and never echo the URL's path or query (they are the secret)."""
    import base64

    from airflow_live_provider.hooks.base import connection_extra
    from airflow_live_provider.transport import resolve_base_url

    host = (conn.host or "").strip()
    if not host:
        raise LiveApiInputError(f"{conn_id}.host", "is empty; give the webhook URL (https://...)")
    if "://" not in host:
        scheme = (conn.schema or "https").strip().lower()
        host = f"{scheme}://{host}"
    parts = urlsplit(host)
    base = resolve_base_url(f"{parts.scheme}://{parts.netloc}", "", field_name=f"{conn_id}.host")
    if conn.port and urlsplit(base).port is None:
        base = f"{base}:{int(conn.port)}"
    rest = urlsplit((endpoint or "").strip())
    if rest.scheme or rest.netloc:
        raise LiveApiInputError("endpoint", "must be a path (and query) to add to the connection's URL")
    path = parts.path.rstrip("/")
    if rest.path:
        path = f"{path}/{rest.path.lstrip('/')}"
    if not path.isprintable() or any(ch.isspace() for ch in path):
        raise LiveApiInputError(f"{conn_id}.host", "the URL's path contains a space or a control character")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(parse_qsl(rest.query, keep_blank_values=True))
    extra = connection_extra(conn.extra, f"{conn_id}.extra")
    headers = extra.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise LiveApiInputError(
            f"{conn_id}.extra.headers", 'must be a JSON object of text, e.g. {"X-Team": "live"}'
        )
    headers = dict(headers)
    if conn.login and conn.password:
        pair = f"{conn.login}:{conn.password}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    return WebhookTarget(url=base + path, query=query, headers=headers, password=conn.password or None)


def _parse_webhook_answer(response: Any) -> tuple[None, str | None]:
    """2xx is delivered, unless the body is a chat API's refusal (DingTalk/WeCom ``errcode``,
    Feishu ``code`` not 0). Messages carry the status and the service's own code and text only."""
    from airflow_live_provider.exceptions import LiveApiError, LiveApiRateLimitError
    from airflow_live_provider.transport import is_retryable_status, json_body

    status = response.status_code
    if status == 429:
        raise LiveApiRateLimitError(
            "the webhook throttled the notification (HTTP 429)", vendor="live_ops", http_status=429
        )
    if status >= 300:
        raise LiveApiError(
            f"the webhook answered HTTP {status}",
            vendor="live_ops",
            http_status=status,
            retryable=is_retryable_status(status),
        )
    try:
        answer = json_body(response) if response.content else None
    except ValueError:
        answer = None
    if isinstance(answer, Mapping):
        code = answer.get("errcode", answer.get("code", answer.get("StatusCode")))
        if isinstance(code, int) and not isinstance(code, bool) and code != 0:
            text = str(answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage") or "")[:200]
            raise LiveApiError(
                f"the webhook refused the notification: {text or 'no reason given'}",
                vendor="live_ops",
                code=code,
                http_status=status,
            )
    return None, None
