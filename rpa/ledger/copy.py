"""Moving a SQLite ledger into PostgreSQL (``rpa ledger copy --to postgresql://...``):
every row of every table, in one transaction, counted on both sides before it commits.

The target must be empty (a copy never merges two ledgers: the same code could mean two
matters). Rows keep their ids; each id's sequence goes on after the highest copied, and
the escalation counter after the highest number the SQLite ledger, the file beside it or
a run.json remembers, so no code is handed out twice. A count that differs, or a row
PostgreSQL refuses, undoes the whole copy: the target is left empty, the file untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rpa.ledger.postgres import PostgresLedger
from rpa.ledger.sqlite import Ledger

# Parents before children (steps and observations name a run).
TABLES = ("runs", "steps", "observations", "buyer_threads", "escalations",
          "escalation_events", "emails", "sent_mail", "run_alerts", "outbox", "alerts",
          "audit", "meta")
# The tables whose ``id`` the database numbers.
NUMBERED = ("steps", "escalations", "escalation_events", "outbox", "alerts", "audit")
BATCH = 1000


@dataclass(frozen=True)
class Copied:
    """One table: its rows in the SQLite file and in PostgreSQL once copied."""

    table: str
    source: int
    target: int


class NotEmpty(ValueError):
    """The PostgreSQL ledger already holds rows: a copy never merges two ledgers."""


def _columns(ledger: Ledger, table: str) -> list[str]:
    return [str(r["name"]) for r in ledger.db.execute(f"PRAGMA table_info({table})")]


def _pg_columns(target: PostgresLedger, table: str) -> dict[str, str]:
    rows = target.db.execute("SELECT column_name AS name, data_type AS type FROM"
                             " information_schema.columns WHERE table_name = ?"
                             " AND table_schema = current_schema()", (table,))
    return {str(r["name"]): str(r["type"]) for r in rows}


def _as(kind: str, value: Any) -> Any:
    """A SQLite value for a PostgreSQL column of ``kind`` (SQLite keeps any value in any
    column; a text column gets text)."""
    if value is None or kind != "text" or isinstance(value, str):
        return value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _count(db: Any, table: str) -> int:
    return int(db.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"])


def copy_ledger(source: Path, url: str, password: str = "", *,
                code_floor: int = 0) -> tuple[list[Copied], int]:
    """Copy the SQLite ledger at ``source`` into the empty PostgreSQL ledger at ``url``.

    Returns each table's counts and the escalation counter the PostgreSQL ledger goes on
    from. Raises :class:`NotEmpty` when the target holds rows, ValueError when the counts
    differ (nothing is kept then)."""
    sqlite = Ledger(source, code_floor=code_floor)  # brought up to date first
    try:
        target = PostgresLedger(url, password=password)
        try:
            return _copy(sqlite, target)
        finally:
            target.close()
    finally:
        sqlite.close()


def _copy(sqlite: Ledger, target: PostgresLedger) -> tuple[list[Copied], int]:
    held = {t: n for t in TABLES if (n := _count(target.db, t))}
    if held:
        raise NotEmpty(f"the PostgreSQL ledger at {target.where} already holds rows ("
                       + ", ".join(f"{t}: {n}" for t, n in held.items())
                       + "); a copy goes only into an empty ledger")
    counter = sqlite.escalation_counter()  # the ledger's, its file's and run.json's
    done: list[Copied] = []
    with target.db.transaction():
        for table in TABLES:
            kinds = _pg_columns(target, table)
            columns = _columns(sqlite, table)
            missing = [c for c in columns if c not in kinds]
            if missing:
                raise ValueError(f"{table}: the PostgreSQL ledger has no column"
                                 f" {', '.join(missing)}; run `rpa ledger migrate`")
            names = ", ".join(f'"{c}"' for c in columns)
            insert = (f"INSERT INTO {table} ({names}) VALUES"
                      f" ({', '.join('?' * len(columns))})")
            rows = sqlite.db.execute(f"SELECT {names} FROM {table} ORDER BY rowid")
            while batch := rows.fetchmany(BATCH):
                target.db.executemany(insert, [[_as(kinds[c], row[c]) for c in columns]
                                               for row in batch])
            done.append(Copied(table, _count(sqlite.db, table), _count(target.db, table)))
        for table in NUMBERED:
            target.db.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)")
        wrong = [c for c in done if c.source != c.target]
        if wrong:
            raise ValueError("the counts differ, nothing was kept: " + ", ".join(
                f"{c.table} {c.source} in SQLite, {c.target} in PostgreSQL" for c in wrong))
        if counter:
            target.db.execute(
                "INSERT INTO meta (name, value) VALUES ('escalation_counter', ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (str(counter),))
    return done, counter
