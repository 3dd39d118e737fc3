"""The SQLite ledger: one file in the state folder, behind the ledger's storage interface."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from rpa.ledger import schema
from rpa.ledger.audit import Audit
from rpa.ledger.backups import Backups
from rpa.ledger.emails import Emails
from rpa.ledger.escalations import COUNTER_FILE, Escalations
from rpa.ledger.outbox import Outbox
from rpa.ledger.replies import Replies
from rpa.ledger.runs import Runs

if TYPE_CHECKING:
    from rpa.ledger.store import LedgerStore


class Ledger(Runs, Replies, Escalations, Outbox, Emails, Audit, Backups):
    """A thin, explicit layer over one SQLite file. Every write commits at once.

    Each record family (runs, replies, escalations, outbox, emails, audit, backups) is a
    part of this class, kept in its own module; together they are a
    :class:`~rpa.ledger.store.LedgerStore`. ``code_floor`` is the escalation count of the
    last run.json: codes go on above it (see :class:`~rpa.ledger.escalations.Escalations`).
    """

    def __init__(self, path: Path, *, code_floor: int = 0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.code_floor = code_floor
        self.db = sqlite3.connect(str(path), timeout=10, isolation_level=None,
                                  check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        schema.create(self.db)
        path.chmod(0o600)

    @property
    def where(self) -> str:
        """The ledger file."""
        return str(self.path)

    def close(self) -> None:
        """Close the file; the ledger is not used after this."""
        self.db.close()

    # --- the escalation counter's file beside the ledger --------------------------------
    @property
    def counter_file(self) -> Path:
        """The file beside the ledger that keeps the counter (``escalation-counter``)."""
        return self.path.parent / COUNTER_FILE

    def _file_counter(self) -> int:
        """The count in :attr:`counter_file` (0 when it is missing or unreadable)."""
        try:
            return int(self.counter_file.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _write_counter(self, number: int) -> None:
        """Keep ``number`` in :attr:`counter_file`, replaced whole (never half-written)."""
        tmp = self.counter_file.with_name(COUNTER_FILE + ".tmp")
        tmp.write_text(f"{number}\n")
        tmp.chmod(0o600)
        tmp.replace(self.counter_file)


if TYPE_CHECKING:
    def _is_a_store(ledger: Ledger) -> LedgerStore:
        return ledger  # mypy checks here that the SQLite ledger has every operation
