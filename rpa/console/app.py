"""The console's web app: sign-in, the runs, one run, health, and the recordings' files.

``create_app`` builds the Starlette app (the escalations and run-now pages come from their
own modules' ``ROUTES``); ``serve`` runs it with uvicorn. Every response carries the
security headers; a request naming another host, or changing state from another site's
page, is refused before any page sees it (``guard``); every page but the sign-in page needs
a signed-in user, and a file of the recordings folder is served only when its real path
lies inside that folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rpa.config import Config, ConsoleUserConfig
from rpa.console import escalations, guard, runnow
from rpa.console import runs as runpages
from rpa.console.web import (
    COOKIE,
    CSP,
    CSRF_FIELD,
    Console,
    SignInNeeded,
    checked_form,
    console_of,
    render,
    require,
    sign_in_redirect,
)

STATIC = Path(__file__).resolve().parent / "static"
STATIC_NAME = re.compile(r"^[A-Za-z0-9_-]+\.(css|js|svg|png)$")
# What the recordings folder may hand out, and how each is sent.
RECORDING_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                   ".zip": "application/zip", ".json": "application/json",
                   ".log": "text/plain; charset=utf-8", ".html": "text/html; charset=utf-8",
                   ".yml": "text/plain; charset=utf-8"}
DOWNLOADED = (".zip", ".log")
SECURITY_HEADERS = {"content-security-policy": CSP, "x-frame-options": "DENY",
                    "referrer-policy": "same-origin", "x-content-type-options": "nosniff"}


class SecurityHeaders:
    """Adds the security headers to every response that does not set them itself (files,
    redirects, errors, the other pages' responses), and keeps private pages out of
    caches."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = str(scope.get("path", "")).startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.decode("latin-1").lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name not in present:
                        headers.append((name.encode(), value.encode()))
                if "cache-control" not in present:
                    headers.append((b"cache-control",
                                    b"max-age=300" if is_static else b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


# --- sign-in ---------------------------------------------------------------------------

def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_form(request: Request, *, status_code: int = 200, target: str = "/",
                error: str = "", user: str = "") -> Response:
    """The sign-in page, its form carrying the sign-in token (and the cookie that holds it,
    when the browser has none yet)."""
    console = console_of(request)
    token, cookie = console.signin_token(request)
    response = render(request, "login.html", status_code=status_code, next=target,
                      error=error, user=user, signin_token=token)
    if cookie:
        console.set_signin_cookie(response, cookie)
    return response


async def login_page(request: Request) -> Response:
    if console_of(request).session(request) is not None:
        return RedirectResponse(_next_of(request.query_params.get("next", "/")), 303)
    return _login_form(request, target=_next_of(request.query_params.get("next", "/")))


async def login_post(request: Request) -> Response:
    console = console_of(request)
    form = await request.form()
    user = str(form.get("user", "")).strip()[:64]
    password = str(form.get("password", ""))
    target = _next_of(str(form.get("next", "/")))
    if not console.signin_token_ok(request, str(form.get(CSRF_FIELD, ""))):
        # Refused before the password is looked at, and not counted toward the sign-in
        # limit: such a request learns nothing of the password, so it is no guess, while
        # counting it would let any page a user opens lock a user name, or everyone behind
        # one address, out by posting forms with no token. A guesser that fetches the form
        # first comes through with a token and is counted as before.
        console.audit(user or "(empty)", "sign_in_refused",
                      f"from {_client(request)}: the sign-in form's token is missing or "
                      "stale")
        return _login_form(request, status_code=403, target=target, user=user,
                           error="This sign-in form had expired or was not the console's "
                                 "own; sign in again here.")
    session, why = console.sign_in(user, password, _client(request))
    if session is None:
        console.audit(user or "(empty)", "sign_in_failed",
                      f"from {_client(request)}: {why.split(';')[0]}")
        status = 429 if why.startswith("too many") else 401
        return _login_form(request, status_code=status, target=target, error=why,
                           user=user)
    console.audit(session.user, "sign_in", f"from {_client(request)}")
    response = RedirectResponse(target, status_code=303)
    console.set_cookie(response, session)
    console.clear_signin_cookie(response)  # the next sign-in gets a token of its own
    return response


def _next_of(target: str) -> str:
    """Where to go after signing in: a path on this site only (never ``//host``, a scheme,
    a backslash that some browsers read as a slash, or a control character)."""
    if (not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ord(c) < 32 or ord(c) == 127 for c in target)):
        return "/"
    return target


async def logout(request: Request) -> Response:
    session = require(request)
    await checked_form(request, session)
    console_of(request).sign_out(request)
    console_of(request).audit(session.user, "sign_out")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# --- pages -----------------------------------------------------------------------------

async def runs_page(request: Request) -> Response:
    require(request)
    console = console_of(request)
    status = request.query_params.get("status", "")
    account = request.query_params.get("account", "")
    all_rows = runpages.list_runs(console.recordings)
    rows = runpages.filtered(all_rows, status=status, account=account)
    trend = runpages.trend(rows, days=14, tz=console.config.timezone)
    return render(request, "runs.html", rows=rows, status=status, account=account,
                  statuses=runpages.STATUSES,
                  accounts=sorted({r.account for r in all_rows}
                                  | {a.name for a in console.config.accounts}),
                  trend=trend, chart=runpages.chart(trend))


async def run_page(request: Request) -> Response:
    require(request)
    page = runpages.run_detail(console_of(request).recordings,
                               str(request.path_params["run_id"]))
    if page is None:
        raise HTTPException(404, "no such run")
    return render(request, "run.html", run=page)


async def health_page(request: Request) -> Response:
    require(request)
    console = console_of(request)
    return render(request, "health.html", health=runpages.health(console))


# --- files -----------------------------------------------------------------------------

def recording_file(root: Path, rel: str) -> Path | None:
    """The file ``rel`` names inside the recordings folder ``root``, or None when it is not
    a plain relative path to a servable file whose real location lies inside ``root``
    (``..``, absolute paths, symlinks leading out, unknown kinds are all refused)."""
    if not rel or "\x00" in rel or "\\" in rel or rel.startswith("/"):
        return None
    parts = rel.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return None
    if Path(parts[-1]).suffix.lower() not in RECORDING_TYPES:
        return None
    base = root.resolve()
    try:
        target = (base / Path(*parts)).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target


async def recordings(request: Request) -> Response:
    require(request)
    rel = str(request.path_params["path"])
    path = recording_file(console_of(request).recordings, rel)
    if path is None:
        raise HTTPException(404, "no such file")
    suffix = path.suffix.lower()
    headers = {}
    if suffix == ".html":  # a report: shown, but never able to run script here
        headers["content-security-policy"] = CSP + "; sandbox"
    return FileResponse(path, media_type=RECORDING_TYPES[suffix], headers=headers,
                        filename=path.name if suffix in DOWNLOADED else None,
                        content_disposition_type="attachment")


async def static(request: Request) -> Response:
    name = str(request.path_params["file"])
    path = STATIC / name
    if not STATIC_NAME.match(name) or not path.is_file():
        raise HTTPException(404, "no such file")
    media = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
             ".svg": "image/svg+xml", ".png": "image/png"}[path.suffix]
    return FileResponse(path, media_type=media)


# --- errors ----------------------------------------------------------------------------

async def _signin_needed(request: Request, exc: Exception) -> Response:
    return sign_in_redirect(request)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    # An unexpected error's own words may name paths or values: the page says only that.
    detail = exc.detail if isinstance(exc, HTTPException) else "something went wrong"
    return render(request, "error.html", status_code=status, status=status, detail=detail)


def routes() -> list[BaseRoute]:
    """This module's routes, then those of the escalation and run-now pages. A GET never
    changes anything; whatever does is a POST, which ``guard.OriginCheck`` checks."""
    own: list[BaseRoute] = [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", runs_page, methods=["GET"]),
        Route("/runs/{run_id}", run_page, methods=["GET"]),
        Route("/health", health_page, methods=["GET"]),
        Route("/recordings/{path:path}", recordings, methods=["GET"]),
        Route("/static/{file}", static, methods=["GET"]),
    ]
    return [*own, *escalations.ROUTES, *runnow.ROUTES]


def create_app(cfg: Config, *, console: Console | None = None,
               host: str | None = None) -> Starlette:
    """The console app for ``cfg`` (``console``: state to share, e.g. with a test;
    ``host``: the address it listens on, when not ``console.host``)."""
    handlers: dict[Any, Any] = {SignInNeeded: _signin_needed, HTTPException: _http_error,
                                Exception: _http_error}
    allowed = guard.names(cfg.console, host or cfg.console.host)
    # Outermost first: every answer has the security headers, a foreign Host is refused
    # before the site of a request is looked at, and both before any page.
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(TrustedHostMiddleware, allowed_hosts=guard.host_headers(allowed),
                   www_redirect=False),
        Middleware(guard.OriginCheck, allowed=allowed, https=cfg.console.https,
                   listen_port=cfg.console.port),
    ]
    app = Starlette(routes=routes(), exception_handlers=handlers, middleware=middleware)
    app.state.console = console or Console(cfg)
    return app


def serve(cfg: Config, host: str | None = None, port: int | None = None) -> None:
    """Serve the console with uvicorn until stopped (Ctrl-C, SIGTERM)."""
    import uvicorn

    # uvicorn trusts X-Forwarded-For and X-Forwarded-Proto only from this machine: behind a
    # local reverse proxy the sign-in limit counts the real client's address, and a form
    # is checked against the scheme the proxy was reached by.
    uvicorn.run(create_app(cfg, host=host), host=host or cfg.console.host,
                port=port or cfg.console.port, log_level="info")


# --- users (``rpa console add-user``) --------------------------------------------------

def user_yaml(user: ConsoleUserConfig, indent: int = 4) -> str:
    """The ``console.users`` list entry for ``user`` (its hash; the password is never
    known here)."""
    pad = " " * indent
    return (f'{pad}- name: "{user.name}"\n{pad}  role: {user.role}\n'
            f'{pad}  password_hash: "{user.password_hash}"\n')


def add_user_to_file(path: Path, user: ConsoleUserConfig) -> None:
    """Add ``user`` to ``console.users`` in the YAML file at ``path`` by inserting lines,
    so that the file's comments and layout stay; the result must read back as the same
    configuration plus that user, else nothing is written (ConfigError says why)."""
    import os
    import tempfile

    import yaml

    from rpa.errors import ConfigError

    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read it: {err}", file=str(path)) from err
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", file=str(path))
    section = data.get("console")
    users = section.get("users") if isinstance(section, dict) else None
    if any(isinstance(u, dict) and str(u.get("name", "")).lower() == user.name.lower()
           for u in users or []):
        raise ConfigError(f"user '{user.name}' is already listed; remove that entry first "
                          "to give a new password or role", file=str(path),
                          key="console.users")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    top = next((i for i, line in enumerate(lines) if re.match(r"console:\s*(#.*)?$", line)),
               None)
    if section is None and top is None:
        new = [*lines, "\nconsole:\n", "  users:\n", user_yaml(user)]
    elif top is None:
        raise ConfigError("the console section is not written as a block; add the entry by "
                          "hand", file=str(path), key="console")
    else:
        end = next((i for i in range(top + 1, len(lines))
                    if lines[i].strip() and not lines[i].startswith((" ", "#", "\t"))),
                   len(lines))
        at = next((i for i in range(top + 1, end)
                   if re.match(r"\s+users:\s*(\[\s*\])?\s*(#.*)?$", lines[i])), None)
        if at is None:
            new = [*lines[:top + 1], "  users:\n", user_yaml(user), *lines[top + 1:]]
        else:
            indent = len(lines[at]) - len(lines[at].lstrip())
            lines[at] = " " * indent + "users:\n"
            item = next((lines[i] for i in range(at + 1, end) if lines[i].strip()), "")
            pad = len(item) - len(item.lstrip()) if item.lstrip().startswith("- ") \
                else indent + 2
            last = at
            for i in range(at + 1, end):  # the list runs on while lines are inside it
                body = lines[i].lstrip()
                if not body.strip() or body.startswith("#"):
                    continue
                depth = len(lines[i]) - len(body)
                if depth > indent or (depth == indent and body.startswith("- ")):
                    last = i
                else:
                    break
            new = [*lines[:last + 1], user_yaml(user, pad), *lines[last + 1:]]
    result = "".join(new)
    expected = dict(data)
    expected["console"] = {**(section if isinstance(section, dict) else {}),
                           "users": [*(users or []), {"name": user.name, "role": user.role,
                                                      "password_hash": user.password_hash}]}
    try:
        readback = yaml.safe_load(result)
    except yaml.YAMLError:
        readback = None
    if readback != expected:
        raise ConfigError("could not add the entry without changing anything else; paste "
                          "it under console.users by hand", file=str(path),
                          key="console.users")
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(result)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
