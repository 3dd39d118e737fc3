"""``rpa worker``: a Celery worker taking the configuration's runs from the queue.

Its pool is threads: each job's run is a process of its own (:mod:`rpa.queue.jobs`), so a
pool thread only waits on it; ``concurrency`` runs at once (``queue.worker_concurrency``,
else as ``rpa run --all`` works it out for the machine). It takes one job at a time from
Redis (prefetch 1), so a job waits for whichever worker is free first. A SIGTERM (systemd
stopping it) lets the runs in progress end and takes no more; a second one, or SIGQUIT,
stops at once and their jobs go to another worker after the visibility timeout.
"""

from __future__ import annotations

import os
import socket

from rpa.config import Config
from rpa.run.fleet import default_concurrency


def default_name() -> str:
    """A worker's name when none is given: unique on its machine, and naming it."""
    return f"rpa-{os.getpid()}@{socket.gethostname()}"


def start_worker(cfg: Config, *, concurrency: int | None = None, name: str | None = None,
                 loglevel: str = "INFO") -> None:
    """Run a worker until it is stopped (returns then)."""
    from rpa.queue.app import make_app

    assert cfg.queue is not None
    n = concurrency or cfg.queue.worker_concurrency or default_concurrency()
    app = make_app(cfg)
    worker = app.Worker(hostname=name or default_name(), pool="threads", concurrency=n,
                        loglevel=loglevel, quiet=True, without_mingle=True,
                        without_gossip=True, optimization="fair",
                        queues=[cfg.queue.name])
    worker.start()
    code = getattr(worker, "exitcode", 0) or 0
    if code:
        raise SystemExit(code)
