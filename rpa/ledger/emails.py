"""Emails: the mail the bot read in the support mailbox, and the mail it sent.

``emails`` holds what the triage did with each message (so it is never handled twice);
``sent_mail`` the Message-IDs of the bot's own mails, so a reply naming one is known as the
owner's answer to an escalation.
"""

from __future__ import annotations

from typing import Any

from rpa.ledger.base import Records, now_iso
from rpa.redact import scrub


class Emails(Records):
    """The mail records of the ledger (``emails``, ``sent_mail``).

    An email's state: "trashed" (moved to Trash), "waiting" (a buyer email whose thread is
    not yet answered), "escalated", "recorded" (the owner's mail, kept for the answers),
    "kept", "digest" (list mail waiting for the owner's daily digest), "digested" (listed
    in one).
    """

    def email(self, account: str, message_id: str) -> dict[str, Any] | None:
        """The row of one email, by its Message-ID (None when the bot has not met it)."""
        row = self.db.execute("SELECT * FROM emails WHERE account=? AND message_id=?",
                              (account, message_id)).fetchone()
        return dict(row) if row else None

    def emails_known(self, account: str, message_ids: list[str]) -> dict[str, dict[str, Any]]:
        """:meth:`email` for many Message-IDs at once: the rows found, by Message-ID."""
        found: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(message_ids))
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            for row in self.db.execute(
                    "SELECT * FROM emails WHERE account=?"
                    f" AND message_id IN ({','.join('?' * len(part))})", (account, *part)):
                found[row["message_id"]] = dict(row)
        return found

    def record_emails(self, account: str, rows: list[dict[str, Any]],
                      run_id: str | None = None) -> None:
        """Upsert many emails in one transaction (keys: message_id, folder, sender, subject,
        rule, action, state, escalation, body)."""
        now = now_iso()
        with self._write():
            self.db.executemany(
                "INSERT INTO emails (account, message_id, folder, sender, subject, rule, action,"
                " state, escalation, body, run_id, first_seen, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(account, message_id) DO UPDATE SET folder=excluded.folder,"
                " rule=excluded.rule, action=excluded.action, state=excluded.state,"
                " escalation=COALESCE(excluded.escalation, emails.escalation),"
                " body=CASE WHEN excluded.body != '' THEN excluded.body ELSE emails.body END,"
                " run_id=excluded.run_id, updated_at=excluded.updated_at",
                [(account, r["message_id"], r.get("folder", ""), scrub(r.get("sender", "")),
                  scrub(r.get("subject", "")), r.get("rule", ""), r.get("action", ""),
                  r["state"], r.get("escalation"), scrub(r.get("body", "")), run_id, now, now)
                 for r in rows])

    def emails(self, account: str, state: str | None = None) -> list[dict[str, Any]]:
        """The account's emails (only those in ``state`` when given), first seen first."""
        return self._rows("emails", "first_seen", account, state)

    def set_email_state(self, account: str, message_ids: list[str], state: str) -> None:
        """Give these emails a new state, in one transaction."""
        now = now_iso()
        with self._write():
            self.db.executemany(
                "UPDATE emails SET state=?, updated_at=? WHERE account=? AND message_id=?",
                [(state, now, account, mid) for mid in message_ids])

    def remember_sent_mail(self, message_id: str, code: str, purpose: str) -> None:
        """A mail the bot sent about ``code``: a reply naming it is the owner's answer."""
        self.db.execute("INSERT INTO sent_mail (message_id, code, purpose, sent_at)"
                        " VALUES (?,?,?,?) ON CONFLICT (message_id) DO NOTHING",
                        (message_id, code, purpose, now_iso()))

    def alert_mail_id(self, about: str) -> str | None:
        """The Message-ID an alert email ``about`` one text to one address was given when
        it was first tried (None: never): a text sent again after a crash goes under the
        same id, which a mailbox shows once."""
        row = self.db.execute("SELECT message_id FROM sent_mail WHERE purpose=?"
                              " ORDER BY sent_at DESC LIMIT 1", (f"alert:{about}",)).fetchone()
        return str(row["message_id"]) if row else None

    def code_for_mail(self, message_ids: list[str]) -> str | None:
        """The escalation a mail the bot sent was about, for the first of ``message_ids``
        the bot sent (an alert to the owner: purpose ``alert``, or ``alert:<about>``)."""
        for mid in message_ids:
            row = self.db.execute("SELECT code FROM sent_mail WHERE message_id=? AND"
                                  " (purpose='alert' OR purpose LIKE 'alert:%')",
                                  (mid,)).fetchone()
            if row:
                return str(row["code"])
        return None
