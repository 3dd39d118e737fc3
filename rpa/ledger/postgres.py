"""The PostgreSQL ledger: one database shared by many accounts, processes and machines,
behind the ledger's storage interface.

The record families are the SQLite ledger's own (the same SQL, read through
:class:`PgConnection`, which takes its ``?`` placeholders); what differs is said here: a
transaction is PostgreSQL's, a new escalation number is taken under a row lock on the
counter, an inserted row's id comes back with ``RETURNING``, and backups are the database
server's. The schema comes from :mod:`rpa.ledger.migrations`, applied when the ledger
opens. The URL never holds the password: it is handed over on its own (from the
environment), and messages name the URL only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from rpa.ledger import migrations
from rpa.ledger.audit import Audit
from rpa.ledger.backups import KEEP_BACKUPS, LedgerBroken, backups
from rpa.ledger.emails import Emails
from rpa.ledger.escalations import Escalations
from rpa.ledger.outbox import Outbox
from rpa.ledger.replies import Replies
from rpa.ledger.runs import Runs

if TYPE_CHECKING:
    import psycopg

    from rpa.ledger.store import LedgerStore

SCHEMES = ("postgresql", "postgres")
CONNECT_TIMEOUT_S = 10
# A connection whose machine died is noticed by the client within about a minute.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
              "keepalives_count": 3}


def display_url(url: str) -> str:
    """``url`` as messages may show it: any password in it replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def url_problem(url: str) -> str:
    """What is wrong with ``url`` as the ledger's address ("" when nothing is)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError as err:
        return f"not a URL ({err})"
    if parts.scheme not in SCHEMES:
        return "must start with postgresql:// (postgresql://user@host:5432/database)"
    if parts.password is not None:
        return ("holds a password: the password comes from the environment (the variable "
                "password_env names), never from a file or a command line")
    if not parts.path.strip("/"):
        return "names no database (postgresql://user@host:5432/database)"
    return ""


def _text(value: Any) -> Any:
    """A value as PostgreSQL keeps it: text cannot hold NUL, which becomes U+FFFD."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


class PgConnection:
    """A psycopg connection that reads the record families' SQL: ``?`` placeholders, rows
    as dicts, autocommit (every statement commits unless in :meth:`transaction`).

    Values are bound in the client (psycopg's ``ClientCursor``), as sqlite3 binds them, so
    a parameter needs no declared type (``? IS NULL``)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        cur = self.conn.cursor()
        cur.execute(self._sql(sql), [_text(v) for v in parameters])
        return cur

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any:
        cur = self.conn.cursor()
        rows = [[_text(v) for v in row] for row in parameters]
        if rows:
            cur.executemany(self._sql(sql), rows)
        return cur

    def transaction(self) -> Any:
        """A transaction: committed when the block ends, rolled back on an exception (and
        by the server when the process dies)."""
        return self.conn.transaction()

    def close(self) -> None:
        self.conn.close()


def connect(url: str, password: str = "", *, purpose: str = "ledger") -> PgConnection:
    """A connection to the ledger's database. A database that cannot be reached (or
    refuses the sign-in) raises :class:`LedgerBroken` (``reason`` "unreachable")."""
    import psycopg
    from psycopg.rows import dict_row

    problem = url_problem(url)
    if problem:
        raise ValueError(f"ledger URL {display_url(url)} {problem}")
    extra: dict[str, Any] = {**KEEPALIVES, **({"password": password} if password else {})}
    try:
        conn = psycopg.connect(url, autocommit=True, row_factory=dict_row,
                               cursor_factory=psycopg.ClientCursor,
                               connect_timeout=CONNECT_TIMEOUT_S,
                               application_name=f"rpa {purpose}"[:63], **extra)
    except psycopg.OperationalError as err:
        why = "; ".join(line.strip() for line in str(err).splitlines() if line.strip())
        raise LedgerBroken(
            f"the PostgreSQL ledger at {display_url(url)} cannot be reached"
            f" ({why or type(err).__name__}). Nothing was done; check that the database"
            " server is up, ledger.url, and the password in the variable that"
            " ledger.password_env names", path=display_url(url), reason="unreachable") from err
    return PgConnection(conn)


class PostgresLedger(Runs, Replies, Escalations, Outbox, Emails, Audit):
    """The ledger in a PostgreSQL database (``url``: postgresql://user@host:port/db, no
    password in it; ``password``: from the environment, "" for libpq's own means).

    The missing migrations are applied when it opens. ``code_floor`` is the escalation
    count of the last run.json, as for the SQLite ledger."""

    db: PgConnection

    def __init__(self, url: str, *, password: str = "", code_floor: int = 0) -> None:
        self.url = url
        self.code_floor = code_floor
        self.db = connect(url, password)
        try:
            _migrate(self.db, url)
        except BaseException:
            self.db.close()
            raise

    @property
    def where(self) -> str:
        """The database's URL (never with a password)."""
        return display_url(self.url)

    def close(self) -> None:
        """Close the connection; the ledger is not used after this."""
        self.db.close()

    def backup(self, keep: int = KEEP_BACKUPS, label: str = "") -> Path | None:
        """None: the database server keeps the backups (pg_dump, its own archiving)."""
        return None

    @contextmanager
    def _write(self, *, immediate: bool = False) -> Iterator[None]:
        """One PostgreSQL transaction; what must not interleave with another process takes
        its row lock inside (``immediate`` is SQLite's matter)."""
        with self.db.transaction():
            yield

    def _insert_id(self, sql: str, args: Sequence[Any]) -> int:
        return int(self.db.execute(sql + " RETURNING id", args).fetchone()["id"])

    def _lock_counter(self) -> None:
        """The counter's row, locked until the transaction ends: another process making
        escalations waits here, then reads the numbers this one took."""
        self.db.execute("INSERT INTO meta (name, value) VALUES ('escalation_counter', '0')"
                        " ON CONFLICT (name) DO NOTHING")
        self.db.execute("SELECT value FROM meta WHERE name='escalation_counter' FOR UPDATE")


def _migrate(db: PgConnection, url: str) -> list[migrations.Migration]:
    """:func:`migrations.migrate`; a database that refuses them (a role that may not create
    tables) raises :class:`LedgerBroken` (``reason`` "outdated"): the schema is left as
    it was."""
    import psycopg

    try:
        return migrations.migrate(db)
    except psycopg.Error as err:
        raise LedgerBroken(
            f"the PostgreSQL ledger at {display_url(url)} could not be brought up to date"
            f" ({str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__});"
            " nothing was changed. Run `rpa ledger migrate` as a role that may create tables"
            " in the database", path=display_url(url), reason="outdated") from err


def migrate_database(url: str, password: str = "") -> tuple[int, list[migrations.Migration]]:
    """Apply the database's missing migrations now (``rpa ledger migrate``); returns the
    version it was at and the migrations applied."""
    db = connect(url, password, purpose="migrate")
    try:
        return migrations.version(db), _migrate(db, url)
    finally:
        db.close()


def _sqlite_runs(path: Path) -> bool:
    """Whether the SQLite ledger at ``path`` remembers a run (False when there is none, or
    it cannot be read: its own check is not this ledger's)."""
    if not path.is_file():
        return False
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute("SELECT 1 FROM runs LIMIT 1").fetchone() is not None
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return False


def check_postgres(url: str, password: str, sqlite_path: Path) -> None:
    """Before a run on the PostgreSQL ledger: it must be reachable, and must not start
    empty while the SQLite ledger beside the config remembers runs (it would forget what
    was answered and escalated: copy it over first). Raises :class:`LedgerBroken`."""
    db = connect(url, password, purpose="check")
    try:
        found = migrations.version(db) > 0 and db.execute(
            "SELECT 1 AS found FROM runs LIMIT 1").fetchone() is not None
    finally:
        db.close()
    if found:
        return
    left = [str(sqlite_path)] if _sqlite_runs(sqlite_path) else []
    left += [str(p) for p in backups(sqlite_path.parent)[-1:]]
    if left:
        raise LedgerBroken(
            f"the PostgreSQL ledger at {display_url(url)} has no runs yet, but the SQLite"
            f" ledger ({', '.join(left)}) has: starting on an empty one would forget what"
            " was answered and escalated. Run stopped before Seller Central; copy it with"
            f" `rpa ledger copy --to {display_url(url)}` (or move the SQLite files aside to"
            " start afresh on purpose)", path=display_url(url), reason="missing")


if TYPE_CHECKING:
    def _is_a_store(ledger: PostgresLedger) -> LedgerStore:
        return ledger  # mypy checks here that the PostgreSQL ledger has every operation
