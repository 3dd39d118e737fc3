"""Replies: the buyer messages the bot read, what it decided, and the replies it sent.

One row per buyer message (account, thread, message key), so a buyer is never answered
twice: the reply is recorded before it is sent and again once the page shows it.
"""

from __future__ import annotations

from typing import Any

from rpa.ledger.base import Records, now_iso
from rpa.redact import scrub


class Replies(Records):
    """The buyer threads of the ledger (``buyer_threads``).

    A thread's state: "sending" is written before the reply is sent (the intent), "sent"
    once the page shows it; "no_response" and "blocked" are final for that message.
    """

    def thread(self, account: str, thread_id: str, message_key: str) -> dict[str, Any] | None:
        """The row of one buyer message (None when the bot has not met it)."""
        row = self.db.execute(
            "SELECT * FROM buyer_threads WHERE account=? AND thread_id=? AND message_key=?",
            (account, thread_id, message_key)).fetchone()
        return dict(row) if row else None

    def threads(self, account: str, state: str | None = None) -> list[dict[str, Any]]:
        """The account's buyer messages (only those in ``state`` when given), oldest first."""
        return self._rows("buyer_threads", "created_at", account, state)

    def record_thread(self, account: str, thread_id: str, message_key: str, *, buyer: str,
                      order_id: str, url: str, decision: str, reply_text: str, state: str,
                      reason: str = "", escalation: str | None = None,
                      run_id: str | None = None) -> None:
        """Write what was decided for one buyer message, and its reply's state. A later write
        keeps the buyer, order and link first written, and the escalation code unless it
        names one."""
        now = now_iso()
        self.db.execute(
            "INSERT INTO buyer_threads (account, thread_id, message_key, buyer, order_id, url,"
            " decision, reply_text, state, reason, escalation, run_id, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(account, thread_id, message_key) DO UPDATE SET decision=excluded."
            "decision, reply_text=excluded.reply_text, state=excluded.state, reason="
            "excluded.reason, escalation=COALESCE(excluded.escalation,"
            " buyer_threads.escalation), run_id=excluded.run_id,"
            " updated_at=excluded.updated_at",
            (account, thread_id, message_key, buyer, order_id, url, decision,
             scrub(reply_text), state, scrub(reason), escalation, run_id, now, now))

    def set_thread_state(self, account: str, thread_id: str, message_key: str,
                         state: str) -> None:
        """Give one buyer message a new state."""
        self.db.execute(
            "UPDATE buyer_threads SET state=?, updated_at=? WHERE account=? AND thread_id=?"
            " AND message_key=?", (state, now_iso(), account, thread_id, message_key))

    def answered(self, account: str, *, order_id: str = "", buyer: str = "") -> bool:
        """Whether the ledger shows a reply sent (or no response needed) to this buyer/order."""
        done = "state IN ('sent', 'no_response')"
        if order_id:
            row = self.db.execute(
                f"SELECT 1 FROM buyer_threads WHERE account=? AND order_id=? AND {done}",
                (account, order_id)).fetchone()
        elif buyer:
            row = self.db.execute(
                f"SELECT 1 FROM buyer_threads WHERE account=? AND lower(buyer)=lower(?) AND "
                f"{done}", (account, buyer)).fetchone()
        else:
            return False
        return row is not None
