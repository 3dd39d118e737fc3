"""Issue 10, findings 3-6: atomic escalations, the outbox, honest texts, a ledger that
recovers loudly. Real sandbox + Chromium, a real receiver, real child processes killed
with SIGKILL at injected points."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from rpa.ledger import Ledger, LedgerBroken, backups
from rpa.owner import escalate
from rpa.practice.receiver import Receiver
from rpa.run.orchestrator import EXIT_UNDELIVERED, run
from tests.conftest import Sandbox
from tests.test_buyer_messages import messages_config, replies_by_thread

ROOT = Path(__file__).resolve().parent.parent


def dead_url(channel: str) -> str:
    """An Apprise URL to a loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"json://127.0.0.1:{sock.getsockname()[1]}/{channel}"


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


def ledger_of(cfg: Any) -> Ledger:
    return Ledger(Path(cfg.paths.state_dir) / "ledger.sqlite")


# Dies right after the first escalation row is inserted: before the fix that insert was
# committed alone and the code written by a second statement; now both are one transaction.
KILL_IN_ESCALATE = """
import os, signal, sys
from rpa.config import load_config
from rpa import ledger as ledger_mod
from rpa.run.orchestrator import run

class Dying:
    def __init__(self, db):
        self._db = db
    def __getattr__(self, name):
        return getattr(self._db, name)
    def execute(self, sql, *args):
        cur = self._db.execute(sql, *args)
        if sql.lstrip().startswith("INSERT INTO escalations"):
            os.kill(os.getpid(), signal.SIGKILL)
        return cur

original = ledger_mod.Ledger.__init__

def init(self, *args, **kwargs):
    original(self, *args, **kwargs)
    self.db = Dying(self.db)

ledger_mod.Ledger.__init__ = init
run(load_config(sys.argv[1]))
"""


def test_killed_inside_escalate_then_one_channel_down_then_reply_failing(
        sandbox: Sandbox, make_config: Any, receiver: Receiver, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # one attempt per thread and flow: the failing reply costs one try, not nine
    cfg = messages_config(sandbox, make_config, retries__attempts=1, browser__trace=False)
    proc = child(KILL_IN_ESCALATE, str(write_config(cfg, tmp_path)), tmp_path=tmp_path)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert "M-04" not in replies_by_thread(sandbox), "killed before M-04's reply"

    # Run 2: the details channel is down, and M-05's reply endpoint fails every time.
    monkeypatch.setenv("T_DETAILS_URL", dead_url("details"))
    sandbox.fault(http500="/messaging/thread/M-05/reply", times=5)
    second = run(cfg)
    assert "M-05" not in replies_by_thread(sandbox)
    ledger = ledger_of(cfg)
    m04 = [e for e in ledger.escalations("test") if e["source_key"].startswith("M-04:")]
    assert len(m04) == 1 and re.fullmatch(r"B\d{3,}", m04[0]["code"] or ""), m04
    assert m04[0]["summary"] and m04[0]["details"] and "{code}" not in m04[0]["summary"]
    codes = {t["thread_id"]: t["escalation"] for t in second.data["threads"]}
    assert codes["M-04"] == m04[0]["code"]
    sms = receiver.messages("sms")
    m05 = [t for t in sms if re.match(rf"{codes['M-05']}-[A-Z2-9]{{4}}:", t)]
    assert len(m05) == 1, sms
    assert "holding reply sent" not in m05[0] and "NOT sent" in m05[0], m05
    assert second.data["undelivered"], "the details texts did not go out"
    undelivered_step = [s for f in second.data["flows"].values() for s in f["steps"]
                        if s["outcome"] == "undelivered"]
    assert undelivered_step, "a step whose text did not reach the owner is not ok"
    ledger.close()

    # Run 3: every channel up, no fault: only the details channel is sent again.
    monkeypatch.setenv("T_DETAILS_URL", receiver.url("details"))
    sandbox._call("DELETE", "/__sandbox/faults")
    third = run(cfg)
    assert third.status == "ok", third.data["errors"]
    assert third.exit_code == 0 and third.data["undelivered"] == []
    sms = receiver.messages("sms")
    details = receiver.messages("details")
    for tid in ("M-04", "M-05", "M-07", "M-09", "M-10", "M-12", "M-13"):
        code = codes[tid]
        assert sum(bool(re.match(rf"{code}-[A-Z2-9]{{4}}:", t)) for t in sms) == 1, (tid, sms)
    long_code = codes["M-09"]
    assert "Check Upwork for details." in next(t for t in sms if t.startswith(long_code))
    assert sum(bool(re.match(rf"{long_code}-[A-Z2-9]{{4}}:", d)) for d in details) == 1, details
    sent = replies_by_thread(sandbox)
    assert all(len(v) == 1 for v in sent.values()), sent
    assert "M-04" in sent and "M-05" in sent


# Builds a Notifier on the ledger as a run does and dies while one text is out: before
# it leaves ("before") or after the receiver has it, before the outbox knows ("after").
KILL_IN_SEND = """
import os, signal, sys
from pathlib import Path
from rpa.owner.notify import Notifier
from rpa.ledger import Ledger

state, url, point = sys.argv[1], sys.argv[2], sys.argv[3]
ledger = Ledger(Path(state) / "ledger.sqlite")
ledger.start_run("crashed-run", "test", False)
notifier = Notifier(initials="MS", urls={"sms": [url]}, ledger=ledger, run_id="crashed-run")
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
def test_crash_between_send_and_record_is_sent_again_once(
        point: str, make_config: Any, receiver: Receiver, tmp_path: Path) -> None:
    cfg = make_config(flows=["mailbox"])  # no mailbox configured: no browser, no IMAP
    proc = child(KILL_IN_SEND, str(cfg.paths.state_dir), receiver.url("sms"), point,
                 tmp_path=tmp_path)
    assert proc.returncode == -9, proc.stderr[-2000:]
    before = len(receiver.messages("sms"))
    assert before == (0 if point == "before" else 1)

    first = run(cfg)
    assert first.exit_code == 0, first.data
    texts = [t for t in receiver.messages("sms") if "Order Defect Rate" in t]
    assert len(texts) == (1 if point == "before" else 2), "never lost, at most one duplicate"
    assert run(cfg).exit_code == 0
    assert len([t for t in receiver.messages("sms") if "Order Defect Rate" in t]) == len(texts)


def test_every_channel_down_exits_5_and_the_report_lists_the_texts(
        sandbox: Sandbox, make_config: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.reset("classic-poor")
    cfg = make_config(signed_in=True, browser__trace=False)
    monkeypatch.setenv("T_SMS_URL", dead_url("sms"))
    monkeypatch.setenv("T_DETAILS_URL", dead_url("details"))
    result = run(cfg)
    assert result.status == "ok", result.data["errors"]
    assert result.exit_code == EXIT_UNDELIVERED == 5
    undelivered = result.data["undelivered"]
    assert undelivered and all(not u["delivered"] for u in undelivered)
    assert json.loads((result.folder / "run.json").read_text())["undelivered"] == undelivered
    report = result.report.read_text()
    assert 'id="undelivered"' in report
    first_words = undelivered[0]["text"].split(":")[0]
    section = report.split('id="undelivered"', 1)[1].split("</table>", 1)[0]
    assert first_words in section


def test_notify_of_an_unknown_code_is_an_error(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ctx = SimpleNamespace(ledger=ledger, dry_run=False, notifier=None)
    with pytest.raises(LookupError, match="B999"):
        escalate.notify(ctx, "B999")  # type: ignore[arg-type]
    ledger.close()


def test_codes_are_never_reused_after_the_ledger_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ledger.sqlite"
    ledger = Ledger(path)
    first = [ledger.escalate("a", "email", f"m{i}", summary="{code}: x", details="d")[0]
             for i in range(3)]
    assert first == ["E001", "E002", "E003"]
    ledger.close()
    path.unlink()  # lost; the counter beside it remembers
    ledger = Ledger(path)
    assert ledger.escalate("a", "email", "other", summary="s", details="d")[0] == "E004"
    ledger.close()
    for p in path.parent.iterdir():  # the whole state folder lost: run.json remembers
        p.unlink()
    ledger = Ledger(path, code_floor=4)
    code, new = ledger.escalate("a", "buyer_question", "t:1", summary="{code}", details="d")
    assert (code, new) == ("B005", True)
    assert ledger.escalation(code)["summary"] == "B005"  # type: ignore[index]
    ledger.close()


def test_backups_keep_the_last_ones(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    made = [ledger.backup(keep=3) for _ in range(5)]
    ledger.close()
    assert backups(tmp_path) == made[-3:]
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in made[-3:])


@pytest.mark.parametrize("damage", ["overwritten", "truncated", "empty", "deleted"])
def test_a_broken_ledger_stops_the_run_before_anything_and_restore_brings_it_back(
        damage: str, sandbox: Sandbox, make_config: Any, receiver: Receiver,
        tmp_path: Path) -> None:
    cfg = make_config(flows=["mailbox"])  # no mailbox configured: a run without a browser
    path = Path(cfg.paths.state_dir) / "ledger.sqlite"
    ledger = Ledger(path)
    for i in range(40):  # enough pages that a truncated file is visibly damaged
        ledger.escalate("test", "email", f"<m{i}@x>", summary="{code}: " + "x" * 400,
                        details="d" * 2000)
    ledger.close()
    assert run(cfg).exit_code == 0
    assert len(backups(path.parent)) == 1

    if damage == "overwritten":
        with path.open("r+b") as fh:
            fh.write(b"this is not a database" * 10)
    elif damage == "truncated":
        with path.open("r+b") as fh:
            fh.truncate(path.stat().st_size // 3)
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
    sandbox.reset("healthy")
    signin = make_config(flows=["login"])
    with pytest.raises(LedgerBroken) as caught:
        run(signin)
    assert caught.value.exit_code == 6
    assert "rpa ledger restore" in str(caught.value)
    assert sandbox.state()["counters"]["requests"] == 0, "stopped before Seller Central"
    told = [t for t in receiver.messages("sms") if "ledger" in t]
    assert len(told) == 1 and "rpa ledger restore" in told[0], receiver.messages("sms")
    if damage == "empty":
        assert path.stat().st_size == 0, "not silently recreated"
    if damage == "deleted":
        assert not path.exists(), "not silently recreated"

    cfg_file = write_config(cfg, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "rpa.cli", "ledger", "restore", "--config",
                           str(cfg_file)], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "restored" in proc.stdout
    if damage != "deleted":
        assert list(path.parent.glob("ledger.sqlite.broken-*")), "the broken file is kept"

    again = run(cfg)
    assert again.exit_code == 0, again.data["errors"]
    ledger = Ledger(path)
    assert ledger.escalation("E001") is not None and ledger.escalation("E040") is not None
    assert ledger.escalate("test", "email", "<new@x>", summary="s", details="d")[0] == "E041"
    ledger.close()


def test_rpa_run_exits_6_on_a_corrupt_ledger(make_config: Any, tmp_path: Path) -> None:
    cfg = make_config(flows=["mailbox"])
    path = Path(cfg.paths.state_dir) / "ledger.sqlite"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage" * 100)
    proc = subprocess.run([sys.executable, "-m", "rpa.cli", "run", "--config",
                           str(write_config(cfg, tmp_path))], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "NO_COLOR": "1", "COLUMNS": "300"})
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert "corrupt" in proc.stderr and "Traceback" not in proc.stderr


def test_a_run_continues_the_code_count_of_the_last_run_json(make_config: Any) -> None:
    """run.json's escalation_counter is the floor of the next run's codes: a ledger that
    knows fewer codes (a new one, an older one) never hands out one a run already named."""
    cfg = make_config(flows=["mailbox"])  # no mailbox configured: a run without a browser
    state = Path(cfg.paths.state_dir)
    Ledger(state / "ledger.sqlite").close()  # a sound ledger that has never seen a code
    earlier = Path(cfg.paths.recordings_dir) / "20250101T000000Z-test-aaaaaa"
    earlier.mkdir(parents=True)
    (earlier / "run.json").write_text(json.dumps({"status": "ok", "escalation_counter": 7}))
    (earlier.parent / "latest").symlink_to(earlier.name, target_is_directory=True)
    result = run(cfg)
    assert result.exit_code == 0, result.data["errors"]
    assert result.data["escalation_counter"] == 7
    saved = json.loads((result.folder / "run.json").read_text())
    assert saved["escalation_counter"] == 7


@pytest.mark.parametrize("loss", ["state folder lost", "corrupt, no backup"])
def test_without_a_backup_rpa_ledger_new_starts_afresh_and_codes_go_on(
        loss: str, make_config: Any, receiver: Receiver, tmp_path: Path) -> None:
    """With the ledger, its counter and its backups gone (or a corrupt ledger and no backup),
    runs stop (exit 6) and `rpa ledger restore` has nothing to restore; `rpa ledger new`
    starts an empty ledger whose codes go on after the last run.json's count."""
    from typer.testing import CliRunner

    from rpa.cli import app

    cfg = make_config(flows=["mailbox"])  # no mailbox configured: a run without a browser
    state = Path(cfg.paths.state_dir)
    path = state / "ledger.sqlite"
    ledger = Ledger(path)
    for i in range(5):
        ledger.escalate("test", "email", f"<m{i}@x>", summary="{code}: x", details="d")
    ledger.close()
    assert run(cfg).exit_code == 0
    if loss == "state folder lost":
        for p in sorted(state.rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() else p.unlink()
    else:
        for p in backups(state):
            p.unlink()
        path.write_bytes(b"garbage" * 1000)
    with pytest.raises(LedgerBroken):
        run(cfg)

    config = str(write_config(cfg, tmp_path))
    cli = CliRunner()
    restored = cli.invoke(app, ["ledger", "restore", "--config", config])
    assert restored.exit_code == 1 and "no ledger backup" in restored.output
    made = cli.invoke(app, ["ledger", "new", "--config", config])
    assert made.exit_code == 0, made.output
    assert "codes go on after number 5" in " ".join(made.output.split())
    if loss != "state folder lost":
        assert [p.read_bytes() for p in state.glob("ledger.sqlite.broken-*")] == [
            b"garbage" * 1000], "the broken file is kept"
    assert cli.invoke(app, ["ledger", "new", "--config", config]).exit_code == 1, \
        "a sound ledger is never replaced"

    assert run(cfg).exit_code == 0
    ledger = Ledger(path)
    assert ledger.escalate("test", "email", "<new@x>", summary="s", details="d")[0] == "E006"
    ledger.close()
    assert cli.invoke(app, ["ledger", "new", "--config", config]).exit_code == 1, \
        "with a backup, restore is the way"
