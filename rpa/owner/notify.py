"""Owner alerts through Apprise: a short ``sms`` text, a ``details`` message, fallbacks.

The seller wants texts short and signed: at most 160 characters (configurable) ending in
``-<VA initials>``. When a text cannot hold everything, it says so and points at the
details channel, which receives the whole story.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import apprise
from loguru import logger

from rpa.redact import scrub

if TYPE_CHECKING:
    from rpa.run.ledger import Ledger

SMS_LIMIT = 160


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
    ledger: Ledger | None = None
    run_id: str | None = None
    sent: list[Sent] = field(default_factory=list)

    def sms_text(self, text: str, *, has_details: bool = False) -> str:
        """Fit ``text`` into one signed text; a cut text points at the details channel."""
        sign = f" -{self.initials}"
        text = " ".join(text.split())
        room = self.sms_limit - len(sign)
        if len(text) <= room and not has_details:
            return text + sign
        pointer = f" Check {self.details_label} for details."
        if len(text) + len(pointer) <= room:
            return text + pointer + sign
        cut = room - len(pointer) - 1
        return text[:cut].rstrip() + "…" + pointer + sign

    def fits(self, text: str) -> bool:
        return len(" ".join(text.split())) + len(self.initials) + 2 <= self.sms_limit

    def sms(self, text: str, *, details: str | None = None, title: str = "",
            short: str | None = None) -> bool:
        """Text the owner; when the text does not fit, ``details`` go to the details channel.

        ``short`` is the sentence to text instead when ``text`` is too long (it then points
        at the details channel); without it the text is cut.
        """
        fits = self.fits(text)
        has_details = bool(details) and "details" in self.urls and not fits
        if not fits and short and has_details:
            text = short
        ok = self._send("sms", self.sms_text(text, has_details=has_details), title)
        if details and has_details:
            ok = self._send("details", details, title or "Details") and ok
        if not ok:
            for i in range(len(self.urls.get("fallback", []))):
                if self._send("fallback", details or text, title, only=i):
                    return True
        return ok

    def details(self, text: str, title: str = "") -> bool:
        return self._send("details", text, title)

    def _send(self, channel: str, text: str, title: str, only: int | None = None) -> bool:
        urls = self.urls.get(channel, [])
        if only is not None:
            urls = urls[only:only + 1]
        text = scrub(text)
        if not urls:
            logger.warning("no '{}' channel configured; alert not sent: {}", channel, text)
            self._keep(channel, text, False)
            return False
        ap = apprise.Apprise()
        for url in urls:
            if not ap.add(url):
                logger.error("the '{}' channel URL is not one Apprise understands", channel)
        delivered = bool(len(ap)) and bool(ap.notify(body=text, title=title or "Seller Central"))
        if delivered:
            logger.info("alert sent via {}: {}", channel, text)
        else:
            logger.error("alert via {} was not delivered: {}", channel, text)
        self._keep(channel, text, delivered)
        return delivered

    def _keep(self, channel: str, text: str, delivered: bool) -> None:
        self.sent.append(Sent(channel, text, delivered))
        if self.ledger is not None:
            self.ledger.record_alert(self.run_id, channel, text, delivered)
