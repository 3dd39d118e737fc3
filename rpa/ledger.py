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

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", (limit,))
        return [dict(r) for r in rows]

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM steps WHERE run_id=? ORDER BY id", (run_id,))
        return [dict(r) for r in rows]
