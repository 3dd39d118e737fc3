"""The scheduler with an injected clock: how many runs a day of cron expressions gives,
one run per account when entries coincide, an entry for all accounts run ``concurrency``
at a time (each in a process of its own by default), one catch-up run after a long sleep,
no repeat after a restart, a stop that lets the run in progress finish; and real
scheduled runs of the ``followups`` flow through the orchestrator (no browser)."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rpa.config import Config, ScheduleEntry, parse_config
from rpa.errors import ConfigError
from rpa.run.orchestrator import RunResult
from rpa.scheduling.cron import latest_slot, next_fire, next_runs
from rpa.scheduling.scheduler import Scheduler, stop_on_signals

BERLIN = ZoneInfo("Europe/Berlin")


def _config(tmp_path: Path, schedule: list[dict[str, Any]], **more: Any) -> Config:
    data: dict[str, Any] = {
        "accounts": [
            {"name": "shop", "email": "va@example.org", "password_env": "X_PW",
             "totp_secret_env": "X_TOTP"},
            {"name": "other", "email": "va@example.org", "password_env": "X_PW",
             "totp_secret_env": "X_TOTP"},
        ],
        "va": {"full_name": "Maria Santos", "initials": "MS"},
        "paths": {"state_dir": str(tmp_path / "state"),
                  "recordings_dir": str(tmp_path / "recordings")},
        "timezone": "Europe/Berlin",
        "schedule": schedule,
        **more,
    }
    return parse_config(data, "test-schedule")


class FakeClock:
    """A wall clock the test moves; the sleeper moves it by the time asked for."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        self.now += timedelta(seconds=seconds)


class FakeRunner:
    """Records each run asked for (pure decision-logic tests only)."""

    def __init__(self, clock: FakeClock, *, locked: bool = False) -> None:
        self.clock = clock
        self.calls: list[tuple[datetime, str | None, list[str] | None, bool]] = []
        self.locked = locked

    def __call__(self, entry: ScheduleEntry) -> RunResult | None:
        self.calls.append((self.clock.now, entry.account, entry.flows, entry.dry_run))
        if self.locked:
            return None
        return RunResult("ok", 0, Path("nowhere"), {"run_id": f"run{len(self.calls)}"})


def _at(text: str) -> datetime:
    """A Berlin wall-clock time as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def _loop_until(sched: Scheduler, clock: FakeClock, until: datetime) -> None:
    """run_forever with the fake sleeper, stopped once the clock passes ``until``."""
    stop = threading.Event()
    real_sleep = clock.sleep

    def sleeper(seconds: float, ev: threading.Event) -> None:
        real_sleep(seconds, ev)
        if clock.now >= until:
            ev.set()

    sched.sleeper = sleeper
    sched.run_forever(stop)


# ---- cron slots -----------------------------------------------------------------------

def test_next_runs_in_the_configured_timezone_across_a_dst_change(tmp_path: Path) -> None:
    cfg = _config(tmp_path, [{"cron": "30 2 * * *"}, {"cron": "0 8,13,18 * * 1-6"}])
    # The night the clocks go forward (29 March 2026, 02:00 -> 03:00): 02:30 does not exist
    # and runs at 03:00; the next day it is 02:30 again.
    slots = next_runs(cfg.schedule, BERLIN, _at("2026-03-28T20:00"), 6)
    got = [(s.when.astimezone(BERLIN).strftime("%a %d %H:%M"), s.index) for s in slots]
    assert got == [("Sun 29 03:00", 0), ("Mon 30 02:30", 0), ("Mon 30 08:00", 1),
                   ("Mon 30 13:00", 1), ("Mon 30 18:00", 1), ("Tue 31 02:30", 0)]
    # The night they go back (25 October): 02:30 happens twice and runs once.
    day = [next_fire("30 2 * * *", BERLIN, _at("2026-10-24T12:00"))]
    day.append(next_fire("30 2 * * *", BERLIN, day[0]))  # type: ignore[arg-type]
    assert [d.astimezone(BERLIN).strftime("%d %H:%M %z") for d in day if d] == [
        "25 02:30 +0200", "26 02:30 +0100"]
    # The latest slot at or before a moment, on the repeated hour too.
    second_pass = datetime(2026, 10, 25, 1, 10, tzinfo=timezone.utc)  # 02:10 +01:00
    assert latest_slot("30 2 * * *", BERLIN, second_pass) == datetime(
        2026, 10, 25, 0, 30, tzinfo=timezone.utc)
    assert latest_slot("0 8 * * *", BERLIN, _at("2026-06-01T08:00")) == _at("2026-06-01T08:00")


def test_a_day_of_cron_expressions_gives_the_right_number_of_runs(tmp_path: Path) -> None:
    cfg = _config(tmp_path, [
        {"cron": "0 8,13,18 * * 1-6", "account": "shop"},   # 3 on a Monday
        {"cron": "*/30 9-11 * * *", "account": "other"},    # 9:00 … 11:30: 6
        {"cron": "0 20 * * 0", "account": "other"},         # Sundays only: 0
    ])
    clock = FakeClock(_at("2026-06-01T00:00"))  # a Monday
    runner = FakeRunner(clock)
    sched = Scheduler(cfg, clock=clock, runner=runner)
    _loop_until(sched, clock, _at("2026-06-02T00:00"))
    shop = [c for c in runner.calls if c[1] == "shop"]
    other = [c for c in runner.calls if c[1] == "other"]
    assert len(shop) == 3 and len(other) == 6
    # Each ran at its slot (the loop wakes at the slot, not later).
    assert [c[0].astimezone(BERLIN).hour for c in shop] == [8, 13, 18]
    assert all(c[0].astimezone(BERLIN).minute in (0, 30) for c in other)
    assert all(c[2] == cfg.flows and c[3] is False for c in runner.calls)
    # What fired is kept, and the console's "next runs" come after the day.
    history = sched.history()
    assert len(history) == 9 and {h["status"] for h in history} == {"ok"}
    due = sched.next_due(3, clock.now)
    assert [(w.strftime("%a %H:%M"), acc) for w, acc, _f in due] == [
        ("Tue 08:00", "shop"), ("Tue 09:00", "other"), ("Tue 09:30", "other")]


def test_entries_due_at_once_for_one_account_give_one_run(tmp_path: Path) -> None:
    cfg = _config(tmp_path, [
        {"cron": "0 8 * * *", "flows": ["followups"]},
        {"cron": "0 8 * * *", "flows": ["login", "dashboard"]},
        {"cron": "0 8 * * *", "flows": ["mailbox"], "dry_run": True},
        {"cron": "0 8 * * *", "account": "other", "flows": ["followups"]},
    ])
    clock = FakeClock(_at("2026-06-01T07:00"))
    runner = FakeRunner(clock)
    sched = Scheduler(cfg, clock=clock, runner=runner)
    assert sched.tick() == []  # first sight: nothing owed
    clock.now = _at("2026-06-01T08:00")
    fired = sched.tick()
    # Two accounts due: their runs go together (in either order), one per account.
    assert sorted((c[1], c[2], c[3]) for c in runner.calls) == [
        ("other", ["followups"], False),
        ("shop", ["login", "dashboard", "followups"], False)]  # the routine's order
    skipped = [f for f in fired if f.status == "skipped"]
    assert len(skipped) == 1 and skipped[0].entries == [2] and "real run" in skipped[0].note
    merged = [f for f in fired if f.account == "shop" and f.status == "ok"]
    assert merged[0].entries == [0, 1] and "merged" in merged[0].note
    # The same slot again (a second tick, or a second process): nothing more.
    assert sched.tick() == [] and Scheduler(cfg, clock=clock, runner=runner).tick() == []
    assert len(runner.calls) == 2


def test_a_run_in_progress_for_the_account_is_not_overlapped(tmp_path: Path) -> None:
    """The orchestrator's lock says a run is in progress: the scheduler skips, records why,
    and does not retry that slot."""
    cfg = _config(tmp_path, [{"cron": "0 * * * *"}])
    clock = FakeClock(_at("2026-06-01T07:59"))
    runner = FakeRunner(clock, locked=True)
    sched = Scheduler(cfg, clock=clock, runner=runner)
    sched.tick()
    clock.now = _at("2026-06-01T08:00")
    fired = sched.tick()
    assert [f.status for f in fired] == ["locked"] and "in progress" in fired[0].note
    clock.now = _at("2026-06-01T08:30")
    assert sched.tick() == [] and len(runner.calls) == 1
    assert sched.history()[-1]["status"] == "locked"


def test_a_long_sleep_gives_one_catch_up_run_and_a_restart_repeats_nothing(
        tmp_path: Path) -> None:
    cfg = _config(tmp_path, [{"cron": "0 * * * *"}])  # hourly
    clock = FakeClock(_at("2026-06-01T07:30"))
    runner = FakeRunner(clock)
    sched = Scheduler(cfg, clock=clock, runner=runner)
    _loop_until(sched, clock, _at("2026-06-01T08:30"))
    assert len(runner.calls) == 1  # 08:00

    # The machine sleeps ten hours: the sleeper returns late, the wall clock has jumped.
    naps: list[float] = []

    def suspended(seconds: float, stop: threading.Event) -> None:
        naps.append(seconds)
        if len(naps) == 1:
            clock.now += timedelta(hours=10, minutes=10)  # 08:30 -> 18:40
        else:
            stop.set()

    sched.sleeper = suspended
    sched.stop_event = threading.Event()
    sched.run_forever()
    assert len(runner.calls) == 2, "ten missed slots give one run"
    assert runner.calls[1][0] == _at("2026-06-01T18:40")
    fired = sched.history()[-1]
    assert fired["slot"] == _at("2026-06-01T18:00").astimezone(timezone.utc).isoformat()
    assert "9 earlier slot(s) missed" in fired["note"]  # 09:00 … 17:00
    assert max(naps) <= 60  # never one long wait that a suspend would stretch

    # A new process (a restart) with the same state file: the slot is not run again…
    again = FakeRunner(clock)
    assert Scheduler(cfg, clock=clock, runner=again).tick() == []
    # …nor lost: the next slot runs once.
    clock.now = _at("2026-06-01T19:00")
    assert len(Scheduler(cfg, clock=clock, runner=again).tick()) == 1
    assert len(again.calls) == 1
    state = json.loads((tmp_path / "state" / "schedule.json").read_text())
    assert list(state["entries"].values()) == [
        {"done_until": _at("2026-06-01T19:00").astimezone(timezone.utc).isoformat()}]
    assert oct((tmp_path / "state" / "schedule.json").stat().st_mode & 0o777) == "0o600"


def test_a_new_entry_runs_its_slot_only_when_just_due(tmp_path: Path) -> None:
    """cron or a systemd timer starting ``rpa schedule --once`` at the slot runs it the
    first time; a scheduler started hours after a slot does not run that old slot."""
    cfg = _config(tmp_path, [{"cron": "0 8 * * *"}])
    clock = FakeClock(_at("2026-06-01T08:00:30"))
    runner = FakeRunner(clock)
    assert len(Scheduler(cfg, clock=clock, runner=runner).tick()) == 1
    other = _config(tmp_path / "b", [{"cron": "0 8 * * *"}])
    clock.now = _at("2026-06-01T11:00")
    assert Scheduler(other, clock=clock, runner=runner).tick() == []
    assert len(runner.calls) == 1


def test_an_entry_for_all_accounts_runs_each_concurrency_at_a_time(tmp_path: Path) -> None:
    """Every account gets a run, two at a time (the third waits for a free one); one that
    fails to run is recorded and holds up none of the others."""
    accounts = [{"name": n, "email": "va@example.org", "password_env": "X_PW",
                 "totp_secret_env": "X_TOTP"} for n in ("shop", "other", "third")]
    cfg = _config(tmp_path, [{"cron": "0 8 * * *", "all_accounts": True,
                              "flows": ["followups"]}], accounts=accounts, concurrency=2)
    clock = FakeClock(_at("2026-06-01T07:00"))
    cond = threading.Condition()
    active, most, ended = 0, 0, 0
    calls: list[str] = []

    def runner(entry: ScheduleEntry) -> RunResult | None:
        nonlocal active, most, ended
        with cond:
            calls.append(str(entry.account))
            active += 1
            most = max(most, active)
            cond.notify_all()
            # Wait for a second run to be going (or one to have ended): runs overlap.
            assert cond.wait_for(lambda: active >= 2 or ended > 0, timeout=10)
        try:
            if entry.account == "other":
                raise RuntimeError("the browser would not start")
            return RunResult("ok", 0, Path("nowhere"), {"run_id": f"run-{entry.account}"})
        finally:
            with cond:
                active -= 1
                ended += 1
                cond.notify_all()

    sched = Scheduler(cfg, clock=clock, runner=runner)
    assert [a for _w, a, _f in sched.next_due(1)] == ["all accounts"]
    assert sched.tick() == []
    clock.now = _at("2026-06-01T08:00")
    fired = sched.tick()
    assert most == 2 and sorted(calls) == ["other", "shop", "third"]
    assert [(f.account, f.status) for f in fired] == [("other", "error"), ("shop", "ok"),
                                                      ("third", "ok")]
    assert "the browser would not start" in fired[0].note
    state = json.loads((tmp_path / "state" / "schedule.json").read_text())
    assert len(state["entries"]) == 3, "each account's progress is kept apart"
    assert sched.tick() == [] and len(calls) == 3


def test_accounts_due_together_each_run_in_a_process_of_its_own(tmp_path: Path) -> None:
    """The default runner of runs made together: the orchestrator in a child process (its
    lock taken there), the outcome and run folder back in the schedule's history."""
    cfg = _config(tmp_path, [{"cron": "0 8 * * *", "all_accounts": True,
                              "flows": ["followups"]}], concurrency=2)
    clock = FakeClock(_at("2026-06-01T07:00"))
    sched = Scheduler(cfg, clock=clock)
    sched.tick()
    clock.now = _at("2026-06-01T08:00")
    fired = sched.tick()
    assert sorted((f.account, f.status) for f in fired) == [("other", "ok"), ("shop", "ok")]
    for f in fired:
        data = json.loads((tmp_path / "recordings" / str(f.run_id) / "run.json").read_text())
        assert data["account"] == f.account and data["status"] == "ok"
        holder = (tmp_path / "state" / "locks" / f"{f.account}.lock").read_text().strip()
        assert holder and int(holder) != os.getpid(), "the run's lock was its own process's"
    assert (tmp_path / "recordings" / "index.html").is_file()


# ---- a real run ------------------------------------------------------------------------

def test_scheduled_followups_run_through_the_orchestrator_and_a_sigterm_lets_it_finish(
        make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_config(schedule=[{"cron": "0 8 * * *", "flows": ["followups"]},
                                {"cron": "0 8 * * *", "flows": ["followups"],
                                 "account": "test"}],
                      timezone="Europe/Berlin", retention={"keep_runs": 1, "keep_days": None})
    monkeypatch.delenv("T_SC_PASSWORD")  # followups needs no Seller Central secret
    monkeypatch.delenv("T_SC_TOTP")
    recordings = Path(cfg.paths.recordings_dir)
    clock = FakeClock(_at("2026-06-01T07:59"))
    sched = Scheduler(cfg, clock=clock)
    default_runner = sched.runner
    seen: list[str] = []

    def runner(entry: ScheduleEntry) -> RunResult | None:
        # SIGTERM arrives while the run is in progress: it still runs to the end.
        os.kill(os.getpid(), signal.SIGTERM)
        assert sched.stop_event.wait(5)
        result = default_runner(entry)
        assert result is not None
        seen.append(result.status)
        return result

    sched.runner = runner

    def sleeper(seconds: float, stop: threading.Event) -> None:
        clock.now = _at("2026-06-01T08:00")

    sched.sleeper = sleeper
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals(sched.stop_event):
        sched.run_forever()  # returns: the stop came during the run
    assert signal.getsignal(signal.SIGTERM) is before  # the handlers are put back
    assert seen == ["ok"]
    history = sched.history()
    assert [h["status"] for h in history] == ["ok"]
    run_id = history[0]["run_id"]
    data = json.loads((recordings / run_id / "run.json").read_text())
    assert data["status"] == "ok" and list(data["flows"]) == ["followups"]
    assert data["flows"]["followups"]["status"] == "ok"
    # After the run: retention ran and the index lists it.
    assert run_id in (recordings / "index.html").read_text()

    # A second scheduled run: keep_runs 1 prunes the first (it ended ok; the newest stays).
    clock.now = _at("2026-06-02T08:00")
    sched.runner = default_runner
    sched.stop_event.clear()
    fired = sched.tick()
    assert [f.status for f in fired] == ["ok"] and fired[0].run_id
    assert not (recordings / run_id).exists()
    assert (recordings / fired[0].run_id / "run.json").is_file()


# ---- config errors name the key ---------------------------------------------------------

@pytest.mark.parametrize(("schedule", "extra", "key", "words"), [
    ([{"cron": "0 25 * * *"}], {}, "schedule[0].cron", "not a valid cron expression"),
    ([{"cron": "0 0 8 * * *"}], {}, "schedule[0].cron", "five fields"),
    ([{"cron": "0 8 * * *"}], {"timezone": "Mars/Olympus"}, "timezone", "timezone"),
    ([{"cron": "0 8 * * *", "account": "nobody"}], {}, "schedule[0].account",
     "no account named 'nobody'"),
    ([{"cron": "0 8 * * *", "flow": ["x"]}], {}, "schedule[0].flow", "unknown key"),
    ([{"cron": "0 8 * * *", "account": "shop", "all_accounts": True}], {}, "schedule[0]",
     "not both"),
])
def test_schedule_config_errors_name_the_key(tmp_path: Path, schedule: list[dict[str, Any]],
                                             extra: dict[str, Any], key: str,
                                             words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(tmp_path, schedule, **extra)
    assert key in str(caught.value) and words in str(caught.value)
