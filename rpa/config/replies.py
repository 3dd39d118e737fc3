"""What is said to buyers: the reply templates, the holding reply and its topics, the
messages that need no answer, and the length limit of a buyer message. Each pattern and
placeholder is checked when the file loads, by the code that later applies it."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from rpa.config.base import StrictModel
from rpa.messaging import replies as _replies
from rpa.messaging.policy import DEFAULT_MAX_CHARS
from rpa.patterns import PatternError, compile_pattern


def _valid_pattern(value: str) -> str:
    try:
        compile_pattern(value)
    except PatternError as err:
        raise ValueError(f"pattern {value!r}: {err}") from err
    return value


def _valid_text(value: str) -> str:
    try:
        _replies.check_placeholders(value)
    except PatternError as err:
        raise ValueError(str(err)) from err
    if not value.strip():
        raise ValueError("the text is empty")
    return value


Pattern = Annotated[str, AfterValidator(_valid_pattern)]
ReplyText = Annotated[str, AfterValidator(_valid_text)]


class ReplyTemplateConfig(StrictModel):
    """A known question and its answer: the first template whose ``when`` matches is used."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    when: list[Pattern] = Field(min_length=1)
    unless: list[Pattern] = Field(default_factory=list)
    text: ReplyText


class TopicConfig(StrictModel):
    name: str = Field(min_length=1)
    when: list[Pattern] = Field(min_length=1)


class HoldingReplyConfig(StrictModel):
    """The reply to a question nobody has an answer for yet; names the topic, signed."""

    text: ReplyText = _replies.DEFAULT_HOLDING_TEXT
    topics: list[TopicConfig] = Field(
        default_factory=lambda: [TopicConfig(**t) for t in _replies.DEFAULT_TOPICS])


class NoResponseConfig(StrictModel):
    """Messages that need no answer (a thank-you alone): marked "No response needed"."""

    when: list[Pattern] = Field(default_factory=list)
    unless: list[Pattern] = Field(default_factory=list)
    max_chars: int | None = Field(default=None, ge=1)


class MessagingConfig(StrictModel):
    max_chars: int = Field(default=DEFAULT_MAX_CHARS, ge=100, le=20000)
