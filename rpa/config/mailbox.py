"""Mail: the seller's support mailbox (IMAP: folders, trusted domains, authentication,
the triage rules) and the server the bot sends mail through (SMTP)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from rpa.config.base import StrictModel, check_ca_file, check_env_name

# Folder names the seller gives are tried before the server's SPECIAL-USE flags and the
# well-known names (rpa.mail.folders); by default none, so discovery decides.
SPAM_NAMES: list[str] = []
TRASH_NAMES: list[str] = []


_DOMAIN_NAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_AUTHSERV_ID = re.compile(r"^[^\s;()\"]+$")


class TrustedDomainsConfig(StrictModel):
    """Domains trusted as Amazon's: ``add`` extends the packaged list of Amazon's
    marketplaces (rpa/mail/amazon_domains.txt) unless ``replace`` is true."""

    add: list[str] = Field(default_factory=list)
    replace: bool = False

    @field_validator("add")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        out: list[str] = []
        for raw in value:
            name = raw.strip().strip(".").lower()
            if "@" in name:
                raise ValueError(f"'{raw}' is an address: give its domain "
                                 f"({name.rsplit('@', 1)[1]})")
            try:
                name = name if name.isascii() else name.encode("idna").decode("ascii")
            except UnicodeError as err:
                raise ValueError(f"'{raw}' is not a domain name") from err
            if not _DOMAIN_NAME.match(name):
                raise ValueError(f"'{raw}' is not a domain name (e.g. amazon.com.mx)")
            out.append(name)
        return out

    @model_validator(mode="after")
    def _something_trusted(self) -> TrustedDomainsConfig:
        if self.replace and not self.add:
            raise ValueError("replace: true needs the domains to trust under add (with none, "
                             "no sender would count as Amazon)")
        return self


class MailboxConfig(StrictModel):
    """The seller's support mailbox (IMAP). The password comes from the environment."""

    host: str = Field(min_length=1)
    port: int = Field(default=993, ge=1, le=65535)
    tls: bool = True
    allow_plaintext: bool = False
    # A private certificate authority (PEM) to trust for the mail server, besides the
    # system's: for a server whose certificate a company CA signed.
    ca_file: Path | None = None
    user: str = Field(min_length=1)
    password_env: str
    spam_folders: list[str] = Field(default_factory=lambda: list(SPAM_NAMES))
    trash_folders: list[str] = Field(default_factory=lambda: list(TRASH_NAMES))
    # A list adds to Amazon's domains (the shape of earlier versions); {add, replace} too.
    trusted_domains: TrustedDomainsConfig | None = None
    # Whose Authentication-Results count (None: the topmost header's), and whether a mail
    # on an Amazon domain without any is refused (required) or trusted by its domain.
    authserv_id: str | None = None
    authentication: Literal["required", "when-present"] = "when-present"
    owner_addresses: list[str] = Field(default_factory=list)
    rules: list[dict[str, Any]] | None = None
    max_body_bytes: int = Field(default=65536, ge=1024, le=10_000_000)
    # Owner texts one escalated email each per run; the rest go out as one digest text.
    max_texts_per_run: int = Field(default=10, ge=0, le=1000)
    chunk_size: int = Field(default=2000, ge=1, le=10000)
    timeout_s: float = Field(default=30.0, gt=0, le=600)

    _env = field_validator("password_env")(check_env_name)

    _ca = field_validator("ca_file")(check_ca_file)

    @field_validator("spam_folders", "trash_folders")
    @classmethod
    def _folder_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name.strip():
                raise ValueError("a folder name is empty")
        return value

    @field_validator("trusted_domains", mode="before")
    @classmethod
    def _domain_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        return {"add": value} if isinstance(value, list) else value

    @field_validator("authserv_id")
    @classmethod
    def _authserv_id(cls, value: str | None) -> str | None:
        if value is not None and not _AUTHSERV_ID.match(value.strip()):
            raise ValueError(f"'{value}' is not an authserv-id (the name the receiving server "
                             "writes first in Authentication-Results, e.g. mx.google.com)")
        return value.strip().lower() if value is not None else None

    @field_validator("owner_addresses")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        for addr in value:
            if "@" not in addr:
                raise ValueError(f"'{addr}' is not an email address")
        return [a.strip().lower() for a in value]


class SmtpConfig(StrictModel):
    """The server the bot sends mail through: replies to escalated emails, and the owner's
    alerts on an email channel. TLS with certificate checks unless the server is this
    machine; the password comes from the environment."""

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    # starttls (587): the connection must be upgraded; tls (465): TLS from the start;
    # none: plaintext, only to this machine (or with allow_plaintext).
    security: Literal["starttls", "tls", "none"] = "starttls"
    allow_plaintext: bool = False
    ca_file: Path | None = None
    user: str = ""
    password_env: str | None = None
    from_address: str = Field(min_length=3)
    from_name: str = ""
    timeout_s: float = Field(default=30.0, gt=0, le=600)

    _env = field_validator("password_env")(check_env_name)

    @field_validator("from_address")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip()
        if "@" not in value or " " in value or "<" in value:
            raise ValueError(f"'{value}' is not an email address (give the bare address; "
                             "the name goes in from_name)")
        return value

    _ca = field_validator("ca_file")(check_ca_file)
