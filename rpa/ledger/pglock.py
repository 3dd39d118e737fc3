"""One run at a time per account, across processes and machines: a PostgreSQL advisory
lock, taken by a session held open for the whole run.

The lock belongs to the database session, not to a row: it is let go when the run closes
its connection, and also when the process dies (the server ends the session as soon as
the connection drops: at once for a killed process, within about a minute for a machine
that vanished, through TCP keepalives on both ends). Nothing is written, so a crash leaves
nothing to clean up. The SQLite ledger keeps a lock file per account instead
(``rpa.run.orchestrator.account_lock``).
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from rpa.errors import RunLocked
from rpa.ledger.postgres import PgConnection, connect

# The server notices a machine that vanished mid-run (its TCP connection silent) within
# idle + interval * count seconds, and ends the session that holds the lock.
SERVER_KEEPALIVES = (("tcp_keepalives_idle", 30), ("tcp_keepalives_interval", 10),
                     ("tcp_keepalives_count", 3))


def lock_key(account: str) -> int:
    """The advisory lock's number for ``account``: 64 bits of a hash of its name (two
    accounts sharing one would need a collision of SHA-256's first 64 bits)."""
    digest = hashlib.sha256(f"rpa account run lock:{account}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _holder(db: PgConnection, key: int) -> str:
    """Who holds the lock, as the server tells it (" (pid 12 on host-b)"), or ""."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    row = db.execute(
        "SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a"
        " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
        " AND l.classid = ? AND l.objid = ? AND l.objsubid = 1",
        (unsigned >> 32, unsigned & 0xFFFF_FFFF)).fetchone()
    name = str(row["name"] or "") if row else ""
    prefix = "rpa run "
    return f" ({name[len(prefix):]})" if name.startswith(prefix) else ""


@contextmanager
def advisory_lock(url: str, password: str, account: str) -> Iterator[None]:
    """Hold ``account``'s run lock while the block runs; another holder (a run in another
    process or on another machine) makes it fail at once with RunLocked. A database that
    cannot be reached raises LedgerBroken (exit 6)."""
    who = f"pid {os.getpid()} on {socket.gethostname()}"
    db = connect(url, password, purpose=f"run {who}")
    try:
        for name, value in SERVER_KEEPALIVES:
            db.execute(f"SET {name} = {int(value)}")
        key = lock_key(account)
        if not db.execute("SELECT pg_try_advisory_lock(?) AS got", (key,)).fetchone()["got"]:
            raise RunLocked(f"another run for account '{account}' is in progress"
                            f"{_holder(db, key)}; try again when it ends")
        yield
    finally:
        db.close()  # the session ends, and the lock with it
