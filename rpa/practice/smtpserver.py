"""A throwaway SMTP server on loopback that keeps what it receives (aiosmtpd).

The tests and the demo send the bot's reply emails and email alerts to it, then look at
what arrived: the parsed messages and their envelopes. It can refuse the next DATA commands
with a chosen code (a greylisting 451, a 550), be stopped and started again on the same
port (a mail server down, then up), ask for a login, and speak TLS (implicit, or STARTTLS)
with a certificate the caller provides. Never used against a real account; imports nothing
of the bot it exercises.
"""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class _Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes


class _Controller(Controller):
    """aiosmtpd's controller, able to listen on port 0: the port the system chose is read
    from the bound socket before the controller's own readiness check connects to it."""

    def _trigger_server(self) -> None:
        server = getattr(self, "server", None)
        if not self.port and server is not None and server.sockets:
            self.port = int(server.sockets[0].getsockname()[1])
        super()._trigger_server()


class _Handler:
    """aiosmtpd handler: keeps each message or refuses it as the server was told."""

    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_DATA(self, server: SMTP, session: Session,  # noqa: N802 - aiosmtpd
                          envelope: Envelope) -> str:
        return self.owner._receive(envelope)


class SmtpServer:
    """An SMTP server on ``host`` (127.0.0.1) at ``port`` (0: a free one, known as ``.port``
    after :meth:`start`).

    ``users`` (name to password) makes it offer a login (AUTH PLAIN/LOGIN, also without TLS
    because it only listens on loopback); ``logins`` lists who logged in. ``tls`` makes it
    speak implicit TLS from the first byte; ``starttls`` offers STARTTLS with that context
    (both server-side ``ssl.SSLContext`` objects the caller loads a certificate into).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 users: dict[str, str] | None = None, tls: ssl.SSLContext | None = None,
                 starttls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.port = port
        self.users = dict(users or {})
        self.tls = tls
        self.starttls = starttls
        self._received: list[_Received] = []
        self._refusals: list[tuple[int, str]] = []
        self.refused = 0  # DATA commands refused so far
        self.logins: list[str] = []  # user names that logged in successfully
        self._cond = threading.Condition()
        self._controller: _Controller | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SmtpServer:
        """Listen; ``.port`` is the real port afterwards. Once stopped, starts again on the
        same port."""
        if self._controller is not None:
            return self
        kwargs: dict[str, Any] = {}
        if self.users:
            # Login is offered, not required: requiring it without TLS makes aiosmtpd warn,
            # and the tests check who logged in (``logins``) instead.
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        if self.starttls is not None:
            kwargs.update(tls_context=self.starttls)
        controller = _Controller(_Handler(self), hostname=self.host, port=self.port,
                                 ssl_context=self.tls, ready_timeout=10.0, **kwargs)
        controller.start()
        self.port = int(controller.port)
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening (what was received is kept)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ behaviour

    def refuse_next(self, n: int = 1, code: int = 451, text: str = "try again later") -> None:
        """Answer the next ``n`` DATA commands with ``code`` and ``text`` instead of
        accepting the message."""
        with self._cond:
            self._refusals.extend([(code, text)] * n)

    def _receive(self, envelope: Envelope) -> str:
        with self._cond:
            if self._refusals:
                code, text = self._refusals.pop(0)
                self.refused += 1
                self._cond.notify_all()
                return f"{code} {text}"
            content = envelope.original_content or envelope.content or b""
            raw = content if isinstance(content, bytes) else content.encode("utf-8")
            self._received.append(_Received(str(envelope.mail_from or ""),
                                            tuple(envelope.rcpt_tos), raw))
            self._cond.notify_all()
        return "250 OK message accepted"

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: object) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            if user in self.users and self.users[user] == password:
                with self._cond:
                    self.logins.append(user)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    # ------------------------------------------------------------------ what arrived

    def messages(self) -> list[EmailMessage]:
        """Every accepted message, parsed with the modern email policy, oldest first."""
        with self._cond:
            raws = [r.raw for r in self._received]
        out: list[EmailMessage] = []
        for raw in raws:
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            out.append(msg)
        return out

    def raw_messages(self) -> list[bytes]:
        """Every accepted message as the bytes that arrived."""
        with self._cond:
            return [r.raw for r in self._received]

    def envelopes(self) -> list[tuple[str, list[str]]]:
        """(MAIL FROM, RCPT TO addresses) of every accepted message, oldest first."""
        with self._cond:
            return [(r.mail_from, list(r.rcpt_tos)) for r in self._received]

    def wait_for(self, n: int, timeout: float = 10) -> bool:
        """Whether ``n`` messages have arrived within ``timeout`` seconds (woken by each
        arrival, no polling)."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._received) >= n, timeout)

    def clear(self) -> None:
        """Forget what arrived and any refusals still pending."""
        with self._cond:
            self._received.clear()
            self._refusals.clear()
