"""Mail that no person wrote: bounces, auto-replies and mailing lists.

The kind is read from the headers the triage fetches (Content-Type, Auto-Submitted,
X-Autoreply, X-Autorespond, Precedence, List-Id, List-Unsubscribe, Return-Path) and the
sender's address; a bounce's details (who did not get the mail, which mail, why) from the
delivery-status report in its body, or from the text when a server sends no report. Pure
and defensive like the rest of the mail reading: never raises.

The kinds exclude each other, in this order: a bounce (it often carries auto-reply
headers too), an auto-reply, a mailing list.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import Message

from rpa.mail.decoding import CONTROL_CHARS
from rpa.mail.headers import MailItem, decode_words

BOUNCE = "bounce"
AUTO_REPLY = "auto_reply"
MAILING_LIST = "mailing_list"
KINDS = (BOUNCE, AUTO_REPLY, MAILING_LIST)

_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon")
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliver(ed|able)\b|undelivered\s+mail\s+returned|delivery\s+status\s+"
    r"notification\s*\((failure|delay)\)|delivery\s+(has\s+)?failed|mail\s+delivery\s+"
    r"(failed|failure|subsystem)|returned\s+mail\b|failure\s+notice\b|"
    r"non-?delivery\s+report|unzustellbar|nicht\s+zustellbar|non\s+remis|"
    r"no\s+se\s+puede\s+entregar|non\s+recapitabile)", re.I)
_OUT_OF_OFFICE = re.compile(
    r"^\s*(out\s+of\s+(the\s+)?office\b|automatic\s+reply\b|auto(matic)?[-\s]?repl(y|ied)\b|"
    r"autoreply\b|auto[-\s]?response\b|vacation\s+(reply|response|notice)\b|"
    r"away\s+from\s+(the\s+)?office\b|abwesenheitsnotiz\b|automatische\s+antwort\b|"
    r"r[ée]ponse\s+automatique\b|absent\s+du\s+bureau\b|respuesta\s+autom[áa]tica\b|"
    r"fuera\s+de\s+la\s+oficina\b|risposta\s+automatica\b|fuori\s+ufficio\b|"
    r"automatisch\s+antwoord\b|afwezig\b)"
    # the phrase is the whole subject or its prefix ("Automatic reply: Pallet"), so a
    # person's "Out of office furniture order" or "Re: Automatic reply: ..." is not one
    r"\s*(:|-|–|\(|\[|$)", re.I)


def _first(item: MailItem, name: str) -> str:
    values = item.header_values(name)
    return values[0].strip() if values else ""


def _token(value: str) -> str:
    """The first token of a structured header value, lower-cased ("auto-replied; x" ->
    "auto-replied")."""
    return value.split(";", 1)[0].strip().strip("\"'").lower()


def _content_type(item: MailItem) -> tuple[str, str]:
    """(type/subtype, report-type) of the message, lower-cased."""
    value = _first(item, "content-type").lower()
    ctype = _token(value)
    m = re.search(r"report-type\s*=\s*\"?([\w.-]+)", value)
    return ctype, (m.group(1) if m else "")


def is_bounce(item: MailItem) -> bool:
    """A delivery report: ``multipart/report`` with delivery status, a mailer-daemon or
    postmaster sender, or an empty Return-Path (the null sender of every bounce) with a
    non-delivery subject."""
    ctype, report = _content_type(item)
    if ctype == "multipart/report" and report in ("delivery-status", "global-delivery-status"):
        return True
    local = item.from_addr.split("@", 1)[0].lower() if item.from_addr else ""
    if local in _DAEMONS:
        return True
    null_sender = _first(item, "return-path").replace(" ", "") in ("<>", "")
    return bool(item.header_values("return-path")) and null_sender \
        and bool(_BOUNCE_SUBJECT.match(item.subject))


def _auto_reply_marked(item: MailItem) -> bool:
    auto = _token(_first(item, "auto-submitted"))
    if auto == "auto-replied":
        return True
    if item.header_values("x-autoreply") or item.header_values("x-autorespond"):
        return True
    if _token(_first(item, "precedence")) == "auto_reply":
        return True
    ctype, report = _content_type(item)
    if ctype == "multipart/report" and report == "disposition-notification":
        return True  # a read receipt
    return bool(_OUT_OF_OFFICE.match(item.subject))


def is_auto_reply(item: MailItem) -> bool:
    """An answer a program sent for a person: ``Auto-Submitted: auto-replied``,
    ``X-Autoreply``, ``X-Autorespond``, ``Precedence: auto_reply``, a read receipt, or an
    out-of-office subject ("Out of office", "Automatic reply: ...", "Abwesenheitsnotiz").

    ``Auto-Submitted: auto-generated`` alone is not one: RFC 3834 gives it to notices a
    program starts on its own (an invoice reminder, an alert), which a person may need to
    read, so those are summarised like any other mail. Never a bounce.
    """
    return not is_bounce(item) and _auto_reply_marked(item)


def is_mailing_list(item: MailItem) -> bool:
    """Mail to a list or a newsletter: ``List-Id``, ``List-Unsubscribe`` or
    ``Precedence: bulk/list/junk``. Never a bounce or an auto-reply."""
    if is_bounce(item) or _auto_reply_marked(item):
        return False
    if item.header_values("list-id") or item.header_values("list-unsubscribe"):
        return True
    return _token(_first(item, "precedence")) in ("bulk", "list", "junk")


def kind_of(item: MailItem) -> str:
    """``bounce``, ``auto_reply``, ``mailing_list``, or "" for mail a person wrote."""
    if is_bounce(item):
        return BOUNCE
    if _auto_reply_marked(item):
        return AUTO_REPLY
    if is_mailing_list(item):
        return MAILING_LIST
    return ""


# --------------------------------------------------------------------------- bounces

@dataclass
class Bounce:
    """What a bounce says: the recipients that did not get the mail, its subject, why."""

    recipients: list[str] = field(default_factory=list)
    subject: str = ""
    reason: str = ""
    status: str = ""  # the enhanced status code, e.g. 5.1.1
    delayed: bool = False  # only delayed ("Action: delayed"), still being retried


# The enhanced status codes (RFC 3463) a seller meets, in words.
_STATUS_WORDS = {
    "1.1": "the address does not exist",
    "1.2": "the recipient's domain does not exist",
    "1.3": "the address is not valid",
    "1.6": "the recipient has moved",
    "1.10": "the recipient's domain accepts no mail",
    "2.1": "the mailbox is disabled",
    "2.2": "the mailbox is full",
    "2.3": "the email is too big for the mailbox",
    "3.4": "the email is too big",
    "4.1": "the recipient's server did not answer",
    "4.4": "the recipient's server could not be found",
    "4.7": "delivery took too long and was given up",
    "7.1": "the recipient's server refused it",
    "7.26": "the recipient's server refused it as unauthenticated",
}
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_ADDRESS = re.compile(r"<?([\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+)>?")


def _clean(value: str) -> str:
    return " ".join(CONTROL_CHARS.sub(" ", value).split())


def _reason_text(diagnostic: str) -> str:
    """The readable part of a Diagnostic-Code ("smtp; 550 5.1.1 <a@b>: User unknown" ->
    "User unknown")."""
    text = _clean(diagnostic)
    text = re.sub(r"^(smtp|x-postfix|x-unix|x-local)\s*;\s*", "", text, flags=re.I)
    text = re.sub(r"^\d{3}[-\s]+", "", text)
    text = _STATUS.sub("", text, count=1).strip()
    text = re.sub(r"^[#\-\s]*<[^>]*>\s*[:.]?\s*", "", text)
    text = re.sub(r"^[:\-\s]+", "", text)
    return text[:160].strip()


def status_words(status: str) -> str:
    """A status code (5.1.1) in words, or "" when it is not one we know."""
    m = _STATUS.search(status or "")
    if not m:
        return ""
    return _STATUS_WORDS.get(f"{m.group(2)}.{m.group(3)}", "")


def _header_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    if isinstance(payload, str):  # an unparsed report: read it as header blocks
        return [email.message_from_string(block.strip() + "\n")
                for block in re.split(r"\n\s*\n", payload.replace("\r\n", "\n"))
                if block.strip()]
    return []


def _original_subject(part: Message) -> str:
    if part.get_content_type() == "message/rfc822":
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, Message):
            return _clean(decode_words(str(inner.get("Subject", "") or "")))
        return ""
    text = part.get_payload(decode=True)
    if isinstance(text, bytes):
        headers = email.message_from_bytes(text.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0])
        return _clean(decode_words(str(headers.get("Subject", "") or "")))
    return ""


def _from_report(msg: Message, bounce: Bounce) -> None:
    actions: list[str] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            for block in _header_blocks(part):
                rcpt = str(block.get("Original-Recipient") or block.get("Final-Recipient")
                           or "")
                action = str(block.get("Action") or "").strip().lower()
                if not rcpt or action in ("delivered", "relayed", "expanded"):
                    continue
                actions.append(action)
                m = _ADDRESS.search(rcpt.split(";", 1)[-1])
                if m and m.group(1).lower() not in bounce.recipients:
                    bounce.recipients.append(m.group(1).lower())
                if not bounce.status:
                    found = _STATUS.search(str(block.get("Status") or ""))
                    bounce.status = found.group(0) if found else ""
                if not bounce.reason and block.get("Diagnostic-Code"):
                    bounce.reason = _reason_text(str(block.get("Diagnostic-Code")))
        elif ctype in ("message/rfc822", "text/rfc822-headers", "message/global",
                       "message/global-headers") and not bounce.subject:
            bounce.subject = _original_subject(part)
    bounce.delayed = bool(actions) and all(a == "delayed" for a in actions)


# What servers that send no report write in their text.
_TEXT_RECIPIENT = (
    re.compile(r"^\s*<([^>\s]+@[^>\s]+)>\s*(?:\(.*?\))?\s*:", re.M),  # Postfix
    re.compile(r"following\s+(?:address(?:\(es\))?|recipients?)\s+failed:?\s*\n\s*"
               r"<?([^\s<>]+@[^\s<>]+?)>?\s*$", re.I | re.M),  # Exim
    re.compile(r"(?:wasn't|was\s+not|couldn't\s+be|could\s+not\s+be)\s+delivered\s+to\s+"
               r"<?([^\s<>]+@[^\s<>]+?)>?(?=[\s,.;:]|$)", re.I),  # Gmail, Outlook
    re.compile(r"^\s*(?:original|final)-recipient:\s*(?:rfc822;)?\s*<?([^\s<>]+@[^\s<>]+?)>?"
               r"\s*$", re.I | re.M),
)
_TEXT_SUBJECT = re.compile(r"^\s*subject:\s*(.+)$", re.I | re.M)
_TEXT_REASON = re.compile(
    r"(?:said|reason|remote\s+server\s+returned|diagnostic-code)\s*:\s*(.+)$", re.I | re.M)


def _from_text(text: str, bounce: Bounce) -> None:
    if not bounce.recipients:
        for pattern in _TEXT_RECIPIENT:
            m = pattern.search(text)
            if m:
                bounce.recipients.append(m.group(1).strip(".,;:").lower())
                break
    if not bounce.subject:
        m = _TEXT_SUBJECT.search(text)
        bounce.subject = _clean(decode_words(m.group(1))) if m else ""
    if not bounce.status:
        m = _STATUS.search(text)
        bounce.status = m.group(0) if m else ""
    if not bounce.reason:
        m = _TEXT_REASON.search(text)
        bounce.reason = _reason_text(m.group(1)) if m else ""


def read_bounce(raw: bytes) -> Bounce:
    """What bounced, from a bounce's raw bytes (a cut-off message works too): the
    recipients from the delivery-status report, the subject from the returned message or
    its headers, and the reason from the diagnostic; servers that send no report are read
    from their text. Anything not found stays empty, never guessed."""
    bounce = Bounce()
    try:
        msg = email.message_from_bytes(raw or b"", policy=email.policy.compat32)
        _from_report(msg, bounce)
        texts: list[str] = []
        for part in msg.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    texts.append(payload.decode(part.get_content_charset() or "utf-8",
                                                "replace"))
            elif part.get_content_type() == "message/rfc822":
                break  # the returned mail's own text says nothing about the bounce
        _from_text("\n".join(texts), bounce)
    except Exception:  # noqa: BLE001 - a broken bounce: whatever was read so far
        pass
    bounce.subject = bounce.subject[:200]
    return bounce

