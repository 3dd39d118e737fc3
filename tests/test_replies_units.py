"""Pure units: the messaging rules, patterns, placeholders and decisions."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from rpa.config import parse_config
from rpa.errors import ConfigError
from rpa.messaging.policy import check
from rpa.messaging.replies import HOLDING_SENTENCE, Message, ThreadView
from rpa.patterns import compile_pattern


def rules(text: str, **kw: Any) -> set[str]:
    return {v.rule for v in check(text, **kw)}


@pytest.mark.parametrize("text, rule", [
    ("See https://example.com/help for more", "link"),
    ("Visit www.acme-goods.example/warranty", "link"),
    ("Our site acmegoods.com has it", "link"),
    ("Write to help@acmegoods.com", "email_address"),
    ("write to help (at) acmegoods.com", "email_address"),
    ("Call +1 (555) 010-4477 any time", "phone_number"),
    ("Call 555 010 4477", "phone_number"),
    ("Please leave us a positive review!", "review_request"),
    ("We would love a 5-star rating", "review_request"),
    ("Could you update your review?", "review_request"),
    ("Here is a $10 gift card for your trouble", "incentive_or_marketing"),
    ("We send a free product in exchange for feedback", "incentive_or_marketing"),
    ("Thank you!", "thank_you_only"),
    ("Thanks so much", "thank_you_only"),
    ("   ", "empty"),
    ("Hello {buyer_name}", "placeholder"),
])
def test_rules_catch_each_kind(text: str, rule: str) -> None:
    assert rule in rules(text)


@pytest.mark.parametrize("text", [
    "Hello Jane, your order 113-4417802-9931425 ships on 2025-11-27. Best regards, Maria",
    "You can return it from Your Orders on Amazon within 30 days.",
    "It holds 24 oz and measures 10 by 3 inches.",
    "Thank you for your message. The lid is dishwasher safe. Maria Santos",
])
def test_ordinary_replies_pass(text: str) -> None:
    assert check(text) == []


def test_length_limit() -> None:
    assert "too_long" in rules("a" * 120, max_chars=100)
    assert check("a" * 100 + " ok", max_chars=200) == []


def test_patterns_keyword_phrase_and_regex() -> None:
    assert compile_pattern("not shipped").search("It has NOT   shipped yet")
    assert not compile_pattern("ship").search("relationship")
    assert compile_pattern("/\\border\\s+#?\\d+/i").search("ORDER #12")
    with pytest.raises(ValueError, match="regular expression"):
        compile_pattern("/(/")


def _book(**changes: Any) -> Any:
    with open("rpa.example.yaml") as fh:
        data = yaml.safe_load(fh)
    data.update(changes)
    return parse_config(data, "t.yaml").reply_book()


def view(*messages: tuple[str, str], buyer: str = "Jane Doe") -> ThreadView:
    return ThreadView("T-1", buyer, "111-2223334-5556667", "Question",
                      [Message(s, t, f"2025-11-2{i}") for i, (s, t) in enumerate(messages)])


def test_decide_template_holding_and_no_response() -> None:
    book = _book()
    d = book.decide(view(("buyer", "Where is my order? It has not arrived.")))
    assert d.label == "template:where_is_my_order"
    assert d.text.startswith("Hello Jane,") and "111-2223334-5556667" in d.text
    d = book.decide(view(("buyer", "Do you ship to Canada?")))
    assert d.kind == "holding_reply" and d.topic == "shipping and delivery"
    assert HOLDING_SENTENCE in d.text and d.text.endswith("Maria Santos")
    assert book.decide(view(("buyer", "Got it, thanks!"))).kind == "no_response_needed"
    assert book.decide(view(("buyer", "Thanks, but it is broken"))).kind != "no_response_needed"
    assert book.decide(view(("buyer", "Thanks. When will it ship?"))).kind != \
        "no_response_needed"


def test_only_the_unanswered_messages_count() -> None:
    v = view(("buyer", "Where is my order?"), ("seller", "It ships today."),
             ("buyer", "Thank you!"))
    assert v.question == "Thank you!"
    assert _book().decide(v).kind == "no_response_needed"
    assert not v.answered
    answered = view(("buyer", "Hi?"), ("seller", "Hello!"))
    assert answered.answered and answered.last_seller_text() == "Hello!"


def test_message_key_changes_with_a_new_buyer_message() -> None:
    a = view(("buyer", "Where is my order?"))
    b = view(("buyer", "Where is my order?"), ("seller", "Today."), ("buyer", "Still?"))
    assert a.message_key() != b.message_key()
    assert a.message_key() == view(("buyer", "Where is my order?")).message_key()


@pytest.mark.parametrize("changes, key", [
    ({"replies": [{"name": "x", "when": ["ok"], "text": "Hi {nobody}"}]}, "replies[0].text"),
    ({"replies": [{"name": "x", "when": ["/(/"], "text": "Hi"}]}, "replies[0].when[0]"),
    ({"replies": [{"name": "x", "when": [], "text": "Hi"}]}, "replies[0].when"),
    ({"replies": [{"name": "x", "when": ["a"], "text": "Hi"},
                  {"name": "x", "when": ["b"], "text": "Ho"}]}, "replies[1].name"),
    ({"holding_reply": {"text": "Checking, will answer soon."}}, "holding_reply.text"),
    ({"no_response_needed": {"when": ["thanks"], "colour": 1}}, "no_response_needed.colour"),
])
def test_bad_reply_config_names_the_key(changes: dict[str, Any], key: str) -> None:
    with open("rpa.example.yaml") as fh:
        data = yaml.safe_load(fh)
    data.update(changes)
    with pytest.raises(ConfigError) as err:
        parse_config(data, "t.yaml")
    assert f"t.yaml: {key}:" in str(err.value)
