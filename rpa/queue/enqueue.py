"""Putting runs on the queue, and hearing how they ended.

One job of the same flows waits per account at a time: a job put on the queue marks its
account in Redis (``<queue>:waiting:<account>:<flows>``, the job's id) until a worker
starts it, and a second ``rpa enqueue`` or schedule slot of the same flows meanwhile leaves
that account out (the waiting job will do what it would have; a job of other flows, such
as an answer's delivery, is queued), so a backlog never grows a run per slot while
workers are busy or down. The mark expires with the queue's visibility timeout, so a lost
one cannot keep the account off the queue for good.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rpa.config import Config
from rpa.errors import ApplicationError


def unreachable(cfg: Config, err: BaseException) -> ApplicationError:
    """The error for a queue that cannot be reached (its URL without the password)."""
    where = cfg.queue.broker_url if cfg.queue else "?"
    first = str(err).splitlines()[0] if str(err) else ""
    return ApplicationError(f"the queue at {where} cannot be reached "
                            f"({type(err).__name__}: {first}); is Redis running there, and "
                            "queue.password_env right?")


@dataclass(frozen=True)
class Queued:
    """An account's job: its id, or why none was put on the queue (``waiting``: the id of
    the job already waiting for the account)."""

    account: str
    job_id: str | None
    waiting: str | None = None


def _client(cfg: Config) -> Any:
    import redis

    from rpa.queue.app import broker_url

    return redis.Redis.from_url(broker_url(cfg), socket_timeout=10, socket_connect_timeout=10)


def _key(cfg: Config, account: str, flows: list[str] | None, dry_run: bool) -> str:
    """The account's waiting mark for a job of these flows (the same job twice is one; a
    job of other flows, such as an answer's delivery, is another)."""
    assert cfg.queue is not None
    what = ",".join(sorted(flows)) if flows else "routine"
    return f"{cfg.queue.name}:waiting:{account}:{what}{':dry-run' if dry_run else ''}"


def enqueue(cfg: Config, accounts: list[str], *, flows: list[str] | None = None,
            dry_run: bool = False) -> list[Queued]:
    """Put one job per account on the queue, in order (an unknown account is a
    ConfigError before any is queued); an account with a job still waiting gets none."""
    import uuid

    from rpa.queue.app import TASK_NAME, make_app

    for name in accounts:
        cfg.account(name)  # ConfigError naming it
    assert cfg.queue is not None
    from kombu.exceptions import OperationalError
    from redis.exceptions import RedisError

    from rpa.queue.digest import section_digests

    app = make_app(cfg)
    client = _client(cfg)
    digests = section_digests(cfg)
    out: list[Queued] = []
    try:
        try:
            client.ping()
        except RedisError as err:
            raise unreachable(cfg, err) from err
        for name in accounts:
            job_id = str(uuid.uuid4())
            key = _key(cfg, name, flows, dry_run)
            if not client.set(key, job_id, nx=True, ex=cfg.queue.visibility_timeout_s):
                held = client.get(key)
                out.append(Queued(name, None, held.decode() if held else "?"))
                continue
            try:
                app.send_task(TASK_NAME, kwargs={"account": name, "flows": flows,
                                                "dry_run": dry_run, "config": digests},
                              task_id=job_id, queue=cfg.queue.name)
            except OperationalError as err:
                client.delete(key)
                raise unreachable(cfg, err) from err
            except BaseException:
                client.delete(key)
                raise
            out.append(Queued(name, job_id))
    finally:
        client.close()
        app.close()
    return out


def release_waiting(cfg: Config, account: str, flows: list[str] | None, dry_run: bool,
                    job_id: str) -> None:
    """A worker starts ``job_id``: the account may be queued again (only this job's mark
    is removed, never a newer one's)."""
    client = _client(cfg)
    try:
        key = _key(cfg, account, flows, dry_run)
        if client.get(key) == job_id.encode():
            client.delete(key)
    finally:
        client.close()


def wait_for(cfg: Config, job_ids: list[str], *,
             timeout_s: float | None = None) -> dict[str, dict[str, Any]]:
    """Each job's outcome as its worker stored it, waiting (on the result store's
    notices, no polling) until all have ended or ``timeout_s`` has passed; a job not
    ended by then has only its ``state`` (PENDING, STARTED, RETRY)."""
    from celery.exceptions import TimeoutError as CeleryTimeout
    from celery.result import AsyncResult

    from rpa.queue.app import make_app

    app = make_app(cfg)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    out: dict[str, dict[str, Any]] = {}
    try:
        for job_id in job_ids:
            res = AsyncResult(job_id, app=app)
            left = None if deadline is None else max(0.1, deadline - time.monotonic())
            try:
                value = res.get(timeout=left, propagate=False)
            except CeleryTimeout:
                out[job_id] = {"state": res.state}
                continue
            out[job_id] = ({**value, "state": res.state} if isinstance(value, dict)
                           else {"state": res.state, "message": str(value or "")})
    finally:
        app.close()
    return out
