"""What every record family of the SQLite ledger shares: the file, its connection, the clock."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def now_iso() -> str:
    """The time now, in UTC to the second, as the ledger writes it (ISO 8601)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class SQLiteRecords:
    """The base of each record family (runs, replies, escalations, ...) of the SQLite
    :class:`~rpa.ledger.sqlite.Ledger`: the ledger file and the connection to it.

    The connection is in autocommit mode: every write commits at once, unless a method
    opens a transaction of its own.
    """

    path: Path
    # Read from the instance at every statement, never kept elsewhere: tests replace it
    # after the ledger opens, to die at a chosen statement.
    db: sqlite3.Connection

    def _rows(self, table: str, order: str, account: str,
              state: str | None) -> list[dict[str, Any]]:
        """The rows of ``table`` for ``account`` (only those in ``state`` when given), in
        ``order``."""
        sql = f"SELECT * FROM {table} WHERE account=?"
        args: tuple[Any, ...] = (account,)
        if state is not None:
            sql += " AND state=?"
            args += (state,)
        return [dict(r) for r in self.db.execute(f"{sql} ORDER BY {order}", args)]
