"""The ledger: a SQLite file in the state folder that remembers runs, steps and findings.

It is the bot's memory between runs (what was seen, what was sent, what was escalated),
so later runs can tell what is new and never act twice.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rpa.redact import scrub, scrub_data

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT,
    dry_run INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    flow TEXT NOT NULL,
    name TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    outcome TEXT,
    screenshot TEXT,
    error TEXT
);
CREATE TABLE IF NOT EXISTS observations (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    observed_at TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE TABLE IF NOT EXISTS buyer_threads (
    account TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    message_key TEXT NOT NULL,
    buyer TEXT NOT NULL DEFAULT '',
    order_id TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    decision TEXT NOT NULL,
    reply_text TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    escalation TEXT,
    run_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (account, thread_id, message_key)
);
CREATE INDEX IF NOT EXISTS buyer_threads_order ON buyer_threads(account, order_id);
CREATE TABLE IF NOT EXISTS escalations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT UNIQUE,
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    source_key TEXT NOT NULL,
    buyer TEXT NOT NULL DEFAULT '',
    order_id TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL,
    short TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL,
    url TEXT NOT NULL DEFAULT '',
    run_id TEXT,
    created_at TEXT NOT NULL,
    notified_at TEXT,
    status TEXT NOT NULL DEFAULT 'open',
    reminded_at TEXT,
    escalated_further_at TEXT,
    answered_at TEXT,
    delivered_at TEXT,
    closed_at TEXT,
    expired_at TEXT,
    UNIQUE (account, kind, source_key)
);
CREATE TABLE IF NOT EXISTS emails (
    account TEXT NOT NULL,
    message_id TEXT NOT NULL,
    folder TEXT NOT NULL DEFAULT '',
    sender TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    rule TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    escalation TEXT,
    body TEXT NOT NULL DEFAULT '',
    run_id TEXT,
    first_seen TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (account, message_id)
);
CREATE TABLE IF NOT EXISTS run_alerts (
    account TEXT NOT NULL,
    cause TEXT NOT NULL,
    day TEXT NOT NULL,
    run_id TEXT NOT NULL,
    text TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account, cause, day)
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    channel TEXT NOT NULL,
    text TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    run_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (key, channel)
);
CREATE TABLE IF NOT EXISTS escalation_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    run_id TEXT
);
CREATE INDEX IF NOT EXISTS escalation_events_code ON escalation_events(code);
CREATE TABLE IF NOT EXISTS sent_mail (
    message_id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    purpose TEXT NOT NULL,
    sent_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    account TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT,
    channel TEXT NOT NULL,
    text TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    delivered INTEGER NOT NULL
);
"""


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# An escalation's life (its ``status`` column), each step with the time it happened
# (``<state>_at``; ``open`` is ``created_at``): open -> notified (the first text went out)
# -> reminded (texted again, still unanswered) -> escalated_further (sent to every
# fallback channel) -> answered -> delivered (the answer reached the buyer or sender) /
# closed, or expired. The first four are "waiting for the owner".
ESCALATION_STATES = ("open", "notified", "reminded", "escalated_further", "answered",
                     "delivered", "closed", "expired")
WAITING_STATES = ("open", "notified", "reminded", "escalated_further")
ESCALATION_STEP_COLUMNS = ("reminded_at", "escalated_further_at", "answered_at",
                           "delivered_at", "closed_at", "expired_at")
# The owner's answer and its way to the buyer or sender: the text, how it came (cli,
# email, console), who gave it, the evidence (a Message-ID), and the delivery: "" (not
# begun), "sending" (begun: a crash from here on is settled from the page or the outbox),
# "failed" (kept, tried again next run), "refused" (breaks the messaging rules: the owner
# is told and may answer again), "done".
ANSWER_COLUMNS = ("answer", "answer_via", "answer_by", "answer_ref", "delivery_state",
                  "delivery_error", "delivery_attempts")
# Answered, waiting for its delivery (nothing to deliver for a finding: answered = closed).
DELIVERY_STATES = ("answered",)
FINAL_STATES = ("delivered", "closed", "expired")


BACKUPS_DIR = "backups"
KEEP_BACKUPS = 7
COUNTER_FILE = "escalation-counter"


class LedgerBroken(Exception):
    """The ledger cannot be trusted (corrupt, or lost after runs happened): stop the run.

    ``exit_code`` is the run's exit status; the message says what is wrong, where, and the
    command that restores the last backup.
    """

    exit_code = 6

    def __init__(self, message: str, *, path: Path, reason: str) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason  # "corrupt" or "missing"


def backups(state_dir: Path) -> list[Path]:
    """The ledger backups in ``state_dir/backups``, oldest first."""
    folder = state_dir / BACKUPS_DIR
    return sorted(folder.glob("ledger-*.sqlite")) if folder.is_dir() else []


def _has_history(state_dir: Path, recordings_dir: Path | None) -> str:
    """What shows that runs happened here before ("" when nothing does)."""
    if backups(state_dir):
        return f"backups exist in {state_dir / BACKUPS_DIR}"
    if recordings_dir is not None and recordings_dir.is_dir():
        if any(p.is_dir() and (p / "run.json").is_file() for p in recordings_dir.iterdir()):
            return f"earlier runs are recorded in {recordings_dir}"
    return ""


def quick_check(path: Path) -> str:
    """SQLite's ``PRAGMA quick_check`` of ``path``: "ok", or what is wrong."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            rows = db.execute("PRAGMA quick_check").fetchall()
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError as err:
        return str(err)
    found = "; ".join(str(r[0]) for r in rows)
    return found or "quick_check returned nothing"


def restore_hint(state_dir: Path, config: str | None = None) -> str:
    where = f" --config {config}" if config else ""
    last = backups(state_dir)
    if last:
        return (f"restore the last backup ({last[-1].name}) with `rpa ledger restore{where}`"
                " (the broken file is kept beside it)")
    return ("no backup exists: restore the file from your own backups, or start a new ledger"
            f" with `rpa ledger new{where}` (codes go on after the last run's; earlier"
            " escalations are then unknown to the bot)")


def check_ledger(path: Path, recordings_dir: Path | None = None,
                 config: str | None = None) -> None:
    """Before a run: the ledger must be readable, and must not be silently lost.

    Raises :class:`LedgerBroken` when it is corrupt (``PRAGMA quick_check`` fails or it is
    not a database), or when it is missing or empty although runs happened before (backups
    or recordings exist). A first run, with no history anywhere, passes.
    """
    state_dir = path.parent
    if not path.exists() or path.stat().st_size == 0:
        history = _has_history(state_dir, recordings_dir)
        if not history:
            return
        what = "is missing" if not path.exists() else "is empty (0 bytes)"
        raise LedgerBroken(
            f"the ledger {path} {what}, but {history}: starting a new one would forget what"
            f" was answered and escalated. Run stopped before Seller Central; "
            f"{restore_hint(state_dir, config)}", path=path, reason="missing")
    found = quick_check(path)
    if found != "ok":
        raise LedgerBroken(
            f"the ledger {path} is corrupt ({found}). Run stopped before Seller Central; "
            f"{restore_hint(state_dir, config)}", path=path, reason="corrupt")


def restore(path: Path, source: Path | None = None) -> tuple[Path, Path | None]:
    """Put a backup (the newest, or ``source``) in place of the ledger at ``path``.

    The backup is checked first; the current file (and its -wal/-shm) is moved aside as
    ``<name>.broken-<time>``, never deleted. Returns (the backup used, the moved-aside file).
    """
    state_dir = path.parent
    if source is None:
        found = backups(state_dir)
        if not found:
            raise FileNotFoundError(f"no ledger backup in {state_dir / BACKUPS_DIR}")
        source = found[-1]
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such backup file")
    verdict = quick_check(source)
    if verdict != "ok":
        raise ValueError(f"{source} is not a sound ledger backup ({verdict})")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    aside: Path | None = None
    for suffix in ("", "-wal", "-shm"):
        current = path.with_name(path.name + suffix)
        if current.exists():
            moved = current.with_name(f"{path.name}.broken-{stamp}{suffix}")
            current.replace(moved)
            aside = aside or moved
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(str(path))
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    path.chmod(0o600)
    return source, aside


class Ledger:
    """A thin, explicit layer over one SQLite file. Every write commits at once.

    Escalation numbers come from a counter that only grows: kept in the ledger (``meta``)
    and in a small file beside it (``escalation-counter``), and given as ``code_floor``
    from the last run.json; the next number is above all three, so a ledger that is lost
    or restored from an older backup never hands out a code that meant another matter.
    """

    def __init__(self, path: Path, *, code_floor: int = 0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.code_floor = code_floor
        self.db = sqlite3.connect(str(path), timeout=10, isolation_level=None,
                                  check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self._migrate()
        path.chmod(0o600)

    def _migrate(self) -> None:
        """Bring a ledger written by an earlier version up to date: missing columns are
        added (never a table rebuilt, so no row is lost), and an escalation already texted
        under the old schema gets the state ``notified``."""
        have = {r["name"] for r in self.db.execute("PRAGMA table_info(escalations)")}
        for column in (*ESCALATION_STEP_COLUMNS, *ANSWER_COLUMNS):
            if column not in have:
                try:
                    self.db.execute(f"ALTER TABLE escalations ADD COLUMN {column} TEXT")
                except sqlite3.OperationalError as err:  # another process added it first
                    if "duplicate column" not in str(err):
                        raise
        self.db.execute("UPDATE escalations SET status='notified' WHERE status='open'"
                        " AND notified_at IS NOT NULL")

    @property
    def counter_file(self) -> Path:
        return self.path.parent / COUNTER_FILE

    def _file_counter(self) -> int:
        try:
            return int(self.counter_file.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def escalation_counter(self) -> int:
        """The highest escalation number handed out, as far as anything remembers."""
        row = self.db.execute("SELECT value FROM meta WHERE name='escalation_counter'"
                              ).fetchone()
        top = self.db.execute("SELECT max(id) FROM escalations").fetchone()[0] or 0
        return max(int(row["value"]) if row else 0, int(top), self._file_counter(),
                   self.code_floor)

    def backup(self, keep: int = KEEP_BACKUPS, label: str = "") -> Path:
        """Copy the ledger into ``backups/`` with SQLite's backup API; keep the last ``keep``."""
        folder = self.path.parent / BACKUPS_DIR
        folder.mkdir(mode=0o700, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        dest = folder / f"ledger-{stamp}{'-' + label if label else ''}.sqlite"
        tmp = dest.with_suffix(".partial")
        out = sqlite3.connect(str(tmp))
        try:
            self.db.backup(out)
        finally:
            out.close()
        tmp.chmod(0o600)
        tmp.replace(dest)
        for old in backups(self.path.parent)[:-keep] if keep > 0 else []:
            old.unlink()
        return dest

    def close(self) -> None:
        self.db.close()

    def start_run(self, run_id: str, account: str, dry_run: bool) -> None:
        self.db.execute("INSERT INTO runs (run_id, account, started_at, dry_run) VALUES (?,?,?,?)",
                        (run_id, account, now_iso(), int(dry_run)))

    def finish_run(self, run_id: str, status: str) -> None:
        self.db.execute("UPDATE runs SET finished_at=?, status=? WHERE run_id=?",
                        (now_iso(), status, run_id))

    def start_step(self, run_id: str, flow: str, name: str) -> int:
        cur = self.db.execute(
            "INSERT INTO steps (run_id, flow, name, started_at) VALUES (?,?,?,?)",
            (run_id, flow, name, now_iso()))
        return int(cur.lastrowid or 0)

    def finish_step(self, step_id: int, outcome: str, screenshot: str | None,
                    error: str | None) -> None:
        self.db.execute(
            "UPDATE steps SET finished_at=?, outcome=?, screenshot=?, error=? WHERE id=?",
            (now_iso(), outcome, screenshot, scrub(error) if error else None, step_id))

    def observe(self, run_id: str, key: str, value: Any) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO observations (run_id, key, value, observed_at) "
            "VALUES (?,?,?,?)", (run_id, key, json.dumps(scrub_data(value)), now_iso()))

    def observations(self, run_id: str) -> dict[str, Any]:
        rows = self.db.execute("SELECT key, value FROM observations WHERE run_id=?", (run_id,))
        return {r["key"]: json.loads(r["value"]) for r in rows}

    def record_alert(self, run_id: str | None, channel: str, text: str, delivered: bool) -> None:
        self.db.execute(
            "INSERT INTO alerts (run_id, channel, text, sent_at, delivered) VALUES (?,?,?,?,?)",
            (run_id, channel, scrub(text), now_iso(), int(delivered)))

    def claim_run_alert(self, account: str, cause: str, day: str, run_id: str,
                        text: str) -> dict[str, Any] | None:
        """Claim today's text about ``cause`` for this run.

        Returns None when it is this run's to send (first of the day, or an earlier one
        that was not delivered), else the row of the run that already texted it.
        """
        row = self.db.execute(
            "SELECT * FROM run_alerts WHERE account=? AND cause=? AND day=?",
            (account, cause, day)).fetchone()
        if row is not None and row["delivered"]:
            return dict(row)
        self.db.execute(
            "INSERT OR REPLACE INTO run_alerts (account, cause, day, run_id, text, claimed_at,"
            " delivered) VALUES (?,?,?,?,?,?,0)",
            (account, cause, day, run_id, scrub(text), now_iso()))
        return None

    def run_alert_sent(self, account: str, cause: str, day: str) -> None:
        self.db.execute("UPDATE run_alerts SET delivered=1 WHERE account=? AND cause=? AND day=?",
                        (account, cause, day))

    # --- the outbox --------------------------------------------------------------------
    # One row per text and channel (``key`` names the text: an escalation's code, a run
    # alert's cause and day, or a one-off). state: "sending" is written before the text
    # leaves, "sent" or "failed" after; a "sending" row left by an earlier run is a text
    # whose fate a crash hid, sent once more by the next run (at least once, never lost).

    def outbox(self, key: str, channel: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM outbox WHERE key=? AND channel=?",
                              (key, channel)).fetchone()
        return dict(row) if row else None

    def outbox_sending(self, key: str, channel: str, text: str, title: str,
                       run_id: str | None) -> None:
        now = now_iso()
        self.db.execute(
            "INSERT INTO outbox (key, channel, text, title, state, attempts, run_id,"
            " created_at, updated_at) VALUES (?,?,?,?,'sending',1,?,?,?)"
            " ON CONFLICT(key, channel) DO UPDATE SET text=excluded.text, title=excluded.title,"
            " state='sending', attempts=attempts+1, run_id=excluded.run_id,"
            " updated_at=excluded.updated_at",
            (key, channel, scrub(text), title, run_id, now, now))

    def outbox_done(self, key: str, channel: str, delivered: bool) -> None:
        self.db.execute("UPDATE outbox SET state=?, updated_at=? WHERE key=? AND channel=?",
                        ("sent" if delivered else "failed", now_iso(), key, channel))

    def outbox_interrupted(self, run_id: str | None) -> list[dict[str, Any]]:
        """Texts an earlier run began to send and never knew the fate of."""
        rows = self.db.execute(
            "SELECT * FROM outbox WHERE state='sending' AND run_id IS NOT ? ORDER BY id",
            (run_id,))
        return [dict(r) for r in rows]

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", (limit,))
        return [dict(r) for r in rows]

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM steps WHERE run_id=? ORDER BY id", (run_id,))
        return [dict(r) for r in rows]

    # --- buyer threads -----------------------------------------------------------------
    # A thread's state: "sending" is written before the reply is sent (the intent), "sent"
    # once the page shows it; "no_response" and "blocked" are final for that message.

    def thread(self, account: str, thread_id: str, message_key: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT * FROM buyer_threads WHERE account=? AND thread_id=? AND message_key=?",
            (account, thread_id, message_key)).fetchone()
        return dict(row) if row else None

    def _rows(self, table: str, order: str, account: str,
              state: str | None) -> list[dict[str, Any]]:
        sql = f"SELECT * FROM {table} WHERE account=?"
        args: tuple[Any, ...] = (account,)
        if state is not None:
            sql += " AND state=?"
            args += (state,)
        return [dict(r) for r in self.db.execute(f"{sql} ORDER BY {order}", args)]

    def threads(self, account: str, state: str | None = None) -> list[dict[str, Any]]:
        return self._rows("buyer_threads", "created_at", account, state)

    def record_thread(self, account: str, thread_id: str, message_key: str, *, buyer: str,
                      order_id: str, url: str, decision: str, reply_text: str, state: str,
                      reason: str = "", escalation: str | None = None,
                      run_id: str | None = None) -> None:
        now = now_iso()
        self.db.execute(
            "INSERT INTO buyer_threads (account, thread_id, message_key, buyer, order_id, url,"
            " decision, reply_text, state, reason, escalation, run_id, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(account, thread_id, message_key) DO UPDATE SET decision=excluded."
            "decision, reply_text=excluded.reply_text, state=excluded.state, reason="
            "excluded.reason, escalation=COALESCE(excluded.escalation, escalation), run_id="
            "excluded.run_id, updated_at=excluded.updated_at",
            (account, thread_id, message_key, buyer, order_id, url, decision,
             scrub(reply_text), state, scrub(reason), escalation, run_id, now, now))

    def set_thread_state(self, account: str, thread_id: str, message_key: str,
                         state: str) -> None:
        self.db.execute(
            "UPDATE buyer_threads SET state=?, updated_at=? WHERE account=? AND thread_id=?"
            " AND message_key=?", (state, now_iso(), account, thread_id, message_key))

    def answered(self, account: str, *, order_id: str = "", buyer: str = "") -> bool:
        """Whether the ledger shows a reply sent (or no response needed) to this buyer/order."""
        done = "state IN ('sent', 'no_response')"
        if order_id:
            row = self.db.execute(
                f"SELECT 1 FROM buyer_threads WHERE account=? AND order_id=? AND {done}",
                (account, order_id)).fetchone()
        elif buyer:
            row = self.db.execute(
                f"SELECT 1 FROM buyer_threads WHERE account=? AND lower(buyer)=lower(?) AND "
                f"{done}", (account, buyer)).fetchone()
        else:
            return False
        return row is not None

    # --- escalations -------------------------------------------------------------------
    PREFIXES = {"buyer_question": "B", "blocked_reply": "R", "email": "E", "finding": "F",
                "suspicious_answer": "S"}

    def escalate(self, account: str, kind: str, source_key: str, *, summary: str,
                 details: str, short: str = "", buyer: str = "", order_id: str = "",
                 url: str = "", run_id: str | None = None) -> tuple[str, bool]:
        """Create (once) the escalation for ``source_key``; returns its code and if it is new.

        The texts may hold ``{code}``, filled with the code once it is known. The row, its
        code and its texts are written in one transaction: a crash leaves all or nothing.
        """
        return self.escalate_many(account, kind, [dict(
            source_key=source_key, summary=summary, details=details, short=short,
            buyer=buyer, order_id=order_id, url=url)], run_id=run_id)[0]

    def escalate_many(self, account: str, kind: str, items: list[dict[str, str]], *,
                      run_id: str | None = None) -> list[tuple[str, bool]]:
        """:meth:`escalate` for many matters of one kind in one transaction (a big mailbox's
        hundreds of escalations): each item has ``source_key``, ``summary``, ``details``
        and optionally ``short``, ``buyer``, ``order_id``, ``url``. Returns (code, new) for
        each, in order. All are written or none."""
        out: list[tuple[str, bool]] = []
        if not items:
            return out
        self.db.execute("BEGIN IMMEDIATE")
        try:
            keys = [it["source_key"] for it in items]
            existing: dict[str, str] = {}
            for start in range(0, len(keys), 500):
                part = keys[start:start + 500]
                for row in self.db.execute(
                        "SELECT source_key, code FROM escalations WHERE account=? AND kind=?"
                        f" AND source_key IN ({','.join('?' * len(part))})",
                        (account, kind, *part)):
                    existing[row["source_key"]] = str(row["code"])
            fresh = [it for it in items if it["source_key"] not in existing]
            first = self.escalation_counter() + 1
            # Numbers are handed out in order, each source key once (a key twice in items
            # is one matter).
            numbers: dict[str, int] = {}
            for it in fresh:
                numbers.setdefault(it["source_key"], first + len(numbers))
            if numbers:
                # The file first: a crash after it only skips numbers, never reuses one.
                self._write_counter(first + len(numbers) - 1)
            now = now_iso()
            made: set[str] = set()
            for it in items:
                key = it["source_key"]
                if key in existing:
                    out.append((existing[key], False))
                    continue
                number = numbers[key]
                code = f"{self.PREFIXES.get(kind, 'X')}{number:03d}"
                if key in made:
                    out.append((code, False))
                    continue
                made.add(key)
                self.db.execute(
                    "INSERT INTO escalations (id, code, account, kind, source_key, buyer,"
                    " order_id, summary, short, details, url, run_id, created_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (number, code, account, kind, key, it.get("buyer", ""),
                     it.get("order_id", ""), scrub(it["summary"].replace("{code}", code)),
                     scrub(it.get("short", "").replace("{code}", code)),
                     scrub(it["details"].replace("{code}", code)), it.get("url", ""),
                     run_id, now))
                self._event(code, "opened", kind, run_id)
                self._after_insert(code)
                out.append((code, True))
            if numbers:
                self.db.execute(
                    "INSERT INTO meta (name, value) VALUES ('escalation_counter', ?)"
                    " ON CONFLICT(name) DO UPDATE SET value=excluded.value",
                    (str(first + len(numbers) - 1),))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return out

    def _after_insert(self, code: str) -> None:
        """A seam for tests: runs between the insert and the commit of a new escalation."""

    def _write_counter(self, number: int) -> None:
        tmp = self.counter_file.with_name(COUNTER_FILE + ".tmp")
        tmp.write_text(f"{number}\n")
        tmp.chmod(0o600)
        tmp.replace(self.counter_file)

    def escalation(self, code: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM escalations WHERE code=?", (code,)).fetchone()
        return dict(row) if row else None

    def escalations(self, account: str | None, *, unnotified: bool = False,
                    states: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """The escalations of ``account`` (None: every account), in code order; only the
        untold ones with ``unnotified``, only those in ``states`` when given."""
        sql = "SELECT * FROM escalations WHERE (? IS NULL OR account=?)"
        args: tuple[Any, ...] = (account, account)
        if unnotified:
            sql += " AND notified_at IS NULL"
        if states is not None:
            sql += f" AND status IN ({','.join('?' * len(states))})"
            args += tuple(states)
        return [dict(r) for r in self.db.execute(sql + " ORDER BY id", args)]

    def mark_notified(self, code: str, run_id: str | None = None) -> None:
        """The owner got the first text: the one place an escalation goes open -> notified."""
        cur = self.db.execute("UPDATE escalations SET notified_at=?, status=CASE WHEN"
                              " status='open' THEN 'notified' ELSE status END WHERE code=?"
                              " AND notified_at IS NULL", (now_iso(), code))
        if cur.rowcount == 1:
            self._event(code, "notified", "", run_id)

    def mark_notified_many(self, codes: list[str], run_id: str | None = None) -> None:
        """:meth:`mark_notified` for many codes (a digest text) in one transaction."""
        self.db.execute("BEGIN")
        try:
            for code in codes:
                self.mark_notified(code, run_id)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def mark_reminded(self, code: str, at: str, run_id: str | None = None) -> bool:
        """The reminder reached the owner at ``at``: notified -> reminded (once)."""
        return self._advance(code, "notified", "reminded", at, run_id)

    def mark_escalated_further(self, code: str, at: str, run_id: str | None = None) -> bool:
        """Every fallback channel has it, at ``at``: reminded -> escalated_further (once)."""
        return self._advance(code, "reminded", "escalated_further", at, run_id)

    def _advance(self, code: str, before: str, after: str, at: str,
                 run_id: str | None = None) -> bool:
        cur = self.db.execute(f"UPDATE escalations SET status=?, {after}_at=? WHERE code=?"
                              " AND status=?", (after, at, code, before))
        if cur.rowcount == 1:
            self._event(code, after, "", run_id, at=at)
        return cur.rowcount == 1

    # --- the owner's answers -----------------------------------------------------------
    def _event(self, code: str, event: str, detail: str = "", run_id: str | None = None,
               *, at: str | None = None) -> None:
        self.db.execute("INSERT INTO escalation_events (code, at, event, detail, run_id)"
                        " VALUES (?,?,?,?,?)", (code, at or now_iso(), event, scrub(detail),
                                                run_id))

    def event(self, code: str, event: str, detail: str = "", run_id: str | None = None) -> None:
        """Note something that happened to escalation ``code`` (its history)."""
        self._event(code, event, detail, run_id)

    def events(self, code: str | None = None, *, run_id: str | None = None
               ) -> list[dict[str, Any]]:
        """The history of one escalation, or every event one run wrote, oldest first."""
        rows = self.db.execute(
            "SELECT * FROM escalation_events WHERE (? IS NULL OR code=?) AND (? IS NULL OR"
            " run_id=?) ORDER BY id", (code, code, run_id, run_id))
        return [dict(r) for r in rows]

    def record_answer(self, code: str, text: str, *, via: str, by: str, ref: str = "",
                      final: bool = False, run_id: str | None = None) -> dict[str, Any]:
        """Keep the owner's answer to ``code`` (replacing one not yet delivered) and put the
        escalation in ``answered``, or ``closed`` when nothing is to be delivered
        (``final``). The caller has checked the code may take an answer; the update is
        conditional all the same, so two answers racing cannot both win. Returns the row."""
        at = now_iso()
        state = "closed" if final else "answered"
        self.db.execute("BEGIN IMMEDIATE")
        try:
            cur = self.db.execute(
                "UPDATE escalations SET answer=?, answer_via=?, answer_by=?, answer_ref=?,"
                " answered_at=?, status=?, closed_at=CASE WHEN ?='closed' THEN ? ELSE"
                " closed_at END, delivery_state='', delivery_error='', delivery_attempts=0"
                " WHERE code=? AND status NOT IN ('delivered','closed','expired')"
                " AND COALESCE(delivery_state,'') NOT IN ('sending','done')",
                (scrub(text), via, scrub(by), ref, at, state, state, at, code))
            if cur.rowcount != 1:
                raise ValueError(f"escalation {code} cannot take an answer now")
            self._event(code, "answered", f"via {via} by {by}", run_id, at=at)
            if final:
                self._event(code, "closed", "acknowledged", run_id, at=at)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return dict(self.escalation(code) or {})

    def answered_waiting(self, account: str, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
        """Answered escalations of ``kinds`` whose answer is still to be delivered (not
        refused: a refused answer waits for the owner's next one)."""
        sql = ("SELECT * FROM escalations WHERE account=? AND status='answered' AND"
               " COALESCE(delivery_state,'') != 'refused' AND kind IN"
               f" ({','.join('?' * len(kinds))}) ORDER BY id")
        return [dict(r) for r in self.db.execute(sql, (account, *kinds))]

    def delivery(self, code: str, state: str, error: str = "",
                 run_id: str | None = None) -> None:
        """Note a delivery step of ``code``'s answer: "sending" (before it leaves, counted
        as an attempt), "failed" or "refused" (with why), "done" (then the escalation is
        ``delivered``, or ``closed`` for an email whose original is marked read)."""
        at = now_iso()
        if state == "sending":
            self.db.execute("UPDATE escalations SET delivery_state='sending', delivery_attempts="
                            "COALESCE(delivery_attempts,0)+1 WHERE code=?", (code,))
            return
        if state == "done":
            self.db.execute("UPDATE escalations SET delivery_state='done', delivery_error='',"
                            " status='delivered', delivered_at=? WHERE code=?", (at, code))
            self._event(code, "delivered", error, run_id, at=at)
            return
        self.db.execute("UPDATE escalations SET delivery_state=?, delivery_error=? WHERE code=?",
                        (state, scrub(error), code))
        self._event(code, f"delivery_{state}", error, run_id, at=at)

    def close_escalation(self, code: str, why: str, run_id: str | None = None) -> bool:
        """Close ``code`` (delivered and done with, or no longer needed)."""
        at = now_iso()
        cur = self.db.execute("UPDATE escalations SET status='closed', closed_at=? WHERE"
                              " code=? AND status NOT IN ('closed','expired')", (at, code))
        if cur.rowcount == 1:
            self._event(code, "closed", why, run_id, at=at)
        return cur.rowcount == 1

    def expire(self, code: str, why: str, run_id: str | None = None) -> bool:
        """``code`` no longer needs the owner (a finding that stopped being true)."""
        at = now_iso()
        cur = self.db.execute("UPDATE escalations SET status='expired', expired_at=? WHERE"
                              " code=? AND status != 'expired'", (at, code))
        if cur.rowcount == 1:
            self._event(code, "expired", why, run_id, at=at)
        return cur.rowcount == 1

    # --- the audit trail ---------------------------------------------------------------
    def audit(self, user: str, action: str, detail: str = "", account: str = "") -> None:
        """Who did what through the console (an answer, a run started, a sign-in)."""
        self.db.execute("INSERT INTO audit (at, user, action, account, detail) VALUES"
                        " (?,?,?,?,?)", (now_iso(), user, action, account, scrub(detail)))

    def audit_log(self, limit: int = 200, action: str | None = None) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM audit WHERE (? IS NULL OR action=?) ORDER BY id"
                               " DESC LIMIT ?", (action, action, limit))
        return [dict(r) for r in rows]

    def remember_sent_mail(self, message_id: str, code: str, purpose: str) -> None:
        """A mail the bot sent about ``code``: a reply naming it is the owner's answer."""
        self.db.execute("INSERT OR IGNORE INTO sent_mail (message_id, code, purpose, sent_at)"
                        " VALUES (?,?,?,?)", (message_id, code, purpose, now_iso()))

    def code_for_mail(self, message_ids: list[str]) -> str | None:
        """The escalation a mail the bot sent was about, for the first of ``message_ids``
        the bot sent (an alert to the owner)."""
        for mid in message_ids:
            row = self.db.execute("SELECT code FROM sent_mail WHERE message_id=? AND"
                                  " purpose='alert'", (mid,)).fetchone()
            if row:
                return str(row["code"])
        return None

    def deliveries(self, code: str) -> list[dict[str, Any]]:
        """Every channel delivery (outbox row) of the texts about escalation ``code``: the
        first text, the reminder, the fallback messages."""
        rows = self.db.execute(
            "SELECT key, channel, state, attempts, run_id, created_at, updated_at FROM outbox"
            " WHERE key IN (?,?,?) ORDER BY id",
            (f"escalation:{code}", f"reminder:{code}", f"fallback:{code}"))
        return [dict(r) for r in rows]

    # --- emails ------------------------------------------------------------------------
    # state: "trashed" (moved to Trash), "waiting" (a buyer email whose thread is not yet
    # answered), "escalated", "recorded" (the owner's mail, kept for the answers), "kept",
    # "digest" (list mail waiting for the owner's daily digest), "digested" (listed in one).

    def email(self, account: str, message_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM emails WHERE account=? AND message_id=?",
                              (account, message_id)).fetchone()
        return dict(row) if row else None

    def emails_known(self, account: str, message_ids: list[str]) -> dict[str, dict[str, Any]]:
        """:meth:`email` for many Message-IDs at once: the rows found, by Message-ID."""
        found: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(message_ids))
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            for row in self.db.execute(
                    "SELECT * FROM emails WHERE account=?"
                    f" AND message_id IN ({','.join('?' * len(part))})", (account, *part)):
                found[row["message_id"]] = dict(row)
        return found

    def record_emails(self, account: str, rows: list[dict[str, Any]],
                      run_id: str | None = None) -> None:
        """Upsert many emails in one transaction (keys: message_id, folder, sender, subject,
        rule, action, state, escalation, body)."""
        now = now_iso()
        self.db.execute("BEGIN")
        try:
            self.db.executemany(
                "INSERT INTO emails (account, message_id, folder, sender, subject, rule, action,"
                " state, escalation, body, run_id, first_seen, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(account, message_id) DO UPDATE SET folder=excluded.folder,"
                " rule=excluded.rule, action=excluded.action, state=excluded.state,"
                " escalation=COALESCE(excluded.escalation, escalation),"
                " body=CASE WHEN excluded.body != '' THEN excluded.body ELSE body END,"
                " run_id=excluded.run_id, updated_at=excluded.updated_at",
                [(account, r["message_id"], r.get("folder", ""), scrub(r.get("sender", "")),
                  scrub(r.get("subject", "")), r.get("rule", ""), r.get("action", ""),
                  r["state"], r.get("escalation"), scrub(r.get("body", "")), run_id, now, now)
                 for r in rows])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def emails(self, account: str, state: str | None = None) -> list[dict[str, Any]]:
        return self._rows("emails", "first_seen", account, state)

    def set_email_state(self, account: str, message_ids: list[str], state: str) -> None:
        """Give these emails a new state, in one transaction."""
        now = now_iso()
        self.db.execute("BEGIN")
        try:
            self.db.executemany(
                "UPDATE emails SET state=?, updated_at=? WHERE account=? AND message_id=?",
                [(state, now, account, mid) for mid in message_ids])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
