"""A one- or two-sentence summary of an email for the owner's text message.

Built from the sender, the subject and the first meaningful sentences of the body
(greetings and pleasantries skipped); deterministic, and pure like the rest of the mail
reading.
"""

from __future__ import annotations

import re

from rpa.mail.headers import MailItem

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
