"""The outbox: each text to the owner, per channel, and whether it went out.

Through it every text reaches the owner at least once and is never lost to a crash.
Beside it, ``alerts`` logs every text a run sent and whether it was delivered.
"""

from __future__ import annotations

from typing import Any

from rpa.ledger.base import Records, now_iso
from rpa.redact import scrub


class Outbox(Records):
    """The owner's texts of the ledger (``outbox``, ``alerts``).

    One outbox row per text and channel (``key`` names the text: an escalation's code, a
    run alert's cause and day, or a one-off). state: "sending" is written before the text
    leaves, "sent" or "failed" after; a "sending" row left by an earlier run is a text
    whose fate a crash hid, sent once more by the next run (at least once, never lost).
    """

    def outbox(self, key: str, channel: str) -> dict[str, Any] | None:
        """The row of text ``key`` on ``channel`` (None when it was never sent there)."""
        row = self.db.execute("SELECT * FROM outbox WHERE key=? AND channel=?",
                              (key, channel)).fetchone()
        return dict(row) if row else None

    def outbox_sending(self, key: str, channel: str, text: str, title: str,
                       run_id: str | None) -> bool:
        """Claim text ``key`` on ``channel`` for this run, before it leaves (counted as an
        attempt): False when it went out there already, and is not to be sent again.

        One statement, so nothing can deliver it between the look and the claim."""
        now = now_iso()
        cur = self.db.execute(
            "INSERT INTO outbox (key, channel, text, title, state, attempts, run_id,"
            " created_at, updated_at) VALUES (?,?,?,?,'sending',1,?,?,?)"
            " ON CONFLICT(key, channel) DO UPDATE SET text=excluded.text, title=excluded.title,"
            " state='sending', attempts=outbox.attempts+1, run_id=excluded.run_id,"
            " updated_at=excluded.updated_at WHERE outbox.state != 'sent'",
            (key, channel, scrub(text), title, run_id, now, now))
        return cur.rowcount == 1

    def outbox_done(self, key: str, channel: str, delivered: bool) -> None:
        """Text ``key`` left on ``channel``: "sent" when delivered, else "failed"."""
        self.db.execute("UPDATE outbox SET state=?, updated_at=? WHERE key=? AND channel=?",
                        ("sent" if delivered else "failed", now_iso(), key, channel))

    def outbox_interrupted(self, run_id: str | None) -> list[dict[str, Any]]:
        """Texts an earlier run of this run's account began to send and never knew the fate
        of (and those of no known run). Another account's are left to its own runs: one of
        them may be sending them right now, while this account's runs never overlap."""
        rows = self.db.execute(
            "SELECT o.* FROM outbox o LEFT JOIN runs r ON r.run_id = o.run_id"
            " WHERE o.state='sending' AND COALESCE(o.run_id, '') != COALESCE(?, '')"
            " AND (r.account IS NULL OR ? IS NULL"
            " OR r.account = (SELECT account FROM runs WHERE run_id=?)) ORDER BY o.id",
            (run_id, run_id, run_id))
        return [dict(r) for r in rows]

    def outbox_unsent(self, limit: int = 100) -> list[dict[str, Any]]:
        """The last ``limit`` texts per channel not sent (still "sending", or "failed"),
        newest first, each with the account of the run that wrote it (``account``)."""
        rows = self.db.execute(
            "SELECT o.key, o.channel, o.text, o.title, o.state, o.attempts, o.run_id,"
            " o.updated_at, r.account FROM outbox o LEFT JOIN runs r ON r.run_id = o.run_id"
            " WHERE o.state != 'sent' ORDER BY o.id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(r) for r in rows]

    def deliveries(self, code: str) -> list[dict[str, Any]]:
        """Every channel delivery (outbox row) of the texts about escalation ``code``: the
        first text, the reminder, the fallback messages."""
        rows = self.db.execute(
            "SELECT key, channel, state, attempts, run_id, created_at, updated_at FROM outbox"
            " WHERE key IN (?,?,?) ORDER BY id",
            (f"escalation:{code}", f"reminder:{code}", f"fallback:{code}"))
        return [dict(r) for r in rows]

    def record_alert(self, run_id: str | None, channel: str, text: str, delivered: bool) -> None:
        """Log a text the run sent on ``channel``, and whether it was delivered."""
        self.db.execute(
            "INSERT INTO alerts (run_id, channel, text, sent_at, delivered) VALUES (?,?,?,?,?)",
            (run_id, channel, scrub(text), now_iso(), int(delivered)))
