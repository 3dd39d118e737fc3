"""The owner's channels (``notify``): the short text, the details message and the
fallbacks, each an Apprise URL from the environment or an email to the owner."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from rpa.config.base import StrictModel, check_env_name


class ChannelConfig(StrictModel):
    """A notification channel: an Apprise URL (which may hold a token) from the
    environment, or ``email_to``: an email to the owner sent through ``smtp``, with a
    Message-ID of the bot's own so that the owner's reply is matched to its code."""

    url_env: str | None = None
    email_to: str | None = None
    max_chars: int | None = Field(default=None, ge=40)
    label: str | None = None
    # Texts in GSM-7 only (accents folded, other letters and emoji replaced) so a text
    # keeps 160 characters a segment instead of UCS-2's 70.
    transliterate: bool = False

    _env = field_validator("url_env")(check_env_name)

    @model_validator(mode="after")
    def _one_way(self) -> ChannelConfig:
        if (self.url_env is None) == (self.email_to is None):
            raise ValueError("give url_env (an Apprise URL in the environment) or email_to "
                             "(an address, sent through smtp), one of the two")
        if self.email_to is not None and ("@" not in self.email_to or " " in self.email_to):
            raise ValueError(f"email_to: '{self.email_to}' is not an email address")
        return self


class NotifyConfig(StrictModel):
    """Owner channels: ``sms`` for short texts, ``details`` for longer ones, then fallbacks."""

    sms: ChannelConfig | None = None
    details: ChannelConfig | None = None
    fallback: list[ChannelConfig] = Field(default_factory=list)

    def channels(self) -> list[tuple[str, ChannelConfig]]:
        """Each channel that is set, with its key under the section: ``sms``, ``details``,
        ``fallback[0]``, ..."""
        named = [("sms", self.sms), ("details", self.details),
                 *((f"fallback[{i}]", ch) for i, ch in enumerate(self.fallback))]
        return [(key, ch) for key, ch in named if ch is not None]
