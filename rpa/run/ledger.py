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


class Ledger:
    """A thin, explicit layer over one SQLite file. Every write commits at once."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), timeout=10, isolation_level=None,
                                  check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        path.chmod(0o600)

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
    PREFIXES = {"buyer_question": "B", "blocked_reply": "R", "email": "E"}

    def escalate(self, account: str, kind: str, source_key: str, *, summary: str,
                 details: str, short: str = "", buyer: str = "", order_id: str = "",
                 url: str = "", run_id: str | None = None) -> tuple[str, bool]:
        """Create (once) the escalation for ``source_key``; returns its code and if it is new.

        The texts may hold ``{code}``, filled with the code once it is known.
        """
        existing = self.db.execute(
            "SELECT code FROM escalations WHERE account=? AND kind=? AND source_key=?",
            (account, kind, source_key)).fetchone()
        if existing:
            return str(existing["code"]), False
        cur = self.db.execute(
            "INSERT INTO escalations (account, kind, source_key, buyer, order_id, summary,"
            " short, details, url, run_id, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (account, kind, source_key, buyer, order_id, "", "", "", url, run_id, now_iso()))
        code = f"{self.PREFIXES.get(kind, 'X')}{int(cur.lastrowid or 0):03d}"
        self.db.execute(
            "UPDATE escalations SET code=?, summary=?, short=?, details=? WHERE id=?",
            (code, scrub(summary.replace("{code}", code)), scrub(short.replace("{code}", code)),
             scrub(details.replace("{code}", code)), cur.lastrowid))
        return code, True

    def escalation(self, code: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM escalations WHERE code=?", (code,)).fetchone()
        return dict(row) if row else None

    def escalations(self, account: str, *, unnotified: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT * FROM escalations WHERE account=?"
        if unnotified:
            sql += " AND notified_at IS NULL"
        return [dict(r) for r in self.db.execute(sql + " ORDER BY id", (account,))]

    def mark_notified(self, code: str) -> None:
        self.db.execute("UPDATE escalations SET notified_at=? WHERE code=?", (now_iso(), code))

    # --- emails ------------------------------------------------------------------------
    # state: "trashed" (moved to Trash), "waiting" (a buyer email whose thread is not yet
    # answered), "escalated", "recorded" (the owner's mail, kept for the answers), "kept",
    # "digest" (list mail waiting for the owner's daily digest), "digested" (listed in one).

    def email(self, account: str, message_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM emails WHERE account=? AND message_id=?",
                              (account, message_id)).fetchone()
        return dict(row) if row else None

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
