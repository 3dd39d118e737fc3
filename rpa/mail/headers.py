"""Reading emails without trusting them: headers, readable body text and a short summary.

Everything here is pure (no network, no IMAP) and defensive: a message with broken
encodings, unknown charsets, missing headers or malformed MIME gives a best-effort result
instead of an exception. The mailbox flow fetches headers and bodies; these functions turn
the raw bytes into a :class:`MailItem`, the text a person would read, and a one- or
two-sentence summary for the owner.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import email.policy
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

# --------------------------------------------------------------------------- charsets

_CHARSET_ALIASES = {
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "x-sjis": "shift_jis",
    "ks_c_5601-1987": "cp949",
    "windows-874": "cp874",
    "ansi_x3.4-1968": "ascii",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
}
_ASCII_NAMES = {"ascii", "us-ascii", "646", "us"}


def _codec(charset: str | None) -> str | None:
    """The Python codec for a declared charset, or None when there is no usable one."""
    if not charset:
        return None
    name = charset.strip().strip("\"'").split("*", 1)[0].lower()
    name = _CHARSET_ALIASES.get(name, name)
    if not name:
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    # bytes-to-bytes codecs such as base64 or zlib are not text encodings
    if not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Bytes as text under a declared charset, never raising.

    A known charset is tried strictly, then UTF-8 (the most common mislabel), then the
    declared charset with replacement characters. Without a usable charset the bytes are
    read as UTF-8, falling back to Windows-1252 when no charset was declared at all, and
    to UTF-8 with replacement characters when the declared one is unknown.
    """
    codec = _codec(charset)
    if codec is not None and codec not in _ASCII_NAMES:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if codec is not None and codec not in _ASCII_NAMES:
        try:
            return data.decode(codec, "replace")
        except (LookupError, ValueError):
            pass
    if not charset or codec in _ASCII_NAMES:
        return data.decode("cp1252", "replace")
    return data.decode("utf-8", "replace")


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


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _clean_header(value: str) -> str:
    """One line, single spaces, no control characters."""
    value = value.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    value = _CONTROL.sub("", value)
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
        seen=any(f.lower() == "\\seen" for f in flag_tuple), flags=flag_tuple)


# --------------------------------------------------------------------------- HTML to text

_BLOCK_TAGS = {
    "p", "div", "br", "li", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "section", "article", "header", "footer", "pre", "address", "dl", "dt", "dd",
    "center", "form", "fieldset", "nav", "aside", "main", "figure", "caption", "tbody",
    "thead", "tfoot",
}
_PARAGRAPH_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "hr", "pre"}
_DROP_TAGS = {"script", "style", "head", "title", "noscript", "template", "blockquote",
              "svg", "object", "iframe"}
_VOID_TAGS = {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed",
              "source", "track", "wbr", "param"}


class _TextExtractor(HTMLParser):
    """Visible text of an HTML document with block structure kept as line breaks.

    Scripts, styles and the document head are dropped, and so is ``<blockquote>``, which
    mail programs use for quoted replies. Breaks are collected and written once before the
    next text, so nested blocks give one line break and paragraphs one blank line.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.drop_stack: list[str] = []
        self.pre_depth = 0
        self.pending = 0  # line breaks owed before the next text (at most 2)
        self.bullet = False

    def _need(self, breaks: int) -> None:
        self.pending = max(self.pending, breaks)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        if tag == "body":  # a head that was never closed ends here
            self.drop_stack.clear()
        if tag in _DROP_TAGS:
            if tag not in _VOID_TAGS:
                self.drop_stack.append(tag)
            return
        if self.drop_stack:
            return
        if tag == "pre":
            self.pre_depth += 1
        if tag == "br":
            self.pending = min(self.pending + 1, 2)
        elif tag in _PARAGRAPH_TAGS:
            self._need(2)
        elif tag in _BLOCK_TAGS:
            self._need(1)
        if tag == "li":
            self.bullet = True
        elif tag in ("td", "th"):
            self.handle_data(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag.lower() in _DROP_TAGS:  # <script/> and the like hide nothing
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if self.drop_stack:
            if tag in self.drop_stack:
                while self.drop_stack and self.drop_stack.pop() != tag:
                    pass
            return
        if tag == "pre" and self.pre_depth:
            self.pre_depth -= 1
        if tag in _PARAGRAPH_TAGS:
            self._need(2)
        elif tag in _BLOCK_TAGS:
            self._need(1)

    def handle_data(self, data: str) -> None:
        if self.drop_stack:
            return
        text = data if self.pre_depth else re.sub(r"\s+", " ", data)
        if not text.strip():
            at_line_start = not self.parts or self.parts[-1].endswith((" ", "\n"))
            if self.pending or at_line_start or not text:
                return
            self.parts.append(" ")
            return
        if self.pending:
            if self.parts:
                self.parts.append("\n" * self.pending)
            text = text.lstrip(" ") if not self.pre_depth else text
            self.pending = 0
        if self.bullet:
            self.parts.append("- ")
            text = text.lstrip(" ")
            self.bullet = False
        self.parts.append(text)

    def text(self) -> str:
        return "".join(self.parts)


def html_to_text(html: str) -> str:
    """Readable text from HTML (stdlib parser), paragraphs and line breaks kept."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - keep whatever was read before the parser gave up
        pass
    return parser.text()


# --------------------------------------------------------------------------- quotes, signatures

_WROTE = re.compile(
    r"(wrote|schrieb|a\s+écrit|escribió|ha\s+scritto|schreef|skrev)\s*:?\s*$", re.I)
_ON_START = re.compile(r"^(on|am|le|el|il|op|den|på)\s", re.I)
_ORIGINAL = re.compile(
    r"^-{2,}\s*(original\s+message|ursprüngliche\s+nachricht|message\s+d'origine|"
    r"mensaje\s+original|reply\s+message)\s*-{2,}\s*$", re.I)
_OUTLOOK_FROM = re.compile(r"^\*?(from|von|de|da)\s*:\*?\s+\S", re.I)
_OUTLOOK_NEXT = re.compile(r"^\*?(sent|date|gesendet|datum|envoyé|enviado|to|an|subject)\s*:",
                           re.I)
_DEVICE = re.compile(
    r"^(sent from my\b.*|sent from (mail|outlook|yahoo mail|gmail|samsung)\b.*|"
    r"get outlook for\b.*|von meinem \w+ gesendet.*|envoyé de mon\b.*|enviado desde mi\b.*)$",
    re.I)
_SIGN_OFF = re.compile(
    r"^((best|kind|warm|warmest|many|with|thanks and|thanks &|all the)\s+)?"
    r"(regards|wishes|thanks|thank you|cheers|best|sincerely|greetings)[,.!]?$|"
    r"^(yours\s+(sincerely|faithfully|truly)|mit freundlichen grüßen|"
    r"viele grüße|cordialement|saludos|talk soon|speak soon)[,.!]?$", re.I)
_SIGNOFF_TAIL_LINES = 6


def _cut_index(lines: list[str]) -> int:
    """The index of the first line of quoted history or signature (len(lines) if none)."""
    for i, line in enumerate(lines):
        text = line.strip()
        if line.rstrip("\r") in ("-- ", "--") or text == "--":
            return i
        if _ORIGINAL.match(text) or (_DEVICE.match(text) and len(text) < 80):
            return i
        if _ON_START.match(text):
            if _WROTE.search(text):
                return i
            if i + 1 < len(lines) and len(text) < 200 and _WROTE.search(lines[i + 1].strip()):
                return i
        if _OUTLOOK_FROM.match(text):
            following = [ln.strip() for ln in lines[i + 1:i + 5]]
            if any(_OUTLOOK_NEXT.match(ln) for ln in following):
                start = i
                if i > 0 and re.fullmatch(r"_{8,}", lines[i - 1].strip()):
                    start = i - 1
                return start
        if i > 0 and _SIGN_OFF.match(text):
            tail = [ln for ln in lines[i + 1:] if ln.strip()]
            if len(tail) <= _SIGNOFF_TAIL_LINES and all(len(t) < 80 for t in tail):
                return i
    return len(lines)


_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_CID = re.compile(r"\[cid:[^\]]*\]", re.I)


def clean_text(text: str, max_chars: int = 20000) -> str:
    """Remove quoted history and signatures, tidy whitespace, cap the length."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    text = _CID.sub("", _INVISIBLE.sub("", _CONTROL.sub("", text)))
    lines = text.split("\n")
    lines = lines[:_cut_index(lines)]
    kept: list[str] = []
    for line in lines:
        if line.lstrip().startswith(">"):
            continue
        kept.append(" ".join(line.split()))
    out: list[str] = []
    for line in kept:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    result = "\n".join(out).strip()
    if max_chars <= 0:
        return ""
    return result[:max_chars].rstrip()


# --------------------------------------------------------------------------- body

def _part_text(part: Message) -> str:
    """The decoded text of one non-multipart part."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - a broken transfer encoding: use the raw payload
        payload = None
    if payload is None:
        raw = part.get_payload()
        if isinstance(raw, str):
            payload = raw.encode("utf-8", "surrogateescape")
        else:
            return ""
    if not isinstance(payload, bytes):
        return ""
    try:
        charset = part.get_content_charset()
    except Exception:  # noqa: BLE001
        charset = None
    return decode_bytes(payload, charset)


def _is_attachment(part: Message) -> bool:
    try:
        disposition = part.get_content_disposition()
        filename = part.get_filename()
    except Exception:  # noqa: BLE001
        disposition, filename = None, None
    return disposition == "attachment" or bool(filename)


_HTMLISH = re.compile(r"<\s*(html|body|p|div|br|table|span)\b", re.I)


def _leaves(part: Message) -> Iterable[Message]:
    """The non-multipart parts, skipping attachments together with anything inside them."""
    if _is_attachment(part):
        return
    if part.is_multipart():
        payload = part.get_payload()
        for sub in payload if isinstance(payload, list) else []:
            if isinstance(sub, Message):
                yield from _leaves(sub)
        return
    yield part


def _readable(msg: Message) -> str:
    plain: list[str] = []
    html: list[str] = []
    for part in _leaves(msg):
        try:
            ctype = part.get_content_type()
        except Exception:  # noqa: BLE001
            ctype = "text/plain"
        if ctype == "text/plain":
            plain.append(_part_text(part))
        elif ctype == "text/html":
            html.append(_part_text(part))
    text = "\n\n".join(t for t in plain if t.strip())
    if text.strip():
        return text
    if html:
        return "\n\n".join(html_to_text(h) for h in html)
    if not msg.is_multipart() and msg.get_content_maintype() in ("multipart", "text"):
        # e.g. a multipart type without a boundary: read what is there
        rough = _part_text(msg)
        return html_to_text(rough) if _HTMLISH.search(rough) else rough
    return ""


def _fallback(raw: bytes) -> str:
    m = re.search(rb"\r?\n\r?\n", raw)
    body = decode_bytes(raw[m.end():] if m else raw)
    return html_to_text(body) if _HTMLISH.search(body) else body


def body_text(raw_message_bytes: bytes, *, max_chars: int = 20000) -> str:
    """The text a person would read in an email, without quotes and signatures.

    Prefers text/plain parts, else converts HTML to text; skips attachments and non-text
    parts; decodes transfer encodings and charsets defensively; removes quoted history
    ("> ..." lines, "On ... wrote:", Outlook headers) and signatures ("-- ", "Sent from my
    iPhone", a short sign-off block); collapses whitespace; caps at ``max_chars``.
    Never raises.
    """
    raw = raw_message_bytes or b""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        text = _readable(msg)
    except Exception:  # noqa: BLE001 - malformed MIME: read the raw bytes instead
        text = _fallback(raw)
    try:
        return clean_text(text, max_chars)
    except Exception:  # noqa: BLE001
        return " ".join(text.split())[:max(max_chars, 0)]


# --------------------------------------------------------------------------- summary

_GREETING_LINE = re.compile(
    r"^(hi|hello|hey|hiya|dear|good\s+(morning|afternoon|evening|day)|greetings|hallo|"
    r"guten\s+tag|bonjour|hola|to\s+whom\s+it\s+may\s+concern)\b[^.!?:,]{0,40}[,!:.]?$", re.I)
_GREETING_PREFIX = re.compile(
    r"^(hi|hello|hey|hiya|dear|good\s+(morning|afternoon|evening|day)|greetings|hallo|"
    r"guten\s+tag|bonjour|hola|to\s+whom\s+it\s+may\s+concern)\b[^.!?:,]{0,40}[,!:]\s+", re.I)
_FILLER = re.compile(
    r"^(i\s+)?(hope|trust)\s+(this|that|you|all|your|everything)\b.*\b(well|good|great)\b|"
    r"^(many\s+)?thanks?(\s+you)?\s+(so\s+much\s+)?for\s+(your|the)\s+"
    r"(e-?mail|message|reply|note|response)\b|^i\s+am\s+writing\s+to\s+you\b[.!]?$", re.I)
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "mr.", "mrs.", "ms.", "dr.", "no.", "approx.",
                  "vs.", "inc.", "ltd.", "co.", "st.", "nr.", "ca.", "jan.", "feb.", "mar.",
                  "apr.", "jun.", "jul.", "aug.", "sep.", "sept.", "oct.", "nov.", "dec.")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


def _split_sentences(paragraph: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(paragraph):
        candidate = paragraph[start:m.start()].rstrip()
        last_word = candidate.rsplit(None, 1)[-1].lower() if candidate.split() else ""
        if last_word in _ABBREVIATIONS or re.fullmatch(r"[a-z]\.", last_word):
            continue
        nxt = paragraph[m.end():m.end() + 1]
        if nxt and nxt.islower():
            continue
        pieces.append(paragraph[start:m.end()].strip())
        start = m.end()
    pieces.append(paragraph[start:].strip())
    return [p for p in pieces if p]


_HONORIFIC = re.compile(r"\b(mr|mrs|ms|dr|prof)\.", re.I)


def _is_greeting(line: str) -> bool:
    return bool(_GREETING_LINE.match(_HONORIFIC.sub(r"\1", line)))


def _meaningful(sentence: str) -> bool:
    words = re.findall(r"\w+", sentence)
    if len(words) < 2 and len(sentence) < 12:
        return False
    if _is_greeting(sentence) or _FILLER.match(sentence):
        return False
    return bool(re.search(r"[^\W\d_]", sentence))


def key_sentences(text: str, limit: int = 2) -> list[str]:
    """The first ``limit`` meaningful sentences of a body, greetings and filler skipped."""
    found: list[str] = []
    paragraphs = re.split(r"\n\s*\n", text)
    for paragraph in paragraphs:
        lines = [ln.strip() for ln in paragraph.split("\n") if ln.strip()]
        lines = [ln for ln in lines if not _is_greeting(ln)]
        if not lines:
            continue
        first = lines[0]
        greeting = _GREETING_PREFIX.match(_HONORIFIC.sub(r"\1", first))
        if greeting:
            first = _HONORIFIC.sub(r"\1", first)[greeting.end():]
        joined = " ".join([first, *lines[1:]]).strip()
        for sentence in _split_sentences(joined):
            sentence = sentence.lstrip("-*• ").strip()
            if not _meaningful(sentence):
                continue
            if sentence[:1].islower():
                sentence = sentence[0].upper() + sentence[1:]
            found.append(sentence)
            if len(found) >= limit:
                return found
    return found


def _end_with_period(text: str) -> str:
    text = text.rstrip()
    if text.endswith("."):
        return text
    if text and text[-1] in "?!;:,…":
        return text[:-1].rstrip() + "."
    return text + "."


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    if limit <= 1:
        return "…"[:max(limit, 0)]
    cut = text[:limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—(\"'“") + "…"


def summarize(item: MailItem, text: str, *, max_chars: int = 240) -> str:
    """One or two sentences for the owner: who wrote, about what, and the gist.

    Built from the sender, the subject and the first one or two meaningful sentences of the
    body (greetings and pleasantries skipped). Ends with a period; longer than
    ``max_chars`` it is cut at a word boundary and ends with "…". Deterministic.
    """
    who = item.from_name or item.from_addr or "An unknown sender"
    subject = " ".join(item.subject.split())
    if len(subject) > 100:
        subject = _shorten(subject, 100)
    sentences = key_sentences(text or "", 2)
    about = f'wrote about "{subject}"' if subject else "wrote (no subject)"
    if not sentences:
        what = (f'sent "{subject}" with no readable text' if subject
                else "sent an email with no subject and no readable text")
        return _shorten(_end_with_period(f"{who} {what}"), max_chars)
    head = f"{who} {about}: "
    first = _end_with_period(sentences[0])
    summary = head + first
    if len(sentences) > 1:
        both = summary + " " + _end_with_period(sentences[1])
        if len(both) <= max_chars and len(first) < 160:
            summary = both
    return _shorten(summary, max_chars)
