"""The throwaway server's dovecot.conf, written from plain values.

Dovecot refuses to run mail processes as root, so when this runs as root the mail belongs to
uid/gid 65534 (nobody/nogroup) and Dovecot's own helper processes run as its usual system
users (``dovenull``/``dovecot``, or ``nobody`` where those don't exist). As any other user,
everything runs as that user. ``DovecotConfig.for_this_process`` works these out once;
``config_text`` only formats what it is given.

Dovecot 2.3 and 2.4 take different configuration syntax; the caller passes the installed
version (from ``dovecot --version``) and ``config_text`` writes the matching one.
"""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from rpa.practice.dovecot.install import user_exists

NOBODY = 65534

# Folder name -> SPECIAL-USE flag ("" for none), INBOX aside.
LAYOUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "special-use": (
        ("Junk", "\\Junk"),
        ("Trash", "\\Trash"),
        ("Sent", "\\Sent"),
        ("Drafts", "\\Drafts"),
    ),
    "outlook": (
        ("Junk Email", ""),
        ("Deleted Items", ""),
        ("Sent Items", ""),
    ),
    # cPanel/Courier style: every folder under the "INBOX." namespace prefix, "." between
    # levels (INBOX.Junk, INBOX.Trash), no SPECIAL-USE.
    "courier": (
        ("Junk", ""),
        ("Trash", ""),
        ("Sent", ""),
        ("Drafts", ""),
    ),
    # "/" between levels, Spam and Trash as children of INBOX, and a folder whose name only
    # starts like a spam folder.
    "inbox-children": (
        ("INBOX/Spam", ""),
        ("INBOX/Trash", ""),
        ("Sent", ""),
        ("Spam reports", ""),
    ),
    # A French mailbox without SPECIAL-USE: non-ASCII names travel in modified UTF-7.
    "french": (
        ("Courrier indésirable", ""),
        ("Corbeille", ""),
        ("Éléments envoyés", ""),
    ),
    # No Spam folder at all (only one that is named like it), Trash flagged.
    "no-spam": (
        ("Trash", "\\Trash"),
        ("Sent", "\\Sent"),
        ("Spam reports", ""),
    ),
}
# Layout -> (namespace prefix, hierarchy separator), where not the plain ("", "/").
NAMESPACES: dict[str, tuple[str, str]] = {
    "courier": ("INBOX.", "."),
}


def mail_ids() -> tuple[int, int]:
    """(uid, gid) the mail belongs to: nobody/nogroup as root, else this process's own."""
    return (NOBODY, NOBODY) if os.geteuid() == 0 else (os.geteuid(), os.getegid())


def service_users() -> tuple[str, str, str]:
    """(login user, internal user, internal group) for Dovecot's own processes."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid()).pw_name
        try:
            group = grp.getgrgid(os.getegid()).gr_name
        except KeyError:
            group = str(os.getegid())
        return me, me, group
    login = "dovenull" if user_exists("dovenull") else "nobody"
    internal = "dovecot" if user_exists("dovecot") else "nobody"
    gid = pwd.getpwnam(internal).pw_gid
    return login, internal, grp.getgrgid(gid).gr_name


@dataclass(frozen=True)
class DovecotConfig:
    """Everything dovecot.conf says, as plain values.

    ``chroot`` is whether Dovecot may chroot its login processes (its default); that needs a
    master running as root, so otherwise the config switches chrooting off.
    """

    root: Path
    home: Path
    log_path: Path
    host: str
    port: int
    layout: str
    mail_uid: int
    mail_gid: int
    login_user: str
    internal_user: str
    internal_group: str
    chroot: bool

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown layout {self.layout!r}; "
                             f"expected one of {sorted(LAYOUTS)}")

    @classmethod
    def for_this_process(cls, *, root: Path, home: Path, log_path: Path, host: str, port: int,
                         layout: str) -> DovecotConfig:
        """The config for a server started by this process (as root or not)."""
        uid, gid = mail_ids()
        login_user, internal_user, internal_group = service_users()
        return cls(root=root, home=home, log_path=log_path, host=host, port=port,
                   layout=layout, mail_uid=uid, mail_gid=gid, login_user=login_user,
                   internal_user=internal_user, internal_group=internal_group,
                   chroot=os.geteuid() == 0)


def config_text(settings: DovecotConfig, version: tuple[int, int] | None) -> str:
    """dovecot.conf for Dovecot ``version``: 2.4 syntax from 2.4 on, else (or unknown) 2.3."""
    return _config_24(settings) if version and version >= (2, 4) else _config_23(settings)


def _common_settings(settings: DovecotConfig) -> str:
    """The settings both syntaxes spell the same way."""
    return (
        f"base_dir = {settings.root}/run\n"
        f"state_dir = {settings.root}/state\n"
        f"log_path = {settings.log_path}\n"
        "protocols = imap\n"
        f"listen = {settings.host}\n"
        "ssl = no\n"
        "auth_mechanisms = plain login\n"
        f"default_login_user = {settings.login_user}\n"
        f"default_internal_user = {settings.internal_user}\n"
        f"default_internal_group = {settings.internal_group}\n"
        "first_valid_uid = 1\n"
        "first_valid_gid = 1\n"
        "mail_fsync = never\n"
        "protocol imap {\n"
        "  mail_max_userip_connections = 1000\n"
        "}\n"
    )


def _mailbox_blocks(layout: str) -> str:
    """One auto-subscribed ``mailbox`` block per folder of ``layout``."""
    blocks = []
    for name, flag in LAYOUTS[layout]:
        lines = [f'  mailbox "{name}" {{', "    auto = subscribe"]
        if flag:
            lines.append(f"    special_use = {flag}")
        lines.append("  }")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def _service_blocks(settings: DovecotConfig) -> str:
    """The IMAP listener on ``port`` (no IMAPS); chrooting off where it can't work."""
    no_chroot = "" if settings.chroot else "  chroot =\n"
    return (
        "service imap-login {\n"
        f"{no_chroot}"
        "  inet_listener imap {\n"
        f"    port = {settings.port}\n"
        "  }\n"
        "  inet_listener imaps {\n"
        "    port = 0\n"
        "  }\n"
        "}\n"
        + ("service anvil {\n  chroot =\n}\n" if no_chroot else "")
    )


def _namespace_and_services(settings: DovecotConfig) -> str:
    """The same in both syntaxes: the one namespace with its folders, the services."""
    prefix, separator = NAMESPACES.get(settings.layout, ("", "/"))
    prefix_line = f"  prefix = {prefix}\n" if prefix else ""
    return (f"namespace inbox {{\n  inbox = yes\n  separator = {separator}\n{prefix_line}"
            f"{_mailbox_blocks(settings.layout)}\n}}\n" + _service_blocks(settings))


def _config_23(settings: DovecotConfig) -> str:
    """dovecot.conf in Dovecot 2.3 syntax."""
    return (
        "# Generated by rpa.practice.dovecot (Dovecot 2.3 syntax): a throwaway test server.\n"
        + _common_settings(settings)
        + "disable_plaintext_auth = no\n"
        f"mail_location = maildir:{settings.home}/Maildir\n"
        "passdb {\n"
        "  driver = passwd-file\n"
        f"  args = {settings.root}/passwd\n"
        "}\n"
        "userdb {\n"
        "  driver = static\n"
        f"  args = uid={settings.mail_uid} gid={settings.mail_gid} home={settings.home}\n"
        "}\n"
        + _namespace_and_services(settings)
    )


def _config_24(settings: DovecotConfig) -> str:
    """dovecot.conf in Dovecot 2.4 syntax."""
    return (
        # dovecot_config_version has to be the very first setting.
        "dovecot_config_version = 2.4.0\n"
        "dovecot_storage_version = 2.4.0\n"
        "# Generated by rpa.practice.dovecot (Dovecot 2.4 syntax): a throwaway test server.\n"
        + _common_settings(settings)
        + "auth_allow_cleartext = yes\n"
        "mail_driver = maildir\n"
        f"mail_path = {settings.home}/Maildir\n"
        "passdb passwd-file {\n"
        f"  passwd_file_path = {settings.root}/passwd\n"
        "}\n"
        "userdb static {\n"
        "  fields {\n"
        f"    uid = {settings.mail_uid}\n"
        f"    gid = {settings.mail_gid}\n"
        f"    home = {settings.home}\n"
        "  }\n"
        "}\n"
        + _namespace_and_services(settings)
    )
