"""Escalations the owner leaves unanswered: reminded after 2 days, then sent to every
fallback channel a day later, each once; the ledger's lifecycle and the ``rpa escalations``
commands. No browser: the ``followups`` flow needs none, and a clock is injected."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from rpa.config import Config, needed_secrets, parse_config
from rpa.errors import ConfigError
from rpa.ledger import Ledger
from rpa.practice.receiver import Receiver
from rpa.run.orchestrator import EXIT_OK, EXIT_UNDELIVERED, RunResult, run
from tests.cli_forkserver import CliForkServers

ROOT = Path(__file__).resolve().parents[1]


def _escalate(cfg: Config, source: str, *, notified: bool = True) -> str:
    """An email escalation made as the mailbox flow makes one, texted now (real time)."""
    ledger = Ledger(Path(cfg.paths.state_dir) / "ledger.sqlite")
    try:
        code, new = ledger.escalate(
            "test", "email", source, summary="{code}: Ann asks when the refund comes.",
            short="{code}: Ann asks about a refund.",
            details="{code}: from Ann <ann@example.org>, 'Refund?'\nWhen will it come?")
        assert new
        if notified:
            ledger.mark_notified(code)
        return code
    finally:
        ledger.close()


def _token(cfg: Config, code: str) -> str:
    ledger = Ledger(Path(cfg.paths.state_dir) / "ledger.sqlite")
    try:
        return ledger.answer_token(code)
    finally:
        ledger.close()


def _state(cfg: Config, code: str) -> dict[str, Any]:
    ledger = Ledger(Path(cfg.paths.state_dir) / "ledger.sqlite")
    try:
        esc = ledger.escalation(code)
        assert esc is not None
        return esc
    finally:
        ledger.close()


def _followups(cfg: Config, monkeypatch: pytest.MonkeyPatch, when: datetime) -> RunResult:
    """A followups run that sees ``when`` as the time."""
    return run(cfg, flows=["followups"], clock=lambda: when)


@pytest.fixture()
def fallback_config(make_config: Callable[..., Config], receiver: Receiver,
                    monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("T_FALLBACK_URL", receiver.url("fallback"))
    monkeypatch.setenv("T_FALLBACK2_URL", receiver.url("fallback2"))
    cfg = make_config(notify={"sms": {"url_env": "T_SMS_URL"},
                              "details": {"url_env": "T_DETAILS_URL", "label": "Upwork"},
                              "fallback": [{"url_env": "T_FALLBACK_URL"},
                                           {"url_env": "T_FALLBACK2_URL"}]})
    # The flow asks for no Seller Central secret: without them it still runs.
    monkeypatch.delenv("T_SC_PASSWORD")
    monkeypatch.delenv("T_SC_TOTP")
    return cfg


def test_reminder_after_two_days_then_every_fallback_channel_each_once(
        fallback_config: Config, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = fallback_config
    assert set(needed_secrets(cfg, cfg.accounts[0], ["followups"])) == {
        "notify.sms", "notify.details", "notify.fallback[0]", "notify.fallback[1]"}
    code = _escalate(cfg, "M-1")
    later = _escalate(cfg, "M-2", notified=False)  # never texted: not reminded either
    assert _state(cfg, code)["status"] == "notified"
    start = datetime.now(timezone.utc)

    # Before 2 days: nothing.
    result = _followups(cfg, monkeypatch, start + timedelta(days=1, hours=23))
    assert result.exit_code == EXIT_OK, result.data["errors"]
    assert receiver.items == []
    assert _state(cfg, code)["status"] == "notified"

    # At +2 days: one reminder, on the sms channel, naming the code.
    reminded_at = start + timedelta(days=2, minutes=1)
    result = _followups(cfg, monkeypatch, reminded_at)
    assert result.exit_code == EXIT_OK, result.data["errors"]
    sms = receiver.messages("sms")
    token = _token(cfg, code)
    assert len(sms) == 1 and sms[0].startswith(f"Reminder: {code}-{token} still needs your "
                                                "answer"), "the code with its answer token"
    assert sms[0].endswith("-MS") and len(sms[0]) <= 160
    assert receiver.messages("fallback") == [] and receiver.messages("fallback2") == []
    esc = _state(cfg, code)
    assert esc["status"] == "reminded"
    assert esc["reminded_at"] == reminded_at.isoformat(timespec="seconds")
    assert result.data["observations"]["followups"]["reminded"] == [code]
    assert _state(cfg, later)["status"] == "open" and _state(cfg, later)["reminded_at"] is None

    # The same day again: nothing new.
    count = len(receiver.items)
    _followups(cfg, monkeypatch, reminded_at + timedelta(hours=1))
    assert len(receiver.items) == count

    # A day after the reminder: every fallback channel, once, the whole story.
    further = reminded_at + timedelta(days=1, minutes=1)
    result = _followups(cfg, monkeypatch, further)
    assert result.exit_code == EXIT_OK, result.data["errors"]
    for channel in ("fallback", "fallback2"):
        got = receiver.messages(channel)
        assert len(got) == 1 and code in got[0] and "When will it come?" in got[0]
    assert len(receiver.messages("sms")) == 1
    esc = _state(cfg, code)
    assert esc["status"] == "escalated_further"
    assert esc["escalated_further_at"] == further.isoformat(timespec="seconds")

    count = len(receiver.items)
    _followups(cfg, monkeypatch, further + timedelta(days=5))
    assert len(receiver.items) == count


def test_an_undelivered_reminder_is_tried_again_next_run(
        make_config: Callable[..., Config], receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_config()
    code = _escalate(cfg, "M-3")
    when = datetime.now(timezone.utc) + timedelta(days=2, hours=1)
    receiver.fail_next = 1  # the reminder's sms post fails
    result = _followups(cfg, monkeypatch, when)
    assert result.exit_code == EXIT_UNDELIVERED
    assert result.data["observations"]["followups"]["failed"] == [code]
    assert _state(cfg, code)["status"] == "notified"
    assert _state(cfg, code)["reminded_at"] is None

    result = _followups(cfg, monkeypatch, when + timedelta(hours=1))
    assert result.exit_code == EXIT_OK, result.data["errors"]
    sms = receiver.messages("sms")
    assert len(sms) == 1 and sms[0].startswith(f"Reminder: {code}")
    assert _state(cfg, code)["status"] == "reminded"


def test_an_old_ledger_gains_the_lifecycle_columns_and_keeps_every_row(
        tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE escalations (
            id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT UNIQUE, account TEXT NOT NULL,
            kind TEXT NOT NULL, source_key TEXT NOT NULL, buyer TEXT NOT NULL DEFAULT '',
            order_id TEXT NOT NULL DEFAULT '', summary TEXT NOT NULL,
            short TEXT NOT NULL DEFAULT '', details TEXT NOT NULL, url TEXT NOT NULL DEFAULT '',
            run_id TEXT, created_at TEXT NOT NULL, notified_at TEXT,
            status TEXT NOT NULL DEFAULT 'open', UNIQUE (account, kind, source_key));
        INSERT INTO escalations (id, code, account, kind, source_key, summary, details,
            created_at, notified_at) VALUES
            (1, 'E001', 'test', 'email', 'a', 's1', 'd1', '2026-01-01T00:00:00+00:00',
             '2026-01-01T00:01:00+00:00'),
            (2, 'B002', 'test', 'buyer_question', 'b', 's2', 'd2',
             '2026-01-02T00:00:00+00:00', NULL);
    """)
    db.commit()
    db.close()
    for _ in range(2):  # opening again changes nothing more
        ledger = Ledger(path)
        rows = {e["code"]: e for e in ledger.escalations("test")}
        ledger.close()
        assert set(rows) == {"E001", "B002"}
        assert rows["E001"]["status"] == "notified" and rows["E001"]["summary"] == "s1"
        assert rows["B002"]["status"] == "open"
        for column in ("reminded_at", "escalated_further_at", "answered_at", "delivered_at",
                       "closed_at", "expired_at"):
            assert column in rows["B002"] and rows["B002"][column] is None
    ledger = Ledger(path)
    ledger.mark_notified("B002")
    assert ledger.escalation("B002")["status"] == "notified"  # type: ignore[index]
    ledger.close()


@pytest.mark.parametrize(("value", "wanted"), [
    ("2 weeks", "is not a waiting time"), (0, "more than nothing"), ("120d", "at most 90"),
])
def test_followup_times_are_validated_with_a_clear_error(value: object, wanted: str) -> None:
    data = {"accounts": [{"name": "a", "email": "a@b.c", "password_env": "P",
                          "totp_secret_env": "T"}],
            "va": {"full_name": "Maria Santos", "initials": "MS"},
            "followups": {"fallback_after": value}}
    with pytest.raises(ConfigError) as err:
        parse_config(data, "x.yaml")
    assert "followups.fallback_after" in str(err.value) and wanted in str(err.value)
    data["followups"] = {"followup_after": 36, "fallback_after": "1d12h"}
    cfg = parse_config(data, "x.yaml")
    assert cfg.followups.followup_after == timedelta(hours=36)
    assert cfg.followups.fallback_after == timedelta(hours=36)
    assert cfg.flows[-1] == "followups"
    # A configuration written back (as tests and tools do) reads the same.
    again = parse_config(cfg.model_dump(mode="json"), "x.yaml")
    assert again.followups == cfg.followups


# Each `rpa` command is a process of its own, forked from a server that has imported what
# `python -m rpa.cli` imports (tests/cli_forkserver.py): no Python start-up each.
CLI = CliForkServers()


@pytest.fixture(scope="module", autouse=True)
def _cli_servers() -> Iterator[None]:
    yield
    CLI.stop()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return CLI.run(list(args), cwd=cwd, env=env, timeout=60)


def test_escalations_list_all_and_show(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "rpa.example.yaml").read_text())
    assert data["flows"][-1] == "followups"
    data["paths"] = {"state_dir": str(tmp_path / "state"),
                     "recordings_dir": str(tmp_path / "rec")}
    config = tmp_path / "rpa.yaml"
    config.write_text(yaml.safe_dump(data))
    account = data["accounts"][0]["name"]

    proc = _cli("escalations", "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "no escalations" in proc.stdout
    assert not (tmp_path / "state" / "ledger.sqlite").exists()  # listing creates nothing

    ledger = Ledger(tmp_path / "state" / "ledger.sqlite")
    open_code, _ = ledger.escalate(account, "email", "m1", summary="{code}: Refund asked",
                                   details="{code}: the whole refund mail")
    ledger.mark_notified(open_code)
    done_code, _ = ledger.escalate(account, "buyer_question", "t1:k",
                                   summary="{code}: Gift wrap?", details="{code}: gift wrap")
    ledger.db.execute("UPDATE escalations SET status='closed', closed_at=? WHERE code=?",
                      ("2026-01-05T00:00:00+00:00", done_code))
    ledger.close()

    proc = _cli("escalations", "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert open_code in proc.stdout and "notified" in proc.stdout and "email" in proc.stdout
    assert "Refund asked" in proc.stdout and done_code not in proc.stdout

    proc = _cli("escalations", "--all", "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert open_code in proc.stdout and done_code in proc.stdout and "closed" in proc.stdout

    proc = _cli("escalations", "show", open_code.lower(), "--config", str(config),
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for part in ("code:", open_code, "status:", "notified_at:", "the whole refund mail",
                 "deliveries"):
        assert part in proc.stdout

    proc = _cli("escalations", "show", "E999", "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 2
    assert "E999" in proc.stderr and "unknown escalation" in proc.stderr
