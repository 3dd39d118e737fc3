"""Amazon's rules for what a seller may write to a buyer, checked before anything is sent.

A message may not hold links, email addresses or phone numbers, may not ask for (positive)
reviews or offer anything for one, may not be empty, a bare "thank you", or longer than
the limit. Every outgoing text passes :func:`check`; a text with a violation is not sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_MAX_CHARS = 4000

_ORDER_ID = re.compile(r"\b\d{3}-\d{7}-\d{7}\b")
_DATES = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b")
_URL = re.compile(r"(?i)\b(?:https?://|ftp://|www\.)\S+")
_TLDS = ("com|net|org|io|co|us|uk|de|fr|it|es|ca|au|in|jp|me|info|biz|shop|store|online|"
         "site|app|ly|gl|link|xyz|eu|nl|pl|se")
_DOMAIN = re.compile(rf"(?i)\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:{_TLDS})\b(?:/\S*)?")
_EMAIL = re.compile(r"(?i)[a-z0-9._%+-]+\s*(?:@|\(at\)|\[at\])\s*[a-z0-9-]+(?:\.[a-z0-9-]+)+")
_PHONE = re.compile(r"(?<![\w])\+?\(?\d[\d\s().-]{5,}\d(?![\w])")
_REVIEW = re.compile(
    r"(?i)\b(?:(?:positive|good|great|5[- ]?star|five[- ]?star|honest)\s+(?:review|feedback|"
    r"rating)s?|(?:leave|write|post|give|update|change|remove|revise)\s+(?:us\s+|me\s+)?"
    r"(?:a\s+|an\s+|your\s+|the\s+)?(?:\w+\s+)?(?:review|feedback|rating)s?|"
    r"rate\s+(?:us|our|the\s+product)|review\s+(?:us|our\s+(?:product|store|shop)))\b")
_INCENTIVE = re.compile(
    r"(?i)\b(?:gift\s*cards?|coupons?|promo(?:tion(?:al)?)?\s*codes?|discount\s*codes?|"
    r"in\s+exchange\s+for|free\s+(?:gift|product|item|sample)s?|cash\s*back|"
    r"special\s+offer|our\s+(?:new\s+)?(?:products|store|shop|website))\b")
_THANKS_ONLY = re.compile(
    r"(?i)^\W*(?:(?:many\s+|thank\s+you|thanks|thank\s+u|thx|ty|cheers|much\s+appreciated|"
    r"so\s+much|very\s+much|a\s+lot|again|for\s+your\s+(?:message|order|purchase))\W*)+$")


@dataclass(frozen=True)
class Violation:
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def check(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[Violation]:
    """Every rule ``text`` breaks; an empty list means it may be sent."""
    found: list[Violation] = []
    stripped = text.strip()
    if not stripped:
        return [Violation("empty", "the message is empty")]
    if len(stripped) > max_chars:
        found.append(Violation("too_long", f"{len(stripped)} characters, limit {max_chars}"))
    if re.search(r"\{[A-Za-z_][A-Za-z0-9_]*\}", stripped):
        found.append(Violation("placeholder", "a {placeholder} was left unfilled"))
    if _THANKS_ONLY.match(stripped):
        found.append(Violation("thank_you_only", "a message that only says thank you"))
    for m in _EMAIL.finditer(stripped):
        found.append(Violation("email_address", m.group(0)))
    no_email = _EMAIL.sub(" ", stripped)
    for m in _URL.finditer(no_email):
        found.append(Violation("link", m.group(0)))
    for m in _DOMAIN.finditer(_URL.sub(" ", no_email)):
        found.append(Violation("link", m.group(0)))
    plain = _DATES.sub(" ", _ORDER_ID.sub(" ", no_email))
    for m in _PHONE.finditer(plain):
        if _digits(m.group(0)) >= 7:
            found.append(Violation("phone_number", m.group(0).strip()))
    for m in _REVIEW.finditer(stripped):
        found.append(Violation("review_request", m.group(0)))
    for m in _INCENTIVE.finditer(stripped):
        found.append(Violation("incentive_or_marketing", m.group(0)))
    return found


def describe(violations: list[Violation]) -> str:
    """One line naming each broken rule, for escalations and the report."""
    return "; ".join(str(v) for v in violations)
