"""Runs on a queue: ``rpa enqueue`` and the scheduler put one job per account's run on a
Redis queue; ``rpa worker`` processes, on this machine or others, take them (Celery).

``app`` (the Celery application the configuration's ``queue`` makes: where the jobs wait,
how long a vanished worker's job waits before it is handed out again), ``jobs`` (one job:
an account's run in a process of its own, skipped when the ledger shows it done, tried
again when the account is locked or the run's process died), ``enqueue`` (putting jobs on
the queue, one waiting per account, and waiting for their outcomes), ``digest`` (the
fingerprints of the configuration a job carries, so a worker whose file differs does not
run it) and ``worker`` (the ``rpa worker`` process).

The guarantees are the ledger's, not the queue's: a job is acknowledged only when it has
ended (``acks_late``), so a worker that vanishes leaves it to be handed to another, whose
run resumes from the shared PostgreSQL ledger (the reply protocol, the outbox) under the
account's advisory lock. Imports the cross-cutting pieces, the configuration, the ledger
and the run machinery; never Seller Central, ``flows``, the console, the scheduler or the
CLI.
"""

from __future__ import annotations

from rpa.queue.app import TASK_NAME, broker_url, make_app
from rpa.queue.enqueue import Queued, enqueue, wait_for
from rpa.queue.worker import default_name, start_worker

__all__ = ["TASK_NAME", "Queued", "broker_url", "default_name", "enqueue", "make_app",
           "start_worker", "wait_for"]
