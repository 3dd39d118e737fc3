"""The run context: everything a flow gets, passed in as one object.

It owns the browser for the run (launched on first use), records steps with screenshots,
keeps observations, and sends owner alerts. There is no module-level state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from loguru import logger
from playwright.sync_api import Locator, Page

from rpa.browser import profile
from rpa.browser.chromium import BrowserSession, launch
from rpa.browser.selectors import Selectors
from rpa.config import AccountConfig, Config
from rpa.ledger import LedgerStore
from rpa.owner.notify import Notifier
from rpa.run import pagesnaps
from rpa.run.evidence import Evidence

MASK_KEYS = ("signin.password", "mfa.code", "challenge.cvf")


def utc_now() -> datetime:
    """The real time, UTC: the run's clock unless one is injected."""
    return datetime.now(timezone.utc)


@dataclass
class StepRecord:
    flow: str
    name: str
    started_at: str
    finished_at: str = ""
    outcome: str = "running"
    screenshot: str | None = None
    error: str | None = None
    extra_screenshots: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "flow"}


@dataclass
class RunContext:
    """One run of the bot for one account."""

    config: Config
    account: AccountConfig
    secrets: dict[str, str] = field(repr=False)
    selectors: Selectors
    ledger: LedgerStore
    notifier: Notifier
    evidence: Evidence
    run_id: str
    dry_run: bool = False
    headed: bool = False
    assist: bool = False
    flow_name: str = ""
    observations: dict[str, Any] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    session: BrowserSession | None = None
    # Why a sign-in failed after its password was typed; once set, the run signs in no more.
    signin_failed: str = ""
    on_step: Any = None
    # What a reader of the run should know (e.g. an unreadable browser state was replaced).
    warnings: list[str] = field(default_factory=list)
    # The time reminders go by (escalate.followups); tests give another.
    clock: Callable[[], datetime] = utc_now
    # What the command that started the run asks of its flows (rpa teach: key and page).
    params: dict[str, Any] = field(default_factory=dict)

    # --- browser ---------------------------------------------------------------------
    @property
    def page(self) -> Page:
        """The run's page; Chromium is launched on first use, once per run: on the
        account's persistent profile (``state/profiles/<account>/``) or, with
        ``browser.profile: storage_state``, with its saved state
        (``state/browser/<account>.json``)."""
        if self.session is None:
            state_dir, name = self.config.paths.state_dir, self.account.name
            persistent = self.config.browser.profile == "persistent"
            self.session = launch(self.config.browser, profile.state_file(state_dir, name),
                                  headed=self.headed,
                                  profile_dir=profile.profile_dir(state_dir, name)
                                  if persistent else None)
            self.warnings.extend(self.session.warnings)
            if self.config.browser.trace:
                self.evidence.start_trace(self.session.context,
                                          snapshots=self.config.browser.trace_snapshots)
        return self.session.page

    def masks(self, page: Page) -> list[Locator]:
        return [self.selectors.any_of(page, key) for key in MASK_KEYS if key in self.selectors]

    def secret(self, name: str) -> str:
        return self.secrets[name]

    # --- steps -----------------------------------------------------------------------
    def screenshot(self, rec: StepRecord) -> None:
        """The step's screenshot of the page as it is now (secret fields masked); a step
        taken with ``screenshot=False`` calls this at its decisive moment instead."""
        if self.session is not None:
            rec.screenshot = self.evidence.screenshot(
                self.session.page, f"{self.flow_name}-{rec.name}",
                self.masks(self.session.page))

    @contextmanager
    def step(self, name: str, *, screenshot: bool = True) -> Iterator[StepRecord]:
        """Record a step: timing, outcome, a screenshot after it, every page when it fails."""
        rec = StepRecord(self.flow_name, name, _now())
        self.steps.append(rec)
        step_id = self.ledger.start_step(self.run_id, self.flow_name, name)
        t0 = time.monotonic()
        if self.on_step:
            self.on_step("start", rec)
        try:
            yield rec
        except BaseException as err:
            rec.outcome = "failed"
            rec.error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            if self.session is not None:
                try:
                    url = self.session.page.url
                    rec.error += f" [url: {url}]"
                except Exception:  # noqa: BLE001
                    pass
                shots = self.evidence.screenshot_all(self.session.context,
                                                     f"{self.flow_name}-{name}-failed",
                                                     self.masks)
                rec.screenshot = shots[0] if shots else None
                rec.extra_screenshots = shots[1:]
                if pagesnaps.wanted(err):  # what the page was made of, for its selectors
                    pagesnaps.keep(self, f"{name} failed")
            raise
        else:
            if rec.outcome == "running":
                rec.outcome = "ok"
            if screenshot:
                self.screenshot(rec)
        finally:
            rec.finished_at = _now()
            rec.seconds = round(time.monotonic() - t0, 3)
            self.ledger.finish_step(step_id, rec.outcome, rec.screenshot, rec.error)
            if self.on_step:
                self.on_step("end", rec)
            logger.info("[{}] {} — {}", self.flow_name, name, rec.outcome)

    @contextmanager
    def private(self) -> Iterator[None]:
        """While secrets are typed or the session is saved: the trace is paused."""
        with self.evidence.private():
            yield

    def save_state(self) -> None:
        """Save the browser state for the next run, with the trace paused (it is the session)."""
        if self.session is not None:
            with self.private():
                self.session.save_state()

    # --- findings --------------------------------------------------------------------
    def observe(self, key: str, value: Any) -> None:
        self.observations[key] = value
        if isinstance(value, list) and len(value) > OBSERVED_ITEMS:
            # A big mailbox's emails: the ledger keeps the first ones and the count; every
            # one of them is in the run's emails.jsonl and in the emails table.
            value = {"first": value[:OBSERVED_ITEMS], "total": len(value)}
        self.ledger.observe(self.run_id, key, value)

    def alert(self, text: str, *, details: str | None = None) -> bool:
        """Text the owner (signed, short); ``details`` go to the details channel."""
        return self.notifier.sms(text, details=details)


OBSERVED_ITEMS = 500


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
