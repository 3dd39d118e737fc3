"""The console's core: its state, who is signed in, what each role may do, CSRF tokens,
and rendering with autoescaped templates.

Sessions live in this process's memory (a random token in an HttpOnly, SameSite=Strict
cookie, Secure when ``console.https``): restarting the console signs everyone out, and no
secret key has to be kept anywhere. Every form carries the session's CSRF token; a POST
without it is refused. The sign-in form, shown before there is a session, carries a token
of its own: a random value in the form and, signed with a key this process draws at
start, in a cookie sent only to ``/login``; a sign-in whose form and cookie do not agree is
refused before the password is looked at. Passwords are checked against Argon2 hashes
from the configuration; sign-in attempts are limited per user name and per client address.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from rpa.config import ROLES, Config
from rpa.ledger import LedgerStore
from rpa.run import storage

COOKIE = "rpa_console"
CSRF_FIELD = "csrf_token"
# The sign-in form's own token (before there is a session), sent only to /login.
SIGNIN_COOKIE = "rpa_console_signin"
SIGNIN_PATH = "/login"
# Sign-in attempts: at most this many failures per window, per user name and per address.
LOGIN_FAILURES = 5
LOGIN_WINDOW_S = 300.0

_hasher = PasswordHasher()
# Checked against when the user name is unknown, so that the answer takes as long.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An Argon2 hash of ``password`` for the configuration (``rpa console add-user``)."""
    if len(password) < 10:
        raise ValueError("a console password needs at least 10 characters")
    return _hasher.hash(password)


def password_ok(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def same_text(a: str, b: str) -> bool:
    """``a == b`` in a time that does not tell where they differ (any characters; the
    standard library's comparison takes ASCII text only)."""
    return hmac.compare_digest(a.encode(), b.encode())


def may(role: str, needed: str) -> bool:
    """Whether ``role`` may do what ``needed`` may (viewer < va < owner)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


@dataclass
class Session:
    token: str
    user: str
    role: str
    csrf: str
    expires: float


@dataclass
class LoginLimiter:
    """Failed sign-ins per key (a user name, an address) in a sliding window."""

    limit: int = LOGIN_FAILURES
    window_s: float = LOGIN_WINDOW_S
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def blocked(self, *keys: str) -> float:
        """Seconds to wait before another attempt for any of ``keys`` (0: go ahead)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._failures.get(key)
                if not times:
                    continue
                while times and now - times[0] > self.window_s:
                    times.popleft()
                if len(times) >= self.limit:
                    wait = max(wait, self.window_s - (now - times[0]))
        return wait

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)

    def cleared(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


@dataclass
class Console:
    """Everything the pages share: the configuration, where runs and the ledger are, the
    sessions, the sign-in limiter, the templates, and the runs started from the console."""

    config: Config
    sessions: dict[str, Session] = field(default_factory=dict)
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    # Extra state the page modules keep (the run-now registry, ...), by name.
    extras: dict[str, Any] = field(default_factory=dict)
    # Signs the sign-in form's cookie; drawn anew at each start, like the sessions.
    signin_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def recordings(self) -> Path:
        return Path(self.config.paths.recordings_dir).resolve()

    @property
    def state_dir(self) -> Path:
        return Path(self.config.paths.state_dir).resolve()

    def ledger(self) -> LedgerStore | None:
        """The ledger, or None when no run has made the SQLite file yet (never created
        here; a PostgreSQL ledger is always there)."""
        return storage.existing(storage.ledger_place(self.config))

    def audit(self, user: str, action: str, detail: str = "", account: str = "") -> None:
        ledger = self.ledger()
        if ledger is None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            ledger = storage.open_ledger(storage.ledger_place(self.config))
        try:
            ledger.audit(user, action, detail, account)
        finally:
            ledger.close()

    # --- sessions ----------------------------------------------------------------------
    def sign_in(self, user: str, password: str, address: str) -> tuple[Session | None, str]:
        """A new session for ``user``, or None and why not (rate limit, wrong password)."""
        keys = (f"user:{user.lower()}", f"addr:{address}")
        wait = self.limiter.blocked(*keys)
        if wait > 0:
            return None, f"too many failed sign-ins; try again in {int(wait) + 1} seconds"
        found = next((u for u in self.config.console.users
                      if same_text(u.name.lower(), user.lower())), None)
        ok = password_ok(found.password_hash if found else _DUMMY_HASH, password)
        if found is None or not ok:
            self.limiter.failed(*keys)
            return None, "wrong user name or password"
        self.limiter.cleared(*keys)
        session = Session(token=secrets.token_urlsafe(32), user=found.name, role=found.role,
                          csrf=secrets.token_urlsafe(32),
                          expires=time.time() + self.config.console.session_hours * 3600)
        with self._lock:
            self.sessions[session.token] = session
        return session, ""

    def session(self, request: Request) -> Session | None:
        token = request.cookies.get(COOKIE, "")
        if not token:
            return None
        with self._lock:
            found = self.sessions.get(token)
            if found is not None and found.expires < time.time():
                del self.sessions[token]
                found = None
        return found

    def sign_out(self, request: Request) -> None:
        with self._lock:
            self.sessions.pop(request.cookies.get(COOKIE, ""), None)

    def set_cookie(self, response: Response, session: Session) -> None:
        response.set_cookie(COOKIE, session.token, httponly=True, samesite="strict",
                            secure=self.config.console.https, path="/",
                            max_age=int(self.config.console.session_hours * 3600))

    # --- the sign-in form's token ------------------------------------------------------
    def _signature(self, value: str) -> str:
        return hmac.new(self.signin_key, value.encode(), "sha256").hexdigest()

    def _signin_value(self, request: Request) -> str:
        """The random value of the request's sign-in cookie, or '' when it has none that
        this process signed."""
        value, _, signature = request.cookies.get(SIGNIN_COOKIE, "").rpartition(".")
        if not value or not same_text(signature, self._signature(value)):
            return ""
        return value

    def signin_token(self, request: Request) -> tuple[str, str]:
        """The token for the sign-in form, and the cookie to set with it ('' when the
        request's cookie already holds it: a second tab keeps the first one's)."""
        value = self._signin_value(request)
        if value:
            return value, ""
        value = secrets.token_urlsafe(32)
        return value, f"{value}.{self._signature(value)}"

    def signin_token_ok(self, request: Request, token: str) -> bool:
        """Whether the sign-in form's ``token`` is the one its cookie holds, signed here."""
        value = self._signin_value(request)
        return bool(value and token) and same_text(token, value)

    def set_signin_cookie(self, response: Response, cookie: str) -> None:
        response.set_cookie(SIGNIN_COOKIE, cookie, httponly=True, samesite="strict",
                            secure=self.config.console.https, path=SIGNIN_PATH)

    def clear_signin_cookie(self, response: Response) -> None:
        response.delete_cookie(SIGNIN_COOKIE, path=SIGNIN_PATH, httponly=True,
                               samesite="strict", secure=self.config.console.https)


def console_of(request: Request) -> Console:
    return request.app.state.console  # type: ignore[no-any-return]


class SignInNeeded(Exception):
    """The page needs a signed-in user: the handler redirects to the sign-in page."""


def require(request: Request, role: str = "viewer") -> Session:
    """The signed-in session, allowed to do what ``role`` may; else the sign-in page
    (not signed in) or 403 (signed in, role too low)."""
    session = console_of(request).session(request)
    if session is None:
        raise SignInNeeded()
    if not may(session.role, role):
        raise HTTPException(403, f"this needs the role '{role}'; you are '{session.role}'")
    return session


async def checked_form(request: Request, session: Session) -> dict[str, str]:
    """The POSTed form, once its CSRF token matches the session's (else 403)."""
    form = await request.form()
    data = {k: v for k, v in form.items() if isinstance(v, str)}
    token = data.get(CSRF_FIELD, "")
    if not token or not same_text(token, session.csrf):
        raise HTTPException(403, "the form's security token is missing or stale; reload the "
                                 "page and try again")
    return data


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={_safe_next(target)}", status_code=303)


def _safe_next(target: str) -> str:
    """Only a path on this site (never ``//host`` or a scheme) may follow the sign-in."""
    from urllib.parse import quote

    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = "/"
    return quote(target, safe="/")


ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("rpa.console", "templates"),
    autoescape=jinja2.select_autoescape(["html", "xml", "svg"], default=True),
    undefined=jinja2.StrictUndefined,
)


def render(request: Request, template: str, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    """A page from ``templates/``, autoescaped, with the signed-in session (if any) and
    its CSRF token available as ``session`` and ``csrf``."""
    session = console_of(request).session(request)
    html = ENV.get_template(template).render(
        request=request, session=session, csrf=session.csrf if session else "",
        csrf_field=CSRF_FIELD, **context)
    return HTMLResponse(html, status_code=status_code,
                        headers={"Content-Security-Policy": CSP, "X-Frame-Options": "DENY",
                                 "Referrer-Policy": "same-origin",
                                 "X-Content-Type-Options": "nosniff"})


# Everything from this site only: no inline script, no other origin. Inline styles are
# allowed for the server-drawn SVG trend.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
