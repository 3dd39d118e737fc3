"""The audit trail: who did what through the console (an answer, a run started, a sign-in)."""

from __future__ import annotations

from typing import Any

from rpa.ledger.base import Records, now_iso
from rpa.redact import scrub


class Audit(Records):
    """The audit trail of the ledger (``audit``)."""

    def audit(self, user: str, action: str, detail: str = "", account: str = "") -> None:
        """Who did what through the console (an answer, a run started, a sign-in)."""
        # "user" quoted: a reserved word in PostgreSQL (the role signed in)
        self.db.execute('INSERT INTO audit (at, "user", action, account, detail) VALUES'
                        " (?,?,?,?,?)", (now_iso(), user, action, account, scrub(detail)))

    def audit_log(self, limit: int = 200, action: str | None = None) -> list[dict[str, Any]]:
        """The last ``limit`` entries (only ``action`` when given), newest first."""
        rows = self.db.execute("SELECT * FROM audit WHERE (? IS NULL OR action=?) ORDER BY id"
                               " DESC LIMIT ?", (action, action, limit))
        return [dict(r) for r in rows]
