"""The scheduler: runs the config's ``schedule`` entries when their cron slots come.

Rules it keeps:
- each entry fires for the latest slot due since it last fired: slots missed while the
  machine slept or the scheduler was down give one catch-up run, not one per slot;
- entries due at once for the same account give one run, their flows merged (a dry-run
  entry due together with a real one is skipped, and the skip is recorded);
- an entry with ``all_accounts`` is due for every account (each account's progress kept
  apart);
- runs for one account never overlap (one batch per account, and the orchestrator's
  account lock stops a run the console or a shell started meanwhile, recorded as skipped);
  accounts due at the same tick run ``concurrency`` at a time, each in a process of its
  own (:mod:`rpa.run.fleet`), one account's failure never holding up another's; a single
  account due runs in this process;
- what fired is kept in ``state/schedule.json`` (written atomically, claimed under a file
  lock before the run starts), so a restart neither repeats nor loses a slot;
- with a ``queue``, the runs due are put on it instead (one job per account, none while
  one for the account still waits) and the workers run them;
- a stop (SIGTERM, SIGINT) lets the runs in progress finish (a run's process ignores
  SIGTERM for that), starts no more, then the loop ends;
- after each run (after all of a tick's, when they ran together) the retention rules prune
  old run folders and ``recordings/index.html`` is written again.

An entry the scheduler has never seen fires at its next slot, or for its latest slot when
that came less than ``FIRST_GRACE`` ago (so cron or a systemd timer that starts
``rpa schedule --once`` at the slot runs it the first time too).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from types import FrameType
from typing import Any

from loguru import logger

from rpa.config import DEFAULT_FLOWS, Config, ScheduleEntry
from rpa.errors import RunLocked
from rpa.run.fleet import Job, concurrency_of, run_in_child, tell_owner_of_crash
from rpa.run.orchestrator import RunResult, run
from rpa.scheduling import cron as crontab
from rpa.scheduling.retention import prune, write_index

STATE_NAME = "schedule.json"
FIRST_GRACE = timedelta(minutes=10)
# The longest single wait: the monotonic clock a wait runs on stops while the machine
# sleeps, so waking to check the wall clock at least this often notices a resume soon.
MAX_NAP = 60.0
HISTORY = 100  # outcomes kept in schedule.json for the console

Clock = Callable[[], datetime]
Runner = Callable[[ScheduleEntry], "RunResult | None"]
Sleeper = Callable[[float, threading.Event], None]


@dataclass
class Fired:
    """What the scheduler did for one account at one tick: a run, or a skip and why."""

    slot: str  # the (latest) slot served, ISO UTC
    account: str
    flows: list[str]
    dry_run: bool
    entries: list[int]  # positions in the config's ``schedule``
    status: str  # the run's status, or "skipped", "locked", "error"; "queued", "waiting"
    run_id: str | None = None
    note: str = ""
    started: str = ""
    finished: str = ""


@dataclass
class _Batch:
    account: str
    dry_run: bool
    slot: datetime
    due: list[tuple[int, str, datetime]] = field(default_factory=list)  # index, key, slot
    skipped: list[tuple[int, str, datetime]] = field(default_factory=list)
    missed: int = 0


def entry_key(entry: ScheduleEntry, account: str) -> str:
    """The name an entry's progress is kept under: what it runs, not its position, so
    reordering the schedule keeps it and changing an entry starts it afresh."""
    flows = ",".join(entry.flows) if entry.flows is not None else "*"
    return f"{entry.cron}|{account}|{flows}|{'dry' if entry.dry_run else 'real'}"


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


def wait_for_stop(seconds: float, stop: threading.Event) -> None:
    """The default sleeper: wait ``seconds`` or until a stop is asked for."""
    stop.wait(seconds)


class Scheduler:
    """Fires the schedule's entries through ``runner`` (default: the orchestrator)."""

    def __init__(self, cfg: Config, *, clock: Clock | None = None,
                 runner: Runner | None = None, sleeper: Sleeper | None = None,
                 state_file: Path | None = None) -> None:
        self.cfg = cfg
        self.clock: Clock = clock or _utc_now
        self.runner: Runner = runner or self._run
        # Runs made together (several accounts due at one tick) each go to a process of
        # their own, unless a runner was given (tests).
        self.together: Runner = runner or self._run_child
        self.sleeper: Sleeper = sleeper or wait_for_stop
        self.tz: tzinfo = crontab.zone(cfg.timezone)
        self.state_file = state_file or Path(cfg.paths.state_dir) / STATE_NAME
        self.stop_event = threading.Event()

    # ---- what is due ---------------------------------------------------------------

    def account_of(self, entry: ScheduleEntry) -> str:
        """The account an entry runs, as people read it ("all accounts" for every one)."""
        if entry.all_accounts:
            return "all accounts"
        return entry.account or self.cfg.accounts[0].name

    def accounts_of(self, entry: ScheduleEntry) -> list[str]:
        """The accounts an entry runs."""
        if entry.all_accounts:
            return [a.name for a in self.cfg.accounts]
        return [entry.account or self.cfg.accounts[0].name]

    def flows_of(self, entry: ScheduleEntry) -> list[str]:
        return list(entry.flows) if entry.flows is not None else list(self.cfg.flows)

    def next_due(self, n: int = 5, now: datetime | None = None
                 ) -> list[tuple[datetime, str, list[str]]]:
        """The next ``n`` scheduled runs as (when, account, flows), soonest first; ``when``
        in the schedule's timezone."""
        after = now or self.clock()
        return [(slot.when.astimezone(self.tz), self.account_of(slot.entry),
                 self.flows_of(slot.entry))
                for slot in crontab.next_runs(self.cfg.schedule, self.tz, after, n)]

    def _merge_flows(self, lists: list[list[str]]) -> list[str]:
        """The flows of several entries as one list, in the routine's order."""
        order = [*self.cfg.flows, *(f for f in DEFAULT_FLOWS if f not in self.cfg.flows)]
        merged = list(dict.fromkeys(f for flows in lists for f in flows))
        return sorted(merged, key=lambda f: (order.index(f) if f in order else len(order),
                                             merged.index(f)))

    def _batches(self, now: datetime, state: dict[str, Any]) -> tuple[list[_Batch], bool]:
        """The runs due at ``now``, one per account; whether ``state`` gained entries."""
        done: dict[str, Any] = state.setdefault("entries", {})
        changed = False
        per_account: dict[str, list[tuple[int, str, datetime, datetime | None]]] = {}
        for index, entry in enumerate(self.cfg.schedule):
            slot = crontab.latest_slot(entry.cron, self.tz, now)
            for account in self.accounts_of(entry):
                key = entry_key(entry, account)
                last = _parse((done.get(key) or {}).get("done_until"))
                if last is None:
                    if slot is None or now - slot > FIRST_GRACE:
                        # New here: its past slots are not owed; it starts with the next.
                        done[key] = {"done_until": _iso(now)}
                        changed = True
                        continue
                elif slot is None or slot <= last:
                    continue
                per_account.setdefault(account, []).append((index, key, slot, last))
        batches: list[_Batch] = []
        for account, due in per_account.items():
            real = [d for d in due if not self.cfg.schedule[d[0]].dry_run]
            chosen = real or due
            batch = _Batch(account=account, dry_run=not real,
                           slot=max(d[2] for d in chosen))
            for index, key, slot, last in due:
                (batch.due if (index, key, slot, last) in chosen else batch.skipped).append(
                    (index, key, slot))
                if last is not None:
                    batch.missed = max(batch.missed, crontab.slots_between(
                        self.cfg.schedule[index].cron, self.tz, last, now) - 1)
            batches.append(batch)
        batches.sort(key=lambda b: (b.slot, b.account))
        return batches, changed

    # ---- one pass --------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> list[Fired]:
        """Run what is due at ``now`` (default: the clock), one run per account, and return
        what was done. Stops between runs once a stop is asked for; the runs not started
        stay due."""
        now = now or self.clock()
        with self._locked_state() as state:
            batches, changed = self._batches(now, state)
            if changed:
                self._write(state)
        if self.cfg.queue is not None:
            return self._queue(batches)
        width = min(len(batches), concurrency_of(self.cfg))
        if width > 1:
            return self._fire_together(batches, width)
        fired: list[Fired] = []
        for batch in batches:
            if self.stop_event.is_set():
                logger.info("scheduler stopping: the run for {} stays due", batch.account)
                break
            if not self._claim(batch):
                continue  # another scheduler process took it meanwhile
            fired.extend(self._fire(batch, self.runner))
        return fired

    def _fire_together(self, batches: list[_Batch], width: int) -> list[Fired]:
        """Several accounts due at once: ``width`` runs at a time, each claimed right before
        it starts (after a stop none starts: they stay due); retention once at the end."""

        def one(batch: _Batch) -> list[Fired]:
            if self.stop_event.is_set():
                logger.info("scheduler stopping: the run for {} stays due", batch.account)
                return []
            if not self._claim(batch):
                return []
            return self._fire(batch, self.together, tidy=False)

        with ThreadPoolExecutor(max_workers=width, thread_name_prefix="rpa-schedule") as pool:
            done = list(pool.map(one, batches))
        self._tidy()
        return [f for fired in done for f in fired]

    def _queue(self, batches: list[_Batch]) -> list[Fired]:
        """With a queue, the runs due are put on it for the workers (each claimed first, as
        a run is); the record says ``queued`` with the job's id, or ``waiting`` when a job
        for the account is still waiting (it does the same run)."""
        from rpa.queue import enqueue

        out: list[Fired] = []
        for batch in batches:
            if self.stop_event.is_set() or not self._claim(batch):
                continue
            entries = [self.cfg.schedule[i] for i, _k, _s in batch.due]
            flows = self._merge_flows([self.flows_of(e) for e in entries])
            record = Fired(slot=_iso(batch.slot), account=batch.account, flows=flows,
                           dry_run=batch.dry_run, entries=[i for i, _k, _s in batch.due],
                           status="error", started=_iso(self.clock()))
            try:
                (queued,) = enqueue(self.cfg, [batch.account], flows=flows,
                                    dry_run=batch.dry_run)
            except Exception as err:  # noqa: BLE001 - one bad slot must not end the schedule
                record.note = f"not queued: {type(err).__name__}: {err}"
                logger.error("scheduled run for {} not queued: {}", batch.account, err)
            else:
                record.status = "queued" if queued.job_id else "waiting"
                record.note = (f"job {queued.job_id}" if queued.job_id
                               else f"a job for the account was waiting ({queued.waiting})")
                logger.info("scheduled run for {} {}", batch.account, record.note)
            record.finished = _iso(self.clock())
            out.append(record)
            self._remember([record])
        return out

    def _claim(self, batch: _Batch) -> bool:
        """Mark the batch's slots done before its run starts (a restart must not repeat
        it); False when another process already did."""
        with self._locked_state() as state:
            done: dict[str, Any] = state.setdefault("entries", {})
            fresh = [d for d in batch.due
                     if (last := _parse((done.get(d[1]) or {}).get("done_until"))) is None
                     or d[2] > last]
            if not fresh:
                return False
            for _index, key, slot in [*batch.due, *batch.skipped]:
                done[key] = {"done_until": _iso(slot)}
            self._write(state)
        return True

    def _fire(self, batch: _Batch, runner: Runner, *, tidy: bool = True) -> list[Fired]:
        cfg = self.cfg
        entries = [cfg.schedule[i] for i, _k, _s in batch.due]
        flows = self._merge_flows([self.flows_of(e) for e in entries])
        out: list[Fired] = []
        for index, _key, slot in batch.skipped:
            skip = Fired(slot=_iso(slot), account=batch.account,
                         flows=self.flows_of(cfg.schedule[index]),
                         dry_run=cfg.schedule[index].dry_run, entries=[index],
                         status="skipped",
                         note="a real run for this account is due at the same time")
            logger.info("schedule[{}] skipped: {}", index, skip.note)
            out.append(skip)
        notes = []
        if len(entries) > 1:
            notes.append(f"entries {', '.join(str(i) for i, _k, _s in batch.due)} merged")
        if batch.missed > 0:
            notes.append(f"catch-up: {batch.missed} earlier slot(s) missed, run once")
        record = Fired(slot=_iso(batch.slot), account=batch.account, flows=flows,
                       dry_run=batch.dry_run, entries=[i for i, _k, _s in batch.due],
                       status="error", note="; ".join(notes), started=_iso(self.clock()))
        logger.info("scheduled run for {} (slot {}): {}{}", batch.account,
                    batch.slot.astimezone(self.tz).isoformat(timespec="minutes"),
                    ", ".join(flows), f" — {record.note}" if record.note else "")
        merged = ScheduleEntry(cron=entries[0].cron, flows=flows, account=batch.account,
                               dry_run=batch.dry_run)
        try:
            result = runner(merged)
        except Exception as err:  # noqa: BLE001 - one bad run must not end the schedule
            record.note = "; ".join([*notes, f"{type(err).__name__}: {err}"])
            logger.error("scheduled run for {} failed to start: {}", batch.account, err)
            result = None
        else:
            if result is None:
                record.status = "locked"
                record.note = "; ".join(
                    [*notes, "another run for this account was in progress: skipped"])
                logger.warning("scheduled run for {} skipped: another run is in progress",
                               batch.account)
            else:
                record.status = result.status
                record.run_id = str(result.data.get("run_id") or result.folder.name)
        record.finished = _iso(self.clock())
        out.append(record)
        self._remember(out)
        if tidy:
            self._tidy()
        return out

    def _run(self, entry: ScheduleEntry) -> RunResult | None:
        """The default runner: the orchestrator; None when the account's lock is held."""
        try:
            return run(self.cfg, account=entry.account, flows=entry.flows,
                       dry_run=entry.dry_run)
        except RunLocked:
            return None

    def _run_child(self, entry: ScheduleEntry) -> RunResult | None:
        """The runner of runs made together: the orchestrator in a process of its own,
        which lets its run finish on SIGTERM; None when the account's lock is held."""
        outcome = run_in_child(self.cfg, Job(str(entry.account), entry.flows, entry.dry_run),
                               finish_on_term=True)
        tell_owner_of_crash(self.cfg, outcome)
        if outcome.status == "locked":
            return None
        if outcome.result is None:
            raise RuntimeError(f"{outcome.status}: {outcome.message}")
        return outcome.result

    def _tidy(self) -> None:
        """Retention, then the static index, after every run."""
        recordings = Path(self.cfg.paths.recordings_dir)
        keep = self.cfg.retention
        try:
            prune(recordings, keep.keep_days, keep.keep_runs, self.clock())
            if recordings.is_dir():
                write_index(recordings)
        except OSError as err:
            logger.error("retention or recordings index failed: {}", err)

    # ---- the loop ------------------------------------------------------------------

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Tick, then wait for the next slot, until ``stop`` is set; a run in progress
        always finishes first."""
        if stop is not None:
            self.stop_event = stop
        stop = self.stop_event
        logger.info("scheduler started: {} entr(y/ies), timezone {}", len(self.cfg.schedule),
                    getattr(self.tz, "key", str(self.tz)))
        while not stop.is_set():
            self.tick(self.clock())
            if stop.is_set():
                break
            now = self.clock()
            upcoming = crontab.next_runs(self.cfg.schedule, self.tz, now, 1)
            wait = MAX_NAP if not upcoming else (upcoming[0].when - now).total_seconds()
            self.sleeper(min(MAX_NAP, max(0.0, wait)), stop)
        logger.info("scheduler stopped")

    # ---- schedule.json ---------------------------------------------------------------

    def history(self) -> list[dict[str, Any]]:
        """The latest outcomes (newest last), as kept in schedule.json."""
        runs = self._read().get("history")
        return runs if isinstance(runs, list) else []

    def _remember(self, fired: list[Fired]) -> None:
        with self._locked_state() as state:
            runs = state.get("history")
            runs = runs if isinstance(runs, list) else []
            runs.extend(asdict(f) for f in fired)
            state["history"] = runs[-HISTORY:]
            self._write(state)

    @contextmanager
    def _locked_state(self) -> Iterator[dict[str, Any]]:
        """schedule.json read under an exclusive lock: two schedulers (a loop and a
        ``--once`` from cron) never both claim a slot."""
        folder = self.state_file.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / f".{self.state_file.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self._read()
        finally:
            os.close(fd)  # closing releases the lock

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": 1, "entries": {}, "history": []}
        except (OSError, ValueError) as err:
            aside = self.state_file.with_name(
                f"{self.state_file.name}.corrupt-{_utc_now():%Y%m%dT%H%M%SZ}")
            logger.warning("{} unreadable ({}); kept as {} and started afresh",
                           self.state_file, err, aside.name)
            try:
                self.state_file.rename(aside)
            except OSError:
                pass
            return {"version": 1, "entries": {}, "history": []}
        if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
            return {"version": 1, "entries": {}, "history": []}
        return data

    def _write(self, state: dict[str, Any]) -> None:
        state["version"] = 1
        folder = self.state_file.parent
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{self.state_file.name}-",
                                   suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(state, fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.state_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """While inside: SIGTERM and SIGINT set ``stop`` (the run in progress finishes, then
    the loop ends); a second SIGINT interrupts at once. Main thread only."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        logger.info("{} received: stopping after the run in progress",
                    signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
