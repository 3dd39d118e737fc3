"""Configuration: one YAML file validated strictly, secrets only from the environment.

The YAML never holds a secret; it names the environment variable that does. A ``.env``
file beside the config (or in the working folder) may supply those variables; values
already in the environment win.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tempfile
import types
import typing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from rpa.errors import ConfigError
from rpa.patterns import PatternError, compile_pattern
from rpa.seller_central import replies as _replies
from rpa.seller_central.messaging import DEFAULT_MAX_CHARS

DEFAULT_CONFIG = "rpa.yaml"
# "answers" after the mailbox: an answer the owner emailed reaches the buyer the same run.
DEFAULT_FLOWS = ("login", "dashboard", "performance", "buyer_messages", "mailbox", "answers",
                 "followups")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


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


def _ca_file(value: Path | None) -> Path | None:
    """A private certificate authority (PEM) to trust: ``~`` expanded, and an absolute
    path must name a file (a relative one is read from where the bot runs)."""
    if value is None:
        return None
    value = Path(os.path.expanduser(str(value)))
    if value.is_absolute() and not value.is_file():
        raise ValueError(f"{value} is not a file (a PEM certificate of the CA to trust)")
    return value


def _check_env_name(value: str | None) -> str | None:
    if value is not None and not _ENV_NAME.match(value):
        raise ValueError(f"'{value}' is not an environment variable name")
    return value


class AccountConfig(_Strict):
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

    _env = field_validator("password_env", "totp_secret_env")(_check_env_name)

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


class VaConfig(_Strict):
    """The virtual assistant the bot works for: signs replies and texts."""

    full_name: str = Field(min_length=3)
    initials: str = Field(min_length=1, max_length=5)


class ChannelConfig(_Strict):
    """A notification channel: an Apprise URL (which may hold a token) from the
    environment, or ``email_to``: an email to the owner sent through ``smtp``, with a
    Message-ID of the bot's own so that the owner's reply is matched to its code."""

    url_env: str | None = None
    email_to: str | None = None
    max_chars: int | None = Field(default=None, ge=40)
    label: str | None = None
    # Texts in GSM-7 only (accents folded, other letters and emoji replaced) so a text
    # keeps 160 characters a segment instead of UCS-2's 70.
    transliterate: bool = False

    _env = field_validator("url_env")(_check_env_name)

    @model_validator(mode="after")
    def _one_way(self) -> ChannelConfig:
        if (self.url_env is None) == (self.email_to is None):
            raise ValueError("give url_env (an Apprise URL in the environment) or email_to "
                             "(an address, sent through smtp), one of the two")
        if self.email_to is not None and ("@" not in self.email_to or " " in self.email_to):
            raise ValueError(f"email_to: '{self.email_to}' is not an email address")
        return self


class NotifyConfig(_Strict):
    """Owner channels: ``sms`` for short texts, ``details`` for longer ones, then fallbacks."""

    sms: ChannelConfig | None = None
    details: ChannelConfig | None = None
    fallback: list[ChannelConfig] = Field(default_factory=list)


class BrowserConfig(_Strict):
    headless: bool = True
    executable_path: str | None = None
    slow_mo_ms: int = Field(default=0, ge=0)
    # Seller Central pages take 15-25 s to first paint (evidence S1, S2): an element is
    # waited for up to 30 s before the page counts as not showing it.
    timeout_ms: int = Field(default=30000, ge=1000)
    navigation_timeout_ms: int = Field(default=30000, ge=1000)
    trace: bool = True
    # DOM snapshots in the trace: handy when a selector breaks, but ~0.2 s a page, and the
    # step screenshots are the reviewers' evidence; off unless asked for.
    trace_snapshots: bool = False
    # PNG encoding of the screenshots: "compact" is Chromium's smallest file; "fast" the same
    # pixels in about half the encoding time and ~40 % more disk (up to ~35 ms a buyer thread
    # on a 2-core machine; docs/benchmarks.md).
    screenshots: Literal["compact", "fast"] = "compact"


class PathsConfig(_Strict):
    state_dir: Path = Path("state")
    recordings_dir: Path = Path("recordings")
    selectors_file: Path | None = None


class RetryConfig(_Strict):
    attempts: int = Field(default=3, ge=1, le=10)


def _valid_pattern(value: str) -> str:
    try:
        compile_pattern(value)
    except PatternError as err:
        raise ValueError(f"pattern {value!r}: {err}") from err
    return value


def _valid_text(value: str) -> str:
    try:
        _replies.check_placeholders(value)
    except PatternError as err:
        raise ValueError(str(err)) from err
    if not value.strip():
        raise ValueError("the text is empty")
    return value


Pattern = Annotated[str, AfterValidator(_valid_pattern)]
ReplyText = Annotated[str, AfterValidator(_valid_text)]


class ReplyTemplateConfig(_Strict):
    """A known question and its answer: the first template whose ``when`` matches is used."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    when: list[Pattern] = Field(min_length=1)
    unless: list[Pattern] = Field(default_factory=list)
    text: ReplyText


class TopicConfig(_Strict):
    name: str = Field(min_length=1)
    when: list[Pattern] = Field(min_length=1)


class HoldingReplyConfig(_Strict):
    """The reply to a question nobody has an answer for yet; names the topic, signed."""

    text: ReplyText = _replies.DEFAULT_HOLDING_TEXT
    topics: list[TopicConfig] = Field(
        default_factory=lambda: [TopicConfig(**t) for t in _replies.DEFAULT_TOPICS])


class NoResponseConfig(_Strict):
    """Messages that need no answer (a thank-you alone): marked "No response needed"."""

    when: list[Pattern] = Field(default_factory=list)
    unless: list[Pattern] = Field(default_factory=list)
    max_chars: int | None = Field(default=None, ge=1)


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine: localhost, 127.0.0.0/8 or ::1."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
# Folder names the seller gives are tried before the server's SPECIAL-USE flags and the
# well-known names (rpa.mail.folders); by default none, so discovery decides.
SPAM_NAMES: list[str] = []
TRASH_NAMES: list[str] = []


_DOMAIN_NAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_AUTHSERV_ID = re.compile(r"^[^\s;()\"]+$")


class TrustedDomainsConfig(_Strict):
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


class MailboxConfig(_Strict):
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

    _env = field_validator("password_env")(_check_env_name)

    _ca = field_validator("ca_file")(_ca_file)

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


class SmtpConfig(_Strict):
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

    _env = field_validator("password_env")(_check_env_name)

    @field_validator("from_address")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip()
        if "@" not in value or " " in value or "<" in value:
            raise ValueError(f"'{value}' is not an email address (give the bare address; "
                             "the name goes in from_name)")
        return value

    _ca = field_validator("ca_file")(_ca_file)


class MessagingConfig(_Strict):
    max_chars: int = Field(default=DEFAULT_MAX_CHARS, ge=100, le=20000)


_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)d)?\s*(?:(\d+(?:\.\d+)?)h)?$")
MAX_FOLLOWUP = timedelta(days=90)


def _duration(value: Any) -> timedelta:
    """A waiting time: a number of hours (36), or days and/or hours ("2d", "36h",
    "1d12h"); more than nothing and at most 90 days."""
    if isinstance(value, timedelta):
        span = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        span = timedelta(hours=value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        found = _DURATION.match(text) if text else None
        if found is None or not any(found.groups()):
            raise ValueError(f"{value!r} is not a waiting time: give hours (48) or days and "
                             "hours (2d, 36h, 1d12h)")
        span = timedelta(days=float(found[1] or 0), hours=float(found[2] or 0))
    if span <= timedelta(0) or span > MAX_FOLLOWUP:
        raise ValueError(f"{value!r} must be more than nothing and at most 90 days")
    return span


def _duration_text(span: timedelta) -> str:
    """A waiting time as the configuration writes it ("2d", "36h" -> "1d12h")."""
    days, rest = divmod(span.total_seconds() / 3600, 24)
    return (f"{days:g}d" if days else "") + (f"{rest:g}h" if rest or not days else "")


Duration = Annotated[timedelta, BeforeValidator(_duration),
                     PlainSerializer(_duration_text, return_type=str)]


class FollowupsConfig(_Strict):
    """Reminders for escalations the owner has not answered: texted again
    ``followup_after`` the first text, then sent to every fallback channel
    ``fallback_after`` the reminder; at most ``max_per_run`` of each a run (the rest the
    next run)."""

    followup_after: Duration = timedelta(days=2)
    fallback_after: Duration = timedelta(days=1)
    max_per_run: int = Field(default=10, ge=1, le=1000)


ROLES = ("viewer", "va", "owner")  # each may do what the ones before it may, and more


class ConsoleUserConfig(_Strict):
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


class ConsoleConfig(_Strict):
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


class ScheduleEntry(_Strict):
    """One scheduled run: a cron expression (minute hour day month weekday) in the
    schedule's timezone, the flows (default: the config's) and the account (default: the
    first)."""

    cron: str
    flows: list[str] | None = None
    account: str | None = None
    dry_run: bool = False

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from cronsim import CronSim, CronSimError

        value = " ".join(value.split())
        if len(value.split()) != 5:
            raise ValueError(f"'{value}' is not a cron expression of five fields (minute "
                             "hour day-of-month month day-of-week), e.g. '0 8,13,18 * * 1-6'")
        try:
            CronSim(value, datetime(2026, 1, 1))
        except CronSimError as err:
            raise ValueError(f"'{value}' is not a valid cron expression: {err}") from err
        return value


class RetentionConfig(_Strict):
    """How long run folders are kept: the last ``keep_runs`` and those younger than
    ``keep_days`` (either may be unset); the newest failed run is always kept."""

    keep_days: int | None = Field(default=30, ge=1, le=3650)
    keep_runs: int | None = Field(default=None, ge=1, le=100_000)


class Config(_Strict):
    """The whole configuration file."""

    accounts: list[AccountConfig] = Field(min_length=1)
    va: VaConfig
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    browser: BrowserConfig = Field(default_factory=BrowserConfig)
    paths: PathsConfig = Field(default_factory=PathsConfig)
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
    source: str = Field(default="", exclude=True)

    def check_meaning(self) -> None:
        """Checks that span several keys; a ConfigError names the key at fault."""
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
        names = {a.name for a in self.accounts}
        for i, entry in enumerate(self.schedule):
            if entry.account is not None and entry.account not in names:
                raise ConfigError(f"no account named '{entry.account}' (known: "
                                  f"{', '.join(sorted(names))})", file=self.source,
                                  key=f"schedule[{i}].account")
        chans = [("notify.sms", self.notify.sms), ("notify.details", self.notify.details),
                 *((f"notify.fallback[{i}]", ch) for i, ch in enumerate(self.notify.fallback))]
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


def _problem(error: Any) -> tuple[str, str]:
    """One validation error as (key path, what is wrong), a misspelt key with its likely
    meaning."""
    loc = tuple(error["loc"])
    msg = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        known = _fields_at(loc[:-1])
        near = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        msg = f"unknown key; did you mean '{near[0]}'?" if near else (
            "unknown key" + (f" (known here: {', '.join(known)})" if known else ""))
    return _key_path(loc), msg


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class an annotation holds (directly, in a list, or optional)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType, Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys the configuration knows at ``loc`` (a path of keys and list indexes)."""
    model: type[BaseModel] | None = Config
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        info = model.model_fields.get(str(part))
        model = _model_in(info.annotation) if info is not None else None
    if model is None:
        return []
    return [name for name in model.model_fields if name != "source"]


def check_folders(cfg: Config) -> None:
    """The state and recordings folders can be written (or created): else a ConfigError
    naming the folder, before any browser starts."""
    for key in ("state_dir", "recordings_dir"):
        folder = Path(getattr(cfg.paths, key))
        probe = folder
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not probe.is_dir():
            raise ConfigError(f"{probe} is not a folder, so {folder} cannot be created",
                              file=cfg.source, key=f"paths.{key}")
        try:  # a real write: permissions, read-only mounts and ACLs all answer
            with tempfile.TemporaryFile(dir=probe):
                pass
        except OSError as err:
            where = "" if probe == folder else f" (in {probe}, where it would be created)"
            raise ConfigError(f"{folder} is not writable by this user{where}: "
                              f"{err.strerror or err}", file=cfg.source,
                              key=f"paths.{key}") from None


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_dotenv(*folders: Path) -> None:
    """Read KEY=VALUE lines from the first ``.env`` found; the real environment wins."""
    for folder in folders:
        path = folder / ".env"
        if not path.is_file():
            continue
        for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("export "):
                line = line[len("export "):]
            if "=" not in line:
                raise ConfigError(f"line {lineno}: expected KEY=VALUE", file=str(path))
            key, value = line.split("=", 1)
            value = value.strip().strip("'\"")
            os.environ.setdefault(key.strip(), value)
        return


def parse_config(data: Any, source: str = "<config>") -> Config:
    """Validate already-loaded YAML data; errors name the source, key path and expectation."""
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", file=source)
    try:
        cfg = Config.model_validate(data)
    except ValidationError as err:
        problems = [_problem(e) for e in err.errors()]
        if len(problems) == 1:
            key, msg = problems[0]
            raise ConfigError(msg, file=source, key=key) from err
        listed = "\n".join(f"  {key}: {msg}" for key, msg in problems)
        raise ConfigError(f"{len(problems)} problems:\n{listed}", file=source) from err
    cfg.source = source
    cfg.check_meaning()
    return cfg


def cache_dir(name: str) -> Path | None:
    """``~/.cache/rpa/<name>`` (or under ``$XDG_CACHE_HOME``), made if need be: compiled code
    kept between runs so that a run starts sooner, never a run's data. None when it cannot
    be made (a read-only home): the caller then does without."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = root / "rpa" / name
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path


# libyaml's loader when PyYAML was built with it: the same data, about ten times faster.
_FAST_YAML = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """Parse a YAML document (safe types only). A document the fast parser refuses is
    parsed again by the pure-Python one, whose error shows the line with a caret."""
    try:
        return yaml.load(text, Loader=_FAST_YAML)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return yaml.safe_load(text)


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate the YAML configuration file (default ``rpa.yaml``)."""
    cfg_path = Path(path or DEFAULT_CONFIG)
    if not cfg_path.is_file():
        raise ConfigError("file not found (create it from rpa.example.yaml)", file=str(cfg_path))
    try:
        data = load_yaml(cfg_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"not valid YAML: {err}", file=str(cfg_path)) from err
    load_dotenv(cfg_path.resolve().parent, Path.cwd())
    cfg = parse_config(data, str(cfg_path))
    base = cfg_path.resolve().parent
    for field in ("state_dir", "recordings_dir", "selectors_file"):
        value = getattr(cfg.paths, field)
        if value is not None:
            value = Path(os.path.expanduser(str(value)))
            setattr(cfg.paths, field, value if value.is_absolute() else base / value)
    if cfg.mailbox is not None and cfg.mailbox.ca_file is not None:
        ca = cfg.mailbox.ca_file
        ca = ca if ca.is_absolute() else base / ca
        if not ca.is_file():
            raise ConfigError(f"{ca} is not a file (a PEM certificate of the CA to trust)",
                              file=str(cfg_path), key="mailbox.ca_file")
        cfg.mailbox.ca_file = ca
    check_folders(cfg)
    return cfg


def secret(var: str, *, source: str = "", key: str = "") -> str:
    """Read a secret from the environment; a missing one is a ConfigError naming the variable."""
    value = os.environ.get(var, "")
    if not value:
        raise ConfigError(f"environment variable {var} is not set (needed for {key})",
                          file=source, key=key)
    return value


# The secrets each flow itself uses; Seller Central flows reach "login" through their
# needs (registry.plan puts it in front), so only "login" holds the Seller Central ones.
# The owner's channels are needed by every flow.
FLOW_SECRETS: dict[str, tuple[str, ...]] = {
    "login": ("password", "totp_secret"),
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
    for name in ("sms", "details"):
        ch = getattr(cfg.notify, name)
        if ch is not None and ch.url_env:
            out[f"notify.{name}"] = (ch.url_env, f"notify.{name}.url_env")
    for i, ch in enumerate(cfg.notify.fallback):
        if ch.url_env:
            out[f"notify.fallback[{i}]"] = (ch.url_env, f"notify.fallback[{i}].url_env")
    if cfg.mailbox is not None and "mailbox.password" in wanted:
        out["mailbox.password"] = (cfg.mailbox.password_env, "mailbox.password_env")
    if cfg.smtp is not None and cfg.smtp.password_env and (
            "smtp.password" in wanted or _emails_alerts(cfg)):
        out["smtp.password"] = (cfg.smtp.password_env, "smtp.password_env")
    return out


def _emails_alerts(cfg: Config) -> bool:
    """Whether an owner channel is an email (sent through ``smtp``, by every flow)."""
    chans = [cfg.notify.sms, cfg.notify.details, *cfg.notify.fallback]
    return any(ch is not None and ch.email_to for ch in chans)


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
    notify = data["notify"]
    chans = [notify.get("sms"), notify.get("details"), *notify.get("fallback", [])]
    for ch in chans:
        if ch and ch.get("url_env"):
            is_set = "set" if os.environ.get(ch["url_env"]) else "NOT SET"
            ch["url_env"] = f"{ch['url_env']} ({is_set})"
    for user in (data.get("console") or {}).get("users") or []:
        user["password_hash"] = "(set: an Argon2 hash)"
    if data.get("smtp") and data["smtp"].get("password_env"):
        env = data["smtp"]["password_env"]
        data["smtp"]["password_env"] = f"{env} ({'set' if os.environ.get(env) else 'NOT SET'})"
    if data.get("mailbox"):
        env = data["mailbox"]["password_env"]
        data["mailbox"]["password_env"] = f"{env} ({'set' if os.environ.get(env) else 'NOT SET'})"
    return data


