"""Owner alerts through Apprise: a short ``sms`` text, a ``details`` message, fallbacks.

Every text goes through an outbox in the ledger, one row per text and channel: a channel
that failed is sent again later without repeating the ones that delivered, and a text a
crash interrupted is sent once more by the next run (:meth:`Notifier.resend_interrupted`).

The seller wants texts short and signed: at most 160 characters (configurable) ending in
``-<VA initials>``. When a text cannot hold everything, it says so and points at the
details channel, which receives the whole story.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import apprise
from loguru import logger

from rpa.redact import scrub
from rpa.smtp import SmtpError, SmtpSettings, alert_message, new_message_id
from rpa.smtp import send as smtp_send

if TYPE_CHECKING:
    from rpa.ledger import LedgerStore

SMS_LIMIT = 160
# A channel address that is not an Apprise URL: the bot sends it as an email itself.
EMAIL_SCHEME = "email:"
# The escalation an outbox key is about ("escalation:E004", "reminder:E004", ...).
_KEY_CODE = re.compile(
    r"^(?:escalation|reminder|fallback|refused):((?:[A-Z][A-Z0-9]{0,4}-)?[A-Z]\d{3,5})\b")
DETAILS_LIMIT = 4000

# GSM 03.38: the basic set (one septet each) and the extension set (two: escape + char).
# A text with any other character is sent as UCS-2: 70 UTF-16 units a single text.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
# Characters often met that have a close GSM-7 stand-in.
_GSM7_STAND_INS = {
    "\u2026": "...", "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2022": "*", "\u00b4": "'",
    "\t": " ", "\u00a0": " ", "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i",
    "Œ": "OE", "œ": "oe", "Þ": "Th", "þ": "th", "ð": "d",
}


# Typographic punctuation the bot itself writes ("…" in a cut summary, curly quotes,
# dashes): counted as one GSM-7 character, as gateways with "smart encoding" send its
# stand-in; with ``transliterate`` the bot replaces it itself.
TYPOGRAPHIC = frozenset("\u2026\u2018\u2019\u201c\u201d\u2013\u2014")


def _gsm(ch: str) -> bool:
    return ch in GSM7_BASIC or ch in GSM7_EXTENSION or ch in TYPOGRAPHIC


def sms_encoding(text: str) -> str:
    """``gsm7`` when every character is in the GSM 03.38 sets (typographic punctuation
    counting as its stand-in), else ``ucs2``."""
    return "gsm7" if all(_gsm(ch) for ch in text) else "ucs2"


def sms_units(text: str) -> int:
    """The text's length as the network counts it: septets in GSM-7 (an extension
    character takes two), UTF-16 code units in UCS-2 (an emoji takes two)."""
    if sms_encoding(text) == "gsm7":
        return len(text) + sum(ch in GSM7_EXTENSION for ch in text)
    return len(text.encode("utf-16-le")) // 2


def sms_segments(text: str) -> int:
    """How many SMS segments the text takes: GSM-7 160 alone or 153 each when joined,
    UCS-2 70 alone or 67 each."""
    units = sms_units(text)
    single, part = (160, 153) if sms_encoding(text) == "gsm7" else (70, 67)
    return 1 if units <= single else -(-units // part)


def sms_room(limit: int, encoding: str) -> int:
    """How many units a text may take under ``limit`` (the configured maximum, counted in
    GSM-7 characters): a GSM-7 text gets ``limit``; a UCS-2 text gets what fits in the
    same number of segments ``limit`` GSM-7 characters take (70 for one), never more than
    ``limit``."""
    if encoding == "gsm7":
        return limit
    segments = 1 if limit <= 160 else -(-limit // 153)
    return min(limit, 70 if segments == 1 else 67 * segments)


def to_gsm7(text: str) -> str:
    """The text in GSM-7 characters only: stand-ins for quotes and dashes, accents
    removed where the letter is not in GSM-7 (NFKD), anything else as '?' (emoji dropped)."""
    import unicodedata

    out: list[str] = []
    for ch in text:
        if ch in GSM7_BASIC or ch in GSM7_EXTENSION:
            out.append(ch)
        elif ch in _GSM7_STAND_INS:
            out.append(_GSM7_STAND_INS[ch])
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch)
                           if not unicodedata.combining(c))
            if base and all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in base):
                out.append(base)
            elif unicodedata.category(ch) in ("So", "Sk", "Cs", "Mn", "Me", "Cf"):
                continue  # emoji, modifiers, joiners: nothing a reader misses
            else:
                out.append("?")
    return "".join(out)


def cap_details(text: str, limit: int = DETAILS_LIMIT) -> str:
    """A details message of at most ``limit`` characters and a last line: a longer one is
    cut at a line or word break and ends saying how much was left out."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    brk = max(cut.rfind("\n"), cut.rfind(" "))
    if brk > limit * 0.8:
        cut = cut[:brk]
    left = len(text) - len(cut)
    return f"{cut.rstrip()}\n…({left} more characters not sent)"


@dataclass
class Sent:
    channel: str
    text: str
    delivered: bool


@dataclass
class Notifier:
    """Sends texts to the owner's channels; every attempt is kept in ``sent`` and the ledger."""

    initials: str
    urls: dict[str, list[str]]
    sms_limit: int = SMS_LIMIT
    details_label: str = "details"
    ledger: LedgerStore | None = None
    run_id: str | None = None
    sent: list[Sent] = field(default_factory=list)
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)
    _seq: int = 0
    # Texts on the sms channel in GSM-7 only (notify.sms.transliterate).
    transliterate: bool = False
    # The server for channels that are emails (``email:<address>``).
    smtp: SmtpSettings | None = None
    _key: str = ""
    _channel: str = ""
    _apprises: dict[tuple[str, ...], apprise.Apprise] = field(default_factory=dict,
                                                               repr=False)

    def _sms_form(self, text: str) -> str:
        return " ".join((to_gsm7(text) if self.transliterate else text).split())

    def _within(self, text: str) -> bool:
        """Whether the whole text fits ``sms_limit`` in the encoding it will be sent in."""
        return sms_units(text) <= sms_room(self.sms_limit, sms_encoding(text))

    def sms_text(self, text: str, *, has_details: bool = False) -> str:
        """Fit ``text`` into one signed text, measured in the encoding it will use (GSM-7,
        or UCS-2 when a character needs it); a cut text points at the details channel."""
        sign = f" -{self.initials}"
        text = self._sms_form(text)
        if not has_details and self._within(text + sign):
            return text + sign
        pointer = " " + self._sms_form(f"Check {self.details_label} for details.")
        if self._within(text + pointer + sign):
            return text + pointer + sign
        ucs2 = sms_encoding(text + pointer + sign) == "ucs2"
        mark = "..." if self.transliterate else "…"
        room = sms_room(self.sms_limit, "ucs2" if ucs2 else "gsm7")
        cut = max(room - sms_units(mark + pointer + sign), 0)
        while cut and sms_units(text[:cut].rstrip() + mark + pointer + sign) > room:
            cut -= 1
        space = text.rfind(" ", 0, cut + 1)
        if space > cut * 0.6:  # at a word break, not mid-word
            cut = space
        return text[:cut].rstrip(" ,;:-\"'") + mark + pointer + sign

    def fits(self, text: str) -> bool:
        """Whether ``text``, signed, fits one owner text as it will be encoded."""
        return self._within(self._sms_form(text) + f" -{self.initials}")

    def sms(self, text: str, *, details: str | None = None, title: str = "",
            short: str | None = None, key: str | None = None) -> bool:
        """Text the owner; when the text does not fit, ``details`` go to the details channel.

        ``short`` is the sentence to text instead when ``text`` is too long (it then points
        at the details channel); without it the text is cut. ``key`` names the text in the
        outbox: a channel that already delivered it under that key is not sent again.
        """
        key = key or self._one_off()
        fits = self.fits(text)
        has_details = bool(details) and "details" in self.urls and not fits
        if not fits and short and has_details:
            text = short
        ok = self._deliver(key, "sms", self.sms_text(text, has_details=has_details), title)
        if details and has_details:
            details = cap_details(details)
            ok = self._deliver(key, "details", details, title or "Details") and ok
        if not ok:
            for i in range(len(self.urls.get("fallback", []))):
                if self._deliver(key, "fallback", details or text, title, only=i):
                    ok = True
                    break
        self._outcome(key, title, text, ok)
        return ok

    def details(self, text: str, title: str = "", *, key: str | None = None,
                limit: int = DETAILS_LIMIT) -> bool:
        """Send ``text`` to the details channel, capped at ``limit`` characters."""
        key = key or self._one_off()
        text = cap_details(text, limit)
        ok = self._deliver(key, "details", text, title)
        self._outcome(key, title, text, ok)
        return ok

    def fallbacks(self, text: str, title: str = "", *, key: str) -> bool:
        """Send ``text`` to every fallback channel (not only until one delivers), each
        through the outbox under ``key`` as ``fallback[i]``, so a channel that delivered is
        never sent it again. True when every one has it; False with none configured."""
        count = len(self.urls.get("fallback", []))
        text = cap_details(text)
        ok = count > 0
        for i in range(count):
            ok = self._deliver(key, f"fallback[{i}]", text, title, only=i) and ok
        self._outcome(key, title, text, ok)
        return ok

    # --- the outbox ------------------------------------------------------------------
    def _one_off(self) -> str:
        self._seq += 1
        return f"{self.run_id or 'no-run'}:{self._seq}"

    def _deliver(self, key: str, channel: str, text: str, title: str,
                 only: int | None = None) -> bool:
        """One channel of one text through the outbox: skipped when that channel delivered
        it already; claimed (``sending``) before it leaves and ``sent``/``failed`` after."""
        if self.ledger is not None:
            row = self.ledger.outbox(key, channel)
            if row is not None and row["state"] == "sent":
                return True
            if not self.ledger.outbox_sending(key, channel, text, title, self.run_id):
                return True  # delivered by another process since the look above
        base, _, index = channel.partition("[")  # "fallback[1]": that fallback URL only
        if index and only is None:
            only = int(index.rstrip("]"))
        self._key = key  # which escalation an email channel's Message-ID answers to
        self._channel = channel  # and which of its texts (a short one, the details...)
        delivered = self._send(base, text, title, only)
        if self.ledger is not None:
            self.ledger.outbox_done(key, channel, delivered)
        return delivered

    def _outcome(self, key: str, title: str, text: str, delivered: bool) -> None:
        self.outcomes[key] = {"key": key, "title": title, "text": scrub(text),
                              "delivered": delivered}

    def resend_interrupted(self, mine: Callable[[dict[str, Any]], bool] | None = None) -> int:
        """Send once more every text an earlier run began and never saw through (a crash
        between sending and recording); returns how many were delivered. ``mine`` picks
        the outbox rows that are this run's to send (runs of other accounts may be sending
        theirs right now); None: every one."""
        if self.ledger is None:
            return 0
        delivered = 0
        for row in self.ledger.outbox_interrupted(self.run_id):
            if mine is not None and not mine(row):
                continue
            logger.warning("text '{}' ({}) was being sent when an earlier run stopped; "
                           "sending it once more", row["key"], row["channel"])
            ok = self._deliver(row["key"], row["channel"], row["text"], row["title"])
            self._outcome(row["key"], row["title"] or row["channel"], row["text"], ok)
            delivered += ok
        return delivered

    def undelivered(self) -> list[dict[str, Any]]:
        """The texts of this run that reached no channel in the end."""
        return [dict(o) for o in self.outcomes.values() if not o["delivered"]]

    def _send(self, channel: str, text: str, title: str, only: int | None = None) -> bool:
        urls = self.urls.get(channel, [])
        if only is not None:
            urls = urls[only:only + 1]
        text = scrub(text)
        if not urls:
            logger.warning("no '{}' channel configured; alert not sent: {}", channel, text)
            self._keep(channel, text, False)
            return False
        emails = [u[len(EMAIL_SCHEME):] for u in urls if u.startswith(EMAIL_SCHEME)]
        urls = [u for u in urls if not u.startswith(EMAIL_SCHEME)]
        delivered = True
        for address in emails:
            delivered = self._email(address, text, title, self._key) and delivered
        if not urls:
            self._keep(channel, text, delivered)
            return delivered
        ap = self._apprise(channel, urls)
        delivered = delivered and bool(len(ap)) and bool(
            ap.notify(body=text, title=title or "Seller Central"))
        if delivered:
            logger.info("alert sent via {}: {}", channel, text)
        else:
            logger.error("alert via {} was not delivered: {}", channel, text)
        self._keep(channel, text, delivered)
        return delivered

    def _apprise(self, channel: str, urls: list[str]) -> apprise.Apprise:
        """One Apprise object per set of URLs for the whole run (building one parses the
        URLs and loads their plugins: costly when a backlog sends many texts)."""
        key = tuple(urls)
        ap = self._apprises.get(key)
        if ap is None:
            ap = apprise.Apprise()
            for url in urls:
                if not ap.add(url):
                    logger.error("the '{}' channel URL is not one Apprise understands",
                                 channel)
            self._apprises[key] = ap
        return ap

    def _email(self, address: str, text: str, title: str, key: str) -> bool:
        """The alert as an email to the owner, with a Message-ID of the bot's own: a reply
        to it names that id, which the ledger maps back to the escalation's code."""
        if self.smtp is None:
            logger.error("an email channel is configured but no smtp server; not sent")
            return False
        found = _KEY_CODE.match(key)
        code = found.group(1) if found else ""
        subject = title or "Seller Central"
        # One Message-ID per text and address, kept before the mail leaves: sent again
        # after a crash cut its confirmation off, it is the same mail to the owner's
        # mailbox (shown once), and a reply to either names an id the ledger knows.
        about = (f"{key} {self._channel} "
                 f"{hashlib.sha256(address.lower().encode()).hexdigest()[:12]}")
        message_id = (self.ledger.alert_mail_id(about) if code and self.ledger is not None
                      else None) or new_message_id(self.smtp.from_addr)
        if code and self.ledger is not None:
            self.ledger.remember_sent_mail(message_id, code, f"alert:{about}")
        footer = (f"\n\nTo answer, reply to this email with your answer above the quoted "
                  f"text (or start a new email with {code} first).") if code else ""
        msg = alert_message([address],
                            f"[{code}] {subject}" if code and code not in subject else subject,
                            f"{text}{footer}\n-{self.initials}", from_addr=self.smtp.from_addr,
                            from_name=self.smtp.from_name, message_id=message_id)
        try:
            smtp_send(self.smtp, msg)
        except SmtpError as err:
            logger.error("alert email to the owner not sent: {}", err)
            return False
        return True

    def _keep(self, channel: str, text: str, delivered: bool) -> None:
        self.sent.append(Sent(channel, text, delivered))
        if self.ledger is not None:
            self.ledger.record_alert(self.run_id, channel, text, delivered)
