"""The ledger's tables, and bringing a file an earlier version wrote up to date.

A new file gets every table; an older one gets the tables and columns it lacks. Each
table is read and written by the module of its record family: ``runs``, ``steps``,
``observations`` and ``run_alerts`` by :mod:`rpa.ledger.runs`; ``buyer_threads`` by
:mod:`rpa.ledger.replies`; ``escalations``, ``escalation_events`` and ``meta`` (the
escalation counter) by :mod:`rpa.ledger.escalations`; ``outbox`` and ``alerts`` by
:mod:`rpa.ledger.outbox`; ``emails`` and ``sent_mail`` by :mod:`rpa.ledger.emails`;
``audit`` by :mod:`rpa.ledger.audit`.
"""

from __future__ import annotations

import re
import sqlite3

from rpa.ledger.escalations import ANSWER_COLUMNS, ESCALATION_STEP_COLUMNS, TOKEN_COLUMNS

# The columns a queued run adds to its row (the worker that took it, the job it is).
RUN_QUEUE_COLUMNS = ("worker", "job")

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT,
    dry_run INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    job TEXT
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


# PostgreSQL's own words for what differs: its identity column, and "user", a word it
# keeps for itself.
_PG_ID = "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"


def postgres_statements() -> tuple[str, ...]:
    """The schema as PostgreSQL takes it (the first of its migrations): :data:`SCHEMA`'s
    tables and indexes, each a statement, with the escalations' columns the SQLite file
    gains by :func:`migrate` in its table and the queued runs' in ``runs``."""
    out = []
    for statement in (part.strip() for part in SCHEMA.split(";")):
        if not statement:
            continue
        statement = statement.replace(" IF NOT EXISTS", "", 1)
        statement = statement.replace("id INTEGER PRIMARY KEY AUTOINCREMENT", _PG_ID)
        statement = re.sub(r"^(\s*)user TEXT", r'\1"user" TEXT', statement, flags=re.M)
        if statement.startswith("CREATE TABLE escalations"):
            added = "".join(f"    {c} TEXT,\n" for c in (*ESCALATION_STEP_COLUMNS,
                                                          *ANSWER_COLUMNS, *TOKEN_COLUMNS)
                            if not re.search(rf"^\s*{c} ", statement, flags=re.M))
            statement = statement.replace("    UNIQUE (account, kind, source_key)",
                                          added + "    UNIQUE (account, kind, source_key)")
        out.append(statement)
    return tuple(out)


def create(db: sqlite3.Connection) -> None:
    """Make every table and index the ledger lacks, then :func:`migrate` it."""
    db.executescript(SCHEMA)
    migrate(db)


def migrate(db: sqlite3.Connection) -> None:
    """Bring a ledger written by an earlier version up to date: missing columns are
    added (never a table rebuilt, so no row is lost), and an escalation already texted
    under the old schema gets the state ``notified``."""
    for table, columns in (("escalations", (*ESCALATION_STEP_COLUMNS, *ANSWER_COLUMNS,
                                            *TOKEN_COLUMNS)),
                           ("runs", RUN_QUEUE_COLUMNS)):
        have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}  # (cid, name, ...)
        for column in columns:
            if column not in have:
                try:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
                except sqlite3.OperationalError as err:  # another process added it first
                    if "duplicate column" not in str(err):
                        raise
    db.execute("CREATE INDEX IF NOT EXISTS runs_job ON runs(job)")  # after its column
    db.execute("UPDATE escalations SET status='notified' WHERE status='open'"
               " AND notified_at IS NOT NULL")
