"""A small HTTP receiver on loopback that keeps what is posted to it.

The demo points the owner's channels at it (Apprise ``json://``) so a VA can see the texts
the owner would have received; the tests use it as a real notification endpoint.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    body: dict[str, Any]

    @property
    def message(self) -> str:
        return str(self.body.get("message", ""))


@dataclass
class Receiver:
    """Serves on 127.0.0.1 on a free port; ``url(channel)`` gives an Apprise URL for it."""

    host: str = "127.0.0.1"
    items: list[Received] = field(default_factory=list)
    fail_next: int = 0
    _server: ThreadingHTTPServer | None = None
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> Receiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with owner._cond:
                    if owner.fail_next > 0:
                        owner.fail_next -= 1
                        self.send_response(503)
                        self.end_headers()
                        return
                    try:
                        body = json.loads(raw or b"{}")
                    except ValueError:
                        body = {"raw": raw.decode(errors="replace")}
                    owner.items.append(Received(self.path, body))
                    owner._cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        # A stop waits for the serving loop's next look at its flag: half a second at the
        # default interval, on every receiver's stop (a demo's end, each test's).
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, channel: str) -> str:
        return f"json://{self.host}:{self.port}/{channel}"

    def messages(self, channel: str | None = None) -> list[str]:
        with self._cond:
            return [i.message for i in self.items
                    if channel is None or i.path.strip("/") == channel]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.items) >= count, timeout)
            return list(self.items)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
