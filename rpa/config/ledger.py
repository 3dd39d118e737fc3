"""Where the ledger is kept (``ledger``): by default one SQLite file in the state folder
(no section); with ``url``, a PostgreSQL database that many processes and machines share,
its password from the environment."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import field_validator

from rpa.config.base import StrictModel, check_env_name, check_server_url


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
        value = check_server_url(value, ("postgresql", "postgres"),
                                 "postgresql://user@host:5432/db")
        if not urlsplit(value).path.strip("/"):
            raise ValueError("names no database (postgresql://user@host:5432/db)")
        return value
