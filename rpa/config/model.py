"""The whole configuration file (``Config``): every section, the checks that span several
of them, and what is built from it (mail rules, trusted domains, the reply book)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from rpa.config.accounts import AccountConfig, VaConfig
from rpa.config.base import StrictModel, is_loopback
from rpa.config.codes import code_series
from rpa.config.console import ConsoleConfig
from rpa.config.followups import FollowupsConfig
from rpa.config.ledger import LedgerConfig
from rpa.config.mailbox import MailboxConfig, SmtpConfig
from rpa.config.notify import NotifyConfig
from rpa.config.queue import QueueConfig
from rpa.config.replies import (
    HoldingReplyConfig,
    MessagingConfig,
    NoResponseConfig,
    ReplyTemplateConfig,
)
from rpa.config.runtime import BrowserConfig, PathsConfig, RetryConfig
from rpa.config.schedule import RetentionConfig, ScheduleEntry
from rpa.errors import ConfigError
from rpa.messaging import replies as _replies

# "answers" after the mailbox: an answer the owner emailed reaches the buyer the same run.
DEFAULT_FLOWS = ("login", "dashboard", "performance", "buyer_messages", "mailbox", "answers",
                 "followups")


class Config(StrictModel):
    """The whole configuration file."""

    accounts: list[AccountConfig] = Field(min_length=1)
    va: VaConfig
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    browser: BrowserConfig = Field(default_factory=BrowserConfig)
    paths: PathsConfig = Field(default_factory=PathsConfig)
    # None: the SQLite file in paths.state_dir; a section: a PostgreSQL database.
    ledger: LedgerConfig | None = None
    # None: runs happen where they are asked for; a section: they go on a Redis queue
    # that ``rpa worker`` processes take them from (one machine or several).
    queue: QueueConfig | None = None
    retries: RetryConfig = Field(default_factory=RetryConfig)
    replies: list[ReplyTemplateConfig] = Field(
        default_factory=lambda: [ReplyTemplateConfig(**r) for r in _replies.DEFAULT_REPLIES])
    holding_reply: HoldingReplyConfig = Field(default_factory=HoldingReplyConfig)
    no_response_needed: NoResponseConfig = Field(
        default_factory=lambda: NoResponseConfig(**_replies.DEFAULT_NO_RESPONSE))
    messaging: MessagingConfig = Field(default_factory=MessagingConfig)
    mailbox: MailboxConfig | None = None
    smtp: SmtpConfig | None = None
    followups: FollowupsConfig = Field(default_factory=FollowupsConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    schedule: list[ScheduleEntry] = Field(default_factory=list)
    # The timezone cron expressions are read in (IANA name); default: this machine's.
    timezone: str | None = None
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    flows: list[str] = Field(default_factory=lambda: list(DEFAULT_FLOWS))
    # How many accounts run at once (``rpa run --all``, the schedule, the console's "all
    # accounts"); left out: from this machine's cores and free memory (rpa.run.fleet).
    concurrency: int | None = Field(default=None, ge=1, le=64)
    source: str = Field(default="", exclude=True)

    def check_meaning(self) -> None:
        """Checks that span several keys; a ConfigError names the key at fault."""
        if self.queue is not None and self.ledger is None:
            raise ConfigError("workers share one ledger: a queue needs the PostgreSQL ledger "
                              "(ledger: {url: postgresql://...}); the SQLite file is one "
                              "machine's", file=self.source, key="queue")
        text = self.holding_reply.text
        if "{va_full_name}" not in text and self.va.full_name not in text:
            raise ConfigError("must be signed with the VA's full name: put {va_full_name} "
                              "in it", file=self.source, key="holding_reply.text")
        seen: set[str] = set()
        for i, reply in enumerate(self.replies):
            if reply.name in seen:
                raise ConfigError(f"template name '{reply.name}' is used twice",
                                  file=self.source, key=f"replies[{i}].name")
            seen.add(reply.name)
        box = self.mailbox
        if box is not None:
            if not box.tls and not is_loopback(box.host) and not box.allow_plaintext:
                raise ConfigError(f"tls is off for {box.host}, which is not this machine: the "
                                  "password would cross the network unencrypted (set "
                                  "allow_plaintext: true if you must)", file=self.source,
                                  key="mailbox.tls")
            self.mail_rules()
        if self.timezone is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError) as err:
                raise ConfigError(f"'{self.timezone}' is not a timezone this machine knows "
                                  "(an IANA name such as Europe/Berlin or America/New_York)",
                                  file=self.source, key="timezone") from err
        names: set[str] = set()
        for i, acc in enumerate(self.accounts):
            if acc.name in names:  # its lock, state and runs would be another account's
                raise ConfigError(f"account name '{acc.name}' is used twice", file=self.source,
                                  key=f"accounts[{i}].name")
            names.add(acc.name)
        self.code_series()
        for i, entry in enumerate(self.schedule):
            if entry.account is not None and entry.account not in names:
                raise ConfigError(f"no account named '{entry.account}' (known: "
                                  f"{', '.join(sorted(names))})", file=self.source,
                                  key=f"schedule[{i}].account")
        chans = [(f"{where}.{name}", ch) for notify, where in self.notify_sections()
                 for name, ch in notify.channels()]
        for key, ch in chans:
            if ch is not None and ch.email_to and self.smtp is None:
                raise ConfigError("an email channel needs the smtp section (the server its "
                                  "mail goes through)", file=self.source, key=f"{key}.email_to")
        smtp = self.smtp
        if smtp is not None:
            if smtp.security == "none" and not is_loopback(smtp.host) \
                    and not smtp.allow_plaintext:
                raise ConfigError(f"security is none for {smtp.host}, which is not this "
                                  "machine: mail and password would cross the network "
                                  "unencrypted (use starttls or tls, or set allow_plaintext: "
                                  "true if you must)", file=self.source, key="smtp.security")
            if smtp.user and not smtp.password_env:
                raise ConfigError("a user is given but no password_env (the environment "
                                  "variable holding the SMTP password)", file=self.source,
                                  key="smtp.password_env")

    def mail_rules(self) -> list[Any]:
        """The mailbox rules (the operating instructions' by default), validated."""
        from rpa.mail import rules as mailrules

        if self.mailbox is None or self.mailbox.rules is None:
            return list(mailrules.DEFAULT_RULES)
        return mailrules.parse_rules(self.mailbox.rules, self.source)

    def trusted_domains(self) -> list[str]:
        """Amazon's domains (every marketplace and its buyer relay) plus the configured
        ones, or only the configured ones with ``replace: true``."""
        from rpa.mail import rules as mailrules

        extra = self.mailbox.trusted_domains if self.mailbox is not None else None
        if extra is None:
            return list(mailrules.DEFAULT_TRUSTED_DOMAINS)
        base = [] if extra.replace else list(mailrules.DEFAULT_TRUSTED_DOMAINS)
        return list(dict.fromkeys([*base, *extra.add]))

    def reply_book(self) -> _replies.ReplyBook:
        """The compiled templates, holding reply and no-response rules."""
        nr = self.no_response_needed
        return _replies.ReplyBook(
            templates=[_replies.Template(r.name, _replies.Matcher.build(r.when, r.unless),
                                         r.text) for r in self.replies],
            holding_text=self.holding_reply.text,
            topics=[_replies.Topic(t.name, _replies.Matcher.build(t.when))
                    for t in self.holding_reply.topics],
            no_response=(_replies.Matcher.build(nr.when, nr.unless, nr.max_chars)
                         if nr.when else None),
            va_full_name=self.va.full_name,
        )

    def notify_for(self, account: AccountConfig) -> tuple[NotifyConfig, str]:
        """The owner's channels of ``account`` (its own ``notify``, else the top-level one)
        and the key they are written under, for messages."""
        if account.notify is not None:
            return account.notify, f"accounts[{self.accounts.index(account)}].notify"
        return self.notify, "notify"

    def code_series(self) -> dict[str, str]:
        """Each account's escalation code prefix by name ({}: one account, one plain
        series); ConfigError when two would share one (rpa.config.codes)."""
        return code_series(self.accounts, self.source)

    def notify_sections(self) -> list[tuple[NotifyConfig, str]]:
        """Every ``notify`` section of the file with its key: the top-level one, then each
        account's own."""
        return [(self.notify, "notify"),
                *((acc.notify, f"accounts[{i}].notify") for i, acc in enumerate(self.accounts)
                  if acc.notify is not None)]

    def account(self, name: str | None = None) -> AccountConfig:
        """The named account, or the first one."""
        if name is None:
            return self.accounts[0]
        for acc in self.accounts:
            if acc.name == name:
                return acc
        known = ", ".join(a.name for a in self.accounts)
        raise ConfigError(f"no account named '{name}' (known: {known})", file=self.source,
                          key="accounts")
