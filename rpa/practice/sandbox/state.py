"""The sandbox's live state: sessions, devices, thread statuses, counters and faults.

One object per server. Request handlers run on the server's event loop while tests read
the state from other threads, so every change goes through ``lock``.
"""

from __future__ import annotations

import fnmatch
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rpa.practice.sandbox.scenario import Account, Marketplace, Scenario, Thread, load_scenario

COUNTER_NAMES = (
    "signin_page_views",
    "password_posts",
    "otp_pages_shown",
    "otp_failures",
    "prompts_shown",
    "signins",
    "sessions_granted",
    "captcha_pages_shown",
    "challenge_pages_shown",
    "challenges_cleared",
    "account_chooser_shown",
    # Password posts from a browser whose localStorage still held the mark a signed-in
    # page left there: the browser kept its site storage.
    "stored_device_seen",
    "http500_served",
    "hangs_started",
    "requests",
    # Buyer-Seller Messaging: thread pages loaded, and the v3 app's data requests
    "thread_pages_served",
    "messaging_data_served",
)

FAULT_KEYS = ("captcha", "cvf", "otp_reject_once", "slow_ms", "http500", "hang", "times",
              "expire_session")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_token(nbytes: int = 18) -> str:
    return secrets.token_urlsafe(nbytes)


@dataclass
class Session:
    email: str
    merchant_id: str | None = None
    marketplace_id: str | None = None
    flash: str | None = None


@dataclass
class PendingSignIn:
    """A sign-in whose password was right and which now waits for its second step."""

    email: str
    return_to: str
    remember_me: bool
    device: str = "totp"  # where the one-time code goes (a device-choice page may change it)


@dataclass
class Faults:
    captcha: bool = False
    cvf: bool = False
    otp_reject_once: bool = False
    slow_ms: int = 0
    http500: dict[str, int] = field(default_factory=dict)
    # Requests to these paths never get an answer (until the faults are cleared or reset).
    hang: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"captcha": self.captcha, "cvf": self.cvf,
                "otp_reject_once": self.otp_reject_once, "slow_ms": self.slow_ms,
                "http500": dict(self.http500), "hang": dict(self.hang)}


@dataclass
class LiveThread:
    """A scenario thread plus what happened to it in this sandbox."""

    thread: Thread
    status: str
    messages: list[dict[str, str]]
    closed_at: str | None = None  # when this sandbox recorded a reply or "no response needed"

    @property
    def thread_id(self) -> str:
        return self.thread.thread_id

    @property
    def needs_response(self) -> bool:
        return self.status == "response_needed"

    def latest_buyer_text(self) -> str:
        for msg in reversed(self.messages):
            if msg["from"] == "buyer":
                return msg["text"]
        return ""


def _live_threads(scenario: Scenario) -> list[LiveThread]:
    threads = sorted(scenario.threads, key=lambda t: t.received)
    return [
        LiveThread(thread=t, status=t.status,
                   messages=[{"from": m.sender, "text": m.text,
                              "at": m.at.isoformat(timespec="minutes")} for m in t.messages])
        for t in threads
    ]


class SandboxState:
    """Everything that changes while the sandbox runs, reset by ``reset``."""

    def __init__(self, scenario: str | Path | Scenario = "healthy") -> None:
        self.lock = threading.RLock()
        self.scenario: Scenario
        self.scenario_name: str
        self.sessions: dict[str, Session] = {}
        self.remember_tokens: dict[str, str] = {}
        # What signed-in pages leave in the browser's localStorage (as Amazon's scripts
        # leave their device data), and the sign-in form posts back.
        self.storage_mark = ""
        # What the last password post carried as device data (its localStorage mark).
        self.device_data = ""
        # Tokens of challenges this browser has passed (the WAF token, a wall's click).
        self.challenge_tokens: set[str] = set()
        self.pending: dict[str, PendingSignIn] = {}
        self.counters: dict[str, int] = {}
        self.replies: list[dict[str, str]] = []
        self.no_response: list[dict[str, str]] = []
        # Every request that could change the seller's data (a POST to a page after
        # sign-in), whether or not it did: what a read-only visit must leave empty.
        self.writes: list[dict[str, str]] = []
        self.faults = Faults()
        # Bumped whenever faults are cleared: requests held by a ``hang`` fault let go.
        self.fault_generation = 0
        self.threads: list[LiveThread] = []
        self.reset(scenario)

    def reset(self, scenario: str | Path | Scenario | None = None) -> None:
        """Fresh state; with ``scenario`` given, switch to it first (may raise ValueError)."""
        loaded = self.scenario if scenario is None else (
            scenario if isinstance(scenario, Scenario) else load_scenario(scenario))
        with self.lock:
            self.scenario = loaded
            self.scenario_name = loaded.name
            self.sessions = {}
            self.remember_tokens = {}
            self.storage_mark = new_token(9)
            self.device_data = ""
            self.challenge_tokens = set()
            self.pending = {}
            self.counters = dict.fromkeys(COUNTER_NAMES, 0)
            self.replies = []
            self.no_response = []
            self.writes = []
            self.faults = Faults()
            self.fault_generation += 1
            self.threads = _live_threads(loaded)

    def bump(self, name: str, by: int = 1) -> None:
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + by

    def note_device_data(self, value: str) -> None:
        """A password post's device data: counted when it is the mark the signed-in pages
        leave in localStorage."""
        with self.lock:
            self.device_data = value
            if value and value == self.storage_mark:
                self.counters["stored_device_seen"] += 1

    # -- derived numbers -------------------------------------------------------------

    @property
    def unshipped(self) -> int:
        return self.scenario.unshipped_count

    @property
    def buyer_messages(self) -> int:
        with self.lock:
            return sum(1 for t in self.threads if t.needs_response)

    def thread(self, thread_id: str) -> LiveThread | None:
        with self.lock:
            return next((t for t in self.threads if t.thread_id == thread_id), None)

    # -- accounts ----------------------------------------------------------------------

    @property
    def needs_picker(self) -> bool:
        return len(self.scenario.choices) > 1

    def find_choice(self, merchant_id: str, marketplace_id: str
                    ) -> tuple[Account, Marketplace] | None:
        for account, market in self.scenario.choices:
            if account.merchant_id == merchant_id and market.id == marketplace_id:
                return account, market
        return None

    def selection(self, session: Session) -> tuple[Account, Marketplace] | None:
        if session.merchant_id is None or session.marketplace_id is None:
            return None
        return self.find_choice(session.merchant_id, session.marketplace_id)

    # -- sessions and devices ----------------------------------------------------------

    def create_session(self, email: str, counter: str = "signins") -> str:
        """A new session for ``email`` (the only account chosen when there is one), counted
        under ``counter``."""
        token = new_token()
        session = Session(email=email)
        if not self.needs_picker:
            account, market = self.scenario.choices[0]
            session.merchant_id, session.marketplace_id = account.merchant_id, market.id
        with self.lock:
            self.sessions[token] = session
            self.counters[counter] += 1
        return token

    def grant_session(self) -> str:
        """A session for the scenario's seller as if signed in on an earlier day (a saved
        browser state), for practice and tests that are not about signing in; counted as
        ``sessions_granted``, never as a sign-in."""
        return self.create_session(self.scenario.seller.email, "sessions_granted")

    def session(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self.lock:
            return self.sessions.get(token)

    def end_session(self, token: str | None) -> None:
        with self.lock:
            if token:
                self.sessions.pop(token, None)

    def remember_device(self, email: str) -> str:
        token = new_token(24)
        with self.lock:
            self.remember_tokens[token] = email
        return token

    def device_remembered(self, token: str | None, email: str) -> bool:
        if not token:
            return False
        with self.lock:
            return self.remember_tokens.get(token, "").lower() == email.lower()

    def pass_challenge(self) -> str:
        """A token proving a challenge was passed (a cookie's value)."""
        token = new_token()
        with self.lock:
            self.challenge_tokens.add(token)
            self.counters["challenges_cleared"] += 1
        return token

    def challenge_passed(self, token: str | None) -> bool:
        with self.lock:
            return bool(token) and token in self.challenge_tokens

    def add_pending(self, pending: PendingSignIn) -> str:
        token = new_token()
        with self.lock:
            self.pending[token] = pending
        return token

    def pending_signin(self, token: str | None) -> PendingSignIn | None:
        if not token:
            return None
        with self.lock:
            return self.pending.get(token)

    def drop_pending(self, token: str | None) -> None:
        with self.lock:
            if token:
                self.pending.pop(token, None)

    def record_write(self, method: str, path: str) -> None:
        with self.lock:
            self.writes.append({"method": method, "path": path, "at": now_iso()})

    # -- buyer messages ----------------------------------------------------------------

    def reply(self, thread_id: str, text: str, via: str = "form") -> None:
        """Record a reply; ``via`` says how it came: ``form`` (a page's form, the legacy
        thread page) or ``app`` (the v3 app's request, the page staying as it is)."""
        at = now_iso()
        with self.lock:
            live = self.thread(thread_id)
            if live is None:
                raise KeyError(thread_id)
            live.messages.append({"from": "seller", "text": text, "at": at})
            live.status = "responded"
            live.closed_at = at
            self.replies.append({"thread_id": thread_id, "text": text, "at": at, "via": via})

    def mark_no_response(self, thread_id: str, via: str = "form") -> None:
        at = now_iso()
        with self.lock:
            live = self.thread(thread_id)
            if live is None:
                raise KeyError(thread_id)
            live.status = "no_response_needed"
            live.closed_at = at
            self.no_response.append({"thread_id": thread_id, "at": at, "via": via})

    # -- faults --------------------------------------------------------------------

    def apply_faults(self, data: dict[str, Any]) -> None:
        """Set faults from the control API's JSON; raises ValueError on bad input."""
        unknown = sorted(set(data) - set(FAULT_KEYS))
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(unknown)}; "
                             f"known: {', '.join(FAULT_KEYS)}")
        times = data.get("times", 1)
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise ValueError("times: expected a whole number of at least 1")
        paths = _fault_paths(data, "http500")
        hang_paths = _fault_paths(data, "hang")
        slow = data.get("slow_ms", self.faults.slow_ms)
        if not isinstance(slow, int) or isinstance(slow, bool) or not 0 <= slow <= 60000:
            raise ValueError("slow_ms: expected milliseconds from 0 to 60000")
        flags = {}
        for name in ("captcha", "cvf", "otp_reject_once", "expire_session"):
            if name in data:
                if not isinstance(data[name], bool):
                    raise ValueError(f"{name}: expected true or false")
                flags[name] = data[name]
        with self.lock:
            self.faults.slow_ms = slow
            for path in paths:
                self.faults.http500[path] = self.faults.http500.get(path, 0) + times
            for path in hang_paths:
                self.faults.hang[path] = self.faults.hang.get(path, 0) + times
            for name in ("captcha", "cvf", "otp_reject_once"):
                if name in flags:
                    setattr(self.faults, name, flags[name])
            if flags.get("expire_session"):
                self.sessions.clear()

    def clear_faults(self) -> None:
        with self.lock:
            self.faults = Faults()
            self.fault_generation += 1

    def take_http500(self, path: str) -> bool:
        """Whether this request gets an HTTP 500; a fault path may hold ``*`` wildcards
        (``/messaging/thread/*/reply``: the next reply to any thread fails)."""
        return self._take_path(self.faults.http500, path, "http500_served")

    def take_hang(self, path: str) -> bool:
        """Whether this request is to hang (never answered while the fault stands)."""
        return self._take_path(self.faults.hang, path, "hangs_started")

    def never_loads(self, path: str) -> bool:
        """Whether the scenario holds every request to this path (a page that never loads)."""
        if not any(fnmatch.fnmatchcase(path, p) for p in self.scenario.never_loads):
            return False
        self.bump("hangs_started")
        return True

    def _take_path(self, table: dict[str, int], path: str, counter: str) -> bool:
        with self.lock:
            key = path if path in table else next(
                (k for k in table if "*" in k and fnmatch.fnmatchcase(path, k)), None)
            if key is None:
                return False
            left = table[key]
            if left <= 1:
                del table[key]
            else:
                table[key] = left - 1
            self.counters[counter] += 1
            return True

    def take_flag(self, name: str) -> bool:
        """Consume a one-shot fault flag: True if it was set."""
        with self.lock:
            if getattr(self.faults, name):
                setattr(self.faults, name, False)
                return True
            return False

    # -- control API view ----------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "scenario": self.scenario_name,
                "layout": self.scenario.layout,
                "counters": dict(self.counters),
                "replies": [dict(r) for r in self.replies],
                "no_response": [dict(r) for r in self.no_response],
                "writes": [dict(r) for r in self.writes],
                "sessions": len(self.sessions),
                "unshipped": self.unshipped,
                "buyer_messages": self.buyer_messages,
                "overall": self.scenario.overall_label,
                "rating": self.scenario.rating,
                "threads": {t.thread_id: t.status for t in self.threads},
                "faults": self.faults.as_dict(),
                # The localStorage mark signed-in pages leave (key "sc-device").
                "storage_mark": self.storage_mark,
                "device_data": self.device_data,
                # What each live session works in: {"account", "marketplace"} or None.
                "selected": [{"account": c[0].name, "marketplace": c[1].name}
                             if (c := self.selection(s)) else None
                             for s in self.sessions.values()],
            }


def _fault_paths(data: dict[str, Any], name: str) -> list[str]:
    """The paths a path fault names: one path or a list, each starting with '/'."""
    if name not in data:
        return []
    raw = data[name]
    paths = [raw] if isinstance(raw, str) else raw
    if not isinstance(paths, list) or not all(
            isinstance(p, str) and p.startswith("/") for p in paths):
        raise ValueError(f"{name}: expected a path like '/home' or a list of paths")
    return list(paths)
