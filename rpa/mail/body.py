"""The text a person would read in an email: the readable part, HTML made plain, history cut.

Pure and defensive like the header reader: malformed MIME, broken transfer encodings and
odd HTML give a best-effort text, never an exception. Quoted replies, forwarded history
and signatures are cut so that a summary starts from what the sender actually wrote.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterable
from email.message import Message
from html.parser import HTMLParser

from rpa.mail.decoding import decode_bytes
from rpa.text import strip_hidden

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


_CID = re.compile(r"\[cid:[^\]]*\]", re.I)


def clean_text(text: str, max_chars: int = 20000) -> str:
    """Remove quoted history and signatures, tidy whitespace, cap the length."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    text = _CID.sub("", strip_hidden(text))  # controls, direction marks, invisibles
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


_HEADER_END = re.compile(rb"\r?\n\r?\n")
_PLAIN_TYPE = re.compile(r'^\s*text/plain\s*(?:;\s*charset\s*=\s*"?([A-Za-z0-9._:-]+)"?\s*)?;?\s*$',
                         re.I)


def _plain_only(raw: bytes) -> str | None:
    """The text of a mail that is one plain-text part, not transfer-encoded (most mail
    people write), read without the MIME parser; None for anything else, which the
    parser then reads."""
    end = _HEADER_END.search(raw)
    if end is None:
        return None
    ctype = cte = None
    for line in re.split(rb"\r?\n", raw[:end.start()]):
        if line[:1] in (b" ", b"\t"):
            if ctype is not None and cte is None and line.strip():
                return None  # a folded Content-Type: parameters the parser reads better
            continue
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-type":
            if ctype is not None:
                return None
            ctype = value.decode("ascii", "replace")
        elif key == b"content-transfer-encoding":
            cte = value.strip().lower()
        elif key == b"content-disposition":
            return None
    if ctype is None or cte not in (None, b"7bit", b"8bit"):
        return None
    m = _PLAIN_TYPE.match(ctype)
    if m is None:
        return None
    return decode_bytes(raw[end.end():], m.group(1) or None)


def body_text(raw_message_bytes: bytes, *, max_chars: int = 20000) -> str:
    """The text a person would read in an email, without quotes and signatures.

    Prefers text/plain parts, else converts HTML to text; skips attachments and non-text
    parts; decodes transfer encodings and charsets defensively; removes quoted history
    ("> ..." lines, "On ... wrote:", Outlook headers) and signatures ("-- ", "Sent from my
    iPhone", a short sign-off block); collapses whitespace; caps at ``max_chars``.
    Never raises.
    """
    raw = raw_message_bytes or b""
    text = _plain_only(raw)
    if text is None:
        try:
            msg = email.message_from_bytes(raw, policy=email.policy.compat32)
            text = _readable(msg)
        except Exception:  # noqa: BLE001 - malformed MIME: read the raw bytes instead
            text = _fallback(raw)
    try:
        return clean_text(text, max_chars)
    except Exception:  # noqa: BLE001
        return " ".join(text.split())[:max(max_chars, 0)]
