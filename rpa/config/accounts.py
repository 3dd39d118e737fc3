"""Who the bot works as and for: the Seller Central accounts (the language each is shown
in, and the owner's channels of an account whose owner is not the others') and the virtual
assistant who signs the replies."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from pydantic import Field, field_validator

from rpa.config.base import StrictModel, check_env_name, is_loopback
from rpa.config.codes import clean_prefix
from rpa.config.notify import NotifyConfig

# The languages whose words and number format the bot reads (rpa.seller_central.locale),
# and the marketplaces that show Seller Central in one of them by default.
LANGUAGES = ("en", "de", "fr", "it", "es", "ja")
# ``accounts[].language`` left out: the language the page says it is in (``<html lang>``),
# else the marketplace's (rpa.seller_central.language).
AUTO_LANGUAGE = "auto"
MARKETPLACE_LANGUAGES: dict[str, str] = {
    "germany": "de", "deutschland": "de",
    "france": "fr",
    "italy": "it", "italia": "it",
    "spain": "es", "españa": "es", "espana": "es",
    "japan": "ja", "日本": "ja",
}


def language_for_marketplace(name: str) -> str:
    """The language a marketplace shows Seller Central in by default; English otherwise."""
    return MARKETPLACE_LANGUAGES.get(" ".join(name.split()).casefold(), "en")


class AccountConfig(StrictModel):
    """One Seller Central login and the account/marketplace to work in."""

    name: str = Field(min_length=1, description="short name used for state and lock files")
    base_url: str = "https://sellercentral.amazon.com"
    email: str = Field(min_length=3)
    password_env: str
    totp_secret_env: str
    account_name: str | None = None
    marketplace: str | None = None
    language: str = Field(default=AUTO_LANGUAGE, validate_default=True,
                          description="the language Seller Central is shown in")
    # This account's owner channels, in place of the top-level ``notify`` (an agency's
    # sellers each have their own phone); left out, the top-level ones.
    notify: NotifyConfig | None = None
    # The prefix of this account's escalation codes (ACME: ACME-B001) when there are
    # several accounts; left out, made from the name (rpa.config.codes).
    code_prefix: str | None = None

    _env = field_validator("password_env", "totp_secret_env")(check_env_name)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        # Left out (or "auto"), it is read from the page: Seller Central follows the user's
        # session setting, so an English session on amazon.de is English.
        code = value.strip().lower() or AUTO_LANGUAGE
        if code != AUTO_LANGUAGE and code not in LANGUAGES:
            raise ValueError(f"unknown language {value!r}; expected one of "
                             f"{', '.join(LANGUAGES)}, or auto (left out: from the page, "
                             "else from the marketplace name)")
        return code

    @field_validator("code_prefix")
    @classmethod
    def _code_prefix(cls, value: str | None) -> str | None:
        return None if value is None else clean_prefix(value)

    @property
    def marketplace_language(self) -> str:
        """The language the marketplace shows Seller Central in by default: used where
        the page does not say its own."""
        return language_for_marketplace(self.marketplace or "")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("expected an http(s) URL such as https://sellercentral.amazon.com")
        host = urlparse(value).hostname or ""
        if value.lower().startswith("http://") and not is_loopback(host):
            raise ValueError(f"http:// would post the password to {host} unencrypted: use "
                             "https:// (plain http is only for this machine, e.g. the sandbox)")
        return value.rstrip("/")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9_.-]+$", value):
            raise ValueError("use letters, digits, '.', '_' or '-' only")
        return value


class VaConfig(StrictModel):
    """The virtual assistant the bot works for: signs replies and texts."""

    full_name: str = Field(min_length=3)
    initials: str = Field(min_length=1, max_length=5)
