"""Where the ledger is kept (``ledger``): by default one SQLite file in the state folder
(no section); with ``url``, a PostgreSQL database that many processes and machines share,
its password from the environment."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import field_validator

from rpa.config.base import StrictModel, check_env_name


class LedgerConfig(StrictModel):
    """The PostgreSQL ledger: ``url`` (postgresql://user@host:5432/database, never with a
    password; libpq's ``?sslmode=...`` and the like may follow) and ``password_env``, the
    environment variable holding the password (none: libpq's own means, such as
    ~/.pgpass or a local socket's peer authentication)."""

    url: str
    password_env: str | None = None

    _env = field_validator("password_env")(check_env_name)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            parts = urlsplit(value.strip())
            parts.port  # noqa: B018 - a port that is not a number raises here
        except ValueError as err:
            raise ValueError(f"not a URL ({err})") from err
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("must start with postgresql:// (postgresql://user@host:5432/db)")
        if parts.password is not None:
            raise ValueError("holds a password: put it in the environment variable that "
                             "password_env names, never in this file")
        if not parts.path.strip("/"):
            raise ValueError("names no database (postgresql://user@host:5432/db)")
        return value.strip()
