"""Runs: each run of the routine, its steps, what it observed, and its texts of the day.

A run alert (a step that failed, a page that needs a person, the day's mailing-list
digest) is texted once a day per account and cause: the run that claims it sends it, and a
later run that day sees it was delivered.
"""

from __future__ import annotations

import json
from typing import Any

from rpa.ledger.base import Records, now_iso
from rpa.redact import scrub, scrub_data


class Runs(Records):
    """The runs of the ledger: runs, steps, observations and run alerts."""

    def start_run(self, run_id: str, account: str, dry_run: bool, *,
                  worker: str | None = None, job: str | None = None) -> None:
        """A run of ``account`` begins now; ``worker`` names the worker that took it from
        the queue and ``job`` the queued job it is (None: run where it was asked for)."""
        self.db.execute("INSERT INTO runs (run_id, account, started_at, dry_run, worker, job)"
                        " VALUES (?,?,?,?,?,?)",
                        (run_id, account, now_iso(), int(dry_run), worker, job))

    def job_runs(self, job: str) -> list[dict[str, Any]]:
        """Every run of the queued ``job``, oldest first: a job handed out again (its
        worker vanished) has one run per attempt; one with ``finished_at`` is done."""
        rows = self.db.execute("SELECT * FROM runs WHERE job=? ORDER BY started_at", (job,))
        return [dict(r) for r in rows]

    def finish_run(self, run_id: str, status: str) -> None:
        """The run ends now, with ``status``."""
        self.db.execute("UPDATE runs SET finished_at=?, status=? WHERE run_id=?",
                        (now_iso(), status, run_id))

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The last ``limit`` runs, newest first."""
        rows = self.db.execute("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", (limit,))
        return [dict(r) for r in rows]

    def start_step(self, run_id: str, flow: str, name: str) -> int:
        """A step of ``flow`` begins now; returns its id for :meth:`finish_step`."""
        return self._insert_id(
            "INSERT INTO steps (run_id, flow, name, started_at) VALUES (?,?,?,?)",
            (run_id, flow, name, now_iso()))

    def finish_step(self, step_id: int, outcome: str, screenshot: str | None,
                    error: str | None) -> None:
        """The step ends now, with its outcome, its screenshot and its error (if any)."""
        self.db.execute(
            "UPDATE steps SET finished_at=?, outcome=?, screenshot=?, error=? WHERE id=?",
            (now_iso(), outcome, screenshot, scrub(error) if error else None, step_id))

    def observe(self, run_id: str, key: str, value: Any) -> None:
        """Keep what the run saw under ``key`` (any JSON value; a second one replaces it)."""
        self.db.execute(
            "INSERT INTO observations (run_id, key, value, observed_at) VALUES (?,?,?,?)"
            " ON CONFLICT (run_id, key) DO UPDATE SET value=excluded.value,"
            " observed_at=excluded.observed_at",
            (run_id, key, json.dumps(scrub_data(value)), now_iso()))

    def observations(self, run_id: str) -> dict[str, Any]:
        """Everything the run observed, by key."""
        rows = self.db.execute("SELECT key, value FROM observations WHERE run_id=?", (run_id,))
        return {r["key"]: json.loads(r["value"]) for r in rows}

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """The run's steps, in the order they began."""
        rows = self.db.execute("SELECT * FROM steps WHERE run_id=? ORDER BY id", (run_id,))
        return [dict(r) for r in rows]

    def claim_run_alert(self, account: str, cause: str, day: str, run_id: str,
                        text: str) -> dict[str, Any] | None:
        """Claim today's text about ``cause`` for this run.

        Returns None when it is this run's to send (first of the day, or an earlier one
        that was not delivered), else the row of the run that already texted it.
        """
        # One statement: the claim is written unless a delivered one is there, with no
        # moment between the look and the write for another process to deliver it.
        cur = self.db.execute(
            "INSERT INTO run_alerts (account, cause, day, run_id, text, claimed_at, delivered)"
            " VALUES (?,?,?,?,?,?,0) ON CONFLICT (account, cause, day) DO UPDATE SET"
            " run_id=excluded.run_id, text=excluded.text, claimed_at=excluded.claimed_at"
            " WHERE run_alerts.delivered=0",
            (account, cause, day, run_id, scrub(text), now_iso()))
        if cur.rowcount == 1:
            return None
        row = self.db.execute(
            "SELECT * FROM run_alerts WHERE account=? AND cause=? AND day=?",
            (account, cause, day)).fetchone()
        return dict(row)

    def run_alert_sent(self, account: str, cause: str, day: str) -> None:
        """The text claimed for ``cause`` on ``day`` reached the owner."""
        self.db.execute("UPDATE run_alerts SET delivered=1 WHERE account=? AND cause=? AND day=?",
                        (account, cause, day))
