"""What every record family of a ledger shares: the connection, a transaction, the clock.

The record families (runs, replies, escalations, ...) are written once, in SQL that SQLite
and PostgreSQL both read (``?`` placeholders, ``INSERT ... ON CONFLICT``, ``"user"``
quoted); the SQLite :class:`~rpa.ledger.sqlite.Ledger` and the PostgreSQL
:class:`~rpa.ledger.postgres.PostgresLedger` give them their connection and say how a
transaction begins.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Protocol


def now_iso() -> str:
    """The time now, in UTC to the second, as the ledger writes it (ISO 8601)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Cursor(Protocol):
    """What a statement gives back: its rows (each read by column name) and how many rows
    it changed."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The connection the record families talk to: sqlite3's, or the PostgreSQL one of
    :mod:`rpa.ledger.postgres` (which reads the same ``?`` placeholders)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...

    def close(self) -> None: ...


class Records:
    """The base of each record family (runs, replies, escalations, ...) of a ledger: the
    connection, and the transaction several writes share.

    The connection is in autocommit mode: every write commits at once, unless a method
    opens a transaction of its own (:meth:`_write`).
    """

    # Read from the instance at every statement, never kept elsewhere: tests replace it
    # after the ledger opens, to die at a chosen statement.
    db: Connection

    @contextmanager
    def _write(self, *, immediate: bool = False) -> Iterator[None]:
        """One transaction: every write inside is kept, or none (an exception, or a crash,
        undoes them). ``immediate``: take the write lock at once (SQLite's ``BEGIN
        IMMEDIATE``: no other writer between what is read and what is written)."""
        self.db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _insert_id(self, sql: str, args: Sequence[Any]) -> int:
        """Run one INSERT into a table whose ``id`` the database numbers; returns the id."""
        return int(self.db.execute(sql, args).lastrowid or 0)

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
