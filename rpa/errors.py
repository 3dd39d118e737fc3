"""The bot's exception tree.

    RpaError
     ├── BusinessError          the world needs a person; never retried
     │    ├── NeedsPerson       a sign-in challenge or page only a person can clear
     │    └── RuleRefused       a rule refused to act (e.g. an outgoing text broke a rule)
     ├── ApplicationError       something technical failed; retried within limits
     │                          (unless ``retryable`` is False: trying again would meet
     │                          the same state, e.g. a mail server without a Spam folder)
     │    ├── SelectorNotFound  a selectors.yaml key resolved to nothing
     │    └── PageError         an HTTP error page, a dropped page, an unexpected page
     ├── ConfigError            bad configuration, found before any browser starts
     └── RunLocked              another run holds this account's lock

Library errors are wrapped with ``raise X(...) from err`` so the cause stays visible.
"""

from __future__ import annotations


class RpaError(Exception):
    """Base of every error the bot raises on purpose."""


class BusinessError(RpaError):
    """The world is in a state a person must handle. Recorded and escalated, never retried."""


class NeedsPerson(BusinessError):
    """A page or challenge (CAPTCHA, emailed code, unknown page) that only a person can clear."""

    def __init__(self, message: str, *, reason: str = "unknown", url: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.url = url


class RuleRefused(BusinessError):
    """A rule refused to act; the item is escalated instead."""


class ApplicationError(RpaError):
    """A technical failure (timeout, HTTP 500, missing element). Retried within limits."""

    retryable: bool = True


class SelectorNotFound(ApplicationError):
    """A selectors.yaml key matched nothing on the page."""

    def __init__(self, key: str, url: str = "", tried: int = 0) -> None:
        where = f" on {url}" if url else ""
        super().__init__(f"selector '{key}' resolved to nothing{where} ({tried} candidates tried)")
        self.key = key
        self.url = url


class PageError(ApplicationError):
    """The page answered with an error or is not the page expected."""


class ConfigError(RpaError):
    """Bad configuration: names the file, the key and what was expected."""

    def __init__(self, message: str, *, file: str = "", key: str = "") -> None:
        parts = [p for p in (file, key) if p]
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.file = file
        self.key = key


class RunLocked(RpaError):
    """Another run for the same account is in progress."""
