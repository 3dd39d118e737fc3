"""Who the bot works as and for: the Seller Central accounts (and the language each is
shown in) and the virtual assistant who signs the replies."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from pydantic import Field, field_validator

from rpa.config.base import StrictModel, check_env_name, is_loopback

# The languages whose words and number format the bot reads (rpa.seller_central.locale),
# and the marketplaces that show Seller Central in one of them by default.
LANGUAGES = ("en", "de", "fr", "it", "es", "ja")
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
    language: str = Field(default="", validate_default=True,
                          description="the language Seller Central is shown in")

    _env = field_validator("password_env", "totp_secret_env")(check_env_name)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str, info: Any) -> str:
        # Left out, it follows the marketplace: amazon.de shows Seller Central in German.
        code = value.strip().lower() or language_for_marketplace(
            info.data.get("marketplace") or "")
        if code not in LANGUAGES:
            raise ValueError(f"unknown language {value!r}; expected one of "
                             f"{', '.join(LANGUAGES)} (left out: from the marketplace name)")
        return code

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
