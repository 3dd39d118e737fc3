"""Configuration: one YAML file validated strictly, secrets only from the environment.

The YAML never holds a secret; it names the environment variable that does. A ``.env``
file beside the config (or in the working folder) may supply those variables; values
already in the environment win.

One section or concern a module: ``base`` (the strict model every section is, and the
checks they share: environment variable names, CA files, loopback hosts), ``accounts``
(the Seller Central accounts, their language, the VA), ``codes`` (each account's series
of escalation codes once there are several: ACME-B001), ``notify`` (the owner's channels),
``runtime`` (the browser, the state and recordings folders, retries), ``ledger`` (where
the ledger is kept: the SQLite file, or a PostgreSQL database), ``queue`` (runs on a Redis
queue for ``rpa worker`` processes), ``replies`` (reply
templates, the holding reply, messages needing no answer, the buyer message's length),
``mailbox`` (the support mailbox over IMAP and sending over SMTP), ``followups``
(reminders of unanswered escalations, waiting times), ``console`` (who may sign in, and
where it listens), ``schedule`` (scheduled runs, how long run folders are kept), ``model``
(``Config``, the whole file, with the checks that span sections), ``validation`` (data to a
``Config``; errors with their key path and a did-you-mean; writable folders), ``loading``
(the file from disk, ``.env``, the cache folder) and ``environment`` (the secrets a run
needs, and the summary that hides them). Callers import every name from ``rpa.config``.

Imports only the cross-cutting top-level pieces (errors, redaction, logs, patterns, text
hygiene, ``rpa.smtp``) and the rules it validates when it loads (``rpa.messaging``: reply
templates and Amazon's messaging rules; ``rpa.mail.rules``); never ``rpa.run``, ``rpa.ledger``,
``rpa.owner``, ``rpa.console``, ``rpa.scheduling``, ``rpa.practice``, the CLI or ``flows``.
"""

from __future__ import annotations

from rpa.config.accounts import (
    AUTO_LANGUAGE,
    LANGUAGES,
    MARKETPLACE_LANGUAGES,
    AccountConfig,
    VaConfig,
    language_for_marketplace,
)
from rpa.config.base import LOOPBACK, is_loopback
from rpa.config.console import ROLES, ConsoleConfig, ConsoleUserConfig
from rpa.config.environment import (
    FLOW_SECRETS,
    check_secrets,
    needed_secrets,
    redacted_summary,
    secret,
)
from rpa.config.followups import MAX_FOLLOWUP, Duration, FollowupsConfig
from rpa.config.ledger import LedgerConfig
from rpa.config.loading import DEFAULT_CONFIG, cache_dir, load_config, load_dotenv, load_yaml
from rpa.config.mailbox import (
    SPAM_NAMES,
    TRASH_NAMES,
    MailboxConfig,
    SmtpConfig,
    TrustedDomainsConfig,
)
from rpa.config.model import DEFAULT_FLOWS, Config
from rpa.config.notify import ChannelConfig, NotifyConfig
from rpa.config.queue import QueueConfig
from rpa.config.replies import (
    HoldingReplyConfig,
    MessagingConfig,
    NoResponseConfig,
    Pattern,
    ReplyTemplateConfig,
    ReplyText,
    TopicConfig,
)
from rpa.config.runtime import BrowserConfig, PathsConfig, RetryConfig
from rpa.config.schedule import RetentionConfig, ScheduleEntry
from rpa.config.validation import check_folders, parse_config

__all__ = [
    "AUTO_LANGUAGE", "DEFAULT_CONFIG", "DEFAULT_FLOWS", "FLOW_SECRETS", "LANGUAGES", "LOOPBACK",
    "MARKETPLACE_LANGUAGES", "MAX_FOLLOWUP", "ROLES", "SPAM_NAMES", "TRASH_NAMES",
    "AccountConfig", "BrowserConfig", "ChannelConfig", "Config", "ConsoleConfig",
    "ConsoleUserConfig", "Duration", "FollowupsConfig", "HoldingReplyConfig", "LedgerConfig",
    "MailboxConfig", "QueueConfig",
    "MessagingConfig", "NoResponseConfig", "NotifyConfig", "PathsConfig", "Pattern",
    "ReplyTemplateConfig", "ReplyText", "RetentionConfig", "RetryConfig", "ScheduleEntry",
    "SmtpConfig", "TopicConfig", "TrustedDomainsConfig", "VaConfig", "cache_dir",
    "check_folders", "check_secrets", "is_loopback", "language_for_marketplace",
    "load_config", "load_dotenv", "load_yaml", "needed_secrets", "parse_config",
    "redacted_summary", "secret",
]
