"""One job: an account's run, taken from the queue by a worker.

The run is the one ``rpa run --all`` makes (:func:`rpa.run.fleet.run_in_child`): a process
of its own, its own Chromium, the account's advisory lock in the shared ledger. The job
adds what a queue needs:

- **Done is the ledger's word.** Every run of a job carries the job's id in the ledger's
  ``runs`` row. A job handed out again (its worker vanished after the run ended, before
  the queue heard) finds a finished run of itself and ends without running again. One
  whose run was cut short runs afresh, and the run resumes from the ledger: a reply
  recorded as being sent is settled from the page, a text left half-sent goes once more.
- **Tried again, not dropped.** A run refused by the account's lock (another run of it
  is going, or a killed worker's session has not yet let go), whose process died, or
  whose job could not look at the ledger (the database out of reach) is
  tried again ``queue.retry_delay_s`` later, up to ``queue.max_attempts`` in all; then
  the owner is texted, as after any run that did not finish cleanly. A job handed out
  again while its first run still goes (a run longer than the visibility timeout) finds
  the account locked by a run of itself: it waits, uncounted, for that run to end or die,
  and never takes the job off the queue meanwhile (its first delivery is no longer
  there to come back).
- **Dies with its worker.** The run's process is killed with its worker (the kernel's
  parent-death signal): a worker that vanishes leaves no run going on unseen, its lock is
  let go with its database session, and the job goes to another worker.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from celery.exceptions import Retry
from loguru import logger

from rpa.config import Config, check_secrets
from rpa.errors import ConfigError, RunLocked
from rpa.ledger import advisory_lock
from rpa.queue.digest import differing
from rpa.run.fleet import Job, Outcome, run_in_child
from rpa.run.orchestrator import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_LEDGER,
    exit_code_of,
    text_owner,
)
from rpa.run.storage import ledger_place, open_ledger

# Outcomes that call for another attempt: the account was locked, the run's process died.
RETRIED = ("locked", "crashed")


def register(app: Celery, cfg: Config) -> None:
    """Register the run task on ``app``; its jobs run with ``cfg`` (the worker's)."""
    from rpa.queue.app import TASK_NAME

    # max_retries None: the task counts its own attempts (``tries``); waiting for a run of
    # itself is not one.
    @app.task(bind=True, name=TASK_NAME, max_retries=None)  # type: ignore[untyped-decorator]
    def run_account(task: Task, account: str, flows: list[str] | None = None,
                    dry_run: bool = False, tries: int = 0,
                    config: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            return run_job(task, cfg, account, flows, dry_run, tries, config)
        except Retry:
            raise
        except Exception as err:  # a bug of the job's own: its owner hears, then Celery
            _give_up(cfg, account, Outcome(account, "error", EXIT_FAILED,
                                           message=f"{type(err).__name__}: {err}"), tries + 1)
            raise


def runs_of(cfg: Config, job_id: str) -> list[dict[str, Any]]:
    """The ledger's runs of ``job_id``, oldest first."""
    ledger = open_ledger(ledger_place(cfg))
    try:
        return ledger.job_runs(job_id)
    finally:
        ledger.close()


def locked_by_itself(cfg: Config, account: str, runs: list[dict[str, Any]]) -> bool:
    """Whether a run of this very job (``runs``: the job's, from the ledger) holds the
    account's lock right now: one of them has not ended, and the lock is held (a dead
    run's is not)."""
    if not any(not r.get("finished_at") for r in runs):
        return False
    place = ledger_place(cfg)
    if not place.url:
        return False
    try:
        with advisory_lock(place.url, place.password, account):
            return False
    except RunLocked:
        return True


def run_job(task: Task, cfg: Config, account: str, flows: list[str] | None,
            dry_run: bool, tries: int, queued_with: dict[str, str] | None = None
            ) -> dict[str, Any]:
    """The task's body: what :mod:`rpa.queue.jobs` describes; returns the outcome (JSON).
    ``tries``: the attempts so far that were refused or died; ``queued_with``: the
    fingerprints of the configuration that queued it (:mod:`rpa.queue.digest`)."""
    job_id = str(task.request.id)
    worker = str(task.request.hostname or "")
    attempt = tries + 1
    q = cfg.queue
    assert q is not None  # a worker runs only with a queue
    again = {"account": account, "flows": flows, "dry_run": dry_run, "config": queued_with}
    from rpa.queue.enqueue import release_waiting

    try:
        release_waiting(cfg, account, flows, dry_run, job_id)
    except Exception as err:  # noqa: BLE001 - the mark expires by itself; the run matters
        logger.warning("job {}: the account's waiting mark stays until it expires: {}",
                       job_id, err)
    if not any(a.name == account for a in cfg.accounts):
        message = f"account '{account}' is not in this worker's configuration ({cfg.source})"
        logger.error("job {}: {}", job_id, message)
        return _result(Outcome(account, "config", EXIT_CONFIG, message=message), worker,
                       job_id, attempt)
    differ = differing(cfg, queued_with)
    if differ:  # another worker may have the file that queued it; none has: given up
        outcome = Outcome(account, "config", EXIT_CONFIG, message=(
            f"this worker's configuration ({cfg.source}) is not the one that queued the "
            f"job: {', '.join(differ)} differ{'s' if len(differ) == 1 else ''}; give every "
            "worker and the machine that queues the same rpa.yaml"))
        return _again_or_give_up(task, cfg, outcome, again, job_id, worker, attempt)
    try:
        runs = runs_of(cfg, job_id)
        done = next((r for r in reversed(runs) if r.get("finished_at")), None)
        busy = done is None and locked_by_itself(cfg, account, runs)
    except Exception as err:  # noqa: BLE001 - the ledger out of reach: not now, not lost
        outcome = Outcome(account, "ledger", EXIT_LEDGER,
                          message=f"the ledger could not be read: {err}")
        return _again_or_give_up(task, cfg, outcome, again, job_id, worker, attempt)
    if done is not None:
        logger.info("job {} ({}) already ended in run {}: not run again", job_id, account,
                    done["run_id"])
        return _ended_before(cfg, done, job_id, attempt)
    if busy:  # handed out again while its run goes on
        logger.info("job {} ({}): its run goes on elsewhere; looked at again in {} s",
                    job_id, account, q.retry_delay_s)
        raise task.retry(args=(), kwargs={**again, "tries": tries}, countdown=q.retry_delay_s)
    logger.info("job {}: {}'s run, attempt {}, on {}", job_id, account, attempt, worker)
    outcome = run_in_child(cfg, Job(account, flows, dry_run, worker=worker, job_id=job_id),
                           die_with_parent=True)
    if outcome.status in RETRIED:
        return _again_or_give_up(task, cfg, outcome, again, job_id, worker, attempt)
    if outcome.status == "error":
        _give_up(cfg, account, outcome, attempt)
    return _result(outcome, worker, job_id, attempt)


def _again_or_give_up(task: Task, cfg: Config, outcome: Outcome, again: dict[str, Any],
                      job_id: str, worker: str, attempt: int) -> dict[str, Any]:
    """A job refused or cut short: on the queue again ``queue.retry_delay_s`` later (the
    Retry raised), or, its last attempt, given up with the owner told (its outcome)."""
    q = cfg.queue
    assert q is not None
    if attempt < q.max_attempts:
        logger.warning("job {} ({}): {} ({}); tried again in {} s", job_id, outcome.account,
                       outcome.status, outcome.message, q.retry_delay_s)
        raise task.retry(args=(), kwargs={**again, "tries": attempt}, countdown=q.retry_delay_s)
    _give_up(cfg, outcome.account, outcome, attempt)
    return _result(outcome, worker, job_id, attempt)


def _give_up(cfg: Config, account: str, outcome: Outcome, attempts: int) -> None:
    """The last attempt was refused or died: the owner hears of it (the run could not)."""
    logger.error("{}'s run: {} after {} attempts ({})", account, outcome.status, attempts,
                 outcome.message)
    try:
        acc = cfg.account(account)
        secrets = check_secrets(cfg, acc, [])  # the owner's channels
    except ConfigError as err:
        logger.error("the owner of {} cannot be texted: {}", account, err)
        return
    why = {"locked": "another run of the account never let go",
           "ledger": "the ledger could not be read",
           "config": "the workers' configuration is not the one that queued it",
           }.get(outcome.status, "the run's process died each time")
    if outcome.status == "error":  # a bug, not retried: the run's process reported it
        why = "the run met an error it does not know (a bug)"
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    text_owner(cfg, acc, secrets, f"Bot: {account}'s run did not happen after {tries}: "
               f"{why}. The VA looks at the workers' logs.",
               details=outcome.message, title="Seller Central run not done")


def _ended_before(cfg: Config, done: dict[str, Any], job_id: str,
                  attempt: int) -> dict[str, Any]:
    """The outcome of a job whose run had already ended: that run's (its status, worker
    and folder; its exit code as the run reckoned it, from its run.json when the shared
    recordings have it), so a job handed out twice tells one story whichever delivery
    is heard last; ``done_before`` says so."""
    import json
    from pathlib import Path

    folder = Path(cfg.paths.recordings_dir) / str(done["run_id"])
    status = str(done.get("status") or "failed")
    data = None
    try:
        data = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    code = exit_code_of(status, data if isinstance(data, dict) else {})
    return {"account": done["account"], "status": status, "exit_code": code,
            "seconds": 0.0, "message": f"ended before, in run {done['run_id']}",
            "worker": done.get("worker") or "", "job": job_id, "attempt": attempt,
            "run_id": done["run_id"], "folder": str(folder) if data is not None else None,
            "done_before": True}


def _result(outcome: Outcome, worker: str, job_id: str, attempt: int) -> dict[str, Any]:
    """The job's outcome as the result store keeps it (JSON)."""
    result = outcome.result
    return {"account": outcome.account, "status": outcome.status,
            "exit_code": outcome.exit_code, "seconds": outcome.seconds,
            "message": outcome.message, "worker": worker, "job": job_id,
            "attempt": attempt,
            "run_id": (result.data.get("run_id") if result and result.data else None),
            "folder": str(result.folder) if result else None}
