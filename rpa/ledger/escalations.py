"""Escalations: the matters the bot hands to the owner, each under a code (B001, E002, ...).

An escalation's state and the time of each step, its history (``escalation_events``), the
owner's answer and its delivery, and the counter the codes come from.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from rpa.ledger.base import Records, now_iso
from rpa.redact import scrub

# An escalation's life (its ``status`` column), each step with the time it happened
# (``<state>_at``; ``open`` is ``created_at``): open -> notified (the first text went out)
# -> reminded (texted again, still unanswered) -> escalated_further (sent to every
# fallback channel) -> answered -> delivered (the answer reached the buyer or sender) /
# closed, or expired. The first four are "waiting for the owner".
ESCALATION_STATES = ("open", "notified", "reminded", "escalated_further", "answered",
                     "delivered", "closed", "expired")
WAITING_STATES = ("open", "notified", "reminded", "escalated_further")
ESCALATION_STEP_COLUMNS = ("reminded_at", "escalated_further_at", "answered_at",
                           "delivered_at", "closed_at", "expired_at")
# The owner's answer and its way to the buyer or sender: the text, how it came (cli,
# email, console), who gave it, the evidence (a Message-ID), and the delivery: "" (not
# begun), "sending" (begun: a crash from here on is settled from the page or the outbox),
# "failed" (kept, tried again next run), "refused" (breaks the messaging rules: the owner
# is told and may answer again), "done".
ANSWER_COLUMNS = ("answer", "answer_via", "answer_by", "answer_ref", "delivery_state",
                  "delivery_error", "delivery_attempts")
# The answer token: a few random characters that appear only in the texts sent to the
# owner's channels ("E012-K7QP"), so an email that quotes it proves it saw one of them.
# Letters first and no 0/O/1/I, so it reads back the same from a phone.
TOKEN_COLUMNS = ("token",)
TOKEN_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
TOKEN_CHARS = TOKEN_LETTERS + "23456789"
TOKEN_LENGTH = 4


def new_token() -> str:
    """A fresh answer token (4 characters, about 2 to the power 19 of them)."""
    return secrets.choice(TOKEN_LETTERS) + "".join(
        secrets.choice(TOKEN_CHARS) for _ in range(TOKEN_LENGTH - 1))


# Answered, waiting for its delivery (nothing to deliver for a finding: answered = closed).
DELIVERY_STATES = ("answered",)
FINAL_STATES = ("delivered", "closed", "expired")

COUNTER_FILE = "escalation-counter"


class Escalations(Records):
    """The escalations of the ledger, and the counter their codes come from.

    Escalation numbers come from a counter that only grows: kept in the ledger (``meta``)
    and, for the SQLite file, in a small file beside it (``escalation-counter``), and given
    as ``code_floor`` from the last run.json; the next number is above all three, so a
    ledger that is lost or restored from an older backup never hands out a code that meant
    another matter. The counter's row is read and raised in the transaction that writes the
    new escalations, under a lock (:meth:`_lock_counter`): two processes escalating at once
    get different numbers, and numbers of a transaction undone were never seen by anyone.
    """

    code_floor: int
    # Each account's code prefix by account name (rpa.config.codes): an account listed
    # numbers its codes in a series of its own (ACME-B001), the others share the plain one.
    series: Mapping[str, str] = MappingProxyType({})
    # Each prefix's highest number the last run.json recorded, like ``code_floor``.
    series_floor: Mapping[str, int] = MappingProxyType({})

    # The letter a code starts with, by kind ("X" for a kind not listed).
    PREFIXES = {"buyer_question": "B", "blocked_reply": "R", "email": "E", "finding": "F",
                "suspicious_answer": "S"}

    def _file_counter(self) -> int:
        """The count a file outside the ledger keeps (0: none is kept)."""
        return 0

    def _write_counter(self, number: int) -> None:
        """Keep ``number`` outside the ledger too (nowhere, unless the storage has a place)."""

    def _lock_counter(self) -> None:
        """Inside the transaction of new escalations, before anything is read: no other
        process reads or raises the counter until it ends (SQLite's ``BEGIN IMMEDIATE``
        already holds the only write lock)."""

    def escalation_counter(self) -> int:
        """The highest escalation number handed out, as far as anything remembers."""
        row = self.db.execute("SELECT value FROM meta WHERE name='escalation_counter'"
                              ).fetchone()
        top = self.db.execute("SELECT max(id) AS top FROM escalations").fetchone()["top"]
        return max(int(row["value"]) if row else 0, int(top or 0), self._file_counter(),
                   self.code_floor)

    def series_counter(self, prefix: str) -> int:
        """The highest number handed out in the series of ``prefix`` (ACME-B004: 4), as far
        as the ledger (its counter row, its codes) and the last run.json remember."""
        row = self.db.execute("SELECT value FROM meta WHERE name=?",
                              (f"escalation_counter:{prefix}",)).fetchone()
        top = 0
        for found in self.db.execute("SELECT code FROM escalations WHERE code LIKE ?",
                                     (f"{prefix}-%",)):
            tail = str(found["code"])[len(prefix) + 2:]
            if tail.isdigit():
                top = max(top, int(tail))
        return max(int(row["value"]) if row else 0, top, self.series_floor.get(prefix, 0))

    def series_counters(self) -> dict[str, int]:
        """Every series' highest number by prefix (those the ledger has counted or this
        configuration names): kept in run.json, the floor of the next run's."""
        names = {str(r["name"]).split(":", 1)[1] for r in self.db.execute(
            "SELECT name FROM meta WHERE name LIKE 'escalation_counter:%'")}
        return {p: self.series_counter(p)
                for p in sorted(names | set(self.series.values()) | set(self.series_floor))}

    def escalate(self, account: str, kind: str, source_key: str, *, summary: str,
                 details: str, short: str = "", buyer: str = "", order_id: str = "",
                 url: str = "", run_id: str | None = None) -> tuple[str, bool]:
        """Create (once) the escalation for ``source_key``; returns its code and if it is new.

        The texts may hold ``{code}``, filled with the code once it is known. The row, its
        code and its texts are written in one transaction: a crash leaves all or nothing.
        """
        return self.escalate_many(account, kind, [dict(
            source_key=source_key, summary=summary, details=details, short=short,
            buyer=buyer, order_id=order_id, url=url)], run_id=run_id)[0]

    def escalate_many(self, account: str, kind: str, items: list[dict[str, str]], *,
                      run_id: str | None = None) -> list[tuple[str, bool]]:
        """:meth:`escalate` for many matters of one kind in one transaction (a big mailbox's
        hundreds of escalations): each item has ``source_key``, ``summary``, ``details``
        and optionally ``short``, ``buyer``, ``order_id``, ``url``. Returns (code, new) for
        each, in order. All are written or none."""
        out: list[tuple[str, bool]] = []
        if not items:
            return out
        with self._write(immediate=True):
            self._lock_counter()
            keys = [it["source_key"] for it in items]
            existing: dict[str, str] = {}
            for start in range(0, len(keys), 500):
                part = keys[start:start + 500]
                for row in self.db.execute(
                        "SELECT source_key, code FROM escalations WHERE account=? AND kind=?"
                        f" AND source_key IN ({','.join('?' * len(part))})",
                        (account, kind, *part)):
                    existing[row["source_key"]] = str(row["code"])
            fresh = [it for it in items if it["source_key"] not in existing]
            first = self.escalation_counter() + 1
            prefix = self.series.get(account, "")
            # The account's own series: the code's number (the row's id stays the shared one)
            series_first = self.series_counter(prefix) + 1 if prefix else first
            # Numbers are handed out in order, each source key once (a key twice in items
            # is one matter).
            numbers: dict[str, int] = {}
            for it in fresh:
                numbers.setdefault(it["source_key"], first + len(numbers))
            if numbers:
                # The file first: a crash after it only skips numbers, never reuses one.
                self._write_counter(first + len(numbers) - 1)
            now = now_iso()
            made: set[str] = set()
            for it in items:
                key = it["source_key"]
                if key in existing:
                    out.append((existing[key], False))
                    continue
                number = numbers[key]
                shown = series_first + number - first
                code = (f"{prefix}-" if prefix else "") + \
                    f"{self.PREFIXES.get(kind, 'X')}{shown:03d}"
                if key in made:
                    out.append((code, False))
                    continue
                made.add(key)
                self.db.execute(
                    "INSERT INTO escalations (id, code, account, kind, source_key, buyer,"
                    " order_id, summary, short, details, url, run_id, created_at, token)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (number, code, account, kind, key, it.get("buyer", ""),
                     it.get("order_id", ""), scrub(it["summary"].replace("{code}", code)),
                     scrub(it.get("short", "").replace("{code}", code)),
                     scrub(it["details"].replace("{code}", code)), it.get("url", ""),
                     run_id, now, new_token()))
                self._event(code, "opened", kind, run_id)
                self._after_insert(code)
                out.append((code, True))
            if numbers:
                self._keep_meta("escalation_counter", first + len(numbers) - 1)
                if prefix:
                    self._keep_meta(f"escalation_counter:{prefix}",
                                    series_first + len(numbers) - 1)
        return out

    def _keep_meta(self, name: str, number: int) -> None:
        """Set the counter row ``name`` (inside the caller's transaction)."""
        self.db.execute("INSERT INTO meta (name, value) VALUES (?, ?)"
                        " ON CONFLICT(name) DO UPDATE SET value=excluded.value",
                        (name, str(number)))

    def _after_insert(self, code: str) -> None:
        """A seam for tests: runs between the insert and the commit of a new escalation."""

    def escalation(self, code: str) -> dict[str, Any] | None:
        """The escalation ``code`` (None when the ledger has no such code)."""
        row = self.db.execute("SELECT * FROM escalations WHERE code=?", (code,)).fetchone()
        return dict(row) if row else None

    def keep_series_counters(self) -> dict[str, int]:
        """Write every series' number as far as anything remembers (``series_floor``
        included) into the ledger's own counter rows: a ledger made anew goes on from
        there. Returns them."""
        counters = self.series_counters()
        with self._write(immediate=True):
            self._lock_counter()
            for prefix, number in counters.items():
                self._keep_meta(f"escalation_counter:{prefix}", number)
        return counters

    def series_codes(self, bare: str) -> list[str]:
        """The codes of every account's series that end in ``bare`` (B004: ACME-B004,
        BH-B004): what a code typed without its prefix may have meant."""
        return [str(r["code"]) for r in self.db.execute(
            "SELECT code FROM escalations WHERE code LIKE ? ORDER BY id", (f"%-{bare}",))]

    def answer_token(self, code: str) -> str:
        """The answer token of ``code`` ("" for no such code); an escalation from before
        tokens gets one now."""
        row = self.db.execute("SELECT token FROM escalations WHERE code=?", (code,)).fetchone()
        if row is None:
            return ""
        if row["token"]:
            return str(row["token"])
        token = new_token()
        self.db.execute("UPDATE escalations SET token=? WHERE code=? AND token IS NULL",
                        (token, code))
        return self.answer_token(code)

    def escalations(self, account: str | None, *, unnotified: bool = False,
                    states: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """The escalations of ``account`` (None: every account), in code order; only the
        untold ones with ``unnotified``, only those in ``states`` when given."""
        sql = "SELECT * FROM escalations WHERE (? IS NULL OR account=?)"
        args: tuple[Any, ...] = (account, account)
        if unnotified:
            sql += " AND notified_at IS NULL"
        if states is not None:
            sql += f" AND status IN ({','.join('?' * len(states))})"
            args += tuple(states)
        return [dict(r) for r in self.db.execute(sql + " ORDER BY id", args)]

    def mark_notified(self, code: str, run_id: str | None = None) -> None:
        """The owner got the first text: the one place an escalation goes open -> notified."""
        cur = self.db.execute("UPDATE escalations SET notified_at=?, status=CASE WHEN"
                              " status='open' THEN 'notified' ELSE status END WHERE code=?"
                              " AND notified_at IS NULL", (now_iso(), code))
        if cur.rowcount == 1:
            self._event(code, "notified", "", run_id)

    def mark_notified_many(self, codes: list[str], run_id: str | None = None) -> None:
        """:meth:`mark_notified` for many codes (a digest text) in one transaction."""
        with self._write():
            for code in codes:
                self.mark_notified(code, run_id)

    def mark_reminded(self, code: str, at: str, run_id: str | None = None) -> bool:
        """The reminder reached the owner at ``at``: notified -> reminded (once)."""
        return self._advance(code, "notified", "reminded", at, run_id)

    def mark_escalated_further(self, code: str, at: str, run_id: str | None = None) -> bool:
        """Every fallback channel has it, at ``at``: reminded -> escalated_further (once)."""
        return self._advance(code, "reminded", "escalated_further", at, run_id)

    def _advance(self, code: str, before: str, after: str, at: str,
                 run_id: str | None = None) -> bool:
        """Move ``code`` from ``before`` to ``after`` at ``at``; False when it was not in
        ``before`` (already moved, or never there)."""
        cur = self.db.execute(f"UPDATE escalations SET status=?, {after}_at=? WHERE code=?"
                              " AND status=?", (after, at, code, before))
        if cur.rowcount == 1:
            self._event(code, after, "", run_id, at=at)
        return cur.rowcount == 1

    # --- history -----------------------------------------------------------------------
    def _event(self, code: str, event: str, detail: str = "", run_id: str | None = None,
               *, at: str | None = None) -> None:
        """Add one line to ``code``'s history (at ``at``, or now)."""
        self.db.execute("INSERT INTO escalation_events (code, at, event, detail, run_id)"
                        " VALUES (?,?,?,?,?)", (code, at or now_iso(), event, scrub(detail),
                                                run_id))

    def event(self, code: str, event: str, detail: str = "", run_id: str | None = None) -> None:
        """Note something that happened to escalation ``code`` (its history)."""
        self._event(code, event, detail, run_id)

    def events(self, code: str | None = None, *, run_id: str | None = None
               ) -> list[dict[str, Any]]:
        """The history of one escalation, or every event one run wrote, oldest first."""
        rows = self.db.execute(
            "SELECT * FROM escalation_events WHERE (? IS NULL OR code=?) AND (? IS NULL OR"
            " run_id=?) ORDER BY id", (code, code, run_id, run_id))
        return [dict(r) for r in rows]

    # --- the owner's answers -----------------------------------------------------------
    def record_answer(self, code: str, text: str, *, via: str, by: str, ref: str = "",
                      final: bool = False, run_id: str | None = None) -> dict[str, Any]:
        """Keep the owner's answer to ``code`` (replacing one not yet delivered) and put the
        escalation in ``answered``, or ``closed`` when nothing is to be delivered
        (``final``). The caller has checked the code may take an answer; the update is
        conditional all the same, so two answers racing cannot both win. Returns the row."""
        at = now_iso()
        state = "closed" if final else "answered"
        with self._write(immediate=True):
            cur = self.db.execute(
                "UPDATE escalations SET answer=?, answer_via=?, answer_by=?, answer_ref=?,"
                " answered_at=?, status=?, closed_at=CASE WHEN ?='closed' THEN ? ELSE"
                " closed_at END, delivery_state='', delivery_error='', delivery_attempts='0'"
                " WHERE code=? AND status NOT IN ('delivered','closed','expired')"
                " AND COALESCE(delivery_state,'') NOT IN ('sending','done')",
                (scrub(text), via, scrub(by), ref, at, state, state, at, code))
            if cur.rowcount != 1:
                raise ValueError(f"escalation {code} cannot take an answer now")
            self._event(code, "answered", f"via {via} by {by}", run_id, at=at)
            if final:
                self._event(code, "closed", "acknowledged", run_id, at=at)
        return dict(self.escalation(code) or {})

    def answered_waiting(self, account: str, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
        """Answered escalations of ``kinds`` whose answer is still to be delivered (not
        refused: a refused answer waits for the owner's next one)."""
        sql = ("SELECT * FROM escalations WHERE account=? AND status='answered' AND"
               " COALESCE(delivery_state,'') != 'refused' AND kind IN"
               f" ({','.join('?' * len(kinds))}) ORDER BY id")
        return [dict(r) for r in self.db.execute(sql, (account, *kinds))]

    def delivery(self, code: str, state: str, error: str = "",
                 run_id: str | None = None) -> None:
        """Note a delivery step of ``code``'s answer: "sending" (before it leaves, counted
        as an attempt), "failed" or "refused" (with why), "done" (then the escalation is
        ``delivered``, or ``closed`` for an email whose original is marked read)."""
        at = now_iso()
        if state == "sending":
            # A TEXT column (added by a migration), counted as a number.
            self.db.execute("UPDATE escalations SET delivery_state='sending', delivery_attempts="
                            "CAST(COALESCE(CAST(delivery_attempts AS INTEGER), 0) + 1 AS TEXT)"
                            " WHERE code=?", (code,))
            return
        if state == "done":
            self.db.execute("UPDATE escalations SET delivery_state='done', delivery_error='',"
                            " status='delivered', delivered_at=? WHERE code=?", (at, code))
            self._event(code, "delivered", error, run_id, at=at)
            return
        self.db.execute("UPDATE escalations SET delivery_state=?, delivery_error=? WHERE code=?",
                        (state, scrub(error), code))
        self._event(code, f"delivery_{state}", error, run_id, at=at)

    def close_escalation(self, code: str, why: str, run_id: str | None = None) -> bool:
        """Close ``code`` (delivered and done with, or no longer needed)."""
        at = now_iso()
        cur = self.db.execute("UPDATE escalations SET status='closed', closed_at=? WHERE"
                              " code=? AND status NOT IN ('closed','expired')", (at, code))
        if cur.rowcount == 1:
            self._event(code, "closed", why, run_id, at=at)
        return cur.rowcount == 1

    def expire(self, code: str, why: str, run_id: str | None = None) -> bool:
        """``code`` no longer needs the owner (a finding that stopped being true)."""
        at = now_iso()
        cur = self.db.execute("UPDATE escalations SET status='expired', expired_at=? WHERE"
                              " code=? AND status != 'expired'", (at, code))
        if cur.rowcount == 1:
            self._event(code, "expired", why, run_id, at=at)
        return cur.rowcount == 1
