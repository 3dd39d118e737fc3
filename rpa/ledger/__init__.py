"""The ledger: the bot's memory between runs (what was seen, what was sent, what was
escalated), so later runs can tell what is new and never act twice.

``store`` holds :class:`LedgerStore`, the storage interface: every operation callers use.
It has two implementations. ``sqlite`` holds :class:`Ledger`, the default: one SQLite file
in the state folder (``Ledger(path)``). ``postgres`` holds :class:`PostgresLedger`, one
PostgreSQL database that many processes and machines share (``PostgresLedger(url,
password=...)``: plain values, never the configuration), with its connection and the check
before a run; ``migrations`` its schema as versioned migrations, applied when it opens or
by ``rpa ledger migrate``; ``pglock`` the per-account run lock it gives (an advisory lock,
let go when the process dies); ``copy`` moving a SQLite ledger into it.

Both are made of one part per record family, each in its module with the SQL of its
tables, written once for both databases: ``runs`` (runs, steps, observations, the run
alerts of the day), ``replies`` (buyer threads and the replies sent), ``escalations``
(codes, states, history, the owner's answers, the escalation counter), ``outbox`` (owner
texts per channel, and the log of each text sent), ``emails`` (the mail read and the mail
the bot sent), ``audit`` (who did what through the console) and, for the file,
``backups`` (backup and restore, :func:`check_ledger` before a run, :class:`LedgerBroken`).
``schema`` holds the SQLite tables and the migration of a file an earlier version wrote;
``base`` what every part shares (the connection, a transaction, the clock).

Imports only the cross-cutting modules (``rpa.errors``, ``rpa.redact``, ``rpa.logs``,
``rpa.patterns``, ``rpa.text``, ``rpa.smtp``): never the configuration, the run, the
owner, Seller Central, mail, the console, the scheduler or ``practice``. The PostgreSQL
driver (psycopg) is imported only when a PostgreSQL ledger is opened.
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
from rpa.ledger.copy import Copied, NotEmpty, copy_ledger
from rpa.ledger.escalations import (
    ANSWER_COLUMNS,
    COUNTER_FILE,
    DELIVERY_STATES,
    ESCALATION_STATES,
    ESCALATION_STEP_COLUMNS,
    FINAL_STATES,
    WAITING_STATES,
)
from rpa.ledger.migrations import LATEST as POSTGRES_SCHEMA_VERSION
from rpa.ledger.pglock import advisory_lock
from rpa.ledger.postgres import (
    PostgresLedger,
    check_postgres,
    display_url,
    migrate_database,
    url_problem,
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
    "POSTGRES_SCHEMA_VERSION",
    "SCHEMA",
    "WAITING_STATES",
    "Copied",
    "Ledger",
    "LedgerBroken",
    "LedgerStore",
    "NotEmpty",
    "PostgresLedger",
    "advisory_lock",
    "backups",
    "check_ledger",
    "check_postgres",
    "copy_ledger",
    "display_url",
    "migrate_database",
    "now_iso",
    "quick_check",
    "restore",
    "restore_hint",
    "url_problem",
]
