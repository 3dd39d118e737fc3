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
from email.utils import parsedate_to_datetime
from functools import lru_cache

from rpa.mail.decoding import CONTROL_CHARS, decode_bytes
from rpa.text import clean_line, has_hidden, show_hidden

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


_LINE_BREAK = re.compile(r"\r?\n|\r")


def raw_headers(raw: bytes) -> list[tuple[str, str]]:
    """(lower-case name, unfolded value) pairs in order; malformed lines are skipped."""
    pairs: list[tuple[str, str]] = []
    block = _header_block(raw or b"")
    try:  # most header blocks are UTF-8 (or ASCII) as a whole
        lines = _LINE_BREAK.split(block.decode("utf-8"))
    except UnicodeDecodeError:
        lines = [_decode_header_line(b) for b in re.split(rb"\r?\n|\r", block)]
    for line in lines:
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


@dataclass(frozen=True)
class Sender:
    """The From header read by RFC 5322: the first mailbox's display name (decoded and
    cleaned) and address, and why the header cannot be taken at its word (``problems``:
    an address shown in the display name, several addresses, no address, hidden
    characters...)."""

    name: str = ""
    addr: str = ""
    problems: tuple[str, ...] = ()
    others: tuple[str, ...] = ()  # the addresses of further mailboxes, if any


def _from_tokens(value: str) -> list[tuple[str, str]]:
    """(kind, text) tokens of a From value: quoted, comment, angle, comma, colon, semicolon,
    space and text. An unclosed quote, comment or angle runs to the end."""
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(value)
    closers = {'"': ("quoted", '"'), "(": ("comment", ")"), "<": ("angle", ">")}
    while i < n:
        ch = value[i]
        if ch in closers:
            kind, close = closers[ch]
            j, depth, buf = i + 1, 1, []
            while j < n:
                c = value[j]
                if c == "\\" and kind != "angle" and j + 1 < n:
                    buf.append(value[j + 1])
                    j += 2
                    continue
                if kind == "comment" and c == "(":
                    depth += 1
                elif c == close:
                    depth -= 1
                    if depth == 0:
                        break
                buf.append(c)
                j += 1
            tokens.append((kind, "".join(buf)))
            i = j + 1
        elif ch in ",:;":
            tokens.append(({",": "comma", ":": "colon", ";": "semicolon"}[ch], ch))
            i += 1
        elif ch.isspace():
            j = i
            while j < n and value[j].isspace():
                j += 1
            tokens.append(("space", " "))
            i = j
        else:
            j = i
            while j < n and value[j] not in '"(<,:;' and not value[j].isspace():
                j += 1
            tokens.append(("text", value[i:j]))
            i = j
    return tokens


def _without_groups(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Group syntax ("Name: a@x, b@y;") reduced to its members; a colon that opens no
    group is text."""
    kinds = [k for k, _ in tokens]
    if "colon" not in kinds or "semicolon" not in kinds[kinds.index("colon"):]:
        return [("text", t) if k in ("colon", "semicolon") else (k, t) for k, t in tokens]
    colon = kinds.index("colon")
    semi = colon + kinds[colon:].index("semicolon")
    return [*tokens[colon + 1:semi], *_without_groups(tokens[semi + 1:])]


_ADDRESS_LIKE = re.compile(r"[^\s<>\"'@,;()]+@[^\s<>\"'@,;()]+\.[^\s<>\"'@,;()]*[^\s<>\"'@,;().]")


def _segment(tokens: list[tuple[str, str]]) -> tuple[str, str | None, list[str]]:
    """(raw display name, address or None when the part has none, problems) of one
    comma-separated part of a From value."""
    problems: list[str] = []
    angles = [i for i, (k, _) in enumerate(tokens) if k == "angle"]
    if angles:
        if len(angles) > 1:
            problems.append("two addresses in one sender")
        before = tokens[:angles[0]]
        after = tokens[angles[-1] + 1:]
        if any(k not in ("space", "comment") for k, _ in after):
            problems.append("text after the address")
        name = "".join(t for k, t in before if k in ("text", "quoted", "space"))
        return name, tokens[angles[-1]][1], problems
    # No angle brackets: an addr-spec, perhaps with an old-style "(Name)" comment.
    words = "".join(f'"{t}"' if k == "quoted" else t for k, t in tokens
                    if k in ("text", "quoted", "space")).split()
    comment = next((t for k, t in tokens if k == "comment" and t.strip()), "")
    with_at = [w for w in words if "@" in w]
    if not with_at:
        return " ".join(words) or comment, None, problems
    if len(words) > 1:
        problems.append("an address outside angle brackets with other words")
    addr = with_at[-1]
    name = " ".join(w for w in words if w is not addr) or comment
    return name, addr, problems


@lru_cache(maxsize=8192)  # a mailbox's notices come from a few senders (Sender is frozen)
def parse_sender(value: str) -> Sender:
    """The From header read by RFC 5322, never raising.

    The address is the one inside angle brackets; words before it are the display name
    (RFC 2047 words decoded; direction controls and invisible characters removed, an
    override resolved to what a reader saw). An unquoted comma in a display name ("Doe,
    Jane <j@x>") is kept in the name. Several mailboxes give the first, marked. Marked as
    problems: a display name that shows another address, several From addresses, no or an
    empty address, a malformed address, hidden characters in the name or address.
    """
    if not value.strip():
        return Sender(problems=("no From header",))
    try:
        tokens = _without_groups(_from_tokens(value))
    except Exception:  # noqa: BLE001 - the parser must never fail the run
        tokens = [("text", value)]
    parts: list[list[tuple[str, str]]] = [[]]
    for tok in tokens:
        if tok[0] == "comma":
            parts.append([])
        else:
            parts[-1].append(tok)
    mailboxes: list[tuple[str, str, list[str]]] = []
    pending: list[str] = []  # name pieces split off by an unquoted comma
    for part in parts:
        raw_name, addr, problems = _segment(part)
        if addr is None:
            if raw_name.strip():
                pending.append(raw_name.strip())
            continue
        if pending and raw_name.strip():
            raw_name = ", ".join([*pending, raw_name.strip()])
        elif pending:
            problems.append("words without an address: " + ", ".join(pending))
        pending = []
        mailboxes.append((raw_name, addr, problems))
    if not mailboxes:
        name = clean_line(decode_words(", ".join(pending))).strip("\"' ")
        return Sender(name, "", ("no sender address",))
    raw_name, raw_addr, problems = mailboxes[0]
    others = tuple(" ".join(a.split()).lower() for _, a, _ in mailboxes[1:])
    if others:
        problems.append(f"{len(mailboxes)} From addresses")
    decoded = decode_words(raw_name.strip())
    name = clean_line(decoded).strip("\"' ")
    if has_hidden(decoded):
        problems.append("hidden characters in the sender name")
    addr = " ".join(raw_addr.split()).lower()
    if has_hidden(addr) or CONTROL_CHARS.search(addr):
        problems.append("hidden characters in the address")
    if not addr:
        problems.append("an empty address")
    elif "@" not in addr:
        problems.append(f"no domain in the address '{show_hidden(addr)}'")
    elif addr.count("@") > 1 and not addr.startswith('"'):
        problems.append(f"a malformed address '{show_hidden(addr)}'")
    shown = [a for a in _ADDRESS_LIKE.findall(name) if a.lower() != addr]
    if shown:
        problems.append(f"the name shows the address {shown[0]}")
    return Sender(name, addr, tuple(dict.fromkeys(problems)), others)


def parse_from(value: str) -> tuple[str, str]:
    """(display name, lower-case address) of the first sender in a From value."""
    sender = parse_sender(value)
    return sender.name, sender.addr


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
    # Why the From header cannot be taken at its word (see parse_sender); such a sender is
    # never trusted as Amazon.
    from_problems: tuple[str, ...] = ()
    from_others: tuple[str, ...] = ()  # further From addresses (a problem in itself)
    # Every header as fetched, names lower-cased, in order (several of one name kept):
    # for the authentication results and the bounce, auto-reply and list markers.
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case), topmost first."""
        index = self.__dict__.get("_by_name")
        if index is None or index[0] is not self.headers:  # built once per headers tuple
            by_name: dict[str, list[str]] = {}
            for hname, value in self.headers:
                by_name.setdefault(hname, []).append(value)
            index = self.__dict__["_by_name"] = (self.headers, by_name)
        return list(index[1].get(name.lower(), ()))


@lru_cache(maxsize=8192)
def _subject(raw: str) -> tuple[str, str]:
    """(decoded, cleaned) Subject; many mails of a mailbox share theirs."""
    decoded = decode_words(raw)
    return decoded, clean_line(decoded)


def parse_headers(raw_header_bytes: bytes, *, uid: int = 0, folder: str = "", size: int = 0,
                  flags: Iterable[str | bytes] = ()) -> MailItem:
    """A :class:`MailItem` from a message's header bytes (a whole message works too).

    Encoded words in Subject and From are decoded (unknown charsets with replacement
    characters) and cleaned of hidden characters, folded lines are unfolded, From is read by
    :func:`parse_sender` (the first sender of several, marked), and a missing Message-ID is
    replaced by a stable ``<synthetic-...>`` id. Never raises.
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
    decoded_subject, subject = _subject(first.get("subject", ""))
    sender = parse_sender(raw_from)
    problems = sender.problems
    from_headers = sum(1 for name, _ in headers if name == "from")
    if from_headers > 1:
        problems = (*problems, f"{from_headers} From headers")
    raw_date = _clean_header(first.get("date", ""))
    message_id = _clean_header(first.get("message-id", "")).replace(" ", "")
    if not message_id:
        # from the subject as earlier versions read it, so a ledger key never changes
        message_id = synthetic_id(raw_date, _clean_header(raw_from),
                                  _clean_header(decoded_subject))
    flag_tuple = tuple(_flag_text(f) for f in (flags or ()))
    return MailItem(
        uid=int(uid or 0), folder=folder, message_id=message_id, from_name=sender.name,
        from_addr=sender.addr, from_domain=_domain_of(sender.addr), subject=subject,
        date=_iso_date(raw_date), size=int(size or 0),
        seen=any(f.lower() == "\\seen" for f in flag_tuple), flags=flag_tuple,
        from_problems=problems, from_others=sender.others, headers=tuple(headers))
