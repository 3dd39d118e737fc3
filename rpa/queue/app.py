"""The Celery application of a configuration's ``queue``: Redis as the broker and as the
store of the jobs' outcomes, one task (an account's run), and the settings that make a
job survive its worker.

- ``task_acks_late`` and ``task_reject_on_worker_lost``: a job leaves the queue when it
  has ended, not when a worker took it, so one whose worker died is handed out again.
- ``worker_prefetch_multiplier`` 1: a worker holds no job it cannot start, so a free
  worker elsewhere gets it.
- ``visibility_timeout``: how long Redis waits for a taken job's end before giving it to
  another worker; longer than the longest run. Redis looks for such jobs every
  ``unacked_restore_interval`` (a quarter of it, at most a minute).
- JSON only: a job is the account's name, its flows and whether it is a dry run; never a
  secret, never a pickled object another machine would run.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from celery import Celery

from rpa.config import Config, secret
from rpa.errors import ConfigError

TASK_NAME = "rpa.run_account"


def broker_url(cfg: Config) -> str:
    """The Redis URL with its password from ``queue.password_env`` (never logged: the
    redaction registry gets it)."""
    q = cfg.queue
    if q is None:
        raise ConfigError("no queue is configured (queue: {broker_url: redis://...})",
                          file=cfg.source, key="queue")
    if not q.password_env:
        return q.broker_url
    password = secret(q.password_env, source=cfg.source, key="queue.password_env")
    from rpa import redact

    redact.register(password)
    parts = urlsplit(q.broker_url)
    user = quote(parts.username, safe="") if parts.username else ""
    host = parts.hostname or ""
    netloc = f"{user}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port
                                                            else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def transport_options(visibility_timeout_s: int) -> dict[str, Any]:
    """Redis's settings for taken jobs: how long until one is handed out again, and how
    often that is looked for."""
    return {"visibility_timeout": visibility_timeout_s,
            "unacked_restore_interval": max(1, min(60, visibility_timeout_s // 4)),
            "unacked_restore_throttle": 1}


def make_app(cfg: Config) -> Celery:
    """The application: its broker and result store the configured Redis, the run task
    registered (:mod:`rpa.queue.jobs`)."""
    q = cfg.queue
    url = broker_url(cfg)
    assert q is not None  # broker_url raised otherwise
    app = Celery("rpa", broker=url, backend=url, set_as_current=False)
    options = transport_options(q.visibility_timeout_s)
    app.conf.update(
        task_default_queue=q.name,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_serializer="json", result_serializer="json", accept_content=["json"],
        broker_transport_options=options,
        result_backend_transport_options=options,
        result_expires=7 * 86400,
        result_extended=True,
        task_track_started=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_connection_retry_on_startup=True,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        enable_utc=True,
    )
    from rpa.queue.jobs import register

    register(app, cfg)
    return app
