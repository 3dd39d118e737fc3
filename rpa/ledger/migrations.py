"""The PostgreSQL ledger's schema, as versioned migrations, and applying them.

Each migration is a version number, a name and its SQL; ``schema_migrations`` in the
database lists those applied. :func:`migrate` applies the missing ones in order, each
with its row in ``schema_migrations``, all in one transaction under an advisory lock: two
processes opening a new database at once apply them once, and a failure leaves the
schema as it was. The ledger applies them when it opens (as the SQLite file gets its
missing tables and columns), ``rpa ledger migrate`` on demand.

The tables and columns are those of the SQLite file (:mod:`rpa.ledger.schema`), made from
its text, with the same names and kinds (text, integer), so the record families' SQL reads
both; a later migration that adds a column adds it there too, to the SQLite file's schema
or its migration. Times stay ISO 8601 text, as in the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rpa.ledger.base import Connection, now_iso
from rpa.ledger.schema import postgres_statements


@dataclass(frozen=True)
class Migration:
    """One step of the schema: applied once, in version order."""

    version: int
    name: str
    sql: tuple[str, ...]


# The first migration is the schema as it is now, made from the SQLite file's
# (:func:`rpa.ledger.schema.postgres_statements`): one source for both. A database made
# at version 1 by an earlier version lacks what later migrations add, so each later one
# adds it only where missing (``IF NOT EXISTS``): on a database the first made today it
# changes nothing.
INITIAL = postgres_statements()

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the ledger's tables", INITIAL),
    Migration(2, "a queued run names its worker and job", (
        "ALTER TABLE runs ADD COLUMN IF NOT EXISTS worker TEXT",
        "ALTER TABLE runs ADD COLUMN IF NOT EXISTS job TEXT",
        "CREATE INDEX IF NOT EXISTS runs_job ON runs(job)",
    )),
)
LATEST = MIGRATIONS[-1].version

# The advisory lock migrations are applied under (a number of this bot's own: "rpa-migr").
MIGRATION_LOCK = 0x7270612D6D696772

BOOKKEEPING = "schema_migrations"


def version(db: Connection) -> int:
    """The schema version the database is at (0: no migration applied, or a new one)."""
    row = db.execute("SELECT to_regclass(?) AS found", (BOOKKEEPING,)).fetchone()
    if row["found"] is None:
        return 0
    row = db.execute(f"SELECT max(version) AS v FROM {BOOKKEEPING}").fetchone()
    return int(row["v"] or 0)


def migrate(db: Any) -> list[Migration]:
    """Apply the migrations the database lacks, in order, in one transaction (``db`` is
    the ledger's PostgreSQL connection, which has ``transaction()``); returns those applied
    (none when it is up to date, the usual case: one quick look, no lock)."""
    if version(db) >= LATEST:
        return []
    applied: list[Migration] = []
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        db.execute(f"CREATE TABLE IF NOT EXISTS {BOOKKEEPING} (version INTEGER PRIMARY KEY,"
                   " name TEXT NOT NULL, applied_at TEXT NOT NULL)")
        done = version(db)  # another process may have applied them while this one waited
        for step in MIGRATIONS:
            if step.version <= done:
                continue
            for statement in step.sql:
                db.execute(statement)
            db.execute(f"INSERT INTO {BOOKKEEPING} (version, name, applied_at) VALUES (?,?,?)",
                       (step.version, step.name, now_iso()))
            applied.append(step)
    return applied
