"""Mail between the bot, the owner and the senders of escalated email.

Writing: :func:`compose_reply` answers an escalated email as a mail client would (``Re:``
subject, threading headers, the original quoted below; the owner's alert as an email
is :func:`rpa.smtp.alert_message`). Reading the owner's answer:
:func:`readable_text` gives the reply's text with its quotes, :func:`code_in` finds which
escalation it answers, :func:`fresh_text` keeps only the owner's new words (no quoted
history, no signature), :func:`answer_text` drops the leading code, :func:`referenced_ids`
lists the Message-IDs a reply names, and :func:`owner_verdict` says whether the owner's
domain authenticated the mail. Pure: nothing here sends or fetches anything.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage, Message
from email.utils import formataddr, formatdate

from rpa.mail import auth
from rpa.mail.amazon import domain_within
from rpa.mail.body import body_text, html_to_text
from rpa.mail.decoding import decode_bytes
from rpa.mail.headers import MailItem, Sender, decode_words, parse_headers, parse_sender
from rpa.smtp import new_message_id
from rpa.text import clean_line, clean_text

CODE_PREFIXES = "BREFPS"
QUOTE_LIMIT = 20000  # characters of the original quoted under a reply
MAX_REFERENCES = 20  # Message-IDs kept in References (the first and the latest)
_MAX_ID_LEN = 250  # a longer "Message-ID" is garbage, not an id

# --------------------------------------------------------------------------- addresses

_MSG_ID = re.compile(r"<[^<>\s]+>")
_ADDR_CHAR = r"[^\s@<>()\[\]\",;:\\]"
_USABLE_ADDR = re.compile(rf"^{_ADDR_CHAR}+@{_ADDR_CHAR}+\.[^\s@<>()\[\]\",;:\\.]+$")
# Problems of parse_sender that leave no address one can safely write to.
_UNUSABLE = ("no From header", "no sender address", "an empty address", "no domain",
             "a malformed address", "hidden characters in the address",
             "two addresses in one sender", "text after the address")


def _address_problem(sender: Sender) -> str:
    """Why the sender's address cannot be replied to ("" when it can)."""
    bad = [p for p in sender.problems if p.startswith(_UNUSABLE)]
    if bad:
        return bad[0]
    if not _USABLE_ADDR.match(sender.addr):
        return f"not a usable address: {sender.addr!r}" if sender.addr else "no address"
    return ""


def _reply_target(item: MailItem) -> tuple[list[str], str]:
    """(To addresses, "") for a reply to ``item``: its Reply-To when usable, else its From;
    ([], why) when neither gives an address."""
    problems: list[str] = []
    for header in ("reply-to", "from"):
        values = item.header_values(header)
        if not values:
            continue
        sender = parse_sender(values[0])
        problem = _address_problem(sender)
        if problem:
            problems.append(f"{header.title()}: {problem}")
            continue
        # The display name only when nothing is wrong with the header: a name that shows
        # another address would carry the trick into the reply.
        name = "" if sender.problems else sender.name
        first = formataddr((name, sender.addr))
        others = [a for a in sender.others
                  if not a.startswith('"') and _USABLE_ADDR.match(a)]
        return [first, *others], ""
    return [], "; ".join(problems) or "no Reply-To or From header"


# --------------------------------------------------------------------------- composing

_REPLY_PREFIX = re.compile(
    r"^\s*(re|aw|sv|antw|vs|rif|r|odp|ynt|res|atb|vá)\s*(\[\d+\]|\(\d+\))?\s*:", re.I)


def reply_subject(subject: str) -> str:
    """``Re: subject`` unless the subject already starts as a reply (Re:, RE:, Aw:, SV:...)."""
    subject = clean_line(subject)
    if not subject:
        return "Re: (no subject)"
    return subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}"


def _ids(values: list[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        for found in _MSG_ID.findall(value):
            if len(found) <= _MAX_ID_LEN and found not in out:
                out.append(found)
    return out


def _trimmed(ids: list[str], limit: int = MAX_REFERENCES) -> list[str]:
    # The first id names the start of the thread and the last ones its latest mails: keep
    # those, drop the middle.
    if len(ids) <= limit:
        return ids
    return [ids[0], *ids[-(limit - 1):]]


def _quoted(text: str, limit: int) -> str:
    cut = len(text) > limit
    if cut:
        text = text[:limit].rstrip()
    lines = ["> " + line if line else ">" for line in text.split("\n")]
    if cut:
        lines.append("> [... the rest of the original message is not quoted]")
    return "\n".join(lines)


def _plain(msg: EmailMessage, text: str) -> None:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    msg.set_content(text if text.endswith("\n") else text + "\n", charset="utf-8")


def compose_reply(original: bytes, answer: str, *, from_addr: str, from_name: str = "",
                  message_id: str | None = None) -> EmailMessage:
    """The reply to an escalated email, ready to send.

    To: the original's Reply-To when usable, else its From (the address in angle brackets,
    never one shown in a display name); Subject ``Re: ...`` (not doubled); In-Reply-To and
    References thread it under the original; Date and Message-ID (``message_id`` or a new
    one). Plain UTF-8 text: ``answer``, then "On <date>, <sender> wrote:" and the original's
    readable text quoted with "> " (at most :data:`QUOTE_LIMIT` characters, a note when
    cut). Raises ValueError naming the problem when the original gives no address to reply
    to.
    """
    item = parse_headers(original)
    to, problem = _reply_target(item)
    if not to:
        raise ValueError(f"no address to reply to: {problem}")
    msg = EmailMessage()
    msg["From"] = formataddr((clean_line(from_name), from_addr))
    msg["To"] = ", ".join(to)
    msg["Subject"] = reply_subject(item.subject)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id or new_message_id(from_addr)
    original_id = _ids(item.header_values("message-id"))
    earlier = _ids(item.header_values("references")) or _ids(item.header_values("in-reply-to"))
    if original_id:
        msg["In-Reply-To"] = original_id[0]
    references = _trimmed([*[i for i in earlier if i not in original_id], *original_id[:1]])
    if references:
        msg["References"] = " ".join(references)
    date = clean_line(decode_words(next(iter(item.header_values("date")), "")))
    who = item.from_addr if item.from_problems or not item.from_name \
        else f"{item.from_name} <{item.from_addr}>"
    intro = f"On {date}, {who} wrote:" if date else f"{who} wrote:"
    quoted = body_text(original, max_chars=QUOTE_LIMIT + 1)
    parts = [clean_text(answer).strip(), "", intro, _quoted(quoted, QUOTE_LIMIT)]
    _plain(msg, "\n".join(parts))
    return msg


# --------------------------------------------------------------------------- codes

# Prefixes a mail client puts before a subject it replies to or forwards, in many languages.
REPLY_WORDS = ("re", "fwd", "fw", "aw", "wg", "tr", "antw", "sv", "vs", "vb", "rif", "r",
               "odp", "ynt", "res", "enc", "doorst", "wtr")
_SUBJECT_PREFIX = re.compile(
    r"(" + "|".join(REPLY_WORDS) + r")\s*(\[\d+\]|\(\d+\))?\s*:\s*", re.I)
# A bracketed tag a mail system adds ("[EXTERNAL]", "[Ext]"): letters only, skipped.
_TAG = re.compile(r"\[\s*[A-Za-z][A-Za-z .-]{0,19}\]\s*")


# Between an account's code prefix and the rest of its code (ACME-B004): a hyphen as the
# bot writes it, or what a phone makes of it (a space, a dot, nothing).
_SERIES_SEP = r"\s*[-·./_]?\s*"


def split_code(code: str) -> tuple[str, str]:
    """(series prefix, code in its series): ("ACME", "B004") for ACME-B004, ("", "B004")
    for a code of the one plain series."""
    prefix, _, rest = code.rpartition("-")
    return prefix, rest


def _code_re(prefixes: str, series: tuple[str, ...] = ()) -> re.Pattern[str]:
    letters = re.escape(prefixes)
    # Only the configured accounts' prefixes, longest first: "Re B004" is no account's
    # code unless an account's prefix were RE (refused in the configuration).
    tag = (r"(?:(?P<series>" + "|".join(re.escape(s) for s in sorted(series, key=len,
                                                                      reverse=True))
           + r")" + _SERIES_SEP + r")?") if series else ""
    # A code stands alone, or with an answer token attached ("E012K7QP": a letter, then
    # three letters or digits, then no more); "E004x" glued to a word is no code.
    return re.compile(r"(?:[\[(]\s*)?" + tag + r"(?P<code>[" + letters + r"]\d{3,5})"
                      r"(?:(?![\w])|(?=[A-Z][A-Z2-9]{3}(?![A-Za-z0-9])))(?:\s*[\])])?", re.I)


def _found_code(m: re.Match[str]) -> str:
    code = m.group("code").upper()
    tag = m.groupdict().get("series")
    return f"{tag.upper()}-{code}" if tag else code


# Between a code and its token: nothing, a middle dot, a hyphen, a dot, a slash or spaces.
_TOKEN_SEP = r"\s*[·.\-/:]?\s*"


def token_quoted(texts: list[str], code: str, token: str) -> bool:
    """Whether one of ``texts`` quotes ``code`` with its answer ``token`` ("E012-K7QP",
    "e012·k7qp", "E012 K7QP", "E012K7QP"; case does not matter). An account's prefix may
    be left out ("B004-K7QP" for ACME-B004-K7QP): the token is the proof."""
    if not (code and token):
        return False
    series, bare = split_code(code)
    # the bare code not glued to another prefix ("BH-B004" is not ACME's B004)
    alone = r"(?<![A-Za-z0-9][-·./_])"
    tag = f"(?:{re.escape(series)}{_SERIES_SEP}|{alone})" if series else alone
    pattern = re.compile(rf"(?<![A-Za-z0-9]){tag}{re.escape(bare)}{_TOKEN_SEP}"
                         rf"{re.escape(token)}(?![A-Za-z0-9])", re.I)
    return any(pattern.search(clean_text(t or "")) for t in texts)


def _leading_code(text: str, prefixes: str,
                  series: tuple[str, ...] = ()) -> tuple[str, int] | None:
    """(code, end) when ``text`` starts with a code (of one of the ``series`` prefixes, or
    of none) once reply prefixes and tags are skipped; ``end`` is where the code (and its
    closing bracket) ends."""
    code_re = _code_re(prefixes, series)
    pos = 0
    for _ in range(20):  # enough for any honest chain of "Re: Fwd: AW:"
        while pos < len(text) and text[pos].isspace():
            pos += 1
        m = code_re.match(text, pos)
        if m:
            return _found_code(m), m.end()
        # "Re E004": a reply word before a code without the colon
        bare = re.compile(r"re\s+(?=[" + re.escape(prefixes) + r"]\d)", re.I).match(text, pos)
        step = _SUBJECT_PREFIX.match(text, pos) or bare or _TAG.match(text, pos)
        if not step or step.end() == pos:
            return None
        pos = step.end()
    return None


def code_in(subject: str, fresh: str, prefixes: str = CODE_PREFIXES,
            series: tuple[str, ...] = ()) -> str | None:
    """The escalation code an owner's mail answers, upper-case, or None.

    A code is one of ``prefixes`` and 3 to 5 digits (E004, B12345), after one of the
    accounts' ``series`` prefixes where it has one (ACME-B004; "acme b004" reads so). It
    counts at the start of the subject once reply and forward prefixes (Re:, AW:, Fwd:,
    SV:..., repeated) and brackets ([E004], (E004)) are set aside, or at the start of the
    first non-empty line of the fresh text; anywhere else (quoted in a sentence) it does
    not.
    """
    found = _leading_code(clean_line(subject or ""), prefixes, series)
    if found:
        return found[0]
    first = next((ln for ln in clean_text(fresh or "").split("\n") if ln.strip()), "")
    found = _leading_code(first, prefixes, series)
    return found[0] if found else None


# --------------------------------------------------------------------------- fresh text

_OPENER = re.compile(r"^\s*(on|am|le|el|il|op|den|på|em)\s", re.I)
_WROTE_END = re.compile(
    r"(wrote|schrieb|a\s+écrit|escribió|escribio|ha\s+scritto|schreef|skrev|escreveu)"
    r"(\s+[^:]{0,120})?\s*:\s*$", re.I)
_ORIGINAL_SEP = re.compile(
    r"^\s*-{2,}\s*(original\s+message|ursprüngliche\s+nachricht|message\s+d'origine|"
    r"mensaje\s+original|messaggio\s+originale|oorspronkelijk\s+bericht|"
    r"forwarded\s+message|weitergeleitete\s+nachricht)\s*-{2,}\s*$", re.I)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
_FORWARDED = re.compile(r"^\s*begin\s+forwarded\s+message\s*:\s*$", re.I)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(from|von|de|da|van)\s*:\*?\s*\S", re.I)
_OUTLOOK_FIELD = re.compile(
    r"^\s*\*?(sent|date|to|cc|subject|gesendet|datum|an|betreff|envoyé|à|objet|"
    r"enviado|para|asunto|inviato|oggetto|verzonden|aan|onderwerp)\s*:", re.I)
_SIGNATURE = re.compile(r"^(-- ?|--)$")
_DEVICE = re.compile(
    r"^\s*(sent from my\s.*|sent from (mail|outlook|yahoo|gmail|samsung|proton)\b.*|"
    r"get outlook for\s.*|von meinem\s.*gesendet.*|gesendet von meinem\s.*|"
    r"envoyé de mon\s.*|enviado desde mi\s.*|inviato da\s.*|verzonden vanaf mijn\s.*)$", re.I)


def _reply_header_span(lines: list[str], i: int) -> int:
    """How many lines a reply header ("On ... wrote:", perhaps wrapped) spans at ``i``."""
    if not _OPENER.match(lines[i]):
        return 0
    joined = ""
    for span in range(1, 4):
        if i + span - 1 >= len(lines) or not lines[i + span - 1].strip():
            return 0
        joined = f"{joined} {lines[i + span - 1].strip()}"
        if len(joined) > 400:
            return 0
        if _WROTE_END.search(joined):
            return span
    return 0


def _history_start(lines: list[str], i: int) -> bool:
    """Whether the original message, not prefixed by ">", starts at line ``i``."""
    text = lines[i]
    if _ORIGINAL_SEP.match(text) or _UNDERSCORES.match(text) or _FORWARDED.match(text):
        return True
    if _OUTLOOK_FROM.match(text):
        return any(_OUTLOOK_FIELD.match(ln) for ln in lines[i + 1:i + 5])
    return False


def _signature_start(line: str) -> bool:
    return bool(_SIGNATURE.match(line.rstrip("\n")) or (len(line) < 80 and _DEVICE.match(line)))


def _is_quote(line: str) -> bool:
    return line.lstrip().startswith(">")


def fresh_text(text: str) -> str:
    """The owner's new words in a reply: quoted lines, the quoted history under a reply
    header (On ... wrote:, Am ... schrieb ...:, an Outlook From/Sent/To/Subject block,
    "-----Original Message-----", a line of underscores) and signatures ("-- ", "Sent from
    my iPhone", "Get Outlook for iOS") removed; invisible characters removed; lines kept,
    runs of blank lines made one, outer whitespace stripped.

    Top-posting is assumed, but an answer written below a quote ("On ... wrote:" and "> "
    lines first) is kept when nothing was written above it.
    """
    body = clean_text((text or "").replace("\r\n", "\n").replace("\r", "\n"))
    lines = [ln.rstrip() for ln in body.replace("\xa0", " ").split("\n")]
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        written = any(ln.strip() for ln in kept)
        span = _reply_header_span(lines, i)
        if span:
            after = next((ln for ln in lines[i + span:] if ln.strip()), "")
            # With nothing written yet and a "> " quote following, the answer may be below.
            if written or not _is_quote(after):
                break
            i += span
            continue
        if _history_start(lines, i) or _signature_start(line):
            break
        if not _is_quote(line):
            kept.append(line)
        i += 1
    out: list[str] = []
    for line in kept:
        if not line.strip() and (not out or not out[-1].strip()):
            continue
        out.append(line)
    return "\n".join(out).strip()


def _decoded(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
        charset = part.get_content_charset()
    except Exception:  # noqa: BLE001 - a broken part reads as empty
        return ""
    return decode_bytes(payload, charset) if isinstance(payload, bytes) else ""


def readable_text(raw: bytes) -> str:
    """The text of a reply as its writer saw it, quotes and signature still in: the first
    text/plain part, else the first HTML part made plain (whose ``<blockquote>`` history is
    dropped); attachments skipped. Unlike :func:`~rpa.mail.body.body_text` nothing is cut,
    so :func:`fresh_text` can still find an answer written below a quote. Never raises."""
    try:
        msg = email.message_from_bytes(raw or b"", policy=email.policy.compat32)
        parts = [p for p in msg.walk() if not p.is_multipart()
                 and p.get_content_disposition() != "attachment" and not p.get_filename()]
        for part in parts:
            if part.get_content_type() == "text/plain":
                text = _decoded(part)
                if text.strip():
                    return text
        for part in parts:
            if part.get_content_type() == "text/html":
                return html_to_text(_decoded(part))
    except Exception:  # noqa: BLE001 - malformed MIME: no text rather than a failed run
        return ""
    return ""


def answer_text(fresh: str, code: str, token: str = "") -> str:
    """The owner's answer without the code it starts with ("E004: yes", "E004 - yes",
    "[E004] yes", "E004" alone on the first line; "ACME-B004" or "B004" for an account's
    code) and the code's answer ``token`` right after
    it ("E004-K7QP: yes"): only a code on the first non-empty line is removed, with its
    separator; the rest is unchanged (outer whitespace stripped)."""
    text = (fresh or "").strip()
    if not text or not code:
        return text
    first, nl, rest = text.partition("\n")
    series, bare = split_code(code.upper())
    found = _leading_code(first, bare[0], (series,) if series else ())
    if not found or found[0] not in (code.upper(), bare):
        return text
    remainder = first[found[1]:]
    if token:
        remainder = re.sub(rf"^{_TOKEN_SEP}{re.escape(token)}(?![A-Za-z0-9])", "", remainder,
                           flags=re.I)
    remainder = re.sub(r"^[\s:;,.)\]\-–—]*", "", remainder)
    return (remainder + nl + rest).strip() if remainder else rest.strip()


# --------------------------------------------------------------------------- threading, trust

def referenced_ids(item: MailItem) -> list[str]:
    """The Message-IDs a mail replies to: In-Reply-To, then References, each ``<...>``, in
    order, without repeats."""
    return _ids([*item.header_values("in-reply-to"), *item.header_values("references")])


def _dkim_aligned(d: str, from_domain: str) -> bool:
    # Relaxed alignment without the Public Suffix List: one domain lies within the other,
    # and both have a dot (a bare top-level domain aligns with nothing).
    if "." not in d.strip(".") or "." not in from_domain.strip("."):
        return False
    return domain_within(d, from_domain) or domain_within(from_domain, d)


def owner_verdict(item: MailItem, *, authserv_id: str | None) -> auth.Verdict:
    """Whether the mail's From domain is authenticated (DMARC pass, or with no DMARC
    verdict an aligned DKIM pass) by the trusted server's Authentication-Results. A From
    header that cannot be taken at its word is never a pass."""
    if item.from_problems or not item.from_domain:
        problems = "; ".join(item.from_problems) or "no sender domain"
        return auth.Verdict(auth.NONE, f"the From header is not sound ({problems})")
    return auth.verify(item.header_values("authentication-results"), item.from_domain,
                       authserv_id=authserv_id, aligned=_dkim_aligned)
