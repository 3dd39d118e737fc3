"""Every account, N at a time, on one machine: each account's run in a process of its own.

A run is the orchestrator's, unchanged, in a child process: a fresh interpreter
(``sys.executable``: no state of the parent's, no inherited threads or Playwright driver)
handed the configuration and the job, pickled. Each child has its own Chromium, browser
state, log sink and secrets registry; the account's lock (a file lock, released when the
process ends however it ends) keeps one run per account at a time, across processes. A
child that fails, needs a person or dies takes nothing down with it: the others go on, as
many at once as ``concurrency`` allows. The parent waits on each child in a thread of its
own and hears its steps over a pipe as they start and end, for the terminal's live lines
and the console's job pages.

Processes rather than threads: Playwright's sync API belongs to one thread, a run's log
sink and redaction registry are its process's, and a crash (Chromium's, the driver's, a
run that runs out of memory) ends one account's run, not every account's. A child costs
a Python start-up (about 0.7 s of CPU) on top of its Chromium, small beside a run.

The exit code of many runs is the worst of theirs (:data:`SEVERITY`): a broken ledger (6)
stops every account; a configuration to fix (2) and a person needed (3) next; then a
failed flow (1), an undelivered text (5), an account whose run was in progress elsewhere
(4), and 0.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from rpa.config import Config
from rpa.errors import ConfigError, RpaError, RunLocked
from rpa.ledger import LedgerBroken
from rpa.run.context import StepRecord
from rpa.run.orchestrator import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_LEDGER,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_PERSON,
    EXIT_UNDELIVERED,
    RunResult,
    run,
)

# The exit codes from the worst to the best: many runs end with the worst of theirs.
SEVERITY = (EXIT_LEDGER, EXIT_CONFIG, EXIT_PERSON, EXIT_FAILED, EXIT_UNDELIVERED, EXIT_LOCKED,
            EXIT_OK)
# The memory one account's run takes at its peak (bench/routine_memory.py: about 600 MB,
# Chromium, its driver and the bot), with room to spare.
BROWSER_MB = 700

StepCallback = Callable[[str, StepRecord], None]
# (account, what, detail): "start" (None), "step" ((event, StepRecord)), "end" (Outcome)
EventCallback = Callable[[str, str, Any], None]


def worst_exit(codes: Iterable[int]) -> int:
    """The worst of ``codes`` by :data:`SEVERITY` (0 for none; an unknown code counts as 1)."""
    known = [code if code in SEVERITY else EXIT_FAILED for code in codes]
    return min(known, key=SEVERITY.index, default=EXIT_OK)


def available_mb() -> int | None:
    """The memory this machine can give new processes (``MemAvailable``), in MB; None
    where it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (OSError, ValueError, AttributeError):
        return None


def cores() -> int:
    """The cores this process may run on (a container's or taskset's limit included)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_concurrency(n_cores: int | None = None, memory_mb: int | None = None) -> int:
    """How many runs at once when neither ``--concurrency`` nor ``concurrency`` says: one
    browser per :data:`BROWSER_MB` of available memory, at most the cores + 1 (a run waits
    on pages about as much as it works), at least 1."""
    n_cores = cores() if n_cores is None else n_cores
    memory_mb = available_mb() if memory_mb is None else memory_mb
    by_memory = n_cores + 1 if memory_mb is None else memory_mb // BROWSER_MB
    return max(1, min(n_cores + 1, by_memory))


def concurrency_of(cfg: Config, asked: int | None = None) -> int:
    """The concurrency asked for (``--concurrency``), else the configuration's, else
    :func:`default_concurrency`."""
    return asked or cfg.concurrency or default_concurrency()


@dataclass(frozen=True)
class Job:
    """One account's run as many runs list it: the flows (None: the configured routine)."""

    account: str
    flows: list[str] | None = None
    dry_run: bool = False
    # A queued run's: the worker that took it and the job's id (rpa.queue).
    worker: str | None = None
    job_id: str | None = None


@dataclass
class Outcome:
    """How one account's run ended.

    ``status`` is the run's own (``ok``, ``failed``, ``needs_person``) when it ran, else why
    not: ``locked`` (a run for the account was in progress), ``config``, ``ledger``,
    ``error`` (a bug: its traceback is on stderr), ``crashed`` (the process died: ``message``
    says how) or ``not_started`` (a Ctrl-C came first). ``result`` is the run's when it ran.
    """

    account: str
    status: str
    exit_code: int
    seconds: float = 0.0
    message: str = ""
    result: RunResult | None = None


def _refusal(err: BaseException) -> tuple[str, int]:
    """The status and exit code of an error that stopped a run before or outside its flows."""
    if isinstance(err, LedgerBroken):
        return "ledger", EXIT_LEDGER
    if isinstance(err, ConfigError):
        return "config", EXIT_CONFIG
    if isinstance(err, RunLocked):
        return "locked", EXIT_LOCKED
    if isinstance(err, RpaError):
        return "failed", EXIT_FAILED
    return "error", EXIT_FAILED


def child_main() -> None:
    """The child process (``python -c "from rpa.run.fleet import child_main; ..."``): one run
    of the orchestrator. Its job comes pickled on stdin; its steps and its end go, pickled,
    to the file descriptor named in ``argv[1]``.

    Its log goes to the run's own ``run.log`` only: the parent shows one line per account.
    With ``finish_on_term``, a SIGTERM (systemd stopping the scheduler's whole group) lets
    the run finish, as the scheduler promises; Ctrl-C (SIGINT) still stops it.
    """
    import pickle
    import sys

    cfg, job, headed, finish_on_term, parent = pickle.load(sys.stdin.buffer)
    if parent is not None:
        _die_with(parent)
    if finish_on_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logger.remove()
    out = os.fdopen(int(sys.argv[1]), "wb")

    def send(*message: Any) -> None:
        pickle.dump(message, out)
        out.flush()

    def on_step(event: str, rec: StepRecord) -> None:
        send("step", event, asdict(rec), id(rec))  # a step may be renamed as it ends

    try:
        result = run(cfg, account=job.account, flows=job.flows, dry_run=job.dry_run,
                     headed=headed, on_step=on_step, worker=job.worker, job=job.job_id)
        send("result", result.status, result.exit_code, str(result.folder), result.data)
    except Exception as err:  # noqa: BLE001 - every way a run can end is reported
        status, code = _refusal(err)
        if status == "error":
            traceback.print_exc()
        send("refused", status, code, str(err) if status != "error"
             else f"{type(err).__name__}: {err}")
    finally:
        out.close()


CHILD = "from rpa.run.fleet import child_main; child_main()"
PR_SET_PDEATHSIG = 1  # prctl(2)


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux: the parent-death
    signal), and die now if it already has. Elsewhere: nothing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the signal was asked for
        os.kill(os.getpid(), signal.SIGKILL)


def _child_env() -> dict[str, str]:
    """This process's environment (the secrets are in it), with the ``rpa`` this process
    imported first on the child's path: the child runs the same code."""
    here = str(Path(__file__).resolve().parents[2])  # the folder holding this ``rpa``
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": here + (os.pathsep + path if path else "")}


def run_in_child(cfg: Config, job: Job, *, headed: bool = False,
                 on_step: StepCallback | None = None,
                 finish_on_term: bool = False, die_with_parent: bool = False) -> Outcome:
    """Run ``job`` in a process of its own and wait for it; ``on_step`` hears its steps
    (in this thread) as they start and end. Never raises for the run's sake: how it ended
    is the :class:`Outcome`.

    The child is a new interpreter (``sys.executable``) that imports only the run's code;
    unlike multiprocessing's spawn it never imports this process's main module again, so
    any script may start runs. ``die_with_parent``: the child is killed when this process
    dies (a queue's worker: its run must not go on unseen when the worker vanishes; the
    thread that starts it must wait for it, as this function does).
    """
    import pickle
    import subprocess
    import sys

    started = time.monotonic()
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(write_fd)],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                pass_fds=(write_fd,), env=_child_env())
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)  # the child holds the only writing end: its end is our end of file
    last: tuple[Any, ...] | None = None
    # The child's steps as one object each from start to end, as a run in this process
    # hands them (a listener may know a step by its identity).
    steps: dict[int, StepRecord] = {}
    with os.fdopen(read_fd, "rb") as events:
        try:
            assert proc.stdin is not None
            with proc.stdin:
                pickle.dump((cfg, job, headed, finish_on_term,
                             os.getpid() if die_with_parent else None), proc.stdin)
        except BrokenPipeError:
            pass  # the child ended at once: its exit code says how
        try:
            while True:
                try:
                    message = pickle.load(events)
                except EOFError:
                    break
                if message[0] != "step":
                    last = message
                    continue
                _kind, event, fields, key = message
                rec = steps.get(key)
                if rec is None:
                    rec = steps[key] = StepRecord(**fields)
                else:
                    vars(rec).update(fields)
                if on_step is not None:
                    try:
                        on_step(event, rec)
                    except Exception as err:  # noqa: BLE001 - reading on keeps the child going
                        logger.error("a listener of {}'s steps failed: {}", job.account, err)
        finally:
            proc.wait()
    seconds = round(time.monotonic() - started, 1)
    if last is None:
        how = (f"signal {signal.Signals(-proc.returncode).name}" if proc.returncode < 0
               else f"exit {proc.returncode}")
        return Outcome(job.account, "crashed", EXIT_FAILED, seconds,
                       f"the run's process ended ({how}) before it reported its end")
    if last[0] == "result":
        _kind, status, code, folder, data = last
        return Outcome(job.account, status, code, seconds,
                       result=RunResult(status, code, Path(folder), data))
    _kind, status, code, message = last
    return Outcome(job.account, status, code, seconds, message)


def tell_owner_of_crash(cfg: Config, outcome: Outcome) -> bool:
    """A run whose process died (``crashed``) or met a bug (``error``) could not text the
    owner itself, as a run that does not finish cleanly does: this does, on the account's
    channels. Returns whether a text went; never raises."""
    if outcome.status not in ("crashed", "error"):
        return False
    from rpa.config import check_secrets
    from rpa.run.orchestrator import text_owner

    try:
        acc = cfg.account(outcome.account)
        secrets = check_secrets(cfg, acc, [])  # the owner's channels
    except ConfigError as err:
        logger.error("the owner of {} cannot be told its run died: {}", outcome.account, err)
        return False
    return text_owner(cfg, acc, secrets, f"Bot: {outcome.account}'s run ended before it "
                      "finished; what it did is in the ledger and the next run goes on from "
                      "there. The VA looks at the run's log.",
                      details=outcome.message, title="Seller Central run did not finish")


def run_many(cfg: Config, jobs: list[Job], *, concurrency: int, headed: bool = False,
             on_event: EventCallback | None = None) -> list[Outcome]:
    """Run ``jobs`` in the order given, at most ``concurrency`` at once, each in a process
    of its own (:func:`run_in_child`); returns their outcomes in the same order.

    ``on_event`` hears (account, "start" | "step" | "end", detail) from the threads that
    wait on the runs. The owner of an account whose run's process died is texted. After a
    Ctrl-C no job starts (the runs in progress had it too, and
    end theirs); a job not started ends ``not_started``.
    """
    stop = threading.Event()
    emit = on_event or (lambda _account, _what, _detail: None)

    def one(job: Job) -> Outcome:
        if stop.is_set():
            outcome = Outcome(job.account, "not_started", EXIT_OK,
                              message="stopped before it started")
        else:
            emit(job.account, "start", None)
            outcome = run_in_child(
                cfg, job, headed=headed,
                on_step=lambda event, rec: emit(job.account, "step", (event, rec)))
            tell_owner_of_crash(cfg, outcome)
        emit(job.account, "end", outcome)
        return outcome

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="rpa-many")
    try:
        futures = [pool.submit(one, job) for job in jobs]
        return [f.result() for f in futures]
    except KeyboardInterrupt:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
