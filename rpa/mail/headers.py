"""Reading email headers without trusting them: encoded words, senders, a :class:`MailItem`.

Everything here is pure (no network, no IMAP) and defensive: broken encodings, unknown
charsets, missing headers or a malformed From give a best-effort result, never an
exception. The mailbox flow fetches header bytes; :func:`parse_headers` turns them into
the item the rules decide on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import getaddresses, parsedate_to_datetime

from rpa.mail.decoding import CONTROL_CHARS, decode_bytes

# --------------------------------------------------------------------------- RFC 2047

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")


def _decode_word_payload(kind: str, text: str) -> bytes | None:
    """The bytes of one encoded word's payload, or None when it cannot be decoded."""
    raw = text.encode("ascii", "replace")
    if kind.lower() == "q":
        try:
            return binascii.a2b_qp(raw, header=True)
        except (binascii.Error, ValueError):
            return None
    raw = re.sub(rb"[^A-Za-z0-9+/=]", b"", raw).rstrip(b"=")
    if len(raw) % 4 == 1:  # a stray character: drop it rather than fail
        raw = raw[:-1]
    raw += b"=" * (-len(raw) % 4)
    try:
        return base64.b64decode(raw)
    except (binascii.Error, ValueError):
        return None


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words in a header value, best effort, never raising.

    Adjacent encoded words are joined without the whitespace between them, and runs in
    the same charset are decoded together so a character split across two words survives.
    """
    if "=?" not in value:
        return value
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset = ""
    pos = 0

    def flush() -> None:
        nonlocal pending_charset
        if pending:
            out.append(decode_bytes(b"".join(pending), pending_charset or None))
            pending.clear()
        pending_charset = ""

    for m in _ENCODED_WORD.finditer(value):
        gap = value[pos:m.start()]
        pos = m.end()
        data = _decode_word_payload(m.group(2), m.group(3))
        if data is None:  # leave an undecodable word as it is
            flush()
            out.append(gap + m.group(0))
            continue
        charset = m.group(1).lower()
        adjacent = bool(pending) and not gap.strip()
        if not adjacent:
            flush()
            out.append(gap)
        elif charset != pending_charset:
            flush()  # the whitespace between two encoded words is dropped
        pending.append(data)
        pending_charset = charset
    flush()
    out.append(value[pos:])
    return "".join(out)


def _clean_header(value: str) -> str:
    """One line, single spaces, no control characters."""
    value = value.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    value = CONTROL_CHARS.sub("", value)
    return " ".join(value.split())


# --------------------------------------------------------------------------- headers

_HEADER_NAME = re.compile(r"^[!-9;-~]+$")


def _header_block(raw: bytes) -> bytes:
    """The bytes before the first empty line (all of them when there is none)."""
    m = re.search(rb"\r?\n\r?\n", raw)
    return raw[:m.start()] if m else raw


def _decode_header_line(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("cp1252", "replace")


def raw_headers(raw: bytes) -> list[tuple[str, str]]:
    """(lower-case name, unfolded value) pairs in order; malformed lines are skipped."""
    pairs: list[tuple[str, str]] = []
    for rawline in re.split(rb"\r?\n|\r", _header_block(raw or b"")):
        line = _decode_header_line(rawline)
        if not line.strip():
            continue
        if line[0] in " \t":
            if pairs:
                name, value = pairs[-1]
                pairs[-1] = (name, value + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if not sep or not _HEADER_NAME.match(name.strip() or " "):
            continue
        pairs.append((name.strip().lower(), value.strip()))
    return pairs


_ADDR_FALLBACK = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*", re.UNICODE)


def parse_from(value: str) -> tuple[str, str]:
    """(display name, lower-case address) of the first sender in a From value."""
    if not value.strip():
        return "", ""
    try:
        pairs = getaddresses([value])
    except Exception:  # noqa: BLE001 - the parser must never fail the run
        pairs = []
    index = next((i for i, (_, a) in enumerate(pairs) if "@" in a), -1)
    chosen = pairs[index] if index >= 0 else None
    if chosen is not None and chosen[0] and index > 0:
        # an unquoted comma in the display name ("Doe, Jane <j@x>") splits it in two
        pieces = [a or n for n, a in pairs[:index] if "@" not in a]
        if len(pieces) == index:
            chosen = (", ".join([*pieces, chosen[0]]), chosen[1])
    if chosen is None:
        m = _ADDR_FALLBACK.search(value)
        if m:
            name = value[:m.start()].strip().rstrip("<").strip().strip("\"'")
            chosen = (name, m.group(0))
        else:
            chosen = (value.strip().strip("\"'<> "), "")
    name, addr = chosen
    name = _clean_header(decode_words(name)).strip("\"'")
    addr = _clean_header(addr).strip("<>").lower()
    return name, addr


def _domain_of(addr: str) -> str:
    if "@" not in addr:
        return ""
    return addr.rsplit("@", 1)[1].strip().strip(".>").lower()


def _iso_date(value: str) -> str:
    if not value.strip():
        return ""
    try:
        return parsedate_to_datetime(value).isoformat()
    except Exception:  # noqa: BLE001 - any unparseable date is simply unknown
        return ""


def synthetic_id(date: str, sender: str, subject: str) -> str:
    """A stable stand-in for a missing Message-ID, from the date, sender and subject."""
    digest = hashlib.sha256(f"{date}\n{sender}\n{subject}".encode("utf-8", "replace"))
    return f"<synthetic-{digest.hexdigest()[:24]}>"


def _flag_text(flag: object) -> str:
    if isinstance(flag, bytes):
        return flag.decode("utf-8", "replace")
    return str(flag)


@dataclass
class MailItem:
    """One email as the triage sees it: who sent it, what about, where it lies."""

    uid: int = 0
    folder: str = ""
    message_id: str = ""
    from_name: str = ""
    from_addr: str = ""
    from_domain: str = ""
    subject: str = ""
    date: str = ""
    size: int = 0
    seen: bool = False
    flags: tuple[str, ...] = field(default_factory=tuple)
    # Every header as fetched, names lower-cased, in order (several of one name kept):
    # for the authentication results and the bounce, auto-reply and list markers.
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case), topmost first."""
        key = name.lower()
        return [value for hname, value in self.headers if hname == key]


def parse_headers(raw_header_bytes: bytes, *, uid: int = 0, folder: str = "", size: int = 0,
                  flags: Iterable[str | bytes] = ()) -> MailItem:
    """A :class:`MailItem` from a message's header bytes (a whole message works too).

    Encoded words in Subject and From are decoded (unknown charsets with replacement
    characters), folded lines are unfolded, the first sender of several is taken, and a
    missing Message-ID is replaced by a stable ``<synthetic-...>`` id. Never raises.
    """
    try:
        headers = raw_headers(raw_header_bytes if isinstance(raw_header_bytes, bytes)
                              else bytes(raw_header_bytes))
    except Exception:  # noqa: BLE001 - garbage in, empty item out
        headers = []
    first: dict[str, str] = {}
    for name, value in headers:
        first.setdefault(name, value)
    raw_from = first.get("from", "")
    subject = _clean_header(decode_words(first.get("subject", "")))
    from_name, from_addr = parse_from(raw_from)
    raw_date = _clean_header(first.get("date", ""))
    message_id = _clean_header(first.get("message-id", "")).replace(" ", "")
    if not message_id:
        message_id = synthetic_id(raw_date, _clean_header(raw_from), subject)
    flag_tuple = tuple(_flag_text(f) for f in (flags or ()))
    return MailItem(
        uid=int(uid or 0), folder=folder, message_id=message_id, from_name=from_name,
        from_addr=from_addr, from_domain=_domain_of(from_addr), subject=subject,
        date=_iso_date(raw_date), size=int(size or 0),
        seen=any(f.lower() == "\\seen" for f in flag_tuple), flags=flag_tuple,
        headers=tuple(headers))
