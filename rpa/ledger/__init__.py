"""The ledger: the bot's memory between runs (what was seen, what was sent, what was
escalated), so later runs can tell what is new and never act twice.

``store`` holds :class:`LedgerStore`, the storage interface: every operation callers use.
``sqlite`` holds :class:`Ledger`, its implementation in one SQLite file in the state folder
(``Ledger(path)``), made of one part per record family, each in its module with the SQL of
its tables: ``runs`` (runs, steps, observations, the run alerts of the day), ``replies``
(buyer threads and the replies sent), ``escalations`` (codes, states, history, the owner's
answers, the escalation counter), ``outbox`` (owner texts per channel, and the log of each
text sent), ``emails`` (the mail read and the mail the bot sent), ``audit`` (who did what
through the console) and ``backups`` (backup and restore, :func:`check_ledger` before a
run, :class:`LedgerBroken`). ``schema`` holds the tables and the migration of a file an
earlier version wrote; ``base`` what every part shares (the connection, the clock).

Imports only the cross-cutting modules (``rpa.errors``, ``rpa.redact``, ``rpa.logs``,
``rpa.patterns``, ``rpa.text``, ``rpa.smtp``): never the configuration, the run, the
owner, Seller Central, mail, the console, the scheduler or ``practice``.
"""

from rpa.ledger.backups import (
    BACKUPS_DIR,
    KEEP_BACKUPS,
    LedgerBroken,
    backups,
    check_ledger,
    quick_check,
    restore,
    restore_hint,
)
from rpa.ledger.base import now_iso
from rpa.ledger.escalations import (
    ANSWER_COLUMNS,
    COUNTER_FILE,
    DELIVERY_STATES,
    ESCALATION_STATES,
    ESCALATION_STEP_COLUMNS,
    FINAL_STATES,
    WAITING_STATES,
)
from rpa.ledger.schema import SCHEMA
from rpa.ledger.sqlite import Ledger
from rpa.ledger.store import LedgerStore

__all__ = [
    "ANSWER_COLUMNS",
    "BACKUPS_DIR",
    "COUNTER_FILE",
    "DELIVERY_STATES",
    "ESCALATION_STATES",
    "ESCALATION_STEP_COLUMNS",
    "FINAL_STATES",
    "KEEP_BACKUPS",
    "SCHEMA",
    "WAITING_STATES",
    "Ledger",
    "LedgerBroken",
    "LedgerStore",
    "backups",
    "check_ledger",
    "now_iso",
    "quick_check",
    "restore",
    "restore_hint",
]
