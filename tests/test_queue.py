"""Runs through the queue: Celery workers over a throwaway Redis, the ledger a throwaway
PostgreSQL, real sandbox, Chromium and receiver, every worker a real ``rpa worker``
process.

- Two workers and a job whose worker is SIGKILLed at each point of the reply protocol
  (before the send; after it, before the ledger knows) and of an owner text's delivery
  (claimed, not sent; sent, not confirmed): each time the run dies with its worker, the
  job goes to a worker still there and its next run resumes from the ledger. In the end
  every buyer has exactly one reply, every escalation one text (a text cut off after it
  left goes once more: a channel cannot be asked what it received), and the job one
  finished run.
- Accounts queued with ``rpa enqueue --all`` are each run once, on the two workers; a
  second ``enqueue`` while they wait adds none; each run names its worker (ledger,
  run.json, report, the console's Runs page); a job handed out again after its run ended
  is not run again.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rpa.config import Config, parse_config
from rpa.console import runnow, web
from rpa.console.runs import list_runs
from rpa.ledger import PostgresLedger
from rpa.practice.receiver import Receiver
from rpa.practice.redis import RedisServer
from rpa.practice.sandbox import SellersSandbox
from rpa.practice.scale import scale_config_data
from rpa.queue import enqueue, make_app
from tests.conftest import PgDatabase, Sandbox
from tests.test_buyer_messages import EXPECTED, messages_config, replies_by_thread

pytestmark = [pytest.mark.postgres, pytest.mark.queue]
ROOT = Path(__file__).resolve().parent.parent
QUEUE_PASSWORD_ENV = "T_QUEUE_PASSWORD"
SURVIVAL_S = 3  # the hook's, below

# Loaded by every interpreter started with its folder on PYTHONPATH (the workers and their
# runs' processes): where KILL_PLAN names a file, each point it lists kills the worker the
# first time a run reaches it (the run itself then dies of its parent's death: the
# kernel's signal, which the bot asks for; if it does not, it notes that it survived
# after SURVIVAL_S seconds and ends).
HOOK = r'''
import json, os, signal, sys, time

PLAN = os.environ.get("KILL_PLAN")
SURVIVAL_S = 3


def _fire(point):
    """Kill the worker at ``point`` if the plan lists it and it has not fired yet."""
    fired = PLAN + ".fired"
    done = []
    if os.path.exists(fired):
        with open(fired, encoding="utf-8") as fh:
            done = [json.loads(line)["point"] for line in fh if line.strip()]
    with open(PLAN, encoding="utf-8") as fh:
        if point not in json.load(fh) or point in done:
            return
    fd = os.open(fired, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.write(fd, (json.dumps({"point": point, "run_pid": os.getpid(),
                              "worker_pid": os.getppid()}) + "\n").encode())
    os.fsync(fd)
    os.close(fd)
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(SURVIVAL_S)  # the parent-death signal ends this process long before
    with open(PLAN + ".survived", "a") as fh:
        fh.write(point + "\n")
    os._exit(99)


def _texts_so_far(channel):
    """How many texts of ``channel`` every run has begun to send so far (kept in a file)."""
    path = f"{PLAN}.{channel}"
    n = int(open(path).read()) if os.path.exists(path) else 0
    with open(path, "w") as fh:
        fh.write(str(n + 1))
    return n


if PLAN and sys.argv[:1] == ["-c"]:
    from rpa.owner.notify import Notifier
    from rpa.seller_central.messages import ThreadPage

    reply, text = ThreadPage.send, Notifier._send

    def send(self, body):
        _fire(f"reply-before:{self.thread_id}")
        view = reply(self, body)
        _fire(f"reply-after:{self.thread_id}")
        return view

    def send_text(self, channel, body, title, only=None):
        n = _texts_so_far(channel)
        _fire(f"text-before:{channel}:{n}")
        ok = text(self, channel, body, title, only)
        _fire(f"text-after:{channel}:{n}")
        return ok

    ThreadPage.send, Notifier._send = send, send_text
'''


class Workers:
    """``rpa worker`` processes on one configuration, each with its own name; a dead one
    is replaced (as systemd would restart it), so two are always there."""

    def __init__(self, config: Path, env: dict[str, str], folder: Path) -> None:
        self.config, self.env, self.folder = config, env, folder
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.dead: dict[str, int] = {}
        self.count = 0

    def start(self, n: int = 1) -> None:
        for _ in range(n):
            self.count += 1
            name = f"w{self.count}@test"
            log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - the process's
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "rpa.cli", "worker", "--config", str(self.config),
                 "--concurrency", "1", "--name", name], cwd=self.folder, env=self.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            log.close()

    def replace_the_dead(self) -> None:
        for name, proc in list(self.procs.items()):
            if proc.poll() is not None:
                self.dead[name] = proc.returncode
                del self.procs[name]
                self.start()

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _ready(cfg: Config, workers: Workers, n: int, timeout_s: float = 90) -> None:
    """Until ``n`` workers answer a ping (a worker that ended fails at once)."""
    app = make_app(cfg)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ended = {name: workers.log(name)[-2000:] for name, p in workers.procs.items()
                     if p.poll() is not None}
            assert not ended, ended
            if len(app.control.ping(timeout=1.0) or []) >= n:
                return
        raise AssertionError(f"{n} workers never answered")
    finally:
        app.close()


def _queued_config(base: Config, redis: RedisServer, folder: Path,
                   monkeypatch: pytest.MonkeyPatch, **queue: Any) -> tuple[Config, Path]:
    monkeypatch.setenv(QUEUE_PASSWORD_ENV, redis.password)
    data = base.model_dump(mode="json")
    data["queue"] = {"broker_url": redis.url, "password_env": QUEUE_PASSWORD_ENV,
                     "name": f"runs-{folder.name}"[:60], **queue}
    path = folder / "rpa.yaml"
    path.write_text(yaml.safe_dump(data))
    return parse_config(data, str(path)), path


def _result(cfg: Config, job_id: str, workers: Workers, timeout_s: float) -> dict[str, Any]:
    """The job's outcome, replacing dead workers meanwhile."""
    from celery.result import AsyncResult

    app = make_app(cfg)
    try:
        res = AsyncResult(job_id, app=app)
        deadline = time.monotonic() + timeout_s
        while not res.ready():
            assert time.monotonic() < deadline, (res.state, {n: workers.log(n)[-1500:]
                                                             for n in workers.procs})
            workers.replace_the_dead()
            time.sleep(0.5)  # a test's look at the workers, not the bot's
        value = res.get(timeout=10)
        assert isinstance(value, dict)
        return value
    finally:
        app.close()


def _alive(pid: int) -> bool:
    """``pid`` runs (a zombie, ended and not yet reaped by its new parent, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:][:1] != "Z"


def _wait_gone(pids: list[int], timeout_s: float) -> None:
    """Until every process of ``pids`` has ended, ``timeout_s`` at most: a killed worker's
    run ends with it (the parent-death signal), or notes that it survived within
    SURVIVAL_S and then ends; waiting for that beats sleeping SURVIVAL_S each time."""
    deadline = time.monotonic() + timeout_s
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def worker_env() -> dict[str, str]:
    """The environment of the workers: this one's as it is now (the secrets), this
    checkout first on the path."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "NO_COLOR": "1",
            "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}


@pytest.mark.slow(reason="four workers killed one after another, each job handed on")
def test_workers_killed_at_each_point_leave_one_reply_per_buyer_and_no_escalation_lost(
        sandbox: Sandbox, make_config: Any, receiver: Receiver, pg_database: PgDatabase,
        redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = messages_config(sandbox, make_config, ledger=pg_database.config)
    # A short visibility timeout: a vanished worker's job is handed on within seconds (a
    # live run outlasting it is handed out too, and waits for itself: that path runs
    # here as well).
    cfg, config = _queued_config(base, redis_server, tmp_path, monkeypatch,
                                 visibility_timeout_s=5, retry_delay_s=1)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK)
    plan = tmp_path / "kill-plan.json"
    points = ["reply-before:M-04", "reply-after:M-05", "text-before:sms:0",
              "text-after:sms:1"]
    plan.write_text(json.dumps(points))
    env = worker_env()
    env.update(KILL_PLAN=str(plan), PYTHONPATH=f"{hook}{os.pathsep}{env['PYTHONPATH']}")
    workers = Workers(config, env, tmp_path)
    workers.start(2)
    try:
        _ready(cfg, workers, 2)
        (queued,) = enqueue(cfg, ["test"])
        assert queued.job_id
        outcome = _result(cfg, queued.job_id, workers, timeout_s=420)
    finally:
        workers.stop()

    fired = [json.loads(line) for line in (tmp_path / "kill-plan.json.fired").read_text()
             .splitlines()]
    _wait_gone([f["run_pid"] for f in fired], SURVIVAL_S + 1)  # a survivor says so, then ends
    assert not (tmp_path / "kill-plan.json.survived").exists(), "a run outlived its worker"
    assert sorted(f["point"] for f in fired) == sorted(points), "every point was reached"
    assert sorted(workers.dead.values()) == [-signal.SIGKILL] * len(points), workers.dead
    assert outcome["status"] == "ok" and outcome["exit_code"] == 0, outcome
    assert outcome["worker"] not in workers.dead

    # Every buyer exactly one reply, as many as a run without a kill gives.
    sent = replies_by_thread(sandbox)
    assert all(len(v) == 1 for v in sent.values()), sent
    assert set(sent) == {t for t, d in EXPECTED.items() if d.startswith(("template", "hold"))}
    ledger = PostgresLedger(pg_database.url, password=pg_database.password)
    try:
        runs = ledger.job_runs(queued.job_id)
        escalations = ledger.escalations("test")
        unsent = ledger.outbox_unsent()
        threads = ledger.threads("test")
    finally:
        ledger.close()
    assert len(runs) == len(points) + 1 and [r for r in runs if r["finished_at"]] == runs[-1:]
    assert {r["worker"] for r in runs[:-1]} <= set(workers.dead)
    assert runs[-1]["worker"] == outcome["worker"] and runs[-1]["run_id"] == outcome["run_id"]
    assert all(t["state"] == "sent" for t in threads if t["escalation"] or t["decision"]
               .startswith("template")), threads
    # Every escalation opened once and texted: once, or twice for the text the kill cut
    # off after it left (the one that was "after"), never lost.
    codes = sorted(e["code"] for e in escalations)
    assert codes and len(codes) == len({t["escalation"] for t in threads if t["escalation"]})
    texts = receiver.messages("sms")
    per_code = {c: sum(1 for t in texts if re.match(rf"{c}-[A-Z2-9]{{4}}:", t)) for c in codes}
    assert sorted(per_code.values()) == [1] * (len(codes) - 1) + [2], per_code
    assert unsent == [], "no text left unsent"
    data = json.loads((Path(outcome["folder"]) / "run.json").read_text())
    assert data["worker"] == outcome["worker"] and data["job"] == queued.job_id


# ---- several accounts on two workers ----------------------------------------------------

@pytest.fixture(scope="module")
def sellers() -> Iterator[SellersSandbox]:
    with SellersSandbox("six-sellers") as fleet:
        yield fleet


def test_accounts_queued_run_once_each_on_the_workers_and_name_them(
        sellers: SellersSandbox, pg_database: PgDatabase, redis_server: RedisServer,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Receiver() as receiver:
        data, env = scale_config_data(sellers, receiver, tmp_path / "state",
                                      tmp_path / "recordings", ["dashboard"])
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        data["accounts"] = data["accounts"][:3]
        data["ledger"] = pg_database.config
        data["browser"] = {"trace": False, "screenshots": "fast"}
        for server in sellers.servers:
            server.state.reset()
        base = parse_config(data, "test-queue")
        cfg, config = _queued_config(base, redis_server, tmp_path, monkeypatch)
        names = [a.name for a in cfg.accounts]

        # Queued while no worker runs: a second enqueue adds nothing.
        first = enqueue(cfg, names)
        again = enqueue(cfg, names)
        assert all(q.job_id for q in first)
        assert [(q.job_id, q.waiting) for q in again] == [(None, q.job_id) for q in first]
        # A job of other flows (an answer's delivery, say) is not the waiting one's.
        (other,) = enqueue(cfg, names[:1], flows=["followups"])
        assert other.job_id and other.job_id != first[0].job_id

        workers = Workers(config, worker_env(), tmp_path)
        workers.start(2)
        try:
            _ready(cfg, workers, 2)
            outcomes = {q.account: _result(cfg, str(q.job_id), workers, timeout_s=300)
                        for q in first}
            followups = _result(cfg, str(other.job_id), workers, timeout_s=300)
            # The console's Run now goes through the queue too, and names the worker.
            console = web.Console(config=cfg)
            job, started = runnow.start_job(console, account=names[1], flows=[],
                                            dry_run=False, user="ann")
            assert started and job.done.wait(180), job.snapshot()
            via_console = job.snapshot()
            # Handed out again after it ended (a worker that vanished before the queue
            # heard): the ledger says it is done, and nothing runs.
            app = make_app(cfg)
            try:
                app.AsyncResult(first[0].job_id).forget()  # the stored outcome, not the run
                redo = app.send_task("rpa.run_account", kwargs={"account": names[0]},
                                     task_id=first[0].job_id, queue=cfg.queue.name
                                     if cfg.queue else None)
                redone = redo.get(timeout=120)
            finally:
                app.close()
        finally:
            workers.stop()

    assert {n: o["status"] for n, o in outcomes.items()} == dict.fromkeys(names, "ok")
    assert via_console["status"] == "ok" and via_console["exit_code"] == 0, via_console
    assert followups["status"] == "ok" and followups["account"] == names[0], followups
    assert via_console["worker"] in {"w1@test", "w2@test"} and via_console["run_id"]
    used = {o["worker"] for o in outcomes.values()}
    assert used == {"w1@test", "w2@test"}, "both workers took jobs"
    # ... and tells the outcome of the run that did it
    assert redone["done_before"] is True and redone["run_id"] == outcomes[names[0]]["run_id"]
    assert (redone["status"], redone["exit_code"], redone["worker"], redone["folder"]) == (
        "ok", 0, outcomes[names[0]]["worker"], outcomes[names[0]]["folder"])
    ledger = PostgresLedger(pg_database.url, password=pg_database.password)
    try:
        runs = ledger.runs(50)
    finally:
        ledger.close()
    assert sorted(r["account"] for r in runs) == sorted([*names, names[1], names[0]]), \
        "each account once, the console's run and the follow-ups' job"
    assert {r["run_id"]: r["worker"] for r in runs} == {
        **{o["run_id"]: o["worker"] for o in (*outcomes.values(), followups)},
        via_console["run_id"]: via_console["worker"]}
    rows = {r.run_id: r for r in list_runs(tmp_path / "recordings")}
    for o in outcomes.values():
        assert rows[o["run_id"]].worker == o["worker"]
        report = (Path(o["folder"]) / "report.html").read_text()
        assert f"worker <b>{o['worker']}</b>" in report
    for name in workers.procs:
        assert redis_server.password not in workers.log(name), "no secret in a worker's log"


def test_the_schedule_queues_each_account_due_and_no_second_job_while_one_waits(
        pg_database: PgDatabase, redis_server: RedisServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import datetime, timezone

    from rpa.scheduling.scheduler import Scheduler

    monkeypatch.setenv(QUEUE_PASSWORD_ENV, redis_server.password)
    accounts = [{"name": n, "email": "va@example.org", "password_env": "X_PW",
                 "totp_secret_env": "X_TOTP"} for n in ("shop", "other")]
    cfg = parse_config({
        "accounts": accounts, "va": {"full_name": "Maria Santos", "initials": "MS"},
        "paths": {"state_dir": str(tmp_path / "state"),
                  "recordings_dir": str(tmp_path / "recordings")},
        "timezone": "UTC", "ledger": pg_database.config,
        "queue": {"broker_url": redis_server.url, "password_env": QUEUE_PASSWORD_ENV,
                  "name": f"sched-{tmp_path.name}"[:60]},
        "schedule": [{"cron": "0 8,13 * * *", "all_accounts": True, "flows": ["followups"]}],
    }, "test-queue-schedule")
    now = datetime(2026, 6, 1, 8, 0, 30, tzinfo=timezone.utc)
    sched = Scheduler(cfg, clock=lambda: now)
    first = sched.tick()
    assert [(f.account, f.status) for f in first] == [("other", "queued"), ("shop", "queued")]
    assert all(f.note.startswith("job ") and f.flows == ["followups"] for f in first)
    now = datetime(2026, 6, 1, 13, 0, 30, tzinfo=timezone.utc)  # the next slot: none ran
    second = sched.tick()
    assert [(f.account, f.status) for f in second] == [("other", "waiting"),
                                                       ("shop", "waiting")]
    assert [f.note.split("(")[1] for f in second] == [f.note.split(" ")[1] + ")"
                                                     for f in first]
    # On the queue: exactly the two jobs, with the account and flows and nothing else.
    waiting = [json.loads(m) for m in redis_server.command("LRANGE", cfg.queue.name
                                                           if cfg.queue else "", "0", "-1")]
    assert len(waiting) == 2
    assert sorted(m["headers"]["id"] for m in waiting) == sorted(f.note.split(" ")[1]
                                                                 for f in first)
