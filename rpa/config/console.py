"""The web console: the people who may sign in, their roles, and where it listens."""

from __future__ import annotations

import ipaddress
import re
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
    # The names the console answers to besides this machine's own (localhost, 127.0.0.1
    # and the listen address, always accepted): a reverse proxy's public name, with
    # ":port" when the proxy is not on 443 or 80. A request naming any other host is
    # refused (400), and a form is taken only from a page of these names.
    allowed_hosts: list[str] = Field(default_factory=list)

    @field_validator("users")
    @classmethod
    def _unique(cls, value: list[ConsoleUserConfig]) -> list[ConsoleUserConfig]:
        seen: set[str] = set()
        for user in value:
            if user.name.lower() in seen:
                raise ValueError(f"user '{user.name}' is listed twice")
            seen.add(user.name.lower())
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        """Each entry as ``name``, ``name:port``, an address or ``[IPv6]:port``; kept in
        lower case, an IPv6 address in brackets."""
        out: list[str] = []
        for entry in value:
            text = entry.strip().lower().rstrip(".")
            host, port = text, ""
            found = re.fullmatch(r"\[([0-9a-f:.]+)\](?::(\d{1,5}))?|([^:\[\]]+)(?::(\d{1,5}))?",
                                 text)
            if found is None and text.count(":") >= 2:  # an IPv6 address without brackets
                host = text
            elif found is not None:
                host, port = found[1] or found[3], found[2] or found[4] or ""
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                address = None
            name_ok = bool(re.fullmatch(r"(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}"
                                        r"(?<!-))*", host)) and len(host) <= 253
            if (address is None and not name_ok) or (port and not 0 < int(port) < 65536):
                raise ValueError(
                    f"'{entry}' is not a host name the console can be reached by: give a "
                    "name such as console.example.com (no scheme, path or wildcard), an "
                    "address, and ':port' only when the proxy is not on 443 or 80")
            shown = f"[{address}]" if address is not None and address.version == 6 else (
                str(address) if address is not None else host)
            out.append(f"{shown}:{int(port)}" if port else shown)
        return out
