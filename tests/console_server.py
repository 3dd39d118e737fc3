"""A console served by uvicorn on a free loopback port in a thread, for the console tests.

``ConsoleServer().start(cfg)`` returns the URL; ``stop()`` ends it. ``user_entry`` makes a
``console.users`` entry (an Argon2 hash, as ``rpa console add-user`` writes it). The
``console_server`` fixture (module-scoped: one server per test module) stops whatever it
started when the module is done. ``launch_browser`` and ``sign_in`` are what every browser
test of the console does first; ``post_form`` posts a crafted form as a page of the console
would.
"""

from __future__ import annotations

import functools
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from rpa.config import Config
from rpa.console.app import create_app
from rpa.console.web import Console, hash_password

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SYSTEM_CHROMIUM = Path("/usr/bin/chromium")


def user_entry(name: str, role: str, password: str) -> dict[str, str]:
    """A ``console.users`` entry for ``name`` with ``role``, the password kept as a hash."""
    return {"name": name, "role": role, "password_hash": _hashed(password)}


@functools.cache
def _hashed(password: str) -> str:
    """One Argon2 hash per password for the worker's tests: a hash is 0.2 s of CPU, and a
    configuration of three users was made for every test of a file (a sign-in still checks
    the password against it, as the console does)."""
    return hash_password(password)


class _Uvicorn(uvicorn.Server):
    """A uvicorn server that says when it listens (or gave up trying)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()


class ConsoleServer:
    """One console app at a time, served on 127.0.0.1 and a port the system picks."""

    def __init__(self) -> None:
        self.url = ""
        self.console: Console | None = None
        self._server: _Uvicorn | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def start(self, cfg: Config, *, console: Console | None = None) -> str:
        """Serve a console for ``cfg`` (stopping one served before) and return its URL."""
        self.stop()
        self.console = console or Console(cfg)
        app = create_app(cfg, console=self.console)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._socket = sock
        server = _Uvicorn(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                        name="console-server", daemon=True)
        self._thread.start()
        if not server.ready.wait(START_TIMEOUT_S) or not server.started:
            self.stop()
            raise RuntimeError("the console server did not start")
        port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self.url = ""


@pytest.fixture(scope="module")
def console_server() -> Iterator[ConsoleServer]:
    """A console server for the module's tests; call ``start(cfg)`` to serve a config."""
    server = ConsoleServer()
    yield server
    server.stop()


def launch_browser(pw: Any) -> Any:
    """Headless Chromium as the suite launches it (the system one when there is one)."""
    return pw.chromium.launch(
        executable_path=str(SYSTEM_CHROMIUM) if SYSTEM_CHROMIUM.exists() else None,
        args=CHROMIUM_ARGS)


def sign_in(page: Any, url: str, user: str, password: str) -> None:
    """Sign in through the console's sign-in page and wait for the page it leads to."""
    page.goto(url + "/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def post_form(page: Any, target: str, form: dict[str, str]) -> Any:
    """A form POST to ``target`` from the browser context of ``page`` (its cookies), not
    followed, with the Origin a page of the console sends: Playwright's request client
    sends none, and the console refuses a POST without one whatever else it holds."""
    parts = urlsplit(target)
    return page.request.post(target, form=form, max_redirects=0,
                             headers={"Origin": f"{parts.scheme}://{parts.netloc}"})
