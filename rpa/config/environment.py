"""Secrets, which only the environment holds: which ones a run needs, read up front, and
the configuration shown with each secret's variable marked set or not."""

from __future__ import annotations

import os
from typing import Any

from rpa.config.accounts import AccountConfig
from rpa.config.model import Config
from rpa.errors import ConfigError


def secret(var: str, *, source: str = "", key: str = "") -> str:
    """Read a secret from the environment; a missing one is a ConfigError naming the variable."""
    value = os.environ.get(var, "")
    if not value:
        raise ConfigError(f"environment variable {var} is not set (needed for {key})",
                          file=source, key=key)
    return value


# The secrets each flow itself uses; Seller Central flows reach "login" through their
# needs (registry.plan puts it in front), so only "login" holds the Seller Central ones,
# but for the read-only visits that sign in themselves once their browser is guarded
# (selectors_check, teach). The owner's channels are needed by every flow.
FLOW_SECRETS: dict[str, tuple[str, ...]] = {
    "login": ("password", "totp_secret"),
    "selectors_check": ("password", "totp_secret"),
    "teach": ("password", "totp_secret"),
    "mailbox": ("mailbox.password", "smtp.password"),
    "email_answers": ("mailbox.password", "smtp.password"),
}


def needed_secrets(cfg: Config, account: AccountConfig,
                   flows: list[str] | None = None) -> dict[str, tuple[str, str]]:
    """Secret name -> (environment variable, config key) for a run of ``flows``.

    ``flows`` are every flow the run runs, those they need included (``registry.plan``);
    None means every secret any flow may need.
    """
    idx = cfg.accounts.index(account)
    wanted = ({name for names in FLOW_SECRETS.values() for name in names} if flows is None
              else {name for fl in flows for name in FLOW_SECRETS.get(fl, ())})
    out: dict[str, tuple[str, str]] = {}
    if "password" in wanted:
        out["password"] = (account.password_env, f"accounts[{idx}].password_env")
    if "totp_secret" in wanted:
        out["totp_secret"] = (account.totp_secret_env, f"accounts[{idx}].totp_secret_env")
    notify, where = cfg.notify_for(account)
    for name, ch in notify.channels():  # the account's own channels, else the top-level ones
        if ch.url_env:
            out[f"notify.{name}"] = (ch.url_env, f"{where}.{name}.url_env")
    if cfg.ledger is not None and cfg.ledger.password_env:  # every run writes the ledger
        out["ledger.password"] = (cfg.ledger.password_env, "ledger.password_env")
    if cfg.mailbox is not None and "mailbox.password" in wanted:
        out["mailbox.password"] = (cfg.mailbox.password_env, "mailbox.password_env")
    if cfg.smtp is not None and cfg.smtp.password_env and (
            "smtp.password" in wanted or any(ch.email_to for _k, ch in notify.channels())):
        # an owner channel that is an email is sent through ``smtp`` by every flow
        out["smtp.password"] = (cfg.smtp.password_env, "smtp.password_env")
    return out


def check_secrets(cfg: Config, account: AccountConfig,
                  flows: list[str] | None = None) -> dict[str, str]:
    """Resolve the secrets the run needs, up front, so a missing one stops it before Chromium.

    Only the secrets of ``flows`` (every flow the run runs, needs included) are asked for:
    a mailbox-only run needs no Seller Central password. ``flows`` None: every secret.
    """
    return {name: secret(var, source=cfg.source, key=key)
            for name, (var, key) in needed_secrets(cfg, account, flows).items()}


def redacted_summary(cfg: Config) -> dict[str, Any]:
    """The configuration with secret-bearing values replaced by whether they are set."""
    data = cfg.model_dump(mode="json")
    for acc in data["accounts"]:
        for k in ("password_env", "totp_secret_env"):
            acc[k] = f"{acc[k]} ({'set' if os.environ.get(acc[k]) else 'NOT SET'})"
    sections = [data["notify"], *(acc["notify"] for acc in data["accounts"] if acc.get("notify"))]
    chans = [ch for notify in sections
             for ch in (notify.get("sms"), notify.get("details"), *notify.get("fallback", []))]
    for ch in chans:
        if ch and ch.get("url_env"):
            is_set = "set" if os.environ.get(ch["url_env"]) else "NOT SET"
            ch["url_env"] = f"{ch['url_env']} ({is_set})"
    for user in (data.get("console") or {}).get("users") or []:
        user["password_hash"] = "(set: an Argon2 hash)"
    if data.get("smtp") and data["smtp"].get("password_env"):
        env = data["smtp"]["password_env"]
        data["smtp"]["password_env"] = f"{env} ({'set' if os.environ.get(env) else 'NOT SET'})"
    if data.get("ledger") and data["ledger"].get("password_env"):
        env = data["ledger"]["password_env"]
        data["ledger"]["password_env"] = f"{env} ({'set' if os.environ.get(env) else 'NOT SET'})"
    if data.get("mailbox"):
        env = data["mailbox"]["password_env"]
        data["mailbox"]["password_env"] = f"{env} ({'set' if os.environ.get(env) else 'NOT SET'})"
    return data
