"""The SQLite ledger: one file in the state folder, behind the ledger's storage interface."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from rpa.ledger import schema
from rpa.ledger.audit import Audit
from rpa.ledger.backups import Backups
from rpa.ledger.emails import Emails
from rpa.ledger.escalations import Escalations
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

    def close(self) -> None:
        """Close the file; the ledger is not used after this."""
        self.db.close()


if TYPE_CHECKING:
    def _is_a_store(ledger: Ledger) -> LedgerStore:
        return ledger  # mypy checks here that the SQLite ledger has every operation
