"""What every section of the configuration shares: the strict model (an unknown key is an
error), the checks of an environment variable's name and of a CA file, and whether a host
is this machine."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# A key the model does not know is an error (a misspelt key must not be ignored
# silently); the models stay mutable because loading makes their paths absolute.
class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


def check_ca_file(value: Path | None) -> Path | None:
    """A private certificate authority (PEM) to trust: ``~`` expanded, and an absolute
    path must name a file (a relative one is read from where the bot runs)."""
    if value is None:
        return None
    value = Path(os.path.expanduser(str(value)))
    if value.is_absolute() and not value.is_file():
        raise ValueError(f"{value} is not a file (a PEM certificate of the CA to trust)")
    return value


def check_env_name(value: str | None) -> str | None:
    """The name of an environment variable (letters, digits, ``_``; not a digit first)."""
    if value is not None and not _ENV_NAME.match(value):
        raise ValueError(f"'{value}' is not an environment variable name")
    return value


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def check_server_url(value: str, schemes: tuple[str, ...], example: str) -> str:
    """A server's URL as a section names it (``example`` shows the form): one of
    ``schemes``, a port that is a number, a host, and never a password (that belongs in
    the environment variable the section's ``password_env`` names)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError as err:
        raise ValueError(f"not a URL ({err})") from err
    if parts.scheme not in schemes:
        raise ValueError(f"must start with {' or '.join(s + '://' for s in schemes)} "
                         f"({example})")
    if parts.password is not None:
        raise ValueError("holds a password: put it in the environment variable that "
                         "password_env names, never in this file")
    if not parts.hostname and not parts.path.strip("/"):
        raise ValueError(f"names no server ({example})")
    return value.strip()


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine: localhost, 127.0.0.0/8 or ::1."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
