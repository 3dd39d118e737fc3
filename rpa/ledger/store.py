"""The ledger's storage interface: every operation the bot, the CLI and the console use.

:class:`LedgerStore` is what a ledger is, whatever keeps it: :class:`~rpa.ledger.Ledger`
keeps it in one SQLite file in the state folder; :class:`~rpa.ledger.PostgresLedger` in a
PostgreSQL database shared by many accounts and machines, with the same operations and the
same results.

Rows come back as plain dicts keyed by column name; times are ISO 8601 strings in UTC. Texts
that may hold secrets (replies, details, errors) are scrubbed before they are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from rpa.ledger.backups import KEEP_BACKUPS


class LedgerStore(Protocol):
    """The bot's memory between runs: what was seen, what was sent, what was escalated."""

    @property
    def series(self) -> Mapping[str, str]:
        """Each account's escalation code prefix by name (set by whoever opens the
        ledger for a run: rpa.ledger.escalations)."""
        ...

    @series.setter
    def series(self, value: Mapping[str, str]) -> None: ...

    @property
    def series_floor(self) -> Mapping[str, int]:
        """Each code prefix's highest number the last run.json recorded."""
        ...

    @series_floor.setter
    def series_floor(self, value: Mapping[str, int]) -> None: ...

    @property
    def where(self) -> str:
        """Where the ledger is kept, as messages name it: the SQLite file, or the
        PostgreSQL URL (which never holds the password)."""
        ...

    def close(self) -> None:
        """Let go of the storage; the ledger is not used after this."""
        ...

    def backup(self, keep: int = KEEP_BACKUPS, label: str = "") -> Path | None:
        """Copy the ledger into its backups, keeping the last ``keep``; returns the copy
        (None: the storage keeps its own, as a database server does)."""
        ...

    # --- runs: runs, steps, observations, run alerts (rpa.ledger.runs) ------------------
    def start_run(self, run_id: str, account: str, dry_run: bool, *,
                  worker: str | None = None, job: str | None = None) -> None:
        """A run of ``account`` begins now (``worker``/``job``: the queue's worker and job)."""
        ...

    def job_runs(self, job: str) -> list[dict[str, Any]]:
        """Every run of the queued ``job``, oldest first."""
        ...

    def finish_run(self, run_id: str, status: str) -> None:
        """The run ends now, with ``status``."""
        ...

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The last ``limit`` runs, newest first."""
        ...

    def start_step(self, run_id: str, flow: str, name: str) -> int:
        """A step of ``flow`` begins now; returns its id for :meth:`finish_step`."""
        ...

    def finish_step(self, step_id: int, outcome: str, screenshot: str | None,
                    error: str | None) -> None:
        """The step ends now, with its outcome, its screenshot and its error (if any)."""
        ...

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """The run's steps, in the order they began."""
        ...

    def observe(self, run_id: str, key: str, value: Any) -> None:
        """Keep what the run saw under ``key`` (any JSON value; a second one replaces it)."""
        ...

    def observations(self, run_id: str) -> dict[str, Any]:
        """Everything the run observed, by key."""
        ...

    def claim_run_alert(self, account: str, cause: str, day: str, run_id: str,
                        text: str) -> dict[str, Any] | None:
        """Claim today's text about ``cause`` for this run: None when it is this run's to
        send, else the row of the run that already texted it."""
        ...

    def run_alert_sent(self, account: str, cause: str, day: str) -> None:
        """The text claimed for ``cause`` on ``day`` reached the owner."""
        ...

    # --- replies: buyer threads (rpa.ledger.replies) ------------------------------------
    def thread(self, account: str, thread_id: str, message_key: str) -> dict[str, Any] | None:
        """The row of one buyer message (None when the bot has not met it)."""
        ...

    def threads(self, account: str, state: str | None = None) -> list[dict[str, Any]]:
        """The account's buyer messages (only those in ``state`` when given), oldest first."""
        ...

    def record_thread(self, account: str, thread_id: str, message_key: str, *, buyer: str,
                      order_id: str, url: str, decision: str, reply_text: str, state: str,
                      reason: str = "", escalation: str | None = None,
                      run_id: str | None = None) -> None:
        """Write what was decided for one buyer message, and its reply's state."""
        ...

    def set_thread_state(self, account: str, thread_id: str, message_key: str,
                         state: str) -> None:
        """Give one buyer message a new state."""
        ...

    def answered(self, account: str, *, order_id: str = "", buyer: str = "") -> bool:
        """Whether a reply was sent (or no response needed) to this buyer or order."""
        ...

    # --- escalations: codes, states, history, answers (rpa.ledger.escalations) ----------
    def escalation_counter(self) -> int:
        """The highest escalation number handed out, as far as anything remembers."""
        ...

    def series_counter(self, prefix: str) -> int:
        """The highest number of the code series of ``prefix`` (ACME-B004: 4)."""
        ...

    def series_counters(self) -> dict[str, int]:
        """Every code series' highest number by prefix."""
        ...

    def keep_series_counters(self) -> dict[str, int]:
        """Write every code series' number (``series_floor`` included) into the ledger's
        counter rows; returns them."""
        ...

    def series_codes(self, bare: str) -> list[str]:
        """The codes of every account's series that end in ``bare`` (B004: ACME-B004)."""
        ...

    def escalate(self, account: str, kind: str, source_key: str, *, summary: str,
                 details: str, short: str = "", buyer: str = "", order_id: str = "",
                 url: str = "", run_id: str | None = None) -> tuple[str, bool]:
        """Create (once) the escalation for ``source_key``; returns its code and if it is
        new. ``{code}`` in the texts is filled with the code; all or nothing is written."""
        ...

    def escalate_many(self, account: str, kind: str, items: list[dict[str, str]], *,
                      run_id: str | None = None) -> list[tuple[str, bool]]:
        """:meth:`escalate` for many matters of one kind, all written or none."""
        ...

    def escalation(self, code: str) -> dict[str, Any] | None:
        """The escalation ``code`` (None when the ledger has no such code)."""
        ...

    def answer_token(self, code: str) -> str:
        """The answer token of ``code`` ("" for no such code); one is made when missing."""
        ...

    def escalations(self, account: str | None, *, unnotified: bool = False,
                    states: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """The escalations of ``account`` (None: every account), in code order; only the
        untold ones with ``unnotified``, only those in ``states`` when given."""
        ...

    def mark_notified(self, code: str, run_id: str | None = None) -> None:
        """The owner got the first text: open -> notified."""
        ...

    def mark_notified_many(self, codes: list[str], run_id: str | None = None) -> None:
        """:meth:`mark_notified` for many codes (a digest text) at once."""
        ...

    def mark_reminded(self, code: str, at: str, run_id: str | None = None) -> bool:
        """The reminder reached the owner at ``at``: notified -> reminded (once)."""
        ...

    def mark_escalated_further(self, code: str, at: str, run_id: str | None = None) -> bool:
        """Every fallback channel has it, at ``at``: reminded -> escalated_further (once)."""
        ...

    def event(self, code: str, event: str, detail: str = "", run_id: str | None = None) -> None:
        """Note something that happened to escalation ``code`` (its history)."""
        ...

    def events(self, code: str | None = None, *, run_id: str | None = None
               ) -> list[dict[str, Any]]:
        """The history of one escalation, or every event one run wrote, oldest first."""
        ...

    def record_answer(self, code: str, text: str, *, via: str, by: str, ref: str = "",
                      final: bool = False, run_id: str | None = None) -> dict[str, Any]:
        """Keep the owner's answer to ``code``: ``answered``, or ``closed`` when nothing is
        to be delivered (``final``). Raises ValueError when it cannot take one now."""
        ...

    def answered_waiting(self, account: str, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
        """Answered escalations of ``kinds`` whose answer is still to be delivered."""
        ...

    def delivery(self, code: str, state: str, error: str = "",
                 run_id: str | None = None) -> None:
        """Note a delivery step of ``code``'s answer: "sending", "failed", "refused", "done"."""
        ...

    def close_escalation(self, code: str, why: str, run_id: str | None = None) -> bool:
        """Close ``code`` (delivered and done with, or no longer needed)."""
        ...

    def expire(self, code: str, why: str, run_id: str | None = None) -> bool:
        """``code`` no longer needs the owner (a finding that stopped being true)."""
        ...

    # --- outbox: owner texts per channel (rpa.ledger.outbox) ----------------------------
    def outbox(self, key: str, channel: str) -> dict[str, Any] | None:
        """The row of text ``key`` on ``channel`` (None when it was never sent there)."""
        ...

    def outbox_sending(self, key: str, channel: str, text: str, title: str,
                       run_id: str | None) -> bool:
        """Claim text ``key`` on ``channel`` before it leaves (counted as an attempt):
        False when it went out there already (not to be sent again)."""
        ...

    def outbox_done(self, key: str, channel: str, delivered: bool) -> None:
        """Text ``key`` left on ``channel``: "sent" when delivered, else "failed"."""
        ...

    def outbox_interrupted(self, run_id: str | None) -> list[dict[str, Any]]:
        """Texts an earlier run of this run's account began to send and never knew the
        fate of."""
        ...

    def outbox_unsent(self, limit: int = 100) -> list[dict[str, Any]]:
        """The last ``limit`` texts per channel not sent, newest first, with the account of
        the run that wrote each."""
        ...

    def deliveries(self, code: str) -> list[dict[str, Any]]:
        """Every channel delivery of the texts about escalation ``code``."""
        ...

    def record_alert(self, run_id: str | None, channel: str, text: str, delivered: bool) -> None:
        """Log a text the run sent on ``channel``, and whether it was delivered."""
        ...

    # --- emails: mail read and mail sent (rpa.ledger.emails) ----------------------------
    def email(self, account: str, message_id: str) -> dict[str, Any] | None:
        """The row of one email, by its Message-ID (None when the bot has not met it)."""
        ...

    def emails_known(self, account: str, message_ids: list[str]) -> dict[str, dict[str, Any]]:
        """:meth:`email` for many Message-IDs at once: the rows found, by Message-ID."""
        ...

    def record_emails(self, account: str, rows: list[dict[str, Any]],
                      run_id: str | None = None) -> None:
        """Write many emails at once, all or none."""
        ...

    def emails(self, account: str, state: str | None = None) -> list[dict[str, Any]]:
        """The account's emails (only those in ``state`` when given), first seen first."""
        ...

    def set_email_state(self, account: str, message_ids: list[str], state: str) -> None:
        """Give these emails a new state, all or none."""
        ...

    def remember_sent_mail(self, message_id: str, code: str, purpose: str) -> None:
        """A mail the bot sent about ``code``: a reply naming it is the owner's answer."""
        ...

    def alert_mail_id(self, about: str) -> str | None:
        """The Message-ID the alert email ``about`` (a text to an address) was first given."""
        ...

    def code_for_mail(self, message_ids: list[str]) -> str | None:
        """The escalation of the first of ``message_ids`` that is an alert the bot sent."""
        ...

    # --- audit: who did what through the console (rpa.ledger.audit) ---------------------
    def audit(self, user: str, action: str, detail: str = "", account: str = "") -> None:
        """Who did what through the console (an answer, a run started, a sign-in)."""
        ...

    def audit_log(self, limit: int = 200, action: str | None = None) -> list[dict[str, Any]]:
        """The last ``limit`` entries (only ``action`` when given), newest first."""
        ...
