"""Runs on the PostgreSQL ledger, killed with SIGKILL at the points of the reply protocol
(before the send, after it and before the ledger knows) and of the outbox: nothing lost,
no buyer answered twice, no text sent more than once more. And the account's run lock
as an advisory lock: a second run is refused (exit 4), and a killed holder lets go.
Real sandbox, Chromium, receiver and PostgreSQL; real child processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from rpa.errors import RunLocked
from rpa.ledger import PostgresLedger, advisory_lock
from rpa.practice.receiver import Receiver
from rpa.run.orchestrator import run
from tests.conftest import PgDatabase, Sandbox, all_text_files
from tests.test_buyer_messages import EXPECTED, messages_config, replies_by_thread

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parent.parent


def write_config(cfg: Any, tmp_path: Path) -> Path:
    path = tmp_path / "rpa.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    return path


def child(script: str, *args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "child.py"
    path.write_text(script)
    return subprocess.run([sys.executable, str(path), *args], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=180, check=False)


def ledger_of(db: PgDatabase) -> PostgresLedger:
    return PostgresLedger(db.url, password=db.password)


# Dies at M-04's reply: "before" with the reply recorded as being sent and not sent,
# "after" once the page has it and before the ledger knows.
KILL_AT_REPLY = """
import os, signal, sys
from rpa.config import load_config
from rpa.run.orchestrator import run
from rpa.seller_central.messages import ThreadPage

config, thread, point = sys.argv[1:4]
original = ThreadPage.send

def send(self, text):
    if self.thread_id == thread and point == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    view = original(self, text)
    if self.thread_id == thread:
        os.kill(os.getpid(), signal.SIGKILL)
    return view

ThreadPage.send = send
run(load_config(config))
"""


@pytest.mark.parametrize("point", ["before", "after"])
def test_killed_at_a_reply_on_postgres_never_answers_twice(
        point: str, sandbox: Sandbox, make_config: Any, receiver: Receiver,
        pg_database: PgDatabase, tmp_path: Path) -> None:
    cfg = messages_config(sandbox, make_config, ledger=pg_database.config)
    proc = child(KILL_AT_REPLY, str(write_config(cfg, tmp_path)), "M-04", point,
                 tmp_path=tmp_path)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert ("M-04" in replies_by_thread(sandbox)) == (point == "after")
    ledger = ledger_of(pg_database)
    try:
        (m04,) = [t for t in ledger.threads("test") if t["thread_id"] == "M-04"]
        assert m04["state"] == "sending" and m04["escalation"], "recorded before the send"
    finally:
        ledger.close()
    assert not (Path(cfg.paths.state_dir) / "ledger.sqlite").exists(), "PostgreSQL only"

    result = run(cfg)  # the killed run's advisory lock went with its connection
    assert result.status == "ok", result.data["errors"]
    sent = replies_by_thread(sandbox)
    assert all(len(v) == 1 for v in sent.values()), sent
    assert len(sent) == sum(1 for d in EXPECTED.values() if d.startswith(("template", "hold")))
    ledger = ledger_of(pg_database)
    try:
        (m04,) = [t for t in ledger.threads("test") if t["thread_id"] == "M-04"]
        code = m04["escalation"]
        assert m04["state"] == "sent" and code
        assert len(ledger.escalations("test")) == len({t["escalation"] for t in ledger.threads(
            "test") if t["escalation"]}), "one escalation a thread, none dropped"
    finally:
        ledger.close()
    texts = [t for t in receiver.messages("sms") if re.match(rf"{code}-[A-Z2-9]{{4}}:", t)]
    assert len(texts) == 1, receiver.messages("sms")


# Builds a Notifier on the PostgreSQL ledger as a run does and dies while one text is out:
# before it leaves, or after the receiver has it and before the outbox knows.
KILL_IN_SEND = """
import os, signal, sys
from rpa.ledger import PostgresLedger
from rpa.owner.notify import Notifier

url, receiver, point = sys.argv[1:4]
ledger = PostgresLedger(url, password=os.environ["T_PG_PASSWORD"])
ledger.start_run("crashed-run", "test", False)
notifier = Notifier(initials="MS", urls={"sms": [receiver]}, ledger=ledger,
                    run_id="crashed-run")
original = Notifier._send

def send(self, channel, text, title, only=None):
    if point == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    ok = original(self, channel, text, title, only)
    os.kill(os.getpid(), signal.SIGKILL)
    return ok

Notifier._send = send
notifier.sms("Account health: Order Defect Rate 1.8% (target under 1%).", title="Performance")
"""


@pytest.mark.parametrize("point", ["before", "after"])
def test_a_text_killed_in_flight_on_postgres_is_sent_again_once(
        point: str, make_config: Any, receiver: Receiver, pg_database: PgDatabase,
        tmp_path: Path) -> None:
    # no mailbox configured: a run without a browser
    cfg = make_config(flows=["mailbox"], ledger=pg_database.config)
    proc = child(KILL_IN_SEND, pg_database.url, receiver.url("sms"), point,
                 tmp_path=tmp_path)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert len(receiver.messages("sms")) == (0 if point == "before" else 1)

    assert run(cfg).exit_code == 0
    texts = [t for t in receiver.messages("sms") if "Order Defect Rate" in t]
    assert len(texts) == (1 if point == "before" else 2), "never lost, at most one duplicate"
    assert run(cfg).exit_code == 0
    assert len([t for t in receiver.messages("sms") if "Order Defect Rate" in t]) == len(texts)
    ledger = ledger_of(pg_database)
    try:
        assert ledger.outbox_unsent() == [] and len(ledger.runs()) == 3
    finally:
        ledger.close()


# Dies right after the first escalation row is inserted, inside the transaction that also
# takes the counter's row lock and writes the history: the server undoes all of it.
KILL_IN_ESCALATE = """
import os, signal, sys
from rpa.ledger import PostgresLedger
from rpa.ledger.postgres import PgConnection

original = PgConnection.execute

def execute(self, sql, parameters=(), /):
    cur = original(self, sql, parameters)
    if sql.lstrip().startswith("INSERT INTO escalations"):
        os.kill(os.getpid(), signal.SIGKILL)
    return cur

PgConnection.execute = execute
ledger = PostgresLedger(sys.argv[1], password=os.environ["T_PG_PASSWORD"])
ledger.escalate_many("test", "email", [{"source_key": f"<m{n}@x>", "summary": "{code}: s",
                                        "details": "d"} for n in range(3)])
"""


def test_killed_inside_an_escalation_on_postgres_keeps_all_or_nothing(
        pg_database: PgDatabase, tmp_path: Path) -> None:
    proc = child(KILL_IN_ESCALATE, pg_database.url, tmp_path=tmp_path)
    assert proc.returncode == -9, proc.stderr[-2000:]
    ledger = ledger_of(pg_database)
    try:
        assert ledger.escalations(None) == [] and ledger.events() == []
        # the counter's row lock went with the dead session: this does not wait
        ledger.db.execute("SET lock_timeout = '10s'")
        made = ledger.escalate_many("test", "email", [
            {"source_key": f"<m{n}@x>", "summary": "{code}: s", "details": "d"}
            for n in range(3)])
        assert made == [("E001", True), ("E002", True), ("E003", True)]
        assert [e["event"] for e in ledger.events()] == ["opened"] * 3
    finally:
        ledger.close()


HOLD_THE_LOCK = """
import os, sys, time
from rpa.ledger import advisory_lock

with advisory_lock(sys.argv[1], os.environ["T_PG_PASSWORD"], "main"):
    print("held", flush=True)
    time.sleep(120)
"""


def test_the_advisory_lock_refuses_a_second_run_and_goes_with_a_killed_holder(
        pg_database: PgDatabase, tmp_path: Path) -> None:
    from tests.test_cli_errors import ENV
    from tests.test_cli_errors import write_config as cli_config

    config = cli_config(tmp_path, ledger=pg_database.config)
    script = tmp_path / "hold.py"
    script.write_text(HOLD_THE_LOCK)
    holder = subprocess.Popen([sys.executable, str(script), pg_database.url], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        proc = subprocess.run([sys.executable, "-m", "rpa.cli", "run", "--config",
                               str(config)], cwd=tmp_path, env={**os.environ, **ENV},
                              capture_output=True, text=True, timeout=120, check=False)
        said = " ".join(proc.stderr.split())
        assert proc.returncode == 4, proc.stdout + proc.stderr
        assert f"another run for account 'main' is in progress (pid {holder.pid} on" in said
        assert "Traceback" not in proc.stderr and pg_database.password not in proc.stderr
        with pytest.raises(RunLocked), advisory_lock(pg_database.url, pg_database.password,
                                                     "main"):
            pass
        with advisory_lock(pg_database.url, pg_database.password, "second"):
            pass  # another account's lock is another lock
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
    deadline = time.monotonic() + 10
    while True:  # the server ends the dead client's session as its socket closes
        try:
            with advisory_lock(pg_database.url, pg_database.password, "main"):
                break
        except RunLocked:
            assert time.monotonic() < deadline, "the lock outlived its holder"
            time.sleep(0.1)


def test_a_run_on_postgres_keeps_the_password_out_of_its_files(
        make_config: Any, pg_database: PgDatabase) -> None:
    cfg = make_config(flows=["mailbox"], ledger=pg_database.config)
    result = run(cfg)
    assert result.exit_code == 0, result.data["errors"]
    ledger = ledger_of(pg_database)
    try:
        assert [r["run_id"] for r in ledger.runs()] == [result.data["run_id"]]
    finally:
        ledger.close()
    state = Path(cfg.paths.state_dir)
    assert not (state / "ledger.sqlite").exists() and not list(state.glob("backups/*"))
    secret = pg_database.password.encode()
    for folder in (Path(cfg.paths.recordings_dir), state):
        leaked = [str(path) for path, data in all_text_files(folder) if secret in data]
        assert leaked == []
