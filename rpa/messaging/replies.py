"""What to do with a buyer's message: a reply template, a holding reply, or no response.

Patterns in the configuration follow :mod:`rpa.patterns`. Reply texts are filled from a
fixed set of placeholders; an unknown placeholder is a configuration error, found when the
file is loaded.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass, field
from typing import Any

from rpa.messaging import policy
from rpa.patterns import PatternError, compile_pattern

PLACEHOLDERS = {
    "buyer_name": "the buyer's name as Seller Central shows it",
    "buyer_first_name": "the first word of the buyer's name",
    "order_id": "the order the thread is about",
    "subject": "the thread's subject",
    "topic": "what the question is about (holding reply)",
    "va_full_name": "the VA's full name",
    "va_first_name": "the first word of the VA's full name",
}

HOLDING_SENTENCE = ("I am checking with a supervisor and will respond to your question in "
                    "detail as soon as I have an answer")

DEFAULT_HOLDING_TEXT = (
    "Hello {buyer_first_name},\n\nThank you for your message about {topic}. "
    + HOLDING_SENTENCE + ", within 48 hours at the latest.\n\nBest regards,\n{va_full_name}")

DEFAULT_TOPICS: list[dict[str, Any]] = [
    {"name": "the delivery address", "when": ["address"]},
    {"name": "cancelling the order", "when": ["cancel", "cancellation"]},
    {"name": "a gift message or gift wrap", "when": ["gift"]},
    {"name": "the invoice", "when": ["invoice", "receipt", "VAT", "tax"]},
    {"name": "a bulk or wholesale order", "when": ["bulk", "wholesale", "quantity", "resale"]},
    {"name": "a warranty claim", "when": ["warranty", "guarantee"]},
    {"name": "a missing item", "when": ["missing", "only had", "only got", "only received",
                                        "incomplete"]},
    {"name": "the tracking of your parcel", "when": ["tracking", "carrier", "courier"]},
    {"name": "shipping and delivery", "when": ["ship to", "shipping", "deliver", "delivery",
                                               "arrive", "ship"]},
    {"name": "a return or refund", "when": ["return", "refund", "exchange"]},
    {"name": "the condition of the item", "when": ["damaged", "broken", "cracked", "defect"]},
    {"name": "the product details", "when": [
        "size", "colour", "color", "fit", "compatible", "dimensions", "material", "include",
        "come with", "battery", "batteries", "instructions", "how to", "made of", "safe"]},
]

DEFAULT_NO_RESPONSE: dict[str, Any] = {
    "when": ["thanks", "thank you", "thx", "cheers", "appreciate", "/^\\s*(ok|okay|great|"
             "perfect|got it|received)[.! ]*$/i"],
    "unless": ["/\\?/", "not", "never", "no longer", "broken", "damaged", "wrong", "missing",
               "refund", "return", "replace", "cancel", "problem", "issue", "help", "where",
               "when", "how", "why", "please", "can you", "could you", "still", "late",
               "but"],
    "max_chars": 200,
}

DEFAULT_REPLIES: list[dict[str, Any]] = [
    {
        "name": "item_not_as_described",
        "when": ["not as described", "damaged", "broken", "cracked", "defective",
                 "doesn't work", "does not work", "stopped working", "wrong item",
                 "wrong size", "wrong colour", "wrong color", "missing part", "missing parts",
                 "leaks"],
        "text": (
            "Hello {buyer_first_name},\n\nI am very sorry that the item from order "
            "{order_id} is not as it should be. Please request a return or replacement "
            "from Your Orders on Amazon and choose the reason that fits; we will take care "
            "of it as soon as the request comes in, and you will not be charged for the "
            "return shipping of a faulty item.\n\nBest regards,\n{va_full_name}"),
    },
    {
        "name": "return_request",
        "when": ["return", "send it back", "send back", "refund", "exchange"],
        "text": (
            "Hello {buyer_first_name},\n\nThank you for letting us know. You can return "
            "the item from order {order_id} through Your Orders on Amazon: choose the item, "
            "select Return or Replace Items and follow the steps. As soon as the return "
            "reaches us we will process your refund.\n\nBest regards,\n{va_full_name}"),
    },
    {
        "name": "where_is_my_order",
        "when": ["where is my order", "where's my order", "not shipped", "hasn't shipped",
                 "has not shipped", "not arrived", "hasn't arrived", "has not arrived",
                 "not received", "still waiting", "when will it arrive", "when will it ship",
                 "when will my order", "when will it go out", "shipped yet"],
        "text": (
            "Hello {buyer_first_name},\n\nThank you for your message about order "
            "{order_id}. Orders leave our warehouse within one business day, and Your "
            "Orders on Amazon shows the current status and tracking of your parcel. If it "
            "has not arrived by the latest delivery date shown there, please write to us "
            "here and we will make it right.\n\nBest regards,\n{va_full_name}"),
    },
]


def check_placeholders(text: str) -> None:
    """Raise PatternError naming any placeholder the bot cannot fill."""
    try:
        fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(text)
                  if f is not None]
    except ValueError as err:
        raise PatternError(f"broken placeholder braces: {err} (write {{{{ for a brace)") from err
    for name, spec, conv in fields:
        if spec or conv:  # filled as plain words: no format specs or conversions
            raise PatternError(f"write the placeholder {{{name}}} without ':' or '!'")
    for name in (f for f, _, _ in fields):
        if name not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise PatternError(f"unknown placeholder {{{name}}} (known: {known})")


@dataclass
class Matcher:
    """``when`` patterns (any may match) and ``unless`` patterns (none may match)."""

    when: list[re.Pattern[str]]
    unless: list[re.Pattern[str]] = field(default_factory=list)
    max_chars: int | None = None

    @classmethod
    def build(cls, when: list[str], unless: list[str] | None = None,
              max_chars: int | None = None) -> Matcher:
        return cls([compile_pattern(p) for p in when],
                   [compile_pattern(p) for p in unless or []], max_chars)

    def matches(self, text: str) -> bool:
        if self.max_chars is not None and len(text.strip()) > self.max_chars:
            return False
        if not any(p.search(text) for p in self.when):
            return False
        return not any(p.search(text) for p in self.unless)


@dataclass
class Message:
    sender: str  # "buyer" or "seller"
    text: str
    at: str = ""


@dataclass
class ThreadView:
    """A thread as read from its page."""

    thread_id: str
    buyer: str
    order_id: str
    subject: str
    messages: list[Message]
    status: str = ""
    url: str = ""

    def unanswered(self) -> list[Message]:
        """The buyer's messages after the seller's last one."""
        out: list[Message] = []
        for msg in reversed(self.messages):
            if msg.sender != "buyer":
                break
            out.append(msg)
        return list(reversed(out))

    @property
    def question(self) -> str:
        return "\n".join(m.text for m in self.unanswered()).strip()

    @property
    def answered(self) -> bool:
        """The seller wrote after the buyer's latest message."""
        return bool(self.messages) and self.messages[-1].sender == "seller"

    def last_seller_text(self) -> str:
        for msg in reversed(self.messages):
            if msg.sender == "seller":
                return msg.text
        return ""

    def message_key(self) -> str:
        """Names the buyer's latest message, so a new question is a new piece of work."""
        latest = next((m for m in reversed(self.messages) if m.sender == "buyer"), None)
        basis = f"{self.thread_id}\n{latest.at if latest else ''}\n"
        basis += " ".join((latest.text if latest else "").split())
        return hashlib.sha256(basis.encode()).hexdigest()[:16]


@dataclass
class Decision:
    kind: str  # template | holding_reply | no_response_needed | blocked
    name: str = ""
    text: str = ""
    topic: str = ""
    reason: str = ""
    # The template with every placeholder filled by a neutral word: whether a placeholder
    # was left unfilled is judged on it, never on the buyer's words filled in.
    skeleton: str = ""

    @property
    def label(self) -> str:
        return f"template:{self.name}" if self.kind == "template" else self.kind


@dataclass
class Template:
    name: str
    matcher: Matcher
    text: str


@dataclass
class Topic:
    name: str
    matcher: Matcher


@dataclass
class ReplyBook:
    """Everything the decision needs, compiled once from the configuration."""

    templates: list[Template]
    holding_text: str
    topics: list[Topic]
    no_response: Matcher | None
    va_full_name: str

    def topic_of(self, view: ThreadView) -> str:
        text = view.question
        for topic in self.topics:
            if topic.matcher.matches(text):
                return topic.name
        if view.order_id:
            return f"your order {view.order_id}"
        return f"“{view.subject}”" if view.subject else "your question"

    def fill(self, text: str, view: ThreadView, topic: str = "") -> str:
        """The template filled in one pass: a value holding braces (a buyer named
        "{va_full_name}") is written as it is, never filled again."""
        return _fill_once(text, self.values(view, topic))

    def values(self, view: ThreadView, topic: str = "") -> dict[str, str]:
        """What each placeholder stands for in a reply on ``view``."""
        buyer = " ".join(view.buyer.split())
        return {
            "buyer_name": buyer or "there",
            "buyer_first_name": buyer.split()[0] if buyer else "there",
            "order_id": view.order_id,
            "subject": view.subject,
            "topic": topic or self.topic_of(view),
            "va_full_name": self.va_full_name,
            "va_first_name": self.va_full_name.split()[0],
        }

    def decide(self, view: ThreadView) -> Decision:
        question = view.question
        if self.no_response is not None and self.no_response.matches(question):
            return Decision("no_response_needed", reason="the buyer only says thanks")
        for tpl in self.templates:
            if tpl.matcher.matches(question):
                return Decision("template", name=tpl.name, text=self.fill(tpl.text, view),
                                reason=f"matches template '{tpl.name}'",
                                skeleton=skeleton(tpl.text))
        return self.holding(view)

    def holding(self, view: ThreadView,
                reason: str = "no template matches: asked the owner") -> Decision:
        """The holding reply for this thread (signed with the VA's full name)."""
        topic = self.topic_of(view)
        return Decision("holding_reply", text=self.fill(self.holding_text, view, topic),
                        topic=topic, reason=reason, skeleton=skeleton(self.holding_text))


_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _fill_once(text: str, values: dict[str, str]) -> str:
    """Each ``{name}`` replaced by its value in one left-to-right pass (``{{``/``}}`` are
    literal braces); what a value holds is never read as a placeholder."""
    def one(m: re.Match[str]) -> str:
        whole = m.group(0)
        if whole in ("{{", "}}"):
            return whole[0]
        return values.get(m.group(1), whole)

    return _FIELD.sub(one, text).strip()


def skeleton(template: str) -> str:
    """The template with every known placeholder filled by a neutral word."""
    return _fill_once(template, dict.fromkeys(PLACEHOLDERS, "x"))


def check_outgoing(decision: Decision, max_chars: int) -> list[policy.Violation]:
    """Every Amazon messaging rule the decision's text breaks. A placeholder left unfilled
    is looked for in the template (its skeleton), so braces in a buyer's name or subject
    never stop the reply."""
    found = [v for v in policy.check(decision.text, max_chars) if v.rule != "placeholder"]
    if decision.skeleton:
        found += [v for v in policy.check(decision.skeleton, max_chars)
                  if v.rule == "placeholder"]
    return found
