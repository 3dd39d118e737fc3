"""The seller's mailbox over IMAP: folder discovery, batched reads, moves to Trash, flags.

Built to be gentle and quick on big mailboxes: reading never marks mail read (BODY.PEEK),
headers are fetched for whole UID sets in one command per chunk, moves and flag changes
go out per UID set, and every command is kept under about 8 KB by chunking the UID
lists. Nothing is ever removed permanently: "delete" is a move to Trash, with UID MOVE
where the server has it, else COPY + \\Deleted + UID EXPUNGE of exactly those UIDs.
"""

from __future__ import annotations

import imaplib
import re
import ssl
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from rpa.errors import ApplicationError, BusinessError, ConfigError
from rpa.mail.folders import Folders, Listed, find_folders

MAX_SET_BYTES = 7000  # a command stays under ~8 KB with its verb and tag
# The headers the triage decides on: the sender and subject, whether the receiving server
# authenticated the sender, what marks bounces, auto-replies and mailing lists, and the
# threading headers an owner's answer is matched by.
TRIAGE_HEADERS = ("FROM", "SUBJECT", "MESSAGE-ID", "DATE", "AUTHENTICATION-RESULTS",
                  "CONTENT-TYPE", "AUTO-SUBMITTED", "X-AUTOREPLY", "X-AUTORESPOND",
                  "PRECEDENCE", "LIST-ID", "LIST-UNSUBSCRIBE", "RETURN-PATH", "IN-REPLY-TO",
                  "REFERENCES")
HEADER_FIELDS = f"BODY[HEADER.FIELDS ({' '.join(TRIAGE_HEADERS)})]".encode()
HEADER_FETCH = f"BODY.PEEK[HEADER.FIELDS ({' '.join(TRIAGE_HEADERS)})]"
SEEN = b"\\Seen"
DELETED = b"\\Deleted"


class MailError(ApplicationError):
    """The mail server could not be reached or refused a command (retried within limits)."""


class MailLoginRefused(BusinessError):
    """The mail server refused the user or password: a person must fix it (not retried)."""


class MailCertificateError(ConfigError):
    """The mail server's certificate is not trusted: configuration (``mailbox.ca_file``,
    the host name), never retried."""


def chunks(uids: Iterable[int], limit: int = 500,
           max_bytes: int = MAX_SET_BYTES) -> Iterator[list[int]]:
    """Split UIDs into groups of at most ``limit`` whose comma-separated list (as the
    client sends it) fits in ``max_bytes``."""
    group: list[int] = []
    size = 0
    for uid in sorted(set(uids)):
        extra = len(str(uid)) + (1 if group else 0)
        if group and (len(group) >= limit or size + extra > max_bytes):
            yield group
            group, size, extra = [], 0, len(str(uid))
        group.append(uid)
        size += extra
    if group:
        yield group


def uid_sets(uids: Iterable[int], limit: int = 500,
             max_bytes: int = MAX_SET_BYTES) -> Iterator[tuple[str, list[int]]]:
    """Split UIDs into IMAP sets written as ranges ("1:480,482,484:990"), each of at most
    ``limit`` UIDs and ``max_bytes`` characters; yields (the set, its UIDs)."""
    group: list[int] = []
    parts: list[str] = []
    size = 0
    ordered = sorted(set(uids))
    i = 0
    while i < len(ordered):
        # The longest run of consecutive UIDs from here that the group still has room for.
        j = i
        room = limit - len(group)
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1 and j + 1 - i < room:
            j += 1
        part = str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}"
        extra = len(part) + (1 if parts else 0)
        if group and (len(group) >= limit or size + extra > max_bytes):
            yield ",".join(parts), group
            group, parts, size = [], [], 0
            continue  # the same run again, into the new group
        parts.append(part)
        group.extend(ordered[i:j + 1])
        size += extra
        i = j + 1
    if group:
        yield ",".join(parts), group


# One message of a FETCH response: its data items before the header's literal, and after.
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")


def _fetched(data: list[Any]) -> Iterator[tuple[int, bytes, tuple[bytes, ...], int]]:
    """(uid, header bytes, flags, size) from a raw ``UID FETCH`` answer as imaplib gives it:
    a (prefix, literal) pair for each message, then the rest of its line; or, for a header
    the server sent as an empty string, the whole line alone."""
    i = 0
    while i < len(data):
        part = data[i]
        i += 1
        if isinstance(part, tuple):
            meta, header = part[0], part[1]
            if i < len(data) and isinstance(data[i], bytes):
                meta += b" " + data[i]
                i += 1
        elif isinstance(part, bytes):
            meta, header = part, b""
        else:
            continue
        uid = _UID.search(meta)
        if uid is None or b"BODY[HEADER" not in meta:
            continue  # an unsolicited FETCH (flags changed elsewhere), not an answer
        size = _SIZE.search(meta)
        flags = _FLAGS.search(meta)
        yield (int(uid.group(1)), header or b"",
               tuple(flags.group(1).split()) if flags else (),
               int(size.group(1)) if size else 0)


def _text(value: str | bytes) -> str:
    """An IMAP string as text (imapclient gives folder names as str, flags as bytes)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _wrap(what: str, err: BaseException) -> MailError:
    detail = str(err).splitlines()[0] if str(err) else type(err).__name__
    return MailError(f"mail server: {what} failed: {detail}")


class Mailbox:
    """One IMAP connection; every method sends a known, small number of commands."""

    def __init__(self, host: str, port: int, user: str, password: str, *, tls: bool = True,
                 timeout: float = 30.0, chunk: int = 500, ca_file: str | None = None,
                 on_command: Callable[[str], None] | None = None) -> None:
        self.host, self.port, self.user = host, port, user
        self._password = password
        self.tls = tls
        self.ca_file = ca_file
        self.timeout = timeout
        self.chunk = chunk
        self.commands = 0
        self.on_command = on_command
        self.client: IMAPClient | None = None
        self.selected: str | None = None

    # --- connection --------------------------------------------------------------------
    def tls_context(self) -> ssl.SSLContext:
        """The system's trusted CAs, plus ``ca_file`` (a private CA) when given."""
        ctx = ssl.create_default_context()
        if self.ca_file:
            try:
                ctx.load_verify_locations(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as err:
                raise MailCertificateError(f"{self.ca_file} is not a readable PEM certificate "
                                           f"({err})", key="mailbox.ca_file") from None
        return ctx

    def connect(self) -> Mailbox:
        try:
            ctx = self.tls_context() if self.tls else None
            self.client = IMAPClient(self.host, port=self.port, ssl=self.tls, ssl_context=ctx,
                                     timeout=self.timeout)
            self._count_commands(self.client)
            if (self.user + self._password).isascii():
                self.client.login(self.user, self._password)
            else:  # LOGIN is ASCII only; AUTHENTICATE PLAIN carries UTF-8
                self.client.plain_login(self.user, self._password)
        except LoginError as err:
            raise MailLoginRefused(f"the mail server refused the login for {self.user}: "
                                   f"{err}") from err
        except ssl.SSLCertVerificationError as err:
            hint = ("set mailbox.ca_file to the CA that signed it" if not self.ca_file
                    else f"{self.ca_file} did not sign it, or the host name differs")
            raise MailCertificateError(
                f"the certificate of {self.host}:{self.port} is not trusted "
                f"({err.verify_message or err.reason}): {hint}", key="mailbox.ca_file") from err
        except (OSError, ssl.SSLError, IMAPClientError) as err:
            raise _wrap(f"connecting to {self.host}:{self.port}", err) from err
        return self

    def _count_commands(self, client: IMAPClient) -> None:
        """Count every command sent: each gets a new tag from imaplib."""
        imap = client._imap  # noqa: SLF001 - the only place each command passes through
        new_tag = imap._new_tag

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.commands += 1
            return new_tag(*args, **kwargs)

        imap._new_tag = counted

    def close(self) -> None:
        if self.client is None:
            return
        try:
            self.client.logout()
        except (OSError, imaplib.IMAP4.error, IMAPClientError):
            pass
        self.client = None

    def __enter__(self) -> Mailbox:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def c(self) -> IMAPClient:
        if self.client is None:
            raise MailError("mail server: not connected")
        return self.client

    def _call(self, what: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (OSError, ssl.SSLError, imaplib.IMAP4.abort,
                IMAPClientError, imaplib.IMAP4.error) as err:
            raise _wrap(what, err) from err

    # --- folders -----------------------------------------------------------------------
    def folders(self, spam_names: Sequence[str] = (),
                trash_names: Sequence[str] = ()) -> Folders:
        """Inbox, Spam and Trash as this server has them (see ``rpa.mail.folders``).

        One LIST, plus NAMESPACE where offered (for a prefix such as ``INBOX.``); folder
        names come decoded from IMAP's modified UTF-7.
        """
        listing = [Listed(_text(name), _text(delim) if delim else None,
                          frozenset(_text(flag).lower() for flag in flags))
                   for flags, delim, name in self._call("LIST", self.c.list_folders)]
        prefixes: list[str] = []
        if self.c.has_capability("NAMESPACE"):
            spaces = self._call("NAMESPACE", self.c.namespace)
            prefixes = [_text(prefix) for prefix, _delim in spaces.personal or ()]
        return find_folders(listing, prefixes=prefixes, spam_names=spam_names,
                            trash_names=trash_names, host=self.host)

    def select(self, folder: str, *, readonly: bool = False) -> int:
        """Open ``folder``; returns its UIDVALIDITY."""
        info = self._call(f"SELECT {folder}", self.c.select_folder, folder, readonly=readonly)
        self.selected = folder
        return int(info.get(b"UIDVALIDITY", 0))

    # --- reading -----------------------------------------------------------------------
    def all_uids(self) -> list[int]:
        return sorted(self._call("UID SEARCH", self.c.search, ["ALL"]))

    def headers(self, uids: list[int]) -> Iterator[tuple[int, bytes, tuple[bytes, ...], int]]:
        """(uid, header bytes, flags, size) for every UID: one FETCH per chunk of UID
        ranges, mail stays unread. The answer is read straight from imaplib (a big
        mailbox's headers are megabytes; a general parser costs more than the rest of the
        triage)."""
        imap = self.c._imap  # noqa: SLF001 - the raw answer, parsed below
        items = f"(UID FLAGS RFC822.SIZE {HEADER_FETCH})"
        for uid_set, group in uid_sets(uids, self.chunk):
            typ, data = self._call("UID FETCH headers", imap.uid, "FETCH", uid_set, items)
            if typ != "OK":
                raise MailError(f"mail server: UID FETCH headers failed: {typ} {data!r:.200}")
            wanted = set(group)
            for found in _fetched(data):
                if found[0] in wanted:  # gone since the search (moved elsewhere): absent
                    wanted.discard(found[0])
                    yield found

    def bodies(self, uids: list[int], max_bytes: int) -> dict[int, bytes]:
        """The first ``max_bytes`` of each message, one FETCH per chunk, without marking read."""
        out: dict[int, bytes] = {}
        part = f"BODY.PEEK[]<0.{max_bytes}>"
        key = b"BODY[]<0>"
        for group in chunks(uids, max(1, min(self.chunk, 50))):
            data = self._call("UID FETCH bodies", self.c.fetch, group, [part])
            for uid, item in data.items():
                raw = item.get(key)
                if raw is None:
                    raw = next((v for k, v in item.items() if k.startswith(b"BODY[")), b"")
                out[int(uid)] = raw or b""
        return out

    # --- changing ----------------------------------------------------------------------
    def move(self, uids: list[int], target: str) -> int:
        """Move UIDs of the selected folder to ``target`` (never a permanent delete)."""
        if not uids:
            return 0
        has_move = self.c.has_capability("MOVE")
        has_uidplus = self.c.has_capability("UIDPLUS")
        for ids, _ in uid_sets(uids, self.chunk):
            if has_move:
                self._call("UID MOVE", self.c.move, ids, target)
                continue
            if not has_uidplus:
                raise MailError("mail server has neither MOVE nor UIDPLUS: cannot move mail "
                                "without risking other messages; left in place")
            self._call("UID COPY", self.c.copy, ids, target)
            self._call("UID STORE +FLAGS \\Deleted", self.c.add_flags, ids, [DELETED],
                       silent=True)
            self._call("UID EXPUNGE", self.c.uid_expunge, ids)
        return len(uids)

    def find(self, message_id: str) -> list[int]:
        """The UIDs of the selected folder whose Message-ID header is ``message_id``."""
        found = self._call("UID SEARCH HEADER Message-ID", self.c.search,
                           ["HEADER", "Message-ID", message_id])
        return sorted(int(uid) for uid in found)

    def mark_read(self, uids: list[int]) -> None:
        for ids, _ in uid_sets(uids, self.chunk):
            self._call("UID STORE +FLAGS \\Seen", self.c.add_flags, ids, [SEEN],
                       silent=True)

    def mark_unread(self, uids: list[int]) -> None:
        for ids, _ in uid_sets(uids, self.chunk):
            self._call("UID STORE -FLAGS \\Seen", self.c.remove_flags, ids, [SEEN],
                       silent=True)

