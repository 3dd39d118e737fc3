"""Putting mail into the throwaway server and reading its state back, over IMAP.

Each function works on a logged-in ``imapclient.IMAPClient`` and leaves it logged in; the
caller opens and closes the connection (``DovecotServer.append``, ``append_many`` and
``snapshot`` do that around one call each). ``logout`` closes one, best effort.
"""

from __future__ import annotations

import email.parser
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import imapclient

MULTIAPPEND_BATCH = 200
FETCH_BATCH = 1000  # UIDs per FETCH, keeping command lines short

# Folder -> its messages as sorted (Message-ID, flags) pairs.
Snapshot = dict[str, list[tuple[str, frozenset[str]]]]


def append(client: imapclient.IMAPClient, folder: str, raw: bytes,
           flags: Sequence[str | bytes] = (), when: datetime | None = None) -> None:
    """APPEND one message to ``folder`` with ``flags`` and internal date ``when``."""
    client.append(folder, raw, tuple(flags), msg_time=when)


def append_many(client: imapclient.IMAPClient, folder: str, raws: Iterable[bytes],
                flags: Sequence[str | bytes] = ()) -> None:
    """APPEND many messages, batched with MULTIAPPEND when the server offers it."""
    messages = list(raws)
    if not messages:
        return
    if client.has_capability("MULTIAPPEND"):
        for start in range(0, len(messages), MULTIAPPEND_BATCH):
            batch = messages[start:start + MULTIAPPEND_BATCH]
            client.multiappend(folder, [{"msg": raw, "flags": tuple(flags)} for raw in batch])
    else:
        for raw in messages:
            client.append(folder, raw, tuple(flags))


def snapshot(client: imapclient.IMAPClient) -> Snapshot:
    """Every folder's messages as sorted (Message-ID, flags) pairs.

    Flags are strings such as ``"\\Seen"``; the session-only ``\\Recent`` is left out. A
    message without a Message-ID header shows as ``""``. Folders are opened read-only, so
    taking a snapshot changes nothing.
    """
    parser = email.parser.BytesHeaderParser()
    result: Snapshot = {}
    for folder_flags, _delimiter, name in client.list_folders():
        if any(_as_str(f).lower() == "\\noselect" for f in folder_flags):
            continue
        folder = _as_str(name)
        info = client.select_folder(folder, readonly=True)
        entries: list[tuple[str, frozenset[str]]] = []
        uids = client.search("ALL") if int(info.get(b"EXISTS", 0)) else []
        for start in range(0, len(uids), FETCH_BATCH):
            fetched = client.fetch(uids[start:start + FETCH_BATCH],
                                   ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            for data in fetched.values():
                header = data.get(b"BODY[HEADER.FIELDS (MESSAGE-ID)]", b"") or b""
                value = parser.parsebytes(header).get("Message-ID") or ""
                message_id = " ".join(str(value).split())
                message_flags = frozenset(
                    _as_str(f) for f in data.get(b"FLAGS", ())
                    if _as_str(f).lower() != "\\recent")
                entries.append((message_id, message_flags))
        entries.sort(key=lambda entry: (entry[0], sorted(entry[1])))
        result[folder] = entries
    return result


def logout(client: imapclient.IMAPClient) -> None:
    """Log out, ignoring a connection that is already gone."""
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - best effort on the way out
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass


def _as_str(value: Any) -> str:
    """An IMAP value (bytes or not) as text."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
