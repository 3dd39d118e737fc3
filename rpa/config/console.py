"""The web console: the people who may sign in, their roles, and where it listens."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from rpa.config.base import StrictModel

ROLES = ("viewer", "va", "owner")  # each may do what the ones before it may, and more


class ConsoleUserConfig(StrictModel):
    """One person who may sign in to the console: ``viewer`` reads runs, ``va`` also
    starts runs, ``owner`` also answers escalations. Only the Argon2 hash of the password
    is kept (``rpa console add-user`` writes it)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Literal["viewer", "va", "owner"]
    password_hash: str = Field(min_length=20)

    @field_validator("password_hash")
    @classmethod
    def _argon2(cls, value: str) -> str:
        if not value.startswith("$argon2"):
            raise ValueError("not an Argon2 hash (make one with `rpa console add-user`); a "
                             "password is never written here in clear")
        return value


class ConsoleConfig(StrictModel):
    """The web console: who may sign in, and where it listens (loopback unless told)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=1, le=65535)
    users: list[ConsoleUserConfig] = Field(default_factory=list)
    # Behind a reverse proxy that terminates HTTPS: cookies are marked Secure.
    https: bool = False
    session_hours: float = Field(default=12, gt=0, le=24 * 30)

    @field_validator("users")
    @classmethod
    def _unique(cls, value: list[ConsoleUserConfig]) -> list[ConsoleUserConfig]:
        seen: set[str] = set()
        for user in value:
            if user.name.lower() in seen:
                raise ValueError(f"user '{user.name}' is listed twice")
            seen.add(user.name.lower())
        return value
