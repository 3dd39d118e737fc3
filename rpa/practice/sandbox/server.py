"""Run the sandbox on a loopback port in a background thread."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from types import TracebackType

import uvicorn

from rpa.practice.sandbox.app import create_app
from rpa.practice.sandbox.scenario import Scenario
from rpa.practice.sandbox.state import SandboxState

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0


class _Uvicorn(uvicorn.Server):
    """A uvicorn server that says when it is accepting connections."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()


class SandboxServer:
    """The sandbox Seller Central, served by uvicorn on ``host`` (a free port by default)."""

    def __init__(self, scenario: str | Path | Scenario = "healthy", host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.host = host
        self.port = port
        self._state = SandboxState(scenario)
        self.app = create_app(state=self._state)
        self._server: _Uvicorn | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def state(self) -> SandboxState:
        """The live in-process state (sessions, counters, faults, replies)."""
        return self._state

    @property
    def scenario(self) -> Scenario:
        """The scenario being served now (follows ``/__sandbox/reset``)."""
        return self._state.scenario

    @property
    def url(self) -> str:
        if self._socket is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> SandboxServer:
        """Serve in a daemon thread; returns once the port accepts connections."""
        if self.running:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(self.app, log_level="warning", access_log=False,
                                lifespan="off", timeout_graceful_shutdown=2)
        server = _Uvicorn(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                        name=f"sandbox-{self.port}", daemon=True)
        self._thread.start()
        if not server.ready.wait(START_TIMEOUT_S) or not server.started:
            self.stop()
            raise RuntimeError(f"the sandbox did not start on {self.host}:{self.port}")
        return self

    def stop(self) -> None:
        server, thread, sock = self._server, self._thread, self._socket
        if server is not None:
            server.should_exit = True
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_TIMEOUT_S)
        if sock is not None:
            sock.close()
        self._server = self._thread = None
        self._socket = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
