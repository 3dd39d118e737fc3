"""Run now: start the routine or chosen flows for an account from the console, and watch
its steps as they happen.

A start becomes a *job*: the orchestrator's ``run`` in a background thread of this
process, its steps collected through ``on_step`` as they start and end. The jobs live in
``Console.extras["jobs"]`` (in memory, like the sessions). One job at a time per account:
a second start while one runs is refused and points at the running one; a run started
elsewhere (the scheduler, the command line) is caught by the orchestrator's account lock
and the job ends as refused. Answers given in the console are delivered through the same
jobs (see ``escalations``).

"All accounts" starts a job per account at once; they run ``concurrency`` at a time, each
in a process of its own (:mod:`rpa.run.fleet`, as ``rpa run --all``), a job waiting for its
turn until then; an account with a job running already is left out and named.

The job page is server-rendered and complete without JavaScript (a "refresh" link);
``static/runnow.js`` polls ``/run/{job_id}/steps.json`` to update it in place.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from loguru import logger
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from rpa.config import DEFAULT_FLOWS
from rpa.console import web
from rpa.errors import ConfigError, RunLocked
from rpa.ledger import LedgerBroken
from rpa.run import fleet
from rpa.run.context import StepRecord
from rpa.run.orchestrator import run
from rpa.run.registry import Flow, load_flows

JOBS_KEY = "jobs"
ALL = "*"  # the form's choice of every account: no account's name holds a "*"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Job:
    """One run started from the console, and what is known of it so far."""

    id: str
    account: str
    flows: list[str]  # as asked; empty: the configured routine
    dry_run: bool
    user: str
    purpose: str  # what it is for: "run", or "deliver B004"
    code: str = ""  # the escalation whose answer it delivers, if any
    started_at: str = field(default_factory=_now)
    finished_at: str = ""
    state: str = "running"  # running, done
    # the run's status (ok, failed, needs_person), or refused / error; "waiting" while a
    # job of "all accounts" waits for its turn
    status: str = ""
    exit_code: int | None = None
    run_id: str = ""
    worker: str = ""  # with a queue: the worker that ran it
    error: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _index: dict[int, int] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return not self.done.is_set()

    @property
    def what(self) -> str:
        return ", ".join(self.flows) if self.flows else "the routine"

    def on_step(self, event: str, rec: StepRecord) -> None:
        """The orchestrator's step callback: a step started or ended."""
        entry = {"flow": rec.flow, "name": rec.name, "outcome": rec.outcome,
                 "seconds": round(rec.seconds, 1), "screenshot": rec.screenshot or ""}
        with self._lock:
            at = self._index.get(id(rec))
            if event == "start" or at is None:
                self._index[id(rec)] = len(self.steps)
                self.steps.append(entry)
            else:
                self.steps[at] = entry

    def snapshot(self) -> dict[str, Any]:
        """What the job page and its JSON show (no secrets: names, outcomes, times)."""
        with self._lock:
            steps = [dict(s) for s in self.steps]
        return {"id": self.id, "account": self.account, "what": self.what,
                "dry_run": self.dry_run, "user": self.user, "purpose": self.purpose,
                "started_at": self.started_at, "finished_at": self.finished_at,
                "state": "running" if self.running else "done", "status": self.status,
                "exit_code": self.exit_code, "run_id": self.run_id, "error": self.error,
                "worker": self.worker,
                "steps": steps}


class Jobs:
    """The console's jobs by id; at most one running per account."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        """Every job, newest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.started_at, reverse=True)

    def running_for(self, account: str) -> Job | None:
        with self._lock:
            return next((j for j in self._jobs.values()
                         if j.account == account and j.running), None)

    def for_code(self, code: str) -> Job | None:
        """The newest job delivering the answer to escalation ``code``."""
        return next((j for j in self.all() if j.code == code), None)

    def add_unless_running(self, job: Job) -> Job | None:
        """Keep ``job`` unless one for its account runs; then return that one instead."""
        with self._lock:
            busy = next((j for j in self._jobs.values()
                         if j.account == job.account and j.running), None)
            if busy is None:
                self._jobs[job.id] = job
            return busy


def jobs_of(console: web.Console) -> Jobs:
    found = console.extras.get(JOBS_KEY)
    if not isinstance(found, Jobs):
        # setdefault: two first requests at once still end up sharing one registry
        found = console.extras.setdefault(JOBS_KEY, Jobs())
    return found  # type: ignore[no-any-return]


def start_job(console: web.Console, *, account: str, flows: list[str], dry_run: bool,
              user: str, purpose: str = "run", code: str = "") -> tuple[Job, bool]:
    """Start ``flows`` (empty: the routine) for ``account`` in a background thread.

    Returns the new job and True, or the job already running for that account and False
    (nothing started)."""
    job = Job(id=secrets.token_urlsafe(9), account=account, flows=list(flows),
              dry_run=dry_run, user=user, purpose=purpose, code=code)
    busy = jobs_of(console).add_unless_running(job)
    if busy is not None:
        return busy, False
    thread = threading.Thread(target=_work, args=(console, job), name=f"console-job-{job.id}",
                              daemon=True)
    thread.start()
    return job, True


def _through_queue(console: web.Console, jobs: list[Job]) -> None:
    """With a queue: the jobs go on it for the workers, and each waits for its outcome
    (no live steps: the run is on a worker; its run page has them once it ends)."""
    from rpa.queue import enqueue, wait_for

    cfg = console.config
    first = jobs[0]
    queued = enqueue(cfg, [j.account for j in jobs], flows=first.flows or None,
                     dry_run=first.dry_run)
    waiting: dict[str, Job] = {}
    for job, q in zip(jobs, queued, strict=True):
        if q.job_id is None:
            job.status, job.exit_code = "refused", None
            job.error = (f"a queued run for the account is still waiting (job {q.waiting}); "
                         "it will do the same")
            job.finished_at = _now()
            job.done.set()
        else:
            job.status = "queued"
            waiting[q.job_id] = job
    for job_id, outcome in wait_for(cfg, list(waiting)).items():
        job = waiting[job_id]
        if outcome.get("state") != "SUCCESS":
            job.status, job.error = "error", f"job {job_id}: {outcome.get('state')}"
        else:
            job.status, job.exit_code = outcome["status"], outcome["exit_code"]
            job.run_id = outcome.get("run_id") or ""
            job.worker = outcome.get("worker") or ""
            if not job.run_id:
                job.error = outcome.get("message") or ""
        job.finished_at = _now()
        job.done.set()


def _work(console: web.Console, job: Job) -> None:
    """The job's thread: the run itself, then its outcome kept on the job."""
    try:
        if console.config.queue is not None:
            _through_queue(console, [job])
            return
        result = run(console.config, account=job.account, flows=job.flows or None,
                     dry_run=job.dry_run, on_step=job.on_step)
        job.status, job.exit_code = result.status, result.exit_code
        job.run_id = str(result.data.get("run_id", result.folder.name))
    except RunLocked as err:
        job.status, job.error = "refused", str(err)
    except (ConfigError, LedgerBroken) as err:
        job.status, job.error = "error", str(err)
    except Exception as err:  # noqa: BLE001 - the job must end, whatever stopped the run
        logger.exception("console job {} failed: {}", job.id, err)
        job.status, job.error = "error", f"{type(err).__name__}: {err}"
    finally:
        job.finished_at = _now()
        job.done.set()


def start_all(console: web.Console, *, flows: list[str], dry_run: bool, user: str
              ) -> tuple[list[Job], list[Job]]:
    """A job for every account, run ``concurrency`` at a time, each in a process of its own.
    Returns the jobs started and, for the accounts left out, the jobs already running."""
    started: list[Job] = []
    busy: list[Job] = []
    for acc in console.config.accounts:
        job = Job(id=secrets.token_urlsafe(9), account=acc.name, flows=list(flows),
                  dry_run=dry_run, user=user, purpose="run", status="waiting")
        running = jobs_of(console).add_unless_running(job)
        (busy if running is not None else started).append(running or job)
    if started:
        threading.Thread(target=_work_all, args=(console, started),
                         name="console-jobs-all", daemon=True).start()
    return started, busy


def _ended(job: Job, outcome: fleet.Outcome) -> None:
    """A job's outcome from how its run's process ended."""
    job.exit_code = outcome.exit_code
    if outcome.result is not None:
        job.status = outcome.status
        job.run_id = str(outcome.result.data.get("run_id", outcome.result.folder.name))
    else:
        job.status = "refused" if outcome.status == "locked" else "error"
        job.error = outcome.message


def _work_all(console: web.Console, jobs: list[Job]) -> None:
    """The thread of an "all accounts" start: the runs, ``concurrency`` at a time."""
    by_account = {j.account: j for j in jobs}

    def on_event(account: str, what: str, detail: Any) -> None:
        job = by_account[account]
        if what == "start":
            job.status = ""
        elif what == "step":
            job.on_step(*detail)
        elif what == "end":
            _ended(job, detail)
            job.finished_at = _now()
            job.done.set()

    try:
        if console.config.queue is not None:
            _through_queue(console, jobs)
            return
        fleet.run_many(console.config,
                       [fleet.Job(j.account, j.flows or None, j.dry_run) for j in jobs],
                       concurrency=fleet.concurrency_of(console.config), on_event=on_event)
    except Exception as err:  # noqa: BLE001 - every job must end, whatever stopped them
        logger.exception("console jobs for all accounts failed: {}", err)
        for job in jobs:
            if job.running:
                job.status, job.error = "error", f"{type(err).__name__}: {err}"
    finally:
        for job in jobs:
            if job.running:
                job.finished_at = _now()
                job.done.set()


def routine(console: web.Console) -> list[str]:
    return list(console.config.flows)


def flow_choices(console: web.Console) -> list[Flow]:
    """Every registered flow, in the order a routine runs them (the configured routine,
    then the default one, then the rest by name)."""
    known = load_flows()
    order = [*routine(console), *DEFAULT_FLOWS, *sorted(known)]
    return [known[name] for name in dict.fromkeys(order) if name in known]


def _running_run(console: web.Console, account: str) -> str:
    """The run id of a run the ledger shows still going for ``account`` (started
    elsewhere), or ''."""
    ledger = console.ledger()
    if ledger is None:
        return ""
    try:
        for row in ledger.runs(limit=20):
            if row["account"] == account and not row.get("finished_at"):
                return str(row["run_id"])
    finally:
        ledger.close()
    return ""


def _form_page(request: Request, *, error: str = "", busy: Job | None = None,
               status_code: int = 200, values: dict[str, str] | None = None) -> Response:
    console = web.console_of(request)
    return web.render(request, "run_form.html", status_code=status_code,
                      accounts=[a.name for a in console.config.accounts],
                      flows=flow_choices(console),
                      routine=routine(console), jobs=[j.snapshot() for j in
                                                      jobs_of(console).all()[:10]],
                      error=error, busy=busy.snapshot() if busy else None,
                      values=values or {}, may_start=web.may(web.require(request).role, "va"),
                      concurrency=fleet.concurrency_of(console.config))


def run_form(request: Request) -> Response:
    """GET /run: the form (for a va or owner) and the console's recent jobs."""
    try:
        web.require(request, "viewer")
    except web.SignInNeeded:
        return web.sign_in_redirect(request)
    return _form_page(request)


async def run_start(request: Request) -> Response:
    """POST /run: start a job, or refuse (bad choice, a run in progress for the account)."""
    try:
        session = web.require(request, "va")
    except web.SignInNeeded:
        return web.sign_in_redirect(request)
    form = await web.checked_form(request, session)
    console = web.console_of(request)
    account = form.get("account", "")
    if account not in [a.name for a in console.config.accounts] and account != ALL:
        return _form_page(request, error="choose one of the configured accounts",
                          values=form)
    if form.get("mode", "routine") == "flows":
        flows = [f.name for f in flow_choices(console) if form.get(f"flow_{f.name}")]
        if not flows:
            return _form_page(request, error="tick at least one flow, or choose the routine",
                              values=form)
    else:
        flows = []
    dry_run = bool(form.get("dry_run"))
    what = f"{', '.join(flows) or 'routine'}{' (dry run)' if dry_run else ''}"
    if account == ALL:
        return _start_all(request, session.user, flows, dry_run, what, form)
    job, started = start_job(console, account=account, flows=flows, dry_run=dry_run,
                             user=session.user)
    if not started:
        console.audit(session.user, "run_refused",
                      f"{', '.join(flows) or 'routine'}: job {job.id} is running", account)
        return _form_page(request, error=f"a run for the account '{account}' is already in "
                                         "progress; it is shown below", busy=job, values=form)
    console.audit(session.user, "run_start",
                  f"{', '.join(flows) or 'routine'}{' (dry run)' if dry_run else ''}; "
                  f"job {job.id}", account)
    return RedirectResponse(f"/run/{job.id}", status_code=303)


def _start_all(request: Request, user: str, flows: list[str], dry_run: bool, what: str,
               form: dict[str, str]) -> Response:
    """POST /run for all accounts: a job per account; those with a job running are named."""
    console = web.console_of(request)
    started, busy = start_all(console, flows=flows, dry_run=dry_run, user=user)
    for job in started:
        console.audit(user, "run_start", f"{what}, all accounts; job {job.id}", job.account)
    for job in busy:
        console.audit(user, "run_refused", f"{what}, all accounts: job {job.id} is running",
                      job.account)
    if not busy:
        return RedirectResponse("/run", status_code=303)
    names = ", ".join(f"'{j.account}'" for j in busy)
    return _form_page(request, values=form, busy=busy[0],
                      error=f"a run for {names} is already in progress: left out; the other "
                            f"{len(started)} account(s) started")


def _job(request: Request) -> Job:
    job = jobs_of(web.console_of(request)).get(request.path_params["job_id"])
    if job is None:
        raise HTTPException(404, "no such run-now job (jobs are kept until the console "
                                 "restarts)")
    return job


def job_page(request: Request) -> Response:
    """GET /run/{job_id}: the job's steps so far, and its outcome once it ends."""
    try:
        web.require(request, "viewer")
    except web.SignInNeeded:
        return web.sign_in_redirect(request)
    job = _job(request)
    snap = job.snapshot()
    elsewhere = (_running_run(web.console_of(request), job.account)
                 if snap["status"] == "refused" else "")
    return web.render(request, "run_job.html", job=snap, elsewhere=elsewhere)


def job_steps(request: Request) -> Response:
    """GET /run/{job_id}/steps.json: the same as the page, for runnow.js."""
    try:
        web.require(request, "viewer")
    except web.SignInNeeded:
        return JSONResponse({"error": "sign in first"}, status_code=401)
    return JSONResponse(_job(request).snapshot(),
                        headers={"Cache-Control": "no-store",
                                 "X-Content-Type-Options": "nosniff"})


ROUTES = [
    Route("/run", run_form, methods=["GET"]),
    Route("/run", run_start, methods=["POST"]),
    Route("/run/{job_id}", job_page, methods=["GET"]),
    Route("/run/{job_id}/steps.json", job_steps, methods=["GET"]),
]
