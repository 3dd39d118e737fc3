"""Sending one email over SMTP, safely: certificates checked, STARTTLS never skipped.

The bot sends little mail (a reply to an escalated email, the owner's alert by email), so
each :func:`send` opens its own connection and closes it. Every failure becomes an
:class:`SmtpError` that names the server (``host:port``) and what it answered, and says
whether the server refused this message for good (``permanent``: a 5xx to MAIL, RCPT or
DATA) or the same message may go through later. The password never reaches an error text:
it is registered with :mod:`rpa.redact` and masked, with the forms AUTH sends it in.
Imports only the standard library and the cross-cutting errors and redaction.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from rpa import redact
from rpa.errors import ApplicationError

SECURITY_MODES = ("tls", "starttls", "none")


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send: the server, its security and the sender.

    ``security``: ``tls`` (implicit TLS, usually port 465), ``starttls`` (plaintext
    greeting, then STARTTLS required, usually 587) or ``none`` (plaintext: to a loopback
    host only, unless ``allow_plaintext``). ``ca_file`` is a private CA (PEM) trusted
    besides the system's. ``user`` empty: no login.
    """

    host: str
    port: int
    security: str
    from_addr: str
    from_name: str = ""
    user: str = ""
    password: str = field(default="", repr=False)
    ca_file: str | None = None
    timeout_s: float = 30.0
    allow_plaintext: bool = False


class SmtpError(ApplicationError):
    """Sending failed. ``code`` is the server's reply code when it gave one; ``permanent``
    says the server refused this message for good (5xx to MAIL, RCPT or DATA), so sending
    the same message again would meet the same answer."""

    def __init__(self, message: str, *, code: int | None = None, permanent: bool = False,
                 retryable: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.permanent = permanent
        # Trying again within the run helps only when the server may answer otherwise.
        self.retryable = retryable and not permanent


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: ``localhost``, 127.0.0.0/8 or ::1 (a literal
    address, perhaps in brackets). No name is resolved."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":  # not "*.localhost": a resolver may send those anywhere
        return True
    try:
        addr = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback


def _id_domain(from_addr: str) -> str:
    """The domain of an address as it may stand in a Message-ID (ASCII, no odd characters)."""
    domain = from_addr.rsplit("@", 1)[1] if "@" in from_addr else ""
    domain = domain.strip().strip(".<>").lower()
    try:
        domain = domain.encode("idna").decode("ascii") if domain else ""
    except UnicodeError:
        domain = ""
    cleaned = "".join(ch for ch in domain if ch.isalnum() or ch in ".-")
    return cleaned or "localhost"


def new_message_id(from_addr: str) -> str:
    """A fresh Message-ID on the sender's domain, ``<time.random@domain>``: unique and
    unguessable (128 random bits), so a reply naming it can only come from someone who
    received the mail."""
    return f"<{int(time.time())}.{secrets.token_hex(16)}@{_id_domain(from_addr)}>"


def _where(settings: SmtpSettings) -> str:
    host = settings.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"SMTP {host}:{settings.port}"


def _secret_forms(settings: SmtpSettings) -> list[str]:
    """The password as it might come back in a server's answer: raw, and base64 as AUTH
    PLAIN and AUTH LOGIN send it."""
    pw = settings.password
    if not pw:
        return []
    raw = pw.encode("utf-8", "replace")
    user = settings.user.encode("utf-8", "replace")
    encoded = [base64.b64encode(raw), base64.b64encode(b"\0" + user + b"\0" + raw)]
    return [pw, *(e.decode("ascii") for e in encoded)]


def _mask(text: str, settings: SmtpSettings) -> str:
    for form in sorted(_secret_forms(settings), key=len, reverse=True):
        text = text.replace(form, redact.MASK)
    return redact.scrub(text)


def _said(reply: object) -> str:
    """A server's reply text on one line."""
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return " ".join(str(reply).split())


class _Failure(Exception):
    """A failure found while talking to the server, turned into an SmtpError by send."""

    def __init__(self, what: str, *, code: int | None = None, permanent: bool = False,
                 retryable: bool = True) -> None:
        super().__init__(what)
        self.what = what
        self.code = code
        self.permanent = permanent
        self.retryable = retryable


def _context(settings: SmtpSettings) -> ssl.SSLContext:
    # Certificate and host name checks stay on: create_default_context sets both. A private
    # CA is added to the system's rather than replacing them.
    ctx = ssl.create_default_context()
    if settings.ca_file:
        try:
            ctx.load_verify_locations(cafile=settings.ca_file)
        except (OSError, ssl.SSLError) as err:
            raise _Failure(f"cannot read the CA file {settings.ca_file}: {err}",
                           retryable=False) from err
    return ctx


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    """An open, greeted (and, asked for, encrypted) connection."""
    if settings.security == "tls":
        return smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout_s,
                                context=_context(settings))
    conn = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
    try:
        conn.ehlo()
        if settings.security == "starttls":
            if not conn.has_extn("starttls"):
                raise _Failure("the server does not offer STARTTLS; not sending in plaintext",
                               retryable=False)
            conn.starttls(context=_context(settings))
            conn.ehlo()
    except BaseException:
        conn.close()
        raise
    return conn


def _recipients_refused(err: smtplib.SMTPRecipientsRefused) -> _Failure:
    answers = [(int(code), _said(text)) for code, text in err.recipients.values()]
    shown = "; ".join(f"{addr}: {code} {_said(text)}"
                      for addr, (code, text) in err.recipients.items())
    code = answers[0][0] if answers else None
    permanent = bool(answers) and all(500 <= c < 600 for c, _ in answers)
    return _Failure(f"recipients refused ({shown})", code=code, permanent=permanent)


def _translate(err: BaseException) -> _Failure:
    """What went wrong, in words, with the server's code and whether it is for good."""
    if isinstance(err, _Failure):
        return err
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        return _recipients_refused(err)
    if isinstance(err, smtplib.SMTPAuthenticationError):
        # A refused login is about the account, not this message: not permanent, but trying
        # again in this run would meet the same answer.
        return _Failure(f"login refused: {err.smtp_code} {_said(err.smtp_error)}",
                        code=err.smtp_code, retryable=False)
    if isinstance(err, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)):
        stage = "sender refused" if isinstance(err, smtplib.SMTPSenderRefused) else \
            "message refused"
        code = err.smtp_code
        return _Failure(f"{stage}: {code} {_said(err.smtp_error)}", code=code,
                        permanent=500 <= code < 600)
    if isinstance(err, smtplib.SMTPResponseException):
        return _Failure(f"the server answered {err.smtp_code} {_said(err.smtp_error)}",
                        code=err.smtp_code)
    if isinstance(err, smtplib.SMTPNotSupportedError):
        return _Failure(f"not supported by the server: {err}", retryable=False)
    if isinstance(err, smtplib.SMTPServerDisconnected):
        return _Failure(f"the server closed the connection ({err or 'no reason given'})")
    if isinstance(err, smtplib.SMTPException):
        return _Failure(f"SMTP error: {err}")
    if isinstance(err, ssl.SSLCertVerificationError):
        return _Failure(f"certificate check failed: {err.verify_message or err.reason}")
    if isinstance(err, ssl.SSLError):
        return _Failure(f"TLS handshake failed: {err.reason or err}")
    if isinstance(err, ConnectionRefusedError):
        return _Failure("connection refused (is the server running?)")
    if isinstance(err, (socket.timeout, TimeoutError)):
        return _Failure("no answer in time (timed out)")
    if isinstance(err, socket.gaierror):
        return _Failure(f"cannot resolve the host name ({err.strerror or err})")
    if isinstance(err, OSError):
        return _Failure(f"connection failed: {err.strerror or err}")
    return _Failure(f"unexpected failure: {type(err).__name__}: {err}")


def _prepare(settings: SmtpSettings, msg: EmailMessage) -> str:
    """Fill in From, Date and Message-ID when missing; the Message-ID sent."""
    if not msg["From"]:
        msg["From"] = formataddr((settings.from_name, settings.from_addr))
    if not msg["Date"]:
        msg["Date"] = formatdate(localtime=True)
    if not msg["Message-ID"]:
        msg["Message-ID"] = new_message_id(settings.from_addr)
    return str(msg["Message-ID"]).strip()


def send(settings: SmtpSettings, msg: EmailMessage) -> str:
    """Send ``msg`` to its To, Cc and Bcc addresses; the Message-ID sent.

    The envelope sender is ``settings.from_addr``. Sets From, Date and Message-ID when
    missing. ``tls`` and ``starttls`` check the certificate and host name; a server that
    does not offer STARTTLS when asked is an error, never a fallback to plaintext; ``none``
    to a host that is not loopback is refused before connecting unless ``allow_plaintext``.
    Logs in only when ``user`` is set. Recipients refused while others were accepted do not
    fail the send (the message went out; sending again would duplicate it). Raises
    :class:`SmtpError` for every failure.
    """
    where = _where(settings)
    redact.register(settings.password)
    if settings.security not in SECURITY_MODES:
        raise SmtpError(f"{where}: unknown security {settings.security!r} (expected one of "
                        f"{', '.join(SECURITY_MODES)})", retryable=False)
    if settings.security == "none" and not is_loopback(settings.host) \
            and not settings.allow_plaintext:
        raise SmtpError(f"{where}: refusing to send in plaintext to a host that is not "
                        "loopback (use tls or starttls)", retryable=False)
    message_id = _prepare(settings, msg)
    conn: smtplib.SMTP | None = None
    try:
        conn = _connect(settings)
        if settings.user:
            conn.login(settings.user, settings.password)
        conn.send_message(msg, from_addr=settings.from_addr)
    except Exception as err:  # noqa: BLE001 - every failure becomes an SmtpError
        if conn is not None:
            conn.close()  # no QUIT: a broken or slow server would make us wait again
        failure = _translate(err)
        text = _mask(f"{where}: {failure.what}", settings)
        # A refused login's cause holds the server's answer to AUTH, which may echo the
        # credentials: it is left out; other causes stay visible.
        cause = None if isinstance(err, smtplib.SMTPAuthenticationError) else err
        raise SmtpError(text, code=failure.code, permanent=failure.permanent,
                        retryable=failure.retryable) from cause
    try:
        conn.quit()
    except Exception:  # noqa: BLE001 - the message is sent; a rude goodbye is fine
        conn.close()
    return message_id


def alert_message(to: list[str], subject: str, body: str, *, from_addr: str,
                  from_name: str = "", message_id: str) -> EmailMessage:
    """The owner's alert as an email with the bot's own ``message_id``, so that the owner's
    reply (its In-Reply-To) names the alert it answers. Plain UTF-8 text, one line of
    subject (a line break in it cannot add a header), marked as sent automatically so
    auto-responders leave it alone."""
    if not to:
        raise ValueError("an alert email needs at least one recipient")
    msg = EmailMessage()
    msg["From"] = formataddr((" ".join(from_name.split()), from_addr))
    msg["To"] = ", ".join(a.strip() for a in to)
    msg["Subject"] = " ".join(subject.split())
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    msg.set_content(text if text.endswith("\n") else text + "\n", charset="utf-8")
    return msg
